//! A simulated service for deterministic closed-loop tests: its latency follows
//! a queueing model of load and knobs, with seeded noise, and is recorded into
//! real SLOs; the loop runs with manual ticks.

// Test support: each test uses part of it, and a failed setup is a failed test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use finch_core::{Config, Handle, Knob, KnobBuilder, Outcome, SloBuilder, SloRef};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A service with a costly worker pool, a costly cache and a free batch size.
pub struct Sim {
    pub workers: Arc<Knob<u32>>,
    pub cache_mb: Arc<Knob<f64>>,
    pub batch: Arc<Knob<u32>>,
    pub slo: SloRef,
    pub rng: ChaCha8Rng,
    pub prefix: String,
}

impl Sim {
    pub fn new(prefix: &str, seed: u64) -> Sim {
        let workers = KnobBuilder::new(format!("{prefix}.workers"), 2u32)
            .bounds(1, 32)
            .cost(1.0)
            .register()
            .unwrap();
        let cache_mb = KnobBuilder::new(format!("{prefix}.cache_mb"), 64.0f64)
            .bounds(16.0, 1024.0)
            .log()
            .cost(0.5)
            .register()
            .unwrap();
        let batch = KnobBuilder::new(format!("{prefix}.batch"), 8u32)
            .bounds(1, 64)
            .register()
            .unwrap();
        let slo = SloBuilder::new(format!("{prefix}.api"))
            .p99(Duration::from_millis(100))
            .register()
            .unwrap();
        Sim {
            workers,
            cache_mb,
            batch,
            slo,
            rng: ChaCha8Rng::seed_from_u64(seed),
            prefix: prefix.to_string(),
        }
    }

    pub fn knob_names(&self) -> Vec<String> {
        ["workers", "cache_mb", "batch"]
            .iter()
            .map(|k| format!("{}.{k}", self.prefix))
            .collect()
    }

    pub fn config(&self) -> Config {
        Config::default()
            .manual()
            .interval(Duration::from_secs(1))
            .knobs(self.knob_names())
            .slos([self.slo.name().to_string()])
            .process_signals(false)
            .seed(11)
    }

    /// Mean latency in seconds at `rate` requests per second, `None` if overloaded.
    pub fn mean_latency(&self, rate: f64) -> Option<f64> {
        let c = f64::from(self.workers.get());
        let hit = 1.0 - (-self.cache_mb.get() / 200.0).exp();
        let batch = f64::from(self.batch.get());
        let service = 0.010 * (1.0 - 0.6 * hit) + 0.0005 * (batch / 8.0).ln().abs();
        let rho = rate * service / c;
        if rho >= 0.98 {
            return None;
        }
        let wait = rho.powf((2.0 * (c + 1.0)).sqrt()) / (c * (1.0 - rho)) * service;
        Some(service + wait)
    }

    /// Records one window of `rate` requests per second.
    pub fn serve(&mut self, rate: f64) {
        let n = rate.round() as usize;
        let mean = self.mean_latency(rate);
        for _ in 0..n {
            let latency = match mean {
                Some(m) => {
                    let u: f64 = self.rng.random_range(1e-9..1.0);
                    -u.ln() * m
                }
                None => self.rng.random_range(0.5..2.0),
            };
            self.slo
                .record(Duration::from_secs_f64(latency), Outcome::Ok);
        }
    }

    /// Cost of the configuration in force (as finch computes it).
    pub fn cost(&self) -> f64 {
        let w = (f64::from(self.workers.get()) - 1.0) / 31.0;
        let c = (self.cache_mb.get() / 16.0).ln() / (1024.0f64 / 16.0).ln();
        w + 0.5 * c
    }

    pub async fn step(&mut self, finch: &Handle, rate: f64) -> finch_core::Tick {
        self.serve(rate);
        finch.tick().await.unwrap()
    }

    /// Runs the loop over a load trace; returns every tick.
    pub async fn run(&mut self, finch: &Handle, load: &[f64]) -> Vec<Run> {
        let mut out = Vec::with_capacity(load.len());
        for &rate in load {
            let tick = self.step(finch, rate).await;
            let p99 = tick
                .observation
                .slis
                .get(&format!("{}.api/p99", self.prefix))
                .copied();
            out.push(Run {
                rate,
                p99,
                cost: self.cost(),
                workers: self.workers.get(),
                changed: tick.decision.is_some(),
                tick,
            });
        }
        out
    }
}

/// One window of a run.
pub struct Run {
    pub rate: f64,
    pub p99: Option<f64>,
    pub cost: f64,
    pub workers: u32,
    pub changed: bool,
    pub tick: finch_core::Tick,
}

/// Share of windows (with a measured p99) within `bound` seconds.
pub fn compliance(runs: &[Run], bound: f64) -> f64 {
    let measured: Vec<f64> = runs.iter().filter_map(|r| r.p99).collect();
    measured.iter().filter(|&&p| p <= bound).count() as f64 / measured.len().max(1) as f64
}

/// Load: `low` for `a` windows, ramp to `high` over `b`, hold `c`, back down over `b`, hold `low`.
pub fn rise_and_fall(low: f64, high: f64, a: usize, b: usize, c: usize, d: usize) -> Vec<f64> {
    let mut v = vec![low; a];
    v.extend((0..b).map(|i| low + (high - low) * (i + 1) as f64 / b as f64));
    v.extend(vec![high; c]);
    v.extend((0..b).map(|i| high - (high - low) * (i + 1) as f64 / b as f64));
    v.extend(vec![low; d]);
    v
}
