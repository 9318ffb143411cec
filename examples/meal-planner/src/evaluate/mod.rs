//! The adaptation benchmark on the real service: does finch beat static
//! configuration on the meal planner?
//!
//! One scenario (default `scenarios/evaluate.toml`: a ramp, a spike, a shift
//! from reads to writes, a slower database with a noisy neighbour on the CPU)
//! runs under four arms, in one command:
//!
//! - `static default`: every knob frozen at its declared default;
//! - `best static`: the configuration of a small sweep over the same scenario
//!   with the fewest violating windows, then the lowest cost (an oracle: no
//!   operator has seen the whole scenario before choosing);
//! - `finch cold`: finch from no knowledge (a fresh file store);
//! - `finch warm`: finch started on the file store the cold run left.
//!
//! Knobs are process-global statics, so every run is a child process: this
//! binary's `demo` subcommand with `--static --set KNOB=VALUE` (a static arm or
//! a sweep point) or `--knowledge DIR` (finch), each writing its own
//! `report.json`. The figures are computed from those reports (see
//! [`Figures`]) and written as `evaluate.md`, `evaluate.json` and
//! `evaluate.png` (see [`chart`]).

pub mod chart;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::loadgen::scenario::Scenario;
use crate::loadgen::stats::median;

/// Compliant windows in a row that end a recovery (as in the simulated
/// adaptation benchmark).
pub const RECOVERY_RUN: usize = 2;

/// Windows after an exploration during which a violation counts as one of the
/// exploration's (if no other decision came in between).
pub const EXPLORE_SPAN: usize = 2;

/// The managed SLOs and the load generator's action that calls each.
pub const SLO_ACTIONS: [(&str, &str); 4] = [
    ("meal_planner.recipes.get", "read"),
    ("meal_planner.recipes.search", "search"),
    ("meal_planner.schedules.set", "plan"),
    ("meal_planner.storages.upsert", "pantry"),
];

/// What can stop the evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// The options.
    #[error("options: {0}")]
    Options(String),
    /// A file or a child process.
    #[error("io: {0}")]
    Io(String),
    /// A run failed; its log says why.
    #[error("the {arm} run failed ({status}); its log, {log}, ends with:\n{tail}")]
    Run {
        /// The arm or sweep point.
        arm: String,
        /// How the child exited.
        status: String,
        /// The child's output.
        log: String,
        /// The last lines of it.
        tail: String,
    },
    /// A run's report cannot be read.
    #[error("report {path}: {reason}")]
    Report {
        /// The report.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Command-line options of `meal-planner evaluate`.
#[derive(Clone, Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The short scenario and a 2-point sweep (about 5 minutes), for a quick check.
    #[arg(long, conflicts_with = "scenario")]
    pub short: bool,
    /// A scenario file (.toml or .json); default: scenarios/evaluate.toml.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Where to write evaluate.md, evaluate.json, evaluate.png and every run's report.
    #[arg(long, default_value = "meal-planner-report/evaluate")]
    pub out: PathBuf,
    /// The loop's interval, which is also the window, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Pool sizes of the best-static sweep [default: 4,8,16; 8,16 with --short].
    #[arg(long, value_delimiter = ',')]
    pub pool: Vec<u32>,
    /// Recipe cache capacities of the sweep [default: 256,2048; 1024 with --short].
    #[arg(long, value_delimiter = ',')]
    pub cache: Vec<u32>,
    /// The sweep's concurrency limit per pooled connection (the defaults' ratio is 2).
    #[arg(long, default_value_t = 2)]
    pub limit_per_connection: u32,
    /// Pantry batch sizes of the sweep (a free knob) [default: 64: the pantry's
    /// 10–49 items in one statement].
    #[arg(long, value_delimiter = ',')]
    pub batch: Vec<u32>,
    /// The database every run recreates.
    #[arg(long, default_value = "meal_planner_evaluate")]
    pub database: String,
}

/// One point of the sweep: knob values by short name (`pool`, `cache`, ...).
pub type Point = BTreeMap<String, String>;

/// How to run the evaluation.
#[derive(Clone, Debug)]
pub struct EvaluateOptions {
    /// The meal-planner binary whose `demo` subcommand runs each arm.
    pub exe: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
    /// Where everything goes.
    pub out: PathBuf,
    /// The loop's interval (the window).
    pub interval: Duration,
    /// The sweep for the best static configuration.
    pub grid: Vec<Point>,
    /// The database every run recreates.
    pub database: String,
}

