//! The meal-planner service, its load generator and the adaptation demo.
//!
//! ```text
//! meal-planner serve [--addr 127.0.0.1:3000] [--admin-addr 127.0.0.1:3001] [--database meal_planner]
//!                    [--static | --without-finch] [--set KNOB=VALUE]... [--knowledge DIR]
//! meal-planner load  --target http://127.0.0.1:3000 [--scenario FILE | --short]
//! meal-planner demo  [--static] [--short] [--scenario FILE] [--out DIR] [--set KNOB=VALUE]... [--knowledge DIR] [--quiet]
//! meal-planner evaluate [--short] [--scenario FILE] [--seeds N] [--out DIR]
//! meal-planner overhead [--short] [--reps PAIRS] [--secs S] [--warmup S] [--rate R] [--out DIR]
//! ```
//! `DATABASE_URL` selects the PostgreSQL server (default: the local one);
//! `serve` with finch needs `MEAL_PLANNER_ADMIN_TOKEN` for its operator routes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use finch::export::PrometheusExporter;
use finch::knowledge::FileStore;
use finch::postgres::{PgSignals, SessionSettings};
use meal_planner::admin;
use meal_planner::db::{self, DbSettings};
use meal_planner::demo::{self, DemoOptions};
use meal_planner::evaluate;
use meal_planner::loadgen::client::{Client, Target};
use meal_planner::loadgen::journey::World;
use meal_planner::loadgen::scenario::Scenario;
use meal_planner::loadgen::{self, Load};
use meal_planner::overhead::{self, OverheadOptions};
use meal_planner::tuning::{self, DEFAULT_POOL_SIZE};
use meal_planner::{AppState, app};

#[derive(Parser)]
#[command(version, about = "A PostgreSQL meal-planning service tuned by finch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API; with finch, /metrics, /finch/status and pins on the admin
    /// listener (token in MEAL_PLANNER_ADMIN_TOKEN).
    Serve {
        /// Where to listen (loopback by default).
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
        /// Where finch's operator routes listen (loopback only).
        #[arg(long, default_value = "127.0.0.1:3001")]
        admin_addr: SocketAddr,
        /// The service's database (created when missing).
        #[arg(long, default_value = db::DEFAULT_DATABASE)]
        database: String,
        /// Keep every knob at its default (finch measures but never changes).
        #[arg(long = "static")]
        frozen: bool,
        /// Never start finch (no loop, no PostgreSQL tuner or signals, no
        /// /metrics or /finch/status); the `#[slo]` wrappers still record.
        #[arg(long, conflicts_with = "frozen")]
        without_finch: bool,
        /// Start with a knob at a value (repeatable), e.g. `--set pool=8`:
        /// a knob's name or pool, work_mem, cache, limit, batch. With
        /// --static the service stays there.
        #[arg(long = "set", value_name = "KNOB=VALUE", value_parser = demo::parse_set, conflicts_with = "without_finch")]
        set: Vec<(String, String)>,
        /// Keep finch's knowledge in this directory (a file store); a later
        /// start on it is warm.
        #[arg(long, conflicts_with_all = ["frozen", "without_finch"])]
        knowledge: Option<PathBuf>,
    },
    /// Drive a running service with a scenario (loopback targets only).
    Load {
        /// The service's URL.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        target: String,
        /// A scenario file (.toml or .json); default: the demo's.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// The short scenario.
        #[arg(long, conflicts_with = "scenario")]
        short: bool,
    },
    /// Run the adaptation demo and write its report.
    Demo {
        /// Without finch: every knob stays at its default (or its --set value).
        #[arg(long = "static")]
        frozen: bool,
        /// The short scenario (under a minute), for tests and CI.
        #[arg(long, conflicts_with = "scenario")]
        short: bool,
        /// A scenario file (.toml or .json).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Where to write report.json and the charts.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The loop's interval, which is also the progress window, in milliseconds
        /// (default 2000; 1000 with --short).
        #[arg(long)]
        interval_ms: Option<u64>,
        /// Start with a knob at a value (repeatable), e.g. `--set pool=8`:
        /// a knob's name or pool, work_mem, cache, limit, batch. With --static
        /// the run stays there.
        #[arg(long = "set", value_name = "KNOB=VALUE", value_parser = demo::parse_set)]
        set: Vec<(String, String)>,
        /// Keep finch's knowledge in this directory (a file store); a later run
        /// on it starts warm.
        #[arg(long)]
        knowledge: Option<PathBuf>,
        /// No progress line per window.
        #[arg(long)]
        quiet: bool,
        /// The database the demo recreates.
        #[arg(long, default_value = "meal_planner_demo")]
        database: String,
    },
    /// The adaptation benchmark on this service, on finch's proving ground:
    /// static default, a knob grid (best static, per-phase oracle), finch cold
    /// and warm over seeds, each run a child `serve`; writes report.md,
    /// report.json and report.png.
    Evaluate(evaluate::EvaluateArgs),
    /// Measure finch's overhead: the service with finch running (knobs frozen)
    /// and with finch absent, under identical open-loop load, alternated
    /// (ABBA) and repeated; writes report.json and report.md.
    Overhead {
        /// One pair of 5 s segments after 2 s of warm-up, on less data (about
        /// half a minute); the other options still apply.
        #[arg(long)]
        short: bool,
        /// Pairs of segments, one per arm each (default 4).
        #[arg(long)]
        reps: Option<u32>,
        /// Seconds measured per segment (default 30).
        #[arg(long)]
        secs: Option<f64>,
        /// Seconds of load before measuring, per segment (default 10).
        #[arg(long)]
        warmup: Option<f64>,
        /// Actions per second, Poisson arrivals (default 200).
        #[arg(long)]
        rate: Option<f64>,
        /// Where to write report.json and report.md.
        #[arg(long, default_value = "meal-planner-report/overhead")]
        out: PathBuf,
    },
}

