//! Execute: publish a plan as one generation, run the appliers of knobs that
//! drive something external (each on a thread of its own, with a timeout, so
//! one that blocks cannot stall the loop), undo the change at once if one
//! fails or times out, and judge the change on the windows that follow: a sequential test
//! on bad events against their level before the change, over as many windows
//! as it takes (up to a cap), skipping the windows that settle.

mod lanes;

use std::time::Duration;

use futures_util::future::join_all;

pub use crate::decision::{Change, Decision, DecisionKind, DecisionOutcome, Verdict};

use crate::analyze::Analysis;
use crate::analyze::stats::{Conclusion, Sprt, binomial_llr};
use crate::decision::Intent;
use crate::knob::space::Space;
use crate::knob::{ErasedKnob, publish};
use lanes::{Lanes, timed_out};

/// A change being verified.
pub(crate) struct Pending {
    pub(crate) decision: Decision,
    pub(crate) before: Vec<u64>,
    pub(crate) after: Vec<u64>,
    pub(crate) intent: Intent,
    pub(crate) probe: Vec<(usize, i8)>,
    /// Per objective: its bad fraction before the change, and whether the
    /// change is judged on it.
    objectives: Vec<Baseline>,
    /// Evidence that the change lowered (fix) or raised (cost cut) bad events.
    effect: Sprt,
    /// Evidence that a fix made bad events more frequent.
    worse: Sprt,
    effect_done: Option<Conclusion>,
    worse_done: Option<Conclusion>,
    windows: u32,
}

/// An objective's state when a change was made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Baseline {
    /// The estimated bad fraction.
    pub(crate) fraction: f64,
    /// The objective's budget.
    pub(crate) budget: f64,
    /// The change is judged on it (for a fix: it was at risk).
    pub(crate) focus: bool,
    /// Its bad events were climbing when the change was made.
    pub(crate) climbing: bool,
}

/// What verification concluded.
pub(crate) struct Judgement {
    pub(crate) pending: Pending,
    pub(crate) verdict: Verdict,
    pub(crate) rollback: bool,
    pub(crate) note: String,
}

/// Error rates of the verdict's sequential tests (a wrong verdict either way).
const ALPHA: f64 = 0.05;
/// Windows a verdict may take; then it is inconclusive.
pub(crate) const MAX_VERIFY: u32 = 30;
/// The smallest bad fraction a test assumes, as a share of the budget (no
/// fraction is known to be zero).
const FLOOR: f64 = 0.05;
/// The most evidence one window may add to a verdict, either way. Calls in a
/// window are not independent (a backlog makes the slow ones come together),
/// so a binomial likelihood over thousands of calls overstates what one
/// window shows; capped, a verdict needs at least two windows (the tests'
/// bounds are ln 19 ≈ 2.94).
const WINDOW_EVIDENCE: f64 = 1.5;
/// The effect a fix is tested for: bad events divided by this (or multiplied
/// by it when worse); a cost cut is tested for bad events multiplied by it,
/// from at least this share of the budget.
const EFFECT: f64 = 2.0;

/// Bad events a window needs before its rise counts as a climb.
const CLIMB_BAD: u64 = 5;

impl Baseline {
    fn p0(&self) -> f64 {
        self.fraction.clamp(FLOOR * self.budget, 0.5)
    }

    /// Each objective's state in `analysis`, in order, as a change made now
    /// is judged against.
    pub(crate) fn of(analysis: &Analysis) -> Vec<Baseline> {
        analysis
            .slos
            .iter()
            .flat_map(|s| {
                let previous = s.previous.iter().copied().chain(std::iter::repeat((0, 0)));
                s.objectives
                    .iter()
                    .zip(&s.window)
                    .zip(previous)
                    .map(|((j, &window), previous)| Baseline {
                        fraction: j.estimate,
                        budget: j.budget,
                        focus: j.calls > 0 && j.at_risk(),
                        climbing: Baseline::climbing(j.budget, window, previous),
                    })
            })
            .collect()
    }

    /// Whether bad events were climbing: the last window (`bad`, `calls`)
    /// had at least `CLIMB_BAD` of them and at least `EFFECT` times the bad
    /// fraction of the window before it (`previous`), whose fraction counts
    /// as no less than the tests' floor.
    fn climbing(budget: f64, (bad, calls): (u64, u64), previous: (u64, u64)) -> bool {
        let fraction = |(bad, calls): (u64, u64)| {
            if calls == 0 {
                0.0
            } else {
                bad as f64 / calls as f64
            }
        };
        bad >= CLIMB_BAD
            && fraction((bad, calls)) >= EFFECT * fraction(previous).max(FLOOR * budget)
    }
}

