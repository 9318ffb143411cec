//! The adaptation demo: the service with finch on loopback, a latency proxy
//! between it and PostgreSQL, a scenario whose load and mix shift, live
//! progress per window, and a report (JSON and PNG charts).
//!
//! PostgreSQL's side goes through finch-postgres: finch sizes the pool and sets
//! `work_mem` on every pooled connection, the loop samples PostgreSQL's own
//! signals (`pg.*`), and each window records what one of the service's pooled
//! connections shows for `SHOW work_mem`.

pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{Pool, Timeouts};
use finch::export::PrometheusExporter;
use finch::knowledge::FileStore;
use finch::postgres::{PgSignals, SessionSettings};
use finch::{Config, Objective, Status};
use serde::Serialize;
use tokio_postgres::SimpleQueryMessage;

use self::report::{DecisionRecord, ObjectiveRecord, PgRecord, WindowRecord};
use crate::admin;
use crate::db::{self, DbSettings};
use crate::error::AppError;
use crate::loadgen::client::{Client, Target};
use crate::loadgen::interference::LatencyProxy;
use crate::loadgen::journey::World;
use crate::loadgen::scenario::{Kind, Scenario};
use crate::loadgen::stats::Quantiles;
use crate::loadgen::{self, Load, LoadError};
use crate::tuning::{self, DEFAULT_POOL_SIZE, DatabaseKnobs, POOL_SIZE_KNOB, WORK_MEM_KNOB};
use crate::{AppState, app};

/// What can stop the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The service or its database.
    #[error(transparent)]
    App(#[from] AppError),
    /// The load generator.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// finch.
    #[error("finch: {0}")]
    Finch(#[from] finch::Error),
    /// Writing the report.
    #[error("report: {0}")]
    Report(String),
    /// An option that cannot be honoured (an unknown knob, a value out of bounds).
    #[error("options: {0}")]
    Options(String),
    /// A socket.
    #[error("io: {0}")]
    Io(String),
    /// finch's operator listener.
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
}

/// How to run the demo.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Run finch's loop (false: `--static`, every knob frozen at its default;
    /// finch still measures).
    pub adaptive: bool,
    /// The scenario.
    pub scenario: Scenario,
    /// Where the report goes.
    pub out: PathBuf,
    /// The loop's interval, which is also the progress window.
    pub interval: Duration,
    /// The database the demo creates afresh (dropped first if it exists).
    pub database: String,
    /// Print a progress line per window.
    pub verbose: bool,
    /// Knob values to start from, applied before finch starts, in order: a
    /// knob's name (or a short name: `pool`, `work_mem`, `cache`, `limit`,
    /// `batch`) and its value as text (`8`, `4MB`). The database knobs are
    /// applied at once (pool resized, `work_mem` set on every pooled
    /// connection) and checked. With `adaptive: false` the run stays there.
    pub set: Vec<(String, String)>,
    /// A directory for finch's knowledge (a file store), so a later run on the
    /// same directory starts warm; `None` keeps it in memory.
    pub knowledge: Option<PathBuf>,
}

/// One SLO's windows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SloSummary {
    /// Windows in which it had enough calls to measure.
    pub measured: u32,
    /// Windows in which one of its objectives was violated.
    pub violated: u32,
}

