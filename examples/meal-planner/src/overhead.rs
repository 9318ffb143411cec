//! The overhead benchmark: what finch costs the meal planner.
//!
//! The service runs as a child process (`meal-planner serve`) in one of two
//! [arms](Arm), under identical open-loop load:
//!
//! - [`Arm::Absent`]: `serve --without-finch`, finch never started: no loop, no
//!   finch-postgres tuner, no PostgreSQL signals, no Prometheus recorder, no
//!   `/metrics` or `/finch/status`. The `#[slo]` wrappers are compiled into the
//!   handlers, so each call still records its latency into the SLO's histogram
//!   (a few atomic operations); that part of finch's cost is in both arms.
//! - [`Arm::Finch`]: `serve --static`, finch running with every knob frozen at its
//!   default. The loop still monitors, trains its models and plans every
//!   interval, PostgreSQL's signals are sampled and the Prometheus recorder is
//!   installed; it only never changes a knob. Knob values are the same in both
//!   arms (the defaults: pool of 4, `work_mem` as the server has it), so the
//!   difference is the loop's own cost.
//!
//! Segments alternate the arms in ABBA order (absent, finch, finch, absent, and
//! again), which cancels a linear drift of the machine over the run. Each
//! segment is a run of the meal planner as a subject of finch's proving ground
//! ([`crate::lab`]), its hooks called in lifecycle order: `set_up` drops the
//! database and starts the child, which creates and migrates it, and the same
//! [`Setup`] creates the same volume of data through the API (not measured);
//! then `window` after `window` of 1 s sends Poisson arrivals of the demo's
//! rush-hour mix at a constant rate with the same seed from this process,
//! recording every action as a [`Call`]: warm-up windows, then the measured
//! ones (seconds rounded to whole windows); `tear_down` stops the child. Per
//! segment, from those records:
//!
//! - p50 and p99 of the actions' latency, measured from each action's intended
//!   send time (no coordinated omission);
//! - the server process's CPU time (user + system, from `/proc/<pid>/stat`
//!   through `sysinfo`, 10 ms resolution) over the measured seconds and the
//!   drain of their in-flight actions, per HTTP request;
//! - the achieved rate, and errors (failed or dropped actions).
//!
//! The [`Report`] gives the median of each per arm and the ratios
//! finch / absent. PostgreSQL's own CPU is not counted in either arm (the
//! finch arm's signal queries run there, once per interval).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use finch::lab::{ArmKind, Call, Configuration, Phase, Run, Scenario, Subject};
use serde::Serialize;

use crate::db::{self, DbSettings};
use crate::error::AppError;
use crate::lab::server::CpuClock;
use crate::lab::{Counters, MealPlanner, MealPlannerOptions};
use crate::loadgen::scenario::{Kind, Setup};

/// The database the benchmark recreates for every segment, unless told otherwise.
pub const DEFAULT_DATABASE: &str = "meal_planner_overhead";

/// What can stop the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum OverheadError {
    /// The options are out of bounds.
    #[error("options: {0}")]
    Options(String),
    /// The database.
    #[error(transparent)]
    App(#[from] AppError),
    /// Starting, reaching or stopping the service's process.
    #[error("server: {0}")]
    Server(String),
    /// Reading the service's CPU time.
    #[error("cpu time: {0}")]
    Cpu(String),
    /// A segment measured nothing usable.
    #[error("segment {segment} ({arm}): {message}")]
    Measure {
        /// The segment's number (from 1).
        segment: usize,
        /// Its arm.
        arm: Arm,
        /// What is missing.
        message: String,
    },
    /// Writing the report.
    #[error("report: {0}")]
    Report(String),
}

/// The two ways the service runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// finch never started (`serve --without-finch`).
    Absent,
    /// finch running, every knob frozen at its default (`serve --static`).
    Finch,
}

impl Arm {
    /// The arm's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Absent => "absent",
            Arm::Finch => "finch",
        }
    }

    /// The `serve` flag that selects the arm.
    pub fn serve_flag(self) -> &'static str {
        match self {
            Arm::Absent => "--without-finch",
            Arm::Finch => "--static",
        }
    }
}

