//! A connection pool: a [`Station`] whose growth takes time (opening connections).

use super::delay::{Applier, Pending};
use super::error::SimError;
use super::station::{Station, StationSpec};

/// The parameters of a [`Pool`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolSpec {
    /// The station: size (the capacity knob), wait timeout, queue bound.
    pub station: StationSpec,
    /// Seconds before new connections can be used after the size grows (>= 0).
    /// Shrinking is immediate: idle connections close, busy ones finish first.
    pub open_delay: f64,
}

impl PoolSpec {
    /// A pool of this size with no timeout, an unbounded queue and instant growth.
    pub fn new(size: usize) -> Self {
        Self {
            station: StationSpec::new(size),
            open_delay: 0.0,
        }
    }

    /// Sets the wait timeout, in seconds.
    pub fn timeout(mut self, seconds: f64) -> Self {
        self.station = self.station.timeout(seconds);
        self
    }

    /// Bounds the queue.
    pub fn queue_limit(mut self, waiting: usize) -> Self {
        self.station = self.station.queue_limit(waiting);
        self
    }

    /// Sets the time it takes new connections to open, in seconds.
    pub fn open_delay(mut self, seconds: f64) -> Self {
        self.open_delay = seconds;
        self
    }
}

impl From<StationSpec> for PoolSpec {
    /// A station that grows instantly, e.g. a concurrency limit.
    fn from(station: StationSpec) -> Self {
        Self {
            station,
            open_delay: 0.0,
        }
    }
}

/// A [`Station`] whose size grows only after [`PoolSpec::open_delay`].
#[derive(Debug, Clone)]
pub struct Pool<T> {
    station: Station<T>,
    applier: Applier<usize>,
}

impl<T> Pool<T> {
    /// An idle pool.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for a size of 0, a non-positive timeout or a negative open delay.
    pub fn new(spec: PoolSpec) -> Result<Self, SimError> {
        Ok(Self {
            station: Station::new(spec.station)?,
            applier: Applier::new(spec.open_delay)?,
        })
    }

    /// The station (current size, holders, queue, counters).
    pub fn station(&self) -> &Station<T> {
        &self.station
    }

    /// The station, to acquire, release, expire and grant.
    pub fn station_mut(&mut self) -> &mut Station<T> {
        &mut self.station
    }

    /// The size asked for: the pending one while connections open, else the current one.
    pub fn target(&self) -> usize {
        self.applier
            .pending()
            .copied()
            .unwrap_or(self.station.capacity())
    }

    /// Asks for `size` at `now`. A shrink (or a size reached at once, or the
    /// size already being opened) applies now or keeps its schedule and returns `None`, and the caller then drains
    /// [`Station::next_grant`]; a growth returns when to call [`Pool::apply`].
    ///
    /// # Errors
    /// [`SimError::Invalid`] for 0.
    pub fn resize(&mut self, now: f64, size: usize) -> Result<Option<Pending>, SimError> {
        if size == 0 {
            return Err(SimError::invalid("pool size", size, "use a size >= 1"));
        }
        // Asking again for the size already opening keeps its schedule.
        if self.applier.pending() == Some(&size) {
            return Ok(None);
        }
        if size <= self.station.capacity() || self.applier.delay() == 0.0 {
            self.applier.cancel();
            self.station.set_capacity(size)?;
            return Ok(None);
        }
        Ok(Some(self.applier.request(now, size)))
    }

    /// Applies the growth requested with this `generation`, if it is still the
    /// latest request; returns whether the size changed (then drain
    /// [`Station::next_grant`]).
    ///
    /// # Errors
    /// Never in practice: sizes are validated by [`Pool::resize`].
    pub fn apply(&mut self, generation: u64) -> Result<bool, SimError> {
        match self.applier.take(generation) {
            Some(size) => {
                self.station.set_capacity(size)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::sim::station::Admission;

    #[test]
    fn growth_waits_for_connections_to_open_shrink_is_immediate() -> Result<(), SimError> {
        let mut p = Pool::new(PoolSpec::new(1).open_delay(2.0))?;
        assert_eq!(p.station_mut().acquire(0.0, 'a'), Admission::Granted);
        assert!(matches!(
            p.station_mut().acquire(0.0, 'b'),
            Admission::Queued(_)
        ));
        let Some(pending) = p.resize(1.0, 3)? else {
            panic!("growth should be pending")
        };
        assert_eq!(pending.at, 3.0);
        assert_eq!((p.station().capacity(), p.target()), (1, 3));
        assert_eq!(p.station_mut().next_grant(1.0), None);
        assert!(p.apply(pending.generation)?);
        assert_eq!(p.station_mut().next_grant(3.0), Some('b'));
        let stale = p.resize(4.0, 5)?;
        assert_eq!(p.resize(4.5, 2)?, None);
        assert_eq!(p.station().capacity(), 2);
        assert!(!p.apply(stale.map_or(0, |s| s.generation))?);
        assert_eq!(p.station().capacity(), 2);
        Ok(())
    }

    #[test]
    fn asking_again_for_the_opening_size_keeps_its_schedule() -> Result<(), SimError> {
        let mut p = Pool::<char>::new(PoolSpec::new(2).open_delay(2.0))?;
        let Some(pending) = p.resize(0.0, 6)? else {
            panic!("growth should be pending")
        };
        // A driver that sets the knob's value every second must not push the
        // opening back forever.
        assert_eq!(p.resize(1.0, 6)?, None);
        assert!(p.apply(pending.generation)?);
        assert_eq!(p.station().capacity(), 6);
        Ok(())
    }
}
