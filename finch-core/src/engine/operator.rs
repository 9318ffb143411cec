//! Operator pins: a knob pinned to a value (or released) from the handle,
//! applied, logged as a decision and kept out of the planner's reach.

use super::Engine;
use crate::decision::{Decision, DecisionKind, DecisionOutcome, Verdict};

impl Engine {
    /// An operator pinned (`Some`) or unpinned (`None`) a knob.
    pub(crate) async fn operator(
        &mut self,
        name: &str,
        value: Option<&str>,
    ) -> Result<Decision, crate::Error> {
        let index = self
            .planner
            .space
            .index(name)
            .ok_or_else(|| crate::KnobError::Unknown {
                knob: name.to_string(),
            })?;
        let knob = self.planner.space.dims[index].knob.clone();
        let before = self.planner.space.current();
        let mut after = before.clone();
        let reason = match value {
            Some(text) => {
                after[index] = knob.erased().parse(text)?;
                format!(
                    "operator pinned `{name}` to {}",
                    knob.erased().value_of(after[index])
                )
            }
            None => format!("operator unpinned `{name}`"),
        };
        let obs = self.last_observation();
        let mut d = self.new_decision(&obs, DecisionKind::Operator, &before, &after, reason);
        if let Some(p) = self.executor.abandon() {
            let mut old = p.decision;
            old.verdict = Some(Verdict::Unknown);
            old.outcome = DecisionOutcome::Kept {
                note: "superseded by an operator change".into(),
            };
            self.log_decision(&old);
        }
        // A failed change leaves the knob as it was: its value (the executor
        // restores it) and whether an earlier pin holds it.
        let was_pinned = knob.erased().is_pinned();
        knob.erased().set_pinned(value.is_some());
        d.outcome = match self.executor.apply(&self.planner.space, &after).await {
            Ok(_) => DecisionOutcome::Kept {
                note: "applied".into(),
            },
            Err(e) => {
                knob.erased().set_pinned(was_pinned);
                DecisionOutcome::ApplyFailed { reason: e }
            }
        };
        // The window under way now mixes two configurations: the monitor
        // sees the change and marks it so.
        self.since_change = 0;
        self.log_decision(&d);
        Ok(d)
    }
}
