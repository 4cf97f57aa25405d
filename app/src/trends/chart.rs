//! Draws a trend as an SVG picture with `plotters`: each line with its min–max band, the levels,
//! the projection reaching into the future, and flagged days. Pure (no DOM): the server and the
//! WASM client draw the same picture, and [`Plot`] maps pointer positions back to time and value
//! for the hover crosshair and drag-zoom.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::shared::format;
use crate::shared::zone::Zone;
use crate::trends::projection::Projection;
use crate::trends::{FlagKind, Trend};
use crate::vitals::Unit;

/// The default drawing size; the browser draws at the chart's real pixel width, so labels keep
/// their size on a phone.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 260;

/// The chart's height for a given width: wide and low on a desk, taller on a phone.
pub fn height_for(width: u32) -> u32 {
    (width * 36 / 100).clamp(200, 300)
}

/// Tick steps for the time axis, each a whole unit of UTC clock or calendar time.
const STEPS_MS: [i64; 16] = [
    60_000,
    5 * 60_000,
    15 * 60_000,
    30 * 60_000,
    3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    86_400_000,
    2 * 86_400_000,
    7 * 86_400_000,
    14 * 86_400_000,
    30 * 86_400_000,
    91 * 86_400_000,
    182 * 86_400_000,
    365 * 86_400_000,
];

/// Round time ticks between `from` and `to` (at most `max` of them), and the step between them.
pub fn time_ticks(from_ms: i64, to_ms: i64, max: usize) -> (Vec<i64>, i64) {
    let span = (to_ms - from_ms).max(1);
    let max = max.max(2) as i64;
    let step = STEPS_MS
        .iter()
        .copied()
        .find(|s| span / s < max)
        .unwrap_or(STEPS_MS[STEPS_MS.len() - 1]);
    let first = from_ms.div_euclid(step) * step
        + if from_ms.rem_euclid(step) == 0 {
            0
        } else {
            step
        };
    let ticks = (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= to_ms)
        .collect();
    (ticks, step)
}

/// Line colours, readable on dark and light backgrounds.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x4e, 0x9f, 0xf5),
    RGBColor(0x2e, 0xc2, 0x7e),
    RGBColor(0xe0, 0x6c, 0x75),
    RGBColor(0xc6, 0x78, 0xdd),
    RGBColor(0xe5, 0xc0, 0x7b),
    RGBColor(0x56, 0xb6, 0xc2),
    RGBColor(0xd1, 0x9a, 0x66),
    RGBColor(0x98, 0xa6, 0xb8),
];
/// plotters writes SVG font sizes as size / 1.24: this gives 12 px labels.
const LABEL_SIZE: f64 = 15.0;
const TEXT: RGBColor = RGBColor(0x8a, 0x94, 0xa6);
const GRID: RGBColor = RGBColor(0x8a, 0x94, 0xa6);
const PROJECTION: RGBColor = RGBColor(0xf5, 0x9e, 0x0b);
const LEVEL: RGBColor = RGBColor(0xef, 0x44, 0x44);
const FLAG: RGBColor = RGBColor(0xef, 0x44, 0x44);
/// Marked moments (cleanup runs).
const EVENT: RGBColor = RGBColor(0x3f, 0xb9, 0x50);

/// The colour of line `i`, as CSS.
pub fn colour(i: usize) -> String {
    let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Where the data sits in the SVG (viewBox units) and which time and value span it shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plot {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub x_from_ms: i64,
    pub x_to_ms: i64,
    pub y_from: f64,
    pub y_to: f64,
}

impl Plot {
    /// The time under horizontal position `x` (viewBox units), clamped to the plotted span.
    pub fn time_at(&self, x: f64) -> i64 {
        let f = ((x - self.left) / (self.right - self.left).max(1.0)).clamp(0.0, 1.0);
        self.x_from_ms + (f * (self.x_to_ms - self.x_from_ms) as f64).round() as i64
    }

    /// The horizontal position of time `ms`.
    pub fn x_of(&self, ms: i64) -> f64 {
        let span = (self.x_to_ms - self.x_from_ms).max(1) as f64;
        self.left + (ms - self.x_from_ms) as f64 / span * (self.right - self.left)
    }

    /// The vertical position of value `v`.
    pub fn y_of(&self, v: f64) -> f64 {
        let span = self.y_to - self.y_from;
        if span <= 0.0 {
            return self.bottom;
        }
        self.bottom - (v - self.y_from) / span * (self.bottom - self.top)
    }
}

/// A drawn chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    pub svg: String,
    pub plot: Plot,
}

#[derive(Debug, thiserror::Error)]
#[error("the chart could not be drawn: {0}")]
pub struct ChartError(String);

