//! The meal planner as a subject of finch's proving ground ([`finch::lab`]):
//! a real server in a child process against the real PostgreSQL, loaded
//! window by window from this process.
//!
//! - [`Subject::set_up`]: the run's database is dropped, a latency proxy is
//!   put between the service and PostgreSQL, and `meal-planner serve` starts
//!   as a child process on it: `--static --set KNOB=VALUE...` for a static
//!   arm (finch measures, every knob frozen), `--knowledge DIR` for a finch
//!   arm (cold: an empty store; warm: the store the cold run left). The
//!   child's loop runs on the scenario's window as its interval and on the
//!   run's seed. The scenario's data is then created through the API (not
//!   measured).
//! - [`Subject::window`]: open-loop Poisson arrivals at the window's rate
//!   with its phase's mix of the load generator's actions, for one window.
//!   Every action of an [`OPERATIONS`] kind is recorded as a [`Call`] when it
//!   finishes, with its latency from its intended start as this client saw it
//!   and `ok` when every request got a 2xx. At the end of the window the
//!   child's `/finch/status` gives the knob values in force and the decisions
//!   made since the last window.
//! - [`Subject::fault`]: `db-latency` sets the proxy's added latency to the
//!   fault's magnitude (ms) while it lasts; `cpu-neighbour` runs that many
//!   busy threads on this machine.
//! - [`Subject::tear_down`]: finch's CPU time from the status, then `SIGINT`
//!   and a clean exit.

pub mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use finch::lab::{
    ArmKind, BoxError, Call, Configuration, Fault, KnobAxis, Operation, Run, RunNotes, Subject,
    WindowOutcome, WindowPlan,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use self::server::Server;
use crate::db::{self, DbSettings};
use crate::loadgen::client::{Client, Target};
use crate::loadgen::interference::{CpuContention, LatencyProxy};
use crate::loadgen::journey::World;
use crate::loadgen::scenario::{Kind, Setup};
use crate::loadgen::{self, ACTION_TIMEOUT, MAX_IN_FLIGHT};

/// The actions judged, and the SLO whose objectives judge each (the loop's
/// managed SLOs, [`MANAGED_SLOS`](crate::demo::MANAGED_SLOS)).
pub const OPERATIONS: [(Kind, &str); 4] = [
    (Kind::Read, "meal_planner.recipes.get"),
    (Kind::Search, "meal_planner.recipes.search"),
    (Kind::Plan, "meal_planner.schedules.set"),
    (Kind::Pantry, "meal_planner.storages.upsert"),
];

/// Fault kind: PostgreSQL's responses delayed by `magnitude` milliseconds.
pub const DB_LATENCY: &str = "db-latency";

/// Fault kind: `magnitude` busy threads competing for the CPU.
pub const CPU_NEIGHBOUR: &str = "cpu-neighbour";

/// How the subject runs the service.
#[derive(Clone, Debug)]
pub struct MealPlannerOptions {
    /// The `meal-planner` executable whose `serve` runs each run.
    pub exe: PathBuf,
    /// The database every run recreates.
    pub database: String,
    /// Data created at the start of every run (not measured).
    pub setup: Setup,
    /// Seed of the arrivals, mixed with each run's seed.
    pub seed: u64,
    /// The knobs and the grid the static arms sweep.
    pub knobs: Vec<KnobAxis>,
    /// Latency the proxy adds to PostgreSQL's responses outside faults;
    /// `None`: no proxy, the service connects to PostgreSQL directly.
    pub db_delay: Option<Duration>,
    /// Record every kind of action, each as its own operation without
    /// objectives (for measurements that judge nothing, as the overhead's),
    /// instead of the [`OPERATIONS`].
    pub every_action: bool,
}

/// A knob's axis as finch's status describes it, for the cost.
#[derive(Clone, Copy, Debug)]
struct Axis {
    min: f64,
    max: f64,
    log: bool,
    cost: f64,
}

impl Axis {
    /// finch's cost of `value`: the weight times the normalized position.
    fn cost(&self, value: f64) -> f64 {
        if self.max <= self.min || !value.is_finite() {
            return 0.0;
        }
        let u = if self.log && self.min > 0.0 {
            (value.max(self.min).ln() - self.min.ln()) / (self.max.ln() - self.min.ln())
        } else {
            (value - self.min) / (self.max - self.min)
        };
        self.cost * u.clamp(0.0, 1.0)
    }
}

/// One action that finished.
struct Finished {
    kind: Kind,
    at: f64,
    latency: f64,
    ok: bool,
    requests: u32,
}

/// What a run keeps between hooks.
struct Running {
    server: Server,
    client: Client,
    world: Arc<World>,
    proxy: Option<LatencyProxy>,
    cpu: Option<CpuContention>,
    rng: ChaCha8Rng,
    began: Instant,
    in_flight: Arc<AtomicU64>,
    done_tx: mpsc::UnboundedSender<Finished>,
    done_rx: mpsc::UnboundedReceiver<Finished>,
    requested: Configuration,
    since_ms: u64,
    seen: BTreeSet<u64>,
}

/// Counters of the current run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Actions started.
    pub started: u64,
    /// Arrivals not sent because too many actions were in flight.
    pub dropped: u64,
    /// HTTP requests of the actions that finished.
    pub requests: u64,
    /// Actions that finished and failed.
    pub failed: u64,
}

