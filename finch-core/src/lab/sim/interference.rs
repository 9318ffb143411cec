//! Unannounced interference: a factor that changes over time without the
//! service being told (the database slower, a CPU neighbour).

use super::error::{SimError, positive};

/// A piecewise-constant slowdown factor over virtual time: `initial` until the
/// first change, then each change's factor from its time on. A factor of 3.5
/// makes every request on the processor take 3.5 times longer; a CPU neighbour
/// taking a share `s` of the cores is a factor of `1 / (1 − s)`.
///
/// Attach it to a processor with `Service::interfere`; the service applies each
/// change at its time, whatever the driver does.
///
/// ```
/// use finch_core::lab::sim::Interference;
///
/// let episode = Interference::episode(120.0, 180.0, 3.5)?;
/// assert_eq!(episode.factor_at(119.0), 1.0);
/// assert_eq!(episode.factor_at(150.0), 3.5);
/// assert_eq!(episode.factor_at(180.0), 1.0);
/// # Ok::<(), finch_core::lab::sim::SimError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Interference {
    initial: f64,
    changes: Vec<(f64, f64)>,
}

impl Interference {
    /// A factor of `initial` changed to `factor` at each `(time, factor)` of `changes`.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for a factor that is not finite and positive, or
    /// times that are negative, not finite or not increasing.
    pub fn new(initial: f64, changes: Vec<(f64, f64)>) -> Result<Self, SimError> {
        positive("interference factor", initial)?;
        let mut last = f64::NEG_INFINITY;
        for &(at, factor) in &changes {
            positive("interference factor", factor)?;
            if !(at.is_finite() && at >= 0.0 && at > last) {
                return Err(SimError::invalid(
                    "interference change time",
                    at,
                    "use finite times >= 0 in increasing order",
                ));
            }
            last = at;
        }
        Ok(Self { initial, changes })
    }

    /// A factor of `factor` from `start` to `end`, 1 otherwise.
    ///
    /// # Errors
    /// As [`Interference::new`], e.g. for `end <= start`.
    pub fn episode(start: f64, end: f64, factor: f64) -> Result<Self, SimError> {
        Self::new(1.0, vec![(start, factor), (end, 1.0)])
    }

    /// The factor before the first change.
    pub fn initial(&self) -> f64 {
        self.initial
    }

    /// The changes, as `(time, factor)` in increasing time.
    pub fn changes(&self) -> &[(f64, f64)] {
        &self.changes
    }

    /// The factor in effect at `t`.
    pub fn factor_at(&self, t: f64) -> f64 {
        let i = self.changes.partition_point(|&(at, _)| at <= t);
        match i {
            0 => self.initial,
            i => self.changes.get(i - 1).map_or(self.initial, |&(_, f)| f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_follows_the_changes() -> Result<(), SimError> {
        let i = Interference::new(1.0, vec![(10.0, 2.0), (20.0, 1.5)])?;
        assert_eq!(i.factor_at(0.0), 1.0);
        assert_eq!(i.factor_at(10.0), 2.0);
        assert_eq!(i.factor_at(25.0), 1.5);
        assert!(Interference::new(1.0, vec![(10.0, 2.0), (5.0, 1.0)]).is_err());
        assert!(Interference::episode(5.0, 6.0, 0.0).is_err());
        Ok(())
    }
}
