//! The statistics the analysis rests on: the Beta distribution's tail, and
//! sequential likelihood-ratio tests (CUSUM to detect a change, Wald's SPRT to
//! judge one) on counts.

/// The natural log of the gamma function (Lanczos, |error| < 1e-14 for x > 0).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=500 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-13 {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function `I_x(a, b)`: P(X <= x) for X ~ Beta(a, b).
pub(crate) fn beta_cdf(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    let p = if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    };
    p.clamp(0.0, 1.0)
}

/// The log-likelihood ratio of `bad` bad events in `n` trials under a bad
/// fraction `p1` against `p0` (both in (0, 1)).
pub(crate) fn binomial_llr(bad: u64, n: u64, p0: f64, p1: f64) -> f64 {
    let good = n.saturating_sub(bad) as f64;
    bad as f64 * (p1 / p0).ln() + good * ((1.0 - p1) / (1.0 - p0)).ln()
}

/// The log-likelihood ratio of `x` events where `mean0` were expected, under a
/// mean `ratio` times larger against the expected one.
pub(crate) fn poisson_llr(x: u64, mean0: f64, ratio: f64) -> f64 {
    x as f64 * ratio.ln() - (ratio - 1.0) * mean0
}

/// A one-sided CUSUM of log-likelihood ratios: alarms when the evidence for a
/// change since the last time it was at zero exceeds `ln(1 / alpha)`, which
/// keeps the average run between false alarms at `1 / alpha` windows or more.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cusum {
    s: f64,
    /// Windows since the statistic last stood at zero: the change began then.
    run: u32,
}

impl Cusum {
    /// Adds one window's log-likelihood ratio; `true` on an alarm (then restarts).
    pub(crate) fn update(&mut self, llr: f64, threshold: f64) -> bool {
        self.s = (self.s + llr).max(0.0);
        self.run = if self.s > 0.0 { self.run + 1 } else { 0 };
        if self.s > threshold {
            self.reset();
            return true;
        }
        false
    }

    /// The evidence gathered so far.
    pub(crate) fn statistic(&self) -> f64 {
        self.s
    }

    /// Windows since the estimated start of a change.
    pub(crate) fn run(&self) -> u32 {
        self.run
    }

    pub(crate) fn reset(&mut self) {
        self.s = 0.0;
        self.run = 0;
    }
}

/// What a sequential test concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conclusion {
    /// The alternative (an effect) is accepted.
    Effect,
    /// The null (no effect) is accepted.
    NoEffect,
}

/// Wald's sequential probability ratio test with error rates `alpha` (false
/// effect) and `beta` (missed effect).
#[derive(Clone, Debug)]
pub(crate) struct Sprt {
    llr: f64,
    upper: f64,
    lower: f64,
}

impl Sprt {
    pub(crate) fn new(alpha: f64, beta: f64) -> Self {
        Sprt {
            llr: 0.0,
            upper: ((1.0 - beta) / alpha).ln(),
            lower: (beta / (1.0 - alpha)).ln(),
        }
    }

    /// Adds one window's log-likelihood ratio (effect against none).
    pub(crate) fn update(&mut self, llr: f64) -> Option<Conclusion> {
        if llr.is_finite() {
            self.llr += llr;
        }
        if self.llr >= self.upper {
            Some(Conclusion::Effect)
        } else if self.llr <= self.lower {
            Some(Conclusion::NoEffect)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut fact = 1.0f64;
        for n in 1..20 {
            assert!((ln_gamma(f64::from(n)) - fact.ln()).abs() < 1e-10, "{n}");
            fact *= f64::from(n);
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn beta_cdf_matches_closed_forms() {
        // Beta(1, b): 1 - (1 - x)^b; Beta(a, 1): x^a.
        for &x in &[1e-4, 0.01, 0.2, 0.5, 0.9] {
            let want = 1.0 - (1.0f64 - x).powf(50.0);
            assert!((beta_cdf(x, 1.0, 50.0) - want).abs() < 1e-10, "{x}");
            assert!((beta_cdf(x, 3.0, 1.0) - x.powi(3)).abs() < 1e-10, "{x}");
        }
        // Symmetry: I_x(a, b) = 1 - I_{1-x}(b, a).
        let (a, b, x) = (4.5, 900.0, 0.006);
        assert!((beta_cdf(x, a, b) + beta_cdf(1.0 - x, b, a) - 1.0).abs() < 1e-10);
        assert_eq!(beta_cdf(0.0, 2.0, 2.0), 0.0);
        assert_eq!(beta_cdf(1.0, 2.0, 2.0), 1.0);
    }

    #[test]
    fn a_cusum_alarms_on_persistent_evidence_and_forgets_noise() {
        let mut c = Cusum::default();
        assert!(!c.update(-1.0, 3.0));
        assert_eq!((c.statistic(), c.run()), (0.0, 0));
        assert!(!c.update(2.0, 3.0));
        assert_eq!(c.run(), 1);
        assert!(c.update(1.5, 3.0));
        assert_eq!(c.statistic(), 0.0, "restarts after an alarm");
    }

    #[test]
    fn an_sprt_stops_once_the_evidence_suffices() {
        let mut t = Sprt::new(0.05, 0.05);
        assert_eq!(t.update(1.0), None);
        assert_eq!(t.update(2.5), Some(Conclusion::Effect));
        let mut t = Sprt::new(0.05, 0.05);
        assert_eq!(t.update(-3.0), Some(Conclusion::NoEffect));
        assert!(binomial_llr(5, 100, 0.01, 0.05) > 0.0);
        assert!(poisson_llr(100, 100.0, 1.3) < 0.0);
    }
}