/// A tick's label from its wall-clock time (ms, already in the shown zone): the date for
/// whole-day steps or at midnight, else the clock time.
pub fn time_label(ms: i64, step_ms: i64) -> String {
    let full = format::utc_datetime(ms); // "YYYY-MM-DD HH:MM:SS"
    if step_ms >= 86_400_000 || ms.rem_euclid(86_400_000) == 0 {
        full[5..10].to_string()
    } else {
        full[11..16].to_string()
    }
}

/// The value range to show: the data, the next level above it (so the chart shows how close it
/// is), zero for counts and rates, and 100 at most for percentages.
fn value_range(trend: &Trend, unit: Unit) -> (f64, f64) {
    let (mut lo, mut hi) = trend
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.min.min(p.avg)), hi.max(p.max.max(p.avg)))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if let Some(next) = trend
        .levels
        .iter()
        .map(|l| l.value)
        .filter(|v| *v > hi)
        .min_by(f64::total_cmp)
    {
        hi = next;
    }
    if matches!(unit, Unit::Count | Unit::BytesPerSecond | Unit::Bytes) || lo > 0.0 && lo < hi / 3.0
    {
        lo = lo.min(0.0);
    }
    let pad = ((hi - lo) * 0.08).max(if unit == Unit::Count { 1.0 } else { 1e-9 });
    let mut top = hi + pad;
    if unit == Unit::Percent {
        top = top.min(100.0).max(hi);
    }
    let bottom = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (bottom, if top > bottom { top } else { bottom + 1.0 })
}

