//! Timing one call, and telling an `Err` return from a success.

use std::mem::ManuallyDrop;

use super::Slo;
use super::clock::Stamp;

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
        let outcome = if std::thread::panicking() {
            Outcome::Panicked
        } else {
            Outcome::Cancelled
        };
        self.slo.complete(self.start.elapsed_nanos(), outcome);
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
    fn results_are_told_from_other_values() {
        let ok: Result<u8, ()> = Ok(1);
        let err: Result<u8, ()> = Err(());
        assert!(!OutcomeOf(&ok).__finch_failed());
        assert!(OutcomeOf(&err).__finch_failed());
        assert!(!(&OutcomeOf(&42u8)).__finch_failed());
    }
}