type BoxError = Box<dyn std::error::Error>;

fn scenario(file: Option<PathBuf>, short: bool) -> Result<Scenario, BoxError> {
    Ok(match (file, short) {
        (Some(path), _) => Scenario::from_file(&path)?,
        (None, true) => Scenario::short()?,
        (None, false) => Scenario::demo()?,
    })
}

/// How `serve` runs finch.
struct Loop {
    admin_addr: SocketAddr,
    frozen: bool,
    without_finch: bool,
    set: Vec<(String, String)>,
    knowledge: Option<PathBuf>,
}

async fn serve(addr: SocketAddr, database: String, finch_loop: Loop) -> Result<(), BoxError> {
    let Loop {
        admin_addr,
        frozen,
        without_finch,
        set,
        knowledge,
    } = finch_loop;
    // A misconfigured operator listener is refused before anything else starts.
    let operator = if without_finch {
        None
    } else {
        Some((admin::token_from_env()?, admin::bind(admin_addr).await?))
    };
    let settings = DbSettings::from_env(&database)?;
    let sessions = SessionSettings::new();
    let pool = db::connect(&settings, DEFAULT_POOL_SIZE as usize, &sessions).await?;
    let Some((token, admin_listener)) = operator else {
        return listen(addr, app(AppState::new(pool)), None).await;
    };
    let database_knobs = tuning::database_knobs(&pool, &sessions).await?;
    demo::start_from(&set, &database_knobs, &pool).await?;
    let exporter = PrometheusExporter::install()?;
    let state = AppState::new(pool.clone());
    let mut config = finch::Config::default()
        .from_env()?
        .signal(PgSignals::new(pool))
        .signal(state.signals());
    for capacity in tuning::capacities() {
        config = config.capacity(capacity);
    }
    if let Some(dir) = knowledge {
        config = config.store(FileStore::open(dir)?);
    }
    if frozen {
        for k in finch::knobs() {
            config = config.freeze(k.name());
        }
    }
    let finch = finch::start(config)?;
    let operator = admin::routes(&finch, exporter, &token, admin_listener.local_addr()?)?;
    listen(addr, app(state), Some((admin_listener, operator))).await?;
    finch.shutdown().await;
    database_knobs.shutdown().await?;
    Ok(())
}

/// Serves the API, and the operator routes on their own listener, until
/// Ctrl-C (SIGINT).
async fn listen(
    addr: SocketAddr,
    service: axum::Router,
    operator: Option<(tokio::net::TcpListener, axum::Router)>,
) -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let (stop, _) = tokio::sync::watch::channel(false);
    let admin = match operator {
        Some((admin_listener, routes)) => {
            println!("{}{}", admin::ANNOUNCE, admin_listener.local_addr()?);
            let mut stopped = stop.subscribe();
            Some(tokio::spawn(async move {
                axum::serve(admin_listener, routes)
                    .with_graceful_shutdown(async move {
                        stopped.wait_for(|s| *s).await.ok();
                    })
                    .await
            }))
        }
        None => None,
    };
    println!("meal-planner on http://{}", listener.local_addr()?);
    axum::serve(listener, service)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    stop.send_replace(true);
    if let Some(admin) = admin {
        admin.await??;
    }
    Ok(())
}

