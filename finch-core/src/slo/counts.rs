//! Counting an SLO's calls without a locked instruction on the hot path.
//!
//! A call is counted twice: once when it starts, once (in its latency's
//! histogram bucket, and as an error where it failed) when it ends. Shared
//! atomic counters would need a locked read-modify-write for each, which on a
//! virtual machine costs as much as a read of the time-stamp counter. So each
//! thread counts into counters of its own, which only it writes: an increment
//! is a plain load and store, and a reader sums every thread's counters when it
//! closes a window. Counters only grow, so a sum read while threads record is a
//! valid snapshot up to the calls in flight, as with shared counters.
//!
//! A thread's counters outlive it: when it exits they go back to a free list of
//! the SLO, and the next thread that records into that SLO takes them over,
//! counts and all. Memory is thus bounded by the number of threads that record
//! at once. The first 64 SLOs a process records into get
//! per-thread counters; later ones, and calls recorded while a thread's locals
//! are being torn down, count into the SLO's shared atomic counters instead,
//! exactly but with locked increments. A slot is never reused, even when an SLO
//! built at run time is dropped, so its counters never mix with another's.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::histogram::{BUCKETS, LogHistogram};
use super::timer::Outcome;

/// How many SLOs per process get per-thread counters.
const LOCAL_SLOTS: usize = 64;
/// Slots in all: under test, one more, never handed out, that a test claims.
const SLOT_COUNT: usize = LOCAL_SLOTS + cfg!(test) as usize;
/// A slot not chosen yet.
const UNASSIGNED: usize = usize::MAX;
/// No slot was left: the SLO counts into its shared counters.
const SHARED_ONLY: usize = usize::MAX - 1;

/// One set of counters of an SLO's calls.
struct Counters {
    started: AtomicU64,
    errors: AtomicU64,
    cancelled: AtomicU64,
    panicked: AtomicU64,
    histogram: LogHistogram,
}

/// Who may write a set of counters.
#[derive(Clone, Copy)]
enum Writer {
    /// Only the current thread: increments need no locked instruction.
    Owner,
    /// Any thread: increments are atomic read-modify-writes.
    Shared,
}

#[inline(always)]
fn bump(counter: &AtomicU64, writer: Writer) {
    match writer {
        Writer::Owner => counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        ),
        Writer::Shared => {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Counters {
    const fn new() -> Self {
        Counters {
            started: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            histogram: LogHistogram::new(),
        }
    }

    fn add_completions_to(&self, totals: &mut Totals) {
        self.histogram.add_to(&mut totals.counts);
        totals.errors += self.errors.load(Ordering::Relaxed);
        totals.cancelled += self.cancelled.load(Ordering::Relaxed);
        totals.panicked += self.panicked.load(Ordering::Relaxed);
    }
}

/// Counts calls into one set of counters, on behalf of the thread that got it
/// from [`CallCounts::recorder`].
#[derive(Clone, Copy)]
pub(crate) struct Recorder<'a> {
    counters: &'a Counters,
    writer: Writer,
}

impl Recorder<'_> {
    /// Counts a call started.
    #[inline(always)]
    pub(crate) fn begin(self) {
        bump(&self.counters.started, self.writer);
    }

    /// Counts a call ended, after `nanos`, with `outcome`.
    #[inline(always)]
    pub(crate) fn complete(self, nanos: u64, outcome: Outcome) {
        let (c, writer) = (self.counters, self.writer);
        bump(c.histogram.bucket(nanos), writer);
        match outcome {
            Outcome::Ok => {}
            Outcome::Error => bump(&c.errors, writer),
            Outcome::Cancelled => bump(&c.cancelled, writer),
            Outcome::Panicked => {
                bump(&c.errors, writer);
                bump(&c.panicked, writer);
            }
        }
    }
}

/// The per-thread counters handed out for one slot.
struct Slot {
    /// Every set ever made for the slot, in use or free.
    all: Vec<&'static Counters>,
    /// Sets whose thread has exited.
    free: Vec<&'static Counters>,
}

static SLOTS: [Mutex<Slot>; SLOT_COUNT] = [const {
    Mutex::new(Slot {
        all: Vec::new(),
        free: Vec::new(),
    })
}; SLOT_COUNT];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

fn slot(index: usize) -> std::sync::MutexGuard<'static, Slot> {
    SLOTS[index].lock().unwrap_or_else(PoisonError::into_inner)
}

/// A thread's own counters, one set per slot; returned to the slots' free
/// lists when the thread exits.
struct Local {
    sets: [Cell<Option<&'static Counters>>; SLOT_COUNT],
}

impl Drop for Local {
    fn drop(&mut self) {
        for (index, set) in self.sets.iter().enumerate() {
            if let Some(counters) = set.take() {
                slot(index).free.push(counters);
            }
        }
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            sets: [const { Cell::new(None) }; SLOT_COUNT],
        }
    };
}

/// The counters of one SLO's calls: per-thread sets where a slot was free,
/// shared ones otherwise.
pub(crate) struct CallCounts {
    shared: Counters,
    slot: AtomicUsize,
}

impl CallCounts {
    pub(crate) const fn new() -> Self {
        CallCounts {
            shared: Counters::new(),
            slot: AtomicUsize::new(UNASSIGNED),
        }
    }

    /// Counts a call started.
    #[inline(always)]
    pub(crate) fn begin(&self) {
        self.recorder().begin();
    }

    /// Counts a call ended, after `nanos`, with `outcome`.
    #[inline(always)]
    pub(crate) fn complete(&self, nanos: u64, outcome: Outcome) {
        self.recorder().complete(nanos, outcome);
    }