/// The outcome of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// `finch` or `static`.
    pub mode: String,
    /// The scenario's name.
    pub scenario: String,
    /// Windows observed during the phases.
    pub windows: u32,
    /// Windows in which any objective was violated.
    pub violating_windows: u32,
    /// By SLO.
    pub slos: BTreeMap<String, SloSummary>,
    /// When an objective was first violated under high load (seconds).
    pub first_violation_at: Option<f64>,
    /// When, after that, three windows in a row met every objective under
    /// high load (seconds).
    pub restored_at: Option<f64>,
    /// The highest cost seen and its knob values.
    pub peak_cost: f64,
    /// Knob values at the peak cost.
    pub knobs_at_peak: BTreeMap<String, f64>,
    /// The cost at the end.
    pub end_cost: f64,
    /// Knob values at the end.
    pub knobs_at_end: BTreeMap<String, f64>,
    /// Bytes PostgreSQL wrote to temporary files during the phases (sorts and
    /// hashes that did not fit in `work_mem`), from `pg_stat_database`.
    pub temp_bytes: i64,
    /// `work_mem` after the run, before finch-postgres restores it.
    pub work_mem_at_end: Option<WorkMemAtEnd>,
    /// Decisions finch made.
    pub decisions: usize,
    /// CPU time finch's loop used (iterations and training), in seconds.
    pub finch_cpu_secs: f64,
    /// What the load generator saw over the whole run, by kind of action:
    /// latency quantiles from each action's intended start (seconds).
    pub client_latency: BTreeMap<Kind, Quantiles>,
    /// Model trainings, and whether the model was trusted at the end.
    pub trainings: u64,
    /// Whether the model was trusted at the end.
    pub model_trusted: bool,
    /// Actions the load generator started, and dropped.
    pub actions: u64,
    /// Arrivals dropped because too many were in flight.
    pub dropped: u64,
    /// Where the report was written.
    pub report_dir: String,
}

/// `work_mem` at the end of a run: the knob's value and what the service's
/// pooled connections show.
#[derive(Clone, Debug, Serialize)]
pub struct WorkMemAtEnd {
    /// The knob's value, in kB (the setting's base unit).
    pub knob_kb: f64,
    /// `SHOW work_mem` on one of the service's pooled connections.
    pub shown: String,
}

#[derive(Serialize)]
struct Report<'a> {
    summary: &'a Summary,
    scenario: &'a Scenario,
    windows: &'a [WindowRecord],
    decisions: &'a [DecisionRecord],
}

/// Resolves the server of `DATABASE_URL` to a loopback socket address.
async fn upstream(settings: &DbSettings) -> Result<SocketAddr, DemoError> {
    let (host, port) = settings.server_addr()?;
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| DemoError::Io(format!("cannot resolve {host}: {e}")))?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| {
            DemoError::Io(format!(
                "the demo runs against a PostgreSQL on this machine; {host} is not loopback"
            ))
        })?;
    Ok(addr)
}

/// Connection settings of the demo's database, through the proxy.
fn via_proxy(settings: &DbSettings, proxy: SocketAddr) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host(proxy.ip().to_string())
        .port(proxy.port())
        .dbname(&settings.database)
        .application_name("meal-planner");
    if let Some(user) = settings.server.get_user() {
        config.user(user);
    }
    if let Some(password) = settings.server.get_password() {
        config.password(password);
    }
    config
}

/// Short names of the service's knobs, as progress lines and `--set` use them.
const SHORT_NAMES: [(&str, &str); 5] = [
    (POOL_SIZE_KNOB, "pool"),
    (WORK_MEM_KNOB, "work_mem"),
    ("meal_planner.recipe_cache_capacity", "cache"),
    ("meal_planner.concurrency_limit", "limit"),
    ("meal_planner.pantry_batch", "batch"),
];

fn short(name: &str) -> &str {
    SHORT_NAMES
        .iter()
        .find(|(full, _)| *full == name)
        .map_or_else(
            || name.strip_prefix("meal_planner.").unwrap_or(name),
            |(_, s)| s,
        )
}

/// The full name of a knob given by its full or short name (`pool`,
/// `work_mem`, `cache`, `limit`, `batch`).
pub fn knob_name(name: &str) -> &str {
    SHORT_NAMES
        .iter()
        .find(|(_, s)| *s == name)
        .map_or(name, |(full, _)| full)
}

/// Parses `NAME=VALUE` (as `--set` takes it).
pub fn parse_set(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() && !value.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("{text:?}: expected KNOB=VALUE, e.g. pool=8")),
    }
}