async fn load(target: String, scenario: Scenario) -> Result<(), BoxError> {
    let client = Client::new(Target::parse(&target)?);
    if scenario.phases.iter().any(|p| p.db_delay_ms > 0.0) {
        println!("note: db_delay_ms needs the proxy the demo runs; it is ignored here");
    }
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let world = Arc::new(World::new(run_id));
    loadgen::setup(&client, &world, &scenario.setup, scenario.seed).await?;
    let load = Load::start(client, world, scenario, None);
    println!(
        "{:>6} {:<22} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9}",
        "t(s)", "phase", "target", "sent/s", "errors", "p50(ms)", "p95(ms)", "p99(ms)"
    );
    let started = std::time::Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    while !load.is_finished() {
        ticker.tick().await;
        let Some(phase) = load.phase() else {
            continue;
        };
        let w = load.recorder().take();
        let q = |f: fn(&loadgen::stats::Quantiles) -> f64| {
            w.latency
                .as_ref()
                .map_or("-".into(), |l| format!("{:.1}", f(l) * 1e3))
        };
        println!(
            "{:6.0} {:<22} {:>7.0} {:>7.0} {:>7} {:>9} {:>9} {:>9}",
            started.elapsed().as_secs_f64(),
            phase.name,
            phase.rate,
            w.rate(),
            w.errors,
            q(|l| l.p50),
            q(|l| l.p95),
            q(|l| l.p99),
        );
    }
    let totals = load.finish().await?;
    println!(
        "{} actions in {:.0}s, {} dropped{}",
        totals.started,
        totals.secs,
        totals.dropped,
        if totals.hit_max_requests {
            " (stopped at max_requests)"
        } else {
            ""
        }
    );
    Ok(())
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    match cli.command {
        Command::Serve {
            addr,
            admin_addr,
            database,
            frozen,
            without_finch,
            set,
            knowledge,
        } => {
            let finch_loop = Loop {
                admin_addr,
                frozen,
                without_finch,
                set,
                knowledge,
            };
            serve(addr, database, finch_loop).await
        }
        Command::Overhead {
            short,
            reps,
            secs,
            warmup,
            rate,
            out,
        } => {
            let exe = std::env::current_exe()?;
            let mut options = if short {
                OverheadOptions::short(exe)
            } else {
                OverheadOptions::full(exe)
            };
            options.pairs = reps.unwrap_or(options.pairs);
            options.secs = secs.unwrap_or(options.secs);
            options.warmup_s = warmup.unwrap_or(options.warmup_s);
            options.rate = rate.unwrap_or(options.rate);
            options.out = out;
            let report = overhead::run(options).await?;
            println!();
            println!("{}", report.markdown());
            println!("written to {}", report.options.out.display());
            Ok(())
        }
        Command::Load {
            target,
            scenario: file,
            short,
        } => load(target, scenario(file, short)?).await,
        Command::Demo {
            frozen,
            short,
            scenario: file,
            out,
            interval_ms,
            set,
            knowledge,
            quiet,
            database,
        } => {
            let mode = if frozen { "static" } else { "finch" };
            let interval_ms = interval_ms.unwrap_or(if short { 1000 } else { 2000 });
            let summary = demo::run(DemoOptions {
                adaptive: !frozen,
                scenario: scenario(file, short)?,
                out: out.unwrap_or_else(|| PathBuf::from(format!("meal-planner-report/{mode}"))),
                interval: Duration::from_millis(interval_ms.max(100)),
                database,
                verbose: !quiet,
                set,
                knowledge,
            })
            .await?;
            println!();
            println!("{summary}");
            Ok(())
        }
        Command::Evaluate(args) => {
            let options = evaluate::EvaluateOptions::from_args(args, std::env::current_exe()?)?;
            let out = options.out.clone();
            let report = evaluate::run(options).await?;
            println!();
            println!("{}", report.markdown());
            println!("written to {}", out.display());
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
