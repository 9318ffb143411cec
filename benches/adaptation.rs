//! The adaptation benchmark: does finch beat static configuration?
//!
//! A simulated catalog service (written only against finch's public API) runs
//! seeded workload traces under four arms, in one run:
//!
//! - `static default`: the declared defaults, never changed;
//! - `best static`: the configuration of the knob grid with the fewest violating
//!   windows over the trace, then the lowest cost (an oracle: it has seen the
//!   whole trace);
//! - `finch cold`: finch from no knowledge;
//! - `finch warm`: finch started on the file store the cold run left.
//!
//! Windows are 300 ms of simulated time driven by manual ticks, so runs are
//! deterministic and fast. The service: reads and writes share a pool of
//! `threads` (costly); `cache_mb` (costly, log scale) speeds reads up; `batch`
//! (free) trades write latency against per-item overhead. Objectives: reads
//! p99 < 60 ms, writes p99 < 150 ms.
//!
//! ```text
//! cargo bench --bench adaptation              # full traces, report (markdown, JSON,
//!                                             # PNG chart) in target/adaptation/
//! cargo bench --bench adaptation -- --short   # CI: shorter traces; fails if finch
//!                                             # violates more windows than the default
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use finch::decision::DecisionKind;
use finch::knowledge::FileStore;
use finch::{Config, Knob, KnobBuilder, Outcome, SloBuilder, SloRef};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

#[path = "adaptation/chart.rs"]
mod chart;

const WINDOW: f64 = 0.3;
const READ_BOUND: f64 = 0.060;
const WRITE_BOUND: f64 = 0.150;

/// A point of the knob space.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
struct Setting {
    threads: u32,
    cache_mb: u32,
    batch: u32,
}

const DEFAULT: Setting = Setting {
    threads: 4,
    cache_mb: 64,
    batch: 16,
};

impl Setting {
    /// Cost as finch counts it: each knob's cost weight times its position in
    /// its range (log scale for `cache_mb`).
    fn cost(self) -> f64 {
        f64::from(self.threads - 1) / 31.0
            + 0.4 * (f64::from(self.cache_mb) / 16.0).ln() / 128f64.ln()
    }
}

/// One window of load: request rates and how much CPU contention slows work.
#[derive(Clone, Copy, Debug, Serialize)]
struct Load {
    reads: f64,
    writes: f64,
    slowdown: f64,
}

/// A seeded workload trace with the windows where its shape changes.
struct Trace {
    name: &'static str,
    what: &'static str,
    windows: Vec<Load>,
    shifts: Vec<usize>,
}

fn traces(short: bool) -> Vec<Trace> {
    let scale = |n: usize| if short { n / 2 } else { n };
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut jitter = move |v: f64| v * rng.random_range(0.95..1.05);
    let load = |rate: f64, read_share: f64, slowdown: f64| Load {
        reads: rate * read_share,
        writes: rate * (1.0 - read_share),
        slowdown,
    };

    let n = scale(1200);
    let diurnal = (0..n)
        .map(|i| {
            let day = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
            load(jitter(120.0 + 680.0 * day), 0.8, 1.0)
        })
        .collect();

    let (a, b, c) = (scale(300), scale(150), scale(350));
    let spike = (0..a + b + c)
        .map(|i| {
            let rate = if (a..a + b).contains(&i) {
                950.0
            } else {
                200.0
            };
            load(jitter(rate), 0.8, 1.0)
        })
        .collect();

    let (a, b) = (scale(400), scale(400));
    let mix = (0..a + b)
        .map(|i| load(jitter(320.0), if i < a { 0.9 } else { 0.3 }, 1.0))
        .collect();

    let (a, b, c) = (scale(300), scale(200), scale(300));
    let interference = (0..a + b + c)
        .map(|i| {
            let slow = if (a..a + b).contains(&i) { 1.8 } else { 1.0 };
            load(jitter(380.0), 0.8, slow)
        })
        .collect();

    vec![
        Trace {
            name: "diurnal",
            what: "120 → 800 → 120 req/s over one cosine day, 80 % reads",
            windows: diurnal,
            shifts: vec![],
        },
        Trace {
            name: "spike",
            what: "200 req/s, a sudden 950 req/s spike, back to 200",
            shifts: vec![scale(300), scale(450)],
            windows: spike,
        },
        Trace {
            name: "mix-shift",
            what: "320 req/s, reads 90 % → 30 %",
            shifts: vec![scale(400)],
            windows: mix,
        },
        Trace {
            name: "interference",
            what: "380 req/s; CPU contention slows work 1.8x for a while",
            shifts: vec![scale(300), scale(500)],
            windows: interference,
        },
    ]
}

