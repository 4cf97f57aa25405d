//! The digest's chart: the week's health score and disk use, hour by hour, as a PNG. Plotters
//! draws the lines into an RGB buffer; the words (title, legend, axis labels) are drawn with
//! ab_glyph from a TrueType file, so the chart needs no system font service.

use ab_glyph::{Font, FontArc, PxScale, ScaleFont};
use plotters::prelude::*;

pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 400;
const LEFT: u32 = 56;
const RIGHT: u32 = 20;
const TOP: u32 = 64;
const BOTTOM: u32 = 40;
/// A gap longer than this between two points breaks the line (no data is not drawn as a slope).
const GAP_MS: i64 = 2 * 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// One line of the chart (values 0–100).
pub struct Line<'a> {
    pub name: &'a str,
    pub color: (u8, u8, u8),
    pub points: &'a [(i64, f64)],
}

/// Reads a TrueType font for the chart's words.
pub fn load_font(path: &std::path::Path) -> Result<FontArc, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("font {}: {e}", path.display()))?;
    FontArc::try_from_vec(bytes).map_err(|e| format!("font {}: {e}", path.display()))
}

/// Draws the lines over `start_ms..end_ms` on a 0–100 scale and encodes the PNG. Without a
/// font the lines and grid are drawn and the words left out.
pub fn draw(
    title: &str,
    lines: &[Line<'_>],
    start_ms: i64,
    end_ms: i64,
    font: Option<&FontArc>,
) -> Result<Vec<u8>, ChartError> {
    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    let end_ms = end_ms.max(start_ms + 1);
    // Pixel positions of the labels, taken from plotters' mapping while the chart exists.
    let mut y_ticks = Vec::new();
    let mut x_ticks = Vec::new();
    {
        let draw_err = |e: &dyn std::fmt::Display| ChartError::Draw(e.to_string());
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin_top(TOP)
            .margin_bottom(BOTTOM)
            .margin_left(LEFT)
            .margin_right(RIGHT)
            .build_cartesian_2d(start_ms..end_ms, 0f64..100f64)
            .map_err(|e| draw_err(&e))?;
        let grid = RGBColor(0xd0, 0xd7, 0xde);
        for y in [0.0, 25.0, 50.0, 75.0, 100.0] {
            chart
                .draw_series(LineSeries::new([(start_ms, y), (end_ms, y)], grid))
                .map_err(|e| draw_err(&e))?;
            y_ticks.push((chart.backend_coord(&(start_ms, y)), format!("{y:.0}")));
        }
        // A tick at each midnight (UTC) inside the week, named by its day.
        let day = 86_400_000;
        let mut t = (start_ms / day + 1) * day;
        while t < end_ms {
            chart
                .draw_series(LineSeries::new([(t, 0.0), (t, 100.0)], grid))
                .map_err(|e| draw_err(&e))?;
            x_ticks.push((chart.backend_coord(&(t, 0.0)), day_label(t)));
            t += day;
        }
        for line in lines {
            let color = RGBColor(line.color.0, line.color.1, line.color.2);
            for segment in segments(line.points) {
                // A lone hour (a fresh install, or one between gaps) is a dot, not nothing.
                if let [(t, v)] = segment {
                    chart
                        .draw_series([Circle::new((*t, v.clamp(0.0, 100.0)), 4, color.filled())])
                        .map_err(|e| draw_err(&e))?;
                    continue;
                }
                chart
                    .draw_series(LineSeries::new(
                        segment.iter().map(|&(t, v)| (t, v.clamp(0.0, 100.0))),
                        color.stroke_width(3),
                    ))
                    .map_err(|e| draw_err(&e))?;
            }
        }
        root.present().map_err(|e| draw_err(&e))?;
    }
    if let Some(font) = font {
        let text = (0x1f, 0x23, 0x28);
        put_text(&mut buf, font, 20.0, 16.0, 26.0, title, text);
        let mut x = 16.0;
        for line in lines {
            fill_rect(&mut buf, x as i32, 40, 18, 6, line.color);
            x = put_text(&mut buf, font, 14.0, x + 24.0, 48.0, line.name, text) + 20.0;
        }
        for ((px, py), label) in &y_ticks {
            let w = text_width(font, 12.0, label);
            put_text(
                &mut buf,
                font,
                12.0,
                *px as f32 - w - 6.0,
                *py as f32 + 4.0,
                label,
                text,
            );
        }
        for ((px, py), label) in &x_ticks {
            put_text(
                &mut buf,
                font,
                12.0,
                *px as f32 + 4.0,
                *py as f32 + 18.0,
                label,
                text,
            );
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&buf)?;
    }
    Ok(out)
}

/// The runs of points with no gap longer than [`GAP_MS`].
fn segments(points: &[(i64, f64)]) -> Vec<&[(i64, f64)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        if i == points.len() || points[i].0 - points[i - 1].0 > GAP_MS {
            out.push(&points[start..i]);
            start = i;
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// "Mon 25": the weekday and day of the month of a UTC midnight.
fn day_label(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let d = ms.div_euclid(86_400_000);
    let date = app::shared::format::utc_datetime(ms);
    format!("{} {}", DAYS[d.rem_euclid(7) as usize], &date[8..10])
}

fn text_width(font: &FontArc, size: f32, text: &str) -> f32 {
    let f = font.as_scaled(PxScale::from(size));
    text.chars().map(|c| f.h_advance(font.glyph_id(c))).sum()
}

/// Draws `text` with its baseline at `y`, blending into the RGB buffer; returns where it ends.
fn put_text(
    buf: &mut [u8],
    font: &FontArc,
    size: f32,
    x: f32,
    y: f32,
    text: &str,
    color: (u8, u8, u8),
) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut caret = x;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        previous = Some(id);
        let glyph = id.with_scale_and_position(size, ab_glyph::point(caret, y));
        caret += scaled.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i32 + gx as i32;
            let py = bounds.min.y as i32 + gy as i32;
            blend(buf, px, py, color, coverage);
        });
    }
    caret
}

