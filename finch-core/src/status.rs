//! The loop's status: a serializable snapshot of knobs, SLOs, the model, recent
//! decisions and knowledge, as `Handle::status()` and the status route return it.

use serde::Serialize;

use crate::analyze::Health;
use crate::decision::Decision;
use crate::knob::KnobInfo;
use crate::knowledge::JournalStatus;
use crate::plan::model::Family;
use crate::slo::Objective;

/// A snapshot of the loop.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// This instance's name.
    pub instance: String,
    /// Whether the loop is running.
    pub running: bool,
    /// Iterations run.
    pub iterations: u64,
    /// Cost of the configuration in force (sum of cost × normalized position).
    pub cost: f64,
    /// Cost of the most expensive configuration.
    pub max_cost: f64,
    /// Every managed knob.
    pub knobs: Vec<KnobStatus>,
    /// Every managed SLO, with the last window's SLIs.
    pub slos: Vec<SloStatus>,
    /// The SLI models.
    pub model: ModelStatus,
    /// Recent decisions, oldest first.
    pub decisions: Vec<Decision>,
    /// The knowledge store.
    pub knowledge: JournalStatus,
    /// Duration of the last iteration, in seconds.
    pub last_iteration_secs: f64,
    /// CPU time finch itself used (iterations and training), in seconds.
    pub cpu_secs: f64,
    /// Iterations that panicked (each was caught and the loop went on).
    pub faults: u64,
    /// What the last panicked iteration said.
    pub last_fault: Option<String>,
    /// Why the loop stopped on its own, when it did (`running` is then false).
    pub stopped: Option<String>,
}

/// A knob as the loop sees it.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct KnobStatus {
    /// Description and value.
    #[serde(flatten)]
    pub info: KnobInfo,
    /// Frozen by configuration (never changed by the loop).
    pub frozen: bool,
}

/// An SLO on the last window.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct SloStatus {
    /// The SLO's name.
    pub name: String,
    /// Health: how likely its objectives are to be broken, from the counts
    /// of bad calls over the recent windows.
    pub health: Health,
    /// Calls started per second.
    pub rate: f64,
    /// Calls completed in the window.
    pub calls: u64,
    /// Errors in the window.
    pub errors: u64,
    /// Calls in flight at the end of the window.
    pub in_flight: u64,
    /// Each objective with its SLI.
    pub objectives: Vec<ObjectiveStatus>,
    /// The latency or errors moved against their recent baseline on the last
    /// window.
    pub drift: Option<crate::analyze::Direction>,
}

/// One objective on the last window.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ObjectiveStatus {
    /// The objective.
    pub objective: Objective,
    /// Display form (`p99 < 50ms`).
    pub display: String,
    /// The SLI (seconds or ratio); `None` with too few calls.
    pub sli: Option<f64>,
    /// The margin to the objective's budget of bad calls, on the recent
    /// windows pooled: `ln(budget / estimated bad fraction)`, within ±3
    /// (negative: over budget); `None` before any call.
    pub margin: Option<f64>,
    /// The probability that the true share of bad calls exceeds the budget.
    pub over_budget: f64,
}

/// The SLI models.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct ModelStatus {
    /// Whether a model exists.
    pub trained: bool,
    /// Whether every SLI model's holdout error is within the trust threshold.
    pub trusted: bool,
    /// Observations in the last training set.
    pub samples: usize,
    /// Clean observations available for training.
    pub available: usize,
    /// Seconds the last training took.
    pub training_secs: f64,
    /// Trainings completed.
    pub trainings: u64,
    /// Per SLI: the chosen family and its holdout error.
    pub slis: Vec<SliModelStatus>,
    /// The last training error, if the last training failed.
    pub last_error: Option<String>,
}

/// One SLI's model.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct SliModelStatus {
    /// The SLI (`<slo>/p99`).
    pub sli: String,
    /// The family chosen by holdout error.
    pub family: Family,
    /// Mean absolute error on the time-ordered holdout, relative to the bound.
    pub holdout_error: f64,
    /// Observations it was trained on.
    pub samples: usize,
}
