//! `finch::Config`: how the loop runs. A builder with sensible defaults and an
//! environment-variable layer.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, Error};
use crate::knob::parse_duration;
use crate::knowledge::{KnowledgeStore, MemoryStore};
use crate::monitor::SignalSource;

/// How the loop runs: its interval, what it may change, how carefully, how it
/// learns, and where it keeps what it learns.
///
/// ```
/// use std::time::Duration;
/// use finch_core::Config;
///
/// let config = Config::default()
///     .interval(Duration::from_millis(500))
///     .freeze("app::LOG_LEVEL")
///     .max_step(0.2)
///     .cooldown(3)
///     .seed(7);
/// assert!(format!("{config:?}").contains("interval: 500ms"));
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) interval: Duration,
    pub(crate) manual: bool,
    pub(crate) observe_only: bool,
    pub(crate) knobs: Option<BTreeSet<String>>,
    pub(crate) frozen: BTreeSet<String>,
    pub(crate) slos: Option<BTreeSet<String>>,
    pub(crate) max_step: f64,
    pub(crate) explore_step: f64,
    pub(crate) cooldown: u32,
    pub(crate) margin: f64,
    pub(crate) candidates: usize,
    pub(crate) apply_timeout: Duration,
    pub(crate) model: ModelConfig,
    pub(crate) seed: u64,
    pub(crate) store: Arc<dyn KnowledgeStore>,
    pub(crate) signals: Vec<Arc<dyn SignalSource>>,
    pub(crate) process_signals: bool,
    pub(crate) instance: String,
    pub(crate) journal_capacity: usize,
    pub(crate) decision_history: usize,
    pub(crate) capacities: Vec<Capacity>,
}

/// A knob the loop sizes as a capacity (a connection pool, a concurrency
/// limit, workers) from queueing rather than by search: from the units busy
/// on average over each window (Little's law: rate × holding time) with a
/// square-root safety term, the calls waiting for one, and the holding time
/// rising when more units slow each other down (contention, watched over the
/// three windows after each growth, as it can take that long to build up:
/// slower calls keep more units busy, which slows them further). While calls
/// hold their units longer than the shortest time seen, they share what is
/// behind the capacity, and it grows to at most 1.5 times the units that
/// resource can use (its throughput when the capacity was full times the
/// shortest holding time); declaring `served` makes that throughput exact.
///
/// ```
/// use finch_core::{Capacity, Config};
///
/// let config = Config::default()
///     .capacity(
///         Capacity::new("db.pool", "pool.busy")
///             .waiting("pool.waiting")
///             .served("pool.served")
///             .headroom(2.0),
///     )
///     .capacity(Capacity::new("http.limit", "limit.busy").at_least("db.pool", 2.0));
/// # let _ = config;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    pub(crate) knob: String,
    pub(crate) busy: String,
    pub(crate) waiting: Option<String>,
    pub(crate) served: Option<String>,
    pub(crate) headroom: f64,
    pub(crate) at_least: Option<(String, f64)>,
}

impl Capacity {
    /// Knob `knob` is a capacity whose mean busy units over a window are the
    /// signal `busy` (as named in `Observation::signals`, e.g. `pool.busy`).
    pub fn new(knob: impl Into<String>, busy: impl Into<String>) -> Self {
        Capacity {
            knob: knob.into(),
            busy: busy.into(),
            waiting: None,
            served: None,
            headroom: 1.5,
            at_least: None,
        }
    }

    /// The signal of the mean calls waiting for a unit over a window.
    pub fn waiting(mut self, signal: impl Into<String>) -> Self {
        self.waiting = Some(signal.into());
        self
    }

    /// The signal of the units granted per second over a window: the
    /// throughput through the capacity. With it, a growth that leaves calls
    /// waiting without serving more is undone (contention behind the
    /// capacity), and so is a size that serves less than a smaller one did;
    /// without it, only a rise of the holding time at a similar request rate
    /// tells contention.
    pub fn served(mut self, signal: impl Into<String>) -> Self {
        self.served = Some(signal.into());
        self
    }

