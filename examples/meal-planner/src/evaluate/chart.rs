//! `evaluate.png`: the arms side by side over the scenario. From top to
//! bottom: the target load with the phases; per arm, the windows that violated
//! an objective (red); per arm, the worst objective's SLI relative to its bound
//! (1 = at the bound, capped at 4); per arm, the cost of the configuration in
//! force. Each arm keeps its colour throughout; the violation rows name them.

use std::path::Path;

use plotters::prelude::*;

use super::{EvaluateError, Evaluation, WindowPoint};
use crate::chart::{Area, phase_starts, segments, time_panel};

/// Where the SLI / bound panel is cut off.
const WORST_CAP: f64 = 4.0;

fn chart_error<E: std::fmt::Display>(e: E) -> EvaluateError {
    EvaluateError::Io(format!("cannot draw evaluate.png: {e}"))
}

fn color(i: usize) -> RGBColor {
    match i {
        0 => RGBColor(120, 120, 120),
        1 => RGBColor(30, 90, 200),
        2 => RGBColor(230, 130, 0),
        3 => RGBColor(0, 150, 60),
        _ => RGBColor(150, 0, 150),
    }
}

/// Draws the chart of `evaluation` to `path`.
pub fn draw(path: &Path, evaluation: &Evaluation) -> Result<(), EvaluateError> {
    let arms = &evaluation.arms;
    let end = arms
        .iter()
        .flat_map(|a| a.series.iter().map(|w| w.t))
        .fold(1.0f64, f64::max);
    let window = evaluation.interval_ms as f64 / 1e3;
    let reference = arms.first();
    let phases = reference.map_or_else(Vec::new, |a| {
        phase_starts(a.series.iter().map(|w| (w.t, w.phase.as_str())))
    });

    let root = BitMapBackend::new(path, (1400, 1300)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let (load, rest) = root.split_vertically(220);
    let (violations, rest) = rest.split_vertically(60 + 56 * arms.len().max(1) as u32);
    let (worst, cost) = rest.split_vertically(rest.dim_in_pixel().1 / 2 + 40);

    // The target load and the phases.
    {
        let top = reference
            .map(|a| a.series.iter().map(|w| w.target_rate).fold(0.0, f64::max))
            .unwrap_or(1.0)
            .max(1.0)
            * 1.25;
        let title = format!(
            "scenario `{}`: target load (actions/s) and phases",
            evaluation.scenario
        );
        let mut chart = time_panel(&load, &title, 20, (end, top), &phases).map_err(chart_error)?;
        if let Some(a) = reference {
            chart
                .draw_series(LineSeries::new(
                    a.series.iter().map(|w| (w.t, w.target_rate)),
                    BLACK.stroke_width(2),
                ))
                .map_err(chart_error)?;
        }
        for (t, name) in &phases {
            chart
                .draw_series(std::iter::once(Text::new(
                    name.clone(),
                    (*t + 0.5, top * 0.93),
                    ("sans-serif", 15).into_font(),
                )))
                .map_err(chart_error)?;
        }
    }

    // Violating windows, one row per arm.
    {
        let rows = arms.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&violations)
            .caption(
                "windows violating any objective (red), per arm",
                ("sans-serif", 20),
            )
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..end, 0.0..rows)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .draw()
            .map_err(chart_error)?;
        for (i, a) in arms.iter().enumerate() {
            let y = rows - i as f64 - 1.0;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y + 0.05), (end, y + 0.5)],
                    RGBColor(235, 245, 235).filled(),
                )))
                .map_err(chart_error)?;
            chart
                .draw_series(a.series.iter().filter(|w| w.violated).map(|w| {
                    Rectangle::new(
                        [((w.t - window).max(0.0), y + 0.05), (w.t, y + 0.5)],
                        RED.filled(),
                    )
                }))
                .map_err(chart_error)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{}: {}/{}", a.arm, a.violating_windows, a.windows),
                    (end * 0.003, y + 0.92),
                    ("sans-serif", 15).into_font().color(&color(i)),
                )))
                .map_err(chart_error)?;
        }
    }

    let lines = |area: &Area<'_>,
                 title: &str,
                 value: &dyn Fn(&WindowPoint) -> Option<f64>,
                 bound: Option<f64>|
     -> Result<(), EvaluateError> {
        let top = arms
            .iter()
            .flat_map(|a| a.series.iter().filter_map(value))
            .chain(bound)
            .fold(0.0f64, f64::max)
            * 1.15;
        let top = if top > 0.0 { top } else { 1.0 };
        let mut chart = time_panel(area, title, 20, (end, top), &phases).map_err(chart_error)?;
        if let Some(b) = bound {
            chart
                .draw_series(LineSeries::new([(0.0, b), (end, b)], RED.stroke_width(2)))
                .map_err(chart_error)?;
        }
        for (i, a) in arms.iter().enumerate() {
            let c = color(i);
            let lines = segments(a.series.iter().map(|w| (w.t, value(w))));
            for s in lines {
                chart
                    .draw_series(LineSeries::new(s, c.stroke_width(2)))
                    .map_err(chart_error)?;
            }
        }
        Ok(())
    };
    lines(
        &worst,
        &format!(
            "worst objective per window: SLI / bound (red: the bound; cut at {WORST_CAP}; colours as above)"
        ),
        &|w: &WindowPoint| w.worst.map(|v| v.min(WORST_CAP)),
        Some(1.0),
    )?;
    lines(
        &cost,
        "cost of the configuration in force: Σ knob cost × position in range (colours as above)",
        &|w: &WindowPoint| Some(w.cost),
        None,
    )?;
    root.present().map_err(chart_error)
}
