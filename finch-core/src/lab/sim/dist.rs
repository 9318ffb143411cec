//! Service-time distributions: constant, exponential, lognormal (heavy tail) and Pareto.

use rand::{Rng, RngExt};

use super::error::{SimError, positive};

/// The standard normal quantile at 0.99.
pub const Z99: f64 = 2.326_347_874_040_840_8;

/// A distribution of durations (or of work, in seconds of one core at full speed).
///
/// Build it with the constructors, which validate their parameters; sampling
/// never fails and never allocates.
///
/// ```
/// use finch_core::lab::sim::Dist;
///
/// let d = Dist::lognormal_p99(0.004, 5.0)?; // mean 4 ms, p99 = 20 ms
/// assert!((d.mean() - 0.004).abs() < 1e-12);
/// assert!((d.quantile(0.99).unwrap_or(0.0) - 0.020).abs() < 1e-9);
/// # Ok::<(), finch_core::lab::sim::SimError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Always the same value.
    Const(f64),
    /// Exponential with this mean.
    Exp {
        /// The mean.
        mean: f64,
    },
    /// `exp(N(mu, sigma²))`.
    LogNormal {
        /// The mean of the underlying normal.
        mu: f64,
        /// The standard deviation of the underlying normal; it sets the tail.
        sigma: f64,
    },
    /// Pareto type I: `P(X > x) = (scale / x)^shape` for `x >= scale`.
    Pareto {
        /// The minimum value.
        scale: f64,
        /// The tail index; the mean is finite for `shape > 1`, the variance for `shape > 2`.
        shape: f64,
    },
}

impl Dist {
    /// A constant `value` (>= 0).
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `value` is negative or not finite.
    pub fn constant(value: f64) -> Result<Self, SimError> {
        super::error::non_negative("constant duration", value).map(Self::Const)
    }

    /// An exponential distribution with this `mean` (> 0).
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `mean` is not finite and positive.
    pub fn exp(mean: f64) -> Result<Self, SimError> {
        positive("exponential mean", mean).map(|mean| Self::Exp { mean })
    }

    /// A lognormal distribution with this `mean` and log-space standard deviation `sigma`.
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `mean` is not positive or `sigma` is negative or not finite.
    pub fn lognormal(mean: f64, sigma: f64) -> Result<Self, SimError> {
        let mean = positive("lognormal mean", mean)?;
        let sigma = super::error::non_negative("lognormal sigma", sigma)?;
        Ok(Self::LogNormal {
            mu: mean.ln() - sigma * sigma / 2.0,
            sigma,
        })
    }

    /// A lognormal distribution with this `mean` whose 99th percentile is
    /// `p99_over_mean` times the mean (a heavy tail for ratios of 3–10).
    ///
    /// `sigma` solves `exp(Z99·σ − σ²/2) = p99_over_mean` (the smaller root),
    /// which exists for `1 <= p99_over_mean <= exp(Z99²/2) ≈ 14.9`.
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `mean` is not positive or the ratio is outside `[1, 14.9]`.
    pub fn lognormal_p99(mean: f64, p99_over_mean: f64) -> Result<Self, SimError> {
        let mean = positive("lognormal mean", mean)?;
        let disc = Z99 * Z99 - 2.0 * p99_over_mean.ln();
        if !(p99_over_mean.is_finite() && p99_over_mean >= 1.0 && disc >= 0.0) {
            return Err(SimError::invalid(
                "lognormal p99/mean",
                p99_over_mean,
                "use a ratio in [1, 14.9]; for heavier tails use Dist::pareto",
            ));
        }
        Self::lognormal(mean, Z99 - disc.sqrt())
    }

    /// A Pareto distribution with this `mean` and tail index `shape` (> 1).
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `mean` is not positive or `shape <= 1`.
    pub fn pareto(mean: f64, shape: f64) -> Result<Self, SimError> {
        let mean = positive("pareto mean", mean)?;
        if !(shape.is_finite() && shape > 1.0) {
            return Err(SimError::invalid(
                "pareto shape",
                shape,
                "use a shape > 1 (the mean is infinite otherwise); 1.5–3 is heavy-tailed",
            ));
        }
        Ok(Self::Pareto {
            scale: mean * (shape - 1.0) / shape,
            shape,
        })
    }