/// The meal planner as a [`Subject`]: see the [module](self).
pub struct MealPlanner {
    options: MealPlannerOptions,
    settings: DbSettings,
    kinds: Vec<Kind>,
    axes: BTreeMap<String, Axis>,
    without_finch: bool,
    counters: Counters,
    running: Option<Running>,
}

impl MealPlanner {
    /// A subject over the PostgreSQL of `DATABASE_URL`.
    pub fn new(options: MealPlannerOptions) -> Result<Self, BoxError> {
        let settings = DbSettings::from_env(&options.database)?;
        let kinds = if options.every_action {
            Kind::ALL.to_vec()
        } else {
            OPERATIONS.iter().map(|(k, _)| *k).collect()
        };
        Ok(MealPlanner {
            options,
            settings,
            kinds,
            axes: BTreeMap::new(),
            without_finch: false,
            counters: Counters::default(),
            running: None,
        })
    }

    /// Whether later runs start the service without finch (`serve
    /// --without-finch`: no loop, no status route) whatever the arm says.
    pub fn set_without_finch(&mut self, on: bool) {
        self.without_finch = on;
    }

    /// The operations' kinds of action, in the order of [`Subject::operations`].
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// The counters of the current (or last) run.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The child's process id while a run is set up.
    pub fn server_pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.server.pid())
    }

    /// Waits until every action in flight has finished (at most the actions'
    /// timeout) and records those of the operations onto `calls`.
    pub async fn drain(&mut self, calls: &mut Vec<Call>) -> Result<(), BoxError> {
        let running = self.running.as_mut().ok_or("drain before set_up")?;
        let deadline = Instant::now() + ACTION_TIMEOUT;
        while running.in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        collect(&mut running.done_rx, &self.kinds, &mut self.counters, calls);
        Ok(())
    }

    fn args(&self, run: &Run<'_>) -> Vec<String> {
        let mut args = vec!["--database".to_string(), self.options.database.clone()];
        if self.without_finch {
            args.push("--without-finch".into());
            return args;
        }
        match run.kind {
            ArmKind::Static { config } => {
                args.push("--static".into());
                for (name, value) in config {
                    args.push("--set".into());
                    args.push(format!("{name}={}", number(*value)));
                }
            }
            ArmKind::Finch { knowledge, .. } => {
                args.push("--knowledge".into());
                args.push(knowledge.display().to_string());
            }
        }
        args
    }

    /// The environment of the child: its database through the proxy, and the
    /// loop's interval, seed and SLOs.
    fn env(&self, run: &Run<'_>, proxy: Option<SocketAddr>) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "FINCH_INTERVAL".to_string(),
                format!("{}ms", run.scenario.window.as_millis()),
            ),
            ("FINCH_SEED".to_string(), run.seed.to_string()),
            (
                "FINCH_SLOS".to_string(),
                crate::demo::MANAGED_SLOS.join(","),
            ),
        ];
        if let Some(proxy) = proxy {
            let server = &self.settings.server;
            let mut url = format!("host={} port={}", proxy.ip(), proxy.port());
            if let Some(user) = server.get_user() {
                url.push_str(&format!(" user={}", quote(user)));
            }
            if let Some(password) = server.get_password() {
                url.push_str(&format!(
                    " password={}",
                    quote(&String::from_utf8_lossy(password))
                ));
            }
            if let Some(name) = server.get_dbname() {
                url.push_str(&format!(" dbname={}", quote(name)));
            }
            env.push(("DATABASE_URL".to_string(), url));
        }
        env
    }

    /// The mix of the window's phase, by kind.
    fn mix(&self, run: &Run<'_>, plan: &WindowPlan) -> Result<Vec<(Kind, f64)>, BoxError> {
        let phase = run
            .scenario
            .phases
            .get(plan.phase)
            .ok_or("a window of no phase")?;
        let mix: Vec<(Kind, f64)> = phase
            .mix
            .iter()
            .map(|(name, w)| {
                Kind::ALL
                    .into_iter()
                    .find(|k| k.name() == name)
                    .map(|k| (k, w.max(0.0)))
                    .ok_or_else(|| format!("phase {}: no action {name:?}", phase.name))
            })
            .collect::<Result<_, _>>()?;
        if mix.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            return Err(format!("phase {}: the mix is empty", phase.name).into());
        }
        Ok(mix)
    }

    /// Knob values and new decisions from the child's status; the requested
    /// configuration when it runs without finch.
    async fn read_back(&mut self) -> Result<WindowOutcome, BoxError> {
        let running = self.running.as_mut().ok_or("window before set_up")?;
        let Some(status) = running.server.status().await? else {
            return Ok(WindowOutcome {
                config: running.requested.clone(),
                decision: None,
            });
        };
        let mut config = Configuration::new();
        for k in status["knobs"].as_array().into_iter().flatten() {
            let (Some(name), Some(value)) = (k["name"].as_str(), k["position"].as_f64()) else {
                continue;
            };
            config.insert(name.to_string(), value);
            if let (Some(min), Some(max)) = (k["min"].as_f64(), k["max"].as_f64()) {
                self.axes.insert(
                    name.to_string(),
                    Axis {
                        min,
                        max,
                        log: k["log"].as_bool().unwrap_or(false),
                        cost: k["cost"].as_f64().unwrap_or(0.0),
                    },
                );
            }
        }
        let mut said = Vec::new();
        for d in status["decisions"].as_array().into_iter().flatten() {
            let (Some(id), Some(at)) = (d["id"].as_u64(), d["at_ms"].as_u64()) else {
                continue;
            };
            if at < running.since_ms || !running.seen.insert(id) {
                continue;
            }
            let changes: Vec<String> = d["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{} {}→{}",
                        c["knob"].as_str().unwrap_or("?"),
                        c["from"].as_str().unwrap_or("?"),
                        c["to"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            said.push(format!(
                "{}: {}",
                d["kind"].as_str().unwrap_or("?"),
                changes.join(", ")
            ));
        }
        Ok(WindowOutcome {
            config,
            decision: (!said.is_empty()).then(|| said.join("; ")),
        })
    }
}

/// A value in `serve --set` form: whole numbers without a fraction.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A value of a libpq key-value connection string.
fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Moves the finished actions onto `calls` (those of the operations) and the counters.
fn collect(
    done: &mut mpsc::UnboundedReceiver<Finished>,
    kinds: &[Kind],
    counters: &mut Counters,
    calls: &mut Vec<Call>,
) {
    while let Ok(f) = done.try_recv() {
        counters.requests += u64::from(f.requests);
        counters.failed += u64::from(!f.ok);
        if let Some(op) = kinds.iter().position(|k| *k == f.kind) {
            calls.push(Call {
                op,
                at: f.at,
                latency: f.latency,
                ok: f.ok,
            });
        }
    }
}

fn choose(mix: &[(Kind, f64)], rng: &mut ChaCha8Rng) -> Kind {
    let total: f64 = mix.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0.0..total);
    for (kind, w) in mix {
        if x < *w {
            return *kind;
        }
        x -= w;
    }
    mix.last().map_or(Kind::Read, |(k, _)| *k)
}

