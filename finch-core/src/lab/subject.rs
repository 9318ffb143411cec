//! The system under test: what an experiment runs, and what it hands back.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use serde::Serialize;

use super::scenario::{Fault, Phase, Scenario, WindowPlan};
use crate::config::Config;
use crate::slo::Objective;

/// Errors a subject's hooks return; the experiment stops and reports them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A knob's value for each knob name, as a number (integers as whole numbers).
pub type Configuration = BTreeMap<String, f64>;

/// An operation of the subject with the objectives the harness judges it by.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Operation {
    /// Its name (`Call::op` indexes the subject's list of operations).
    pub name: String,
    /// Every objective must hold in a window for the window to comply.
    pub objectives: Vec<Objective>,
}

/// A knob the static arms sweep: its default and the grid of values to try.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KnobAxis {
    /// The knob's registered name.
    pub name: String,
    /// The value of the static default arm.
    pub default: f64,
    /// Values the grid of static configurations takes (the grid is the
    /// product of every axis).
    pub grid: Vec<f64>,
}

/// One request, as the harness's own client (or simulator) recorded it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Call {
    /// Index of the operation in [`Subject::operations`].
    pub op: usize,
    /// When it started, in seconds since the run's start.
    pub at: f64,
    /// How long it took until it answered or failed, in seconds.
    pub latency: f64,
    /// It succeeded.
    pub ok: bool,
}

/// How an arm runs the subject.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArmKind {
    /// A fixed configuration for the whole run.
    Static {
        /// The knob values.
        config: Configuration,
    },
    /// finch tunes the subject, starting from its defaults.
    Finch {
        /// Started on the knowledge a cold run on the same seed left.
        warm: bool,
        /// The knowledge directory (a `FileStore`): empty for a cold run.
        knowledge: PathBuf,
    },
}

/// One run: one arm of one scenario on one seed.
#[derive(Clone, Debug)]
pub struct Run<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The arm's label in reports.
    pub arm: &'a str,
    /// How the arm runs.
    pub kind: &'a ArmKind,
    /// The seed: the same seed gives the same workload in every arm.
    pub seed: u64,
}

/// What a subject reports about a window it ran.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowOutcome {
    /// The knob values in force during the window (the harness computes the
    /// cost from them).
    pub config: Configuration,
    /// A change finch made at the end of the window, in words, if the subject
    /// drives finch itself (the harness fills it for in-process finch).
    pub decision: Option<String>,
}

/// What a subject reports when a run ends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunNotes {
    /// CPU seconds finch's loop spent, if the subject measured it.
    pub finch_cpu_secs: Option<f64>,
}

/// The system under test. The harness calls the hooks in lifecycle order, for
/// every run: [`set_up`](Self::set_up) → the scenario's warm-up windows →
/// for each phase [`phase`](Self::phase) → [`window`](Self::window)s, with
/// [`fault`](Self::fault) when a fault starts or ends → [`tear_down`](Self::tear_down).
///
/// Two kinds of subjects:
/// - **In process, virtual time** ([`finch_config`](Self::finch_config) returns
///   `Some`): a simulated service whose knobs are registered in this process.
///   The harness starts finch with that configuration (manual ticks, the
///   scenario's window as interval, a file store in the run's knowledge
///   directory) and ticks it after every window, so hundreds of windows take
///   seconds and a seed gives the same result every time.
/// - **Driven by the subject** (`None`, the default): e.g. a real server in a
///   child process, started in `set_up` with the arm's configuration or with
///   finch on the arm's knowledge directory, loaded in real time by `window`.
///
/// Either way the harness judges windows from the [`Call`]s the subject
/// records, never from finch's own measurements.
pub trait Subject {
    /// The operations and their objectives.
    fn operations(&self) -> Vec<Operation>;

    /// The knobs, their defaults and the grid the static arms sweep.
    fn knobs(&self) -> Vec<KnobAxis>;

    /// What a configuration costs per window, in the subject's unit.
    fn cost(&self, config: &Configuration) -> f64;

    /// For in-process subjects, the configuration finch starts with (the
    /// harness adds manual ticks, the interval, the seed and the store).
    fn finch_config(&self, run: &Run<'_>) -> Option<Config> {
        let _ = run;
        None
    }

    /// Prepares a run: for a static arm, puts its configuration in force; for a
    /// finch arm, the defaults (in process) or a finch on `knowledge`.
    fn set_up(&mut self, run: &Run<'_>) -> impl Future<Output = Result<(), BoxError>>;

    /// A phase starts.
    fn phase(
        &mut self,
        run: &Run<'_>,
        phase: &Phase,
    ) -> impl Future<Output = Result<(), BoxError>> {
        let _ = (run, phase);
        async { Ok(()) }
    }

    /// A fault starts (`active`) or ends.
    fn fault(
        &mut self,
        run: &Run<'_>,
        fault: &Fault,
        active: bool,
    ) -> impl Future<Output = Result<(), BoxError>> {
        let _ = (run, fault, active);
        async { Ok(()) }
    }

    /// Runs one window of the workload `plan` describes, pushing every call
    /// that started in it onto `calls` (calls may finish in a later window:
    /// record them when they finish), and says which configuration was in force.
    fn window(
        &mut self,
        run: &Run<'_>,
        plan: &WindowPlan,
        calls: &mut Vec<Call>,
    ) -> impl Future<Output = Result<WindowOutcome, BoxError>>;

    /// Ends a run.
    fn tear_down(&mut self, run: &Run<'_>) -> impl Future<Output = Result<RunNotes, BoxError>> {
        let _ = run;
        async { Ok(RunNotes::default()) }
    }
}

/// Puts `config` in force on the knobs registered in this process, by name
/// (for in-process subjects' [`Subject::set_up`]).
///
/// ```
/// use finch_core::KnobBuilder;
/// use finch_core::lab::{Configuration, apply};
///
/// let pool = KnobBuilder::new("lab.doc.pool", 4u32).bounds(1, 64).register()?;
/// apply(&Configuration::from([("lab.doc.pool".to_string(), 16.0)]))?;
/// assert_eq!(pool.get(), 16);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn apply(config: &Configuration) -> Result<(), BoxError> {
    for (name, value) in config {
        let knob = crate::knob::knob_by_name(name)
            .ok_or_else(|| format!("knob `{name}` is not registered in this process"))?;
        knob.set_from_str(&number(*value))
            .map_err(|e| format!("cannot set `{name}` to {value}: {e}"))?;
    }
    Ok(())
}

/// The values of `names` in force, read from the knobs registered in this process.
pub fn current<'a>(names: impl IntoIterator<Item = &'a str>) -> Configuration {
    names
        .into_iter()
        .filter_map(|n| crate::knob::knob_by_name(n).map(|k| (n.to_string(), k.value().as_f64())))
        .collect()
}

/// A number as a knob parses it: whole numbers without a fraction.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}