    /// What counts calls on this thread. It must not be used on another.
    #[inline(always)]
    pub(crate) fn recorder(&self) -> Recorder<'_> {
        let index = self.slot.load(Ordering::Relaxed);
        if index < SLOT_COUNT
            && let Ok(Some(own)) = LOCAL.try_with(|l| l.sets[index].get())
        {
            return Recorder {
                counters: own,
                writer: Writer::Owner,
            };
        }
        self.recorder_first_time()
    }

    /// Chooses the SLO's slot and this thread's set in it, or falls back to
    /// the shared counters.
    #[cold]
    #[inline(never)]
    fn recorder_first_time(&self) -> Recorder<'_> {
        let shared = Recorder {
            counters: &self.shared,
            writer: Writer::Shared,
        };
        let index = self.slot_index();
        if index >= SLOT_COUNT {
            return shared;
        }
        let taken = LOCAL.try_with(|l| {
            let mut slot = slot(index);
            let counters = slot.free.pop().unwrap_or_else(|| {
                let made: &'static Counters = Box::leak(Box::new(Counters::new()));
                slot.all.push(made);
                made
            });
            l.sets[index].set(Some(counters));
            counters
        });
        match taken {
            Ok(own) => Recorder {
                counters: own,
                writer: Writer::Owner,
            },
            Err(_) => shared,
        }
    }

    fn slot_index(&self) -> usize {
        let index = self.slot.load(Ordering::Relaxed);
        if index != UNASSIGNED {
            return index;
        }
        let next = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
        let chosen = if next < LOCAL_SLOTS {
            next
        } else {
            SHARED_ONLY
        };
        match self
            .slot
            .compare_exchange(UNASSIGNED, chosen, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => chosen,
            Err(other) => other,
        }
    }

    /// Every counter summed over the threads, completions read before starts
    /// (a call that ends between the reads then shows as in flight for one
    /// window rather than as completed but never started).
    pub(crate) fn totals(&self) -> Totals {
        let mut totals = Totals {
            started: 0,
            errors: 0,
            cancelled: 0,
            panicked: 0,
            counts: vec![0; BUCKETS].into_boxed_slice(),
        };
        let sets = self.local_sets();
        self.shared.add_completions_to(&mut totals);
        for set in &sets {
            set.add_completions_to(&mut totals);
        }
        totals.started = self.started_in(&sets);
        totals
    }

    /// Calls started since the process began.
    pub(crate) fn started(&self) -> u64 {
        self.started_in(&self.local_sets())
    }

    fn started_in(&self, sets: &[&'static Counters]) -> u64 {
        sets.iter()
            .map(|s| s.started.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.shared.started.load(Ordering::Relaxed)
    }

    fn local_sets(&self) -> Vec<&'static Counters> {
        let index = self.slot.load(Ordering::Relaxed);
        if index < SLOT_COUNT {
            slot(index).all.clone()
        } else {
            Vec::new()
        }
    }
}

/// An SLO's counters summed at one moment.
#[derive(Clone)]
pub(crate) struct Totals {
    pub(crate) started: u64,
    pub(crate) errors: u64,
    pub(crate) cancelled: u64,
    pub(crate) panicked: u64,
    pub(crate) counts: Box<[u64]>,
}

impl Totals {
    /// Calls completed.
    pub(crate) fn completed(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    #[test]
    fn calls_counted_on_many_threads_add_up() {
        let counts = Arc::new(CallCounts::new());
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let counts = Arc::clone(&counts);
                thread::spawn(move || {
                    for i in 0..10_000u64 {
                        counts.begin();
                        let outcome = if i % 100 == t {
                            Outcome::Error
                        } else {
                            Outcome::Ok
                        };
                        counts.complete(1_000 * (t + 1), outcome);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let totals = counts.totals();
        assert_eq!(totals.started, 40_000);
        assert_eq!(totals.completed(), 40_000);
        assert_eq!(totals.errors, 400);
        assert_eq!(counts.started(), 40_000);
    }

    #[test]
    fn a_call_may_end_on_another_thread_than_it_started_on() {
        let counts = Arc::new(CallCounts::new());
        counts.begin();
        let other = Arc::clone(&counts);
        thread::spawn(move || other.complete(5_000, Outcome::Cancelled))
            .join()
            .unwrap();
        let totals = counts.totals();
        assert_eq!((totals.started, totals.completed()), (1, 1));
        assert_eq!(totals.cancelled, 1);
    }

    #[test]
    fn an_exited_threads_counters_are_kept_and_taken_over() {
        let counts = Arc::new(CallCounts::new());
        counts.slot.store(LOCAL_SLOTS, Ordering::Relaxed);
        for _ in 0..3 {
            let c = Arc::clone(&counts);
            thread::spawn(move || {
                for _ in 0..10 {
                    c.begin();
                    c.complete(100, Outcome::Panicked);
                }
            })
            .join()
            .unwrap();
        }
        let totals = counts.totals();
        assert_eq!(
            (totals.started, totals.errors, totals.panicked),
            (30, 30, 30)
        );
        let slot = slot(LOCAL_SLOTS);
        assert_eq!(slot.all.len(), 1, "one set, taken over by each new thread");
        assert_eq!(slot.free.len(), 1);
    }

    #[test]
    fn an_slo_without_a_slot_counts_into_its_shared_counters() {
        let counts = CallCounts::new();
        counts.slot.store(SHARED_ONLY, Ordering::Relaxed);
        counts.begin();
        counts.complete(42, Outcome::Error);
        assert_eq!(counts.shared.started.load(Ordering::Relaxed), 1);
        let totals = counts.totals();
        assert_eq!(
            (totals.started, totals.completed(), totals.errors),
            (1, 1, 1)
        );
    }
}