    /// Checks the parameters of a distribution built without the constructors.
    ///
    /// # Errors
    /// [`SimError::Invalid`] naming the parameter out of its domain.
    pub fn validate(&self) -> Result<(), SimError> {
        match *self {
            Self::Const(v) => super::error::non_negative("constant duration", v).map(drop),
            Self::Exp { mean } => positive("exponential mean", mean).map(drop),
            Self::LogNormal { mu, sigma } => {
                if mu.is_finite() {
                    super::error::non_negative("lognormal sigma", sigma).map(drop)
                } else {
                    Err(SimError::invalid("lognormal mu", mu, "use a finite mu"))
                }
            }
            Self::Pareto { scale, shape } => {
                positive("pareto scale", scale)?;
                Self::pareto(1.0, shape).map(drop)
            }
        }
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        match *self {
            Self::Const(v) => v,
            Self::Exp { mean } => mean,
            Self::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Self::Pareto { scale, shape } => scale * shape / (shape - 1.0),
        }
    }

    /// The quantile at `p` in `(0, 1)`, or `None` for `p` outside it.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        if !(p > 0.0 && p < 1.0) {
            return None;
        }
        Some(match *self {
            Self::Const(v) => v,
            Self::Exp { mean } => -mean * (1.0 - p).ln(),
            Self::LogNormal { mu, sigma } => (mu + sigma * normal_quantile(p)).exp(),
            Self::Pareto { scale, shape } => scale / (1.0 - p).powf(1.0 / shape),
        })
    }

    /// Draws one value.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Self::Const(v) => v,
            Self::Exp { mean } => -mean * open_unit(rng).ln(),
            Self::LogNormal { mu, sigma } => (mu + sigma * standard_normal(rng)).exp(),
            Self::Pareto { scale, shape } => scale / open_unit(rng).powf(1.0 / shape),
        }
    }
}

/// A uniform draw in `(0, 1]`, safe to take the logarithm of.
pub(crate) fn open_unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    1.0 - rng.random::<f64>()
}

/// An exponential draw with this `rate` (> 0).
pub(crate) fn exp_with_rate<R: Rng + ?Sized>(rng: &mut R, rate: f64) -> f64 {
    -open_unit(rng).ln() / rate
}

/// A standard normal draw (Box–Muller, one of the pair).
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u = open_unit(rng);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn empirical(d: &Dist, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        xs
    }

    fn at(xs: &[f64], p: f64) -> f64 {
        xs[((xs.len() as f64) * p) as usize]
    }

    #[test]
    fn normal_quantile_matches_known_values() {
        assert!(normal_quantile(0.5).abs() < 1e-9);
        assert!((normal_quantile(0.99) - Z99).abs() < 1e-8);
        assert!((normal_quantile(0.9) - 1.281_551_565_544_600_4).abs() < 1e-8);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813).abs() < 1e-8);
    }

    #[test]
    fn lognormal_quantiles_match_theory() -> Result<(), SimError> {
        let d = Dist::lognormal_p99(0.010, 6.0)?;
        assert!((d.quantile(0.99).unwrap_or(0.0) - 0.060).abs() < 1e-9);
        let xs = empirical(&d, 400_000, 7);
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean / 0.010 - 1.0).abs() < 0.02, "mean {mean}");
        for p in [0.5, 0.9, 0.99, 0.999] {
            let want = d.quantile(p).unwrap_or(0.0);
            let got = at(&xs, p);
            let tol = if p > 0.995 { 0.06 } else { 0.02 };
            assert!((got / want - 1.0).abs() < tol, "p{p}: {got} vs {want}");
        }
        Ok(())
    }

    #[test]
    fn exponential_and_pareto_means_and_quantiles() -> Result<(), SimError> {
        for d in [Dist::exp(0.002)?, Dist::pareto(0.002, 2.5)?] {
            let xs = empirical(&d, 400_000, 11);
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            assert!((mean / d.mean() - 1.0).abs() < 0.03, "{d:?} mean {mean}");
            for p in [0.5, 0.9, 0.99] {
                let want = d.quantile(p).unwrap_or(0.0);
                assert!((at(&xs, p) / want - 1.0).abs() < 0.03, "{d:?} p{p}");
            }
        }
        Ok(())
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(Dist::exp(0.0).is_err());
        assert!(Dist::lognormal_p99(1.0, 20.0).is_err());
        assert!(Dist::lognormal_p99(1.0, 0.5).is_err());
        assert!(Dist::pareto(1.0, 1.0).is_err());
        assert!(Dist::constant(-1.0).is_err());
        assert_eq!(Dist::exp(1.0).ok().and_then(|d| d.quantile(1.0)), None);
    }
}
