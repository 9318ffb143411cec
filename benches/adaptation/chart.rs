//! The adaptation benchmark's chart: one row per trace, every arm's worst p99
//! against its objective over time with its violating windows marked, and every
//! arm's cost against the work the load brings.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ArmResult, DEFAULT, READ_BOUND, Trace, WINDOW, WRITE_BOUND, Window};

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type ChartResult = Result<(), Box<dyn std::error::Error>>;

const WIDTH: u32 = 1600;
const HEADER: u32 = 56;
const ROW: u32 = 400;
/// The y label areas of the left panels, equal so their time axes line up.
const Y_LABELS: u32 = 64;
const FONT: &str = "sans-serif";
/// The p99 ÷ objective axis (log scale).
const RATIO: (f64, f64) = (0.05, 50.0);

/// Each arm's colour, short name and legend, by the position `main` runs them in.
const ARMS: [(RGBColor, &str, &str); 4] = [
    (RGBColor(214, 39, 40), "default", "static default"),
    (
        RGBColor(44, 160, 44),
        "best",
        "best static (grid oracle, per trace)",
    ),
    (RGBColor(255, 150, 30), "cold", "finch cold"),
    (RGBColor(31, 119, 180), "warm", "finch warm"),
];
/// The load's work in the cost panels.
const WORK: RGBColor = RGBColor(185, 185, 185);

fn err<E: std::fmt::Display>(e: E) -> Box<dyn std::error::Error> {
    format!("cannot draw the adaptation chart: {e}").into()
}

/// Writes the chart of every trace's arms, in trace order, to `path`.
pub(super) fn write(
    path: &Path,
    traces: &[Trace],
    results: &BTreeMap<&str, Vec<ArmResult>>,
) -> ChartResult {
    let rows: Vec<(&Trace, &[ArmResult])> = traces
        .iter()
        .filter_map(|t| results.get(t.name).map(|a| (t, a.as_slice())))
        .collect();
    let height = HEADER + ROW * rows.len().max(1) as u32;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (header, body) = root.split_vertically(HEADER);
    legend(&header)?;
    if !rows.is_empty() {
        for ((trace, arms), area) in rows.iter().zip(body.split_evenly((rows.len(), 1)).iter()) {
            row(area, trace, arms)?;
        }
    }
    root.present().map_err(err)
}

/// The title and each arm's colour.
fn legend(area: &Area<'_>) -> ChartResult {
    let title = format!(
        "finch vs static configuration: reads p99 < {:.0} ms, writes p99 < {:.0} ms; windows of {:.0} ms",
        READ_BOUND * 1e3,
        WRITE_BOUND * 1e3,
        WINDOW * 1e3
    );
    area.draw(&Text::new(title, (12, 6), (FONT, 20).into_font()))
        .map_err(err)?;
    let font: TextStyle<'_> = (FONT, 16).into();
    let mut x = 12;
    let work = "load's work (threads busy at default settings)";
    let keys = ARMS.iter().map(|&(c, _, l)| (c, l)).chain([(WORK, work)]);
    for (color, label) in keys {
        area.draw(&Rectangle::new([(x, 36), (x + 24, 44)], color.filled()))
            .map_err(err)?;
        area.draw(&Text::new(label, (x + 30, 32), font.clone()))
            .map_err(err)?;
        let (w, _) = area.estimate_text_size(label, &font).map_err(err)?;
        x += 30 + w as i32 + 36;
    }
    Ok(())
}