impl std::fmt::Display for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The arms of `pairs` pairs of segments, in ABBA order: absent, finch, finch,
/// absent, absent, finch... (a single pair is absent, finch).
pub fn order(pairs: u32) -> Vec<Arm> {
    (0..pairs)
        .flat_map(|i| {
            if i % 2 == 0 {
                [Arm::Absent, Arm::Finch]
            } else {
                [Arm::Finch, Arm::Absent]
            }
        })
        .collect()
}

/// The request mix: the demo's dinner rush (reads, searches, planning, pantry
/// updates, shopping lists and a few new recipes).
pub fn mix() -> BTreeMap<Kind, f64> {
    BTreeMap::from([
        (Kind::Read, 60.0),
        (Kind::Search, 10.0),
        (Kind::Plan, 14.0),
        (Kind::Pantry, 8.0),
        (Kind::ShoppingList, 6.0),
        (Kind::CreateRecipe, 2.0),
    ])
}

/// How to run the benchmark.
#[derive(Clone, Debug, Serialize)]
pub struct OverheadOptions {
    /// The `meal-planner` executable whose `serve` runs each segment (the
    /// running one for the CLI; `CARGO_BIN_EXE_meal-planner` in tests).
    pub server: PathBuf,
    /// The database recreated for every segment.
    pub database: String,
    /// Pairs of segments, one of each arm per pair (1..=50).
    pub pairs: u32,
    /// Actions per second, Poisson arrivals (0..=5000).
    pub rate: f64,
    /// Seconds of load before measuring (0..=600).
    pub warmup_s: f64,
    /// Seconds measured per segment (0..=3600).
    pub secs: f64,
    /// Seed of the arrivals and of every action (the same in every segment).
    pub seed: u64,
    /// Data created at the start of every segment (not measured).
    pub setup: Setup,
    /// Where `report.json` and `report.md` are written.
    pub out: PathBuf,
    /// Print a line per segment.
    pub verbose: bool,
}

impl OverheadOptions {
    /// The full run: 4 pairs (8 segments) of 10 s warm-up and 30 s measured at
    /// 200 actions per second, over the demo's data volume (40 users, 40
    /// houses, 1200 recipes). About 6 to 7 minutes.
    pub fn full(server: PathBuf) -> Self {
        OverheadOptions {
            server,
            database: DEFAULT_DATABASE.to_string(),
            pairs: 4,
            rate: 200.0,
            warmup_s: 10.0,
            secs: 30.0,
            seed: 17,
            setup: Setup {
                users: 40,
                houses: 40,
                recipes: 1200,
            },
            out: PathBuf::from("meal-planner-report/overhead"),
            verbose: true,
        }
    }

    /// A quick check: 1 pair of 2 s warm-up and 5 s measured, over a smaller
    /// data set (8 users, 8 houses, 200 recipes). About half a minute.
    pub fn short(server: PathBuf) -> Self {
        OverheadOptions {
            pairs: 1,
            warmup_s: 2.0,
            secs: 5.0,
            setup: Setup {
                users: 8,
                houses: 8,
                recipes: 200,
            },
            ..Self::full(server)
        }
    }

    /// Checks the bounds, and builds the scenario every segment runs: warm-up
    /// windows of 1 s (`warmup_s` rounded), then the measured phase
    /// (`secs` rounded, at least one window).
    pub fn scenario(&self) -> Result<Scenario, OverheadError> {
        let bad = |m: &str| Err(OverheadError::Options(m.to_string()));
        if !(1..=50).contains(&self.pairs) {
            return bad("pairs (--reps) must be 1..=50");
        }
        if !(self.secs > 0.0 && self.secs <= 3600.0) {
            return bad("measured seconds (--secs) must be in (0, 3600]");
        }
        if !(self.warmup_s >= 0.0 && self.warmup_s <= 600.0) {
            return bad("warm-up seconds (--warmup) must be in [0, 600]");
        }
        if !(self.rate > 0.0 && self.rate <= 5000.0) {
            return bad("the rate (--rate) must be in (0, 5000]");
        }
        let windows = |secs: f64| secs.round() as u32;
        Ok(Scenario::new("overhead", Duration::from_secs(1))
            .describe("the demo's rush-hour mix at a constant rate")
            .warm_up(windows(self.warmup_s))
            .phase(
                Phase::new("measured", windows(self.secs).max(1), self.rate)
                    .mix(mix().into_iter().map(|(k, w)| (k.name(), w))),
            ))
    }
}