impl Load {
    /// Service times (seconds) of a read and a write under a setting, queueing aside.
    fn service(self, s: Setting) -> (f64, f64) {
        let hit = 1.0 - (-f64::from(s.cache_mb) / 400.0).exp();
        let batch = f64::from(s.batch);
        let read = self.slowdown * (0.004 * (1.0 - 0.8 * hit) + 0.000_02 * batch);
        let write = self.slowdown * (0.006 + 0.03 / batch.sqrt());
        (read, write)
    }

    /// The work this load brings: threads kept busy under a setting's cache and
    /// batch size (the pool saturates when it nears `threads`).
    fn busy_threads(self, s: Setting) -> f64 {
        let (read, write) = self.service(s);
        self.reads * read + self.writes * write
    }
}

/// The simulated service: mean latencies (seconds) of reads and writes under a
/// load and a setting; `None` when the pool is saturated.
fn means(load: Load, s: Setting) -> Option<(f64, f64)> {
    let (read, write) = load.service(s);
    let c = f64::from(s.threads);
    let rate = load.reads + load.writes;
    if rate <= 0.0 {
        return Some((read, write));
    }
    let mean_service = (load.reads * read + load.writes * write) / rate;
    let rho = rate * mean_service / c;
    if rho >= 0.97 {
        return None;
    }
    let wait = rho.powf((2.0 * (c + 1.0)).sqrt()) / (c * (1.0 - rho)) * mean_service;
    Some((read + wait, write + wait))
}

/// Latency samples (seconds) of one window, reads then writes.
fn sample(load: Load, s: Setting, rng: &mut ChaCha8Rng) -> (Vec<f64>, Vec<f64>) {
    let m = means(load, s);
    let mut draw = |n: f64, mean: Option<f64>| -> Vec<f64> {
        let count = (n * WINDOW).round() as usize;
        (0..count)
            .map(|_| match mean {
                Some(m) => -rng.random_range(1e-9..1.0f64).ln() * m,
                None => rng.random_range(0.5..2.0),
            })
            .collect()
    };
    (
        draw(load.reads, m.map(|m| m.0)),
        draw(load.writes, m.map(|m| m.1)),
    )
}