    /// Keeps this capacity at least `factor` times capacity `knob` (a
    /// concurrency limit in front of a pool: about twice the pool), so the two
    /// move together.
    pub fn at_least(mut self, knob: impl Into<String>, factor: f64) -> Self {
        self.at_least = Some((knob.into(), factor));
        self
    }

    /// β of square-root staffing, `R + β·√R` (default 1.5; 0 to 5).
    pub fn headroom(mut self, beta: f64) -> Self {
        self.headroom = beta;
        self
    }
}

/// How the loop learns its models.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// Clean observations needed before the first training.
    pub min_samples: usize,
    /// Train again after this many new clean observations.
    pub retrain_every: usize,
    /// Observations kept for training (the most recent).
    pub max_samples: usize,
    /// Trees per forest.
    pub trees: usize,
    /// Share of the most recent observations held out to measure error.
    pub holdout: f64,
    /// The model is trusted once its holdout relative error is at most this.
    pub trust_error: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            min_samples: 24,
            retrain_every: 8,
            max_samples: 10_000,
            trees: 40,
            holdout: 0.2,
            trust_error: 0.25,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: Duration::from_secs(1),
            manual: false,
            observe_only: false,
            knobs: None,
            frozen: BTreeSet::new(),
            slos: None,
            max_step: 0.25,
            explore_step: 0.125,
            cooldown: 2,
            margin: 0.1,
            candidates: 1024,
            apply_timeout: Duration::from_secs(5),
            model: ModelConfig::default(),
            seed: 0x5eed_f1c4,
            store: Arc::new(MemoryStore::default()),
            signals: Vec::new(),
            process_signals: true,
            instance: default_instance(),
            journal_capacity: 100_000,
            decision_history: 64,
            capacities: Vec::new(),
        }
    }
}

fn default_instance() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_string());
    format!("{host}-{}", std::process::id())
}

impl Config {
    /// The interval between iterations, which is also the observation window
    /// (default 1 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// No timer: iterations run only on [`Handle::tick`](crate::Handle::tick), and
    /// each window counts as one interval long. For tests and simulations.
    pub fn manual(mut self) -> Self {
        self.manual = true;
        self
    }

    /// Observe-only: the loop monitors, learns and decides as usual, and
    /// reports each configuration it would move to (a decision whose outcome
    /// is [`DecisionOutcome::NotApplied`](crate::execute::DecisionOutcome::NotApplied),
    /// in the decision log, `Status` and the store) without changing any knob.
    /// For a service that wants to see what finch would do before trusting it.
    /// Operator pins still apply. `FINCH_OBSERVE_ONLY=1` sets it from the
    /// environment ([`from_env`](Self::from_env)).
    ///
    /// ```
    /// let config = finch_core::Config::default().observe_only();
    /// # let _ = config;
    /// ```
    pub fn observe_only(mut self) -> Self {
        self.observe_only = true;
        self
    }

    /// Sizes a knob as a capacity from queueing (see [`Capacity`]) instead of
    /// by search.
    pub fn capacity(mut self, capacity: Capacity) -> Self {
        self.capacities.retain(|c| c.knob != capacity.knob);
        self.capacities.push(capacity);
        self
    }

    /// Restricts the loop to these knobs (default: every registered knob).
    pub fn knobs<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.knobs = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Never changes this knob (it still enters the model as a feature).
    pub fn freeze(mut self, name: impl Into<String>) -> Self {
        self.frozen.insert(name.into());
        self
    }

    /// Restricts the loop to these SLOs (default: every registered SLO).
    pub fn slos<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.slos = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Largest move of one knob in one decision, as a share of its range
    /// (the trust region; default 0.25).
    pub fn max_step(mut self, share: f64) -> Self {
        self.max_step = share;
        self
    }

    /// Step of one exploratory move while the model is not yet trusted, as a
    /// share of the knob's range (default 0.125; at least one valid step).
    pub fn explore_step(mut self, share: f64) -> Self {
        self.explore_step = share;
        self
    }