/// The loopback address of `DATABASE_URL`'s server, for the proxy.
async fn upstream(settings: &DbSettings) -> Result<SocketAddr, BoxError> {
    let (host, port) = settings.server_addr()?;
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| {
            format!("the lab runs against a PostgreSQL on this machine; {host} is not loopback")
                .into()
        })
}

impl Subject for MealPlanner {
    fn operations(&self) -> Vec<Operation> {
        self.kinds
            .iter()
            .map(|kind| Operation {
                name: kind.name().to_string(),
                objectives: OPERATIONS
                    .iter()
                    .filter(|_| !self.options.every_action)
                    .find(|(k, _)| k == kind)
                    .and_then(|(_, slo)| finch::slo_by_name(slo))
                    .map(|slo| slo.objectives().to_vec())
                    .unwrap_or_default(),
            })
            .collect()
    }

    fn knobs(&self) -> Vec<KnobAxis> {
        self.options.knobs.clone()
    }

    fn cost(&self, config: &Configuration) -> f64 {
        config
            .iter()
            .filter_map(|(name, v)| self.axes.get(name).map(|a| a.cost(*v)))
            .sum()
    }

    async fn set_up(&mut self, run: &Run<'_>) -> Result<(), BoxError> {
        if let Some(mut stale) = self.running.take() {
            stale.server.stop().await?;
        }
        db::drop_database(&self.settings).await?;
        let proxy = match self.options.db_delay {
            Some(delay) => {
                let proxy = LatencyProxy::start(upstream(&self.settings).await?).await?;
                proxy.set_delay(delay);
                Some(proxy)
            }
            None => None,
        };
        let server = Server::start(
            &self.options.exe,
            &self.args(run),
            &self.env(run, proxy.as_ref().map(LatencyProxy::addr)),
        )
        .await?;
        let client = Client::new(Target::new(server.addr())?);
        server.wait_until_answering(&client).await?;
        let world = Arc::new(World::new(
            u64::from(std::process::id()) << 20 ^ run.seed << 8 ^ u64::from(server.pid()),
        ));
        let seed = self.options.seed ^ run.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        loadgen::setup(&client, &world, &self.options.setup, seed).await?;
        let since_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        self.counters = Counters::default();
        self.running = Some(Running {
            server,
            client,
            world,
            proxy,
            cpu: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            began: Instant::now(),
            in_flight: Arc::new(AtomicU64::new(0)),
            done_tx,
            done_rx,
            requested: match run.kind {
                ArmKind::Static { config } => config.clone(),
                ArmKind::Finch { .. } => Configuration::new(),
            },
            since_ms,
            seen: BTreeSet::new(),
        });
        Ok(())
    }

