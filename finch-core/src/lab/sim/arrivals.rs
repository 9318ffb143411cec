//! Arrival processes (Poisson, batch Poisson, two-state MMPP) at a rate that can
//! change at any time, and the mix of operations that arrivals carry.

use rand::{Rng, RngExt};

use super::dist::{exp_with_rate, open_unit};
use super::error::{SimError, non_negative, positive};

/// How arrivals cluster around their mean rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Burstiness {
    /// A Poisson process: independent arrivals (index of dispersion 1).
    Poisson,
    /// Batch Poisson: batches arrive as a Poisson process at `rate / mean_size`
    /// and carry a geometric number of requests with mean `mean_size`, all at
    /// the same instant. The index of dispersion of counts is `2·mean_size − 1`.
    Batch {
        /// The mean batch size (>= 1); 1 is plain Poisson.
        mean_size: f64,
    },
    /// A two-state Markov-modulated Poisson process: bursts at `peak` times
    /// the mean rate for a `burst_share` of the time, in bursts of mean
    /// duration `mean_burst` seconds, and a quieter rate between them so that
    /// the long-run mean is the rate set. `peak` is the burstiness parameter:
    /// the peak-to-mean ratio.
    Mmpp {
        /// The rate during a burst over the mean rate (>= 1, `peak·burst_share <= 1`).
        peak: f64,
        /// The long-run fraction of time spent in bursts, in `(0, 1)`.
        burst_share: f64,
        /// The mean duration of a burst, in seconds (> 0).
        mean_burst: f64,
    },
}

/// An arrival process whose mean rate (requests per second) is piecewise
/// constant: [`Arrivals::set_rate`] changes it at any time, effective at once
/// (the processes are memoryless, so the next arrival is redrawn from then).
#[derive(Debug, Clone)]
pub struct Arrivals {
    kind: Burstiness,
    rate: f64,
    /// MMPP state; starts `true` with a switch due at 0, so that a run starts quiet.
    in_burst: bool,
    switch_at: f64,
}

impl Arrivals {
    /// A process of this kind at rate 0; parameters are validated.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for a batch size below 1, or MMPP parameters
    /// outside `peak >= 1`, `0 < burst_share < 1`, `peak·burst_share <= 1`,
    /// `mean_burst > 0`.
    pub fn new(kind: Burstiness) -> Result<Self, SimError> {
        match kind {
            Burstiness::Poisson => {}
            Burstiness::Batch { mean_size } => {
                if !(mean_size.is_finite() && mean_size >= 1.0) {
                    return Err(SimError::invalid(
                        "batch mean size",
                        mean_size,
                        "use a mean batch size >= 1 (1 is plain Poisson)",
                    ));
                }
            }
            Burstiness::Mmpp {
                peak,
                burst_share,
                mean_burst,
            } => {
                positive("MMPP mean burst", mean_burst)?;
                if !(burst_share > 0.0 && burst_share < 1.0) {
                    return Err(SimError::invalid(
                        "MMPP burst share",
                        burst_share,
                        "use a fraction of time in (0, 1)",
                    ));
                }
                if !(peak.is_finite() && peak >= 1.0 && peak * burst_share <= 1.0) {
                    return Err(SimError::invalid(
                        "MMPP peak",
                        peak,
                        "use a peak-to-mean ratio >= 1 with peak * burst_share <= 1",
                    ));
                }
            }
        }
        Ok(Self {
            kind,
            rate: 0.0,
            in_burst: true,
            switch_at: 0.0,
        })
    }

    /// A Poisson process at rate 0.
    pub fn poisson() -> Self {
        Self {
            kind: Burstiness::Poisson,
            rate: 0.0,
            in_burst: true,
            switch_at: 0.0,
        }
    }

    /// The kind of process.
    pub fn kind(&self) -> Burstiness {
        self.kind
    }

    /// The mean rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Sets the mean rate (>= 0, requests per second); 0 stops arrivals.
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `rate` is negative or not finite.
    pub fn set_rate(&mut self, rate: f64) -> Result<(), SimError> {
        self.rate = non_negative("arrival rate", rate)?;
        Ok(())
    }

    /// The time of the next arrival after `now` and how many requests arrive
    /// then, or `None` while the rate is 0.
    pub fn next<R: Rng + ?Sized>(&mut self, now: f64, rng: &mut R) -> Option<(f64, u32)> {
        if self.rate <= 0.0 {
            return None;
        }
        match self.kind {
            Burstiness::Poisson => Some((now + exp_with_rate(rng, self.rate), 1)),
            Burstiness::Batch { mean_size } => {
                let at = now + exp_with_rate(rng, self.rate / mean_size);
                Some((at, geometric(rng, mean_size)))
            }
            Burstiness::Mmpp {
                peak,
                burst_share,
                mean_burst,
            } => {
                let quiet = (1.0 - peak * burst_share) / (1.0 - burst_share);
                let mean_quiet = mean_burst * (1.0 - burst_share) / burst_share;
                let mut t = now;
                loop {
                    while self.switch_at <= t {
                        self.in_burst = !self.in_burst;
                        let mean = if self.in_burst {
                            mean_burst
                        } else {
                            mean_quiet
                        };
                        self.switch_at += exp_with_rate(rng, 1.0 / mean);
                    }
                    let factor = if self.in_burst { peak } else { quiet };
                    if factor > 0.0 {
                        let at = t + exp_with_rate(rng, self.rate * factor);
                        if at < self.switch_at {
                            return Some((at, 1));
                        }
                    }
                    t = self.switch_at;
                }
            }
        }
    }
}

