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
//! again), which cancels a linear drift of the machine over the run. Every
//! segment starts from a fresh database: it is dropped, the child creates and
//! migrates it, and the same [`Setup`] creates the same volume of data through
//! the API (not measured). Then the load generator (in this process) sends
//! Poisson arrivals of the demo's rush-hour mix at a constant rate with the same
//! seed: a warm-up, then the measured seconds. Per segment:
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
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use serde::Serialize;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::db::{self, DbSettings};
use crate::error::AppError;
use crate::loadgen::client::{Client, Target};
use crate::loadgen::journey::World;
use crate::loadgen::scenario::{Kind, Phase, Scenario, Setup};
use crate::loadgen::stats;
use crate::loadgen::{self, Load, LoadError};

/// The database the benchmark recreates for every segment, unless told otherwise.
pub const DEFAULT_DATABASE: &str = "meal_planner_overhead";

/// What `serve` prints once it listens; the address follows.
const ANNOUNCE: &str = "meal-planner on http://";

/// How long a child may take to listen, and then to answer HTTP.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a child may take to exit after `SIGINT`.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// What can stop the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum OverheadError {
    /// The options are out of bounds.
    #[error("options: {0}")]
    Options(String),
    /// The database.
    #[error(transparent)]
    App(#[from] AppError),
    /// The load generator.
    #[error(transparent)]
    Load(#[from] LoadError),
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

    /// Checks the bounds, and builds the scenario every segment runs: a
    /// warm-up phase (when `warmup_s > 0`), then the measured phase.
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
        let phase = |name: &str, duration_s: f64| Phase {
            name: name.to_string(),
            duration_s,
            rate: self.rate,
            ramp_to: None,
            mix: mix(),
            cpu_threads: 0,
            db_delay_ms: 0.0,
        };
        let mut phases = Vec::new();
        if self.warmup_s > 0.0 {
            phases.push(phase("warm-up", self.warmup_s));
        }
        phases.push(phase("measured", self.secs));
        let scenario = Scenario {
            name: "overhead".to_string(),
            seed: self.seed,
            max_requests: 10_000_000,
            setup: self.setup.clone(),
            phases,
        };
        scenario.validate().map_err(|e| match e {
            LoadError::Scenario(m) => OverheadError::Options(m),
            other => OverheadError::Load(other),
        })?;
        Ok(scenario)
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
        let med = |f: fn(&Segment) -> f64| median(segments.iter().map(|s| f(s)).collect());
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
fn median(mut values: Vec<f64>) -> f64 {
    stats::median(&mut values).unwrap_or(0.0)
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
            "{} segments ({}) of {:.0} s warm-up + {:.0} s measured at {:.0} actions/s; \
             server: {}",
            arms.len(),
            arms.iter().map(|a| a.name()).collect::<Vec<_>>().join(", "),
            options.warmup_s,
            options.secs,
            options.rate,
            options.server.display(),
        );
    }
    let mut segments = Vec::with_capacity(arms.len());
    for (i, arm) in arms.iter().copied().enumerate() {
        let segment = run_segment(&options, &settings, &scenario, i + 1, arm).await?;
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

async fn run_segment(
    options: &OverheadOptions,
    settings: &DbSettings,
    scenario: &Scenario,
    index: usize,
    arm: Arm,
) -> Result<Segment, OverheadError> {
    db::drop_database(settings).await?;
    let mut server = Server::start(&options.server, arm, &options.database).await?;
    let measured = measure(&server, options, scenario, index, arm).await;
    let stopped = server.stop().await;
    let segment = measured?;
    stopped?;
    Ok(segment)
}

async fn measure(
    server: &Server,
    options: &OverheadOptions,
    scenario: &Scenario,
    index: usize,
    arm: Arm,
) -> Result<Segment, OverheadError> {
    let fail = |message: &str| OverheadError::Measure {
        segment: index,
        arm,
        message: message.to_string(),
    };
    let client = Client::new(Target::new(server.addr)?);
    server.wait_until_answering(&client).await?;
    let world = Arc::new(World::new(
        u64::from(std::process::id()) * 1000 + index as u64,
    ));
    let began = Instant::now();
    loadgen::setup(&client, &world, &scenario.setup, scenario.seed).await?;
    let setup_s = began.elapsed().as_secs_f64();
    let mut cpu = CpuClock::new(server.pid)?;

    let measured_phase = scenario.phases.len() - 1;
    let load = Load::start(client, world, scenario.clone(), None);
    while load.phase().is_none_or(|p| p.index != measured_phase) {
        if load.is_finished() {
            return Err(fail("the load ended before the measured phase began"));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    load.recorder().take();
    let cpu_before = cpu.read()?;
    while !load.is_finished() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let window = load.recorder().take();
    let cpu_after = cpu.read()?;
    load.finish().await?;

    let latency = window
        .latency
        .ok_or_else(|| fail("no action completed in the measured seconds"))?;
    if window.requests == 0 {
        return Err(fail("no request was sent in the measured seconds"));
    }
    let cpu_ms = cpu_after.saturating_sub(cpu_before) as f64;
    Ok(Segment {
        index,
        arm,
        setup_s,
        actions: window.started,
        completed: window.completed,
        requests: window.requests,
        errors: window.errors + window.dropped,
        errors_by_kind: window
            .kinds
            .iter()
            .filter(|(_, k)| k.errors > 0)
            .map(|(kind, k)| (*kind, k.errors))
            .collect(),
        rate: window.started as f64 / options.secs,
        p50_ms: latency.p50 * 1e3,
        p95_ms: latency.p95 * 1e3,
        p99_ms: latency.p99 * 1e3,
        cpu_ms,
        cpu_ms_per_request: cpu_ms / window.requests as f64,
        cpu_cores: cpu_ms / 1e3 / options.secs,
    })
}

/// CPU time of another process: user + system from `/proc/<pid>/stat`, which
/// counts every thread, including those that ended, read through `sysinfo`.
struct CpuClock {
    system: System,
    pid: Pid,
}

impl CpuClock {
    fn new(pid: u32) -> Result<Self, OverheadError> {
        let system = System::new().map_err(|e| {
            OverheadError::Cpu(format!(
                "cannot read process statistics on this platform: {e}"
            ))
        })?;
        Ok(CpuClock {
            system,
            pid: Pid::from_u32(pid),
        })
    }

    /// The process's CPU time so far, in milliseconds (10 ms resolution on Linux).
    fn read(&mut self) -> Result<u64, OverheadError> {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_cpu(),
        );
        self.system
            .process(self.pid)
            .map(sysinfo::Process::accumulated_cpu_time)
            .ok_or_else(|| {
                OverheadError::Cpu(format!(
                    "process {} is gone or unreadable in /proc",
                    self.pid
                ))
            })
    }
}

/// The service in a child process.
struct Server {
    child: Child,
    pid: u32,
    addr: SocketAddr,
}

impl Server {
    /// Runs `exe serve` for `arm` on a free loopback port and waits until it
    /// says where it listens. The child is killed if this value is dropped
    /// before [`stop`](Self::stop).
    async fn start(exe: &Path, arm: Arm, database: &str) -> Result<Self, OverheadError> {
        let mut child = Command::new(exe)
            .args(["serve", "--addr", "127.0.0.1:0", "--database", database])
            .arg(arm.serve_flag())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                OverheadError::Server(format!("cannot run {} serve: {e}", exe.display()))
            })?;
        let pid = child
            .id()
            .ok_or_else(|| OverheadError::Server("the server exited at once".to_string()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| OverheadError::Server("the server's output is not piped".to_string()))?;
        let addr = match tokio::time::timeout(START_TIMEOUT, announced(stdout)).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => {
                let status = child.wait().await.map_or_else(
                    |e| format!("cannot wait for it: {e}"),
                    |s| format!("it exited with {s}"),
                );
                return Err(OverheadError::Server(format!(
                    "{e} ({status}; its errors are above)"
                )));
            }
            Err(_) => {
                return Err(OverheadError::Server(format!(
                    "the server did not listen within {START_TIMEOUT:?}"
                )));
            }
        };
        Ok(Server { child, pid, addr })
    }

    /// Waits until the server answers HTTP (any status).
    async fn wait_until_answering(&self, client: &Client) -> Result<(), OverheadError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match client.send(Method::GET, "/overhead/ready", None).await {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(OverheadError::Server(format!(
                        "{} does not answer HTTP: {e}",
                        self.addr
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Sends `SIGINT` (the server's Ctrl-C path: finch shuts down and
    /// finch-postgres restores what it changed) and waits for a clean exit.
    async fn stop(&mut self) -> Result<(), OverheadError> {
        let signalled = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status()
            .await
            .map_err(|e| OverheadError::Server(format!("cannot run kill: {e}")))?;
        if !signalled.success() {
            return Err(OverheadError::Server(format!(
                "kill -INT {} failed ({signalled})",
                self.pid
            )));
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(OverheadError::Server(format!(
                "the server exited with {status} after SIGINT"
            ))),
            Ok(Err(e)) => Err(OverheadError::Server(format!(
                "cannot wait for the server: {e}"
            ))),
            Err(_) => {
                self.child.start_kill().ok();
                Err(OverheadError::Server(format!(
                    "the server did not exit within {STOP_TIMEOUT:?} of SIGINT; killed"
                )))
            }
        }
    }
}

/// Reads the child's output until `serve` announces its address; the rest of
/// the output is read (and dropped) in the background so the child never
/// blocks on a full pipe.
async fn announced(stdout: ChildStdout) -> Result<SocketAddr, OverheadError> {
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|e| OverheadError::Server(format!("cannot read the server's output: {e}")))?
            .ok_or_else(|| {
                OverheadError::Server("the server ended before it listened".to_string())
            })?;
        if let Some(rest) = line.trim().strip_prefix(ANNOUNCE) {
            let addr = rest.parse().map_err(|e| {
                OverheadError::Server(format!(
                    "the server announced {rest:?}, not an address: {e}"
                ))
            })?;
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(addr);
        }
    }
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
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(ratio(2.0, 1.0), Some(2.0));
        assert_eq!(ratio(2.0, 0.0), None);
    }

    #[test]
    fn options_are_bounded() {
        let full = OverheadOptions::full(PathBuf::from("meal-planner"));
        let scenario = full.scenario().map_err(|e| e.to_string());
        assert_eq!(scenario.map(|s| s.phases.len()), Ok(2));
        let no_warmup = OverheadOptions {
            warmup_s: 0.0,
            ..full.clone()
        };
        assert_eq!(no_warmup.scenario().map(|s| s.phases.len()).ok(), Some(1));
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
