//! The load generator: open-loop Poisson arrivals at each phase's rate, each
//! action's latency measured from its intended start (no coordinated
//! omission), the original's user journey as the request mix, bounded in count
//! and time, loopback targets only; CPU contention and database latency as
//! interference.

pub mod client;
pub mod interference;
pub mod journey;
pub mod scenario;
pub mod stats;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::time::Instant;

use self::client::Client;
use self::interference::{CpuContention, LatencyProxy};
use self::journey::World;
use self::scenario::{Kind, Phase, Scenario, Setup};
use self::stats::{Quantiles, Recorder};

/// What can go wrong driving load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A scenario is malformed or out of bounds.
    #[error("scenario: {0}")]
    Scenario(String),
    /// The target is not allowed or not a URL.
    #[error("target: {0}")]
    Target(String),
    /// A request failed in transport.
    #[error("http: {0}")]
    Http(String),
    /// Creating the initial data failed.
    #[error("setup: {0}")]
    Setup(String),
    /// A socket could not be opened.
    #[error("io: {0}")]
    Io(String),
}

/// Actions in flight beyond which arrivals are dropped (and counted).
pub const MAX_IN_FLIGHT: u64 = 4096;

/// Longest an action may take before it counts as failed.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Creates the scenario's initial data: users, houses with their schedules
/// partly planned and pantries filled, recipes. Not measured.
pub async fn setup(
    client: &Client,
    world: &Arc<World>,
    setup: &Setup,
    seed: u64,
) -> Result<(), LoadError> {
    const WORKERS: u32 = 4;
    async fn fan_out<F, Fut>(count: u32, seed: u64, f: F) -> Result<(), LoadError>
    where
        F: Fn(ChaCha8Rng) -> Fut,
        Fut: std::future::Future<Output = Result<bool, LoadError>> + Send + 'static,
    {
        let mut tasks = tokio::task::JoinSet::new();
        let mut failed = 0u32;
        for i in 0..count {
            tasks.spawn(f(ChaCha8Rng::seed_from_u64(seed ^ (u64::from(i) << 20))));
            if tasks.len() >= WORKERS as usize
                && let Some(done) = tasks.join_next().await
            {
                failed += u32::from(!done.map_err(|e| LoadError::Setup(e.to_string()))??);
            }
        }
        while let Some(done) = tasks.join_next().await {
            failed += u32::from(!done.map_err(|e| LoadError::Setup(e.to_string()))??);
        }
        if failed > 0 {
            return Err(LoadError::Setup(format!(
                "{failed} of {count} creations failed"
            )));
        }
        Ok(())
    }
    let c = client.clone();
    let w = Arc::clone(world);
    fan_out(setup.users, seed, move |_| {
        let (c, w) = (c.clone(), Arc::clone(&w));
        async move { Ok(w.sign_up_and_in(&c).await?.is_some()) }
    })
    .await?;
    let (c, w) = (client.clone(), Arc::clone(world));
    fan_out(setup.houses, seed + 1, move |mut rng| {
        let (c, w) = (c.clone(), Arc::clone(&w));
        async move { Ok(w.house(&c, &mut rng).await?.ok) }
    })
    .await?;
    let (c, w) = (client.clone(), Arc::clone(world));
    fan_out(setup.recipes, seed + 2, move |mut rng| {
        let (c, w) = (c.clone(), Arc::clone(&w));
        async move { Ok(w.create_recipe(&c, &mut rng).await?.is_some()) }
    })
    .await?;
    let (c, w) = (client.clone(), Arc::clone(world));
    fan_out(setup.houses * 10, seed + 3, move |mut rng| {
        let (c, w) = (c.clone(), Arc::clone(&w));
        async move { Ok(w.act(&c, Kind::Plan, &mut rng).await?.ok) }
    })
    .await?;
    let (c, w) = (client.clone(), Arc::clone(world));
    fan_out(setup.houses, seed + 4, move |mut rng| {
        let (c, w) = (c.clone(), Arc::clone(&w));
        async move { Ok(w.act(&c, Kind::Pantry, &mut rng).await?.ok) }
    })
    .await
}

/// The phase running now.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseNow {
    /// Its index.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Its target rate (on a ramp, the rate now).
    pub rate: f64,
    /// CPU contention threads.
    pub cpu_threads: u32,
    /// Added database latency, in milliseconds.
    pub db_delay_ms: f64,
}

/// What a whole run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Actions started.
    pub started: u64,
    /// Arrivals dropped (too many in flight).
    pub dropped: u64,
    /// Whether the run stopped at `max_requests`.
    pub hit_max_requests: bool,
    /// Seconds the phases ran.
    pub secs: f64,
    /// Latency quantiles of each kind of action over the whole run, from each
    /// action's intended start (failed actions included).
    pub latency: BTreeMap<Kind, Quantiles>,
}

