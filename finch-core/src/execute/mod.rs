//! Execute: publish a plan as one generation, run the appliers of knobs that
//! drive something external (with a timeout), undo the change at once if one
//! fails, and judge the change on the windows that follow.

mod decision;

use std::time::Duration;

use tokio::task::JoinSet;

pub use decision::{Change, Decision, DecisionKind, DecisionOutcome};

use crate::analyze::Analysis;
use crate::knob::{ErasedKnob, publish};
use crate::plan::space::Space;
use crate::plan::{Intent, Verdict};

/// A change being verified.
pub(crate) struct Pending {
    pub(crate) decision: Decision,
    pub(crate) before: Vec<u64>,
    pub(crate) after: Vec<u64>,
    pub(crate) intent: Intent,
    pub(crate) probe: Option<(usize, i8)>,
    /// Worst margin on the window that led to the change.
    before_margin: f64,
    margins: Vec<f64>,
    windows: u32,
    shifted: bool,
}

/// What verification concluded.
pub(crate) struct Judgement {
    pub(crate) pending: Pending,
    pub(crate) verdict: Verdict,
    pub(crate) rollback: bool,
    pub(crate) note: String,
}

/// A window this much better (relative margin) counts as an improvement.
const IMPROVED: f64 = 0.05;
/// A window this much worse counts as a regression.
const REGRESSED: f64 = 0.10;

pub(crate) struct Executor {
    timeout: Duration,
    verify: u32,
    /// The margin a cost cut must leave; thinner than this, it is undone.
    margin: f64,
    pending: Option<Pending>,
}

impl Executor {
    pub(crate) fn new(timeout: Duration, verify: u32, margin: f64) -> Self {
        Executor {
            timeout,
            verify,
            margin,
            pending: None,
        }
    }

    pub(crate) fn pending(&self) -> Option<&Pending> {
        self.pending.as_ref()
    }

    /// Publishes `target` as one generation and runs the appliers of the knobs it
    /// changes. If an applier fails or times out, the previous values are
    /// published again (and their appliers run), and the error is returned.
    pub(crate) async fn apply(&self, space: &Space, target: &[u64]) -> Result<u64, String> {
        let current = space.current();
        let changed: Vec<(&dyn ErasedKnob, u64, u64)> = space
            .dims
            .iter()
            .zip(current.iter().zip(target))
            .filter(|(_, (c, t))| c != t)
            .map(|(d, (&c, &t))| (d.knob.erased(), c, t))
            .collect();
        for (k, _, t) in &changed {
            // Points come snapped from the planner; this is the last guard.
            k.check_bits(*t).map_err(|e| e.to_string())?;
        }
        let forward: Vec<(&dyn ErasedKnob, u64)> = changed.iter().map(|c| (c.0, c.2)).collect();
        let generation = publish(&forward);
        if let Err(e) = self.run_appliers(&forward).await {
            let back: Vec<(&dyn ErasedKnob, u64)> = changed.iter().map(|c| (c.0, c.1)).collect();
            publish(&back);
            if let Err(again) = self.run_appliers(&back).await {
                tracing::error!(error = %again, "finch: an applier also failed to restore the previous value");
            }
            return Err(e);
        }
        Ok(generation)
    }

    async fn run_appliers(&self, changes: &[(&dyn ErasedKnob, u64)]) -> Result<(), String> {
        let mut set = JoinSet::new();
        for (knob, bits) in changes {
            if let Some(applier) = knob.applier() {
                let name = knob.name().to_string();
                let fut = applier(*bits);
                let timeout = self.timeout;
                set.spawn(async move {
                    match tokio::time::timeout(timeout, fut).await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(format!("applier of `{name}` failed: {e}")),
                        Err(_) => Err(format!("applier of `{name}` timed out after {timeout:?}")),
                    }
                });
            }
        }
        let mut first_error = None;
        while let Some(joined) = set.join_next().await {
            let result = joined.unwrap_or_else(|e| Err(format!("an applier panicked: {e}")));
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Starts verifying an applied change.
    pub(crate) fn track(
        &mut self,
        decision: Decision,
        before: Vec<u64>,
        after: Vec<u64>,
        intent: Intent,
        probe: Option<(usize, i8)>,
        before_margin: f64,
    ) {
        self.pending = Some(Pending {
            decision,
            before,
            after,
            intent,
            probe,
            before_margin,
            margins: Vec::new(),
            windows: 0,
            shifted: false,
        });
    }

    /// Judges the pending change on one more window; `None` while undecided.
    pub(crate) fn verify(&mut self, analysis: &Analysis) -> Option<Judgement> {
        let p = self.pending.as_mut()?;
        p.windows += 1;
        // A fix judged while load shifts or climbs is inconclusive, not a regression.
        p.shifted |= analysis.shift.is_some() || analysis.rising;
        if let Some(m) = analysis.worst_margin() {
            p.margins.push(m);
        }
        let emergency = p.intent == Intent::Save && analysis.window_violated();
        if !emergency && p.windows < self.verify {
            return None;
        }
        let pending = self.pending.take()?;
        let Some(after) = mean(&pending.margins) else {
            return Some(Judgement {
                pending,
                verdict: Verdict::Held,
                rollback: false,
                note: "no window had enough calls to judge; kept".into(),
            });
        };
        let before = pending.before_margin;
        let change = format!(
            "worst margin {:+.0}% → {:+.0}%",
            before * 100.0,
            after * 100.0
        );
        let (verdict, rollback, note) = match pending.intent {
            Intent::Save if after < 0.0 => (
                Verdict::Regressed,
                true,
                format!("lowering cost violated an objective ({change})"),
            ),
            Intent::Save if after < self.margin => (
                Verdict::Regressed,
                true,
                format!(
                    "lowering cost left less than the {:.0}% margin ({change})",
                    self.margin * 100.0
                ),
            ),
            Intent::Save => (
                Verdict::Held,
                false,
                format!("objectives still hold ({change})"),
            ),
            Intent::Fix if after >= 0.0 || after > before + IMPROVED => {
                (Verdict::Improved, false, format!("improved ({change})"))
            }
            Intent::Fix if after < before - REGRESSED && !pending.shifted => (
                Verdict::Regressed,
                true,
                format!("made objectives worse ({change})"),
            ),
            Intent::Fix if pending.shifted => (
                Verdict::Held,
                false,
                format!("the workload shifted meanwhile; inconclusive, kept ({change})"),
            ),
            Intent::Fix => {
                let explore = pending.probe.is_some();
                (
                    Verdict::NoEffect,
                    explore,
                    format!("no measurable effect ({change})"),
                )
            }
        };
        Some(Judgement {
            pending,
            verdict,
            rollback,
            note,
        })
    }

    /// Forgets the pending change (after an external change made it moot).
    pub(crate) fn abandon(&mut self) -> Option<Pending> {
        self.pending.take()
    }
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}
