//! What an experiment found: per run, per arm over seeds, per scenario; as
//! markdown, JSON and a PNG chart.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::experiment::{
    BEST_ARM, COLD_ARM, DEFAULT_ARM, LabError, ORACLE_ARM, SWITCHING_ARM, WARM_ARM,
};
use super::scenario::Scenario;
use super::stats::Estimate;
use super::subject::{Configuration, KnobAxis, Operation};

/// One judged window of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowResult {
    /// Index from the first phase's start.
    pub index: u32,
    /// The phase it belongs to.
    pub phase: usize,
    /// Some objective had enough calls to be judged.
    pub judged: bool,
    /// Some objective failed.
    pub violated: bool,
    /// The largest SLI ÷ bound.
    pub worst: Option<f64>,
    /// The configuration's cost.
    pub cost: f64,
    /// Calls that finished in the window.
    pub calls: usize,
    /// The knob values, when they differ from the previous window's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Configuration>,
    /// The change finch made at the end of the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

/// One arm on one seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunResult {
    /// The arm.
    pub arm: String,
    /// The seed.
    pub seed: u64,
    /// Violating windows.
    pub violating: usize,
    /// Windows judged.
    pub judged: usize,
    /// Mean cost per window.
    pub mean_cost: f64,
    /// Windows whose knob values differ from the previous window's.
    pub knob_changes: usize,
    /// For each shift of the scenario, windows until the first of two
    /// consecutive compliant windows (`None`: never before the end).
    pub recovery: Vec<Option<u32>>,
    /// CPU seconds finch spent, when measured.
    pub finch_cpu_secs: Option<f64>,
    /// Every judged window.
    pub windows: Vec<WindowResult>,
}

impl RunResult {
    pub(crate) fn new(
        arm: &str,
        seed: u64,
        windows: Vec<WindowResult>,
        knob_changes: usize,
        shifts: &[u32],
        finch_cpu_secs: Option<f64>,
    ) -> Self {
        let n = windows.len().max(1) as f64;
        let recovery = shifts
            .iter()
            .map(|&s| {
                let s = s as usize;
                (s..windows.len())
                    .find(|&i| {
                        !windows[i].violated && windows.get(i + 1).is_none_or(|w| !w.violated)
                    })
                    .map(|i| (i - s) as u32)
            })
            .collect();
        RunResult {
            arm: arm.to_string(),
            seed,
            violating: windows.iter().filter(|w| w.violated).count(),
            judged: windows.iter().filter(|w| w.judged).count(),
            mean_cost: windows.iter().map(|w| w.cost).sum::<f64>() / n,
            knob_changes,
            recovery,
            finch_cpu_secs,
            windows,
        }
    }

    /// The share of windows that violated.
    pub fn violating_share(&self) -> f64 {
        self.violating as f64 / self.windows.len().max(1) as f64
    }
}

/// One arm of one scenario over every seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArmSummary {
    /// The arm.
    pub arm: String,
    /// Its fixed configuration, for static arms.
    pub config: Option<Configuration>,
    /// Share of violating windows.
    pub violating: Estimate,
    /// Mean cost per window.
    pub cost: Estimate,
    /// Knob changes per run.
    pub knob_changes: Estimate,
    /// Per shift: windows to recover, over the runs that recovered.
    pub recovery: Vec<Estimate>,
    /// Per shift: runs that never recovered.
    pub never_recovered: Vec<usize>,
    /// finch's CPU milliseconds per run, when measured.
    pub finch_cpu_ms: Option<Estimate>,
    /// Every run.
    pub runs: Vec<RunResult>,
}

impl ArmSummary {
    pub(crate) fn new(arm: &str, config: Option<Configuration>, runs: Vec<RunResult>) -> Self {
        let of =
            |f: &dyn Fn(&RunResult) -> f64| Estimate::of(&runs.iter().map(f).collect::<Vec<_>>());
        let shifts = runs.first().map_or(0, |r| r.recovery.len());
        let recovery = (0..shifts)
            .map(|s| {
                let v: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.recovery.get(s).copied().flatten())
                    .map(f64::from)
                    .collect();
                Estimate::of(&v)
            })
            .collect();
        let never_recovered = (0..shifts)
            .map(|s| {
                runs.iter()
                    .filter(|r| r.recovery.get(s).copied().flatten().is_none())
                    .count()
            })
            .collect();
        let cpu: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.finch_cpu_secs)
            .map(|c| c * 1e3)
            .collect();
        ArmSummary {
            arm: arm.to_string(),
            config,
            violating: of(&RunResult::violating_share),
            cost: of(&|r| r.mean_cost),
            knob_changes: of(&|r| r.knob_changes as f64),
            recovery,
            never_recovered,
            finch_cpu_ms: (!cpu.is_empty()).then(|| Estimate::of(&cpu)),
            runs,
        }
    }
}

/// The dynamic oracle's choice for one segment between shifts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OracleSegment {
    /// First window of the segment.
    pub from: u32,
    /// First window after it.
    pub until: u32,
    /// The grid point chosen for it.
    pub config: Configuration,
}

/// One scenario under every arm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioReport {
    /// The scenario.
    pub scenario: Scenario,
    /// Where its workload or environment shifts.
    pub shifts: Vec<u32>,
    /// The best static configuration of the grid.
    pub best_static: Option<Configuration>,
    /// The dynamic oracle's configuration in each segment between shifts.
    pub oracle: Vec<OracleSegment>,
    /// Every arm.
    pub arms: Vec<ArmSummary>,
}

