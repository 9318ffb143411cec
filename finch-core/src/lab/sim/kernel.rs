//! The discrete-event kernel: a clock in virtual seconds and a queue of future events.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::error::SimError;

/// A queue of future events of type `E` and the virtual clock that pops them.
///
/// Events are ordered by time, then by the order in which they were scheduled,
/// so two events at the same instant always pop in the same order: a run is
/// deterministic. Time is an `f64` number of virtual seconds starting at 0.
///
/// ```
/// use finch_core::lab::sim::Kernel;
///
/// let mut k = Kernel::new();
/// k.schedule(2.0, "late")?;
/// k.schedule(1.0, "early")?;
/// assert_eq!(k.pop_until(10.0), Some((1.0, "early")));
/// assert_eq!(k.now(), 1.0);
/// assert_eq!(k.pop_until(1.5), None);
/// assert_eq!(k.now(), 1.5);
/// # Ok::<(), finch_core::lab::sim::SimError>(())
/// ```
#[derive(Debug)]
pub struct Kernel<E> {
    now: f64,
    seq: u64,
    heap: BinaryHeap<Entry<E>>,
}

#[derive(Debug)]
struct Entry<E> {
    at: f64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, so that the max-heap pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .total_cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl<E> Default for Kernel<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Kernel<E> {
    /// An empty queue with the clock at 0.
    pub fn new() -> Self {
        Self {
            now: 0.0,
            seq: 0,
            heap: BinaryHeap::new(),
        }
    }

    /// The current virtual time, in seconds.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// The number of events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Schedules `event` at virtual time `at`.
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `at` is not finite or lies before [`Kernel::now`].
    pub fn schedule(&mut self, at: f64, event: E) -> Result<(), SimError> {
        if !at.is_finite() || at < self.now {
            return Err(SimError::invalid(
                "event time",
                at,
                "schedule at a finite time >= the kernel's now()",
            ));
        }
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            event,
        });
        Ok(())
    }

    /// Schedules `event` `delay` seconds from now.
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `delay` is negative or not finite.
    pub fn schedule_in(&mut self, delay: f64, event: E) -> Result<(), SimError> {
        self.schedule(self.now + delay, event)
    }

    /// Pops the earliest event if it is due at or before `limit`, moving the
    /// clock to its time; otherwise moves the clock to `limit` (if later than
    /// now) and returns `None`.
    pub fn pop_until(&mut self, limit: f64) -> Option<(f64, E)> {
        match self.heap.peek() {
            Some(top) if top.at <= limit => {
                let entry = self.heap.pop()?;
                self.now = entry.at;
                Some((entry.at, entry.event))
            }
            _ => {
                if limit > self.now {
                    self.now = limit;
                }
                None
            }
        }
    }

    /// The time of the earliest waiting event.
    pub fn peek_time(&self) -> Option<f64> {
        self.heap.peek().map(|e| e.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_pop_in_scheduling_order() -> Result<(), SimError> {
        let mut k = Kernel::new();
        for i in 0..5 {
            k.schedule(1.0, i)?;
        }
        k.schedule(0.5, 99)?;
        let popped: Vec<i32> = std::iter::from_fn(|| k.pop_until(2.0).map(|(_, e)| e)).collect();
        assert_eq!(popped, vec![99, 0, 1, 2, 3, 4]);
        assert_eq!(k.now(), 2.0);
        Ok(())
    }

    #[test]
    fn rejects_the_past_and_nan() {
        let mut k = Kernel::new();
        assert!(k.pop_until(3.0).is_none());
        assert!(k.schedule(2.0, ()).is_err());
        assert!(k.schedule(f64::NAN, ()).is_err());
        assert!(k.schedule_in(-1.0, ()).is_err());
        assert!(k.schedule_in(0.0, ()).is_ok());
    }
}