    async fn fault(&mut self, _run: &Run<'_>, fault: &Fault, active: bool) -> Result<(), BoxError> {
        let base = self.options.db_delay;
        let running = self.running.as_mut().ok_or("fault before set_up")?;
        match fault.kind.as_str() {
            DB_LATENCY => {
                let proxy = running
                    .proxy
                    .as_ref()
                    .ok_or("a db-latency fault needs the latency proxy (db_delay)")?;
                let delay = if active {
                    Duration::from_secs_f64(fault.magnitude.clamp(0.0, 1000.0) / 1e3)
                } else {
                    base.unwrap_or_default()
                };
                proxy.set_delay(delay);
            }
            CPU_NEIGHBOUR => {
                running.cpu = active.then(|| {
                    let threads = fault.magnitude.round().clamp(0.0, 64.0) as u32;
                    CpuContention::start(
                        threads,
                        std::time::Instant::now() + Duration::from_secs(3600),
                    )
                });
            }
            other => return Err(format!("no fault {other:?} (db-latency, cpu-neighbour)").into()),
        }
        Ok(())
    }

    async fn window(
        &mut self,
        run: &Run<'_>,
        plan: &WindowPlan,
        calls: &mut Vec<Call>,
    ) -> Result<WindowOutcome, BoxError> {
        let mix = self.mix(run, plan)?;
        let running = self.running.as_mut().ok_or("window before set_up")?;
        let start = Instant::now();
        let end = start + plan.length;
        let mut next = start;
        while plan.rate > 0.0 && next < end {
            let u: f64 = running.rng.random_range(f64::EPSILON..1.0);
            next += Duration::from_secs_f64(-u.ln() / plan.rate);
            if next >= end {
                break;
            }
            tokio::time::sleep_until(next).await;
            if running.in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                self.counters.dropped += 1;
                continue;
            }
            self.counters.started += 1;
            let kind = choose(&mix, &mut running.rng);
            let mut rng = ChaCha8Rng::seed_from_u64(running.rng.random());
            let (client, world, in_flight, done) = (
                running.client.clone(),
                Arc::clone(&running.world),
                Arc::clone(&running.in_flight),
                running.done_tx.clone(),
            );
            let intended = next;
            let at = intended.duration_since(running.began).as_secs_f64();
            in_flight.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let result =
                    tokio::time::timeout(ACTION_TIMEOUT, world.act(&client, kind, &mut rng)).await;
                let (requests, ok) = match result {
                    Ok(Ok(d)) => (d.requests, d.ok),
                    Ok(Err(_)) | Err(_) => (1, false),
                };
                // The run may have ended: nobody listens any more.
                let _ = done.send(Finished {
                    kind,
                    at,
                    latency: intended.elapsed().as_secs_f64(),
                    ok,
                    requests,
                });
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
        tokio::time::sleep_until(end).await;
        collect(&mut running.done_rx, &self.kinds, &mut self.counters, calls);
        self.read_back().await
    }

