//! The demo's report: the windows as JSON, and PNG charts of every SLI against
//! its objective and every knob over time, decisions marked.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use super::DemoError;
use crate::chart::{Area, phase_starts, segments, time_panel};
use crate::loadgen::stats::ClientWindow;

/// One objective on one window.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectiveRecord {
    /// The SLO's name.
    pub slo: String,
    /// Display form, as `p99 < 50ms`.
    pub objective: String,
    /// The SLI (milliseconds for latency, percent for errors); `None` with too few calls.
    pub sli: Option<f64>,
    /// The bound, in the same unit.
    pub bound: f64,
}

impl ObjectiveRecord {
    /// Whether the SLI is over its bound.
    pub fn violated(&self) -> bool {
        self.sli.is_some_and(|s| s > self.bound)
    }

    /// A short label: the SLO's last name segments and the SLI (`recipes.get p99`).
    pub fn label(&self) -> String {
        let short = self.slo.strip_prefix("meal_planner.").unwrap_or(&self.slo);
        let sli = self.objective.split_whitespace().next().unwrap_or("");
        format!("{short} {sli}")
    }
}

/// A decision as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct DecisionRecord {
    /// The decision's id.
    pub id: u64,
    /// Seconds since the start of the phases when it was first seen.
    pub t: f64,
    /// `explore`, `exploit`, `rollback`, `operator`.
    pub kind: String,
    /// The changes, as `knob from→to`.
    pub changes: Vec<String>,
    /// finch's reason.
    pub reason: String,
    /// How it turned out (as last seen).
    pub outcome: String,
}

/// What one of the service's pooled PostgreSQL connections showed after a window.
#[derive(Clone, Debug, Serialize)]
pub struct PgRecord {
    /// `SHOW work_mem`, as the service's queries see it.
    pub work_mem: String,
    /// Bytes the database wrote to temporary files since the previous sample
    /// (sorts and hashes that did not fit in `work_mem`; `pg_stat_database`).
    pub temp_bytes: i64,
}

/// One window of the demo.
#[derive(Clone, Debug, Serialize)]
pub struct WindowRecord {
    /// Seconds since the start of the phases.
    pub t: f64,
    /// The phase.
    pub phase: String,
    /// The phase's target rate (actions/s).
    pub target_rate: f64,
    /// What the load generator saw.
    pub client: ClientWindow,
    /// Every objective's SLI, as finch measured it on the server.
    pub objectives: Vec<ObjectiveRecord>,
    /// Every knob's value (`work_mem` in kB).
    pub knobs: BTreeMap<String, f64>,
    /// PostgreSQL as the service's connections see it; `None` when no pooled
    /// connection was free in time to sample it.
    pub pg: Option<PgRecord>,
    /// finch's cost of the configuration in force.
    pub cost: f64,
    /// Share of recipe reads the cache served in this window.
    pub cache_hit_ratio: Option<f64>,
    /// Ids of decisions first seen in this window.
    pub decisions: Vec<u64>,
}

/// Writes `report.json`, `slis.png` and `knobs.png` into `dir`.
pub fn write<S: Serialize>(
    dir: &Path,
    report: &S,
    windows: &[WindowRecord],
    decisions: &[DecisionRecord],
) -> Result<(), DemoError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| DemoError::Report(format!("cannot create {}: {e}", dir.display())))?;
    let json = serde_json::to_vec_pretty(report)
        .map_err(|e| DemoError::Report(format!("cannot encode the report: {e}")))?;
    std::fs::write(dir.join("report.json"), json)
        .map_err(|e| DemoError::Report(format!("cannot write report.json: {e}")))?;
    slis_chart(&dir.join("slis.png"), windows, decisions)?;
    knobs_chart(&dir.join("knobs.png"), windows, decisions)?;
    Ok(())
}

fn chart_error<E: std::fmt::Display>(e: E) -> DemoError {
    DemoError::Report(format!("cannot draw a chart: {e}"))
}

fn grid(count: usize) -> (usize, usize) {
    let cols = if count > 3 { 2 } else { 1 };
    (count.div_ceil(cols).max(1), cols)
}

/// What every panel marks: the time axis, phase boundaries and decisions.
struct Marks<'a> {
    end: f64,
    phases: Vec<(f64, String)>,
    decisions: &'a [DecisionRecord],
}

/// Lines of one colour, possibly with gaps.
type Lines = (Vec<Vec<(f64, f64)>>, RGBColor);

