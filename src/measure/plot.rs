//! SVG charts with 95% confidence bars (the `plotters` crate): line charts for the sweep's
//! figures, bar charts for hvbench's (the paper's Fig. 1: one bar per platform and task).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// One line: points `(x, mean, ci95 half-width)`.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// One chart of a figure.
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Labels for integer x positions (categorical axes such as table sizes); `None` prints
    /// the numbers.
    pub x_names: Option<Vec<String>>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Draws `panels` side by side into an SVG file.
pub fn render(path: &Path, caption: &str, panels: &[Panel]) -> Result<()> {
    figure(path, caption, (620, 460, 20), panels, draw_panel)
}

/// An SVG of `panels` side by side under `caption`: each panel `size.0` by `size.1` pixels,
/// the caption in `size.2`-point type, each drawn by `draw`.
fn figure<P>(
    path: &Path,
    caption: &str,
    size: (u32, u32, u32),
    panels: &[P],
    draw: impl Fn(&Area<'_>, &P) -> DrawResult,
) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow!("{}: drawing: {e}", path.display());
    let width = size.0 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (width, size.1)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(caption, ("sans-serif", size.2))
        .map_err(|e| err(&e))?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (area, p) in areas.iter().zip(panels) {
        draw(area, p).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

fn draw_panel(area: &Area<'_>, p: &Panel) -> DrawResult {
    let pts = p.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(x, m, c) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        if (m + c).is_finite() {
            y1 = y1.max(m + c);
        }
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    let pad = ((x1 - x0) * 0.08).max(0.5);
    let y1 = if y1 > 0.0 { y1 * 1.15 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..y1)?;
    let names = p.x_names.clone();
    let fmt_x = move |x: &f64| {
        let r = x.round();
        if (x - r).abs() > 1e-6 {
            return String::new();
        }
        match &names {
            Some(n) => n.get(r as usize).cloned().unwrap_or_default(),
            None => format!("{r}"),
        }
    };
    chart
        .configure_mesh()
        .x_desc(&p.x_label)
        .y_desc(&p.y_label)
        .x_labels(((x1 - x0) as usize + 2).min(12))
        .x_label_formatter(&fmt_x)
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, s) in p.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(_, m, _)| m.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|&(x, m, _)| (x, m)),
                color.stroke_width(2),
            ))?
            .label(&s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart.draw_series(
            pts.iter()
                .map(|&(x, m, _)| Circle::new((x, m), 4, color.filled())),
        )?;
        chart.draw_series(pts.iter().filter(|(_, _, c)| *c > 0.0).map(|&(x, m, c)| {
            ErrorBar::new_vertical(x, (m - c).max(0.0), m, m + c, color.stroke_width(1), 8)
        }))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    Ok(())
}

/// One bar chart: bars `(name, mean, ci95 half-width)`; a NaN mean draws no bar (its name
/// stays on the axis: a platform that did not run).
pub struct BarPanel {
    pub title: String,
    pub y_label: String,
    pub bars: Vec<(String, f64, f64)>,
}

/// Draws bar charts side by side into an SVG file.
pub fn render_bars(path: &Path, caption: &str, panels: &[BarPanel]) -> Result<()> {
    figure(path, caption, (380, 420, 18), panels, draw_bars)
}

fn draw_bars(area: &Area<'_>, p: &BarPanel) -> DrawResult {
    let n = p.bars.len().max(1);
    let top = p
        .bars
        .iter()
        .map(|(_, m, c)| m + c)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0..top)?;
    let names: Vec<String> = p.bars.iter().map(|b| b.0.clone()).collect();
    let fmt_x = move |x: &f64| {
        let r = x.round();
        if (x - r).abs() > 1e-6 || r < 0.0 {
            return String::new();
        }
        names.get(r as usize).cloned().unwrap_or_default()
    };
    chart
        .configure_mesh()
        .y_desc(&p.y_label)
        .x_labels(n)
        .x_label_formatter(&fmt_x)
        .disable_x_mesh()
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, &(_, m, c)) in p.bars.iter().enumerate() {
        if !m.is_finite() {
            continue;
        }
        let color = COLORS[i % COLORS.len()];
        let x = i as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.32, 0.0), (x + 0.32, m)],
            color.mix(0.8).filled(),
        )))?;
        if c > 0.0 {
            chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                x,
                (m - c).max(0.0),
                m,
                m + c,
                BLACK.stroke_width(1),
                10,
            )))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_charts_draw_one_bar_per_finite_mean() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.svg");
        let panel = BarPanel {
            title: "cpu".into(),
            y_label: "s per round".into(),
            bars: vec![
                ("native".into(), 1.0, 0.1),
                ("container".into(), 1.1, 0.0),
                ("qemu-tcg".into(), f64::NAN, 0.0),
            ],
        };
        render_bars(&path, "hvbench", &[panel]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for want in [
            "hvbench",
            "cpu",
            "s per round",
            "native",
            "container",
            "qemu-tcg",
        ] {
            assert!(svg.contains(want), "missing {want}");
        }
        let bars = svg
            .lines()
            .filter(|l| l.starts_with("<rect") && l.contains("opacity=\"0.8\""))
            .count();
        assert_eq!(bars, 2, "{svg}");
    }

    #[test]
    fn renders_an_svg_with_its_titles_and_points() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.svg");
        let panel = Panel {
            title: "rate".into(),
            x_label: "routers".into(),
            y_label: "kp/s".into(),
            series: vec![Series {
                name: "aggregate".into(),
                points: vec![(1.0, 130.0, 1.0), (2.0, 260.0, 2.0), (3.0, f64::NAN, 0.0)],
            }],
            x_names: Some(vec!["a".into(), "one".into(), "two".into()]),
        };
        render(&path, "caption here", &[panel]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        for want in [
            "caption here",
            "aggregate",
            "routers",
            "kp/s",
            "one",
            "two",
            "<circle",
        ] {
            assert!(svg.contains(want), "missing {want}");
        }
        let filled = svg
            .lines()
            .filter(|l| l.starts_with("<circle") && l.contains("fill=\"#1F77B4\""))
            .count();
        assert_eq!(
            filled, 2,
            "one marker per finite point; the NaN point is skipped"
        );
    }
}
