//! A FIFO station of tokens: a concurrency limit or the connections of a pool,
//! with a wait timeout and an optional bound on the queue.

use std::collections::VecDeque;

use super::error::{SimError, positive};

/// The parameters of a [`Station`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StationSpec {
    /// How many holders at once (>= 1): the capacity knob.
    pub capacity: usize,
    /// How long a request may wait for a token before it fails with a
    /// timeout, in seconds; `None` waits forever.
    pub timeout: Option<f64>,
    /// How many requests may wait; one more is rejected at once. `None` is unbounded.
    pub queue_limit: Option<usize>,
}

impl StationSpec {
    /// A station of this capacity, no timeout, an unbounded queue.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            timeout: None,
            queue_limit: None,
        }
    }

    /// Sets the wait timeout, in seconds.
    pub fn timeout(mut self, seconds: f64) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Bounds the queue.
    pub fn queue_limit(mut self, waiting: usize) -> Self {
        self.queue_limit = Some(waiting);
        self
    }

    fn validate(&self) -> Result<(), SimError> {
        check_capacity(self.capacity)?;
        if let Some(t) = self.timeout {
            positive("station timeout", t)?;
        }
        Ok(())
    }
}

fn check_capacity(capacity: usize) -> Result<usize, SimError> {
    if capacity == 0 {
        Err(SimError::invalid(
            "station capacity",
            capacity,
            "use a capacity >= 1",
        ))
    } else {
        Ok(capacity)
    }
}

/// What [`Station::acquire`] did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A token was free: the request holds it now.
    Granted,
    /// The request waits; if it is still waiting at `now + timeout`, pass this
    /// ticket to [`Station::expire`].
    Queued(Ticket),
    /// The queue is full: the request failed.
    Rejected,
}

/// A request's place in a station's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

/// Counters of a station since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StationStats {
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests that found no free token and waited.
    pub waited: u64,
    /// Requests that got a token (at once or after waiting).
    pub admitted: u64,
    /// The total wait of admitted requests, in seconds.
    pub wait_sum: f64,
    /// Requests that gave up after the timeout.
    pub timed_out: u64,
    /// Requests rejected because the queue was full.
    pub rejected: u64,
}

/// A pool of `capacity` tokens handed out first come, first served.
///
/// `T` is the caller's handle for a request. The station does not keep time:
/// the caller schedules each queued request's timeout and calls
/// [`Station::expire`] then, and after every [`Station::release`] or
/// [`Station::set_capacity`] drains [`Station::next_grant`] to continue the
/// requests that got a token. Capacity changes are live: growing grants
/// waiting requests at once; shrinking below the tokens in use lets their
/// holders finish and grants no token until the count is under the new capacity.
#[derive(Debug, Clone)]
pub struct Station<T> {
    spec: StationSpec,
    in_use: usize,
    waiting: usize,
    head: u64,
    queue: VecDeque<Option<(T, f64)>>,
    stats: StationStats,
}

impl<T> Station<T> {
    /// An idle station.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for a capacity of 0 or a timeout that is not positive.
    pub fn new(spec: StationSpec) -> Result<Self, SimError> {
        spec.validate()?;
        Ok(Self {
            spec,
            in_use: 0,
            waiting: 0,
            head: 0,
            queue: VecDeque::new(),
            stats: StationStats::default(),
        })
    }

    /// The parameters, with the current capacity.
    pub fn spec(&self) -> StationSpec {
        self.spec
    }

    /// The current capacity.
    pub fn capacity(&self) -> usize {
        self.spec.capacity
    }

    /// Tokens held now (may exceed the capacity right after it shrank).
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// The counters.
    pub fn stats(&self) -> StationStats {
        self.stats
    }

    /// A request arrives at `now`.
    pub fn acquire(&mut self, now: f64, item: T) -> Admission {
        self.stats.arrived += 1;
        if self.waiting == 0 && self.in_use < self.spec.capacity {
            self.in_use += 1;
            self.stats.admitted += 1;
            return Admission::Granted;
        }
        if self.spec.queue_limit.is_some_and(|l| self.waiting >= l) {
            self.stats.rejected += 1;
            return Admission::Rejected;
        }
        self.stats.waited += 1;
        self.waiting += 1;
        self.queue.push_back(Some((item, now)));
        Admission::Queued(Ticket(self.head + self.queue.len() as u64 - 1))
    }

