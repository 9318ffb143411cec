//! Summaries over seeds: mean with a 95 % interval, median.

use serde::Serialize;

/// A mean over runs with the half-width of its 95 % confidence interval
/// (Student's t over the runs; 0 with a single run).
///
/// ```
/// use finch_core::lab::Estimate;
///
/// let e = Estimate::of(&[1.0, 2.0, 3.0]);
/// assert_eq!(e.mean, 2.0);
/// assert!((e.half_width - 2.484).abs() < 1e-3);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// The mean.
    pub mean: f64,
    /// Half the width of the 95 % interval.
    pub half_width: f64,
    /// How many runs.
    pub n: usize,
}

/// Two-sided 97.5 % quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

impl Estimate {
    /// The mean of `values` and its 95 % interval.
    pub fn of(values: &[f64]) -> Estimate {
        let n = values.len();
        if n == 0 {
            return Estimate::default();
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Estimate {
                mean,
                half_width: 0.0,
                n,
            };
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = T975.get(n - 2).copied().unwrap_or(1.96);
        Estimate {
            mean,
            half_width: t * (var / n as f64).sqrt(),
            n,
        }
    }

    /// The interval's bounds.
    pub fn interval(&self) -> (f64, f64) {
        (self.mean - self.half_width, self.mean + self.half_width)
    }

    /// `mean ± half-width` with `digits` decimals, scaled by `scale` (100 for
    /// percentages).
    pub fn show(&self, scale: f64, digits: usize) -> String {
        if self.n > 1 {
            format!(
                "{:.digits$} ± {:.digits$}",
                self.mean * scale,
                self.half_width * scale
            )
        } else {
            format!("{:.digits$}", self.mean * scale)
        }
    }
}

/// The median of `values` (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_student_t_and_medians_the_middle() {
        assert_eq!(Estimate::of(&[]).n, 0);
        assert_eq!(Estimate::of(&[4.0]).half_width, 0.0);
        let e = Estimate::of(&[0.0; 10]);
        assert_eq!((e.mean, e.half_width), (0.0, 0.0));
        let e = Estimate::of(&[1.0, 3.0]);
        assert!((e.half_width - 12.706).abs() < 1e-9);
        assert_eq!(e.show(100.0, 1), "200.0 ± 1270.6");
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
