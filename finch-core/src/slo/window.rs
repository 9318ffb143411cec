//! Draining an SLO one window at a time.

use std::time::Duration;

use serde::Serialize;

use super::counts::Totals;
use super::histogram::{bucket_value, quantile};
use super::registry::SloRef;

/// Drains an SLO's measurements one window at a time. Each reader keeps its own
/// position, so several readers never disturb each other or the recorders.
///
/// ```
/// use std::time::Duration;
/// use finch_core::{Outcome, SloBuilder};
///
/// let slo = SloBuilder::new("doc.window.search").p95(Duration::from_millis(20)).register()?;
/// let mut reader = slo.reader();
/// for ms in 1..=100 {
///     slo.record(Duration::from_millis(ms), Outcome::Ok);
/// }
/// let window = reader.drain(Duration::from_secs(1));
/// assert_eq!(window.calls, 100);
/// assert_eq!(window.rate(), 100.0);
/// let p95 = window.quantile(0.95).unwrap().as_secs_f64();
/// assert!((p95 - 0.095).abs() < 0.095 * finch_core::slo::QUANTILE_RELATIVE_ERROR);
/// assert_eq!(reader.drain(Duration::from_secs(1)).calls, 0);
/// # Ok::<(), finch_core::SloError>(())
/// ```
pub struct SloReader {
    slo: SloRef,
    last: Totals,
}

impl SloReader {
    pub(crate) fn new(slo: SloRef) -> Self {
        let last = slo.counts.totals();
        SloReader { slo, last }
    }

    /// The SLO read.
    pub fn slo(&self) -> &SloRef {
        &self.slo
    }

    /// Everything recorded since the previous drain (or the reader's creation),
    /// as a window of the given length (used to turn counts into rates).
    pub fn drain(&mut self, length: Duration) -> SloWindow {
        let now = self.slo.counts.totals();
        let counts: Box<[u64]> = now
            .counts
            .iter()
            .zip(self.last.counts.iter())
            .map(|(n, l)| n.saturating_sub(*l))
            .collect();
        let calls = counts.iter().sum();
        let window = SloWindow {
            calls,
            started: now.started.saturating_sub(self.last.started),
            errors: now.errors.saturating_sub(self.last.errors),
            cancelled: now.cancelled.saturating_sub(self.last.cancelled),
            panicked: now.panicked.saturating_sub(self.last.panicked),
            in_flight: now.started.saturating_sub(now.completed()),
            length,
            counts,
        };
        self.last = now;
        window
    }
}

/// What one SLO saw during one window.
#[derive(Clone, Debug, Serialize)]
pub struct SloWindow {
    /// Calls completed in the window (including errors, cancellations and panics).
    pub calls: u64,
    /// Calls started in the window.
    pub started: u64,
    /// Calls that returned `Err`, failed, or panicked.
    pub errors: u64,
    /// Calls dropped before finishing (cancelled futures).
    pub cancelled: u64,
    /// Calls that panicked (also counted in `errors`).
    pub panicked: u64,
    /// Calls in flight when the window closed.
    pub in_flight: u64,
    /// The window's length.
    #[serde(skip)]
    pub length: Duration,
    #[serde(skip)]
    counts: Box<[u64]>,
}

impl SloWindow {
    /// The latency at quantile `q` (0..=1), within
    /// [`QUANTILE_RELATIVE_ERROR`](super::QUANTILE_RELATIVE_ERROR); `None` without calls.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        quantile(&self.counts, self.calls, q)
            .and_then(|ns| Duration::try_from_secs_f64(ns / 1e9).ok())
    }

    /// Calls slower than `threshold`, as the histogram reads them (a call
    /// counts at its bucket's midpoint, within
    /// [`QUANTILE_RELATIVE_ERROR`](super::QUANTILE_RELATIVE_ERROR)).
    pub fn slower_than(&self, threshold: Duration) -> u64 {
        let limit = threshold.as_nanos() as f64;
        self.counts
            .iter()
            .enumerate()
            .rev()
            .take_while(|(i, _)| bucket_value(*i) > limit)
            .map(|(_, c)| c)
            .sum()
    }

    /// Time spent in the handler by the calls completed in the window, in
    /// seconds (from the histogram). Divided by the window's length, it is the
    /// average number of calls busy at once (Little's law).
    pub fn handler_secs(&self) -> f64 {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, &c)| c as f64 * bucket_value(i))
            .sum::<f64>()
            / 1e9
    }

    /// The window's bucket counts.
    pub(crate) fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// A window made of calls with the given latencies (for tests).
    #[cfg(test)]
    pub(crate) fn of(latencies: &[Duration], errors: u64, length: Duration) -> SloWindow {
        let mut counts = vec![0u64; super::histogram::BUCKETS].into_boxed_slice();
        for l in latencies {
            counts[super::histogram::bucket_of(l.as_nanos() as u64)] += 1;
        }
        let calls = latencies.len() as u64;
        SloWindow {
            calls,
            started: calls,
            errors: errors.min(calls),
            cancelled: 0,
            panicked: 0,
            in_flight: 0,
            length,
            counts,
        }
    }

    /// Share of calls that were errors; `None` without calls.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.errors as f64 / self.calls as f64)
    }

    /// This window followed by `later`: one window spanning both.
    pub(crate) fn merge(mut self, later: SloWindow) -> SloWindow {
        for (a, b) in self.counts.iter_mut().zip(later.counts.iter()) {
            *a += b;
        }
        self.calls += later.calls;
        self.started += later.started;
        self.errors += later.errors;
        self.cancelled += later.cancelled;
        self.panicked += later.panicked;
        self.in_flight = later.in_flight;
        self.length += later.length;
        self
    }

    /// Completed calls per second.
    pub fn rate(&self) -> f64 {
        let secs = self.length.as_secs_f64();
        if secs > 0.0 {
            self.calls as f64 / secs
        } else {
            0.0
        }
    }
}