/// Draws `trend` at `width` × `height` pixels (extended into the future when its projection
/// rises).
/// Draws a trend; tick labels are in `zone` (ticks fall on its round hours and days).
pub fn draw(trend: &Trend, width: u32, height: u32, zone: Zone) -> Result<Drawn, ChartError> {
    let err = |e: &dyn std::fmt::Display| ChartError(e.to_string());
    let unit = trend.series.first().map_or(Unit::Count, |s| s.unit);
    let span = (trend.end_ms - trend.start_ms).max(1);
    // A rising projection gets a quarter of the window's width beyond "now", or less when
    // the history it rests on does not reach that far.
    let projected = match &trend.projection {
        Projection::Rising {
            fit, horizon_ms, ..
        } => Some((*fit, *horizon_ms)),
        Projection::NoTrend { .. } => None,
    };
    let fit = projected.map(|(f, _)| f);
    let x_to = trend.end_ms + projected.map_or(0, |(_, h)| (span / 4).min(h.max(0)));
    let (y_from, y_to) = value_range(trend, unit);

    let mut svg = String::with_capacity(64 * 1024);
    let plot = {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin_top(10)
            .margin_right(18)
            .margin_left(4)
            .margin_bottom(2)
            .x_label_area_size(24)
            .y_label_area_size(72)
            .build_cartesian_2d(trend.start_ms..x_to, y_from..y_to)
            .map_err(|e| err(&e))?;
        let y_fmt = |v: &f64| format::value(*v, unit);
        // The time axis gets round UTC ticks of its own (below); plotters' would be arbitrary
        // milliseconds.
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2)
            .x_label_formatter(&|_| String::new())
            .y_labels(5)
            .y_label_formatter(&y_fmt)
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID.mix(0.25))
            .axis_style(GRID.mix(0.6))
            .label_style(("sans-serif", LABEL_SIZE).into_font().color(&TEXT))
            .draw()
            .map_err(|e| err(&e))?;

        for flag in trend.flags.iter().filter(|f| f.kind == FlagKind::Event) {
            // A moment (a cleanup run): a dashed vertical line, however short it was.
            if (trend.start_ms..=x_to).contains(&flag.start_ms) {
                chart
                    .draw_series(DashedLineSeries::new(
                        [(flag.start_ms, y_from), (flag.start_ms, y_to)],
                        3,
                        3,
                        EVENT.mix(0.8).stroke_width(1),
                    ))
                    .map_err(|e| err(&e))?;
            }
        }
        for flag in trend.flags.iter().filter(|f| f.kind == FlagKind::Anomaly) {
            let (s, e) = (flag.start_ms.max(trend.start_ms), flag.end_ms.min(x_to));
            if s < e {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(s, y_from), (e, y_to)],
                        FLAG.mix(0.14).filled(),
                    )))
                    .map_err(|e| err(&e))?;
            }
        }
        for level in trend.levels.iter().filter(|l| l.value <= y_to) {
            chart
                .draw_series(DashedLineSeries::new(
                    [(trend.start_ms, level.value), (x_to, level.value)],
                    6,
                    4,
                    LEVEL.mix(0.7).stroke_width(1),
                ))
                .map_err(|e| err(&e))?;
        }
        for (i, s) in trend.series.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            // Rollups carry each bucket's extremes: a faint band behind the average line.
            if s.points.iter().any(|p| p.max > p.min) {
                let band: Vec<(i64, f64)> = s
                    .points
                    .iter()
                    .map(|p| (p.ts_ms, p.max))
                    .chain(s.points.iter().rev().map(|p| (p.ts_ms, p.min)))
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(band, c.mix(0.15).filled())))
                    .map_err(|e| err(&e))?;
            }
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(|p| (p.ts_ms, p.avg)),
                    c.stroke_width(2),
                ))
                .map_err(|e| err(&e))?;
        }
        if let Some(f) = fit {
            let at = |ms: i64| f.value_at(ms as f64).clamp(y_from, y_to);
            // The line starts where the data it rests on starts, not at the window's edge.
            let from = f.first_ms.clamp(trend.start_ms, x_to);
            chart
                .draw_series(DashedLineSeries::new(
                    [(from, at(from)), (x_to, at(x_to))],
                    8,
                    5,
                    PROJECTION.stroke_width(2),
                ))
                .map_err(|e| err(&e))?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    [(trend.end_ms, y_from), (trend.end_ms, y_to)],
                    TEXT.mix(0.6).stroke_width(1),
                )))
                .map_err(|e| err(&e))?;
        }
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let plot = Plot {
            left: xr.start as f64,
            right: xr.end as f64,
            top: yr.start as f64,
            bottom: yr.end as f64,
            x_from_ms: trend.start_ms,
            x_to_ms: x_to,
            y_from,
            y_to,
        };
        let shift = zone.offset_ms();
        let (ticks, step) =
            time_ticks(trend.start_ms + shift, x_to + shift, (width / 110) as usize);
        let label = ("sans-serif", LABEL_SIZE)
            .into_font()
            .color(&TEXT)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for wall in ticks {
            let x = plot.x_of(wall - shift).round() as i32;
            root.draw(&PathElement::new(
                [(x, yr.start), (x, yr.end)],
                GRID.mix(0.25).stroke_width(1),
            ))
            .map_err(|e| err(&e))?;
            root.draw(&Text::new(
                time_label(wall, step),
                (x, yr.end + 5),
                label.clone(),
            ))
            .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
        plot
    };
    Ok(Drawn { svg, plot })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::range::Resolution;
    use crate::trends::projection::{project, ProjectionRules};
    use crate::trends::{TrendFlag, TrendLevel, TrendSeries, TrendSource};
    use crate::vitals::HistoryPoint;

    const DAY: i64 = 86_400_000;

    fn trend(points: Vec<HistoryPoint>, levels: Vec<f64>) -> Trend {
        let xy: Vec<(i64, f64)> = points.iter().map(|p| (p.ts_ms, p.avg)).collect();
        let end = points.last().map_or(7 * DAY, |p| p.ts_ms);
        Trend {
            name: "disk".into(),
            title: "Disk used".into(),
            range: "7d".into(),
            source: TrendSource::Sqlite,
            resolution: Resolution::Hour,
            start_ms: 0,
            end_ms: end,
            step_secs: Some(3600),
            projection: project(&xy, &levels, end, &ProjectionRules::default()),
            series: vec![TrendSeries {
                key: "disk_used_pct:/".into(),
                label: "used".into(),
                unit: Unit::Percent,
                points,
            }],
            levels: levels
                .into_iter()
                .map(|value| TrendLevel {
                    name: "warn".into(),
                    value,
                })
                .collect(),
            flags: vec![],
            note: None,
            history_since_ms: None,
            source_down: None,
            fitted: false,
            growth: None,
        }
    }

    fn rising(n: i64) -> Vec<HistoryPoint> {
        (0..n)
            .map(|i| {
                let v = 40.0 + i as f64 / 24.0;
                HistoryPoint {
                    ts_ms: i * DAY / 24,
                    avg: v,
                    min: v - 0.5,
                    max: v + 0.5,
                }
            })
            .collect()
    }

    #[test]
    fn draws_lines_band_levels_and_projection() {
        let t = trend(rising(7 * 24 + 1), vec![55.0, 85.0]);
        let d = draw(&t, WIDTH, HEIGHT, Zone::UTC).unwrap();
        assert!(d.svg.starts_with("<svg"), "{}", &d.svg[..80]);
        assert!(d.svg.contains("<polyline"), "the average line");
        assert!(d.svg.contains("<polygon"), "the min-max band");
        // The projection extends the x axis a quarter window past now.
        assert_eq!(d.plot.x_to_ms, 7 * DAY + 7 * DAY / 4);
        // The next level (55 %) is on the chart; 85 % is not, so the data keeps its height.
        assert!(d.plot.y_to >= 55.0 && d.plot.y_to < 85.0, "{:?}", d.plot);
        // Round two-day ticks over a week plus the projection (8.75 days at 800 px).
        assert!(
            d.svg.contains(
                "
01-03
"
            ) && d.svg.contains(
                "
01-09
"
            ),
            "date labels"
        );
    }

    #[test]
    fn the_projection_starts_where_the_data_starts() {
        // Two days of data at the end of a 7-day window: the line starts on day 5, not at the
        // window's left edge (the chart still extends by a quarter of the window: two days of
        // history allow eight ahead).
        let mut t = trend(rising(2 * 24 + 1), vec![55.0]);
        for p in &mut t.series[0].points {
            p.ts_ms += 5 * DAY;
        }
        let xy: Vec<(i64, f64)> = t.series[0]
            .points
            .iter()
            .map(|p| (p.ts_ms, p.avg))
            .collect();
        t.end_ms = 7 * DAY;
        t.projection = project(&xy, &[55.0], t.end_ms, &ProjectionRules::default());
        let d = draw(&t, WIDTH, HEIGHT, Zone::UTC).unwrap();
        assert_eq!(d.plot.x_to_ms, 7 * DAY + 7 * DAY / 4);
        // Plotters draws the dashed line as short segments: the leftmost one starts at day 5.
        let day5 = d.plot.x_of(5 * DAY);
        let dashes: Vec<f64> = d
            .svg
            .split("<polyline")
            .filter(|e| {
                e.contains(&format!(
                    "stroke=\"#{:02X}{:02X}{:02X}\"",
                    PROJECTION.0, PROJECTION.1, PROJECTION.2
                ))
            })
            .filter_map(|e| {
                let pts = e.split("points=\"").nth(1)?;
                pts.split(',').next()?.trim().parse::<f64>().ok()
            })
            .collect();
        assert!(!dashes.is_empty(), "a dashed projection is drawn");
        let leftmost = dashes.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(
            (leftmost - day5).abs() < 2.0,
            "the projection starts at the data (x {day5:.0}), not the window's edge: {leftmost:.0}"
        );
    }

    #[test]
    fn plot_maps_pointer_to_time_and_back() {
        let t = trend(rising(48), vec![]);
        let p = draw(&t, 390, height_for(390), Zone::UTC).unwrap().plot;
        assert_eq!(height_for(390), 200);
        assert!(p.left > 40.0 && p.right < 390.0 && p.top < p.bottom);
        let mid = p.x_of(t.end_ms / 2);
        assert!((p.time_at(mid) - t.end_ms / 2).abs() < 60_000);
        assert_eq!(p.time_at(-50.0), p.x_from_ms, "clamped left");
        assert_eq!(p.time_at(1e6), p.x_to_ms, "clamped right");
        assert!((p.y_of(p.y_from) - p.bottom).abs() < 1e-9);
        assert!((p.y_of(p.y_to) - p.top).abs() < 1e-9);
        // Clock times under a day's step, the date at midnight and for daily steps.
        assert_eq!(time_label(13 * 3_600_000 + 5 * 60_000, 3_600_000), "13:05");
        assert_eq!(time_label(DAY, 3_600_000), "01-02");
        assert_eq!(time_label(40 * DAY, 7 * DAY), "02-10");
        let (ticks, step) = time_ticks(5 * 60_000 + 1, 7 * 3_600_000, 8);
        assert_eq!(step, 3_600_000);
        assert_eq!(ticks.first(), Some(&3_600_000));
        assert_eq!(ticks.len(), 7);
        let (ticks, step) = time_ticks(0, 365 * DAY, 7);
        assert_eq!(step, 91 * DAY);
        assert!(ticks.len() <= 7);
    }

    #[test]
    fn empty_flat_and_flagged_charts_draw() {
        let mut t = trend(vec![], vec![55.0]);
        assert!(
            draw(&t, WIDTH, HEIGHT, Zone::UTC).is_ok(),
            "an empty window still draws axes"
        );
        t = trend(
            (0..10)
                .map(|i| HistoryPoint {
                    ts_ms: i * 1000,
                    avg: 3.0,
                    min: 3.0,
                    max: 3.0,
                })
                .collect(),
            vec![],
        );
        t.series[0].unit = Unit::Count;
        t.flags.push(TrendFlag {
            start_ms: 2000,
            end_ms: 5000,
            series: "db".into(),
            text: "db wrote a lot".into(),
            kind: Default::default(),
        });
        let d = draw(&t, WIDTH, HEIGHT, Zone::UTC).unwrap();
        assert!(d.plot.y_to > 3.0 && d.plot.y_from == 0.0, "{:?}", d.plot);
        assert!(d.svg.contains("<rect"), "the flagged stretch");
    }
}
