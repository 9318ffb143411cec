//! The experiment: arms × scenarios × seeds, each run through the subject's
//! lifecycle, judged from the subject's own per-request records.

use std::path::{Path, PathBuf};

use super::judge::Judge;
use std::ops::Range;

use super::report::{ArmSummary, OracleSegment, Report, RunResult, ScenarioReport, WindowResult};
use super::scenario::Scenario;
use super::subject::{ArmKind, Call, Configuration, Run, Subject};
use crate::decision::Decision;
use crate::knowledge::FileStore;

/// Why an experiment stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// A hook of the subject failed.
    #[error("{arm} on `{scenario}` (seed {seed}): {source}")]
    Subject {
        /// The scenario.
        scenario: String,
        /// The arm.
        arm: String,
        /// The seed.
        seed: u64,
        /// What the subject said.
        source: super::subject::BoxError,
    },
    /// finch could not start or tick.
    #[error("finch in {arm} on `{scenario}`: {source}")]
    Finch {
        /// The scenario.
        scenario: String,
        /// The arm.
        arm: String,
        /// finch's error.
        source: Box<crate::Error>,
    },
    /// The experiment is not runnable as configured.
    #[error("{0}")]
    Invalid(String),
    /// The knowledge directory or the report could not be written.
    #[error("{what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Which arms an experiment runs (all by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arms {
    /// The declared defaults, never changed.
    pub default: bool,
    /// Every point of the knob grid, to find the best static configuration and
    /// the dynamic oracle.
    pub grid: bool,
    /// finch from no knowledge.
    pub cold: bool,
    /// finch on the knowledge its cold run on the same seed left (needs `cold`).
    pub warm: bool,
}

impl Default for Arms {
    fn default() -> Self {
        Arms {
            default: true,
            grid: true,
            cold: true,
            warm: true,
        }
    }
}

/// Arm labels, as reports print them.
pub const DEFAULT_ARM: &str = "static default";
/// The best static configuration of the grid.
pub const BEST_ARM: &str = "best static";
/// The dynamic oracle, per segment between shifts.
pub const ORACLE_ARM: &str = "dynamic oracle";
/// The dynamic oracle's picks put in force live, in one run.
pub const SWITCHING_ARM: &str = "switching oracle";
/// finch from no knowledge.
pub const COLD_ARM: &str = "finch cold";
/// finch from the cold run's knowledge.
pub const WARM_ARM: &str = "finch warm";

/// An experiment: scenarios run under arms over seeds.
///
/// - **static default**: the knobs' defaults for the whole run;
/// - **best static**: the grid point with the fewest violating windows (mean
///   over the grid seeds), then the lowest cost: an oracle that has seen the
///   whole scenario;
/// - **dynamic oracle**: for each segment between shifts (phase changes, a
///   fault's start and end), the cheapest grid point that violates no more
///   windows in that segment than the best static one; stitched from the grid
///   runs (switching is free and instant), a lower bound on cost;
/// - **switching oracle** (in-process subjects): the dynamic oracle's picks
///   put in force at the first window of each segment, in one run per seed:
///   switching is instant but not free (a grown cache starts cold, new
///   connections take time to open), so it shows what the best possible
///   controller, told every shift the moment it happens, still violates;
/// - **finch cold** and **finch warm**.
///
/// ```no_run
/// # async fn demo(mut subject: impl finch_core::lab::Subject, scenarios: Vec<finch_core::lab::Scenario>)
/// # -> Result<(), finch_core::lab::LabError> {
/// use finch_core::lab::Experiment;
///
/// let report = Experiment::new("my-service", "target/lab")
///     .scenarios(scenarios)
///     .seeds(0..5)
///     .grid_seeds(2)
///     .run(&mut subject)
///     .await?;
/// report.write("target/lab")?;
/// println!("{}", report.markdown());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Experiment {
    name: String,
    out: PathBuf,
    scenarios: Vec<Scenario>,
    seeds: Vec<u64>,
    grid_seeds: usize,
    arms: Arms,
    verbose: bool,
}

