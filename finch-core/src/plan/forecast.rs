//! Where the load is heading: the request rate a few windows ahead.
//!
//! Some knobs act late (a grown cache fills over many windows, new
//! connections take seconds to open), so a fix made when an objective breaks
//! under a climbing load arrives after the damage. The forecast fits a line to
//! the logarithm of the last [`SPAN`] windows' total rate (least squares, so
//! one noisy window moves it little) and carries it [`HORIZON`] windows
//! forward. It is only consulted when the analysis has already confirmed a
//! rising trend with its own false-alarm control; the forecast says how far,
//! not whether.

use std::collections::VecDeque;

/// Windows the line is fitted on.
const SPAN: usize = 10;
/// Windows ahead the load is forecast: about the time a grown cache takes to
/// fill at moderate load.
pub(crate) const HORIZON: f64 = 10.0;
/// The forecast rate is at most this many times the current one: a line
/// carried further than the data supports is a guess, not a forecast.
const MAX_RISE: f64 = 1.5;

/// The recent rates and the forecast made from them.
#[derive(Debug, Default)]
pub(crate) struct RateForecast {
    points: VecDeque<(u64, f64)>,
}

impl RateForecast {
    /// Records the total rate of window `seq`. Windows out of order (a new
    /// run's numbering) start the history over.
    pub(crate) fn push(&mut self, seq: u64, rate: f64) {
        if !rate.is_finite() || rate <= 0.0 {
            return;
        }
        if self.points.back().is_some_and(|&(s, _)| s >= seq) {
            self.points.clear();
        }
        self.points.push_back((seq, rate.ln()));
        while self.points.len() > SPAN {
            self.points.pop_front();
        }
    }

    /// How many times the current rate the load is forecast to be
    /// [`HORIZON`] windows ahead (at least 1, at most [`MAX_RISE`]); `None`
    /// until [`SPAN`] windows are known.
    pub(crate) fn rise(&self) -> Option<f64> {
        if self.points.len() < SPAN {
            return None;
        }
        let n = self.points.len() as f64;
        let mean_x = self.points.iter().map(|p| p.0 as f64).sum::<f64>() / n;
        let mean_y = self.points.iter().map(|p| p.1).sum::<f64>() / n;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for &(x, y) in &self.points {
            let dx = x as f64 - mean_x;
            sxy += dx * (y - mean_y);
            sxx += dx * dx;
        }
        if sxx <= 0.0 {
            return None;
        }
        let slope = sxy / sxx;
        let last_x = self.points.back()?.0 as f64;
        // From the fitted line's value now (not the last, noisy, window).
        let fitted_now = mean_y + slope * (last_x - mean_x);
        let (_, last_y) = *self.points.back()?;
        let ahead = fitted_now + slope * HORIZON;
        Some((ahead - last_y).exp().clamp(1.0, MAX_RISE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_rate_forecasts_no_rise() {
        let mut f = RateForecast::default();
        for seq in 0..SPAN as u64 {
            f.push(seq, 200.0);
        }
        assert_eq!(f.rise(), Some(1.0));
    }

    #[test]
    fn a_climbing_rate_is_carried_forward_and_capped() {
        let mut f = RateForecast::default();
        // 2 % more per window: ten windows ahead is about 1.22 times.
        for seq in 0..SPAN as u64 {
            f.push(seq, 100.0 * 1.02f64.powi(seq as i32));
        }
        let rise = f.rise().expect("enough windows");
        assert!((rise - 1.02f64.powi(10)).abs() < 1e-6, "{rise}");
        // 10 % more per window would be 2.6 times: capped.
        let mut f = RateForecast::default();
        for seq in 0..SPAN as u64 {
            f.push(seq, 100.0 * 1.1f64.powi(seq as i32));
        }
        assert_eq!(f.rise(), Some(MAX_RISE));
    }

    #[test]
    fn too_short_or_restarted_histories_forecast_nothing() {
        let mut f = RateForecast::default();
        for seq in 0..SPAN as u64 - 1 {
            f.push(seq, 100.0);
        }
        assert_eq!(f.rise(), None);
        f.push(100, 100.0);
        assert!(f.rise().is_some());
        // A new run numbers its windows from 0 again.
        f.push(3, 100.0);
        assert_eq!(f.rise(), None);
        f.push(4, 0.0);
        f.push(5, f64::NAN);
        assert_eq!(f.rise(), None);
    }
}