pub(crate) struct Executor {
    timeout: Duration,
    pending: Option<Pending>,
    lanes: Lanes,
}

impl Executor {
    pub(crate) fn new(timeout: Duration) -> Self {
        Executor {
            timeout,
            pending: None,
            lanes: Lanes::default(),
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

    /// Runs the appliers of `changes`, each on its knob's lane, and waits for
    /// their answers up to the timeout; the first error, if any.
    async fn run_appliers(&self, changes: &[(&dyn ErasedKnob, u64)]) -> Result<(), String> {
        let mut first_error = None;
        let mut answers = Vec::new();
        for (knob, bits) in changes {
            let Some(applier) = knob.applier() else {
                continue;
            };
            match self.lanes.submit(knob.name(), applier, *bits, self.timeout) {
                Ok(answer) => answers.push((knob.name(), answer)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let timeout = self.timeout;
        let results = join_all(answers.into_iter().map(|(name, answer)| async move {
            match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(format!("the applier of `{name}` ended without an answer")),
                Err(_) => {
                    tracing::warn!(
                        knob = name,
                        "finch: an applier is still running after its timeout; \
                         the knob's next applier calls wait for it"
                    );
                    Err(timed_out(name, timeout))
                }
            }
        }))
        .await;
        for e in results.into_iter().filter_map(Result::err) {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Starts verifying an applied change, against each objective's state
    /// before it.
    pub(crate) fn track(
        &mut self,
        decision: Decision,
        before: Vec<u64>,
        after: Vec<u64>,
        intent: Intent,
        probe: Vec<(usize, i8)>,
        mut objectives: Vec<Baseline>,
    ) {
        if !objectives.iter().any(|o| o.focus) {
            objectives.iter_mut().for_each(|o| o.focus = true);
        }
        self.pending = Some(Pending {
            decision,
            before,
            after,
            intent,
            probe,
            objectives,
            effect: Sprt::new(ALPHA, ALPHA),
            worse: Sprt::new(ALPHA, ALPHA),
            effect_done: None,
            worse_done: None,
            windows: 0,
        });
    }

    /// Judges the pending change on one more window; `None` while undecided.
    /// Settling windows are skipped; a window with an incident, a workload
    /// shift or a rising load ends the verdict as inconclusive (not judged).
    pub(crate) fn verify(&mut self, analysis: &Analysis) -> Option<Judgement> {
        let p = self.pending.as_mut()?;
        // A window taken by an incident, a shift or a rising load judges no
        // change; a cost cut is still undone, on the safe side, while an
        // objective is likely over budget.
        let interrupted = if let Some(i) = &analysis.incident {
            Some(format!(
                "`{}` drifted while nothing changed ({:.1}% confidence)",
                i.slo,
                i.confidence * 100.0
            ))
        } else if analysis.shift.is_some() {
            Some("the workload shifted meanwhile".to_string())
        } else if analysis.rising() {
            Some("the load kept rising meanwhile".to_string())
        } else {
            None
        };
        if let Some(why) = interrupted {
            let undo = p.intent == Intent::Save && analysis.breached();
            let note = if undo {
                format!(
                    "not judged: {why}, and an objective is likely over budget: the cost cut is undone"
                )
            } else {
                format!("not judged: {why}; kept")
            };
            return self.conclude(Verdict::Unknown, undo, note);
        }
        if p.intent == Intent::Save && analysis.violated() {
            return self.conclude(
                Verdict::Regressed,
                true,
                "lowering cost violated an objective".into(),
            );
        }
        if analysis.settling {
            return None;
        }
        p.windows += 1;
        let window = analysis.slos.iter().flat_map(|s| s.window.iter().copied());
        let (mut effect, mut worse) = (0.0, 0.0);
        for (o, (bad, calls)) in p.objectives.iter().zip(window) {
            if !o.focus || calls == 0 {
                continue;
            }
            let p0 = o.p0();
            match p.intent {
                Intent::Fix => {
                    effect += binomial_llr(bad, calls, p0, p0 / EFFECT);
                    worse += binomial_llr(bad, calls, p0, (p0 * EFFECT).min(0.9));
                }
                Intent::Save => {
                    // Safe at half the budget or at the level before; broken
                    // at the budget or twice that level.
                    let p0 = p0.max(o.budget / EFFECT).min(0.45);
                    effect += binomial_llr(bad, calls, p0, (p0 * EFFECT).min(0.9));
                }
            }
        }
        let capped = |llr: f64| llr.clamp(-WINDOW_EVIDENCE, WINDOW_EVIDENCE);
        if p.effect_done.is_none() {
            p.effect_done = p.effect.update(capped(effect));
        }
        // Bad events already climbing when a fix was made (a backlog
        // growing) climb on for reasons of their own: a rise after it is no
        // evidence against it, so it is judged only on whether it helped.
        let climbing = p.objectives.iter().any(|o| o.focus && o.climbing);
        if p.worse_done.is_none() && p.intent == Intent::Fix && !climbing {
            p.worse_done = p.worse.update(capped(worse));
        }
        let windows = p.windows;
        let verdict = match (p.intent, p.effect_done, p.worse_done) {
            (Intent::Save, Some(Conclusion::Effect), _) => Some((
                Verdict::Regressed,
                true,
                "lowering cost raised bad events towards the budget".to_string(),
            )),
            (Intent::Save, Some(Conclusion::NoEffect), _) => Some((
                Verdict::Held,
                false,
                "objectives still hold: no rise in bad events".to_string(),
            )),
            (Intent::Fix, Some(Conclusion::Effect), _) => Some((
                Verdict::Improved,
                false,
                "improved: bad events fell".to_string(),
            )),
            (Intent::Fix, _, Some(Conclusion::Effect)) => Some((
                Verdict::Regressed,
                true,
                "made objectives worse: bad events rose".to_string(),
            )),
            (Intent::Fix, Some(Conclusion::NoEffect), Some(Conclusion::NoEffect)) => {
                // An exploratory step that did nothing is undone; a planned
                // fix is kept (what it moved is ruled out as a lever).
                let explore = p.decision.kind == DecisionKind::Explore;
                Some((
                    Verdict::NoEffect,
                    explore,
                    "no measurable effect on bad events".to_string(),
                ))
            }
            _ if windows >= MAX_VERIFY => Some((
                Verdict::Unknown,
                false,
                "inconclusive: the evidence did not decide; kept".to_string(),
            )),
            _ => None,
        };
        let (verdict, rollback, note) = verdict?;
        let note = format!("{note} (judged on {windows} windows)");
        self.conclude(verdict, rollback, note)
    }

    fn conclude(&mut self, verdict: Verdict, rollback: bool, note: String) -> Option<Judgement> {
        let pending = self.pending.take()?;
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::analyze::{Direction, Health, Incident, SloAnalysis, health::judge};

    fn decision() -> Decision {
        Decision {
            id: 1,
            instance: "t".into(),
            window: 0,
            at_ms: 0,
            kind: DecisionKind::Explore,
            changes: Vec::new(),
            reason: String::new(),
            measured_before: BTreeMap::new(),
            predicted_before: BTreeMap::new(),
            predicted_after: BTreeMap::new(),
            cost_before: 0.0,
            cost_after: 0.0,
            outcome: DecisionOutcome::Pending,
            verdict: None,
        }
    }

    /// A window of `calls` calls, `bad` of them bad, on one p99 objective.
    fn window(bad: u64, calls: u64) -> Analysis {
        let j = judge(bad, calls, 0.01);
        Analysis {
            slos: vec![SloAnalysis {
                health: Health::Compliant,
                objectives: vec![j],
                window: vec![(bad, calls)],
                previous: Vec::new(),
                drift: None,
            }],
            shift: None,
            trend: None,
            settling: false,
            incident: None,
            saturated: Vec::new(),
            noise: vec![None],
        }
    }

    /// Before a fix: 5 % of calls bad, against a budget of 1 %.
    const FIVE_PERCENT: Baseline = Baseline {
        fraction: 0.05,
        budget: 0.01,
        focus: true,
        climbing: false,
    };

    /// Verifies a fix made when 5 % of calls were bad, on windows of 100 calls
    /// with `bad` bad ones; the verdict and the windows it took.
    fn fix(bad: impl Fn(u32) -> u64, edit: impl Fn(u32, &mut Analysis)) -> (Verdict, u32) {
        fix_from(FIVE_PERCENT, bad, edit)
    }

    /// As [`fix`], from `before`.
    fn fix_from(
        before: Baseline,
        bad: impl Fn(u32) -> u64,
        edit: impl Fn(u32, &mut Analysis),
    ) -> (Verdict, u32) {
        let mut e = Executor::new(Duration::from_secs(1));
        e.track(
            decision(),
            vec![0],
            vec![1],
            Intent::Fix,
            vec![(0, 1)],
            vec![before],
        );
        for w in 1..=MAX_VERIFY {
            let mut a = window(bad(w), 100);
            edit(w, &mut a);
            if let Some(j) = e.verify(&a) {
                return (j.verdict, w);
            }
        }
        panic!("no verdict within the cap");
    }

    #[test]
    fn a_fix_is_judged_on_as_many_windows_as_the_evidence_needs() {
        let (v, w) = fix(|_| 0, |_, _| {});
        assert_eq!(v, Verdict::Improved);
        assert!(w <= 2, "{w}");
        // Regression to the mean is not an improvement: the same 5 %.
        let (v, _) = fix(|w| u64::from(w % 4 != 0) * 7, |_, _| {});
        assert_eq!(v, Verdict::NoEffect);
        let (v, _) = fix(|_| 20, |_, _| {});
        assert_eq!(v, Verdict::Regressed);
    }

    #[test]
    fn a_fix_made_while_bad_events_climb_is_not_undone_for_their_climbing_on() {
        let climbing = Baseline {
            climbing: true,
            ..FIVE_PERCENT
        };
        // 20 % bad after it: a backlog growing on its own, not held against
        // the fix; the evidence never says it helped either.
        assert_eq!(
            fix_from(climbing, |_| 20, |_, _| {}),
            (Verdict::Unknown, MAX_VERIFY)
        );
        // Bad events that fall still credit it.
        assert_eq!(fix_from(climbing, |_| 0, |_, _| {}).0, Verdict::Improved);
    }

    #[test]
    fn a_climb_is_a_window_at_least_twice_as_bad_as_the_one_before() {
        assert!(Baseline::climbing(0.01, (10, 100), (4, 100)));
        assert!(!Baseline::climbing(0.01, (10, 100), (6, 100)));
        assert!(
            !Baseline::climbing(0.01, (4, 10), (0, 100)),
            "too few bad events"
        );
        assert!(Baseline::climbing(0.01, (5, 1000), (0, 0)), "from nothing");
        assert!(!Baseline::climbing(0.01, (5, 1000), (3, 1000)));
    }

    #[test]
    fn settling_windows_are_skipped_and_incidents_are_not_judged() {
        assert_eq!(fix(|_| 0, |_, _| {}), (Verdict::Improved, 2));
        let (v, w) = fix(|w| if w == 1 { 50 } else { 0 }, |w, a| a.settling = w == 1);
        assert_eq!(
            (v, w),
            (Verdict::Improved, 3),
            "the backlog window is not held against it"
        );
        let (v, w) = fix(
            |_| 0,
            |_, a| {
                a.incident = Some(Incident {
                    slo: "api".into(),
                    direction: Direction::Worse,
                    confidence: 0.999,
                    since: 1,
                });
            },
        );
        assert_eq!((v, w), (Verdict::Unknown, 1));
    }

    #[test]
    fn a_cost_cut_a_shift_interrupts_is_undone_while_an_objective_is_over_budget() {
        let cut = |bad: u64| {
            let mut e = Executor::new(Duration::from_secs(1));
            let before = Baseline {
                fraction: 0.002,
                budget: 0.01,
                focus: true,
                climbing: false,
            };
            e.track(
                decision(),
                vec![1],
                vec![0],
                Intent::Save,
                vec![(0, -1)],
                vec![before],
            );
            let mut a = window(bad, 1000);
            a.shift = Some(crate::analyze::Shift {
                from_rate: 50.0,
                to_rate: 200.0,
                mix_change: 0.0,
            });
            e.verify(&a).map(|j| (j.verdict, j.rollback))
        };
        // The rush arrives on the cut's first window and the objective is
        // over budget: nothing is learned of the cut, but it is undone.
        assert_eq!(cut(30), Some((Verdict::Unknown, true)));
        // Within budget through the shift: not judged, kept.
        assert_eq!(cut(0), Some((Verdict::Unknown, false)));
    }

    #[test]
    fn an_undecided_change_is_inconclusive_at_the_cap() {
        // 3.5 %: between no effect (5 %) and the effect tested for (2.5 %).
        let (v, w) = fix(|w| if w % 2 == 0 { 3 } else { 4 }, |_, _| {});
        assert!(v == Verdict::Unknown || w < MAX_VERIFY, "{v:?} after {w}");
    }
}
