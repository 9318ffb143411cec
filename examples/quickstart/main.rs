//! finch in one file: a simulated service whose latency depends on its load and
//! on three knobs, under a load that rises and falls.
//!
//! - `WORKERS` (costly): how many requests run at once; too few and requests queue.
//! - `CACHE_MB` (costly): a bigger cache hits more often, so requests are faster.
//! - `BATCH` (free): too small or too large batches both add overhead.
//!
//! The service starts with a cheap configuration that cannot take the peak load.
//! finch brings the violated objective back when load rises, then lowers the
//! costly knobs again when load falls. Each window prints one line; a summary
//! ends the run.
//!
//! ```text
//! cargo run --release --example quickstart            # about 100 s
//! cargo run --release --example quickstart -- --short # about 40 s
//! ```
//!
//! Outside this repository, the file builds in a crate that has run
//! `cargo add finch-slo` (whose library is `finch`), `cargo add rand rand_chacha`
//! and `cargo add tokio --features macros,rt-multi-thread,sync,time`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use finch::decision::DecisionOutcome;
use finch::{Knob, knob, slo};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Semaphore;

/// Requests served at once.
#[knob(default = 2, min = 1, max = 32, cost = 1.0)]
static WORKERS: Knob<u32>;

/// Cache size in MiB: more hits, faster requests, more memory.
#[knob(default = 16, min = 8, max = 512, log, cost = 0.5)]
static CACHE_MB: Knob<u32>;

/// Items fetched per backend round trip.
#[knob(default = 32, min = 1, max = 64)]
static BATCH: Knob<u32>;

/// The objective: 99 % of requests within 50 ms.
#[slo(p99 < 50ms)]
async fn handle(workers: &Semaphore, rng_seed: u64) -> Result<(), Overloaded> {
    let _permit = workers.acquire().await.map_err(|_| Overloaded)?;
    let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
    let hit = 1.0 - (-f64::from(CACHE_MB.get()) / 96.0).exp();
    let batch = f64::from(BATCH.get());
    let mean_ms = 9.0 * (1.0 - 0.7 * hit) + 0.8 * (batch / 8.0).ln().abs();
    let u: f64 = rng.random_range(1e-6..1.0);
    tokio::time::sleep(Duration::from_secs_f64(-u.ln() * mean_ms / 1e3)).await;
    Ok(())
}

#[derive(Debug)]
struct Overloaded;

/// Keeps the semaphore's permits equal to `WORKERS`.
async fn follow_workers(sem: Arc<Semaphore>) {
    let mut rx = WORKERS.watch();
    let mut current = WORKERS.get();
    while rx.changed().await.is_ok() {
        let want = *rx.borrow_and_update();
        if want > current {
            sem.add_permits((want - current) as usize);
        } else if let Ok(p) = sem.acquire_many(current - want).await {
            p.forget();
        }
        current = want;
    }
}

/// Requests per second at second `t` of a run of `len` seconds: low, a ramp to
/// a peak, a plateau, a ramp down, low again.
fn load(t: f64, len: f64) -> f64 {
    let (low, high) = (40.0, 420.0);
    let x = t / len;
    let up = ((x - 0.15) / 0.15).clamp(0.0, 1.0);
    let down = ((x - 0.55) / 0.15).clamp(0.0, 1.0);
    low + (high - low) * (up - down)
}

fn cost() -> f64 {
    f64::from(WORKERS.get() - 1) / 31.0 + 0.5 * (f64::from(CACHE_MB.get()) / 8.0).ln() / 64f64.ln()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let short = std::env::args().any(|a| a == "--short");
    let len = if short { 40.0 } else { 100.0 };
    let interval = Duration::from_millis(if short { 250 } else { 500 });

    let finch = finch::start(finch::Config::default().interval(interval).seed(7))?;
    let workers = Arc::new(Semaphore::new(WORKERS.get() as usize));
    tokio::spawn(follow_workers(Arc::clone(&workers)));

    // Open-loop arrivals (Poisson), each request on its own task.
    let started = Instant::now();
    let generator = {
        let workers = Arc::clone(&workers);
        tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let mut next = Instant::now();
            let mut n = 0u64;
            loop {
                let t = next.duration_since(started).as_secs_f64();
                if t >= len {
                    break;
                }
                let u: f64 = rng.random_range(1e-9..1.0);
                next += Duration::from_secs_f64(-u.ln() / load(t, len));
                tokio::time::sleep_until(next.into()).await;
                let workers = Arc::clone(&workers);
                n += 1;
                tokio::spawn(async move { handle(&workers, n).await });
            }
        })
    };

    println!(
        "{:>6} {:>6} {:>9} {:>8} {:>9} {:>6} {:>5}  decision",
        "t(s)", "load", "p99(ms)", "workers", "cache_mb", "batch", "cost"
    );
    let mut windows = 0u32;
    let mut compliant = 0u32;
    let mut peak_cost = 0.0f64;
    let mut violated_at_peak = false;
    let mut restored_after_violation = false;
    let mut last_seen = 0u64;
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    while !generator.is_finished() {
        ticker.tick().await;
        let status = finch.status();
        let Some(slo) = status.slos.first() else {
            continue;
        };
        if status.iterations == last_seen {
            continue;
        }
        last_seen = status.iterations;
        let t = started.elapsed().as_secs_f64();
        let p99 = slo.objectives.first().and_then(|o| o.sli);
        if let Some(p99) = p99 {
            windows += 1;
            if p99 <= 0.050 {
                compliant += 1;
                if violated_at_peak {
                    restored_after_violation = true;
                }
            } else if load(t, len) > 200.0 {
                violated_at_peak = true;
            }
        }
        peak_cost = peak_cost.max(cost());
        let decision = status
            .decisions
            .last()
            .filter(|d| d.window + 1 >= status.iterations)
            .map(|d| {
                let changes: Vec<String> = d
                    .changes
                    .iter()
                    .map(|c| format!("{} {}→{}", short_name(&c.knob), c.from, c.to))
                    .collect();
                let mark = match d.outcome {
                    DecisionOutcome::ApplyFailed { .. } => " (apply failed)",
                    _ => "",
                };
                format!("{:?}: {}{mark}", d.kind, changes.join(", "))
            })
            .unwrap_or_default();
        println!(
            "{t:6.1} {:6.0} {:>9} {:>8} {:>9} {:>6} {:5.2}  {decision}",
            slo.rate,
            p99.map_or("-".into(), |v| format!(
                "{:.1}{}",
                v * 1e3,
                if v > 0.05 { "!" } else { "" }
            )),
            WORKERS.get(),
            CACHE_MB.get(),
            BATCH.get(),
            cost(),
        );
    }

    let status = finch.status();
    finch.shutdown().await;
    let end_cost = cost();
    println!();
    println!("windows within the objective: {compliant}/{windows}");
    println!(
        "violation at peak load brought back: {}",
        if restored_after_violation {
            "yes"
        } else if violated_at_peak {
            "no"
        } else {
            "no violation at peak"
        }
    );
    println!(
        "cost: peak {peak_cost:.2}, at the end {end_cost:.2} (lowered as load fell: {})",
        if end_cost < peak_cost { "yes" } else { "no" }
    );
    println!(
        "decisions: {}, model trained {} times (trusted: {})",
        status.decisions.len(),
        status.model.trainings,
        status.model.trusted
    );
    for d in status.decisions.iter().rev().take(3).rev() {
        println!("  #{} {:?}: {}", d.id, d.kind, d.reason);
    }
    Ok(())
}

fn short_name(knob: &str) -> &str {
    knob.rsplit("::").next().unwrap_or(knob)
}