fn p99(v: &mut [f64]) -> Option<f64> {
    if v.len() < 20 {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1;
    Some(v[i])
}

/// One window as an arm saw it.
#[derive(Clone, Debug, Serialize)]
struct Window {
    read_p99: Option<f64>,
    write_p99: Option<f64>,
    setting: Setting,
    cost: f64,
    decision: Option<String>,
}

impl Window {
    fn violated(&self) -> bool {
        self.read_p99.is_some_and(|p| p > READ_BOUND)
            || self.write_p99.is_some_and(|p| p > WRITE_BOUND)
    }
}

/// What an arm did over a trace.
#[derive(Debug, Serialize)]
struct ArmResult {
    arm: String,
    violating_share: f64,
    read_p99_ms: f64,
    write_p99_ms: f64,
    mean_cost: f64,
    knob_changes: usize,
    violated_while_exploring: usize,
    recovery_windows: Vec<Option<usize>>,
    finch_cpu_ms: Option<f64>,
    windows: Vec<Window>,
}

fn summarize(
    arm: &str,
    trace: &Trace,
    windows: Vec<Window>,
    mut reads: Vec<f64>,
    mut writes: Vec<f64>,
    cpu: Option<f64>,
) -> ArmResult {
    let n = windows.len().max(1) as f64;
    let violating = windows.iter().filter(|w| w.violated()).count();
    let changes = windows
        .windows(2)
        .filter(|p| p[0].setting != p[1].setting)
        .count();
    let mut exploring = 0usize;
    let mut last_explore: Option<usize> = None;
    for (i, w) in windows.iter().enumerate() {
        if w.decision.as_deref() == Some("explore") {
            last_explore = Some(i);
        }
        if w.violated() && last_explore.is_some_and(|e| i > e && i - e <= 2) {
            exploring += 1;
        }
    }
    let recovery = trace
        .shifts
        .iter()
        .map(|&s| {
            (s..windows.len().saturating_sub(1))
                .find(|&i| !windows[i].violated() && !windows[i + 1].violated())
                .map(|i| i - s)
        })
        .collect();
    ArmResult {
        arm: arm.to_string(),
        violating_share: violating as f64 / n,
        read_p99_ms: p99(&mut reads).unwrap_or(0.0) * 1e3,
        write_p99_ms: p99(&mut writes).unwrap_or(0.0) * 1e3,
        mean_cost: windows.iter().map(|w| w.cost).sum::<f64>() / n,
        knob_changes: changes,
        violated_while_exploring: exploring,
        recovery_windows: recovery,
        finch_cpu_ms: cpu,
        windows,
    }
}

/// Runs a fixed setting over the trace.
fn run_static(arm: &str, trace: &Trace, s: Setting) -> ArmResult {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut all_r, mut all_w) = (Vec::new(), Vec::new());
    let windows = trace
        .windows
        .iter()
        .map(|&load| {
            let (mut r, mut w) = sample(load, s, &mut rng);
            let win = Window {
                read_p99: p99(&mut r),
                write_p99: p99(&mut w),
                setting: s,
                cost: s.cost(),
                decision: None,
            };
            all_r.extend(r);
            all_w.extend(w);
            win
        })
        .collect();
    summarize(arm, trace, windows, all_r, all_w, None)
}

/// The oracle: the grid setting with the fewest violating windows, then the
/// lowest cost.
fn best_static(trace: &Trace) -> (Setting, usize) {
    let mut best: Option<(usize, f64, Setting)> = None;
    for threads in [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32] {
        for cache_mb in [16, 32, 64, 128, 256, 512, 1024, 2048] {
            for batch in [1, 4, 8, 16, 32, 64, 128] {
                let s = Setting {
                    threads,
                    cache_mb,
                    batch,
                };
                let mut rng = ChaCha8Rng::seed_from_u64(7);
                let violating = trace
                    .windows
                    .iter()
                    .filter(|&&load| {
                        let (mut r, mut w) = sample(load, s, &mut rng);
                        p99(&mut r).is_some_and(|p| p > READ_BOUND)
                            || p99(&mut w).is_some_and(|p| p > WRITE_BOUND)
                    })
                    .count();
                let key = (violating, s.cost());
                if best.is_none_or(|(v, c, _)| key < (v, c)) {
                    best = Some((violating, s.cost(), s));
                }
            }
        }
    }
    best.map_or((DEFAULT, 0), |(v, _, s)| (s, v))
}

struct Service {
    threads: Arc<Knob<u32>>,
    cache_mb: Arc<Knob<u32>>,
    batch: Arc<Knob<u32>>,
    read: SloRef,
    write: SloRef,
}