/// The worse of a window's two p99s, as a multiple of its objective.
fn worst(w: &Window) -> Option<f64> {
    let read = w.read_p99.map(|p| p / READ_BOUND);
    let write = w.write_p99.map(|p| p / WRITE_BOUND);
    match (read, write) {
        (Some(r), Some(w)) => Some(r.max(w)),
        (r, w) => r.or(w),
    }
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

/// One trace: p99 ÷ objective and violations on the left, cost on the right.
fn row(area: &Area<'_>, trace: &Trace, arms: &[ArmResult]) -> ChartResult {
    let area = area.margin(4, 4, 8, 8);
    let (title, panels) = area.split_vertically(26);
    let best = arms
        .iter()
        .find_map(|a| a.arm.strip_prefix("best static "))
        .unwrap_or("");
    title
        .draw(&Text::new(
            format!("{}: {}; best static {best}", trace.name, trace.what),
            (0, 4),
            (FONT, 18).into_font().style(FontStyle::Bold),
        ))
        .map_err(err)?;
    let (left, right) = panels.split_horizontally(WIDTH * 58 / 100);
    let (latency, violations) = left.split_vertically(left.dim_in_pixel().1 * 68 / 100);
    let end = trace.windows.len().max(1) as f64;
    latency_panel(&latency, trace, arms, end)?;
    violation_panel(&violations, trace, arms, end)?;
    cost_panel(&right, trace, arms, end)
}

fn latency_panel(area: &Area<'_>, trace: &Trace, arms: &[ArmResult], end: f64) -> ChartResult {
    let mut chart = ChartBuilder::on(area)
        .caption(
            "worse p99 ÷ its objective, per window (log; black: objective)",
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
    for &s in &trace.shifts {
        chart
            .draw_series(LineSeries::new(
                [(s as f64, RATIO.0), (s as f64, RATIO.1)],
                BLACK.mix(0.35),
            ))
            .map_err(err)?;
    }
    for (a, (color, ..)) in arms.iter().zip(ARMS) {
        let points = a.windows.iter().enumerate().map(|(i, w)| {
            let v = worst(w).map(|v| v.clamp(RATIO.0, RATIO.1));
            (i as f64, v)
        });
        for s in segments(points) {
            chart
                .draw_series(LineSeries::new(s, color.stroke_width(1)))
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

fn violation_panel(area: &Area<'_>, trace: &Trace, arms: &[ArmResult], end: f64) -> ChartResult {
    let counts: Vec<String> = arms
        .iter()
        .zip(ARMS)
        .map(|(a, (_, name, _))| {
            let n = a.windows.iter().filter(|w| w.violated()).count();
            format!("{name} {n}")
        })
        .collect();
    let lanes = arms.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("violating windows ({})", counts.join(", ")),
            (FONT, 15),
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
    for (lane, (a, (color, name, _))) in arms.iter().zip(ARMS).enumerate() {
        // The first arm on top.
        let y = lanes - 1.0 - lane as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.1), (end, y + 0.9)],
                color.mix(0.08).filled(),
            )))
            .map_err(err)?;
        chart
            .draw_series(
                a.windows
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| w.violated())
                    .map(|(i, _)| {
                        Rectangle::new(
                            [(i as f64, y + 0.1), (i as f64 + 1.0, y + 0.9)],
                            color.filled(),
                        )
                    }),
            )
            .map_err(err)?;
        let (x, label_y) = chart.backend_coord(&(0.0, y + 0.5));
        let (base_x, base_y) = area.get_base_pixel();
        area.draw(&Text::new(
            name,
            (x - base_x - Y_LABELS as i32 + 8, label_y - base_y - 7),
            (FONT, 13).into_font(),
        ))
        .map_err(err)?;
    }
    for &s in &trace.shifts {
        chart
            .draw_series(LineSeries::new(
                [(s as f64, 0.0), (s as f64, lanes)],
                BLACK.mix(0.35),
            ))
            .map_err(err)?;
    }
    Ok(())
}

fn cost_panel(area: &Area<'_>, trace: &Trace, arms: &[ArmResult], end: f64) -> ChartResult {
    let top = arms
        .iter()
        .flat_map(|a| a.windows.iter().map(|w| w.cost))
        .fold(0.0f64, f64::max)
        .max(0.1)
        * 1.15;
    let work: Vec<(f64, f64)> = trace
        .windows
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64, l.busy_threads(DEFAULT)))
        .collect();
    let work_top = work.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1.0) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "cost of the configuration (left axis); grey: load's work (right axis)",
            (FONT, 15),
        )
        .margin_left(16)
        .margin_right(4)
        .x_label_area_size(30)
        .y_label_area_size(44)
        .right_y_label_area_size(40)
        .build_cartesian_2d(0.0..end, 0.0..top)
        .map_err(err)?
        .set_secondary_coord(0.0..end, 0.0..work_top);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("window")
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    chart
        .draw_secondary_series(LineSeries::new(work, WORK.stroke_width(2)))
        .map_err(err)?;
    for &s in &trace.shifts {
        chart
            .draw_series(LineSeries::new(
                [(s as f64, 0.0), (s as f64, top)],
                BLACK.mix(0.35),
            ))
            .map_err(err)?;
    }
    for (a, (color, ..)) in arms.iter().zip(ARMS) {
        chart
            .draw_series(LineSeries::new(
                a.windows
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (i as f64, w.cost)),
                color.stroke_width(2),
            ))
            .map_err(err)?;
    }
    Ok(())
}
