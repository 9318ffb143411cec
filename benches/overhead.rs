//! What finch costs a service: the same CPU-bound service under the same
//! open-loop load, with the loop running (250 ms windows) and with finch
//! absent, alternated in one run. Latency is measured from each request's
//! intended send time (no coordinated omission). Target: p99 within
//! 2 % at equal load.
//!
//! ```text
//! cargo bench --bench overhead              # 3 rounds of 10 s per arm
//! cargo bench --bench overhead -- --short   # 2 rounds of 3 s per arm
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use finch::{Config, Knob, knob, slo};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Mutex;

const RATE: f64 = 2000.0;

/// Rounds of hashing per request (about 60 µs of CPU here).
#[knob(default = 3000, min = 500, max = 20000, cost = 1.0)]
static WORK: Knob<u32>;

#[inline(never)]
fn spin(rounds: u32) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for i in 0..rounds {
        h = (h ^ u64::from(i)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[slo(p99 < 5ms)]
async fn request() -> u64 {
    black_box(spin(WORK.get()))
}

struct Arm {
    p50: f64,
    p99: f64,
    cpu_per_request: f64,
}

/// Sends requests from this (non-runtime) thread, whose sleeps are far finer
/// than tokio's millisecond timer, onto the runtime.
fn run_arm(rt: &tokio::runtime::Runtime, secs: f64, seed: u64) -> Arm {
    let latencies = Arc::new(Mutex::new(Vec::with_capacity((RATE * secs) as usize)));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cpu = cpu_time::ProcessTime::now();
    let start = Instant::now();
    let mut next = start;
    let mut tasks = Vec::new();
    let mut sent = 0u64;
    while next.duration_since(start).as_secs_f64() < secs {
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let intended = next;
        let latencies = Arc::clone(&latencies);
        tasks.push(rt.spawn(async move {
            black_box(request().await);
            latencies
                .lock()
                .await
                .push(intended.elapsed().as_secs_f64());
        }));
        sent += 1;
        next += Duration::from_secs_f64(-rng.random_range(1e-9..1.0f64).ln() / RATE);
    }
    rt.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    let cpu = cpu.elapsed().as_secs_f64();
    let mut v = rt.block_on(async { latencies.lock().await.clone() });
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Arm {
        p50: at(0.50),
        p99: at(0.99),
        cpu_per_request: cpu / sent.max(1) as f64,
    }
}

/// The median (0 for none).
fn median(v: &[f64]) -> f64 {
    finch::lab::median(v).unwrap_or(0.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let short = std::env::args().any(|a| a == "--short");
    let (rounds, secs) = if short { (2, 3.0) } else { (3, 10.0) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut absent = Vec::new();
    let mut running = Vec::new();
    run_arm(&rt, 1.0, 0); // warm-up
    for round in 0..rounds {
        absent.push(run_arm(&rt, secs, round));
        let finch = rt.block_on(async {
            finch::start(
                Config::default()
                    .interval(Duration::from_millis(250))
                    .freeze(WORK.name()),
            )
        })?;
        running.push(run_arm(&rt, secs, round));
        let status = finch.status();
        eprintln!(
            "loop: {} iterations, {:.1} ms CPU, {} trainings of {:.1} ms",
            status.iterations,
            status.cpu_secs * 1e3,
            status.model.trainings,
            status.model.training_secs * 1e3
        );
        rt.block_on(finch.shutdown());
    }
    let stat = |arms: &[Arm], f: fn(&Arm) -> f64| median(&arms.iter().map(f).collect::<Vec<_>>());
    println!(
        "| {RATE} req/s, {rounds} x {secs} s per arm (medians) | finch absent | finch running | ratio |"
    );
    println!("|---|---:|---:|---:|");
    for (name, f, unit) in [
        ("p50 latency", (|a: &Arm| a.p50) as fn(&Arm) -> f64, 1e6),
        ("p99 latency", |a: &Arm| a.p99, 1e6),
        ("CPU per request", |a: &Arm| a.cpu_per_request, 1e6),
    ] {
        let (a, r) = (stat(&absent, f), stat(&running, f));
        println!(
            "| {name} (µs) | {:.1} | {:.1} | {:.3} |",
            a * unit,
            r * unit,
            r / a
        );
    }
    Ok(())
}
