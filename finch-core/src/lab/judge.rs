//! Judging windows from the harness's own per-request records.
//!
//! The rule, as every report states it: a window complies when every objective
//! of every operation holds over the calls that *finished* in it. A latency
//! quantile `q` is read by nearest rank and needs at least `⌈1/(1−q)⌉` calls
//! (100 for a p99, 20 for a p95); an error ratio bounded by `e` needs `⌈1/e⌉`
//! calls. A window with fewer calls is judged together with the windows before
//! it, newest first, until there are enough, looking back at most
//! [`LOOKBACK`] windows; with fewer still, or no calls at all, that objective
//! is not judged in that window. Failed calls count in the latency quantiles
//! with the time they took to fail.

use std::collections::VecDeque;

use super::subject::{Call, Operation};
use crate::slo::Objective;

/// The most windows a quiet window is pooled with.
pub const LOOKBACK: usize = 30;

/// The rule in one sentence, for reports.
pub const RULE: &str = "a window violates when any objective of any operation fails over the calls that finished in it; \
a quantile q needs ⌈1/(1−q)⌉ calls (p99: 100, p95: 20) and an error ratio e needs ⌈1/e⌉, \
so a quieter window is judged together with the windows before it (at most 30); \
failed calls count in latency quantiles with the time they took to fail";

/// The verdict on one window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Verdict {
    /// At least one objective had enough calls to be judged.
    pub judged: bool,
    /// Some judged objective failed.
    pub violated: bool,
    /// The largest SLI ÷ bound over the judged objectives (above 1: failed).
    pub worst: Option<f64>,
}

/// One operation's calls in one window.
#[derive(Default)]
struct Slot {
    latencies: Vec<f64>,
    errors: usize,
}

/// Judges the windows of one run, in order.
pub(crate) struct Judge {
    operations: Vec<Operation>,
    history: Vec<VecDeque<Slot>>,
}

/// Calls a quantile or a ratio needs to be read.
fn needed(objective: &Objective) -> usize {
    match *objective {
        Objective::Latency { quantile, .. } => {
            (1.0 / (1.0 - quantile.fraction())).round().max(1.0) as usize
        }
        Objective::Errors { max } if max > 0.0 => (1.0 / max).ceil().max(1.0) as usize,
        Objective::Errors { .. } => 1,
    }
}

impl Judge {
    pub(crate) fn new(operations: Vec<Operation>) -> Self {
        Judge {
            history: operations.iter().map(|_| VecDeque::new()).collect(),
            operations,
        }
    }

    /// Judges the window whose finished calls are `calls`.
    pub(crate) fn window(&mut self, calls: &[Call]) -> Verdict {
        for h in &mut self.history {
            if h.len() == LOOKBACK {
                h.pop_front();
            }
            h.push_back(Slot::default());
        }
        for c in calls {
            if let Some(slot) = self.history.get_mut(c.op).and_then(VecDeque::back_mut) {
                slot.latencies.push(c.latency);
                if !c.ok {
                    slot.errors += 1;
                }
            }
        }
        let mut verdict = Verdict::default();
        for (op, history) in self.operations.iter().zip(&self.history) {
            for objective in &op.objectives {
                let need = needed(objective);
                let mut n = 0;
                let mut pooled = 0;
                for slot in history.iter().rev() {
                    n += slot.latencies.len();
                    pooled += 1;
                    if n >= need {
                        break;
                    }
                }
                if n < need {
                    continue;
                }
                let window = history.iter().skip(history.len() - pooled);
                let ratio = match *objective {
                    Objective::Latency {
                        quantile,
                        threshold,
                    } => {
                        let mut all: Vec<f64> =
                            window.flat_map(|s| s.latencies.iter().copied()).collect();
                        let rank = ((quantile.fraction() * all.len() as f64).ceil() as usize)
                            .clamp(1, all.len());
                        let (_, value, _) = all.select_nth_unstable_by(rank - 1, f64::total_cmp);
                        *value / threshold.as_secs_f64().max(1e-12)
                    }
                    Objective::Errors { max } => {
                        let errors: usize = window.map(|s| s.errors).sum();
                        let share = errors as f64 / n as f64;
                        if max > 0.0 {
                            share / max
                        } else if errors > 0 {
                            f64::INFINITY
                        } else {
                            0.0
                        }
                    }
                };
                verdict.judged = true;
                verdict.violated |= ratio > 1.0;
                verdict.worst = Some(verdict.worst.map_or(ratio, |w: f64| w.max(ratio)));
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::slo::Quantile;

    fn op(objectives: Vec<Objective>) -> Vec<Operation> {
        vec![Operation {
            name: "api".into(),
            objectives,
        }]
    }

    fn calls(latencies: &[f64], errors: usize) -> Vec<Call> {
        latencies
            .iter()
            .enumerate()
            .map(|(i, &l)| Call {
                op: 0,
                at: 0.0,
                latency: l,
                ok: i >= errors,
            })
            .collect()
    }

    const P99_50MS: Objective = Objective::Latency {
        quantile: Quantile::P99,
        threshold: Duration::from_millis(50),
    };

    #[test]
    fn a_p99_needs_a_hundred_calls_and_quiet_windows_are_pooled() {
        let mut j = Judge::new(op(vec![P99_50MS]));
        let slow = j.window(&calls(&[0.2; 40], 0));
        assert!(!slow.judged, "40 calls cannot read a p99");
        let fast = j.window(&calls(&[0.01; 40], 0));
        assert!(!fast.judged);
        let third = j.window(&calls(&[0.01; 30], 0));
        assert!(
            third.judged && third.violated,
            "110 pooled calls, 40 over the bound"
        );
        // 100 fast calls on their own: the slow ones are no longer pooled in.
        let own = j.window(&calls(&[0.01; 100], 0));
        assert!(own.judged && !own.violated);
        assert!((own.worst.unwrap_or(0.0) - 0.2).abs() < 1e-9);
    }

    #[test]
    fn nearest_rank_allows_one_slow_call_in_a_hundred() {
        let mut j = Judge::new(op(vec![P99_50MS]));
        let mut lat = vec![0.01; 99];
        lat.push(1.0);
        assert!(!j.window(&calls(&lat, 0)).violated);
        lat[0] = 1.0;
        assert!(
            j.window(&calls(&lat, 0)).violated,
            "two of 100 over the bound"
        );
    }

    #[test]
    fn error_ratios_need_enough_calls() {
        let mut j = Judge::new(op(vec![Objective::Errors { max: 0.05 }]));
        assert!(!j.window(&calls(&[0.01; 10], 1)).judged);
        let v = j.window(&calls(&[0.01; 10], 0));
        assert!(
            v.judged && !v.violated,
            "1 error in 20 pooled calls is the 5 % budget"
        );
        let mut j = Judge::new(op(vec![Objective::Errors { max: 0.05 }]));
        let v = j.window(&calls(&[0.01; 20], 2));
        assert!(v.judged && v.violated);
    }

    #[test]
    fn a_window_is_not_judged_beyond_the_lookback() {
        let mut j = Judge::new(op(vec![P99_50MS]));
        for _ in 0..LOOKBACK + 5 {
            assert!(!j.window(&calls(&[1.0; 3], 0)).judged);
        }
    }
}