fn panel(
    area: &Area<'_>,
    title: &str,
    marks: &Marks<'_>,
    lines: &[Lines],
    bound: Option<f64>,
) -> Result<(), DemoError> {
    let top = lines
        .iter()
        .flat_map(|(s, _)| s.iter().flatten())
        .map(|p| p.1)
        .chain(bound)
        .fold(0.0f64, f64::max)
        * 1.15;
    let top = if top > 0.0 { top } else { 1.0 };
    let end = marks.end.max(1.0);
    let mut chart = time_panel(area, title, 18, (end, top), &marks.phases).map_err(chart_error)?;
    for d in marks.decisions {
        let c = if d.kind == "rollback" { RED } else { GREEN };
        chart
            .draw_series(LineSeries::new(
                [(d.t, 0.0), (d.t, top * 0.12)],
                c.stroke_width(2),
            ))
            .map_err(chart_error)?;
    }
    if let Some(b) = bound {
        chart
            .draw_series(LineSeries::new([(0.0, b), (end, b)], RED.stroke_width(2)))
            .map_err(chart_error)?;
    }
    for (segments, color) in lines {
        for s in segments {
            chart
                .draw_series(LineSeries::new(s.iter().copied(), color.stroke_width(2)))
                .map_err(chart_error)?;
        }
    }
    Ok(())
}

fn slis_chart(
    path: &Path,
    windows: &[WindowRecord],
    decisions: &[DecisionRecord],
) -> Result<(), DemoError> {
    let labels: Vec<(String, String, f64)> = windows
        .iter()
        .find(|w| !w.objectives.is_empty())
        .map(|w| {
            w.objectives
                .iter()
                .map(|o| (o.slo.clone(), o.objective.clone(), o.bound))
                .collect()
        })
        .unwrap_or_default();
    let marks = Marks {
        end: windows.last().map_or(1.0, |w| w.t),
        phases: phase_starts(windows.iter().map(|w| (w.t, w.phase.as_str()))),
        decisions,
    };
    let (rows, cols) = grid(labels.len() + 1);
    let root = BitMapBackend::new(path, (1400, 300 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let areas = root.split_evenly((rows, cols));
    let mut areas = areas.iter();
    if let Some(area) = areas.next() {
        let achieved = segments(windows.iter().map(|w| (w.t, Some(w.client.rate()))));
        let target = vec![windows.iter().map(|w| (w.t, w.target_rate)).collect()];
        panel(
            area,
            "load, actions/s (grey: target, blue: sent); green ticks: decisions",
            &marks,
            &[(target, RGBColor(170, 170, 170)), (achieved, BLUE)],
            None,
        )?;
    }
    for ((slo, objective, bound), area) in labels.iter().zip(areas) {
        let series = segments(windows.iter().map(|w| {
            let v = w
                .objectives
                .iter()
                .find(|o| &o.slo == slo && &o.objective == objective)
                .and_then(|o| o.sli);
            (w.t, v)
        }));
        let short = slo.strip_prefix("meal_planner.").unwrap_or(slo);
        let unit = if objective.starts_with("errors") {
            "%"
        } else {
            "ms"
        };
        panel(
            area,
            &format!("{short}: {objective} ({unit}; red: bound)"),
            &marks,
            &[(series, BLUE)],
            Some(*bound),
        )?;
    }
    root.present().map_err(chart_error)
}

fn knobs_chart(
    path: &Path,
    windows: &[WindowRecord],
    decisions: &[DecisionRecord],
) -> Result<(), DemoError> {
    let names: Vec<String> = windows
        .first()
        .map(|w| w.knobs.keys().cloned().collect())
        .unwrap_or_default();
    let marks = Marks {
        end: windows.last().map_or(1.0, |w| w.t),
        phases: phase_starts(windows.iter().map(|w| (w.t, w.phase.as_str()))),
        decisions,
    };
    let (rows, cols) = grid(names.len() + 1);
    let root = BitMapBackend::new(path, (1400, 300 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let areas = root.split_evenly((rows, cols));
    let mut areas = areas.iter();
    if let Some(area) = areas.next() {
        let cost = vec![windows.iter().map(|w| (w.t, w.cost)).collect()];
        panel(
            area,
            "cost of the configuration; green ticks: decisions",
            &marks,
            &[(cost, MAGENTA)],
            None,
        )?;
    }
    for (name, area) in names.iter().zip(areas) {
        let series = vec![
            windows
                .iter()
                .filter_map(|w| w.knobs.get(name).map(|v| (w.t, *v)))
                .collect(),
        ];
        let short = name.strip_prefix("meal_planner.").unwrap_or(name);
        panel(area, short, &marks, &[(series, BLUE)], None)?;
    }
    root.present().map_err(chart_error)
}
