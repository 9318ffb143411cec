//! The decision log: every change finch makes, with its reason, its predictions
//! and how it turned out, and what a change is for. The planner makes these,
//! the executor verifies them, knowledge stores them; this module imports none
//! of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a change is for; the executor verifies it accordingly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Intent {
    /// Bring a violated objective back.
    Fix,
    /// Lower cost while every objective holds.
    Save,
}

/// Why a decision was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DecisionKind {
    /// A small, safe step while the model is not yet trusted.
    Explore,
    /// The model's choice: the cheapest configuration predicted to meet every
    /// objective with margin, or the least violating one.
    Exploit,
    /// An earlier change undone (its applier failed, or it made things worse).
    Rollback,
    /// An operator pinned or unpinned a knob.
    Operator,
}

impl DecisionKind {
    /// The kind's name as it appears in logs, metrics' labels and the
    /// serialized decision log.
    ///
    /// ```
    /// use finch_core::execute::DecisionKind;
    ///
    /// assert_eq!(DecisionKind::Rollback.as_str(), "rollback");
    /// assert_eq!(DecisionKind::Explore.to_string(), "explore");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Explore => "explore",
            DecisionKind::Exploit => "exploit",
            DecisionKind::Rollback => "rollback",
            DecisionKind::Operator => "operator",
        }
    }
}

impl std::fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a decision turned out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DecisionOutcome {
    /// Applied; being verified on the following windows.
    Pending,
    /// Verified and kept.
    Kept {
        /// What verification saw.
        note: String,
    },
    /// Undone because it made objectives worse or had no effect.
    RolledBack {
        /// Why.
        reason: String,
    },
    /// An applier failed or timed out; the change was undone at once.
    ApplyFailed {
        /// The applier's error.
        reason: String,
    },
    /// Decided in observe-only mode ([`Config::observe_only`](crate::Config::observe_only)):
    /// reported, never applied.
    NotApplied {
        /// Why it was not applied.
        note: String,
    },
}

/// How verification judged a change, from the bad events of the windows
/// after it against those before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// A fix: bad events fell.
    Improved,
    /// A fix: bad events neither fell nor rose.
    NoEffect,
    /// Bad events rose: a fix made things worse, or a cost cut went too far.
    Regressed,
    /// A cost cut: the objectives still hold.
    Held,
    /// Not judged: the evidence did not decide, or the windows were taken by
    /// an incident, a workload shift or another change. It teaches nothing.
    Unknown,
}

/// One knob's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The knob.
    pub knob: String,
    /// Value before, as text.
    pub from: String,
    /// Value after, as text.
    pub to: String,
    /// Whether the change is a probe of this knob: the planner credits the
    /// knob with the decision's [`Verdict`] (it helps that way, or it does
    /// nothing), and remembers it across restarts.
    #[serde(default)]
    pub probed: bool,
}

/// One decision of the loop: what changed, why, and what it expected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Number, increasing within an instance.
    pub id: u64,
    /// The instance that made it.
    pub instance: String,
    /// The window after which it was made.
    pub window: u64,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Why it was made.
    pub kind: DecisionKind,
    /// The knob changes.
    pub changes: Vec<Change>,
    /// In words: what was seen and why this configuration was chosen.
    pub reason: String,
    /// SLIs measured on the window before the change.
    pub measured_before: BTreeMap<String, f64>,
    /// SLIs the model predicted for the old configuration (empty without a model).
    pub predicted_before: BTreeMap<String, f64>,
    /// SLIs the model predicted for the new configuration (empty without a model).
    pub predicted_after: BTreeMap<String, f64>,
    /// Cost of the old configuration.
    pub cost_before: f64,
    /// Cost of the new configuration.
    pub cost_after: f64,
    /// How it turned out.
    pub outcome: DecisionOutcome,
    /// How verification judged it; `None` while pending, and for changes
    /// that are not verified (rollbacks, operator changes, failed appliers).
    #[serde(default)]
    pub verdict: Option<Verdict>,
}

impl Decision {
    /// A label for metrics: `pending`, `kept`, `rolled_back`, `apply_failed`,
    /// `not_applied`.
    pub fn outcome_label(&self) -> &'static str {
        match self.outcome {
            DecisionOutcome::Pending => "pending",
            DecisionOutcome::Kept { .. } => "kept",
            DecisionOutcome::RolledBack { .. } => "rolled_back",
            DecisionOutcome::ApplyFailed { .. } => "apply_failed",
            DecisionOutcome::NotApplied { .. } => "not_applied",
        }
    }
}