    /// Intervals to wait after a change before lowering cost again (default 2).
    pub fn cooldown(mut self, intervals: u32) -> Self {
        self.cooldown = intervals;
        self
    }

    /// Safety margin the planner keeps below each bound in its predictions
    /// (default 0.1 = 10 %). Health needs no margin: it is judged as a
    /// probability of being over budget.
    pub fn margin(mut self, share: f64) -> Self {
        self.margin = share;
        self
    }

    /// Candidate configurations evaluated per decision (default 1024).
    pub fn candidates(mut self, count: usize) -> Self {
        self.candidates = count;
        self
    }

    /// How long an applier may take before its change is rolled back (default 5 s).
    pub fn apply_timeout(mut self, timeout: Duration) -> Self {
        self.apply_timeout = timeout;
        self
    }

    /// Model settings.
    pub fn model(mut self, model: ModelConfig) -> Self {
        self.model = model;
        self
    }

    /// Seed of every random choice (candidate sampling, forests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Where observations, decisions and models are kept (default: in memory).
    pub fn store(mut self, store: impl KnowledgeStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Adds a source of signals (e.g. a database's statistics).
    pub fn signal(mut self, source: impl SignalSource) -> Self {
        self.signals.push(Arc::new(source));
        self
    }

    /// Whether to sample process CPU, memory and runtime load (default true).
    pub fn process_signals(mut self, enabled: bool) -> Self {
        self.process_signals = enabled;
        self
    }

    /// This instance's name in shared knowledge (default: host and pid).
    pub fn instance(mut self, name: impl Into<String>) -> Self {
        self.instance = name.into();
        self
    }

    /// Records kept in memory while the store is unreachable (default 100 000);
    /// beyond it the oldest are dropped and counted.
    pub fn journal_capacity(mut self, records: usize) -> Self {
        self.journal_capacity = records;
        self
    }

    /// Overrides settings from `FINCH_*` environment variables:
    /// `FINCH_INTERVAL` (`500ms`), `FINCH_SEED`, `FINCH_FROZEN` (comma-separated
    /// knob names), `FINCH_KNOBS`, `FINCH_SLOS`, `FINCH_MAX_STEP`, `FINCH_MARGIN`,
    /// `FINCH_COOLDOWN`, `FINCH_INSTANCE`, `FINCH_OBSERVE_ONLY` (`1` or `true`:
    /// [`observe_only`](Self::observe_only); `0` or `false`: act).
    pub fn from_env(self) -> Result<Self, Error> {
        self.with_vars(|name| std::env::var(name).ok())
    }

    pub(crate) fn with_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let bad = |name: &str, value: &str, expected: &str| {
            Error::Config(ConfigError::new(
                name,
                format!("{value:?} is not {expected}"),
            ))
        };
        let list = |v: String| -> BTreeSet<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        if let Some(v) = var("FINCH_INTERVAL") {
            self.interval = parse_duration(&v)
                .ok_or_else(|| bad("FINCH_INTERVAL", &v, "a duration like 500ms"))?;
        }
        if let Some(v) = var("FINCH_OBSERVE_ONLY") {
            self.observe_only = match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                _ => return Err(bad("FINCH_OBSERVE_ONLY", &v, "1, true, 0 or false")),
            };
        }
        if let Some(v) = var("FINCH_SEED") {
            self.seed = v.parse().map_err(|_| bad("FINCH_SEED", &v, "an integer"))?;
        }
        if let Some(v) = var("FINCH_FROZEN") {
            self.frozen.extend(list(v));
        }
        if let Some(v) = var("FINCH_KNOBS") {
            self.knobs = Some(list(v));
        }
        if let Some(v) = var("FINCH_SLOS") {
            self.slos = Some(list(v));
        }
        if let Some(v) = var("FINCH_MAX_STEP") {
            self.max_step = v
                .parse()
                .map_err(|_| bad("FINCH_MAX_STEP", &v, "a number"))?;
        }
        if let Some(v) = var("FINCH_MARGIN") {
            self.margin = v.parse().map_err(|_| bad("FINCH_MARGIN", &v, "a number"))?;
        }
        if let Some(v) = var("FINCH_COOLDOWN") {
            self.cooldown = v
                .parse()
                .map_err(|_| bad("FINCH_COOLDOWN", &v, "an integer"))?;
        }
        if let Some(v) = var("FINCH_INSTANCE") {
            self.instance = v;
        }
        Ok(self)
    }

