//! The adaptation benchmark: does finch beat static configuration on a family
//! of simulated services?
//!
//! Two services, written only against finch's public API and `finch::lab::sim`
//! (discrete-event, in virtual time, driven by manual ticks):
//! - `shop` (`adaptation/shop.rs`): a Zipf/LRU cache that warms up, a
//!   concurrency limit, a pool whose new connections take 2 s to open, a
//!   database that slows with too many active connections, a costly knob and a
//!   free knob with no effect; reads p99, writes p95 and error ratio;
//! - `feed` (`adaptation/feed.rs`): a CPU-bound renderer whose workers thrash
//!   past the cores, a knob whose effect shows 15 s late, a CPU neighbour;
//!   pages p95 and error ratio, thumbnails p99.
//!
//! Eight traces (`adaptation/traces.rs`): ramp, spike, diurnal, mix shift,
//! database interference and long quiet periods on `shop`; a spike and a CPU
//! neighbour on `feed`. Every trace runs under the static default, every grid
//! point (best static and the dynamic oracle), finch cold and finch warm,
//! over seeds; windows are judged by the harness from the simulated requests.
//!
//! ```text
//! cargo bench --bench adaptation              # 10 seeds, full traces; report in
//!                                             # target/adaptation/ (md, json, png)
//! cargo bench --bench adaptation -- --short   # CI: half traces, 3 seeds; fails if finch
//!                                             # cold violates more windows than the default
//! cargo bench --bench adaptation -- --only spike --static   # one trace, no finch arms
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;

use finch::lab::{Arms, BEST_ARM, COLD_ARM, DEFAULT_ARM, Experiment, ORACLE_ARM, Report, Scenario};

#[path = "adaptation/family.rs"]
mod family;
#[path = "adaptation/feed.rs"]
mod feed;
#[path = "adaptation/shop.rs"]
mod shop;
#[path = "adaptation/traces.rs"]
mod traces;

use family::Simulated;

struct Options {
    short: bool,
    only: Option<String>,
    statics: bool,
    seeds: u64,
}

impl Options {
    fn parse() -> Options {
        let args: Vec<String> = std::env::args().collect();
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1).cloned())
        };
        let short = args.iter().any(|a| a == "--short");
        Options {
            short,
            only: value("--only"),
            statics: args.iter().any(|a| a == "--static"),
            seeds: value("--seeds")
                .and_then(|s| s.parse().ok())
                .unwrap_or(if short { 3 } else { 10 }),
        }
    }

    fn keep(&self, scenarios: Vec<Scenario>) -> Vec<Scenario> {
        scenarios
            .into_iter()
            .filter(|s| self.only.as_ref().is_none_or(|o| &s.name == o))
            .collect()
    }

    fn experiment(
        &self,
        name: &str,
        out: &std::path::Path,
        scenarios: Vec<Scenario>,
    ) -> Experiment {
        Experiment::new(name, out)
            .scenarios(scenarios)
            .seeds(0..self.seeds)
            .grid_seeds(if self.short { 1 } else { 2 })
            .arms(Arms {
                cold: !self.statics,
                warm: !self.statics,
                ..Arms::default()
            })
            .verbose(std::env::var_os("FINCH_LAB_VERBOSE").is_some())
    }
}

/// The family's own bar, per trace: the default violates at least 15 % of
/// windows, the best static configuration at most 2 %, and the oracle costs at
/// most 70 % of it. And the CI bar: finch cold no worse than the default.
fn checks(reports: &[Report]) -> (String, bool) {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "| trace | default violating ≥ 15 % | best static ≤ 2 % | oracle cost ≤ 70 % of best | finch cold ≤ default |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    let mut finch_ok = true;
    for s in reports.iter().flat_map(|r| &r.scenarios) {
        let v = |arm: &str| s.arm(arm).map(|a| a.violating.mean);
        let c = |arm: &str| s.arm(arm).map(|a| a.cost.mean);
        let mark = |ok: Option<bool>| match ok {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        let default = v(DEFAULT_ARM);
        let cold_ok = v(COLD_ARM).zip(default).map(|(c, d)| c <= d);
        finch_ok &= cold_ok != Some(false);
        let _ = writeln!(
            md,
            "| {} | {} ({:.1} %) | {} ({:.1} %) | {} ({:.0} %) | {} |",
            s.scenario.name,
            mark(default.map(|d| d >= 0.15)),
            100.0 * default.unwrap_or(0.0),
            mark(v(BEST_ARM).map(|b| b <= 0.02)),
            100.0 * v(BEST_ARM).unwrap_or(0.0),
            mark(c(ORACLE_ARM).zip(c(BEST_ARM)).map(|(o, b)| o <= 0.7 * b)),
            100.0
                * c(ORACLE_ARM)
                    .zip(c(BEST_ARM))
                    .map_or(0.0, |(o, b)| o / b.max(1e-9)),
            mark(cold_ok),
        );
    }
    (md, finch_ok)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let out = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join("adaptation");
    std::fs::create_dir_all(&out)?;
    let started = std::time::Instant::now();

    let mut reports = Vec::new();
    let scenarios = options.keep(traces::shop(options.short));
    if !scenarios.is_empty() {
        let mut shop = Simulated::new(shop::Shop::default())?;
        let report = options
            .experiment("shop", &out, scenarios)
            .run(&mut shop)
            .await?;
        report.write(out.join("shop"))?;
        reports.push(report);
    }
    let scenarios = options.keep(traces::feed(options.short));
    if !scenarios.is_empty() {
        let mut feed = Simulated::new(feed::Feed::default())?;
        let report = options
            .experiment("feed", &out, scenarios)
            .run(&mut feed)
            .await?;
        report.write(out.join("feed"))?;
        reports.push(report);
    }

    let mut md = String::new();
    for r in &reports {
        md.push_str(&r.markdown());
        md.push('\n');
    }
    let (bar, finch_ok) = checks(&reports);
    let _ = writeln!(md, "{bar}");
    let _ = writeln!(
        md,
        "{} seeds, {} traces, in {:.0} s",
        options.seeds,
        if options.short { "half-length" } else { "full" },
        started.elapsed().as_secs_f64()
    );
    println!("{md}");
    std::fs::write(out.join("adaptation.md"), &md)?;
    eprintln!(
        "reports: {}/{{shop,feed}}/report.{{md,json,png}}",
        out.display()
    );
    if !finch_ok {
        eprintln!("finch cold violated more windows than the static default on some trace");
        std::process::exit(1);
    }
    Ok(())
}