/// One segment's measurements.
#[derive(Clone, Debug, Serialize)]
pub struct Segment {
    /// Its number, from 1, in the order run.
    pub index: usize,
    /// Its arm.
    pub arm: Arm,
    /// Seconds the data set-up took (not measured otherwise).
    pub setup_s: f64,
    /// Actions started in the measured seconds.
    pub actions: u64,
    /// Actions completed (including those that failed).
    pub completed: u64,
    /// HTTP requests those actions sent.
    pub requests: u64,
    /// Actions that failed (a non-2xx, a transport error, a timeout) or were
    /// dropped (too many in flight).
    pub errors: u64,
    /// Failed actions by kind (kinds without failures left out).
    pub errors_by_kind: BTreeMap<Kind, u64>,
    /// Actions started per second.
    pub rate: f64,
    /// Median action latency from the intended send time, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile, in milliseconds.
    pub p99_ms: f64,
    /// CPU time of the server process (user + system), in milliseconds.
    pub cpu_ms: f64,
    /// That per HTTP request.
    pub cpu_ms_per_request: f64,
    /// The server process's share of one core over the measured seconds.
    pub cpu_cores: f64,
}

/// The medians of one arm's segments.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ArmSummary {
    /// Segments of the arm.
    pub segments: usize,
    /// Median p50, in milliseconds.
    pub p50_ms: f64,
    /// Median p99, in milliseconds.
    pub p99_ms: f64,
    /// Median CPU per request, in milliseconds.
    pub cpu_ms_per_request: f64,
    /// Median achieved rate, in actions per second.
    pub rate: f64,
    /// Errors over all of the arm's segments.
    pub errors: u64,
    /// Requests over all of the arm's segments.
    pub requests: u64,
}

impl ArmSummary {
    fn of(segments: &[&Segment]) -> Self {
        let med =
            |f: fn(&Segment) -> f64| median(&segments.iter().map(|s| f(s)).collect::<Vec<_>>());
        ArmSummary {
            segments: segments.len(),
            p50_ms: med(|s| s.p50_ms),
            p99_ms: med(|s| s.p99_ms),
            cpu_ms_per_request: med(|s| s.cpu_ms_per_request),
            rate: med(|s| s.rate),
            errors: segments.iter().map(|s| s.errors).sum(),
            requests: segments.iter().map(|s| s.requests).sum(),
        }
    }
}

/// finch / absent, of the arms' medians (`None` when absent's is 0).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ratios {
    /// Of the median p50.
    pub p50: Option<f64>,
    /// Of the median p99.
    pub p99: Option<f64>,
    /// Of the median CPU per request.
    pub cpu_per_request: Option<f64>,
    /// Of the median achieved rate.
    pub rate: Option<f64>,
}

/// What the benchmark ran and measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The options (the load, the data, the number of segments).
    pub options: OverheadOptions,
    /// The request mix (relative weights).
    pub mix: BTreeMap<Kind, f64>,
    /// Cores available to the machine (the server and the load generator
    /// share them).
    pub cores: usize,
    /// Every segment, in the order run.
    pub segments: Vec<Segment>,
    /// finch absent: medians.
    pub absent: ArmSummary,
    /// finch running: medians.
    pub finch: ArmSummary,
    /// finch / absent.
    pub ratios: Ratios,
}

