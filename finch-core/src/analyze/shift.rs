//! Workload-shift detection: the request rate or the mix moved away from its
//! recent average.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::monitor::Observation;

/// A detected change of workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shift {
    /// Recent average total rate (requests per second).
    pub from_rate: f64,
    /// This window's total rate.
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

/// Smoothing of the baseline.
const ALPHA: f64 = 0.3;
/// Relative rate change that counts as a shift.
const RATE_CHANGE: f64 = 0.25;
/// Mix change that counts as a shift.
const MIX_CHANGE: f64 = 0.15;
/// Below this rate (requests per second) the rate is too noisy to judge.
const MIN_RATE: f64 = 1.0;

/// Windows over which a rise is measured.
const RECENT: usize = 4;
/// A rise of this much over the recent minimum counts as rising.
const RISE: f64 = 0.1;

#[derive(Default)]
pub(crate) struct ShiftDetector {
    rate: Option<f64>,
    mix: BTreeMap<String, f64>,
    recent: VecDeque<f64>,
}

impl ShiftDetector {
    /// A shift, if this window is one, and whether the rate is rising.
    pub(crate) fn update(&mut self, obs: &Observation) -> (Option<Shift>, bool) {
        let total = obs.total_rate();
        let floor = self.recent.iter().copied().reduce(f64::min);
        let rising = floor.is_some_and(|f| total > f * (1.0 + RISE) && total >= MIN_RATE);
        self.recent.push_back(total);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
        (self.shift(obs), rising)
    }

    fn shift(&mut self, obs: &Observation) -> Option<Shift> {
        let rates: Vec<(&String, f64)> = obs
            .workload
            .iter()
            .filter(|(k, _)| k.ends_with("/rate"))
            .map(|(k, v)| (k, *v))
            .collect();
        let total: f64 = rates.iter().map(|(_, v)| v).sum();
        let mix: BTreeMap<String, f64> = rates
            .iter()
            .map(|(k, v)| ((*k).clone(), if total > 0.0 { v / total } else { 0.0 }))
            .collect();
        let Some(base) = self.rate else {
            self.rate = Some(total);
            self.mix = mix;
            return None;
        };
        let mix_change = 0.5
            * mix
                .iter()
                .map(|(k, v)| (v - self.mix.get(k).copied().unwrap_or(0.0)).abs())
                .sum::<f64>();
        let rate_change = (total - base).abs() / base.max(MIN_RATE);
        let shifted =
            (base.max(total) >= MIN_RATE) && (rate_change > RATE_CHANGE || mix_change > MIX_CHANGE);
        let shift = shifted.then_some(Shift {
            from_rate: base,
            to_rate: total,
            mix_change,
        });
        if shifted {
            // Adopt the new level at once: one shift, not one per window.
            self.rate = Some(total);
            self.mix = mix;
        } else {
            self.rate = Some(base + ALPHA * (total - base));
            for (k, v) in mix {
                let e = self.mix.entry(k).or_insert(v);
                *e += ALPHA * (v - *e);
            }
        }
        shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(a: f64, b: f64) -> Observation {
        Observation {
            instance: "t".into(),
            seq: 0,
            at_ms: 0,
            length_secs: 1.0,
            generation: 0,
            clean: true,
            knobs: BTreeMap::new(),
            workload: [("a/rate".to_string(), a), ("b/rate".to_string(), b)].into(),
            signals: BTreeMap::new(),
            slis: BTreeMap::new(),
        }
    }

    #[test]
    fn steady_noise_is_not_a_shift_but_a_jump_or_a_mix_change_is() {
        let mut d = ShiftDetector::default();
        for i in 0..50 {
            let noise = if i % 2 == 0 { 1.05 } else { 0.95 };
            assert!(
                d.update(&obs(100.0 * noise, 50.0 * noise)).0.is_none(),
                "{i}"
            );
        }
        let (s, rising) = d.update(&obs(200.0, 100.0));
        let s = s.expect("rate doubled");
        assert!(rising);
        assert!(s.to_rate > s.from_rate * 1.8);
        assert!(
            d.update(&obs(200.0, 100.0)).0.is_none(),
            "one shift, not two"
        );
        let m = d.update(&obs(100.0, 200.0)).0.expect("mix flipped");
        assert!(m.mix_change > 0.3);
    }
}
