//! Occupancy: how many units are in use, integrated over time.
//!
//! A capacity (a connection pool, a concurrency limit, a worker set) is sized
//! from the units busy on average over a window and the calls waiting for one
//! ([`Config::capacity`](crate::Config::capacity)). A gauge read once per
//! window tells only the instant it was read; at 200 requests/s holding a
//! connection for 5 ms, a pool with one connection busy on average reads 0 most
//! of the time. [`Occupancy`] keeps the exact time integral instead, lock-free,
//! so that each read returns the mean since the previous one.
//!
//! Entering adds one unit and subtracts the time stamp from an accumulator;
//! leaving removes the unit and adds its time stamp back. At any time `T` the
//! area under the count since the start is `accumulator + count·T`, so the
//! mean over a window is a difference of two areas divided by its length: two
//! relaxed atomic additions and one clock read per enter or leave.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use quanta::Clock;

use crate::slo::clock::calibrate;

/// Units in use (connections held, requests admitted, calls waiting), with
/// the mean over each window and how many units were taken in it.
///
/// Clones share the count. Enter when a unit is taken and keep the returned
/// [`Held`] for as long as it is; [`window`](Occupancy::window) gives the
/// mean count and the units taken since its previous call, which is what a
/// [`SignalSource`](crate::monitor::SignalSource) reports once per window
/// (the busy and served signals of a [`Capacity`](crate::Capacity)).
///
/// ```
/// use finch_core::monitor::{Occupancy, Signal};
///
/// let busy = Occupancy::new();
/// let held = busy.enter();
/// assert_eq!(busy.current(), 1);
/// drop(held);
/// assert_eq!(busy.current(), 0);
/// // Once per window, in a signal source:
/// let usage = busy.window();
/// assert_eq!(usage.entered, 1);
/// let signals = [
///     Signal::internal("pool_busy", usage.mean),
///     Signal::internal("pool_served", usage.per_sec()),
/// ];
/// assert!(signals[0].value >= 0.0 && signals[0].value <= 1.0);
/// ```
#[derive(Clone)]
pub struct Occupancy {
    inner: Arc<Inner>,
}

struct Inner {
    clock: &'static Clock,
    base: u64,
    count: AtomicI64,
    /// Units taken since the start.
    entered: AtomicU64,
    /// Σ leave times − Σ enter times, in nanoseconds since `base`.
    acc: AtomicI64,
    /// The time, area and units taken at the previous read.
    last: Mutex<(i64, f64, u64)>,
}

/// What an [`Occupancy`] saw over one window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    /// Units in use on average.
    pub mean: f64,
    /// Units taken.
    pub entered: u64,
    /// The window's length in seconds.
    pub secs: f64,
}

impl Usage {
    /// Units taken per second (0 for an empty window).
    pub fn per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.entered as f64 / self.secs
        } else {
            0.0
        }
    }
}

impl Occupancy {
    /// No unit in use. The first call calibrates the clock (`finch::start`
    /// does it otherwise), which can take up to 200 ms once per process.
    pub fn new() -> Self {
        let clock = calibrate();
        Occupancy {
            inner: Arc::new(Inner {
                clock,
                base: clock.raw(),
                count: AtomicI64::new(0),
                entered: AtomicU64::new(0),
                acc: AtomicI64::new(0),
                last: Mutex::new((0, 0.0, 0)),
            }),
        }
    }

    /// One more unit in use, until the returned guard is dropped.
    #[inline]
    pub fn enter(&self) -> Held {
        let now = self.inner.now();
        self.inner.count.fetch_add(1, Ordering::Relaxed);
        self.inner.entered.fetch_add(1, Ordering::Relaxed);
        self.inner.acc.fetch_sub(now, Ordering::Relaxed);
        Held {
            occupancy: self.clone(),
        }
    }

    /// Units in use now.
    pub fn current(&self) -> u64 {
        u64::try_from(self.inner.count.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// The mean number of units in use and the units taken since the
    /// previous call (since creation for the first).
    pub fn window(&self) -> Usage {
        let now = self.inner.now();
        let area = self.inner.area(now);
        let entered = self.inner.entered.load(Ordering::Relaxed);
        let mut last = self.inner.last.lock().unwrap_or_else(|p| p.into_inner());
        let (then, before, entered_before) = *last;
        *last = (now, area, entered);
        let span = now.saturating_sub(then);
        let mean = if span > 0 {
            ((area - before) / span as f64).max(0.0)
        } else {
            self.current() as f64
        };
        Usage {
            mean,
            entered: entered.saturating_sub(entered_before),
            secs: span.max(0) as f64 / 1e9,
        }
    }
}

impl Default for Occupancy {
    fn default() -> Self {
        Occupancy::new()
    }
}

impl fmt::Debug for Occupancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Occupancy")
            .field("current", &self.current())
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Nanoseconds since the occupancy was created.
    #[inline]
    fn now(&self) -> i64 {
        i64::try_from(self.clock.delta_as_nanos(self.base, self.clock.raw())).unwrap_or(i64::MAX)
    }

    /// Unit-nanoseconds in use from creation to `now`.
    fn area(&self, now: i64) -> f64 {
        let acc = self.acc.load(Ordering::Relaxed) as f64;
        let count = self.count.load(Ordering::Relaxed) as f64;
        acc + count * now as f64
    }
}

/// A unit in use; dropping it gives the unit back.
#[must_use = "the unit is given back when this guard is dropped"]
pub struct Held {
    occupancy: Occupancy,
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held").finish_non_exhaustive()
    }
}

impl Drop for Held {
    #[inline]
    fn drop(&mut self) {
        let inner = &self.occupancy.inner;
        let now = inner.now();
        inner.acc.fetch_add(now, Ordering::Relaxed);
        inner.count.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_mean_is_the_time_integral_over_the_window() {
        let occ = Occupancy::new();
        let _ = occ.window().mean;
        // Two units for the whole window, a third for about half of it.
        let a = occ.enter();
        let b = occ.enter();
        std::thread::sleep(Duration::from_millis(40));
        let c = occ.enter();
        std::thread::sleep(Duration::from_millis(40));
        drop(c);
        let mean = occ.window().mean;
        // Between 2 and 3 whatever the sleeps really lasted.
        assert!(mean > 2.0 && mean < 3.0, "{mean}");
        // The next window: exactly the two still held.
        std::thread::sleep(Duration::from_millis(20));
        let mean = occ.window().mean;
        assert!((1.99..=2.01).contains(&mean), "{mean}");
        drop((a, b));
        assert_eq!(occ.current(), 0);
    }

    #[test]
    fn a_unit_held_briefly_counts_for_its_share_of_the_window() {
        let occ = Occupancy::new();
        let _ = occ.window().mean;
        std::thread::sleep(Duration::from_millis(50));
        let held = occ.enter();
        std::thread::sleep(Duration::from_millis(10));
        drop(held);
        std::thread::sleep(Duration::from_millis(40));
        let mean = occ.window().mean;
        // A share of the window, never the 0 or 1 a gauge would read.
        assert!(mean > 0.0 && mean < 1.0, "{mean}");
    }

    #[test]
    fn clones_share_the_count_across_threads() {
        let occ = Occupancy::new();
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let occ = occ.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let _held = occ.enter();
                    }
                })
            })
            .collect();
        for w in workers {
            assert!(w.join().is_ok());
        }
        assert_eq!(occ.current(), 0);
        let usage = occ.window();
        assert!((0.0..=4.0).contains(&usage.mean), "{usage:?}");
        assert_eq!(usage.entered, 4000);
        assert!(usage.per_sec() > 0.0);
    }
}
