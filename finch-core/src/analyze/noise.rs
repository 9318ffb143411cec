//! How noisy each SLI is from one window to the next under the same
//! configuration and load, so the planner keeps a margin the noise cannot eat.

use std::collections::BTreeMap;

/// Smoothing of the variance estimate.
const ALPHA: f64 = 0.05;
/// Consecutive windows count as comparable below this relative rate change.
const SAME_LOAD: f64 = 0.1;
/// Pairs seen before the estimate is used.
const WARMUP: u32 = 5;
/// One-sided z for a 5 % chance that noise alone breaks the margin.
const Z: f64 = 1.645;
/// The largest margin noise can ask for.
const CAP: f64 = 0.6;

#[derive(Default)]
struct Track {
    last: Option<f64>,
    variance: f64,
    pairs: u32,
}

#[derive(Default)]
pub(crate) struct Noise {
    tracks: Vec<Track>,
    last_knobs: BTreeMap<String, f64>,
    last_rate: f64,
}

impl Noise {
    /// Feeds one window: each goal's SLI on a comparable scale (natural log of a
    /// latency; an error ratio divided by its bound), `None` if not measured.
    pub(crate) fn update(
        &mut self,
        knobs: &BTreeMap<String, f64>,
        rate: f64,
        values: &[Option<f64>],
    ) {
        if self.tracks.len() != values.len() {
            self.tracks = values.iter().map(|_| Track::default()).collect();
        }
        let comparable = *knobs == self.last_knobs
            && (rate - self.last_rate).abs() <= SAME_LOAD * self.last_rate.max(1.0);
        for (t, v) in self.tracks.iter_mut().zip(values) {
            if let (true, Some(prev), Some(now)) = (comparable, t.last, v) {
                let d2 = (now - prev).powi(2) / 2.0;
                t.pairs += 1;
                let a = ALPHA.max(1.0 / f64::from(t.pairs));
                t.variance += a * (d2 - t.variance);
            }
            t.last = *v;
        }
        self.last_knobs.clone_from(knobs);
        self.last_rate = rate;
    }

    /// The standard deviation of each goal's SLI between comparable windows,
    /// once enough pairs were seen.
    pub(crate) fn sigma(&self) -> Vec<Option<f64>> {
        self.tracks
            .iter()
            .map(|t| (t.pairs >= WARMUP).then(|| t.variance.sqrt()))
            .collect()
    }
}

/// The margin a goal needs: the configured one, or more if noise asks for it.
/// `latency`: sigma is in natural-log units; otherwise relative to the bound.
pub(crate) fn needed_margin(configured: f64, sigma: Option<f64>, latency: bool) -> f64 {
    let Some(s) = sigma else { return configured };
    let from_noise = if latency { 1.0 - (-Z * s).exp() } else { Z * s };
    configured.max(from_noise.min(CAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_of_comparable_windows_sets_the_margin() {
        let mut n = Noise::default();
        let knobs: BTreeMap<String, f64> = [("w".to_string(), 4.0)].into();
        for i in 0..200 {
            let v = if i % 2 == 0 { 0.2 } else { -0.2 };
            n.update(&knobs, 100.0, &[Some(v), None]);
        }
        let s = n.sigma();
        // Alternating ±0.2: consecutive differences of 0.4, sigma = 0.4 / sqrt(2).
        assert!((s[0].unwrap() - 0.4 / 2f64.sqrt()).abs() < 1e-6);
        assert_eq!(s[1], None);
        let m = needed_margin(0.1, s[0], true);
        assert!(m > 0.3 && m <= CAP, "{m}");
        assert_eq!(needed_margin(0.1, None, true), 0.1);
    }

    #[test]
    fn windows_under_other_knobs_or_load_are_not_compared() {
        let mut n = Noise::default();
        for i in 0..50 {
            let knobs: BTreeMap<String, f64> = [("w".to_string(), f64::from(i))].into();
            n.update(&knobs, 100.0, &[Some(f64::from(i))]);
        }
        assert_eq!(n.sigma()[0], None);
    }
}
