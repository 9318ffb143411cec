//! The report's chart: one row per scenario, the first seed of every arm: the
//! worst SLI ÷ bound over time with violating windows marked, and the cost.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::{ArmSummary, Report, RunResult, ScenarioReport};

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type ChartResult = Result<(), Box<dyn std::error::Error>>;

const WIDTH: u32 = 1600;
const HEADER: u32 = 56;
const ROW: u32 = 420;
const Y_LABELS: u32 = 64;
const FONT: &str = "sans-serif";
/// The SLI ÷ bound axis (log scale).
const RATIO: (f64, f64) = (0.05, 50.0);
/// Colours by arm position.
const COLORS: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 150, 30),
    RGBColor(31, 119, 180),
    RGBColor(120, 120, 120),
];

fn err<E: std::fmt::Display>(e: E) -> Box<dyn std::error::Error> {
    format!("cannot draw the lab chart: {e}").into()
}

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// Writes the chart of every scenario to `path`.
pub(crate) fn write(path: &Path, report: &Report) -> ChartResult {
    let rows = report.scenarios.len().max(1) as u32;
    let root = BitMapBackend::new(path, (WIDTH, HEADER + ROW * rows)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (header, body) = root.split_vertically(HEADER);
    legend(&header, report)?;
    if !report.scenarios.is_empty() {
        let areas = body.split_evenly((report.scenarios.len(), 1));
        for (s, area) in report.scenarios.iter().zip(areas.iter()) {
            row(area, s)?;
        }
    }
    root.present().map_err(err)
}

fn legend(area: &Area<'_>, report: &Report) -> ChartResult {
    let title = format!(
        "{}: every arm's first seed; windows judged from the harness's own records",
        report.experiment
    );
    area.draw(&Text::new(title, (12, 6), (FONT, 20).into_font()))
        .map_err(err)?;
    let font: TextStyle<'_> = (FONT, 16).into();
    let arms = report
        .scenarios
        .first()
        .map_or(&[][..], |s| s.arms.as_slice());
    let mut x = 12;
    for (i, a) in arms.iter().enumerate() {
        area.draw(&Rectangle::new([(x, 36), (x + 24, 44)], color(i).filled()))
            .map_err(err)?;
        area.draw(&Text::new(a.arm.as_str(), (x + 30, 32), font.clone()))
            .map_err(err)?;
        let (w, _) = area.estimate_text_size(&a.arm, &font).map_err(err)?;
        x += 30 + w as i32 + 36;
    }
    Ok(())
}

/// Consecutive runs of defined points, so gaps stay gaps.
fn segments(points: impl Iterator<Item = (f64, Option<f64>)>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (t, v) in points {
        match (v, out.last_mut()) {
            (Some(v), Some(seg)) => seg.push((t, v)),
            (None, Some(seg)) if !seg.is_empty() => out.push(Vec::new()),
            _ => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn first(a: &ArmSummary) -> Option<&RunResult> {
    a.runs.first()
}

fn row(area: &Area<'_>, s: &ScenarioReport) -> ChartResult {
    let area = area.margin(4, 4, 8, 8);
    let (title, panels) = area.split_vertically(26);
    title
        .draw(&Text::new(
            format!("{}: {}", s.scenario.name, s.scenario.description),
            (0, 4),
            (FONT, 18).into_font().style(FontStyle::Bold),
        ))
        .map_err(err)?;
    let (left, right) = panels.split_horizontally(WIDTH * 58 / 100);
    let (sli, lanes) = left.split_vertically(left.dim_in_pixel().1 * 64 / 100);
    let end = f64::from(s.scenario.windows().max(1));
    sli_panel(&sli, s, end)?;
    lane_panel(&lanes, s, end)?;
    cost_panel(&right, s, end)
}

fn sli_panel(area: &Area<'_>, s: &ScenarioReport, end: f64) -> ChartResult {
    let mut chart = ChartBuilder::on(area)
        .caption(
            "worst SLI ÷ its bound per window (log; black: the bound)",
            (FONT, 15),
        )
        .margin_right(12)
        .x_label_area_size(22)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(0.0..end, (RATIO.0..RATIO.1).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_labels(8)
        .y_label_formatter(&|v| format!("{v}x"))
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    for &w in &s.shifts {
        let x = f64::from(w);
        chart
            .draw_series(LineSeries::new(
                [(x, RATIO.0), (x, RATIO.1)],
                BLACK.mix(0.35),
            ))
            .map_err(err)?;
    }
    for (i, a) in s.arms.iter().enumerate() {
        let Some(run) = first(a) else { continue };
        let points = run.windows.iter().map(|w| {
            (
                f64::from(w.index),
                w.worst.map(|v| v.clamp(RATIO.0, RATIO.1)),
            )
        });
        for seg in segments(points) {
            chart
                .draw_series(LineSeries::new(seg, color(i).stroke_width(1)))
                .map_err(err)?;
        }
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, 1.0), (end, 1.0)],
            BLACK.stroke_width(2),
        ))
        .map_err(err)?;
    Ok(())
}

fn lane_panel(area: &Area<'_>, s: &ScenarioReport, end: f64) -> ChartResult {
    let lanes = s.arms.len().max(1) as f64;
    let counts: Vec<String> = s
        .arms
        .iter()
        .filter_map(|a| first(a).map(|r| format!("{} {}", a.arm, r.violating)))
        .collect();
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("violating windows ({})", counts.join(", ")),
            (FONT, 14),
        )
        .margin_right(12)
        .x_label_area_size(26)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(0.0..end, 0.0..lanes)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .y_labels(0)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("window")
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    for (lane, a) in s.arms.iter().enumerate() {
        let y = lanes - 1.0 - lane as f64;
        let c = color(lane);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.1), (end, y + 0.9)],
                c.mix(0.08).filled(),
            )))
            .map_err(err)?;
        let Some(run) = first(a) else { continue };
        chart
            .draw_series(run.windows.iter().filter(|w| w.violated).map(|w| {
                let x = f64::from(w.index);
                Rectangle::new([(x, y + 0.1), (x + 1.0, y + 0.9)], c.filled())
            }))
            .map_err(err)?;
    }
    for &w in &s.shifts {
        let x = f64::from(w);
        chart
            .draw_series(LineSeries::new([(x, 0.0), (x, lanes)], BLACK.mix(0.35)))
            .map_err(err)?;
    }
    Ok(())
}

fn cost_panel(area: &Area<'_>, s: &ScenarioReport, end: f64) -> ChartResult {
    let top = s
        .arms
        .iter()
        .filter_map(first)
        .flat_map(|r| r.windows.iter().map(|w| w.cost))
        .fold(0.0f64, f64::max)
        .max(0.1)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("cost of the configuration in force", (FONT, 15))
        .margin_left(16)
        .margin_right(8)
        .x_label_area_size(30)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..end, 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("window")
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    for &w in &s.shifts {
        let x = f64::from(w);
        chart
            .draw_series(LineSeries::new([(x, 0.0), (x, top)], BLACK.mix(0.35)))
            .map_err(err)?;
    }
    for (i, a) in s.arms.iter().enumerate() {
        let Some(run) = first(a) else { continue };
        chart
            .draw_series(LineSeries::new(
                run.windows.iter().map(|w| (f64::from(w.index), w.cost)),
                color(i).stroke_width(2),
            ))
            .map_err(err)?;
    }
    Ok(())
}
