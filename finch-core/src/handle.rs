//! `finch::start` and the [`Handle`] that controls the running loop.

use std::collections::BTreeSet;
#[cfg(feature = "prometheus")]
use std::sync::Weak;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, Notify};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::config::Config;
use crate::decision::Decision;
use crate::engine::{Engine, Tick, Trainer};
use crate::error::{ConfigError, Error};
use crate::knob::{self, KnobRef};
use crate::slo::{self, SloRef};
use crate::status::Status;

/// Knobs managed by a running loop; a knob has at most one manager.
static CLAIMED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

struct Shared {
    engine: AsyncMutex<Engine>,
    status: Arc<Mutex<Status>>,
    stop: Notify,
    claimed: Vec<String>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let mut claimed = CLAIMED.lock().unwrap_or_else(|p| p.into_inner());
        for k in &self.claimed {
            claimed.remove(k);
        }
    }
}

/// Controls a running loop: status, manual iterations, operator pins, shutdown.
///
/// Keep it alive for as long as the loop should run: dropping it stops the loop
/// (without flushing knowledge; call [`shutdown`](Self::shutdown) for that).
#[must_use = "dropping the handle stops the loop; keep it for as long as finch should run"]
pub struct Handle {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("running", &self.shared.running())
            .field("knobs", &self.shared.claimed)
            .field("background_task", &self.task.is_some())
            .finish()
    }
}

/// Starts the MAPE-K loop on the current tokio runtime.
///
/// Fails with a clear error outside a tokio runtime, on an invalid configuration,
/// on an invalid `#[knob]` or `#[slo]` declaration, when `Config::knobs`,
/// `Config::freeze` or `Config::slos` name something that is not registered, or
/// when another running loop already manages one of the knobs.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), finch_core::Error> {
/// use std::time::Duration;
/// use finch_core::{Config, KnobBuilder, SloBuilder};
///
/// KnobBuilder::new("doc.start.workers", 4u32).bounds(1, 32).cost(1.0).register()?;
/// SloBuilder::new("doc.start.api").p99(Duration::from_millis(50)).register()?;
/// let finch = finch_core::start(
///     Config::default()
///         .knobs(["doc.start.workers"])
///         .slos(["doc.start.api"])
///         .manual(),
/// )?;
/// let tick = finch.tick().await?;
/// assert_eq!(tick.observation.seq, 1);
/// finch.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub fn start(config: Config) -> Result<Handle, Error> {
    launch(config, crate::engine::standard_trainer())
}

/// [`start`] with the models fitted by `trainer`.
pub(crate) fn launch(config: Config, trainer: Trainer) -> Result<Handle, Error> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
    config.validate()?;
    if let Some(e) = knob::problems().into_iter().next() {
        return Err(e.into());
    }
    if let Some(e) = slo::problems().into_iter().next() {
        return Err(e.into());
    }
    // Here rather than on a request: calibrating busy-waits for up to 200 ms.
    slo::calibrate_clock();
    let knobs = select(
        knob::knobs(),
        config.knobs.as_ref(),
        KnobRef::name,
        "Config::knobs",
    )?;
    for f in &config.frozen {
        if !knobs.iter().any(|k| k.name() == f) {
            return Err(Error::Config(ConfigError::new(
                "Config::freeze",
                format!("names `{f}`, which is not a managed knob; `finch::knobs()` lists them"),
            )));
        }
    }
    for c in &config.capacities {
        let named = std::iter::once(&c.knob).chain(c.at_least.as_ref().map(|(k, _)| k));
        for name in named {
            if !knobs.iter().any(|k| k.name() == name) {
                return Err(Error::Config(ConfigError::new(
                    "Config::capacity",
                    format!(
                        "names `{name}`, which is not a managed knob; `finch::knobs()` lists them"
                    ),
                )));
            }
        }
    }
    let slos = select(
        slo::slos(),
        config.slos.as_ref(),
        |s: &SloRef| s.name(),
        "Config::slos",
    )?;

    let claimed: Vec<String> = knobs.iter().map(|k| k.name().to_string()).collect();
    {
        let mut all = CLAIMED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(taken) = claimed.iter().find(|k| all.contains(*k)) {
            return Err(Error::KnobTaken {
                knob: taken.clone(),
            });
        }
        all.extend(claimed.iter().cloned());
    }

    let status = Arc::new(Mutex::new(Status {
        instance: config.instance.clone(),
        running: true,
        ..Status::default()
    }));
    crate::telemetry::describe();
    let interval = config.interval;
    let manual = config.manual;
    let engine = Engine::new(config, knobs, slos, Arc::clone(&status), trainer);
    let shared = Arc::new(Shared {
        engine: AsyncMutex::new(engine),
        status,
        stop: Notify::new(),
        claimed,
    });
    let task = (!manual).then(|| {
        let shared = Arc::clone(&shared);
        runtime.spawn(async move {
            let mut timer =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = timer.tick() => {
                        // A panicked iteration is reported by the status.
                        let _ = shared.engine.lock().await.supervised_tick().await;
                        if !shared.running() {
                            break;
                        }
                    }
                    () = shared.stop.notified() => break,
                }
            }
        })
    });
    Ok(Handle { shared, task })
}