    /// Checks the settings are coherent; `finch::start` calls it.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let fail =
            |setting: &str, problem: String| Err(Error::Config(ConfigError::new(setting, problem)));
        if self.interval < Duration::from_millis(10) {
            return fail(
                "Config::interval",
                format!(
                    "{:?} is too short; use at least 10ms (windows need calls to measure)",
                    self.interval
                ),
            );
        }
        if !(self.max_step > 0.0 && self.max_step <= 1.0) {
            return fail(
                "Config::max_step",
                format!("{} must be in (0, 1]", self.max_step),
            );
        }
        if !(self.explore_step > 0.0 && self.explore_step <= self.max_step) {
            return fail(
                "Config::explore_step",
                format!(
                    "{} must be in (0, max_step = {}]",
                    self.explore_step, self.max_step
                ),
            );
        }
        if !(0.0..0.9).contains(&self.margin) {
            return fail(
                "Config::margin",
                format!("{} must be in [0, 0.9)", self.margin),
            );
        }
        if self.candidates < 8 {
            return fail(
                "Config::candidates",
                format!("{} is too few; use at least 8", self.candidates),
            );
        }
        for c in &self.capacities {
            if let Some((other, factor)) = &c.at_least
                && !(factor.is_finite() && *factor > 0.0 && *factor <= 16.0)
            {
                return fail(
                    "Capacity::at_least",
                    format!(
                        "capacity `{}` must stay at least {factor} times `{other}`: use a factor in (0, 16]",
                        c.knob
                    ),
                );
            }
            if !(0.0..=5.0).contains(&c.headroom) {
                return fail(
                    "Capacity::headroom",
                    format!(
                        "the headroom of capacity `{}` is {}; use a value in [0, 5] (1.5 by default)",
                        c.knob, c.headroom
                    ),
                );
            }
        }
        let m = &self.model;
        if m.min_samples < 8 || m.retrain_every == 0 || m.trees == 0 {
            return fail(
                "Config::model",
                "min_samples >= 8, retrain_every >= 1 and trees >= 1".into(),
            );
        }
        if !(m.holdout > 0.0 && m.holdout < 0.5) {
            return fail(
                "Config::model",
                format!("holdout {} must be in (0, 0.5)", m.holdout),
            );
        }
        if m.max_samples < m.min_samples {
            return fail(
                "Config::model",
                "max_samples must be at least min_samples".into(),
            );
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("interval", &self.interval)
            .field("manual", &self.manual)
            .field("knobs", &self.knobs)
            .field("frozen", &self.frozen)
            .field("slos", &self.slos)
            .field("max_step", &self.max_step)
            .field("cooldown", &self.cooldown)
            .field("margin", &self.margin)
            .field("model", &self.model)
            .field("seed", &self.seed)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_capacities_are_refused_with_the_fix() {
        let headroom = Config::default()
            .capacity(Capacity::new("pool", "pool.busy").headroom(9.0))
            .validate()
            .expect_err("refused")
            .to_string();
        assert!(
            headroom.contains("[0, 5]") && headroom.contains("`pool`"),
            "{headroom}"
        );
        let factor = Config::default()
            .capacity(Capacity::new("limit", "limit.busy").at_least("pool", 0.0))
            .validate()
            .expect_err("refused")
            .to_string();
        assert!(
            factor.contains("(0, 16]") && factor.contains("`limit`"),
            "{factor}"
        );
        // Declaring a knob again replaces the earlier declaration.
        let c = Config::default()
            .capacity(Capacity::new("pool", "a"))
            .capacity(Capacity::new("pool", "b"));
        assert_eq!(c.capacities.len(), 1);
        assert_eq!(c.capacities[0].busy, "b");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn env_layer_overrides_and_names_bad_values() {
        let vars = |name: &str| match name {
            "FINCH_INTERVAL" => Some("250ms".to_string()),
            "FINCH_FROZEN" => Some("a, b,".to_string()),
            "FINCH_SEED" => Some("42".to_string()),
            _ => None,
        };
        let c = Config::default().with_vars(vars).unwrap();
        assert_eq!(c.interval, Duration::from_millis(250));
        assert_eq!(c.seed, 42);
        assert_eq!(c.frozen.len(), 2);

        let err = Config::default()
            .with_vars(|n| (n == "FINCH_SEED").then(|| "many".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("FINCH_SEED"), "{err}");

        let observe = |v: &'static str| {
            Config::default()
                .with_vars(move |n| (n == "FINCH_OBSERVE_ONLY").then(|| v.to_string()))
                .map(|c| c.observe_only)
        };
        assert!(observe("1").unwrap());
        assert!(observe("TRUE").unwrap());
        assert!(!observe("0").unwrap());
        let err = observe("maybe").unwrap_err();
        assert!(err.to_string().contains("FINCH_OBSERVE_ONLY"), "{err}");
    }

    const VARS: [&str; 10] = [
        "FINCH_INTERVAL",
        "FINCH_OBSERVE_ONLY",
        "FINCH_SEED",
        "FINCH_FROZEN",
        "FINCH_KNOBS",
        "FINCH_SLOS",
        "FINCH_MAX_STEP",
        "FINCH_MARGIN",
        "FINCH_COOLDOWN",
        "FINCH_INSTANCE",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any environment is read without a panic: it configures the loop,
        /// or the error names the variable at fault.
        #[test]
        fn any_environment_configures_or_names_the_bad_variable(
            values in proptest::collection::vec(
                proptest::option::of(proptest::prop_oneof![
                    proptest::prelude::any::<String>(),
                    "[-+]?[0-9.]{0,24}(e[-+]?[0-9]{1,4})? ?(ns|us|µs|ms|s|m|min|h)?",
                    "[a-z, .]{0,20}",
                ]),
                VARS.len(),
            )
        ) {
            let lookup = |name: &str| {
                VARS.iter().position(|v| *v == name).and_then(|i| values[i].clone())
            };
            match Config::default().with_vars(lookup) {
                Ok(c) => {
                    // Validation of what the environment set never panics either.
                    let _ = c.validate();
                }
                Err(e) => {
                    let e = e.to_string();
                    proptest::prop_assert!(VARS.iter().any(|v| e.contains(v)), "{}", e);
                }
            }
        }

        #[test]
        fn well_formed_values_are_taken(
            ms in 10u64..=86_400_000,
            seed in proptest::prelude::any::<u64>(),
            margin in 0.0f64..0.9,
        ) {
            let lookup = |name: &str| match name {
                "FINCH_INTERVAL" => Some(format!("{ms}ms")),
                "FINCH_SEED" => Some(seed.to_string()),
                "FINCH_MARGIN" => Some(margin.to_string()),
                _ => None,
            };
            let c = Config::default().with_vars(lookup).unwrap();
            proptest::prop_assert_eq!(c.interval, Duration::from_millis(ms));
            proptest::prop_assert_eq!(c.seed, seed);
            proptest::prop_assert_eq!(c.margin, margin);
            proptest::prop_assert!(c.validate().is_ok());
        }
    }

    #[test]
    fn incoherent_settings_are_refused() {
        assert!(Config::default().validate().is_ok());
        assert!(
            Config::default()
                .interval(Duration::from_millis(1))
                .validate()
                .is_err()
        );
        assert!(Config::default().max_step(0.0).validate().is_err());
        assert!(Config::default().margin(2.0).validate().is_err());
        assert!(Config::default().explore_step(0.5).validate().is_err());
    }
}
