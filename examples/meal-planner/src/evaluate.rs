//! The adaptation benchmark on the real service: does finch beat static
//! configuration on the meal planner? It runs on finch's proving ground
//! ([`finch::lab`]) with the meal planner as an out-of-process
//! [subject](crate::lab): every arm (static default, every point of a small
//! knob grid, hence the best static configuration and the per-phase oracle,
//! finch cold and finch warm) over seeds, each run a `meal-planner serve`
//! child against the real PostgreSQL, every window judged from this process's
//! own records of every request.
//!
//! The scenario (default `scenarios/evaluate.toml`: a ramp, a spike, a shift
//! from reads to writes, a slower database with a noisy neighbour on the CPU)
//! becomes a [`Scenario`] of phases in windows; a phase's `db_delay_ms` other
//! than the first phase's and its `cpu_threads` become [faults](Fault). The
//! harness writes `report.md`, `report.json` and `report.png`.

use std::path::PathBuf;
use std::time::Duration;

use finch::lab::{Experiment, Fault, KnobAxis, Phase, Report, Scenario};

use crate::lab::{CPU_NEIGHBOUR, DB_LATENCY, MealPlanner, MealPlannerOptions};
use crate::loadgen::scenario::Scenario as LoadScenario;
use crate::tuning::RECIPE_CACHE_CAPACITY;
use crate::tuning::{CONCURRENCY_LIMIT, DEFAULT_POOL_SIZE, PANTRY_BATCH, POOL_SIZE_KNOB};

/// What can stop the evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// The options or the scenario.
    #[error("options: {0}")]
    Options(String),
    /// The harness or the subject.
    #[error(transparent)]
    Lab(#[from] finch::lab::LabError),
}

/// Command-line options of `meal-planner evaluate`.
#[derive(Clone, Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The short scenario and a 2-point grid (about 5 minutes per seed), for a quick check.
    #[arg(long, conflicts_with = "scenario")]
    pub short: bool,
    /// A scenario file (.toml or .json); default: scenarios/evaluate.toml.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Seeds every arm runs on.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Seeds the grid is swept on (the best static configuration then also
    /// runs on the others).
    #[arg(long, default_value_t = 1)]
    pub grid_seeds: usize,
    /// Where to write report.md, report.json, report.png and finch's knowledge.
    #[arg(long, default_value = "meal-planner-report/evaluate")]
    pub out: PathBuf,
    /// The window, which is also finch's interval, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Pool sizes of the grid [default: 4,8,16; 8,16 with --short].
    #[arg(long, value_delimiter = ',')]
    pub pool: Vec<u32>,
    /// Recipe cache capacities of the grid [default: 256,2048; 1024 with --short].
    #[arg(long, value_delimiter = ',')]
    pub cache: Vec<u32>,
    /// Concurrency limits of the grid [default: 16].
    #[arg(long, value_delimiter = ',')]
    pub limit: Vec<u32>,
    /// Pantry batch sizes of the grid (a free knob) [default: 64: the
    /// pantry's 10–49 items in one statement].
    #[arg(long, value_delimiter = ',')]
    pub batch: Vec<u32>,
    /// The database every run recreates.
    #[arg(long, default_value = "meal_planner_evaluate")]
    pub database: String,
}

/// How to run the evaluation.
#[derive(Clone, Debug)]
pub struct EvaluateOptions {
    /// The meal-planner binary whose `serve` runs each run.
    pub exe: PathBuf,
    /// The load generator's scenario (its data set-up and seed).
    pub load: LoadScenario,
    /// The harness's scenario made of it.
    pub scenario: Scenario,
    /// Seeds every arm runs on.
    pub seeds: u64,
    /// Seeds the grid is swept on.
    pub grid_seeds: usize,
    /// The knobs and their grids.
    pub knobs: Vec<KnobAxis>,
    /// Where everything goes.
    pub out: PathBuf,
    /// The database every run recreates.
    pub database: String,
}

