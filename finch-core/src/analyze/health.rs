//! Health from counts: the probability that an objective's true bad fraction
//! exceeds its budget, from a Beta posterior over the recent windows.
//!
//! A latency objective "p99 < 50 ms" allows 1 % of calls over 50 ms; an error
//! objective "errors < 1 %" allows 1 % of calls to fail. Counts add, so quiet
//! windows pool exactly until they hold enough calls to say anything.

use std::collections::VecDeque;

use super::stats::beta_cdf;

/// Windows pooled at most.
const MAX_WINDOWS: usize = 300;
/// Pooling stops once this many bad events are expected at the budget.
const POOL_BAD_AT_BUDGET: f64 = 50.0;
/// The prior weighs as many calls as expect this many bad ones at the budget,
/// centred on the budget: with no data, health is "not sure", not "violated".
const PRIOR_BAD: f64 = 0.5;
/// Probability of being over budget that confirms a violation.
const VIOLATED: f64 = 0.95;
/// Probability below which a violation is over.
const CLEARED: f64 = 0.2;
/// Probability from which an objective is at risk.
const AT_RISK: f64 = 0.5;
/// The likelihood-ratio statistic (chi-squared, one degree of freedom) from
/// which older windows count as another regime and leave the pool.
const CHANGE_EVIDENCE: f64 = 15.0;
/// Margins are bounded: log(budget / estimated fraction) within ±this.
pub(crate) const MARGIN_CAP: f64 = 3.0;

/// One objective's state on the windows pooled so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Judgement {
    /// Bad events and calls pooled.
    pub(crate) bad: u64,
    pub(crate) calls: u64,
    /// The objective's budget (the bad fraction allowed).
    pub(crate) budget: f64,
    /// The posterior mean of the bad fraction.
    pub(crate) estimate: f64,
    /// P(true bad fraction > budget).
    pub(crate) over: f64,
    /// log(budget / estimate), bounded; positive when the objective holds.
    pub(crate) margin: f64,
}

impl Judgement {
    pub(crate) fn at_risk(&self) -> bool {
        self.over >= AT_RISK
    }

    /// Over budget with the confidence of a confirmed violation.
    pub(crate) fn confident(&self) -> bool {
        self.over >= VIOLATED
    }
}

/// The judgement of `bad` of `calls` against `budget`.
pub(crate) fn judge(bad: u64, calls: u64, budget: f64) -> Judgement {
    let a = PRIOR_BAD + bad as f64;
    let b = PRIOR_BAD * (1.0 - budget) / budget + calls.saturating_sub(bad) as f64;
    let estimate = a / (a + b);
    Judgement {
        bad,
        calls,
        budget,
        estimate,
        over: 1.0 - beta_cdf(budget, a, b),
        margin: (budget / estimate).ln().clamp(-MARGIN_CAP, MARGIN_CAP),
    }
}

/// The binomial log-likelihood of `bad` of `calls` at its own fraction.
fn log_likelihood(bad: u64, calls: u64) -> f64 {
    let (b, n) = (bad as f64, calls as f64);
    let term = |x: f64| if x > 0.0 { x * (x / n).ln() } else { 0.0 };
    term(b) + term(n - b)
}

/// One objective's recent windows and whether it is confirmed violated.
pub(crate) struct ObjectiveHealth {
    budget: f64,
    /// Bad events and calls per window, newest first.
    windows: VecDeque<(u64, u64)>,
    violated: bool,
}

impl ObjectiveHealth {
    pub(crate) fn new(budget: f64) -> Self {
        ObjectiveHealth {
            budget,
            windows: VecDeque::new(),
            violated: false,
        }
    }

    /// Forgets the pooled windows (the configuration or the workload changed);
    /// a confirmed violation stands until new windows clear it.
    pub(crate) fn restart(&mut self) {
        self.windows.clear();
    }

    /// Adds one window and judges the pool.
    pub(crate) fn update(&mut self, bad: u64, calls: u64) -> Judgement {
        if calls > 0 {
            self.windows.push_front((bad.min(calls), calls));
            self.windows.truncate(MAX_WINDOWS);
        }
        let j = self.current();
        if j.over >= VIOLATED {
            self.violated = true;
        } else if j.over <= CLEARED {
            self.violated = false;
        }
        j
    }

    /// The judgement of the newest windows: back to the most likely change of
    /// the bad fraction (if the evidence for one is strong), and until enough
    /// calls.
    pub(crate) fn current(&self) -> Judgement {
        let windows = self.since_change();
        let enough = POOL_BAD_AT_BUDGET / self.budget;
        let (mut bad, mut calls) = (0, 0);
        for &(b, n) in self.windows.iter().take(windows) {
            bad += b;
            calls += n;
            if calls as f64 >= enough {
                break;
            }
        }
        judge(bad, calls, self.budget)
    }

    /// How many of the newest windows share one bad fraction: the split of the
    /// stored windows into newer and older that a likelihood-ratio test finds
    /// most significant, if significant enough; else all of them.
    fn since_change(&self) -> usize {
        let (total_bad, total_calls) = self
            .windows
            .iter()
            .fold((0, 0), |(b, n), &(wb, wn)| (b + wb, n + wn));
        let whole = log_likelihood(total_bad, total_calls);
        let (mut bad, mut calls) = (0, 0);
        let mut best = (CHANGE_EVIDENCE, self.windows.len());
        for (k, &(b, n)) in self
            .windows
            .iter()
            .enumerate()
            .take(self.windows.len().saturating_sub(1))
        {
            bad += b;
            calls += n;
            let g = 2.0
                * (log_likelihood(bad, calls)
                    + log_likelihood(total_bad - bad, total_calls - calls)
                    - whole);
            if g > best.0 {
                best = (g, k + 1);
            }
        }
        best.1
    }

    pub(crate) fn violated(&self) -> bool {
        self.violated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_data_is_not_sure_and_clean_calls_build_confidence() {
        let none = judge(0, 0, 0.01);
        assert!(none.over > CLEARED && none.over < AT_RISK, "{none:?}");
        assert!(none.margin.abs() < 1e-9);
        let clean = judge(0, 300, 0.01);
        assert!(clean.over < 0.01 && clean.margin > 1.0, "{clean:?}");
        // One slow call in 20 is a risk for a p99, not a confirmed violation.
        let one = judge(1, 20, 0.01);
        assert!(one.over < VIOLATED, "{one:?}");
        let broken = judge(30, 300, 0.01);
        assert!(broken.over > 0.999 && broken.margin < -1.0, "{broken:?}");
        assert!(judge(10_000, 10_000, 0.01).margin >= -MARGIN_CAP);
    }

    #[test]
    fn quiet_windows_pool_and_violations_clear_with_evidence() {
        let mut h = ObjectiveHealth::new(0.01);
        for _ in 0..10 {
            h.update(0, 15);
        }
        assert!(!h.violated());
        for _ in 0..3 {
            h.update(5, 15);
        }
        assert!(h.violated(), "{:?}", h.current());
        h.restart();
        assert!(h.violated(), "a violation stands until windows clear it");
        h.update(0, 15);
        assert!(h.violated(), "15 calls are not enough to clear a p99");
        for _ in 0..5 {
            h.update(0, 15);
        }
        assert!(!h.violated(), "{:?}", h.current());
    }
}