/// Sets each knob of `set` (before finch starts): the database knobs through
/// finch-postgres, applied at once, the others through the registry. Checks
/// that the pool has the size asked for.
pub async fn start_from(
    set: &[(String, String)],
    database: &DatabaseKnobs,
    pool: &Pool,
) -> Result<(), DemoError> {
    for (name, value) in set {
        let full = knob_name(name);
        let Some(knob) = finch::knob_by_name(full) else {
            let known: Vec<String> = finch::knobs()
                .iter()
                .map(|k| k.name().to_string())
                .collect();
            return Err(DemoError::Options(format!(
                "no knob {name:?}; the knobs are {} (or pool, work_mem, cache, limit, batch)",
                known.join(", ")
            )));
        };
        if database.owns(full) {
            database.set(full, value).await?;
        } else {
            knob.set_from_str(value)
                .map_err(|e| DemoError::Options(format!("cannot set {full} to {value}: {e}")))?;
        }
        if full == POOL_SIZE_KNOB {
            let size = pool.status().max_size as f64;
            if (knob.value().as_f64() - size).abs() > 0.5 {
                return Err(DemoError::Options(format!(
                    "{full} is {} but the pool holds {size} connections",
                    knob.value()
                )));
            }
        }
    }
    Ok(())
}

/// A size in kB as PostgreSQL shows it (`SHOW work_mem`): in the largest unit
/// that divides it exactly, e.g. `4MB`, `1536kB`, `1GB`.
pub fn show_kb(kb: f64) -> String {
    let kb = kb.round() as i64;
    if kb <= 0 {
        return kb.to_string();
    }
    [("TB", 1 << 30), ("GB", 1 << 20), ("MB", 1 << 10)]
        .into_iter()
        .find(|(_, size)| kb % size == 0)
        .map_or_else(
            || format!("{kb}kB"),
            |(unit, size)| format!("{}{unit}", kb / size),
        )
}

/// Runs `SHOW work_mem` and reads the database's temporary-file bytes so far
/// (`pg_stat_database.temp_bytes`) on one of the service's pooled connections,
/// waiting at most `wait` for one. Taking it runs the pool's session hooks, so
/// it shows the settings in force for the service's queries.
async fn sample_pg(pool: &Pool, wait: Duration) -> Result<(String, i64), AppError> {
    let timeouts = Timeouts {
        wait: Some(wait),
        ..pool.timeouts()
    };
    let client = pool.timeout_get(&timeouts).await?;
    let messages = client
        .simple_query(
            "SHOW work_mem; \
             SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()",
        )
        .await?;
    let mut rows = messages.iter().filter_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0),
        _ => None,
    });
    let missing = || AppError::Internal("SHOW work_mem or pg_stat_database returned no row".into());
    let work_mem = rows.next().ok_or_else(missing)?.to_string();
    let temp_bytes = rows
        .next()
        .ok_or_else(missing)?
        .parse::<i64>()
        .map_err(|e| AppError::Internal(format!("pg_stat_database.temp_bytes: {e}")))?;
    Ok((work_mem, temp_bytes))
}

fn knob_values() -> BTreeMap<String, f64> {
    finch::knobs()
        .iter()
        .map(|k| {
            let info = k.info();
            (info.name, info.value.as_f64())
        })
        .collect()
}

fn objectives(status: &Status) -> Vec<ObjectiveRecord> {
    status
        .slos
        .iter()
        .flat_map(|s| {
            s.objectives.iter().map(|o| {
                let scale = match o.objective {
                    Objective::Latency { .. } => 1e3,
                    Objective::Errors { .. } => 1e2,
                };
                ObjectiveRecord {
                    slo: s.name.clone(),
                    objective: o.display.clone(),
                    sli: o.sli.map(|v| v * scale),
                    bound: o.objective.bound() * scale,
                }
            })
        })
        .collect()
}

/// The SLOs the demo's loop manages: the busy routes. Rare routes (sign-up,
/// house and recipe creation, the shopping list) seldom see enough calls at
/// these rates to tell the loop anything; they stay declared and measured
/// (`/metrics`) but out of the loop.
pub const MANAGED_SLOS: [&str; 4] = [
    "meal_planner.recipes.get",
    "meal_planner.recipes.search",
    "meal_planner.schedules.set",
    "meal_planner.storages.upsert",
];

/// The SLIs shown on each progress line.
const SHOWN: [(&str, &str); 4] = [
    ("meal_planner.recipes.get", "get.p99"),
    ("meal_planner.recipes.search", "search.p95"),
    ("meal_planner.schedules.set", "plan.p95"),
    ("meal_planner.storages.upsert", "pantry.p95"),
];