impl EvaluateOptions {
    /// Options from the command line; `exe` is the meal-planner binary.
    pub fn from_args(args: EvaluateArgs, exe: PathBuf) -> Result<Self, EvaluateError> {
        let load = match (&args.scenario, args.short) {
            (Some(path), _) => LoadScenario::from_file(path),
            (None, true) => LoadScenario::short(),
            (None, false) => LoadScenario::evaluate(),
        }
        .map_err(|e| EvaluateError::Options(e.to_string()))?;
        if args.seeds == 0 {
            return Err(EvaluateError::Options("--seeds must be at least 1".into()));
        }
        let or = |given: Vec<u32>, full: &[u32], short: &[u32]| {
            if !given.is_empty() {
                given
            } else if args.short {
                short.to_vec()
            } else {
                full.to_vec()
            }
        };
        let knobs = knobs(
            &or(args.pool, &[4, 8, 16], &[8, 16]),
            &or(args.cache, &[256, 2048], &[1024]),
            &or(args.limit, &[16], &[16]),
            &or(args.batch, &[64], &[64]),
        );
        let scenario = scenario(&load, Duration::from_millis(args.interval_ms.max(100)))?;
        Ok(EvaluateOptions {
            exe,
            load,
            scenario,
            seeds: args.seeds,
            grid_seeds: args.grid_seeds,
            knobs,
            out: args.out,
            database: args.database,
        })
    }
}

/// The knobs the static arms sweep, with their grids: the pool, the recipe
/// cache, the concurrency limit and the pantry batch. `work_mem` stays at its
/// default: it has no measurable effect at this data scale.
pub fn knobs(pools: &[u32], caches: &[u32], limits: &[u32], batches: &[u32]) -> Vec<KnobAxis> {
    let axis = |name: &str, default: u32, grid: &[u32]| KnobAxis {
        name: name.to_string(),
        default: f64::from(default),
        grid: grid.iter().copied().map(f64::from).collect(),
    };
    vec![
        axis(POOL_SIZE_KNOB, DEFAULT_POOL_SIZE, pools),
        axis(
            RECIPE_CACHE_CAPACITY.name(),
            RECIPE_CACHE_CAPACITY.default_value(),
            caches,
        ),
        axis(
            CONCURRENCY_LIMIT.name(),
            CONCURRENCY_LIMIT.default_value(),
            limits,
        ),
        axis(PANTRY_BATCH.name(), PANTRY_BATCH.default_value(), batches),
    ]
}

/// The load generator's scenario as the harness's: a phase per phase, in
/// windows of `window` (a phase lasts at least one), the first phase's
/// `db_delay_ms` as the baseline, every other delay a `db-latency` fault and
/// every `cpu_threads` a `cpu-neighbour` fault over its phase's windows.
pub fn scenario(load: &LoadScenario, window: Duration) -> Result<Scenario, EvaluateError> {
    let base = load.phases.first().map_or(0.0, |p| p.db_delay_ms);
    let mut s = Scenario::new(load.name.clone(), window).describe(describe(load, base));
    let mut at = 0u32;
    for p in &load.phases {
        let windows = (p.duration_s / window.as_secs_f64()).round().max(1.0);
        let windows = u32::try_from(windows as u64)
            .map_err(|_| EvaluateError::Options(format!("phase {}: too many windows", p.name)))?;
        let mut phase = Phase::new(p.name.clone(), windows, p.rate)
            .mix(p.mix.iter().map(|(k, w)| (k.name(), *w)));
        if let Some(end) = p.ramp_to {
            phase = phase.ramp_to(end);
        }
        s = s.phase(phase);
        if (p.db_delay_ms - base).abs() > 1e-9 {
            s = s.fault(Fault::new(DB_LATENCY, p.db_delay_ms).during(at, at + windows));
        }
        if p.cpu_threads > 0 {
            s = s.fault(
                Fault::new(CPU_NEIGHBOUR, f64::from(p.cpu_threads)).during(at, at + windows),
            );
        }
        at += windows;
    }
    Ok(s)
}

