//! Timing one call, and telling an `Err` return from a success.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;

use super::Slo;
use super::clock::Stamp;
use super::counts::Recorder;

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed (an `Err` return, a 5xx response).
    Error,
    /// It was dropped before finishing (a cancelled future).
    Cancelled,
    /// It panicked; counted as an error.
    Panicked,
}

impl Outcome {
    /// `Error` when `failed`, else `Ok`.
    #[inline(always)]
    pub fn from_failed(failed: bool) -> Self {
        if failed { Outcome::Error } else { Outcome::Ok }
    }
}

/// Times one call of an SLO; see [`Slo::start`].
///
/// Dropping it unfinished records the call as [`Outcome::Cancelled`], or as
/// [`Outcome::Panicked`] when the thread is unwinding, so cancelled futures and
/// panics are still measured.
#[must_use = "finish the timer with `finish`, or the call counts as cancelled"]
pub struct SloTimer<'a> {
    slo: &'a Slo,
    start: Stamp,
}

impl<'a> SloTimer<'a> {
    #[inline(always)]
    pub(crate) fn new(slo: &'a Slo) -> Self {
        SloTimer {
            slo,
            start: Stamp::now(),
        }
    }

    /// Records the call with its outcome.
    #[inline]
    pub fn finish(self, outcome: Outcome) {
        let this = ManuallyDrop::new(self);
        this.slo.complete(this.start.elapsed_nanos(), outcome);
    }
}

impl Drop for SloTimer<'_> {
    fn drop(&mut self) {
        self.slo
            .complete(self.start.elapsed_nanos(), Outcome::of_unfinished());
    }
}

impl Outcome {
    /// How a call whose timer was dropped unfinished ended.
    fn of_unfinished() -> Self {
        if std::thread::panicking() {
            Outcome::Panicked
        } else {
            Outcome::Cancelled
        }
    }
}

/// Times one call that starts and ends on the same thread (a sync `#[slo]`
/// function): it finds the thread's counters once, not at both ends. It cannot
/// be sent to another thread, which would then write counters that are not its
/// own. Dropped unfinished, it counts the call as [`SloTimer`] does.
#[doc(hidden)]
#[must_use = "finish the timer with `finish`, or the call counts as cancelled"]
pub struct ThreadTimer<'a> {
    recorder: Recorder<'a>,
    start: Stamp,
    one_thread: PhantomData<*const ()>,
}

impl<'a> ThreadTimer<'a> {
    #[inline(always)]
    pub(crate) fn new(recorder: Recorder<'a>) -> Self {
        recorder.begin();
        ThreadTimer {
            recorder,
            start: Stamp::now(),
            one_thread: PhantomData,
        }
    }

    /// Records the call with its outcome.
    #[inline]
    pub fn finish(self, outcome: Outcome) {
        let this = ManuallyDrop::new(self);
        this.recorder.complete(this.start.elapsed_nanos(), outcome);
    }
}

impl Drop for ThreadTimer<'_> {
    fn drop(&mut self) {
        self.recorder
            .complete(self.start.elapsed_nanos(), Outcome::of_unfinished());
    }
}

/// Wraps a return value so that method resolution picks [`IsErrResult`] for a
/// `Result` and [`IsErrOther`] for anything else (autoref specialization).
#[doc(hidden)]
pub struct OutcomeOf<'a, T>(pub &'a T);

#[doc(hidden)]
pub trait IsErrResult {
    fn __finch_failed(&self) -> bool;
}

impl<T, E> IsErrResult for OutcomeOf<'_, Result<T, E>> {
    #[inline(always)]
    fn __finch_failed(&self) -> bool {
        self.0.is_err()
    }
}

#[doc(hidden)]
pub trait IsErrOther {
    fn __finch_failed(&self) -> bool;
}

impl<T> IsErrOther for &OutcomeOf<'_, T> {
    #[inline(always)]
    fn __finch_failed(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_timer_counts_as_a_timer_does() {
        let slo = crate::SloBuilder::new("test.timer.thread")
            .errors(0.01)
            .register()
            .unwrap();
        let mut reader = slo.reader();
        slo.start_on_this_thread().finish(Outcome::Error);
        drop(slo.start_on_this_thread());
        let unwound = std::panic::catch_unwind(|| {
            let _timer = slo.start_on_this_thread();
            panic!("in the call");
        });
        assert!(unwound.is_err());
        let w = reader.drain(std::time::Duration::from_secs(1));
        assert_eq!((w.started, w.calls, w.in_flight), (3, 3, 0));
        assert_eq!((w.errors, w.cancelled, w.panicked), (2, 1, 1));
    }

    #[test]
    fn results_are_told_from_other_values() {
        let ok: Result<u8, ()> = Ok(1);
        let err: Result<u8, ()> = Err(());
        assert!(!OutcomeOf(&ok).__finch_failed());
        assert!(OutcomeOf(&err).__finch_failed());
        assert!(!(&OutcomeOf(&42u8)).__finch_failed());
    }
}
