//! Workload changes from call counts: a shift of the rate or the mix (two-sided
//! Poisson CUSUMs on each SLO's calls and on their total) and a trend (a score
//! test for a log-linear slope over the last windows). Both are tuned to a
//! false-alarm rate per window, whatever the request rate.

use std::collections::VecDeque;

use serde::Serialize;

use super::stats::{Cusum, poisson_llr};

/// A detected change of workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shift {
    /// The rate before the change (requests per second, every SLO together).
    pub from_rate: f64,
    /// The rate since the change.
    pub to_rate: f64,
    /// How far the mix moved (half the L1 distance of request shares, 0..=1).
    pub mix_change: f64,
}

impl Shift {
    /// Whether the mix of requests moved (not only their rate).
    pub fn mix_changed(&self) -> bool {
        self.mix_change > MIX_CHANGE
    }
}

/// The direction of a trend in the request rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// The rate climbs.
    Rising,
    /// The rate falls.
    Falling,
}

/// Mix change that counts as a new mix.
const MIX_CHANGE: f64 = 0.15;
/// False alarms per window the shift detector allows, over all its statistics.
pub(crate) const SHIFT_ALARMS: f64 = 0.002;
/// The relative rate change each CUSUM is tuned to detect.
const RATE_STEP: f64 = 0.3;
/// Calls, or windows, the baseline rate needs before changes are looked for.
const BASELINE_CALLS: f64 = 300.0;
const BASELINE_WINDOWS: u32 = 60;
const MIN_BASELINE_WINDOWS: u32 = 5;
/// Expected calls per window below this count as this (an idle SLO is not a
/// reference for a rate).
const MIN_EXPECTED: f64 = 0.5;
/// Windows in the trend test.
const TREND_WINDOWS: usize = 12;
/// One-sided z of the trend test (0.25 % per side per window).
const TREND_Z: f64 = 2.807;
/// Calls the trend test needs over its windows.
const TREND_CALLS: u64 = 30;

/// A two-sided CUSUM on one count with its baseline rate.
#[derive(Default)]
struct RateTest {
    calls: f64,
    secs: f64,
    windows: u32,
    up: Cusum,
    down: Cusum,
    /// Calls and seconds since each CUSUM last stood at zero.
    up_since: (f64, f64),
    down_since: (f64, f64),
}

impl RateTest {
    fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.calls / self.secs
        } else {
            0.0
        }
    }

    fn ready(&self) -> bool {
        self.windows >= MIN_BASELINE_WINDOWS
            && (self.calls >= BASELINE_CALLS || self.windows >= BASELINE_WINDOWS)
    }

    /// One window of `x` calls over `secs`; `Some(new rate)` on a shift.
    fn update(&mut self, x: u64, secs: f64, threshold: f64) -> Option<f64> {
        let mut alarm = None;
        if self.ready() {
            let mean0 = (self.rate() * secs).max(MIN_EXPECTED);
            let up = self
                .up
                .update(poisson_llr(x, mean0, 1.0 + RATE_STEP), threshold);
            let down = self
                .down
                .update(poisson_llr(x, mean0, 1.0 - RATE_STEP), threshold);
            self.up_since = if self.up.run() > 0 || up {
                (self.up_since.0 + x as f64, self.up_since.1 + secs)
            } else {
                (0.0, 0.0)
            };
            self.down_since = if self.down.run() > 0 || down {
                (self.down_since.0 + x as f64, self.down_since.1 + secs)
            } else {
                (0.0, 0.0)
            };
            let since = if up {
                Some(self.up_since)
            } else if down {
                Some(self.down_since)
            } else {
                None
            };
            if let Some((calls, s)) = since {
                // The new level, measured since the change began.
                self.restart();
                self.calls = calls;
                self.secs = s;
                alarm = Some(self.rate());
                return alarm;
            }
        }
        self.calls += x as f64;
        self.secs += secs;
        self.windows += 1;
        alarm
    }

    fn restart(&mut self) {
        *self = RateTest {
            windows: MIN_BASELINE_WINDOWS,
            ..RateTest::default()
        };
    }

    /// The larger of the two statistics, relative to the alarm threshold.
    fn pressure(&self, threshold: f64) -> f64 {
        self.up.statistic().max(self.down.statistic()) / threshold
    }
}

#[derive(Default)]
pub(crate) struct ShiftDetector {
    total: RateTest,
    each: Vec<RateTest>,
    /// The newest windows' total calls and lengths.
    recent: VecDeque<(u64, f64)>,
}

impl ShiftDetector {
    /// One window's calls started per SLO, over `secs`: a shift, if this window
    /// completes one, and a trend, if the rate moves steadily.
    pub(crate) fn update(&mut self, started: &[u64], secs: f64) -> (Option<Shift>, Option<Trend>) {
        if self.each.len() != started.len() {
            self.each = started.iter().map(|_| RateTest::default()).collect();
        }
        let total: u64 = started.iter().sum();
        // Per SLO only with several SLOs (with one, its rate is the total).
        let statistics = if started.len() > 1 {
            2 * (started.len() + 1)
        } else {
            2
        };
        let threshold = (statistics as f64 / SHIFT_ALARMS).ln();
        let before_total = self.total.rate();
        let before_mix = self.shares();
        let mut shifted = self.total.update(total, secs, threshold).is_some();
        if started.len() > 1 {
            for (t, &x) in self.each.iter_mut().zip(started) {
                shifted |= t.update(x, secs, threshold).is_some();
            }
        }
        let shift = shifted.then(|| {
            let after = self.shares();
            let mix_change = 0.5
                * before_mix
                    .iter()
                    .zip(&after)
                    .map(|(a, b)| (a - b).abs())
                    .sum::<f64>();
            Shift {
                from_rate: before_total,
                to_rate: self.total.rate(),
                mix_change,
            }
        });
        self.recent.push_back((total, secs));
        if self.recent.len() > TREND_WINDOWS {
            self.recent.pop_front();
        }
        (shift, self.trend())
    }

