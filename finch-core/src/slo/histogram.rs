//! A lock-free log-linear latency histogram.
//!
//! Values are nanoseconds. Below 32 ns every value has its own bucket; above, each
//! power of two is split into 32 equal buckets, so a bucket is at most 1/32 of its
//! lower bound wide and a quantile read at the bucket's midpoint is within 1/64
//! (1.6 %) of the true sample value. Values from 2^38 ns (about 275 s) up share
//! the last bucket. Recording is one increment of one of 1088 counters (see
//! [`counts`](super::counts) for who increments it, and how).
//!
//! Counters only grow; a reader takes a copy and subtracts its previous copy to
//! get one window (see [`SloReader`](super::SloReader)), so any number of readers
//! can drain windows without disturbing each other or the recorders.

use std::sync::atomic::{AtomicU64, Ordering};

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const MAX_BITS: u32 = 38;
/// Number of buckets.
pub(crate) const BUCKETS: usize = (SUB as usize) * (MAX_BITS - SUB_BITS + 1) as usize;
const MAX_VALUE: u64 = (1 << MAX_BITS) - 1;

/// The largest relative error of a quantile read from the histogram.
pub const QUANTILE_RELATIVE_ERROR: f64 = 1.0 / (2 * SUB) as f64;

pub(crate) struct LogHistogram {
    counts: [AtomicU64; BUCKETS],
}

#[inline(always)]
pub(crate) fn bucket_of(nanos: u64) -> usize {
    let v = if nanos > MAX_VALUE { MAX_VALUE } else { nanos };
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let group = (msb - SUB_BITS + 1) as usize;
    let sub = ((v >> (msb - SUB_BITS)) & (SUB - 1)) as usize;
    (group << SUB_BITS) + sub
}

/// The midpoint of a bucket, in nanoseconds.
pub(crate) fn bucket_value(index: usize) -> f64 {
    if index < SUB as usize {
        return index as f64;
    }
    let group = (index >> SUB_BITS) as u32;
    let sub = (index as u64) & (SUB - 1);
    let shift = group - 1;
    let lower = (SUB + sub) << shift;
    let width = 1u64 << shift;
    lower as f64 + (width as f64 - 1.0) / 2.0
}

impl LogHistogram {
    pub(crate) const fn new() -> Self {
        LogHistogram {
            counts: [const { AtomicU64::new(0) }; BUCKETS],
        }
    }

    /// The counter of the bucket `nanos` falls in.
    #[inline(always)]
    pub(crate) fn bucket(&self, nanos: u64) -> &AtomicU64 {
        &self.counts[bucket_of(nanos)]
    }

    /// Adds every counter to `sums`, bucket by bucket.
    pub(crate) fn add_to(&self, sums: &mut [u64]) {
        for (sum, c) in sums.iter_mut().zip(&self.counts) {
            *sum += c.load(Ordering::Relaxed);
        }
    }
}

/// The value at quantile `q` (0..=1) of a window's bucket counts, in nanoseconds.
pub(crate) fn quantile(counts: &[u64], total: u64, q: f64) -> Option<f64> {
    if total == 0 || q.is_nan() {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(bucket_value(i));
        }
    }
    counts.iter().rposition(|&c| c > 0).map(bucket_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_cover_the_range() {
        let mut last = 0;
        for v in (0..5000u64)
            .chain((12..38).map(|b| 1u64 << b))
            .chain([u64::MAX])
        {
            let b = bucket_of(v);
            assert!(b < BUCKETS, "{v}");
            assert!(b >= last || v < 5000, "{v}");
            last = b;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        for v in 0..32 {
            assert_eq!(bucket_value(bucket_of(v)), v as f64);
        }
    }

    #[test]
    fn bucket_midpoint_is_within_the_stated_error() {
        let mut v = 1u64;
        while v < MAX_VALUE {
            let mid = bucket_value(bucket_of(v));
            let err = (mid - v as f64).abs() / v as f64;
            assert!(err <= QUANTILE_RELATIVE_ERROR, "{v}: {mid} ({err})");
            v = v * 17 / 16 + 1;
        }
    }

    #[test]
    fn quantiles_of_a_uniform_spread() {
        let h = LogHistogram::new();
        for us in 1..=10_000u64 {
            h.bucket(us * 1000).fetch_add(1, Ordering::Relaxed);
        }
        let mut counts = vec![0; BUCKETS];
        h.add_to(&mut counts);
        for (q, want) in [
            (0.5, 5_000_000.0),
            (0.99, 9_900_000.0),
            (0.999, 9_990_000.0),
        ] {
            let got = quantile(&counts, 10_000, q).unwrap();
            assert!(
                (got - want).abs() / want <= QUANTILE_RELATIVE_ERROR,
                "{q}: {got}"
            );
        }
        assert_eq!(quantile(&counts, 0, 0.5), None);
    }
}
