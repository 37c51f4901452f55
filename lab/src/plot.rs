//! SVG plots (plotters, SVG backend only: text is written as SVG `<text>` elements sized by
//! plotters' own estimate, so no fonts or system libraries are involved). Two shapes cover the
//! lab: stacked panels of lines (latency over a run, throughput over threads) and stacked panels
//! of bars (one value per map).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

/// One line of a panel: a name for the legend and its points.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64)>,
    /// Drawn pale, behind the others (context rather than the message).
    pub(crate) faint: bool,
}

/// One panel of lines sharing axes.
#[derive(Clone, Debug)]
pub(crate) struct LinePanel {
    pub(crate) title: String,
    pub(crate) x_desc: String,
    pub(crate) y_desc: String,
    /// Logarithmic y axis (latencies); the y range then starts at the smallest positive value.
    pub(crate) log_y: bool,
    /// A fixed y range (so that stacked panels compare at a glance); `None` fits the data.
    pub(crate) y_range: Option<(f64, f64)>,
    pub(crate) lines: Vec<Line>,
}

/// One panel of bars: one bar per name.
#[derive(Clone, Debug)]
pub(crate) struct BarPanel {
    pub(crate) title: String,
    pub(crate) y_desc: String,
    pub(crate) log_y: bool,
    pub(crate) bars: Vec<(String, f64)>,
}

const WIDTH: u32 = 960;
const PANEL_HEIGHT: u32 = 360;

