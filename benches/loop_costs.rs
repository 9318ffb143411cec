//! What the loop costs: one iteration with a trusted model planning over 1024
//! candidates, and training on 1k and 10k observations (targets:
//! < 10 ms per iteration, < 1 s to train on 10k observations).
//!
//! ```text
//! cargo bench --bench loop_costs
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use finch::knowledge::{KnowledgeStore, MemoryStore, Record};
use finch::model::ModelConfig;
use finch::monitor::Observation;
use finch::slo::SloRef;
use finch::{Config, KnobBuilder, Outcome, SloBuilder};

const KNOBS: [&str; 3] = ["bench.workers", "bench.cache_mb", "bench.batch"];
const SLO: &str = "bench.api";

fn register() -> SloRef {
    let registered = finch::slo_by_name(SLO);
    if let Some(slo) = registered {
        return slo;
    }
    KnobBuilder::new(KNOBS[0], 4u32)
        .bounds(1, 64)
        .cost(1.0)
        .register()
        .ok();
    KnobBuilder::new(KNOBS[1], 64.0f64)
        .bounds(8.0, 4096.0)
        .log()
        .cost(0.5)
        .register()
        .ok();
    KnobBuilder::new(KNOBS[2], 16u32)
        .bounds(1, 128)
        .register()
        .ok();
    SloBuilder::new(SLO)
        .p99(Duration::from_millis(5))
        .register()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Latency (seconds) the benchmark's service shows under a configuration.
fn latency(knobs: &BTreeMap<String, f64>) -> f64 {
    let w = knobs.get(KNOBS[0]).copied().unwrap_or(4.0);
    let c = knobs.get(KNOBS[1]).copied().unwrap_or(64.0);
    let b = knobs.get(KNOBS[2]).copied().unwrap_or(16.0);
    0.2 / w * (1.0 - 0.5 * (-c / 512.0).exp()) + 0.0002 * (b / 16.0).ln().abs()
}

/// `n` observations spread over the knob space, as a store holding them.
async fn store_with(n: usize) -> MemoryStore {
    let store = MemoryStore::new(n + 16);
    let records = (0..n)
        .map(|i| {
            let f = |k: usize| ((i * (k * 7919 + 13)) % 1000) as f64 / 1000.0;
            let knobs: BTreeMap<String, f64> = [
                (KNOBS[0].to_string(), 1.0 + (63.0 * f(1)).round()),
                (KNOBS[1].to_string(), 8.0 * 512f64.powf(f(2))),
                (KNOBS[2].to_string(), 1.0 + (127.0 * f(3)).round()),
            ]
            .into();
            Record::Observation(Observation {
                instance: "bench".into(),
                seq: i as u64 + 1,
                at_ms: i as u64,
                length_secs: 1.0,
                generation: 0,
                clean: true,
                slis: [(format!("{SLO}/p99"), latency(&knobs))].into(),
                knobs,
                workload: [(format!("{SLO}/rate"), 400.0)].into(),
                signals: BTreeMap::new(),
            })
        })
        .collect();
    store
        .append(records)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
}

fn config(store: MemoryStore, samples: usize) -> Config {
    Config::default()
        .manual()
        .knobs(KNOBS)
        .slos([SLO])
        .process_signals(false)
        .candidates(1024)
        .model(ModelConfig {
            max_samples: samples,
            retrain_every: usize::MAX,
            ..ModelConfig::default()
        })
        .store(store)
}

fn record_window(slo: &SloRef) {
    for i in 0..400u64 {
        slo.record(Duration::from_micros(40_000 + i * 10), Outcome::Ok);
    }
}

fn iteration(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let slo = register();
    let finch = rt.block_on(async {
        let finch =
            finch::start(config(store_with(1000).await, 10_000)).unwrap_or_else(|e| panic!("{e}"));
        record_window(&slo);
        finch.tick().await.unwrap_or_else(|e| panic!("{e}"));
        finch
    });
    let status = finch.status();
    assert!(
        status.model.trusted,
        "the iteration benchmark plans with a trusted model"
    );
    c.bench_function("loop/iteration (trusted model, 1024 candidates)", |b| {
        b.iter(|| {
            record_window(&slo);
            rt.block_on(finch.tick()).unwrap_or_else(|e| panic!("{e}"))
        })
    });
    rt.block_on(finch.shutdown());
}

fn training(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let slo = register();
    let mut g = c.benchmark_group("loop/training");
    g.sample_size(10);
    for n in [1_000usize, 10_000] {
        g.bench_function(format!("{n} observations"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += rt.block_on(async {
                        let finch = finch::start(config(store_with(n).await, n))
                            .unwrap_or_else(|e| panic!("{e}"));
                        record_window(&slo);
                        finch.tick().await.unwrap_or_else(|e| panic!("{e}"));
                        let secs = finch.status().model.training_secs;
                        finch.shutdown().await;
                        Duration::from_secs_f64(secs)
                    });
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, iteration, training);
criterion_main!(benches);
