//! When a degraded environment recovers.
//!
//! What the loop finds inadequate during an incident (a slower database, a
//! CPU neighbour) was inadequate in that environment: once it recovers, those
//! findings no longer hold. The analysis reports an incident when it starts
//! (and only for a few windows), not when it ends; the end shows in the
//! capacities' holding times. Each call holds its unit (a connection, a
//! worker) for as long as the resource behind takes to serve it, so the
//! environment has recovered once every capacity in use holds its units
//! about as briefly as it did in the window before the incident. A knob can
//! shorten the holding time too (less work per call, fewer calls reaching
//! the resource), and some act late (a cache filling, a prefetch warming),
//! so the comparison waits until no costly knob has moved for a while.

/// Holding time within this ratio of the one before the incident counts as
/// recovered.
const RECOVERED: f64 = 1.3;
/// Windows without a change to a costly knob before holding times are
/// compared: longer than a knob's effect takes to show.
const QUIET_WINDOWS: u64 = 30;

/// Whether the environment is degraded, from the incident reports and the
/// capacities' holding times.
#[derive(Debug, Default)]
pub(crate) struct Recovery {
    /// Each capacity's holding time in the latest window (`None` while the
    /// capacity was idle or its signals are missing).
    last: Vec<Option<f64>>,
    /// The holding times of the window before the incident, while the
    /// environment is degraded.
    before: Option<Vec<Option<f64>>>,
}

impl Recovery {
    /// Takes in one window: each capacity's holding time, whether the
    /// analysis reports an incident, and the windows since a costly knob last
    /// moved. True when the environment just recovered.
    pub(crate) fn update(&mut self, holds: Vec<Option<f64>>, incident: bool, still: u64) -> bool {
        let mut recovered = false;
        if incident {
            if self.before.is_none() {
                self.before = Some(self.last.clone());
            }
        } else if let Some(before) = self.before.as_ref().filter(|_| still >= QUIET_WINDOWS) {
            let mut compared = 0;
            let back = before.iter().zip(&holds).all(|(b, h)| match (b, h) {
                (Some(b), Some(h)) => {
                    compared += 1;
                    *h <= b * RECOVERED
                }
                _ => true,
            });
            if back && compared > 0 {
                self.before = None;
                recovered = true;
            }
        }
        self.last = holds;
        recovered
    }

    /// An incident started and the capacities have not shown its end.
    pub(crate) fn degraded(&self) -> bool {
        self.before.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_recovers_when_holding_times_return_to_their_level_before_the_incident() {
        let mut r = Recovery::default();
        let still = QUIET_WINDOWS;
        assert!(!r.update(vec![Some(0.010)], false, still));
        assert!(!r.degraded());
        assert!(
            !r.update(vec![Some(0.022)], true, still),
            "the incident starts"
        );
        assert!(r.degraded());
        for _ in 0..5 {
            assert!(!r.update(vec![Some(0.021)], false, still), "still slow");
            assert!(r.degraded(), "the report ended, the slowness did not");
        }
        assert!(
            !r.update(vec![Some(0.012)], false, 3),
            "a knob moved 3 windows ago: its effect may be what shows"
        );
        assert!(r.update(vec![Some(0.012)], false, still), "back to 1.2x");
        assert!(!r.degraded());
    }

    #[test]
    fn without_a_capacity_in_use_an_incident_never_reads_as_over() {
        let mut r = Recovery::default();
        r.update(vec![None], false, QUIET_WINDOWS);
        r.update(vec![None], true, QUIET_WINDOWS);
        for _ in 0..5 {
            assert!(!r.update(vec![Some(0.001)], false, QUIET_WINDOWS));
        }
        assert!(r.degraded(), "nothing to compare with");
    }
}