fn fill_rect(buf: &mut [u8], x: i32, y: i32, w: i32, h: i32, color: (u8, u8, u8)) {
    for py in y..y + h {
        for px in x..x + w {
            blend(buf, px, py, color, 1.0);
        }
    }
}

fn blend(buf: &mut [u8], x: i32, y: i32, color: (u8, u8, u8), alpha: f32) {
    if x < 0 || y < 0 || x >= WIDTH as i32 || y >= HEIGHT as i32 {
        return;
    }
    let i = ((y as u32 * WIDTH + x as u32) * 3) as usize;
    let a = alpha.clamp(0.0, 1.0);
    for (k, c) in [color.0, color.1, color.2].into_iter().enumerate() {
        buf[i + k] = (f32::from(buf[i + k]) * (1.0 - a) + f32::from(c) * a).round() as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_break_the_line() {
        let h = 3_600_000;
        let p = [(0, 1.0), (h, 2.0), (5 * h, 3.0), (6 * h, 4.0)];
        let s = segments(&p);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].len(), 2);
        assert!(segments(&[]).is_empty());
    }

    #[test]
    fn days_are_named() {
        // 2026-06-01 was a Monday.
        assert_eq!(day_label(1_780_272_000_000), "Mon 01");
    }

    #[test]
    fn words_are_drawn_with_the_debian_font() {
        let path = crate::config::DigestConfig::default().font_file;
        let font = load_font(&path)
            .unwrap_or_else(|e| panic!("{e} (`make test` installs fonts-dejavu-core)"));
        let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
        let end = put_text(&mut buf, &font, 20.0, 16.0, 26.0, "Week", (0, 0, 0));
        assert!(end > 50.0 && end < 120.0, "advance {end}");
        let inked = buf.chunks(3).filter(|p| p[0] < 128).count();
        assert!(inked > 50, "{inked} dark pixels");
        assert!(load_font(std::path::Path::new("/nonexistent.ttf")).is_err());
    }

    #[test]
    fn a_png_of_the_size_is_drawn_without_a_font() {
        let h = 3_600_000;
        let pts: Vec<(i64, f64)> = (0..168).map(|i| (i * h, 50.0 + (i % 24) as f64)).collect();
        let png = draw(
            "t",
            &[Line {
                name: "Score",
                color: (0x1f, 0x6f, 0xeb),
                points: &pts,
            }],
            0,
            168 * h,
            None,
        )
        .unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (WIDTH, HEIGHT));
    }
}
