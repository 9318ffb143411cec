//! Values that change late: a delay line (a knob whose effect shows only after a
//! delay) and an applier that takes time (e.g. opening connections).

use std::collections::VecDeque;

use super::error::{SimError, non_negative};

/// A value whose changes take effect `delay` seconds after they are made,
/// in the order they were made: a knob whose effect shows only later (a
/// cache TTL, a JIT, a replica that has to sync).
///
/// ```
/// use finch_core::lab::sim::DelayLine;
///
/// let mut workers = DelayLine::new(5.0, 4)?;
/// workers.set(10.0, 8);
/// assert_eq!(*workers.value_at(14.9), 4);
/// assert_eq!(*workers.value_at(15.0), 8);
/// # Ok::<(), finch_core::lab::sim::SimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DelayLine<T> {
    delay: f64,
    current: T,
    pending: VecDeque<(f64, T)>,
}

impl<T> DelayLine<T> {
    /// A line holding `initial`, whose changes show after `delay` seconds (>= 0).
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `delay` is negative or not finite.
    pub fn new(delay: f64, initial: T) -> Result<Self, SimError> {
        Ok(Self {
            delay: non_negative("delay line delay", delay)?,
            current: initial,
            pending: VecDeque::new(),
        })
    }

    /// The delay, in seconds.
    pub fn delay(&self) -> f64 {
        self.delay
    }

    /// Sets the value at `now`; it shows from `now + delay`.
    pub fn set(&mut self, now: f64, value: T) {
        self.pending.push_back((now + self.delay, value));
    }

    /// The value in effect at `now` (call with non-decreasing times).
    pub fn value_at(&mut self, now: f64) -> &T {
        while let Some((at, _)) = self.pending.front() {
            if *at > now {
                break;
            }
            if let Some((_, v)) = self.pending.pop_front() {
                self.current = v;
            }
        }
        &self.current
    }

    /// When the next pending change shows, if any.
    pub fn next_change(&self) -> Option<f64> {
        self.pending.front().map(|(at, _)| *at)
    }
}

/// A pending change made by an [`Applier`]: apply it at `at` if
/// [`Applier::take`] still accepts its generation then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pending {
    /// When the change is due, in virtual seconds.
    pub at: f64,
    /// The generation of the request.
    pub generation: u64,
}

/// Applies a new value only after it has been `delay` seconds in the making;
/// a later request supersedes one still pending (the last request wins).
#[derive(Debug, Clone)]
pub struct Applier<T> {
    delay: f64,
    generation: u64,
    pending: Option<T>,
}

impl<T> Applier<T> {
    /// An applier that takes `delay` seconds (>= 0).
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `delay` is negative or not finite.
    pub fn new(delay: f64) -> Result<Self, SimError> {
        Ok(Self {
            delay: non_negative("applier delay", delay)?,
            generation: 0,
            pending: None,
        })
    }

    /// The delay, in seconds.
    pub fn delay(&self) -> f64 {
        self.delay
    }

    /// Starts applying `value` at `now`; schedule a call to [`Applier::take`] at the returned time.
    pub fn request(&mut self, now: f64, value: T) -> Pending {
        self.generation += 1;
        self.pending = Some(value);
        Pending {
            at: now + self.delay,
            generation: self.generation,
        }
    }

    /// Drops any pending change (e.g. because a change applied at once superseded it).
    pub fn cancel(&mut self) {
        self.generation += 1;
        self.pending = None;
    }

    /// The value to apply now, if `generation` is still the latest request.
    pub fn take(&mut self, generation: u64) -> Option<T> {
        if generation == self.generation {
            self.pending.take()
        } else {
            None
        }
    }

    /// The value being applied, if any.
    pub fn pending(&self) -> Option<&T> {
        self.pending.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_line_shows_changes_late_and_in_order() -> Result<(), SimError> {
        let mut d = DelayLine::new(2.0, 1)?;
        d.set(0.0, 2);
        d.set(1.0, 3);
        assert_eq!(*d.value_at(1.99), 1);
        assert_eq!(d.next_change(), Some(2.0));
        assert_eq!(*d.value_at(2.0), 2);
        assert_eq!(*d.value_at(2.5), 2);
        assert_eq!(*d.value_at(3.0), 3);
        assert_eq!(d.next_change(), None);
        assert!(DelayLine::new(-1.0, 0).is_err());
        Ok(())
    }

    #[test]
    fn applier_applies_the_last_request_after_its_delay() -> Result<(), SimError> {
        let mut a = Applier::new(3.0)?;
        let first = a.request(0.0, 10);
        let second = a.request(1.0, 20);
        assert_eq!(second.at, 4.0);
        assert_eq!(a.take(first.generation), None);
        assert_eq!(a.take(second.generation), Some(20));
        assert_eq!(a.take(second.generation), None);
        let third = a.request(5.0, 30);
        a.cancel();
        assert_eq!(a.take(third.generation), None);
        Ok(())
    }
}