/// A geometric draw on `{1, 2, ...}` with this mean (>= 1).
fn geometric<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> u32 {
    if mean <= 1.0 {
        return 1;
    }
    let extra = (open_unit(rng).ln() / (1.0 - 1.0 / mean).ln()).floor();
    1 + extra.min(f64::from(u32::MAX - 1)) as u32
}

/// The mix of operations: each arrival draws an operation index with
/// probability proportional to its share.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    cumulative: Vec<f64>,
}

impl Mix {
    /// A mix with these shares (>= 0, not all 0; they need not sum to 1).
    ///
    /// # Errors
    /// [`SimError::Invalid`] if a share is negative or not finite, or all are 0.
    pub fn new(shares: &[f64]) -> Result<Self, SimError> {
        let mut mix = Self {
            cumulative: Vec::with_capacity(shares.len()),
        };
        mix.set_shares(shares)?;
        Ok(mix)
    }

    /// Replaces the shares (the number of operations may change).
    ///
    /// # Errors
    /// As [`Mix::new`]; the mix is unchanged on error.
    pub fn set_shares(&mut self, shares: &[f64]) -> Result<(), SimError> {
        let mut total = 0.0;
        for &s in shares {
            total += non_negative("operation share", s)?;
        }
        if total <= 0.0 {
            return Err(SimError::invalid(
                "sum of operation shares",
                total,
                "give at least one operation a share > 0",
            ));
        }
        self.cumulative.clear();
        let mut acc = 0.0;
        for &s in shares {
            acc += s / total;
            self.cumulative.push(acc);
        }
        Ok(())
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Whether the mix has no operation.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The share of operation `index`, normalized to sum to 1.
    pub fn share(&self, index: usize) -> f64 {
        let hi = self.cumulative.get(index).copied().unwrap_or(0.0);
        let lo = match index {
            0 => 0.0,
            i => self.cumulative.get(i - 1).copied().unwrap_or(hi),
        };
        hi - lo
    }

    /// Draws an operation index.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let u: f64 = rng.random();
        let i = self.cumulative.partition_point(|&c| c <= u);
        i.min(self.cumulative.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Counts arrivals in consecutive 1 s windows over `[0, seconds)`.
    fn counts(a: &mut Arrivals, seconds: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = vec![0.0; seconds];
        let mut t = 0.0;
        while let Some((at, n)) = a.next(t, &mut rng) {
            if at >= seconds as f64 {
                break;
            }
            out[at as usize] += f64::from(n);
            t = at;
        }
        out
    }

    fn mean_var(xs: &[f64]) -> (f64, f64) {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64;
        (m, v)
    }

    #[test]
    fn each_process_keeps_its_mean_rate_and_dispersion() -> Result<(), SimError> {
        let cases = [
            (Burstiness::Poisson, 200.0, 4_000, 1.0),
            (Burstiness::Batch { mean_size: 4.0 }, 200.0, 4_000, 7.0),
            (
                Burstiness::Mmpp {
                    peak: 3.0,
                    burst_share: 0.2,
                    mean_burst: 5.0,
                },
                20.0,
                40_000,
                f64::NAN,
            ),
        ];
        for (kind, rate, seconds, dispersion) in cases {
            let mut a = Arrivals::new(kind)?;
            a.set_rate(rate)?;
            let (m, v) = mean_var(&counts(&mut a, seconds, 3));
            assert!((m / rate - 1.0).abs() < 0.03, "{kind:?}: mean {m}");
            if dispersion.is_nan() {
                assert!(
                    v / m > 10.0,
                    "{kind:?}: MMPP should be overdispersed, {}",
                    v / m
                );
            } else {
                assert!(
                    (v / m / dispersion - 1.0).abs() < 0.1,
                    "{kind:?}: {}",
                    v / m
                );
            }
        }
        Ok(())
    }

    #[test]
    fn rate_changes_take_effect_and_zero_stops() -> Result<(), SimError> {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut a = Arrivals::poisson();
        assert!(a.next(0.0, &mut rng).is_none());
        a.set_rate(1500.0)?;
        let mut t = 0.0;
        let mut n = 0;
        while let Some((at, _)) = a.next(t, &mut rng) {
            if at > 10.0 {
                break;
            }
            t = at;
            n += 1;
        }
        assert!((f64::from(n) / 15_000.0 - 1.0).abs() < 0.03, "{n}");
        assert!(a.set_rate(-1.0).is_err());
        a.set_rate(0.0)?;
        assert!(a.next(t, &mut rng).is_none());
        Ok(())
    }

    #[test]
    fn mix_follows_shares() -> Result<(), SimError> {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mix = Mix::new(&[3.0, 1.0, 0.0])?;
        let mut seen = [0u32; 3];
        for _ in 0..100_000 {
            seen[mix.sample(&mut rng)] += 1;
        }
        assert!((f64::from(seen[0]) / 75_000.0 - 1.0).abs() < 0.02);
        assert_eq!(seen[2], 0);
        assert!((mix.share(1) - 0.25).abs() < 1e-12);
        assert!(Mix::new(&[0.0]).is_err());
        Ok(())
    }
}