/// The median (0 for none).
fn median(values: &[f64]) -> f64 {
    finch::lab::median(values).unwrap_or(0.0)
}

fn ratio(finch: f64, absent: f64) -> Option<f64> {
    (absent > 0.0 && finch.is_finite()).then(|| finch / absent)
}

impl Report {
    fn new(options: OverheadOptions, segments: Vec<Segment>) -> Self {
        let of = |arm: Arm| {
            let mine: Vec<&Segment> = segments.iter().filter(|s| s.arm == arm).collect();
            ArmSummary::of(&mine)
        };
        let (absent, finch) = (of(Arm::Absent), of(Arm::Finch));
        let ratios = Ratios {
            p50: ratio(finch.p50_ms, absent.p50_ms),
            p99: ratio(finch.p99_ms, absent.p99_ms),
            cpu_per_request: ratio(finch.cpu_ms_per_request, absent.cpu_ms_per_request),
            rate: ratio(finch.rate, absent.rate),
        };
        Report {
            options,
            mix: mix(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            segments,
            absent,
            finch,
            ratios,
        }
    }

    /// The report as Markdown: the load, every segment, the medians and ratios.
    pub fn markdown(&self) -> String {
        let o = &self.options;
        let arms: Vec<&str> = self.segments.iter().map(|s| s.arm.name()).collect();
        let mut md = String::new();
        md.push_str("# meal-planner: finch's overhead\n\n");
        md.push_str(&format!(
            "{} segments ({}), each: a fresh database with {} users, {} houses and {} recipes \
             (not measured), {:.0} actions/s of Poisson arrivals (the demo's rush-hour mix), \
             {:.0} s warm-up, {:.0} s measured; {} cores shared by the server and the load \
             generator. Latency from each action's intended send time; CPU of the server \
             process (user + system) per HTTP request.\n\n",
            self.segments.len(),
            arms.join(", "),
            o.setup.users,
            o.setup.houses,
            o.setup.recipes,
            o.rate,
            o.warmup_s,
            o.secs,
            self.cores,
        ));
        md.push_str(
            "| # | arm | actions/s | requests | errors | p50 (ms) | p99 (ms) | CPU (ms/request) | CPU (cores) |\n\
             |---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for s in &self.segments {
            md.push_str(&format!(
                "| {} | {} | {:.1} | {} | {} | {:.2} | {:.2} | {:.3} | {:.2} |\n",
                s.index,
                s.arm,
                s.rate,
                s.requests,
                s.errors,
                s.p50_ms,
                s.p99_ms,
                s.cpu_ms_per_request,
                s.cpu_cores,
            ));
        }
        let r = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        let (a, f) = (&self.absent, &self.finch);
        md.push_str(&format!(
            "\nMedians per arm ({} segment{} each):\n\n\
             | | finch absent | finch running | finch / absent |\n\
             |---|---:|---:|---:|\n\
             | p50 (ms) | {:.2} | {:.2} | {} |\n\
             | p99 (ms) | {:.2} | {:.2} | {} |\n\
             | CPU (ms/request) | {:.3} | {:.3} | {} |\n\
             | actions/s | {:.1} | {:.1} | {} |\n\
             | errors (total) | {} | {} | |\n\
             | requests (total) | {} | {} | |\n",
            a.segments.min(f.segments),
            if a.segments.min(f.segments) == 1 {
                ""
            } else {
                "s"
            },
            a.p50_ms,
            f.p50_ms,
            r(self.ratios.p50),
            a.p99_ms,
            f.p99_ms,
            r(self.ratios.p99),
            a.cpu_ms_per_request,
            f.cpu_ms_per_request,
            r(self.ratios.cpu_per_request),
            a.rate,
            f.rate,
            r(self.ratios.rate),
            a.errors,
            f.errors,
            a.requests,
            f.requests,
        ));
        md
    }

    /// Writes `report.json` and `report.md` into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> Result<(), OverheadError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            OverheadError::Report(format!("cannot write {what} in {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| fail("the directory", &e))?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| fail("report.json", &e))?;
        std::fs::write(dir.join("report.json"), json).map_err(|e| fail("report.json", &e))?;
        std::fs::write(dir.join("report.md"), self.markdown())
            .map_err(|e| fail("report.md", &e))?;
        Ok(())
    }
}