impl Experiment {
    /// An experiment named `name`, keeping finch's knowledge under `out`.
    pub fn new(name: impl Into<String>, out: impl Into<PathBuf>) -> Self {
        Experiment {
            name: name.into(),
            out: out.into(),
            scenarios: Vec::new(),
            seeds: vec![0],
            grid_seeds: usize::MAX,
            arms: Arms::default(),
            verbose: false,
        }
    }

    /// Adds a scenario.
    pub fn scenario(mut self, s: Scenario) -> Self {
        self.scenarios.push(s);
        self
    }

    /// Adds scenarios.
    pub fn scenarios(mut self, s: impl IntoIterator<Item = Scenario>) -> Self {
        self.scenarios.extend(s);
        self
    }

    /// The seeds every arm runs on (default: just 0).
    pub fn seeds(mut self, seeds: impl IntoIterator<Item = u64>) -> Self {
        self.seeds = seeds.into_iter().collect();
        self
    }

    /// Sweeps the grid on the first `n` seeds only (default: all); the best
    /// static configuration then also runs on the others.
    pub fn grid_seeds(mut self, n: usize) -> Self {
        self.grid_seeds = n.max(1);
        self
    }

    /// Which arms to run.
    pub fn arms(mut self, arms: Arms) -> Self {
        self.arms = arms;
        self
    }

