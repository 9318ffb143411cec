//! Settling after a change: the windows right after a configuration change
//! still drain the old backlog (onto new connections, a cold cache), so they
//! count neither for verification nor for training until the calls in flight
//! are back to their steady level and the pressure signals stopped moving.

use std::collections::BTreeMap;

/// Settling never lasts longer than this many windows.
///
/// A change whose first window shows no backlog and no moving signal does not
/// settle at all.
const MAX_SETTLING: u32 = 5;
/// Smoothing of the steady in-flight level.
const ALPHA: f64 = 0.2;
/// A pressure signal is stable when it moved less than this share (or one unit).
const STABLE: f64 = 0.25;

#[derive(Default)]
pub(crate) struct Settle {
    knobs: Option<BTreeMap<String, f64>>,
    /// Settling windows so far, while settling.
    settling: Option<u32>,
    steady: Vec<f64>,
    pressure: BTreeMap<String, f64>,
}

impl Settle {
    /// Whether the configuration changed on this window, and whether the
    /// window is settling, given the knob values it ran with, whether a knob
    /// changed during it, its calls in flight per SLO, and the values of the
    /// declared pressure signals.
    pub(crate) fn update(
        &mut self,
        knobs: &BTreeMap<String, f64>,
        clean: bool,
        in_flight: &[u64],
        pressure: BTreeMap<String, f64>,
    ) -> (bool, bool) {
        let changed = !clean || self.knobs.as_ref().is_some_and(|k| k != knobs);
        self.knobs = Some(knobs.clone());
        if self.steady.len() != in_flight.len() {
            self.steady = in_flight.iter().map(|&f| f as f64).collect();
        }
        let drained = in_flight
            .iter()
            .zip(&self.steady)
            .all(|(&now, &steady)| now as f64 <= steady * 1.5 + 2.0);
        let stable = pressure.iter().all(|(k, v)| {
            self.pressure
                .get(k)
                .is_none_or(|last| (v - last).abs() <= (STABLE * last.abs()).max(1.0))
        });
        let settled = drained && stable;
        let settling = match self.settling {
            _ if changed => (!settled).then_some(1),
            Some(n) => (!settled && n < MAX_SETTLING).then_some(n + 1),
            None => None,
        };
        self.settling = settling;
        if settling.is_none() {
            for (s, &now) in self.steady.iter_mut().zip(in_flight) {
                *s += ALPHA * (now as f64 - *s);
            }
        }
        self.pressure = pressure;
        (changed, settling.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_settles_once_the_backlog_drains_and_signals_stop_moving() {
        let mut s = Settle::default();
        let a: BTreeMap<String, f64> = [("w".to_string(), 4.0)].into();
        let b: BTreeMap<String, f64> = [("w".to_string(), 8.0)].into();
        let p = |v: f64| BTreeMap::from([("pool.waiting".to_string(), v)]);
        for _ in 0..10 {
            assert!(!s.update(&a, true, &[3], p(0.0)).1);
        }
        assert!(
            s.update(&b, true, &[40], p(14.0)).1,
            "the change's first window"
        );
        assert!(
            s.update(&b, true, &[20], p(6.0)).1,
            "backlog still draining"
        );
        assert!(s.update(&b, true, &[3], p(1.0)).1, "waiting still falling");
        assert!(!s.update(&b, true, &[3], p(1.0)).1, "settled");
        assert!(
            !s.update(&a, true, &[3], p(1.0)).1,
            "no backlog: nothing to settle"
        );
        assert!(
            s.update(&b, false, &[3], p(9.0)).1,
            "a knob changed mid-window"
        );
        for _ in 0..MAX_SETTLING - 1 {
            assert!(s.update(&b, true, &[100], p(1.0)).1);
        }
        assert!(!s.update(&b, true, &[100], p(1.0)).1, "settling is bounded");
    }
}