    /// The request behind `ticket` timed out: returns it if it was still
    /// waiting (it leaves the queue), `None` if it had been granted.
    pub fn expire(&mut self, ticket: Ticket) -> Option<T> {
        let index = usize::try_from(ticket.0.checked_sub(self.head)?).ok()?;
        let (item, _) = self.queue.get_mut(index)?.take()?;
        self.waiting -= 1;
        self.stats.timed_out += 1;
        while matches!(self.queue.front(), Some(None)) {
            self.queue.pop_front();
            self.head += 1;
        }
        Some(item)
    }

    /// When the oldest waiting request times out, if one waits and the station has a timeout.
    ///
    /// Waits all share one timeout, so requests time out in queue order: a
    /// caller can keep one pending event per station at this time instead of
    /// one per request, and call [`Station::expire_due`] then.
    pub fn next_deadline(&self) -> Option<f64> {
        let timeout = self.spec.timeout?;
        self.queue
            .iter()
            .find_map(|w| w.as_ref().map(|(_, since)| since + timeout))
    }

    /// The oldest waiting request if its timeout has passed at `now` (it
    /// leaves the queue); call until `None`.
    pub fn expire_due(&mut self, now: f64) -> Option<T> {
        let deadline = self.next_deadline()?;
        if deadline > now {
            return None;
        }
        let index = self.queue.iter().position(Option::is_some)?;
        self.expire(Ticket(self.head + index as u64))
    }

    /// A holder gives its token back.
    pub fn release(&mut self) {
        self.in_use = self.in_use.saturating_sub(1);
    }

    /// Sets the capacity, live.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for 0.
    pub fn set_capacity(&mut self, capacity: usize) -> Result<(), SimError> {
        self.spec.capacity = check_capacity(capacity)?;
        Ok(())
    }

    /// The next waiting request that gets a token now, if a token is free.
    pub fn next_grant(&mut self, now: f64) -> Option<T> {
        while self.in_use < self.spec.capacity {
            let front = self.queue.pop_front()?;
            self.head += 1;
            if let Some((item, since)) = front {
                self.waiting -= 1;
                self.in_use += 1;
                self.stats.admitted += 1;
                self.stats.wait_sum += now - since;
                return Some(item);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_grants_timeouts_and_rejections() -> Result<(), SimError> {
        let mut s = Station::new(StationSpec::new(1).timeout(1.0).queue_limit(2))?;
        assert_eq!(s.acquire(0.0, 'a'), Admission::Granted);
        let Admission::Queued(tb) = s.acquire(0.1, 'b') else {
            panic!("b should queue")
        };
        assert!(matches!(s.acquire(0.2, 'c'), Admission::Queued(_)));
        assert_eq!(s.acquire(0.3, 'd'), Admission::Rejected);
        assert_eq!(s.next_deadline(), Some(1.1));
        assert_eq!(s.expire_due(1.0), None);
        assert_eq!(s.expire(tb), Some('b'));
        assert_eq!(s.next_deadline(), Some(1.2));
        assert_eq!(s.expire(tb), None);
        s.release();
        assert_eq!(s.next_grant(0.5), Some('c'));
        assert_eq!(s.next_grant(0.5), None);
        let st = s.stats();
        assert_eq!((st.arrived, st.waited, st.admitted), (4, 2, 2));
        assert_eq!((st.timed_out, st.rejected), (1, 1));
        assert!((st.wait_sum - 0.3).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn shrinking_lets_holders_finish_and_growing_grants() -> Result<(), SimError> {
        let mut s = Station::new(StationSpec::new(3))?;
        for i in 0..3 {
            assert_eq!(s.acquire(0.0, i), Admission::Granted);
        }
        assert!(matches!(s.acquire(0.0, 3), Admission::Queued(_)));
        s.set_capacity(1)?;
        s.release();
        assert_eq!(s.next_grant(1.0), None);
        s.release();
        assert_eq!(s.next_grant(1.0), None);
        s.set_capacity(2)?;
        assert_eq!(s.next_grant(1.0), Some(3));
        assert_eq!(s.in_use(), 2);
        assert!(s.set_capacity(0).is_err());
        Ok(())
    }
}