impl EvaluateOptions {
    /// Options from the command line; `exe` is the meal-planner binary.
    pub fn from_args(args: EvaluateArgs, exe: PathBuf) -> Result<Self, EvaluateError> {
        let scenario = match (&args.scenario, args.short) {
            (Some(path), _) => Scenario::from_file(path),
            (None, true) => Scenario::short(),
            (None, false) => Scenario::evaluate(),
        }
        .map_err(|e| EvaluateError::Options(e.to_string()))?;
        let or = |given: Vec<u32>, full: &[u32], short: &[u32]| {
            if !given.is_empty() {
                given
            } else if args.short {
                short.to_vec()
            } else {
                full.to_vec()
            }
        };
        let pools = or(args.pool, &[4, 8, 16], &[8, 16]);
        let caches = or(args.cache, &[256, 2048], &[1024]);
        let batches = or(args.batch, &[64], &[64]);
        if args.limit_per_connection == 0 {
            return Err(EvaluateError::Options(
                "--limit-per-connection must be at least 1".into(),
            ));
        }
        Ok(EvaluateOptions {
            exe,
            scenario,
            out: args.out,
            interval: Duration::from_millis(args.interval_ms.max(100)),
            grid: grid(&pools, &caches, &batches, args.limit_per_connection),
            database: args.database,
        })
    }
}

/// The sweep: every pool size with every cache capacity and pantry batch,
/// the concurrency limit `limit_per_connection` times the pool (at most 64,
/// its bound). `work_mem` stays at its default: it has no measurable effect at
/// this data scale.
pub fn grid(
    pools: &[u32],
    caches: &[u32],
    batches: &[u32],
    limit_per_connection: u32,
) -> Vec<Point> {
    let mut points = Vec::new();
    for &pool in pools {
        for &cache in caches {
            for &batch in batches {
                let limit = pool.saturating_mul(limit_per_connection).min(64);
                points.push(Point::from([
                    ("pool".to_string(), pool.to_string()),
                    ("cache".to_string(), cache.to_string()),
                    ("limit".to_string(), limit.to_string()),
                    ("batch".to_string(), batch.to_string()),
                ]));
            }
        }
    }
    points
}

/// The order in which labels name knobs.
const LABEL_ORDER: [&str; 4] = ["pool", "cache", "limit", "batch"];

fn label(point: &Point) -> String {
    LABEL_ORDER
        .iter()
        .filter_map(|k| point.get(*k).map(|v| format!("{k} {v}")))
        .chain(
            point
                .iter()
                .filter(|(k, _)| !LABEL_ORDER.contains(&k.as_str()))
                .map(|(k, v)| format!("{k} {v}")),
        )
        .collect::<Vec<_>>()
        .join(", ")
}

fn slug(point: &Point) -> String {
    point
        .iter()
        .map(|(k, v)| format!("{k}{v}"))
        .collect::<Vec<_>>()
        .join("-")
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
}

// ---------------------------------------------------------------------------
// What a run's report.json holds (only what the figures need).

/// Latency quantiles, in seconds.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
pub struct RunQuantiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// A run's summary, as far as the figures need it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RunSummary {
    /// `finch` or `static`.
    pub mode: String,
    /// CPU time finch's loop used, in seconds.
    #[serde(default)]
    pub finch_cpu_secs: f64,
    /// The load generator's latency over the run, by action.
    #[serde(default)]
    pub client_latency: BTreeMap<String, RunQuantiles>,
}

/// One objective on one window.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RunObjective {
    /// The SLO.
    pub slo: String,
    /// Its display form (`p99 < 50ms`).
    pub objective: String,
    /// The SLI (ms or %); `None` with too few calls.
    pub sli: Option<f64>,
    /// The bound, in the same unit.
    pub bound: f64,
}

impl RunObjective {
    fn violated(&self) -> bool {
        self.sli.is_some_and(|s| s > self.bound)
    }
}

/// One window of a run.
#[derive(Clone, Debug, Deserialize)]
pub struct RunWindow {
    /// Seconds since the phases started.
    pub t: f64,
    /// The phase.
    pub phase: String,
    /// The target rate.
    #[serde(default)]
    pub target_rate: f64,
    /// Every managed objective.
    pub objectives: Vec<RunObjective>,
    /// Every knob's value.
    pub knobs: BTreeMap<String, f64>,
    /// finch's cost of the configuration in force.
    pub cost: f64,
    /// Ids of the decisions first seen in this window.
    #[serde(default)]
    pub decisions: Vec<u64>,
}

impl RunWindow {
    /// Whether any objective was violated.
    pub fn violated(&self) -> bool {
        self.objectives.iter().any(RunObjective::violated)
    }

    /// The largest SLI / bound over the measured objectives (1 = at the bound).
    pub fn worst(&self) -> Option<f64> {
        self.objectives
            .iter()
            .filter(|o| o.bound > 0.0)
            .filter_map(|o| o.sli.map(|s| s / o.bound))
            .reduce(f64::max)
    }
}