fn describe(load: &LoadScenario, base: f64) -> String {
    let phases: Vec<String> = load
        .phases
        .iter()
        .map(|p| {
            let rate = p.ramp_to.map_or(format!("{:.0}/s", p.rate), |e| {
                format!("{:.0}→{e:.0}/s", p.rate)
            });
            let mut extra = Vec::new();
            if (p.db_delay_ms - base).abs() > 1e-9 {
                extra.push(format!("database +{:.0} ms", p.db_delay_ms));
            }
            if p.cpu_threads > 0 {
                extra.push(format!("{} busy threads", p.cpu_threads));
            }
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!(", {}", extra.join(", "))
            };
            format!("{} {:.0} s {rate}{extra}", p.name, p.duration_s)
        })
        .collect();
    format!(
        "the meal planner on PostgreSQL (database +{base:.0} ms): {}",
        phases.join("; ")
    )
}

/// Runs every arm over every seed and writes the harness's report
/// (`report.md`, `report.json`, `report.png`) into `options.out`.
pub async fn run(options: EvaluateOptions) -> Result<Report, EvaluateError> {
    let base = options.load.phases.first().map_or(0.0, |p| p.db_delay_ms);
    let mut subject = MealPlanner::new(MealPlannerOptions {
        exe: options.exe.clone(),
        database: options.database.clone(),
        setup: options.load.setup.clone(),
        seed: options.load.seed,
        knobs: options.knobs.clone(),
        db_delay: Some(Duration::from_secs_f64(base / 1e3)),
        every_action: false,
    })
    .map_err(|e| EvaluateError::Options(e.to_string()))?;
    let grid: usize = options.knobs.iter().map(|k| k.grid.len().max(1)).product();
    println!(
        "evaluate: scenario `{}` ({} windows of {:.1} s), {} seed(s): static default, {grid} grid \
         point(s), finch cold, finch warm; each run a `serve` child; report in {}",
        options.scenario.name,
        options.scenario.windows(),
        options.scenario.window.as_secs_f64(),
        options.seeds,
        options.out.display()
    );
    let report = Experiment::new("meal-planner", &options.out)
        .scenario(options.scenario.clone())
        .seeds(0..options.seeds)
        .grid_seeds(options.grid_seeds)
        .verbose(true)
        .run(&mut subject)
        .await?;
    report.write(&options.out)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_evaluate_scenario_becomes_phases_and_faults() {
        let load = LoadScenario::evaluate().unwrap();
        let s = scenario(&load, Duration::from_secs(1)).unwrap();
        assert_eq!(s.windows(), 120);
        let names: Vec<&str> = s.phases.iter().map(|p| p.name.as_str()).collect();
        for shape in ["ramp", "spike", "writes", "interference"] {
            assert!(names.contains(&shape), "{names:?}");
        }
        let ramp = s.phases.iter().find(|p| p.name == "ramp").unwrap();
        assert_eq!((ramp.rate, ramp.ramp_to), (50.0, Some(220.0)));
        assert_eq!(s.faults.len(), 2);
        assert_eq!(
            (s.faults[0].kind.as_str(), s.faults[0].magnitude),
            (DB_LATENCY, 3.0)
        );
        assert_eq!((s.faults[0].from, s.faults[0].until), (92, 107));
        assert_eq!(s.faults[1].kind, CPU_NEIGHBOUR);
        assert!(
            s.description
                .contains("interference 15 s 150/s, database +3 ms, 1 busy threads")
        );
        let k = knobs(&[8, 16], &[1024], &[16], &[64]);
        assert_eq!(k[0].default, 4.0);
        assert_eq!(k[1].name, "meal_planner.recipe_cache_capacity");
        assert_eq!(k.iter().map(|a| a.grid.len()).product::<usize>(), 2);
    }
}
