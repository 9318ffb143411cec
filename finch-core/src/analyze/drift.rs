//! Shifts of an SLO's latency and errors against its own recent past, under an
//! unchanged configuration: the share of calls slower than the baseline's 90th
//! percentile, and the share of errors, each watched by two Bernoulli CUSUMs
//! (worse, better). When they move while the configuration and the workload
//! did not, the environment changed: an incident.

use serde::Serialize;

use super::stats::{Cusum, binomial_llr};

/// False alarms per window the drift detector allows per SLO, over all its statistics.
pub(crate) const DRIFT_ALARMS: f64 = 0.002;
/// The quantile of the baseline that splits slow calls from the others.
const REFERENCE: f64 = 0.9;
/// Calls, or windows, a baseline needs before shifts are looked for.
const BASELINE_CALLS: u64 = 400;
const BASELINE_WINDOWS: u32 = 60;
const MIN_BASELINE_CALLS: u64 = 50;
/// The odds ratio each CUSUM is tuned to detect (twice as many slow calls).
const ODDS: f64 = 2.0;

/// Which way an SLI moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Slower, or more errors.
    Worse,
    /// Faster, or fewer errors.
    Better,
}

/// A two-sided Bernoulli CUSUM with its baseline fraction.
#[derive(Default)]
struct FractionTest {
    bad: u64,
    calls: u64,
    worse: Cusum,
    better: Cusum,
}

impl FractionTest {
    fn baseline(&self) -> f64 {
        ((self.bad as f64 + 0.5) / (self.calls as f64 + 1.0)).clamp(1e-4, 0.45)
    }

    /// Tests one window against the baseline (if `ready`), then adds it to it.
    fn update(
        &mut self,
        bad: u64,
        calls: u64,
        ready: bool,
        threshold: f64,
    ) -> Option<(Direction, f64)> {
        let mut alarm = None;
        if ready && calls > 0 {
            let p0 = self.baseline();
            let worse = (p0 * ODDS).min(0.9);
            let better = p0 / ODDS;
            let up = binomial_llr(bad, calls, p0, worse);
            let down = binomial_llr(bad, calls, p0, better);
            let (s_up, s_down) = (self.worse.statistic() + up, self.better.statistic() + down);
            if self.worse.update(up, threshold) {
                alarm = Some((Direction::Worse, s_up));
            } else if self.better.update(down, threshold) {
                alarm = Some((Direction::Better, s_down));
            }
        }
        self.bad += bad;
        self.calls += calls;
        alarm
    }
}

/// One SLO's drift detector.
pub(crate) struct Drift {
    /// The pooled histogram of the baseline windows.
    histogram: Vec<u64>,
    windows: u32,
    /// The bucket above which a call is slow, once the baseline is ready.
    reference: Option<usize>,
    slow: FractionTest,
    errors: FractionTest,
}

impl Drift {
    pub(crate) fn new() -> Self {
        Drift {
            histogram: Vec::new(),
            windows: 0,
            reference: None,
            slow: FractionTest::default(),
            errors: FractionTest::default(),
        }
    }

    /// Forgets the baseline (the configuration or the workload changed).
    pub(crate) fn restart(&mut self) {
        *self = Drift::new();
    }

    /// One window: its histogram, calls and errors. On a shift, its direction
    /// and the evidence (log-likelihood ratio) for it; the baseline then restarts.
    pub(crate) fn update(
        &mut self,
        histogram: &[u64],
        calls: u64,
        errors: u64,
    ) -> Option<(Direction, f64)> {
        let threshold = threshold();
        let ready = self.reference.is_some();
        let slow = self
            .reference
            .map_or(0, |r| histogram.iter().skip(r + 1).sum::<u64>());
        let alarm = match self.reference {
            Some(_) => self.slow.update(slow, calls, true, threshold),
            None => None,
        }
        .or_else(|| self.errors.update(errors, calls, ready, threshold));
        if alarm.is_some() {
            self.restart();
            return alarm;
        }
        if self.histogram.len() != histogram.len() {
            self.histogram = vec![0; histogram.len()];
        }
        for (a, b) in self.histogram.iter_mut().zip(histogram) {
            *a += b;
        }
        self.windows += 1;
        let pooled: u64 = self.histogram.iter().sum();
        if self.reference.is_none()
            && (pooled >= BASELINE_CALLS
                || (self.windows >= BASELINE_WINDOWS && pooled >= MIN_BASELINE_CALLS))
        {
            let rank = (REFERENCE * pooled as f64).ceil() as u64;
            let mut seen = 0;
            let r = self.histogram.iter().position(|&c| {
                seen += c;
                seen >= rank
            });
            if let Some(r) = r {
                self.reference = Some(r);
                self.slow.bad = self.histogram.iter().skip(r + 1).sum();
                self.slow.calls = pooled;
            }
        }
        None
    }
}

fn threshold() -> f64 {
    (4.0 / DRIFT_ALARMS).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(slow_from: usize, calls: u64) -> Vec<u64> {
        let mut h = vec![0; 64];
        for i in 0..calls {
            h[slow_from + (i % 10) as usize] += 1;
        }
        h
    }

    #[test]
    fn a_steady_slo_does_not_drift_but_a_slower_one_does() {
        let mut d = Drift::new();
        for _ in 0..100 {
            assert_eq!(d.update(&window(10, 100), 100, 1), None);
        }
        let mut alarm = None;
        for _ in 0..3 {
            alarm = alarm.or(d.update(&window(20, 100), 100, 1));
        }
        let (dir, evidence) = alarm.expect("twice as slow");
        assert_eq!(dir, Direction::Worse);
        assert!(evidence > threshold());
        assert!(d.reference.is_none(), "the baseline restarts");
    }
}