fn select<T: Clone>(
    all: Vec<T>,
    wanted: Option<&BTreeSet<String>>,
    name: impl Fn(&T) -> &str,
    setting: &str,
) -> Result<Vec<T>, Error> {
    let Some(wanted) = wanted else {
        return Ok(all);
    };
    for w in wanted {
        if !all.iter().any(|t| name(t) == w) {
            return Err(Error::Config(ConfigError::new(
                setting,
                format!("names `{w}`, which is not registered (is the crate declaring it linked?)"),
            )));
        }
    }
    Ok(all
        .into_iter()
        .filter(|t| wanted.contains(name(t)))
        .collect())
}

impl Shared {
    fn status(&self) -> Status {
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for k in &mut status.knobs {
            if let Some(live) = knob::knob_by_name(&k.info.name) {
                k.info = live.info();
            }
        }
        status
    }

    fn running(&self) -> bool {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running
    }

    /// Pins (`Some`) or unpins (`None`) a knob on a task of its own: a caller
    /// that stops waiting (a client that disconnects mid-pin) cannot cut the
    /// change short between publishing the value and logging its decision.
    async fn operator(
        self: &Arc<Self>,
        knob: &str,
        value: Option<&str>,
    ) -> Result<Decision, Error> {
        if !self.running() {
            return Err(Error::Stopped);
        }
        let shared = Arc::clone(self);
        let (knob, value) = (knob.to_string(), value.map(str::to_string));
        tokio::spawn(async move {
            shared
                .engine
                .lock()
                .await
                .operator(&knob, value.as_deref())
                .await
        })
        .await
        .map_err(|e| Error::Internal(format!("the operator change panicked: {e}")))?
    }
}

/// A weak, cloneable view of a loop for routes and exporters: it does not keep
/// the loop alive.
#[cfg(feature = "prometheus")]
#[derive(Clone)]
pub(crate) struct Remote {
    shared: Weak<Shared>,
}

#[cfg(feature = "prometheus")]
impl Remote {
    pub(crate) fn status(&self) -> Status {
        match self.shared.upgrade() {
            Some(shared) => shared.status(),
            None => Status {
                running: false,
                ..Status::default()
            },
        }
    }

    pub(crate) async fn pin(&self, knob: &str, value: &str) -> Result<Decision, Error> {
        let shared = self.shared.upgrade().ok_or(Error::Stopped)?;
        shared.operator(knob, Some(value)).await
    }

    pub(crate) async fn unpin(&self, knob: &str) -> Result<Decision, Error> {
        let shared = self.shared.upgrade().ok_or(Error::Stopped)?;
        shared.operator(knob, None).await
    }
}

impl Handle {
    /// A snapshot of the loop: knobs, SLOs with the last window's SLIs, the
    /// model and its holdout error, recent decisions with their reasons.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// Runs one iteration now (the only way iterations run with
    /// [`Config::manual`]).
    ///
    /// A panic in the iteration (a signal source, an applier, a model) is
    /// caught and returned as [`Error::IterationPanicked`]; the loop goes on
    /// with the next window, and [`Status`] counts the fault.
    pub async fn tick(&self) -> Result<Tick, Error> {
        if self.shared.running() {
            self.shared.engine.lock().await.supervised_tick().await
        } else {
            Err(Error::Stopped)
        }
    }

    /// Pins a managed knob to a value (parsed as [`KnobRef::set_from_str`] does);
    /// the loop leaves it alone until [`unpin`](Self::unpin). Runs the knob's
    /// applier and logs an operator decision. When the applier fails, the
    /// decision's outcome is `ApplyFailed` and the knob keeps its value and any
    /// earlier pin. The change runs to its end even if this future is dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), finch_core::Error> {
    /// use finch_core::execute::DecisionOutcome;
    /// use finch_core::{Config, KnobBuilder};
    ///
    /// let threads = KnobBuilder::new("doc.pin.threads", 4u32).bounds(1, 16).register()?;
    /// let finch = finch_core::start(
    ///     Config::default()
    ///         .knobs(["doc.pin.threads"])
    ///         .slos(Vec::<String>::new())
    ///         .manual(),
    /// )?;
    /// let decision = finch.pin("doc.pin.threads", "8").await?;
    /// assert!(matches!(decision.outcome, DecisionOutcome::Kept { .. }));
    /// assert_eq!(threads.get(), 8);
    /// finch.unpin("doc.pin.threads").await?;
    /// finch.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn pin(&self, knob: &str, value: &str) -> Result<Decision, Error> {
        self.shared.operator(knob, Some(value)).await
    }

    /// Hands a pinned knob back to the loop.
    pub async fn unpin(&self, knob: &str) -> Result<Decision, Error> {
        self.shared.operator(knob, None).await
    }

    /// Names of the knobs this loop manages.
    pub async fn managed_knobs(&self) -> Vec<String> {
        self.shared.engine.lock().await.managed_knobs()
    }

    #[cfg(feature = "prometheus")]
    pub(crate) fn remote(&self) -> Remote {
        Remote {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// Stops the loop, writes pending knowledge and saves the model.
    pub async fn shutdown(mut self) {
        self.shared.stop.notify_one();
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::error!(error = %crate::error::Chain(&e), "finch: the loop task ended abnormally");
        }
        self.shared.engine.lock().await.finish().await;
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.stop.notify_one();
    }
}