    /// Prints one line per run on stderr.
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }

    /// Runs every scenario under every arm over every seed.
    pub async fn run<S: Subject>(&self, subject: &mut S) -> Result<Report, LabError> {
        if self.seeds.is_empty() {
            return Err(LabError::Invalid(
                "an experiment needs at least one seed (Experiment::seeds)".into(),
            ));
        }
        if self.arms.warm && !self.arms.cold {
            return Err(LabError::Invalid(
                "the warm arm starts from the cold run's knowledge: enable `cold` too".into(),
            ));
        }
        let mut scenarios = Vec::with_capacity(self.scenarios.len());
        for scenario in &self.scenarios {
            if scenario.phases.is_empty() || scenario.window.is_zero() {
                return Err(LabError::Invalid(format!(
                    "scenario `{}` needs phases and a window longer than zero",
                    scenario.name
                )));
            }
            scenarios.push(self.run_scenario(subject, scenario).await?);
        }
        Ok(Report {
            experiment: self.name.clone(),
            rule: super::judge::RULE.to_string(),
            knobs: subject.knobs(),
            operations: subject.operations(),
            scenarios,
        })
    }

    async fn run_scenario<S: Subject>(
        &self,
        subject: &mut S,
        scenario: &Scenario,
    ) -> Result<ScenarioReport, LabError> {
        let axes = subject.knobs();
        let default: Configuration = axes.iter().map(|a| (a.name.clone(), a.default)).collect();
        let mut arms = Vec::new();
        let mut best_config = None;
        let mut oracle_picks = Vec::new();

        if self.arms.default {
            let kind = ArmKind::Static {
                config: default.clone(),
            };
            let runs = self
                .each_seed(subject, scenario, DEFAULT_ARM, &kind, &self.seeds, &[])
                .await?;
            arms.push(ArmSummary::new(DEFAULT_ARM, Some(default.clone()), runs));
        }

        if self.arms.grid {
            let grid = grid(&axes);
            let seeds: Vec<u64> = self.seeds.iter().copied().take(self.grid_seeds).collect();
            let mut results: Vec<(Configuration, Vec<RunResult>)> = Vec::with_capacity(grid.len());
            for config in grid {
                let kind = ArmKind::Static {
                    config: config.clone(),
                };
                let runs = self
                    .each_seed(subject, scenario, "grid", &kind, &seeds, &[])
                    .await?;
                results.push((config, runs));
            }
            if let Some(best) = best_static(&results) {
                let (config, mut runs) = results[best].clone();
                let rest: Vec<u64> = self.seeds.iter().copied().skip(seeds.len()).collect();
                let kind = ArmKind::Static {
                    config: config.clone(),
                };
                runs.extend(
                    self.each_seed(subject, scenario, BEST_ARM, &kind, &rest, &[])
                        .await?,
                );
                for r in &mut runs {
                    r.arm = BEST_ARM.to_string();
                }
                let (picks, oracle_runs) = oracle(scenario, &results, best);
                arms.push(ArmSummary::new(BEST_ARM, Some(config.clone()), runs));
                arms.push(ArmSummary::new(ORACLE_ARM, None, oracle_runs));
                if let Some(first) = picks.first() {
                    let kind = ArmKind::Static {
                        config: first.config.clone(),
                    };
                    let probe = Run {
                        scenario,
                        arm: SWITCHING_ARM,
                        kind: &kind,
                        seed: 0,
                    };
                    if subject.finch_config(&probe).is_some() {
                        let switching = self
                            .each_seed(subject, scenario, SWITCHING_ARM, &kind, &self.seeds, &picks)
                            .await?;
                        arms.push(ArmSummary::new(SWITCHING_ARM, None, switching));
                    }
                }
                oracle_picks = picks;
                best_config = Some(config);
            }
        }

        if self.arms.cold {
            let mut cold = Vec::new();
            let mut warm = Vec::new();
            for &seed in &self.seeds {
                let knowledge = self
                    .out
                    .join("knowledge")
                    .join(&self.name)
                    .join(&scenario.name)
                    .join(format!("seed-{seed}"));
                if knowledge.exists() {
                    std::fs::remove_dir_all(&knowledge).map_err(|e| io(&knowledge, e))?;
                }
                std::fs::create_dir_all(&knowledge).map_err(|e| io(&knowledge, e))?;
                let kind = ArmKind::Finch {
                    warm: false,
                    knowledge: knowledge.clone(),
                };
                cold.push(
                    self.run_once(subject, scenario, COLD_ARM, &kind, seed, &[])
                        .await?,
                );
                if self.arms.warm {
                    let kind = ArmKind::Finch {
                        warm: true,
                        knowledge,
                    };
                    warm.push(
                        self.run_once(subject, scenario, WARM_ARM, &kind, seed, &[])
                            .await?,
                    );
                }
            }
            arms.push(ArmSummary::new(COLD_ARM, None, cold));
            if self.arms.warm {
                arms.push(ArmSummary::new(WARM_ARM, None, warm));
            }
        }
        Ok(ScenarioReport {
            scenario: scenario.clone(),
            shifts: scenario.shifts(),
            best_static: best_config,
            oracle: oracle_picks,
            arms,
        })
    }

    async fn each_seed<S: Subject>(
        &self,
        subject: &mut S,
        scenario: &Scenario,
        arm: &str,
        kind: &ArmKind,
        seeds: &[u64],
        schedule: &[OracleSegment],
    ) -> Result<Vec<RunResult>, LabError> {
        let mut runs = Vec::with_capacity(seeds.len());
        for &seed in seeds {
            runs.push(
                self.run_once(subject, scenario, arm, kind, seed, schedule)
                    .await?,
            );
        }
        Ok(runs)
    }

    /// One run through the subject's lifecycle, with each later segment of
    /// `schedule` (if any) put in force at its first window, in this process
    /// by knob name: for in-process subjects only.
    async fn run_once<S: Subject>(
        &self,
        subject: &mut S,
        scenario: &Scenario,
        arm: &str,
        kind: &ArmKind,
        seed: u64,
        schedule: &[OracleSegment],
    ) -> Result<RunResult, LabError> {
        let run = Run {
            scenario,
            arm,
            kind,
            seed,
        };
        let fail = |source| LabError::Subject {
            scenario: scenario.name.clone(),
            arm: arm.to_string(),
            seed,
            source,
        };
        subject.set_up(&run).await.map_err(fail)?;
        let finch = match (kind, subject.finch_config(&run)) {
            (ArmKind::Finch { knowledge, .. }, Some(config)) => {
                let store = FileStore::open(knowledge).map_err(|e| {
                    LabError::Invalid(format!("knowledge directory {}: {e}", knowledge.display()))
                })?;
                let config = config
                    .manual()
                    .interval(scenario.window)
                    .seed(seed)
                    .store(store);
                Some(crate::start(config).map_err(|source| LabError::Finch {
                    scenario: scenario.name.clone(),
                    arm: arm.to_string(),
                    source: Box::new(source),
                })?)
            }
            _ => None,
        };
        let mut judge = Judge::new(subject.operations());
        let mut windows = Vec::with_capacity(scenario.windows() as usize);
        let mut calls: Vec<Call> = Vec::new();
        let mut phase = None;
        let mut active: Vec<usize> = Vec::new();
        let mut last_config: Option<Configuration> = None;
        let mut changes = 0;
        let mut ticked = Ok(());
        for plan in scenario.plans() {
            if !plan.warm_up && phase != Some(plan.phase) {
                phase = Some(plan.phase);
                if let Some(p) = scenario.phases.get(plan.phase) {
                    subject.phase(&run, p).await.map_err(fail)?;
                }
            }
            for (i, fault) in scenario.faults.iter().enumerate() {
                let now = plan.faults.contains(&i);
                if now != active.contains(&i) {
                    subject.fault(&run, fault, now).await.map_err(fail)?;
                    if now {
                        active.push(i);
                    } else {
                        active.retain(|&a| a != i);
                    }
                }
            }
            if !plan.warm_up
                && let Some(seg) = schedule.iter().skip(1).find(|s| s.from == plan.index)
            {
                super::subject::apply(&seg.config).map_err(fail)?;
            }
            calls.clear();
            let outcome = subject
                .window(&run, &plan, &mut calls)
                .await
                .map_err(fail)?;
            let decision = match &finch {
                Some(handle) => match handle.tick().await {
                    Ok(tick) => tick.decision.as_ref().map(describe),
                    Err(e) => {
                        ticked = Err(e);
                        break;
                    }
                },
                None => outcome.decision,
            };
            if plan.warm_up {
                last_config = Some(outcome.config);
                continue;
            }
            let verdict = judge.window(&calls);
            let changed = last_config.as_ref() != Some(&outcome.config);
            if changed && last_config.is_some() {
                changes += 1;
            }
            windows.push(WindowResult {
                index: plan.index,
                phase: plan.phase,
                judged: verdict.judged,
                violated: verdict.violated,
                worst: verdict.worst,
                cost: subject.cost(&outcome.config),
                calls: calls.len(),
                config: changed.then(|| outcome.config.clone()),
                decision,
            });
            last_config = Some(outcome.config);
        }
        let mut cpu = None;
        if let Some(handle) = finch {
            cpu = Some(handle.status().cpu_secs);
            handle.shutdown().await;
        }
        ticked.map_err(|source| LabError::Finch {
            scenario: scenario.name.clone(),
            arm: arm.to_string(),
            source: Box::new(source),
        })?;
        let notes = subject.tear_down(&run).await.map_err(fail)?;
        let result = RunResult::new(
            arm,
            seed,
            windows,
            changes,
            &scenario.shifts(),
            cpu.or(notes.finch_cpu_secs),
        );
        if self.verbose {
            eprintln!(
                "lab: {} / {} / {arm} / seed {seed}: {} of {} windows violating, mean cost {:.3}",
                self.name,
                scenario.name,
                result.violating,
                result.windows.len(),
                result.mean_cost
            );
        }
        Ok(result)
    }
}

