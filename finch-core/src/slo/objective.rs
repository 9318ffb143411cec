//! Objectives: what must hold for an SLO, and how far from holding a window is.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::window::SloWindow;

/// A latency quantile an objective can bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantile {
    /// The median.
    P50,
    /// The 90th percentile.
    P90,
    /// The 95th percentile.
    P95,
    /// The 99th percentile.
    P99,
    /// The 99.9th percentile.
    P999,
}

impl Quantile {
    /// Every quantile, in increasing order.
    pub const ALL: [Quantile; 5] = [
        Quantile::P50,
        Quantile::P90,
        Quantile::P95,
        Quantile::P99,
        Quantile::P999,
    ];

    /// The quantile as a fraction.
    pub fn fraction(self) -> f64 {
        match self {
            Quantile::P50 => 0.5,
            Quantile::P90 => 0.9,
            Quantile::P95 => 0.95,
            Quantile::P99 => 0.99,
            Quantile::P999 => 0.999,
        }
    }

    /// The label used in declarations and metrics (`p99`).
    pub fn label(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P90 => "p90",
            Quantile::P95 => "p95",
            Quantile::P99 => "p99",
            Quantile::P999 => "p999",
        }
    }
}

/// One objective of an SLO. All objectives of an SLO must hold together.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Objective {
    /// The latency quantile stays below the threshold.
    Latency {
        /// Which quantile.
        quantile: Quantile,
        /// The bound it must stay below.
        #[serde(serialize_with = "serialize_ms", rename = "threshold_ms")]
        threshold: Duration,
    },
    /// The share of calls that fail stays below `max` (a fraction, 0.01 = 1 %).
    Errors {
        /// The largest acceptable error ratio.
        max: f64,
    },
}

fn serialize_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

impl Objective {
    /// A stable label for the SLI this objective bounds (`p99`, `errors`).
    pub fn sli_label(&self) -> &'static str {
        match self {
            Objective::Latency { quantile, .. } => quantile.label(),
            Objective::Errors { .. } => "errors",
        }
    }

    /// The bound, in the SLI's unit (seconds for latency, a ratio for errors).
    pub fn bound(&self) -> f64 {
        match *self {
            Objective::Latency { threshold, .. } => threshold.as_secs_f64(),
            Objective::Errors { max } => max,
        }
    }

    /// The SLI this objective bounds, measured on a window (seconds or a ratio);
    /// `None` when the window saw no calls.
    pub fn sli(&self, window: &SloWindow) -> Option<f64> {
        match *self {
            Objective::Latency { quantile, .. } => window
                .quantile(quantile.fraction())
                .map(|d| d.as_secs_f64()),
            Objective::Errors { .. } => window.error_ratio(),
        }
    }

    /// The share of calls allowed to be bad: 1 % for a p99 (calls over the
    /// threshold), 5 % for a p95, `max` for errors.
    ///
    /// ```
    /// use std::time::Duration;
    /// use finch_core::{Objective, Quantile};
    ///
    /// let p99 = Objective::Latency { quantile: Quantile::P99, threshold: Duration::from_millis(50) };
    /// assert!((p99.budget() - 0.01).abs() < 1e-12);
    /// assert_eq!(Objective::Errors { max: 0.02 }.budget(), 0.02);
    /// ```
    pub fn budget(&self) -> f64 {
        match *self {
            Objective::Latency { quantile, .. } => 1.0 - quantile.fraction(),
            Objective::Errors { max } => max,
        }
    }

    /// The bad calls of a window: calls slower than the threshold (as the
    /// histogram reads them, consistently with [`sli`](Self::sli): the quantile
    /// exceeds the threshold exactly when more than the budget's share of calls
    /// do), or calls that failed.
    pub fn bad_calls(&self, window: &SloWindow) -> u64 {
        match *self {
            Objective::Latency { threshold, .. } => window.slower_than(threshold),
            Objective::Errors { .. } => window.errors.min(window.calls),
        }
    }

    /// Relative margin of an SLI value to the bound: positive when the objective
    /// holds (0.2 = 20 % of the bound to spare), negative when violated.
    pub fn margin(&self, sli: f64) -> f64 {
        let bound = self.bound();
        if bound <= 0.0 {
            return if sli <= 0.0 { 0.0 } else { -1.0 };
        }
        (bound - sli) / bound
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        match *self {
            Objective::Latency { threshold, .. } if threshold.is_zero() => {
                Err("a latency threshold must be greater than zero".into())
            }
            Objective::Errors { max } if !(max > 0.0 && max < 1.0) => Err(format!(
                "an error objective must be between 0 % and 100 % exclusive, got {}",
                max * 100.0
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Objective::Latency {
                quantile,
                threshold,
            } => write!(f, "{} < {:?}", quantile.label(), threshold),
            Objective::Errors { max } => write!(f, "errors < {}%", max * 100.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_relative_and_signed() {
        let o = Objective::Latency {
            quantile: Quantile::P99,
            threshold: Duration::from_millis(50),
        };
        assert!((o.margin(0.040) - 0.2).abs() < 1e-12);
        assert!(o.margin(0.060) < 0.0);
        assert_eq!(o.to_string(), "p99 < 50ms");
        let e = Objective::Errors { max: 0.01 };
        assert_eq!(e.to_string(), "errors < 1%");
        assert!(e.validate().is_ok());
        assert!(Objective::Errors { max: 1.5 }.validate().is_err());
    }

    #[test]
    fn bad_calls_agree_with_the_quantile() {
        let slo = crate::SloBuilder::new("test.objective.bad")
            .p99(Duration::from_millis(50))
            .register()
            .unwrap();
        let mut reader = slo.reader();
        for i in 0..1000u64 {
            let ms = if i % 100 < 2 { 80 } else { 10 + i % 30 };
            slo.record(Duration::from_millis(ms), crate::Outcome::Ok);
        }
        let w = reader.drain(Duration::from_secs(1));
        let o = slo.objectives()[0];
        assert_eq!(o.bad_calls(&w), 20);
        assert!(
            o.sli(&w).unwrap() > o.bound(),
            "2 % over the bound breaks a p99"
        );
    }
}