impl Service {
    fn register() -> Result<Service, finch::Error> {
        Ok(Service {
            threads: KnobBuilder::new("catalog.threads", DEFAULT.threads)
                .bounds(1, 32)
                .cost(1.0)
                .doc("worker threads serving requests")
                .register()?,
            cache_mb: KnobBuilder::new("catalog.cache_mb", DEFAULT.cache_mb)
                .bounds(16, 2048)
                .log()
                .cost(0.4)
                .doc("read cache size in MiB")
                .register()?,
            batch: KnobBuilder::new("catalog.batch", DEFAULT.batch)
                .bounds(1, 128)
                .doc("items per write batch")
                .register()?,
            read: SloBuilder::new("catalog.read")
                .p99(Duration::from_secs_f64(READ_BOUND))
                .register()?,
            write: SloBuilder::new("catalog.write")
                .p99(Duration::from_secs_f64(WRITE_BOUND))
                .register()?,
        })
    }

    fn setting(&self) -> Setting {
        Setting {
            threads: self.threads.get(),
            cache_mb: self.cache_mb.get(),
            batch: self.batch.get(),
        }
    }

    fn reset(&self) -> Result<(), finch::KnobError> {
        self.threads.set(DEFAULT.threads)?;
        self.cache_mb.set(DEFAULT.cache_mb)?;
        self.batch.set(DEFAULT.batch)?;
        Ok(())
    }

    /// Runs finch over the trace, its knowledge in `dir`.
    async fn run_finch(
        &self,
        arm: &str,
        trace: &Trace,
        dir: &std::path::Path,
    ) -> Result<ArmResult, Box<dyn std::error::Error>> {
        self.reset()?;
        let finch = finch::start(
            Config::default()
                .manual()
                .interval(Duration::from_secs_f64(WINDOW))
                .knobs(["catalog.threads", "catalog.cache_mb", "catalog.batch"])
                .slos(["catalog.read", "catalog.write"])
                .process_signals(false)
                .seed(3)
                .store(FileStore::open(dir)?),
        )?;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut all_r, mut all_w) = (Vec::new(), Vec::new());
        let mut windows = Vec::with_capacity(trace.windows.len());
        for &load in &trace.windows {
            let s = self.setting();
            let (r, w) = sample(load, s, &mut rng);
            for &l in &r {
                self.read.record(Duration::from_secs_f64(l), Outcome::Ok);
            }
            for &l in &w {
                self.write.record(Duration::from_secs_f64(l), Outcome::Ok);
            }
            let tick = finch.tick().await?;
            let slis = &tick.observation.slis;
            windows.push(Window {
                read_p99: slis.get("catalog.read/p99").copied(),
                write_p99: slis.get("catalog.write/p99").copied(),
                setting: s,
                cost: s.cost(),
                decision: tick.decision.map(|d| {
                    match d.kind {
                        DecisionKind::Explore => "explore",
                        DecisionKind::Exploit => "exploit",
                        DecisionKind::Rollback => "rollback",
                        DecisionKind::Operator => "operator",
                    }
                    .to_string()
                }),
            });
            all_r.extend(r);
            all_w.extend(w);
        }
        let cpu = finch.status().cpu_secs * 1e3;
        finch.shutdown().await;
        Ok(summarize(arm, trace, windows, all_r, all_w, Some(cpu)))
    }
}

