//! What the demo's charts share: a panel over the run's
//! seconds with the scenario's phases marked, and lines that keep their gaps.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// A region of a bitmap chart.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// A panel over seconds (x) and a value (y).
pub(crate) type TimeChart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A panel over `0..end` seconds and `0..top`, its mesh drawn, with a faint
/// vertical line where each phase after the first begins.
pub(crate) fn time_panel<'a, 'b>(
    area: &'a Area<'b>,
    title: &str,
    font_size: u32,
    (end, top): (f64, f64),
    phases: &[(f64, String)],
) -> Result<TimeChart<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", font_size))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..end, 0.0..top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .draw()
        .map_err(|e| e.to_string())?;
    for (t, _) in phases.iter().skip(1) {
        chart
            .draw_series(LineSeries::new(
                [(*t, 0.0), (*t, top)],
                BLACK.mix(0.3).stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
    }
    Ok(chart)
}

/// Where each phase begins (seconds), from windows' `(end time, phase)`.
pub(crate) fn phase_starts<'a>(
    windows: impl Iterator<Item = (f64, &'a str)>,
) -> Vec<(f64, String)> {
    let mut out: Vec<(f64, String)> = Vec::new();
    for (t, phase) in windows {
        if out.last().is_none_or(|(_, last)| last != phase) {
            out.push((t, phase.to_string()));
        }
    }
    out
}

/// Consecutive runs of defined points, so gaps stay gaps.
pub(crate) fn segments(points: impl Iterator<Item = (f64, Option<f64>)>) -> Vec<Vec<(f64, f64)>> {
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

#[cfg(test)]
mod tests {
    use super::{phase_starts, segments};

    #[test]
    fn phases_start_where_the_name_changes() {
        let windows = [(1.0, "a"), (2.0, "a"), (3.0, "b"), (4.0, "a")];
        assert_eq!(
            phase_starts(windows.into_iter()),
            vec![(1.0, "a".into()), (3.0, "b".into()), (4.0, "a".into())]
        );
    }

    #[test]
    fn gaps_split_lines() {
        let points = [
            (0.0, None),
            (1.0, Some(1.0)),
            (2.0, Some(2.0)),
            (3.0, None),
            (4.0, None),
            (5.0, Some(5.0)),
        ];
        assert_eq!(
            segments(points.into_iter()),
            vec![vec![(1.0, 1.0), (2.0, 2.0)], vec![(5.0, 5.0)]]
        );
    }
}
