//! The detectors on simulated Poisson traffic, from 5 to 1500 requests per
//! second: their false-alarm rate per window on a steady service, and the
//! windows each needs to see a real change.
//!
//! The service: Poisson arrivals, exponential latencies with a mean of 9.44 ms
//! (0.5 % of calls over 50 ms: half the budget of a "p99 < 50 ms"), 0.2 %
//! errors (budget 1 %). One-second windows, seeded randomness.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Analysis, Analyzer, Direction, Health};
use crate::monitor::{Observation, SloSample};
use crate::slo::SloWindow;
use crate::{SloBuilder, SloRef};

const RATES: [f64; 5] = [5.0, 15.0, 50.0, 400.0, 1500.0];
/// Mean latency (ms) with 0.5 % of calls over 50 ms.
const MEAN_MS: f64 = 9.44;
const ERRORS: f64 = 0.002;

struct Service {
    rng: ChaCha8Rng,
    rate: f64,
    mean_ms: f64,
}

impl Service {
    fn new(seed: u64, rate: f64) -> Self {
        Service {
            rng: ChaCha8Rng::seed_from_u64(seed),
            rate,
            mean_ms: MEAN_MS,
        }
    }

    /// One second of traffic.
    fn window(&mut self) -> SloWindow {
        let mut latencies = Vec::new();
        let mut errors = 0;
        let mut t = 0.0;
        loop {
            let u: f64 = self.rng.random_range(1e-12..1.0);
            t += -u.ln() / self.rate;
            if t >= 1.0 {
                break;
            }
            let v: f64 = self.rng.random_range(1e-12..1.0);
            latencies.push(Duration::from_secs_f64(-v.ln() * self.mean_ms / 1e3));
            if self.rng.random_range(0.0..1.0) < ERRORS {
                errors += 1;
            }
        }
        SloWindow::of(&latencies, errors, Duration::from_secs(1))
    }
}

fn slo() -> SloRef {
    static ONCE: std::sync::OnceLock<SloRef> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        SloBuilder::new("analyze.detection.api")
            .p99(Duration::from_millis(50))
            .errors(0.01)
            .register()
            .expect("the SLO registers")
    })
    .clone()
}

fn analyze(a: &mut Analyzer, seq: u64, window: SloWindow) -> Analysis {
    let slo = slo();
    let obs = Observation {
        instance: "sim".into(),
        seq,
        at_ms: 0,
        length_secs: 1.0,
        generation: 0,
        clean: true,
        knobs: BTreeMap::new(),
        workload: BTreeMap::new(),
        signals: BTreeMap::new(),
        slis: BTreeMap::new(),
    };
    let sample = SloSample {
        slis: slo.objectives().iter().map(|_| None).collect(),
        slo,
        fresh: window.clone(),
        window,
    };
    a.analyze(&obs, &[sample])
}

/// False alarms per window of each detector on a steady service.
#[derive(Debug, Default)]
struct Alarms {
    windows: u32,
    shift: u32,
    trend: u32,
    violation: u32,
    drift: u32,
}

const WARMUP: u64 = 100;

fn steady(rate: f64, windows: u64, seed: u64) -> Alarms {
    let mut service = Service::new(seed, rate);
    let mut a = Analyzer::new(&[slo()], Vec::new());
    let mut out = Alarms::default();
    for seq in 0..WARMUP + windows {
        let an = analyze(&mut a, seq, service.window());
        if seq < WARMUP {
            continue;
        }
        out.windows += 1;
        out.shift += u32::from(an.shift.is_some());
        out.trend += u32::from(an.trend.is_some());
        out.violation += u32::from(an.slos[0].health == Health::Violated);
        out.drift += u32::from(an.slos[0].drift.is_some());
    }
    out
}

/// A change after a steady warm-up, and the windows until `seen` says so
/// (`None` if not within `limit`).
fn delay(
    rate: f64,
    seed: u64,
    change: impl Fn(&mut Service),
    seen: impl Fn(&Analysis) -> bool,
    limit: u64,
) -> Option<u64> {
    let mut service = Service::new(seed, rate);
    let mut a = Analyzer::new(&[slo()], Vec::new());
    for seq in 0..150 {
        analyze(&mut a, seq, service.window());
    }
    change(&mut service);
    (1..=limit).find(|&k| seen(&analyze(&mut a, 150 + k, service.window())))
}

/// The worst delay over a few seeds.
fn worst_delay(
    rate: f64,
    change: impl Fn(&mut Service) + Copy,
    seen: impl Fn(&Analysis) -> bool + Copy,
    limit: u64,
) -> Option<u64> {
    (0..8u64)
        .map(|seed| delay(rate, 1000 + seed, change, seen, limit))
        .try_fold(0, |worst, d| d.map(|d| d.max(worst)))
}

#[test]
fn false_alarms_stay_under_one_percent_per_window_from_5_to_1500_requests_per_second() {
    for (i, rate) in RATES.into_iter().enumerate() {
        let windows = if rate > 100.0 { 1500 } else { 3000 };
        let a = steady(rate, windows, 7 + i as u64);
        let per = |n: u32| f64::from(n) / f64::from(a.windows);
        println!(
            "{rate:>6} req/s over {} windows: shift {:.3}%, trend {:.3}%, violation {:.3}%, drift {:.3}%",
            a.windows,
            100.0 * per(a.shift),
            100.0 * per(a.trend),
            100.0 * per(a.violation),
            100.0 * per(a.drift),
        );
        for (what, n) in [
            ("shift", a.shift),
            ("trend", a.trend),
            ("violation", a.violation),
            ("drift", a.drift),
        ] {
            assert!(
                per(n) < 0.01,
                "{what} at {rate} req/s: {n} of {}",
                a.windows
            );
        }
    }
}

#[test]
fn real_changes_are_detected_within_a_bounded_number_of_windows() {
    // (rate, windows allowed, worst of 8 seeded runs, for: a 30 % rate jump
    // seen as a shift, twice the latency seen as a drift, a p99 over its bound
    // (3 % of calls over it) confirmed as a violation). Measured: 42/17/153 at
    // 5 req/s, 36/6/30 at 15, 12/2/5 at 50, 1/1/3 at 400, 1/1/1 at 1500.
    let bounds = [
        (5.0, 60, 25, 200),
        (15.0, 45, 10, 45),
        (50.0, 15, 4, 15),
        (400.0, 2, 2, 4),
        (1500.0, 1, 1, 2),
    ];
    for (rate, jump_limit, slow_limit, broken_limit) in bounds {
        let jump = worst_delay(rate, |s| s.rate *= 1.3, |a| a.shift.is_some(), jump_limit);
        let slower = worst_delay(
            rate,
            |s| s.mean_ms *= 2.0,
            |a| a.slos[0].drift == Some(Direction::Worse),
            slow_limit,
        );
        // 3 % of calls over 50 ms: the p99 at 66 ms.
        let broken = worst_delay(
            rate,
            |s| s.mean_ms = 50.0 / (1.0f64 / 0.03).ln(),
            |a| a.violated(),
            broken_limit,
        );
        println!(
            "{rate:>6} req/s, worst of 8 runs: 30% jump {jump:?} windows, 2x latency {slower:?}, p99 broken {broken:?}"
        );
        assert!(
            jump.is_some(),
            "30 % jump at {rate} req/s: over {jump_limit} windows"
        );
        assert!(
            slower.is_some(),
            "2x latency at {rate} req/s: over {slow_limit} windows"
        );
        assert!(
            broken.is_some(),
            "broken p99 at {rate} req/s: over {broken_limit} windows"
        );
    }
}