    /// How close the rate statistics are to an alarm (1 = at the threshold).
    pub(crate) fn pressure(&self) -> f64 {
        let threshold = (2.0 / SHIFT_ALARMS).ln();
        self.each
            .iter()
            .chain([&self.total])
            .map(|t| t.pressure(threshold))
            .fold(0.0, f64::max)
    }

    fn shares(&self) -> Vec<f64> {
        let rates: Vec<f64> = self.each.iter().map(RateTest::rate).collect();
        let sum: f64 = rates.iter().sum();
        rates
            .iter()
            .map(|r| if sum > 0.0 { r / sum } else { 0.0 })
            .collect()
    }

    /// A score test for a log-linear slope of the rate over the last windows.
    fn trend(&self) -> Option<Trend> {
        if self.recent.len() < TREND_WINDOWS {
            return None;
        }
        let calls: u64 = self.recent.iter().map(|w| w.0).sum();
        let secs: f64 = self.recent.iter().map(|w| w.1).sum();
        if calls < TREND_CALLS || secs <= 0.0 {
            return None;
        }
        let rate = calls as f64 / secs;
        // Time at each window's middle, weighted by its length.
        let mut t = 0.0;
        let mut mids = Vec::with_capacity(self.recent.len());
        for &(_, s) in &self.recent {
            mids.push(t + s / 2.0);
            t += s;
        }
        let mean_t = mids
            .iter()
            .zip(&self.recent)
            .map(|(m, w)| m * w.1)
            .sum::<f64>()
            / secs;
        let score: f64 = mids
            .iter()
            .zip(&self.recent)
            .map(|(m, w)| (m - mean_t) * w.0 as f64)
            .sum();
        let variance: f64 = mids
            .iter()
            .zip(&self.recent)
            .map(|(m, w)| (m - mean_t).powi(2) * rate * w.1)
            .sum();
        if variance <= 0.0 {
            return None;
        }
        let z = score / variance.sqrt();
        if z > TREND_Z {
            Some(Trend::Rising)
        } else if z < -TREND_Z {
            Some(Trend::Falling)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn steady_counts_are_not_a_shift_but_a_jump_or_a_mix_change_is() {
        let mut d = ShiftDetector::default();
        for i in 0..60 {
            let wobble = if i % 2 == 0 { 5 } else { 0 };
            let (s, t) = d.update(&[100 + wobble, 50 + wobble], 1.0);
            assert!(s.is_none() && t.is_none(), "{i}");
        }
        let mut found = None;
        for _ in 0..3 {
            found = found.or(d.update(&[200, 100], 1.0).0);
        }
        let s = found.expect("the rate doubled");
        assert!(s.to_rate > s.from_rate * 1.8, "{s:?}");
        assert!(!s.mix_changed());
        for _ in 0..60 {
            assert!(d.update(&[200, 100], 1.0).0.is_none(), "one shift, not two");
        }
        let mut flipped = None;
        for _ in 0..3 {
            flipped = flipped.or(d.update(&[100, 200], 1.0).0);
        }
        let m = flipped.expect("the mix flipped");
        assert!(m.mix_changed(), "{m:?}");
    }

    /// A Poisson count with mean `mean` (exponential inter-arrivals).
    fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
        let (mut t, mut n) = (0.0, 0);
        loop {
            let u: f64 = rng.random_range(1e-12..1.0);
            t += -u.ln() / mean;
            if t >= 1.0 {
                return n;
            }
            n += 1;
        }
    }

    #[test]
    fn a_mix_change_at_a_steady_total_is_a_shift_and_a_steady_mix_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut d = ShiftDetector::default();
        let mut false_alarms = 0;
        for _ in 0..2000 {
            let counts = [poisson(&mut rng, 35.0), poisson(&mut rng, 15.0)];
            false_alarms += u32::from(d.update(&counts, 1.0).0.is_some());
        }
        assert!(
            false_alarms <= 20,
            "{false_alarms} false alarms in 2000 windows"
        );
        let flipped = (1..=10).find_map(|k| {
            let counts = [poisson(&mut rng, 15.0), poisson(&mut rng, 35.0)];
            d.update(&counts, 1.0).0.map(|s| (k, s))
        });
        let (k, s) = flipped.expect("the mix flipped");
        assert!(s.mix_changed(), "after {k} windows: {s:?}");
    }

    #[test]
    fn a_steady_climb_is_a_trend() {
        let mut d = ShiftDetector::default();
        let mut trend = None;
        for i in 0..12u64 {
            trend = d.update(&[100 + 10 * i], 1.0).1;
        }
        assert_eq!(trend, Some(Trend::Rising));
    }
}