/// Runs every segment, then writes the report to `options.out`.
pub async fn run(options: OverheadOptions) -> Result<Report, OverheadError> {
    let scenario = options.scenario()?;
    let settings = DbSettings::from_env(&options.database)?;
    let arms = order(options.pairs);
    if options.verbose {
        println!(
            "{} segments ({}) of {} s warm-up + {} s measured at {:.0} actions/s; \
             server: {}",
            arms.len(),
            arms.iter().map(|a| a.name()).collect::<Vec<_>>().join(", "),
            scenario.warm_up,
            scenario.windows(),
            options.rate,
            options.server.display(),
        );
    }
    let mut subject = MealPlanner::new(MealPlannerOptions {
        exe: options.server.clone(),
        database: options.database.clone(),
        setup: options.setup.clone(),
        seed: options.seed,
        knobs: Vec::new(),
        db_delay: None,
        every_action: true,
    })
    .map_err(|e| OverheadError::Server(e.to_string()))?;
    let mut segments = Vec::with_capacity(arms.len());
    for (i, arm) in arms.iter().copied().enumerate() {
        let segment = run_segment(&mut subject, &options, &scenario, i + 1, arm).await?;
        if options.verbose {
            println!(
                "{:>2}/{} {:<6} set up in {:4.1}s | {:6.1} actions/s, {:6} requests, {} errors | \
                 p50 {:6.2} ms, p99 {:7.2} ms | CPU {:.3} ms/request ({:.2} cores)",
                segment.index,
                arms.len(),
                segment.arm,
                segment.setup_s,
                segment.rate,
                segment.requests,
                segment.errors,
                segment.p50_ms,
                segment.p99_ms,
                segment.cpu_ms_per_request,
                segment.cpu_cores,
            );
        }
        segments.push(segment);
    }
    db::drop_database(&settings).await?;
    let report = Report::new(options, segments);
    report.write(&report.options.out)?;
    Ok(report)
}

/// One segment: a run of the [subject](crate::lab) through its lifecycle,
/// the server's CPU time read around the measured windows and the drain of
/// their actions.
async fn run_segment(
    subject: &mut MealPlanner,
    options: &OverheadOptions,
    scenario: &Scenario,
    index: usize,
    arm: Arm,
) -> Result<Segment, OverheadError> {
    let fail = |message: String| OverheadError::Measure {
        segment: index,
        arm,
        message,
    };
    // Both arms keep every knob at its default: an empty static configuration.
    let kind = ArmKind::Static {
        config: Configuration::new(),
    };
    let run = Run {
        scenario,
        arm: arm.name(),
        kind: &kind,
        seed: options.seed,
    };
    subject.set_without_finch(arm == Arm::Absent);
    let began = Instant::now();
    subject
        .set_up(&run)
        .await
        .map_err(|e| OverheadError::Server(e.to_string()))?;
    let setup_s = began.elapsed().as_secs_f64();
    let measured = measure(subject, &run, options, index, arm).await;
    let stopped = subject
        .tear_down(&run)
        .await
        .map_err(|e| OverheadError::Server(e.to_string()));
    let (counters, calls, cpu_ms, secs) = measured?;
    stopped?;
    let kinds = subject.kinds();
    let mut latencies: Vec<f64> = calls.iter().map(|c| c.latency).collect();
    latencies.sort_by(f64::total_cmp);
    let q = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies.get(i).copied().unwrap_or(0.0) * 1e3
    };
    if latencies.is_empty() {
        return Err(fail("no action completed in the measured seconds".into()));
    }
    if counters.requests == 0 {
        return Err(fail("no request was sent in the measured seconds".into()));
    }
    let mut errors_by_kind: BTreeMap<Kind, u64> = BTreeMap::new();
    for c in calls.iter().filter(|c| !c.ok) {
        if let Some(kind) = kinds.get(c.op) {
            *errors_by_kind.entry(*kind).or_default() += 1;
        }
    }
    Ok(Segment {
        index,
        arm,
        setup_s,
        actions: counters.started,
        completed: calls.len() as u64,
        requests: counters.requests,
        errors: counters.failed + counters.dropped,
        errors_by_kind,
        rate: counters.started as f64 / secs,
        p50_ms: q(0.50),
        p95_ms: q(0.95),
        p99_ms: q(0.99),
        cpu_ms,
        cpu_ms_per_request: cpu_ms / counters.requests as f64,
        cpu_cores: cpu_ms / 1e3 / secs,
    })
}