fn header() -> String {
    let slis: Vec<String> = SHOWN.iter().map(|(_, l)| format!("{l:>10}")).collect();
    format!(
        "{:>5} {:<22} {:>9} {} {:>4} | {:>4} {:>8} {:>5} {:>5} {:>5} {:>5} | decisions",
        "t(s)",
        "phase",
        "load/s",
        slis.join(""),
        "viol",
        "pool",
        "work_mem",
        "cache",
        "limit",
        "batch",
        "cost",
    )
}

fn line(w: &WindowRecord, new: &[&DecisionRecord]) -> String {
    let slis: Vec<String> = SHOWN
        .iter()
        .map(|(slo, _)| {
            let cell = w
                .objectives
                .iter()
                .find(|o| o.slo == *slo && !o.objective.starts_with("errors"))
                .and_then(|o| {
                    o.sli
                        .map(|v| format!("{v:.1}{}", if o.violated() { "!" } else { "" }))
                })
                .unwrap_or_else(|| "-".into());
            format!("{cell:>10}")
        })
        .collect();
    let violated = w.objectives.iter().filter(|o| o.violated()).count();
    let knob = |n: &str| {
        w.knobs
            .iter()
            .find(|(k, _)| short(k) == n)
            .map_or("-".to_string(), |(_, v)| format!("{v:.0}"))
    };
    let decisions: Vec<String> = new
        .iter()
        .map(|d| format!("{}: {}", d.kind, d.changes.join(", ")))
        .collect();
    let work_mem = w.pg.as_ref().map_or("-", |pg| pg.work_mem.as_str());
    format!(
        "{:5.0} {:<22} {:>4.0}/{:<4.0} {} {:>4} | {:>4} {:>8} {:>5} {:>5} {:>5} {:>5.2} | {}",
        w.t,
        w.phase.chars().take(22).collect::<String>(),
        w.client.rate(),
        w.target_rate,
        slis.join(""),
        violated,
        knob("pool"),
        work_mem,
        knob("cache"),
        knob("limit"),
        knob("batch"),
        w.cost,
        decisions.join("; ")
    )
}

