//! The proving ground (feature `lab`): experiments that run a service under
//! scripted workloads and injected faults, in several *arms* (the static
//! default, every point of a knob grid, a dynamic oracle stitched from the
//! grid and, for in-process subjects, the same oracle switching live, finch
//! cold and warm) over several seeds, and judge every window from the harness's own
//! per-request records, never from finch's monitor: changing how finch
//! measures cannot change the score.
//!
//! An experiment's life: for every scenario, arm and seed, the harness calls
//! the [`Subject`]'s hooks: `set_up` (the arm's configuration, or finch on
//! the arm's knowledge), then for each window of the warm-up and of every
//! [`Phase`] `window` (with `phase` at each phase's start and `fault` when a
//! [`Fault`] starts or ends), then `tear_down`. The [`Report`] gives each arm's
//! violating windows and mean cost as mean ± 95 % interval over seeds, the
//! recovery after each shift, knob changes and finch's CPU, as markdown, JSON
//! and a PNG chart.
//!
//! [`sim`] holds the parts of simulated services in virtual time (arrivals,
//! pools, databases, caches, interference), so that a run of hundreds of
//! windows takes a fraction of a second and a seed gives the same result.
//!
//! ## Pointing the harness at your own service
//!
//! Implement [`Subject`] for it:
//! - [`Subject::operations`]: the operations and their objectives;
//! - [`Subject::knobs`]: each knob's name, default and the grid to sweep;
//! - [`Subject::cost`]: what a configuration costs;
//! - in process (your service's code called directly, in virtual time):
//!   return a [`Config`](crate::Config) from [`Subject::finch_config`], put the
//!   arm's configuration in force with [`apply`] in `set_up`, and in `window`
//!   drive one window of calls and record each one as a [`Call`];
//! - out of process (a real server): start it in `set_up` with the arm's
//!   configuration, or with finch on the arm's knowledge directory, and in
//!   `window` load it for one window with your own client, recording every
//!   request; stop it in `tear_down`.
//!
//! Then run an [`Experiment`] and [`Report::write`] its report.

mod chart;
mod experiment;
mod judge;
mod report;
mod scenario;
pub mod sim;
mod stats;
mod subject;

pub use experiment::{
    Arms, BEST_ARM, COLD_ARM, DEFAULT_ARM, Experiment, LabError, ORACLE_ARM, SWITCHING_ARM,
    WARM_ARM,
};
pub use judge::{LOOKBACK, RULE, Verdict};
pub use report::{ArmSummary, OracleSegment, Report, RunResult, ScenarioReport, WindowResult};
pub use scenario::{Fault, Phase, Scenario, WindowPlan};
pub use stats::{Estimate, median};
pub use subject::{
    ArmKind, BoxError, Call, Configuration, KnobAxis, Operation, Run, RunNotes, Subject,
    WindowOutcome, apply, current,
};