fn io(path: &Path, source: std::io::Error) -> LabError {
    LabError::Io {
        what: path.display().to_string(),
        source,
    }
}

/// A decision in a few words: its kind and its changes.
fn describe(d: &Decision) -> String {
    let changes: Vec<String> = d
        .changes
        .iter()
        .map(|c| format!("{} {}→{}", c.knob, c.from, c.to))
        .collect();
    format!("{}: {}", d.kind, changes.join(", "))
}

/// Every point of the product of the axes' grids (an axis without a grid
/// stays at its default).
fn grid(axes: &[super::subject::KnobAxis]) -> Vec<Configuration> {
    let mut out = vec![Configuration::new()];
    for axis in axes {
        let values = if axis.grid.is_empty() {
            vec![axis.default]
        } else {
            axis.grid.clone()
        };
        out = out
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |&v| {
                    let mut c = c.clone();
                    c.insert(axis.name.clone(), v);
                    c
                })
            })
            .collect();
    }
    out
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { s / n as f64 }
}

/// The grid point with the fewest violating windows (mean over seeds), then
/// the lowest mean cost.
fn best_static(results: &[(Configuration, Vec<RunResult>)]) -> Option<usize> {
    let key = |runs: &[RunResult]| {
        (
            mean(runs.iter().map(|r| r.violating as f64)),
            mean(runs.iter().map(|r| r.mean_cost)),
        )
    };
    (0..results.len()).min_by(|&a, &b| {
        let (va, ca) = key(&results[a].1);
        let (vb, cb) = key(&results[b].1);
        va.total_cmp(&vb).then(ca.total_cmp(&cb))
    })
}