/// A running load: read windows from [`recorder`](Self::recorder) while it runs.
#[derive(Debug)]
pub struct Load {
    recorder: Arc<Recorder>,
    phase: Arc<Mutex<Option<PhaseNow>>>,
    task: tokio::task::JoinHandle<Totals>,
}

impl Load {
    /// Starts the scenario's phases against `client` (after [`setup`]). With a
    /// proxy, phases' `db_delay_ms` set its delay; without one it is ignored.
    pub fn start(
        client: Client,
        world: Arc<World>,
        scenario: Scenario,
        proxy: Option<Arc<LatencyProxy>>,
    ) -> Self {
        let recorder = Arc::new(Recorder::default());
        recorder.take();
        let phase = Arc::new(Mutex::new(None));
        let task = tokio::spawn(run(
            client,
            world,
            scenario,
            proxy,
            Arc::clone(&recorder),
            Arc::clone(&phase),
        ));
        Load {
            recorder,
            phase,
            task,
        }
    }

    /// The measurements.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The phase running now (`None` before the first and after the last).
    pub fn phase(&self) -> Option<PhaseNow> {
        self.phase.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether every phase is over.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the end of the run.
    pub async fn finish(self) -> Result<Totals, LoadError> {
        self.task
            .await
            .map_err(|e| LoadError::Io(format!("the load task failed: {e}")))
    }
}

fn choose(phase: &Phase, rng: &mut ChaCha8Rng) -> Kind {
    let total: f64 = phase.mix.values().sum();
    let mut x = rng.random_range(0.0..total);
    for (kind, w) in &phase.mix {
        if x < *w {
            return *kind;
        }
        x -= w;
    }
    phase.mix.keys().next_back().copied().unwrap_or(Kind::Read)
}

async fn run(
    client: Client,
    world: Arc<World>,
    scenario: Scenario,
    proxy: Option<Arc<LatencyProxy>>,
    recorder: Arc<Recorder>,
    now: Arc<Mutex<Option<PhaseNow>>>,
) -> Totals {
    let in_flight = Arc::new(AtomicU64::new(0));
    let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed);
    let mut totals = Totals::default();
    let began = Instant::now();
    let mut next = began;
    'phases: for (index, phase) in scenario.phases.iter().enumerate() {
        let end = next + phase.duration();
        *now.lock().unwrap_or_else(|p| p.into_inner()) = Some(PhaseNow {
            index,
            name: phase.name.clone(),
            rate: phase.rate,
            cpu_threads: phase.cpu_threads,
            db_delay_ms: phase.db_delay_ms,
        });
        if let Some(p) = &proxy {
            p.set_delay(Duration::from_secs_f64(phase.db_delay_ms / 1e3));
        }
        let _cpu = (phase.cpu_threads > 0)
            .then(|| CpuContention::start(phase.cpu_threads, end.into_std()));
        let phase_began = next;
        loop {
            let rate = phase.rate_at(next.saturating_duration_since(phase_began));
            if phase.ramp_to.is_some()
                && let Some(p) = now.lock().unwrap_or_else(|p| p.into_inner()).as_mut()
            {
                p.rate = rate;
            }
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            next += Duration::from_secs_f64(-u.ln() / rate);
            if next >= end {
                next = end;
                break;
            }
            if totals.started + totals.dropped >= scenario.max_requests {
                totals.hit_max_requests = true;
                break 'phases;
            }
            tokio::time::sleep_until(next).await;
            if in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                totals.dropped += 1;
                recorder.dropped();
                continue;
            }
            totals.started += 1;
            recorder.started();
            let kind = choose(phase, &mut rng);
            let mut action_rng = ChaCha8Rng::seed_from_u64(rng.random());
            let (client, world, recorder, in_flight) = (
                client.clone(),
                Arc::clone(&world),
                Arc::clone(&recorder),
                Arc::clone(&in_flight),
            );
            let intended = next;
            in_flight.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let result =
                    tokio::time::timeout(ACTION_TIMEOUT, world.act(&client, kind, &mut action_rng))
                        .await;
                let (requests, ok) = match result {
                    Ok(Ok(done)) => (done.requests, done.ok),
                    Ok(Err(_)) | Err(_) => (1, false),
                };
                recorder.finished(kind, intended.elapsed(), requests, ok);
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
        tokio::time::sleep_until(end).await;
    }
    *now.lock().unwrap_or_else(|p| p.into_inner()) = None;
    if let Some(p) = &proxy {
        p.set_delay(Duration::ZERO);
    }
    let deadline = Instant::now() + ACTION_TIMEOUT;
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    totals.secs = began.elapsed().as_secs_f64();
    totals.latency = recorder.run_latency();
    totals
}
