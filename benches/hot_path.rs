//! The hot path: reading a knob and recording an `#[slo]` call, against the
//! floors and the alternatives (targets: knob read within 2x of a
//! relaxed `AtomicU64` load; `#[slo]` within 0.5x of two `Instant::now()`;
//! the floor of an `#[slo]` call, what it cannot do without, is measured
//! beside it).
//!
//! ```text
//! cargo bench --bench hot_path
//! ```

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use finch::{Knob, knob, slo};

/// The knob read on the hot path.
#[knob(default = 8, min = 1, max = 64, cost = 1.0)]
static POOL: Knob<u32>;

static ATOMIC: AtomicU64 = AtomicU64::new(8);

/// Runs `read` `iters` times on each of `threads` threads at once; the time of
/// the slowest thread (so the per-read time under that much sharing).
fn on_threads(threads: usize, iters: u64, read: impl Fn() -> u64 + Sync) -> Duration {
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let t = Instant::now();
                    for _ in 0..iters {
                        black_box(read());
                    }
                    t.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}

fn knob_read(c: &mut Criterion) {
    let swap = ArcSwap::from_pointee(8u64);
    let lock = RwLock::new(8u64);
    for threads in [1usize, 2] {
        let mut g = c.benchmark_group(format!("knob_read/{threads}_threads"));
        g.bench_function("finch Knob::get", |b| {
            b.iter_custom(|n| on_threads(threads, n, || u64::from(black_box(&POOL).get())))
        });
        g.bench_function("AtomicU64 relaxed load", |b| {
            b.iter_custom(|n| on_threads(threads, n, || black_box(&ATOMIC).load(Ordering::Relaxed)))
        });
        g.bench_function("ArcSwap::load", |b| {
            b.iter_custom(|n| on_threads(threads, n, || **black_box(&swap).load()))
        });
        g.bench_function("RwLock read", |b| {
            b.iter_custom(|n| {
                on_threads(threads, n, || {
                    *black_box(&lock).read().unwrap_or_else(|p| p.into_inner())
                })
            })
        });
        g.finish();
    }
}

#[inline(never)]
fn work(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[slo(p99 < 50ms)]
#[inline(never)]
fn work_with_slo(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[slo(p99 < 50ms)]
async fn async_work_with_slo(x: u64) -> u64 {
    black_box(x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn slo_call(c: &mut Criterion) {
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder();
    let mut g = c.benchmark_group("slo_call");
    g.bench_function("bare call", |b| b.iter(|| work(black_box(7))));
    g.bench_function("#[slo] sync call", |b| {
        b.iter(|| work_with_slo(black_box(7)))
    });
    g.bench_function("#[slo] async call (polled once)", |b| {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        b.iter(|| {
            let mut fut = std::pin::pin!(async_work_with_slo(black_box(7)));
            black_box(fut.as_mut().poll(&mut cx))
        })
    });
    // The floor of an `#[slo]` call: the two reads of the time-stamp counter
    // it times the call with; then the same with two shared relaxed increments
    // (locked instructions), which is how calls were counted before each
    // thread counted into counters of its own.
    let clock = quanta::Clock::new();
    g.bench_function("two counter reads around the call (floor)", |b| {
        b.iter(|| {
            let t = clock.raw();
            let r = work(black_box(7));
            black_box(clock.delta_as_nanos(t, clock.raw()));
            r
        })
    });
    let (started, bucket) = (AtomicU64::new(0), AtomicU64::new(0));
    g.bench_function("two counter reads + two shared increments", |b| {
        b.iter(|| {
            black_box(&started).fetch_add(1, Ordering::Relaxed);
            let t = clock.raw();
            let r = work(black_box(7));
            black_box(clock.delta_as_nanos(t, clock.raw()));
            black_box(&bucket).fetch_add(1, Ordering::Relaxed);
            r
        })
    });
    g.bench_function("two Instant::now() around the call", |b| {
        b.iter(|| {
            let t = Instant::now();
            let r = work(black_box(7));
            black_box(t.elapsed());
            r
        })
    });
    g.bench_function(
        "Instant::now() + metrics::histogram! (Prometheus recorder)",
        |b| {
            let h = metrics::histogram!("bench_latency_seconds");
            b.iter(|| {
                let t = Instant::now();
                let r = work(black_box(7));
                h.record(t.elapsed().as_secs_f64());
                r
            })
        },
    );
    g.finish();
    if let Ok(handle) = prometheus {
        black_box(handle.render());
    }
}

criterion_group!(benches, knob_read, slo_call);
criterion_main!(benches);