/// The run's windows: the warm-up, then the measured ones and the drain of
/// their actions, with the server's CPU time read around them. Returns the
/// counters and calls of the measured part, its CPU milliseconds and seconds.
async fn measure(
    subject: &mut MealPlanner,
    run: &Run<'_>,
    options: &OverheadOptions,
    index: usize,
    arm: Arm,
) -> Result<(Counters, Vec<Call>, f64, f64), OverheadError> {
    let lab = |e: finch::lab::BoxError| OverheadError::Measure {
        segment: index,
        arm,
        message: e.to_string(),
    };
    let pid = subject
        .server_pid()
        .ok_or_else(|| OverheadError::Server("no server after set-up".into()))?;
    let mut cpu = CpuClock::new(pid).map_err(|e| OverheadError::Cpu(e.to_string()))?;
    let mut calls = Vec::new();
    let mut before = None;
    let mut started = None;
    for plan in run.scenario.plans() {
        if !plan.warm_up && before.is_none() {
            calls.clear();
            started = Some(Instant::now());
            before = Some((
                subject.counters(),
                cpu.read().map_err(|e| OverheadError::Cpu(e.to_string()))?,
            ));
        }
        subject.window(run, &plan, &mut calls).await.map_err(lab)?;
    }
    let secs = started.map_or(options.secs, |s| s.elapsed().as_secs_f64());
    subject.drain(&mut calls).await.map_err(lab)?;
    let cpu_after = cpu.read().map_err(|e| OverheadError::Cpu(e.to_string()))?;
    let (counters_before, cpu_before) =
        before.ok_or_else(|| OverheadError::Options("no measured window".into()))?;
    let now = subject.counters();
    let counters = Counters {
        started: now.started - counters_before.started,
        dropped: now.dropped - counters_before.dropped,
        requests: now.requests - counters_before.requests,
        failed: now.failed - counters_before.failed,
    };
    Ok((
        counters,
        calls,
        cpu_after.saturating_sub(cpu_before) as f64,
        secs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arms_alternate_abba() {
        use Arm::{Absent as A, Finch as F};
        assert_eq!(order(1), [A, F]);
        assert_eq!(order(2), [A, F, F, A]);
        assert_eq!(order(4), [A, F, F, A, A, F, F, A]);
    }

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(ratio(2.0, 1.0), Some(2.0));
        assert_eq!(ratio(2.0, 0.0), None);
    }

    #[test]
    fn options_are_bounded() {
        let full = OverheadOptions::full(PathBuf::from("meal-planner"));
        let scenario = full.scenario().map_err(|e| e.to_string());
        assert_eq!(scenario.map(|s| (s.warm_up, s.windows())), Ok((10, 30)));
        let no_warmup = OverheadOptions {
            warmup_s: 0.0,
            ..full.clone()
        };
        assert_eq!(no_warmup.scenario().map(|s| s.warm_up).ok(), Some(0));
        for bad in [
            OverheadOptions {
                pairs: 0,
                ..full.clone()
            },
            OverheadOptions {
                rate: 0.0,
                ..full.clone()
            },
            OverheadOptions {
                secs: -1.0,
                ..full.clone()
            },
        ] {
            assert!(matches!(bad.scenario(), Err(OverheadError::Options(_))));
        }
    }
}