/// One decision of a run.
#[derive(Clone, Debug, Deserialize)]
pub struct RunDecision {
    /// Its id.
    pub id: u64,
    /// `explore`, `exploit`, `rollback`, `operator`.
    pub kind: String,
}

/// A run's report.json.
#[derive(Clone, Debug, Deserialize)]
pub struct RunReport {
    /// The summary.
    pub summary: RunSummary,
    /// The windows.
    pub windows: Vec<RunWindow>,
    /// The decisions.
    #[serde(default)]
    pub decisions: Vec<RunDecision>,
}

impl RunReport {
    /// Reads `dir/report.json`.
    pub fn read(dir: &Path) -> Result<Self, EvaluateError> {
        let path = dir.join("report.json");
        let fail = |reason: String| EvaluateError::Report {
            path: path.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
    }
}

// ---------------------------------------------------------------------------
// Figures.

/// An objective's window SLIs over a run (server side, as finch measured them).
#[derive(Clone, Debug, Serialize)]
pub struct SliSpread {
    /// The objective (`p99 < 50ms`).
    pub objective: String,
    /// Its bound (ms or %).
    pub bound: f64,
    /// Windows in which it was measured.
    pub measured: usize,
    /// Windows in which it was violated.
    pub violated: usize,
    /// Median of the window SLIs.
    pub median: Option<f64>,
    /// Largest window SLI.
    pub max: Option<f64>,
}

/// Recovery from one phase change.
#[derive(Clone, Debug, Serialize)]
pub struct Recovery {
    /// The phase that began.
    pub phase: String,
    /// Windows from its first until [`RECOVERY_RUN`] compliant windows in a
    /// row begin (0: compliant from the start); `None`: never within the run.
    pub windows: Option<usize>,
}

/// One window as the chart draws it.
#[derive(Clone, Debug, Serialize)]
pub struct WindowPoint {
    /// Seconds since the phases started.
    pub t: f64,
    /// The phase.
    pub phase: String,
    /// Any objective violated.
    pub violated: bool,
    /// Largest SLI / bound.
    pub worst: Option<f64>,
    /// Cost.
    pub cost: f64,
    /// Target rate.
    pub target_rate: f64,
}

/// The figures of one arm (or sweep point).
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    /// The arm.
    pub arm: String,
    /// Where its report is.
    pub report: String,
    /// Knob values in the first window (short names).
    pub start: BTreeMap<String, f64>,
    /// Windows observed.
    pub windows: usize,
    /// Windows in which any objective was violated.
    pub violating_windows: usize,
    /// Their share.
    pub violating_share: f64,
    /// p99 (ms) over the whole run of the load generator's action that calls
    /// each managed SLO (from each action's intended start), by SLO.
    pub p99_ms: BTreeMap<String, f64>,
    /// Each objective's window SLIs, by `slo objective`.
    pub window_slis: BTreeMap<String, SliSpread>,
    /// Mean over windows of finch's cost of the configuration in force.
    pub mean_cost: f64,
    /// Windows whose knob values differ from the previous window's.
    pub knob_changes: usize,
    /// Decisions by kind.
    pub decisions: BTreeMap<String, usize>,
    /// Violating windows at most [`EXPLORE_SPAN`] windows after an
    /// exploration that is still the last decision.
    pub violated_while_exploring: usize,
    /// Recovery after each phase change.
    pub recovery: Vec<Recovery>,
    /// CPU time of finch's loop over the run (ms).
    pub finch_cpu_ms: f64,
    /// The windows, for the chart.
    pub series: Vec<WindowPoint>,
}

/// Violating windows at most [`EXPLORE_SPAN`] windows after an exploration,
/// while no later decision has replaced it. A decision first seen in window
/// `e` was made at the end of it, so windows `e+1..=e+EXPLORE_SPAN` run its
/// configuration.
pub fn violated_while_exploring(windows: &[RunWindow], decisions: &[RunDecision]) -> usize {
    let kind: BTreeMap<u64, &str> = decisions.iter().map(|d| (d.id, d.kind.as_str())).collect();
    let mut last: Option<(usize, bool)> = None;
    let mut count = 0;
    for (i, w) in windows.iter().enumerate() {
        if w.violated()
            && last.is_some_and(|(e, explore)| explore && i > e && i - e <= EXPLORE_SPAN)
        {
            count += 1;
        }
        if let Some(id) = w.decisions.iter().max() {
            last = Some((i, kind.get(id) == Some(&"explore")));
        }
    }
    count
}

