//! The clock an SLO's calls are timed with: the CPU's time-stamp counter where
//! it is invariant, `Instant` otherwise.
//!
//! Timing a call takes two clock reads, and on a virtual machine a read of
//! `Instant` (`clock_gettime`) costs tens of nanoseconds, most of an `#[slo]`
//! call. Reading the time-stamp counter costs a third of that, so timers read
//! it through [`quanta`], which was chosen because it:
//! - uses the counter only where CPUID says it is invariant (constant rate in
//!   every power state, synchronised across cores) and `RDTSCP` exists, and the
//!   architected counter on AArch64; elsewhere it reads `CLOCK_MONOTONIC`, the
//!   clock behind `Instant`;
//! - calibrates the counter against `CLOCK_MONOTONIC` once per process, lazily
//!   (minstant calibrates in a static constructor of every process linking it);
//! - converts ticks to nanoseconds with one multiply and shift, and returns zero
//!   rather than a wrapped value should a call end on a core whose counter reads
//!   behind the one it started on;
//! - keeps the `unsafe` intrinsic out of finch, and is already built by
//!   `metrics-util` for the `prometheus` feature.
//!
//! Calibration busy-waits for up to 200 ms (well under a millisecond when the
//! counter is steady), so it is done by [`calibrate`], which `finch::start`
//! calls before serving; without `finch::start`, the first timer started does
//! it, with its call timed by `Instant` from before the calibration. Calls
//! timed while another thread calibrates read `Instant` rather than wait.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use quanta::Clock;

static CLOCK: OnceLock<Clock> = OnceLock::new();
static CALIBRATING: AtomicBool = AtomicBool::new(false);

/// Calibrates the clock timers read, if not done yet; blocks while another
/// thread calibrates it.
pub(crate) fn calibrate() -> &'static Clock {
    CLOCK.get_or_init(Clock::new)
}

/// When a call started, as read from the clock.
#[derive(Clone, Copy)]
pub(crate) enum Stamp {
    /// A raw reading of the calibrated clock.
    Calibrated(&'static Clock, u64),
    /// A reading of `Instant`, before the clock is calibrated.
    Std(Instant),
}

impl Stamp {
    /// Reads the clock.
    #[inline(always)]
    pub(crate) fn now() -> Self {
        match CLOCK.get() {
            Some(clock) => Stamp::Calibrated(clock, clock.raw()),
            None => Stamp::uncalibrated(),
        }
    }

    #[cold]
    #[inline(never)]
    fn uncalibrated() -> Self {
        let start = Instant::now();
        if !CALIBRATING.swap(true, Ordering::Relaxed) {
            calibrate();
        }
        Stamp::Std(start)
    }

    /// Nanoseconds since the stamp was read (zero if the clock reads behind).
    #[inline(always)]
    pub(crate) fn elapsed_nanos(self) -> u64 {
        match self {
            Stamp::Calibrated(clock, start) => clock.delta_as_nanos(start, clock.raw()),
            Stamp::Std(start) => u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::slo::QUANTILE_RELATIVE_ERROR;
    use crate::slo::histogram::bucket_of;
    use crate::{Outcome, SloBuilder};

    fn spin(d: Duration) {
        let t = Instant::now();
        while t.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn timers_stay_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Stamp>();
        send_sync::<crate::SloTimer<'static>>();
    }

    #[test]
    fn stamps_read_the_calibrated_clock() {
        calibrate();
        assert!(matches!(Stamp::now(), Stamp::Calibrated(..)));
        let t = Stamp::now();
        spin(Duration::from_micros(200));
        let nanos = t.elapsed_nanos() as f64;
        assert!(
            nanos >= 200_000.0 * (1.0 - QUANTILE_RELATIVE_ERROR),
            "{nanos}"
        );
    }

    #[test]
    fn counter_and_instant_put_a_wait_in_the_same_bucket() {
        calibrate();
        let (mut samples, mut same, mut ratios) = (0u32, 0u32, Vec::new());
        for us in [20u64, 150, 700, 3000] {
            for _ in 0..40 {
                let stamp = Stamp::now();
                let t = Instant::now();
                spin(Duration::from_micros(us));
                let std = t.elapsed().as_nanos() as u64;
                let counter = stamp.elapsed_nanos();
                samples += 1;
                if bucket_of(counter).abs_diff(bucket_of(std)) <= 1 {
                    same += 1;
                }
                ratios.push(counter as f64 / std as f64);
            }
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        assert!(
            (median - 1.0).abs() < QUANTILE_RELATIVE_ERROR,
            "median counter/Instant ratio {median}"
        );
        assert!(
            same * 10 >= samples * 9,
            "{same} of {samples} waits in the same or an adjacent bucket"
        );
    }

    #[test]
    fn recorded_latency_lies_within_what_instant_saw() {
        calibrate();
        let slo = SloBuilder::new("test.clock.spin")
            .p99(Duration::from_millis(50))
            .register()
            .unwrap();
        let mut reader = slo.reader();
        let wait = Duration::from_micros(500);
        let mut longest = Duration::ZERO;
        for _ in 0..50 {
            let outer = Instant::now();
            let timer = slo.start();
            spin(wait);
            timer.finish(Outcome::Ok);
            longest = longest.max(outer.elapsed());
        }
        let w = reader.drain(Duration::from_secs(1));
        assert_eq!(w.calls, 50);
        let (fastest, slowest) = (w.quantile(0.0).unwrap(), w.quantile(1.0).unwrap());
        let slack = 1.0 + QUANTILE_RELATIVE_ERROR;
        assert!(
            fastest.mul_f64(slack) >= wait,
            "{fastest:?} recorded for a {wait:?} wait"
        );
        assert!(
            slowest <= longest.mul_f64(slack),
            "{slowest:?} recorded, {longest:?} around the call"
        );
    }
}