/// Runs the demo and writes its report.
pub async fn run(options: DemoOptions) -> Result<Summary, DemoError> {
    // The operator token: MEAL_PLANNER_ADMIN_TOKEN (refused when too weak) or,
    // without it, one nobody knows.
    let token = if std::env::var_os(admin::TOKEN_VAR).is_some() {
        admin::token_from_env()?
    } else {
        admin::random_token()
    };
    let scenario = options.scenario.clone();
    let settings = DbSettings::from_env(&options.database)?;
    let upstream = upstream(&settings).await?;
    db::drop_database(&settings).await?;
    db::create_database(&settings).await?;
    let proxy = Arc::new(LatencyProxy::start(upstream).await?);
    let sessions = SessionSettings::new();
    let pool = db::pool(
        via_proxy(&settings, proxy.addr()),
        DEFAULT_POOL_SIZE as usize,
        Duration::from_secs(2),
        &sessions,
    )?;
    db::migrate(&pool).await?;
    let database_knobs = tuning::database_knobs(&pool, &sessions).await?;
    start_from(&options.set, &database_knobs, &pool).await?;
    if !options.set.is_empty() {
        // What the service's connections now run with is what the knob says.
        let (shown, _) = sample_pg(&pool, Duration::from_secs(2)).await?;
        let knob = finch::knob_by_name(WORK_MEM_KNOB).map(|k| show_kb(k.value().as_f64()));
        if knob.as_deref().is_some_and(|k| k != shown) {
            return Err(DemoError::Options(format!(
                "{WORK_MEM_KNOB} is {} but a pooled connection shows work_mem {shown}",
                knob.unwrap_or_default()
            )));
        }
        let values = knob_values();
        let start: Vec<String> = values
            .iter()
            .map(|(n, v)| match short(n) {
                "work_mem" => format!("work_mem {}", show_kb(*v)),
                s => format!("{s} {v}"),
            })
            .collect();
        println!(
            "starting from {} (pool holds {} connections, SHOW work_mem {shown})",
            start.join(", "),
            pool.status().max_size
        );
    }

    let exporter = PrometheusExporter::install()?;
    let state = AppState::new(pool.clone());
    let mut config = Config::default()
        .interval(options.interval)
        .seed(scenario.seed)
        .slos(MANAGED_SLOS)
        .signal(PgSignals::new(pool.clone()))
        .signal(state.signals());
    for capacity in tuning::capacities() {
        config = config.capacity(capacity);
    }
    if !options.adaptive {
        for k in finch::knobs() {
            config = config.freeze(k.name());
        }
    }
    if let Some(dir) = &options.knowledge {
        config = config.store(FileStore::open(dir).map_err(finch::Error::from)?);
    }
    // Decisions made before this run (a warm start may bring them back) are
    // not this run's.
    let since_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let finch = finch::start(config)?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::Io(format!("cannot bind: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::Io(e.to_string()))?;
    // finch's operator routes on their own loopback listener.
    let admin_listener = admin::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(|e| DemoError::Io(e.to_string()))?;
    let operator = admin::routes(&finch, exporter, &token, admin_addr)?;
    let (stop, _) = tokio::sync::watch::channel(false);
    let mut stopped = stop.subscribe();
    let service = app(state.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                stopped.wait_for(|s| *s).await.ok();
            })
            .await
    });
    let mut stopped = stop.subscribe();
    let admin_server = tokio::spawn(async move {
        axum::serve(admin_listener, operator)
            .with_graceful_shutdown(async move {
                stopped.wait_for(|s| *s).await.ok();
            })
            .await
    });

    let mode = if options.adaptive { "finch" } else { "static" };
    println!(
        "meal-planner on http://{addr} ({mode}); PostgreSQL through the latency proxy at {}; \
         metrics, finch's status and pins at http://{admin_addr} (token in {})",
        proxy.addr(),
        admin::TOKEN_VAR
    );
    let client = Client::new(Target::new(addr)?);
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let world = Arc::new(World::new(run_id));
    let began = Instant::now();
    proxy.set_delay(Duration::from_millis(1));
    loadgen::setup(&client, &world, &scenario.setup, scenario.seed).await?;
    let (users, houses, recipes) = world.sizes();
    println!(
        "set up {users} users, {houses} houses, {recipes} recipes in {:.1}s; running {} phases ({:.0}s)",
        began.elapsed().as_secs_f64(),
        scenario.phases.len(),
        scenario.duration().as_secs_f64()
    );
    if options.verbose {
        println!("{}", header());
    }

    // A window waits this long at most for a pooled connection to sample
    // PostgreSQL; when the pool is saturated the window shows `-`.
    let pg_wait = (options.interval / 4).min(Duration::from_millis(250));
    let mut temp_before = sample_pg(&pool, Duration::from_secs(2)).await?.1;
    let load = Load::start(client, world, scenario.clone(), Some(Arc::clone(&proxy)));
    let started = Instant::now();
    let mut windows: Vec<WindowRecord> = Vec::new();
    let mut decisions: Vec<DecisionRecord> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut cache_before = state.cache().hits_and_misses();
    let mut ticker = tokio::time::interval(options.interval);
    ticker.tick().await;
    while !load.is_finished() {
        ticker.tick().await;
        let Some(phase) = load.phase() else {
            continue;
        };
        let client_window = load.recorder().take();
        // Sampled before finch's status, so a change shown here is never newer
        // than the decisions and knob values recorded with it.
        let pg = match sample_pg(&pool, pg_wait).await {
            Ok((work_mem, temp_bytes)) => {
                let spilled = temp_bytes - temp_before;
                temp_before = temp_bytes;
                Some(PgRecord {
                    work_mem,
                    temp_bytes: spilled,
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "demo: cannot sample PostgreSQL this window");
                None
            }
        };
        let status = finch.status();
        let t = started.elapsed().as_secs_f64();
        let mut new_ids = Vec::new();
        for d in status.decisions.iter().filter(|d| d.at_ms >= since_ms) {
            let outcome = d.outcome_label().to_string();
            if seen.insert(d.id) {
                new_ids.push(d.id);
                decisions.push(DecisionRecord {
                    id: d.id,
                    t,
                    kind: d.kind.to_string(),
                    changes: d
                        .changes
                        .iter()
                        .map(|c| format!("{} {}→{}", short(&c.knob), c.from, c.to))
                        .collect(),
                    reason: d.reason.clone(),
                    outcome,
                });
            } else if let Some(r) = decisions.iter_mut().find(|r| r.id == d.id) {
                r.outcome = outcome;
            }
        }
        let cache_now = state.cache().hits_and_misses();
        let (hits, misses) = (cache_now.0 - cache_before.0, cache_now.1 - cache_before.1);
        cache_before = cache_now;
        let record = WindowRecord {
            t,
            phase: phase.name.clone(),
            target_rate: phase.rate,
            client: client_window,
            objectives: objectives(&status),
            knobs: knob_values(),
            pg,
            cost: status.cost,
            cache_hit_ratio: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
            decisions: new_ids.clone(),
        };
        if options.verbose {
            let new: Vec<&DecisionRecord> = decisions
                .iter()
                .filter(|d| new_ids.contains(&d.id))
                .collect();
            println!("{}", line(&record, &new));
        }
        windows.push(record);
    }
    let totals = load.finish().await?;
    let status = finch.status();
    stop.send_replace(true);
    for server in [server, admin_server] {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(DemoError::Io(format!("the server failed: {e}"))),
            Err(e) => return Err(DemoError::Io(format!("the server task failed: {e}"))),
        }
    }
    finch.shutdown().await;
    let work_mem_at_end = match sample_pg(&pool, Duration::from_secs(2)).await {
        Ok((shown, _)) => finch::knob_by_name(WORK_MEM_KNOB).map(|k| WorkMemAtEnd {
            knob_kb: k.value().as_f64(),
            shown,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "demo: cannot read work_mem after the run");
            None
        }
    };
    database_knobs.shutdown().await?;

    let mut summary = summarize(
        mode,
        &scenario,
        &windows,
        &decisions,
        &status,
        &totals,
        &options.out,
    );
    summary.work_mem_at_end = work_mem_at_end;
    report::write(
        &options.out,
        &Report {
            summary: &summary,
            scenario: &scenario,
            windows: &windows,
            decisions: &decisions,
        },
        &windows,
        &decisions,
    )?;
    Ok(summary)
}