impl ScenarioReport {
    /// The summary of the arm labelled `arm`.
    pub fn arm(&self, arm: &str) -> Option<&ArmSummary> {
        self.arms.iter().find(|a| a.arm == arm)
    }
}

/// Everything an experiment found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The experiment's name.
    pub experiment: String,
    /// How windows were judged.
    pub rule: String,
    /// The knobs and their grids.
    pub knobs: Vec<KnobAxis>,
    /// The operations and their objectives.
    pub operations: Vec<Operation>,
    /// Every scenario.
    pub scenarios: Vec<ScenarioReport>,
}

fn show_config(c: &Configuration) -> String {
    c.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Report {
    /// The report as markdown: one table per scenario, intervals over seeds.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "### {}\n", self.experiment);
        let objectives: Vec<String> = self
            .operations
            .iter()
            .map(|o| {
                let list: Vec<String> = o.objectives.iter().map(ToString::to_string).collect();
                format!("`{}` {}", o.name, list.join(", "))
            })
            .collect();
        let _ = writeln!(md, "Objectives: {}.\n", objectives.join("; "));
        let _ = writeln!(md, "Judged by the harness: {}.\n", self.rule);
        for s in &self.scenarios {
            let seeds = s.arms.first().map_or(0, |a| a.runs.len());
            let _ = writeln!(
                md,
                "**{}** ({} windows of {:.1} s; {}; {seeds} seeds; mean ± 95 % interval over seeds)\n",
                s.scenario.name,
                s.scenario.windows(),
                s.scenario.window.as_secs_f64(),
                s.scenario.description,
            );
            let best_cost = s.arm(BEST_ARM).map(|a| a.cost.mean);
            let _ = writeln!(
                md,
                "| arm | violating windows (%) | mean cost | cost ÷ best static | knob changes | recovery after shifts (windows) | finch CPU (ms) |"
            );
            let _ = writeln!(md, "|---|---:|---:|---:|---:|---|---:|");
            for a in &s.arms {
                let ratio = best_cost
                    .filter(|&b| b > 0.0)
                    .map_or("-".into(), |b| format!("{:.0} %", 100.0 * a.cost.mean / b));
                let recovery = if a.recovery.is_empty() {
                    "-".to_string()
                } else {
                    a.recovery
                        .iter()
                        .zip(&a.never_recovered)
                        .map(|(e, &never)| match (e.n, never) {
                            (0, _) => "never".to_string(),
                            (_, 0) => format!("{:.1}", e.mean),
                            (_, k) => format!("{:.1} ({k} never)", e.mean),
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {ratio} | {} | {recovery} | {} |",
                    a.arm,
                    a.violating.show(100.0, 1),
                    a.cost.show(1.0, 3),
                    a.knob_changes.show(1.0, 1),
                    a.finch_cpu_ms.map_or("-".into(), |c| c.show(1.0, 0)),
                );
            }
            if let Some(best) = &s.best_static {
                let _ = writeln!(md, "\nBest static: {}.", show_config(best));
            }
            if !s.oracle.is_empty() {
                let segments: Vec<String> = s
                    .oracle
                    .iter()
                    .map(|o| format!("windows {}–{}: {}", o.from, o.until, show_config(&o.config)))
                    .collect();
                let _ = writeln!(md, "Dynamic oracle: {}.", segments.join("; "));
            }
            let _ = writeln!(md);
        }
        md.push_str(&self.totals());
        md
    }

    /// Every arm over every scenario: the mean over scenarios of each
    /// scenario's mean, and how many scenarios finch meets its targets on.
    fn totals(&self) -> String {
        let mut md = String::new();
        if self.scenarios.len() < 2 {
            return md;
        }
        let _ = writeln!(
            md,
            "| all scenarios (mean of scenario means) | violating windows (%) | cost ÷ best static |"
        );
        let _ = writeln!(md, "|---|---:|---:|");
        for arm in [
            DEFAULT_ARM,
            BEST_ARM,
            ORACLE_ARM,
            SWITCHING_ARM,
            COLD_ARM,
            WARM_ARM,
        ] {
            let rows: Vec<(f64, Option<f64>)> = self
                .scenarios
                .iter()
                .filter_map(|s| {
                    let a = s.arm(arm)?;
                    let best = s.arm(BEST_ARM).map(|b| b.cost.mean).filter(|&b| b > 0.0);
                    Some((a.violating.mean, best.map(|b| a.cost.mean / b)))
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            let v = rows.iter().map(|r| r.0).sum::<f64>() / rows.len() as f64;
            let ratios: Vec<f64> = rows.iter().filter_map(|r| r.1).collect();
            let c = if ratios.is_empty() {
                "-".to_string()
            } else {
                format!(
                    "{:.0} %",
                    100.0 * ratios.iter().sum::<f64>() / ratios.len() as f64
                )
            };
            let _ = writeln!(md, "| {arm} | {:.1} | {c} |", 100.0 * v);
        }
        md
    }

    /// Writes `report.md`, `report.json` and `report.png` into `dir`.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<(), LabError> {
        let dir = dir.as_ref();
        let io = |what: &str, source| LabError::Io {
            what: format!("{}/{what}", dir.display()),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io("", e))?;
        std::fs::write(dir.join("report.md"), self.markdown()).map_err(|e| io("report.md", e))?;
        let json =
            serde_json::to_string(self).map_err(|e| io("report.json", std::io::Error::other(e)))?;
        std::fs::write(dir.join("report.json"), json).map_err(|e| io("report.json", e))?;
        super::chart::write(&dir.join("report.png"), self)
            .map_err(|e| io("report.png", std::io::Error::other(e.to_string())))
    }
}