    async fn tear_down(&mut self, run: &Run<'_>) -> Result<RunNotes, BoxError> {
        let mut rest = Vec::new();
        self.drain(&mut rest).await?;
        let Some(mut running) = self.running.take() else {
            return Ok(RunNotes::default());
        };
        running.cpu = None;
        let finch_cpu_secs = match run.kind {
            ArmKind::Finch { .. } if !self.without_finch => running
                .server
                .status()
                .await?
                .and_then(|s| s["cpu_secs"].as_f64()),
            _ => None,
        };
        drop(running.client);
        running.server.stop().await?;
        Ok(RunNotes { finch_cpu_secs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_finch_normalization() {
        let lin = Axis {
            min: 2.0,
            max: 32.0,
            log: false,
            cost: 1.0,
        };
        assert_eq!(lin.cost(2.0), 0.0);
        assert!((lin.cost(17.0) - 0.5).abs() < 1e-12);
        let log = Axis {
            min: 16.0,
            max: 4096.0,
            log: true,
            cost: 1.0,
        };
        assert!((log.cost(256.0) - 0.5).abs() < 1e-12);
        assert_eq!(log.cost(1e9), 1.0);
        assert_eq!(number(8.0), "8");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(quote("it's"), "'it\\'s'");
    }

    #[test]
    fn the_mix_picks_only_weighted_kinds() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mix = [(Kind::Read, 3.0), (Kind::Plan, 0.0), (Kind::Pantry, 1.0)];
        let picks: Vec<Kind> = (0..200).map(|_| choose(&mix, &mut rng)).collect();
        assert!(!picks.contains(&Kind::Plan));
        let reads = picks.iter().filter(|k| **k == Kind::Read).count();
        assert!((120..=180).contains(&reads), "{reads}");
    }
}