/// Recovery after each phase change: windows from the first window of the new
/// phase until [`RECOVERY_RUN`] compliant windows in a row begin.
pub fn recovery(windows: &[RunWindow]) -> Vec<Recovery> {
    let n = windows.len();
    (1..n)
        .filter(|&i| windows[i].phase != windows[i - 1].phase)
        .map(|s| Recovery {
            phase: windows[s].phase.clone(),
            windows: (s..=n.saturating_sub(RECOVERY_RUN))
                .find(|&i| windows[i..i + RECOVERY_RUN].iter().all(|w| !w.violated()))
                .map(|i| i - s),
        })
        .collect()
}

/// Windows whose knob values differ from the previous window's.
pub fn knob_changes(windows: &[RunWindow]) -> usize {
    windows
        .windows(2)
        .filter(|p| {
            p[0].knobs.len() != p[1].knobs.len()
                || p[0]
                    .knobs
                    .iter()
                    .any(|(k, v)| p[1].knobs.get(k).is_none_or(|w| (v - w).abs() > 1e-9))
        })
        .count()
}

fn short_knob(name: &str) -> String {
    match name {
        "meal_planner.pg.pool_size" => "pool",
        "meal_planner.pg.work_mem" => "work_mem",
        "meal_planner.recipe_cache_capacity" => "cache",
        "meal_planner.concurrency_limit" => "limit",
        "meal_planner.pantry_batch" => "batch",
        other => other.strip_prefix("meal_planner.").unwrap_or(other),
    }
    .to_string()
}

impl Figures {
    /// The figures of one run.
    pub fn of(arm: &str, report_dir: &Path, run: &RunReport) -> Figures {
        let windows = &run.windows;
        let n = windows.len();
        let violating = windows.iter().filter(|w| w.violated()).count();
        let mut window_slis: BTreeMap<String, (SliSpread, Vec<f64>)> = BTreeMap::new();
        for w in windows {
            for o in &w.objectives {
                let key = format!("{} {}", o.slo, o.objective);
                let e = window_slis.entry(key).or_insert_with(|| {
                    (
                        SliSpread {
                            objective: o.objective.clone(),
                            bound: o.bound,
                            measured: 0,
                            violated: 0,
                            median: None,
                            max: None,
                        },
                        Vec::new(),
                    )
                });
                if let Some(s) = o.sli {
                    e.0.measured += 1;
                    e.0.violated += usize::from(o.violated());
                    e.1.push(s);
                }
            }
        }
        let window_slis = window_slis
            .into_iter()
            .map(|(k, (mut spread, mut v))| {
                spread.max = v.iter().copied().reduce(f64::max);
                spread.median = median(&mut v);
                (k, spread)
            })
            .collect();
        let p99_ms = SLO_ACTIONS
            .iter()
            .filter_map(|(slo, action)| {
                run.summary
                    .client_latency
                    .get(*action)
                    .map(|q| (slo.to_string(), q.p99 * 1e3))
            })
            .collect();
        let mut decisions: BTreeMap<String, usize> = BTreeMap::new();
        for d in &run.decisions {
            *decisions.entry(d.kind.clone()).or_default() += 1;
        }
        Figures {
            arm: arm.to_string(),
            report: report_dir.display().to_string(),
            start: windows
                .first()
                .map(|w| w.knobs.iter().map(|(k, v)| (short_knob(k), *v)).collect())
                .unwrap_or_default(),
            windows: n,
            violating_windows: violating,
            violating_share: violating as f64 / n.max(1) as f64,
            p99_ms,
            window_slis,
            mean_cost: windows.iter().map(|w| w.cost).sum::<f64>() / n.max(1) as f64,
            knob_changes: knob_changes(windows),
            decisions,
            violated_while_exploring: violated_while_exploring(windows, &run.decisions),
            recovery: recovery(windows),
            finch_cpu_ms: run.summary.finch_cpu_secs * 1e3,
            series: windows
                .iter()
                .map(|w| WindowPoint {
                    t: w.t,
                    phase: w.phase.clone(),
                    violated: w.violated(),
                    worst: w.worst(),
                    cost: w.cost,
                    target_rate: w.target_rate,
                })
                .collect(),
        }
    }
}

/// The best static configuration: the fewest violating windows (as a share,
/// since runs differ by a window or so), then the lowest mean cost. Returns
/// its index.
pub fn best_static(candidates: &[Figures]) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| {
            a.violating_share
                .total_cmp(&b.violating_share)
                .then(a.mean_cost.total_cmp(&b.mean_cost))
        })
        .map(|(i, _)| i)
}

// ---------------------------------------------------------------------------
// Output.

/// The whole evaluation, as evaluate.json holds it.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// The scenario's name.
    pub scenario: String,
    /// The window, in milliseconds.
    pub interval_ms: u64,
    /// The four arms: static default, best static, finch cold, finch warm.
    pub arms: Vec<Figures>,
    /// Every sweep point (the static default included, first).
    pub sweep: Vec<Figures>,
    /// Which sweep point is the best static configuration.
    pub best: usize,
    /// Wall-clock seconds the evaluation took.
    pub secs: f64,
}