/// Mean violating windows and mean cost in segment `seg` (windows), over runs.
fn segment_stats(runs: &[RunResult], seg: &Range<u32>) -> (f64, f64) {
    fn inside<'a>(r: &'a RunResult, seg: &Range<u32>) -> impl Iterator<Item = &'a WindowResult> {
        let seg = seg.clone();
        r.windows.iter().filter(move |w| seg.contains(&w.index))
    }
    (
        mean(
            runs.iter()
                .map(|r| inside(r, seg).filter(|w| w.violated).count() as f64),
        ),
        mean(runs.iter().map(|r| mean(inside(r, seg).map(|w| w.cost)))),
    )
}

/// Per segment between shifts, the cheapest grid point that violates no more
/// windows in the segment than the best static point (means over the grid
/// seeds); the oracle's run on each grid seed is those points' windows
/// stitched together (switching is free and instant).
fn oracle(
    scenario: &Scenario,
    results: &[(Configuration, Vec<RunResult>)],
    best: usize,
) -> (Vec<OracleSegment>, Vec<RunResult>) {
    let segments = scenario.segments();
    let mut picks = Vec::with_capacity(segments.len());
    let mut chosen = Vec::with_capacity(segments.len());
    for seg in &segments {
        let (limit, _) = segment_stats(&results[best].1, seg);
        let pick = (0..results.len())
            .filter(|&i| segment_stats(&results[i].1, seg).0 <= limit + 1e-9)
            .min_by(|&a, &b| {
                segment_stats(&results[a].1, seg)
                    .1
                    .total_cmp(&segment_stats(&results[b].1, seg).1)
            })
            .unwrap_or(best);
        picks.push(OracleSegment {
            from: seg.start,
            until: seg.end,
            config: results[pick].0.clone(),
        });
        chosen.push(pick);
    }
    let pick_at = |w: u32| {
        segments
            .iter()
            .position(|seg| seg.contains(&w))
            .and_then(|i| chosen.get(i).copied())
    };
    let seeds = results[best].1.len();
    let runs = (0..seeds)
        .map(|s| {
            let mut last: Option<usize> = None;
            let mut changes = 0;
            let windows = (0..scenario.windows())
                .filter_map(|w| {
                    let pick = pick_at(w)?;
                    let mut window = results[pick].1.get(s)?.windows.get(w as usize)?.clone();
                    window.config = None;
                    window.decision = None;
                    if Some(pick) != last {
                        if last.is_some() {
                            changes += 1;
                        }
                        window.config = Some(results[pick].0.clone());
                        last = Some(pick);
                    }
                    Some(window)
                })
                .collect();
            let seed = results[best].1[s].seed;
            RunResult::new(ORACLE_ARM, seed, windows, changes, &scenario.shifts(), None)
        })
        .collect();
    (picks, runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::subject::KnobAxis;

    #[test]
    fn the_grid_is_the_product_of_the_axes() {
        let axes = vec![
            KnobAxis {
                name: "a".into(),
                default: 1.0,
                grid: vec![1.0, 2.0],
            },
            KnobAxis {
                name: "b".into(),
                default: 5.0,
                grid: vec![],
            },
            KnobAxis {
                name: "c".into(),
                default: 0.0,
                grid: vec![0.0, 1.0, 2.0],
            },
        ];
        let g = grid(&axes);
        assert_eq!(g.len(), 6);
        assert!(g.iter().all(|c| c["b"] == 5.0));
        assert_eq!(g[5]["a"], 2.0);
        assert_eq!(g[5]["c"], 2.0);
    }
}