fn table(results: &BTreeMap<&str, Vec<ArmResult>>) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "| trace | arm | violating windows | read p99 (ms) | write p99 (ms) | mean cost | knob changes | violated while exploring | recovery (windows) | finch CPU (ms) |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---|---:|");
    for (trace, arms) in results {
        for a in arms {
            let recovery = if a.recovery_windows.is_empty() {
                "-".to_string()
            } else {
                a.recovery_windows
                    .iter()
                    .map(|r| r.map_or("never".into(), |w| w.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                md,
                "| {trace} | {} | {:.1} % | {:.1} | {:.1} | {:.3} | {} | {} | {recovery} | {} |",
                a.arm,
                a.violating_share * 100.0,
                a.read_p99_ms,
                a.write_p99_ms,
                a.mean_cost,
                a.knob_changes,
                a.violated_while_exploring,
                a.finch_cpu_ms.map_or("-".into(), |c| format!("{c:.0}")),
            );
        }
    }
    md
}

fn totals(results: &BTreeMap<&str, Vec<ArmResult>>, arm: &str) -> (f64, f64) {
    let mut windows = 0.0;
    let mut violating = 0.0;
    let mut cost = 0.0;
    for arms in results.values() {
        for a in arms.iter().filter(|a| a.arm == arm) {
            let n = a.windows.len() as f64;
            windows += n;
            violating += a.violating_share * n;
            cost += a.mean_cost * n;
        }
    }
    (violating / windows.max(1.0), cost / windows.max(1.0))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let short = std::env::args().any(|a| a == "--short");
    let out = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join("adaptation");
    std::fs::create_dir_all(&out)?;
    let service = Service::register()?;
    let traces = traces(short);
    let mut results: BTreeMap<&str, Vec<ArmResult>> = BTreeMap::new();
    for trace in &traces {
        eprintln!(
            "{}: {} windows ({})",
            trace.name,
            trace.windows.len(),
            trace.what
        );
        let knowledge = tempfile::tempdir()?;
        let (best, _) = best_static(trace);
        let arms = vec![
            run_static("static default", trace, DEFAULT),
            run_static(
                &format!(
                    "best static ({} threads, {} MiB, batch {})",
                    best.threads, best.cache_mb, best.batch
                ),
                trace,
                best,
            ),
            service
                .run_finch("finch cold", trace, knowledge.path())
                .await?,
            service
                .run_finch("finch warm", trace, knowledge.path())
                .await?,
        ];
        results.insert(trace.name, arms);
    }

    let md = table(&results);
    let (default_v, default_c) = totals(&results, "static default");
    let (cold_v, cold_c) = totals(&results, "finch cold");
    let (warm_v, warm_c) = totals(&results, "finch warm");
    let best_v_c: Vec<(f64, f64)> = results
        .values()
        .flat_map(|arms| arms.iter().filter(|a| a.arm.starts_with("best static")))
        .map(|a| {
            (
                a.violating_share * a.windows.len() as f64,
                a.mean_cost * a.windows.len() as f64,
            )
        })
        .collect();
    let n: f64 = results
        .values()
        .flat_map(|a| a.iter().filter(|a| a.arm == "static default"))
        .map(|a| a.windows.len() as f64)
        .sum();
    let best_v = best_v_c.iter().map(|x| x.0).sum::<f64>() / n.max(1.0);
    let best_c = best_v_c.iter().map(|x| x.1).sum::<f64>() / n.max(1.0);
    let mut summary = String::new();
    let _ = writeln!(summary, "| all traces | violating windows | mean cost |");
    let _ = writeln!(summary, "|---|---:|---:|");
    for (arm, v, c) in [
        ("static default", default_v, default_c),
        ("best static (per trace)", best_v, best_c),
        ("finch cold", cold_v, cold_c),
        ("finch warm", warm_v, warm_c),
    ] {
        let _ = writeln!(summary, "| {arm} | {:.1} % | {c:.3} |", v * 100.0);
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
    let _ = writeln!(
        summary,
        "\nfinch warm vs static default: {:.1}x fewer violating windows; vs best static: {:.0} % of its cost",
        ratio(default_v, warm_v),
        100.0 * ratio(warm_c, best_c)
    );
    println!("{md}\n{summary}");
    std::fs::write(out.join("adaptation.md"), format!("{md}\n{summary}"))?;
    std::fs::write(
        out.join("adaptation.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    chart::write(&out.join("adaptation.png"), &traces, &results)?;
    eprintln!("report: {}", out.display());

    if cold_v > default_v {
        eprintln!(
            "finch cold violated more windows ({:.1} %) than the static default ({:.1} %)",
            cold_v * 100.0,
            default_v * 100.0
        );
        std::process::exit(1);
    }
    Ok(())
}