fn ms(v: Option<&f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

impl Evaluation {
    /// The markdown report: the arms' table, the sweep, and the comparison.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let shifts: Vec<String> = self
            .arms
            .first()
            .map(|a| a.recovery.iter().map(|r| r.phase.clone()).collect())
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "Scenario `{}`, windows of {} ms. p99: the load generator's, over the whole run, \
             of the action calling each SLO (read → recipes.get, search → recipes.search, \
             plan → schedules.set, pantry → storages.upsert). Recovery: windows from each phase \
             change ({}) until {RECOVERY_RUN} compliant windows in a row.\n",
            self.scenario,
            self.interval_ms,
            shifts.join(", ")
        );
        let _ = writeln!(
            md,
            "| arm | violating windows | read p99 (ms) | search p99 (ms) | plan p99 (ms) | pantry p99 (ms) | mean cost | knob changes | violated while exploring | recovery (windows) | finch CPU (ms) |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
        for a in &self.arms {
            let recovery = if a.recovery.is_empty() {
                "-".to_string()
            } else {
                a.recovery
                    .iter()
                    .map(|r| r.windows.map_or("never".into(), |w| w.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let p = |i: usize| ms(a.p99_ms.get(SLO_ACTIONS[i].0));
            let _ = writeln!(
                md,
                "| {} | {:.1} % ({}/{}) | {} | {} | {} | {} | {:.3} | {} | {} | {recovery} | {:.0} |",
                a.arm,
                a.violating_share * 100.0,
                a.violating_windows,
                a.windows,
                p(0),
                p(1),
                p(2),
                p(3),
                a.mean_cost,
                a.knob_changes,
                a.violated_while_exploring,
                a.finch_cpu_ms,
            );
        }
        let _ = writeln!(md, "\n| sweep point | violating windows | mean cost |");
        let _ = writeln!(md, "|---|---:|---:|");
        for (i, s) in self.sweep.iter().enumerate() {
            let _ = writeln!(
                md,
                "| {}{} | {:.1} % ({}/{}) | {:.3} |",
                s.arm,
                if i == self.best { " (best)" } else { "" },
                s.violating_share * 100.0,
                s.violating_windows,
                s.windows,
                s.mean_cost
            );
        }
        let find = |name: &str| self.arms.iter().find(|a| a.arm.starts_with(name));
        if let (Some(default), Some(best), Some(warm), Some(cold)) = (
            find("static default"),
            find("best static"),
            find("finch warm"),
            find("finch cold"),
        ) {
            let fewer = |a: &Figures| {
                if a.violating_windows == 0 {
                    format!("{} → 0 violating windows", default.violating_windows)
                } else {
                    format!(
                        "{:.1}x fewer violating windows",
                        default.violating_share / a.violating_share
                    )
                }
            };
            let cost = |a: &Figures| {
                if best.mean_cost > 0.0 {
                    format!("{:.0} % of its cost", 100.0 * a.mean_cost / best.mean_cost)
                } else {
                    "-".into()
                }
            };
            let _ = writeln!(
                md,
                "\nvs static default: finch warm {}, finch cold {}. vs best static ({:.1} % violating): \
                 finch warm {:.1} % at {}, finch cold {:.1} % at {}.",
                fewer(warm),
                fewer(cold),
                best.violating_share * 100.0,
                warm.violating_share * 100.0,
                cost(warm),
                cold.violating_share * 100.0,
                cost(cold),
            );
        }
        md
    }
}

// ---------------------------------------------------------------------------
// Running.

/// One run to make.
struct Run {
    arm: String,
    dir: PathBuf,
    args: Vec<String>,
}

fn io(context: &str, path: &Path, e: std::io::Error) -> EvaluateError {
    EvaluateError::Io(format!("{context} {}: {e}", path.display()))
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs one child `demo` to completion, its output in `dir/demo.log`.
async fn run_child(exe: &Path, run: &Run) -> Result<RunReport, EvaluateError> {
    std::fs::create_dir_all(&run.dir).map_err(|e| io("cannot create", &run.dir, e))?;
    let log_path = run.dir.join("demo.log");
    let log = std::fs::File::create(&log_path).map_err(|e| io("cannot create", &log_path, e))?;
    let err = log
        .try_clone()
        .map_err(|e| io("cannot open", &log_path, e))?;
    let mut command = std::process::Command::new(exe);
    command
        .args(&run.args)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err);
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .map_err(|e| EvaluateError::Io(format!("waiting for a run: {e}")))?
        .map_err(|e| io("cannot run", exe, e))?;
    if !status.success() {
        return Err(EvaluateError::Run {
            arm: run.arm.clone(),
            status: status.to_string(),
            log: log_path.display().to_string(),
            tail: tail(&log_path, 15),
        });
    }
    RunReport::read(&run.dir)
}

/// Runs every arm and the sweep, computes the figures, writes `evaluate.md`,
/// `evaluate.json` and `evaluate.png` into `options.out`.
pub async fn run(options: EvaluateOptions) -> Result<Evaluation, EvaluateError> {
    let began = Instant::now();
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| io("cannot create", out, e))?;
    let scenario_path = out.join("scenario.json");
    let scenario_json = serde_json::to_vec_pretty(&options.scenario)
        .map_err(|e| EvaluateError::Io(format!("cannot encode the scenario: {e}")))?;
    std::fs::write(&scenario_path, scenario_json)
        .map_err(|e| io("cannot write", &scenario_path, e))?;
    let knowledge = out.join("knowledge");
    if knowledge.exists() {
        std::fs::remove_dir_all(&knowledge).map_err(|e| io("cannot remove", &knowledge, e))?;
    }

    let common = |dir: &Path| -> Vec<String> {
        vec![
            "demo".into(),
            "--quiet".into(),
            "--scenario".into(),
            scenario_path.display().to_string(),
            "--interval-ms".into(),
            options.interval.as_millis().to_string(),
            "--database".into(),
            options.database.clone(),
            "--out".into(),
            dir.display().to_string(),
        ]
    };
    let mut runs = Vec::new();
    let dir = out.join("static-default");
    runs.push(Run {
        arm: "static default".into(),
        args: [common(&dir), vec!["--static".into()]].concat(),
        dir,
    });
    for point in &options.grid {
        let dir = out.join("sweep").join(slug(point));
        let mut args = common(&dir);
        args.push("--static".into());
        for (k, v) in point {
            args.push("--set".into());
            args.push(format!("{k}={v}"));
        }
        runs.push(Run {
            arm: label(point),
            args,
            dir,
        });
    }
    for (arm, dir) in [("finch cold", "finch-cold"), ("finch warm", "finch-warm")] {
        let dir = out.join(dir);
        let args = [
            common(&dir),
            vec!["--knowledge".into(), knowledge.display().to_string()],
        ]
        .concat();
        runs.push(Run {
            arm: arm.into(),
            args,
            dir,
        });
    }

    let scenario_secs = options.scenario.duration().as_secs_f64();
    println!(
        "evaluate: {} runs of scenario `{}` ({scenario_secs:.0} s of phases each, plus set-up): \
         static default, {} sweep points, finch cold, finch warm; reports in {}",
        runs.len(),
        options.scenario.name,
        options.grid.len(),
        out.display()
    );
    let mut figures = Vec::new();
    let total = runs.len();
    for (i, run) in runs.iter().enumerate() {
        let started = Instant::now();
        let report = run_child(&options.exe, run).await?;
        let f = Figures::of(&run.arm, &run.dir, &report);
        println!(
            "[{}/{total}] {:<32} {:>3}/{:<3} windows violating, mean cost {:.3}, {} knob changes ({:.0} s)",
            i + 1,
            run.arm,
            f.violating_windows,
            f.windows,
            f.mean_cost,
            f.knob_changes,
            started.elapsed().as_secs_f64()
        );
        figures.push(f);
    }

    let warm = figures.pop();
    let cold = figures.pop();
    let sweep = figures;
    let best = best_static(&sweep).unwrap_or(0);
    let mut arms = Vec::new();
    if let Some(default) = sweep.first() {
        arms.push(default.clone());
    }
    if let Some(b) = sweep.get(best) {
        let mut b = b.clone();
        b.arm = if best == 0 {
            "best static (= the default)".into()
        } else {
            format!("best static ({})", b.arm)
        };
        arms.push(b);
    }
    arms.extend(cold);
    arms.extend(warm);
    let evaluation = Evaluation {
        scenario: options.scenario.name.clone(),
        interval_ms: u64::try_from(options.interval.as_millis()).unwrap_or(u64::MAX),
        arms,
        sweep,
        best,
        secs: began.elapsed().as_secs_f64(),
    };

    let md = evaluation.markdown();
    let md_path = out.join("evaluate.md");
    std::fs::write(&md_path, &md).map_err(|e| io("cannot write", &md_path, e))?;
    let json_path = out.join("evaluate.json");
    let json = serde_json::to_vec_pretty(&evaluation)
        .map_err(|e| EvaluateError::Io(format!("cannot encode the evaluation: {e}")))?;
    std::fs::write(&json_path, json).map_err(|e| io("cannot write", &json_path, e))?;
    chart::draw(&out.join("evaluate.png"), &evaluation)?;
    Ok(evaluation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(phase: &str, violated: bool, pool: f64, decisions: &[u64]) -> RunWindow {
        RunWindow {
            t: 0.0,
            phase: phase.into(),
            target_rate: 100.0,
            objectives: vec![RunObjective {
                slo: "meal_planner.recipes.get".into(),
                objective: "p99 < 50ms".into(),
                sli: Some(if violated { 80.0 } else { 20.0 }),
                bound: 50.0,
            }],
            knobs: BTreeMap::from([("meal_planner.pg.pool_size".to_string(), pool)]),
            cost: pool / 10.0,
            decisions: decisions.to_vec(),
        }
    }

    fn figures(arm: &str, violating: usize, windows: usize, cost: f64) -> Figures {
        Figures {
            arm: arm.into(),
            report: String::new(),
            start: BTreeMap::new(),
            windows,
            violating_windows: violating,
            violating_share: violating as f64 / windows as f64,
            p99_ms: BTreeMap::new(),
            window_slis: BTreeMap::new(),
            mean_cost: cost,
            knob_changes: 0,
            decisions: BTreeMap::new(),
            violated_while_exploring: 0,
            recovery: Vec::new(),
            finch_cpu_ms: 0.0,
            series: Vec::new(),
        }
    }

    #[test]
    fn recovery_counts_windows_until_two_compliant_in_a_row() {
        let ok = |p| window(p, false, 4.0, &[]);
        let bad = |p| window(p, true, 4.0, &[]);
        let windows = vec![
            ok("a"),
            ok("a"),
            bad("b"), // shift to b: violated, ok, violated, then 2 ok
            ok("b"),
            bad("b"),
            ok("b"),
            ok("b"),
            ok("c"), // shift to c: compliant at once
            ok("c"),
            ok("c"),
            bad("d"), // shift to d: violated, then 2 ok
            ok("d"),
            ok("d"),
            bad("e"), // shift to e: never 2 in a row before the end
            ok("e"),
        ];
        let r = recovery(&windows);
        let got: Vec<(&str, Option<usize>)> =
            r.iter().map(|r| (r.phase.as_str(), r.windows)).collect();
        assert_eq!(
            got,
            vec![("b", Some(3)), ("c", Some(0)), ("d", Some(1)), ("e", None)]
        );
    }

    #[test]
    fn exploring_counts_violations_just_after_an_exploration() {
        let decisions = vec![
            RunDecision {
                id: 1,
                kind: "explore".into(),
            },
            RunDecision {
                id: 2,
                kind: "exploit".into(),
            },
            RunDecision {
                id: 3,
                kind: "explore".into(),
            },
        ];
        let windows = vec![
            window("a", true, 4.0, &[]),  // no decision yet
            window("a", true, 4.0, &[1]), // the exploration is made after this window
            window("a", true, 5.0, &[]),  // 1st window under it: counts
            window("a", true, 5.0, &[]),  // 2nd: counts
            window("a", true, 5.0, &[]),  // 3rd: beyond the span
            window("a", false, 5.0, &[2]),
            window("a", true, 6.0, &[]), // under an exploitation: not counted
            window("a", false, 6.0, &[3]),
            window("a", true, 7.0, &[]), // under the second exploration: counts
        ];
        assert_eq!(violated_while_exploring(&windows, &decisions), 3);
        assert_eq!(knob_changes(&windows), 3);
    }

    #[test]
    fn the_best_static_is_the_least_violating_then_the_cheapest() {
        let candidates = vec![
            figures("default", 30, 120, 0.5),
            figures("big", 2, 120, 2.0),
            figures("medium", 2, 121, 1.0),
            figures("cheap", 10, 120, 0.2),
        ];
        // Fewest violating windows as a share: medium (2/121) beats big (2/120).
        assert_eq!(best_static(&candidates), Some(2));
        let tied = vec![figures("a", 0, 120, 1.5), figures("b", 0, 120, 1.2)];
        assert_eq!(best_static(&tied), Some(1));
        assert_eq!(best_static(&[]), None);
    }

    #[test]
    fn the_grid_ties_the_limit_to_the_pool() {
        let g = grid(&[4, 40], &[256], &[64], 2);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0]["limit"], "8");
        assert_eq!(g[1]["limit"], "64");
        assert_eq!(label(&g[0]), "pool 4, cache 256, limit 8, batch 64");
        assert_eq!(slug(&g[0]), "batch64-cache256-limit8-pool4");
        assert_eq!(grid(&[4, 8], &[64, 256], &[8, 64], 2).len(), 8);
    }

    #[test]
    fn the_report_and_chart_are_written() {
        let arm = |name: &str, bad: u32| {
            let windows: Vec<RunWindow> = (0..40u32)
                .map(|i| {
                    let mut w = window(if i < 20 { "a" } else { "b" }, i % 7 < bad, 4.0, &[]);
                    w.t = f64::from(i) + 1.0;
                    w
                })
                .collect();
            let run = RunReport {
                summary: RunSummary::default(),
                windows,
                decisions: Vec::new(),
            };
            Figures::of(name, Path::new("x"), &run)
        };
        let evaluation = Evaluation {
            scenario: "test".into(),
            interval_ms: 1000,
            arms: vec![
                arm("static default", 3),
                arm("best static (pool 8)", 0),
                arm("finch cold", 2),
                arm("finch warm", 1),
            ],
            sweep: vec![arm("static default", 3), arm("pool 8", 0)],
            best: 1,
            secs: 1.0,
        };
        let md = evaluation.markdown();
        assert!(md.contains("| finch warm | 15.0 % (6/40) |"), "{md}");
        assert!(md.contains("| pool 8 (best) | 0.0 % (0/40) |"), "{md}");
        let path = std::env::temp_dir().join(format!("evaluate-chart-{}.png", std::process::id()));
        chart::draw(&path, &evaluation).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_evaluate_scenario_ramps_then_spikes() {
        let s = Scenario::evaluate().unwrap();
        assert!((100.0..=160.0).contains(&s.duration().as_secs_f64()));
        let ramp = s.phases.iter().find(|p| p.ramp_to.is_some()).unwrap();
        assert_eq!(ramp.rate_at(Duration::ZERO), ramp.rate);
        let mid = ramp.rate_at(ramp.duration() / 2);
        assert!((mid - (ramp.rate + ramp.peak_rate()) / 2.0).abs() < 1e-6);
        assert_eq!(ramp.rate_at(ramp.duration() * 2), ramp.peak_rate());
        let names: Vec<&str> = s.phases.iter().map(|p| p.name.as_str()).collect();
        for shape in ["ramp", "spike", "writes", "interference"] {
            assert!(names.contains(&shape), "{names:?}");
        }
        assert!(crate::demo::parse_set("pool=8").is_ok());
        assert!(crate::demo::parse_set("pool").is_err());
        assert_eq!(
            crate::demo::knob_name("cache"),
            "meal_planner.recipe_cache_capacity"
        );
    }

    #[test]
    fn figures_read_a_report() {
        let json = serde_json::json!({
            "summary": {
                "mode": "finch",
                "finch_cpu_secs": 0.25,
                "client_latency": {"read": {"p50": 0.002, "p95": 0.01, "p99": 0.03}},
                "windows": 3
            },
            "windows": [
                {"t": 1.0, "phase": "a", "target_rate": 50.0, "objectives": [
                    {"slo": "meal_planner.recipes.get", "objective": "p99 < 50ms", "sli": 20.0, "bound": 50.0}
                ], "knobs": {"meal_planner.pg.pool_size": 4.0}, "cost": 0.5, "decisions": [7]},
                {"t": 2.0, "phase": "b", "target_rate": 90.0, "objectives": [
                    {"slo": "meal_planner.recipes.get", "objective": "p99 < 50ms", "sli": 70.0, "bound": 50.0}
                ], "knobs": {"meal_planner.pg.pool_size": 6.0}, "cost": 0.7, "decisions": []},
                {"t": 3.0, "phase": "b", "target_rate": 90.0, "objectives": [
                    {"slo": "meal_planner.recipes.get", "objective": "p99 < 50ms", "sli": null, "bound": 50.0}
                ], "knobs": {"meal_planner.pg.pool_size": 6.0}, "cost": 0.9, "decisions": []}
            ],
            "decisions": [{"id": 7, "kind": "explore", "t": 1.0}]
        });
        let run: RunReport = serde_json::from_value(json).unwrap();
        let f = Figures::of("finch cold", Path::new("x"), &run);
        assert_eq!(f.windows, 3);
        assert_eq!(f.violating_windows, 1);
        assert_eq!(f.violated_while_exploring, 1);
        assert_eq!(f.knob_changes, 1);
        assert!((f.mean_cost - 0.7).abs() < 1e-9);
        assert!((f.finch_cpu_ms - 250.0).abs() < 1e-9);
        assert!((f.p99_ms["meal_planner.recipes.get"] - 30.0).abs() < 1e-9);
        assert_eq!(f.start["pool"], 4.0);
        let spread = &f.window_slis["meal_planner.recipes.get p99 < 50ms"];
        assert_eq!((spread.measured, spread.violated), (2, 1));
        assert_eq!(spread.max, Some(70.0));
        assert_eq!(f.recovery.len(), 1);
        assert_eq!(f.recovery[0].windows, None);
    }
}