/// A fixed color per map name, so a map looks the same in every plot; hmap's maps are red.
pub(crate) fn color_of(name: &str, index: usize) -> RGBColor {
    match name {
        "hmap" | "concurrent" => RGBColor(214, 39, 40),
        "hashbrown" => RGBColor(31, 119, 180),
        "std" => RGBColor(44, 160, 44),
        "papaya" => RGBColor(148, 103, 189),
        "scc" => RGBColor(255, 127, 14),
        "dashmap" => RGBColor(140, 86, 75),
        "rwlock_hashbrown" => RGBColor(127, 127, 127),
        _ => {
            const PALETTE: [RGBColor; 8] = [
                RGBColor(31, 119, 180),
                RGBColor(255, 127, 14),
                RGBColor(44, 160, 44),
                RGBColor(148, 103, 189),
                RGBColor(140, 86, 75),
                RGBColor(227, 119, 194),
                RGBColor(23, 190, 207),
                RGBColor(188, 189, 34),
            ];
            PALETTE[index % PALETTE.len()]
        }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws `panels` one above the other, each `panel_height` pixels high (0: the default), under
/// `title` into the SVG file `path`.
pub(crate) fn lines(
    path: &Path,
    title: &str,
    panels: &[LinePanel],
    panel_height: u32,
) -> Result<(), String> {
    let panel_height = if panel_height == 0 {
        PANEL_HEIGHT
    } else {
        panel_height
    };
    let height = panel_height * panels.len().max(1) as u32 + 40;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(err)?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    for (panel, area) in panels.iter().zip(&areas) {
        line_panel(panel, area)?;
    }
    root.present().map_err(err)
}

fn line_panel(panel: &LinePanel, area: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String> {
    let all = || panel.lines.iter().flat_map(|l| l.points.iter().copied());
    let x_max = all().map(|p| p.0).fold(0.0f64, f64::max).max(1.0);
    let x_min = all().map(|p| p.0).fold(f64::INFINITY, f64::min).min(x_max);
    let x_min = if x_min.is_finite() { x_min } else { 0.0 };
    // One x value (a single thread count) would make an empty range.
    let (x_min, x_max) = if x_max - x_min < 1e-9 {
        (x_min - 0.5, x_max + 0.5)
    } else {
        (x_min, x_max)
    };
    let y_max = all().map(|p| p.1).fold(0.0f64, f64::max).max(1.0);
    let mut chart = ChartBuilder::on(area);
    chart
        .caption(&panel.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    if panel.log_y {
        let y_min = all()
            .map(|p| p.1)
            .filter(|y| *y > 0.0)
            .fold(f64::INFINITY, f64::min);
        let y_min = if y_min.is_finite() { y_min / 1.5 } else { 1.0 };
        let (y_min, y_top) = panel.y_range.unwrap_or((y_min, y_max * 2.0));
        let mut chart = chart
            .build_cartesian_2d(x_min..x_max, (y_min..y_top).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&panel.x_desc)
            .y_desc(&panel.y_desc)
            .y_label_formatter(&|y| short_ns(*y))
            .draw()
            .map_err(err)?;
        draw_lines(&mut chart, &panel.lines)
    } else {
        let (y_min, y_top) = panel.y_range.unwrap_or((0.0, y_max * 1.1));
        let mut chart = chart
            .build_cartesian_2d(x_min..x_max, y_min..y_top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&panel.x_desc)
            .y_desc(&panel.y_desc)
            .draw()
            .map_err(err)?;
        draw_lines(&mut chart, &panel.lines)
    }
}

fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    lines: &[Line],
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (index, line) in lines.iter().enumerate() {
        // "hmap wall clock" is colored as "hmap".
        let base = line.name.split_whitespace().next().unwrap_or("");
        let color = color_of(base, index);
        let color = if line.faint {
            color.mix(0.3)
        } else {
            color.mix(1.0)
        };
        let style =
            ShapeStyle::from(&color).stroke_width(if line.points.len() > 50 { 1 } else { 2 });
        let series = chart
            .draw_series(LineSeries::new(line.points.iter().copied(), style))
            .map_err(err)?;
        series.label(&line.name).legend(move |(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 20, y)],
                ShapeStyle::from(&color).stroke_width(2),
            )
        });
        if line.points.len() <= 50 {
            chart
                .draw_series(
                    line.points
                        .iter()
                        .map(|&p| Circle::new(p, 3, color.filled())),
                )
                .map_err(err)?;
        }
    }
    if lines.len() < 2 {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// Draws bar `panels` one above the other under `title` into the SVG file `path`.
pub(crate) fn bars(path: &Path, title: &str, panels: &[BarPanel]) -> Result<(), String> {
    let height = PANEL_HEIGHT * panels.len().max(1) as u32 + 40;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(err)?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    for (panel, area) in panels.iter().zip(&areas) {
        bar_panel(panel, area)?;
    }
    root.present().map_err(err)
}

fn bar_panel(panel: &BarPanel, area: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String> {
    let n = panel.bars.len().max(1);
    let names: Vec<String> = panel.bars.iter().map(|(name, _)| name.clone()).collect();
    let label = move |x: &SegmentValue<usize>| match x {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            names.get(*i).cloned().unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    };
    let y_max = panel
        .bars
        .iter()
        .map(|b| b.1)
        .fold(0.0f64, f64::max)
        .max(1.0);
    let mut chart = ChartBuilder::on(area);
    chart
        .caption(&panel.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80);
    let color = |i: usize| color_of(&panel.bars[i].0, i).mix(0.85).filled();
    // `0..n` as a discrete axis has n + 1 key points: the last index is n - 1.
    let last = n - 1;
    if panel.log_y {
        let y_min = panel
            .bars
            .iter()
            .map(|b| b.1)
            .filter(|y| *y > 0.0)
            .fold(f64::INFINITY, f64::min);
        let y_min = if y_min.is_finite() { y_min / 2.0 } else { 1.0 };
        let mut chart = chart
            .build_cartesian_2d((0..last).into_segmented(), (y_min..y_max * 2.0).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&label)
            .y_desc(&panel.y_desc)
            .y_label_formatter(&|y| short_ns(*y))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .margin(12)
                    .baseline(y_min)
                    .style_func(|x, _| match x {
                        SegmentValue::Exact(i) | SegmentValue::CenterOf(i) => color(*i),
                        SegmentValue::Last => color(0),
                    })
                    .data(
                        panel
                            .bars
                            .iter()
                            .enumerate()
                            .map(|(i, b)| (i, b.1.max(y_min))),
                    ),
            )
            .map_err(err)?;
    } else {
        let mut chart = chart
            .build_cartesian_2d((0..last).into_segmented(), 0.0..y_max * 1.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&label)
            .y_desc(&panel.y_desc)
            .y_label_formatter(&|y| short_count(*y))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .margin(12)
                    .style_func(|x, _| match x {
                        SegmentValue::Exact(i) | SegmentValue::CenterOf(i) => color(*i),
                        SegmentValue::Last => color(0),
                    })
                    .data(panel.bars.iter().enumerate().map(|(i, b)| (i, b.1))),
            )
            .map_err(err)?;
    }
    Ok(())
}

/// A nanosecond axis label: `100ns`, `10µs`, `1ms`.
fn short_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{}s", trim(ns / 1e9))
    } else if ns >= 1e6 {
        format!("{}ms", trim(ns / 1e6))
    } else if ns >= 1e3 {
        format!("{}µs", trim(ns / 1e3))
    } else {
        format!("{}ns", trim(ns))
    }
}

/// A count axis label: `500`, `20K`, `1.5M`.
fn short_count(n: f64) -> String {
    if n >= 1e6 {
        format!("{}M", trim(n / 1e6))
    } else if n >= 1e3 {
        format!("{}K", trim(n / 1e3))
    } else {
        trim(n)
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}