fn summarize(
    mode: &str,
    scenario: &Scenario,
    windows: &[WindowRecord],
    decisions: &[DecisionRecord],
    status: &Status,
    totals: &loadgen::Totals,
    out: &std::path::Path,
) -> Summary {
    let peak_rate = scenario
        .phases
        .iter()
        .map(|p| p.peak_rate())
        .fold(0.0, f64::max);
    let busy = |w: &WindowRecord| w.target_rate >= 0.5 * peak_rate;
    let violated = |w: &WindowRecord| w.objectives.iter().any(ObjectiveRecord::violated);
    let mut slos: BTreeMap<String, SloSummary> = BTreeMap::new();
    for w in windows {
        let mut per: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        for o in &w.objectives {
            let e = per.entry(o.slo.as_str()).or_default();
            e.0 |= o.sli.is_some();
            e.1 |= o.violated();
        }
        for (slo, (measured, bad)) in per {
            let s = slos.entry(slo.to_string()).or_default();
            s.measured += u32::from(measured);
            s.violated += u32::from(bad);
        }
    }
    let first = windows.iter().position(|w| busy(w) && violated(w));
    let restored = first.and_then(|f| {
        (f + 1..windows.len().saturating_sub(2))
            .find(|&i| windows[i..i + 3].iter().all(|w| busy(w) && !violated(w)))
    });
    let peak = windows.iter().max_by(|a, b| a.cost.total_cmp(&b.cost));
    let last = windows.last();
    let named = |k: &BTreeMap<String, f64>| {
        k.iter()
            .map(|(n, v)| (short(n).to_string(), *v))
            .collect::<BTreeMap<_, _>>()
    };
    Summary {
        mode: mode.to_string(),
        scenario: scenario.name.clone(),
        windows: u32::try_from(windows.len()).unwrap_or(u32::MAX),
        violating_windows: u32::try_from(windows.iter().filter(|w| violated(w)).count())
            .unwrap_or(u32::MAX),
        slos,
        first_violation_at: first.map(|i| windows[i].t),
        restored_at: restored.map(|i| windows[i].t),
        peak_cost: peak.map_or(0.0, |w| w.cost),
        knobs_at_peak: peak.map(|w| named(&w.knobs)).unwrap_or_default(),
        end_cost: last.map_or(0.0, |w| w.cost),
        knobs_at_end: last.map(|w| named(&w.knobs)).unwrap_or_default(),
        temp_bytes: windows
            .iter()
            .filter_map(|w| w.pg.as_ref().map(|pg| pg.temp_bytes))
            .sum(),
        work_mem_at_end: None,
        decisions: decisions.len(),
        finch_cpu_secs: status.cpu_secs,
        client_latency: totals.latency.clone(),
        trainings: status.model.trainings,
        model_trusted: status.model.trusted,
        actions: totals.started,
        dropped: totals.dropped,
        report_dir: out.display().to_string(),
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let knobs = |k: &BTreeMap<String, f64>| {
            k.iter()
                .map(|(n, v)| match n.as_str() {
                    "work_mem" => format!("{n} {}", show_kb(*v)),
                    _ => format!("{n} {v:.0}"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(f, "mode: {} · scenario: {}", self.mode, self.scenario)?;
        writeln!(
            f,
            "windows violating an objective: {}/{} ({} actions, {} dropped)",
            self.violating_windows, self.windows, self.actions, self.dropped
        )?;
        for (slo, s) in &self.slos {
            let short = slo.strip_prefix("meal_planner.").unwrap_or(slo);
            writeln!(
                f,
                "  {short:<26} violated {:>3} of {:>3} measured windows",
                s.violated, s.measured
            )?;
        }
        match (self.first_violation_at, self.restored_at) {
            (Some(v), Some(r)) => writeln!(
                f,
                "violation under high load at {v:.0}s, objectives restored at {r:.0}s (3 windows in a row)"
            )?,
            (Some(v), None) => writeln!(
                f,
                "violation under high load at {v:.0}s, not restored under high load"
            )?,
            (None, _) => writeln!(f, "no violation under high load")?,
        }
        writeln!(
            f,
            "peak cost {:.2} ({})",
            self.peak_cost,
            knobs(&self.knobs_at_peak)
        )?;
        writeln!(
            f,
            "end cost  {:.2} ({}){}",
            self.end_cost,
            knobs(&self.knobs_at_end),
            if self.end_cost < self.peak_cost {
                " — lowered as load fell"
            } else {
                ""
            }
        )?;
        if let Some(w) = &self.work_mem_at_end {
            writeln!(
                f,
                "work_mem at the end: knob {}, SHOW work_mem on a pooled connection {}",
                show_kb(w.knob_kb),
                w.shown
            )?;
        }
        writeln!(
            f,
            "PostgreSQL temporary files: {} bytes written by sorts and hashes beyond work_mem",
            self.temp_bytes
        )?;
        writeln!(
            f,
            "decisions: {} · model trainings: {} (trusted: {})",
            self.decisions, self.trainings, self.model_trusted
        )?;
        write!(
            f,
            "report: {}/report.json, slis.png, knobs.png",
            self.report_dir
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_set, show_kb};

    #[test]
    fn set_takes_knob_equals_value_and_names_the_form_otherwise() {
        assert_eq!(
            parse_set(" pool = 8 "),
            Ok(("pool".to_string(), "8".to_string()))
        );
        for bad in ["pool", "pool=", "=8", ""] {
            let e = parse_set(bad).unwrap_err();
            assert!(e.contains("expected KNOB=VALUE"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn sizes_read_as_postgresql_shows_them() {
        assert_eq!(show_kb(4096.0), "4MB");
        assert_eq!(show_kb(1536.0), "1536kB");
        assert_eq!(show_kb(16384.0), "16MB");
        assert_eq!(show_kb(1_048_576.0), "1GB");
        assert_eq!(show_kb(262_144.0), "256MB");
        assert_eq!(show_kb(2896.4), "2896kB");
    }
}
