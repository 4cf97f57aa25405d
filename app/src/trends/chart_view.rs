//! One drawn trend with its exploration: hover (or tap) for a crosshair with the exact value and
//! time, drag (mouse or finger) across the chart to zoom into that span. The picture is drawn by
//! [`crate::trends::chart::draw`] in the browser; the crosshair and selection are a light overlay, so
//! hovering never redraws the chart.

use leptos::prelude::*;

use crate::shared::client::{capture_pointer, now_precise_ms, pointer_x};
use crate::shared::format;
use crate::shared::zone::{use_zone, Zone};
use crate::trends::chart::{self, Plot, WIDTH};
use crate::trends::projection::Projection;
use crate::trends::{nearest, Trend};

/// A drag narrower than this (viewBox units) is a tap: it shows the value instead of zooming.
const MIN_DRAG: f64 = 6.0;

/// The projection as a sentence: when each level is reached, or why there is no trend.
pub fn projection_text(t: &Trend, zone: Zone) -> String {
    if t.series.iter().all(|s| s.points.is_empty()) {
        return String::new();
    }
    let unit = t
        .series
        .first()
        .map_or(crate::vitals::Unit::Count, |s| s.unit);
    match &t.projection {
        Projection::Rising {
            fit,
            crossings,
            horizon_ms,
        } => {
            let slope = format!(
                "rising {} per day (R² {:.2}, over {} of history)",
                format::value(fit.slope_per_day, unit),
                fit.r2,
                crate::trends::projection::span_words(fit.span_ms())
            );
            let reached: Vec<String> = crossings
                .iter()
                .map(|c| {
                    let name = t
                        .levels
                        .iter()
                        .find(|l| l.value == c.level)
                        .map_or(String::new(), |l| format!(" ({})", l.name));
                    if c.in_days <= 0.0 {
                        format!("already above {}{name}", format::value(c.level, unit))
                    } else {
                        format!(
                            "reaches {}{name} in {:.1} days ({})",
                            format::value(c.level, unit),
                            c.in_days,
                            zone.date(c.at_ms)
                        )
                    }
                })
                .collect();
            // Levels the line would reach later are not stated: the history does not reach
            // that far.
            let beyond = (crossings.len() < t.levels.len()).then(|| {
                format!(
                    "projected no further than {} ahead",
                    crate::trends::projection::span_words(*horizon_ms)
                )
            });
            let parts: Vec<String> = std::iter::once(slope)
                .chain(reached)
                .chain(beyond)
                .collect();
            format!("Trend: {}", parts.join("; "))
        }
        Projection::NoTrend { reason, .. } if reason == "not projected" => String::new(),
        Projection::NoTrend { reason, .. } => format!("No trend: {reason}"),
    }
}

/// What the crosshair shows: a time and each line's value there.
#[derive(Clone, Debug, PartialEq)]
struct Readout {
    ts_ms: i64,
    /// (line index, "label value", value).
    values: Vec<(usize, String, f64)>,
}

/// The hover readout at time `at`: the nearest point of every line.
fn readout(t: &Trend, at: i64) -> Option<Readout> {
    let first = t.series.iter().find_map(|s| nearest(&s.points, at))?;
    let values = t
        .series
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            nearest(&s.points, first.ts_ms).map(|p| {
                (
                    i,
                    format!("{} {}", s.label, format::value(p.avg, s.unit)),
                    p.avg,
                )
            })
        })
        .collect();
    Some(Readout {
        ts_ms: first.ts_ms,
        values,
    })
}

/// The chart as words, for screen readers: the window, each line's latest value and range,
/// and the projection.
pub fn chart_summary(t: &Trend, zone: Zone) -> String {
    let mut parts = vec![format!(
        "{} from {} to {}",
        t.title,
        zone.bare(t.start_ms),
        zone.datetime(t.end_ms)
    )];
    for s in &t.series {
        let Some(last) = s.points.last() else {
            continue;
        };
        let (lo, hi) = s
            .points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.min), hi.max(p.max))
            });
        parts.push(format!(
            "{} latest {}, lowest {}, highest {}",
            s.label,
            format::value(last.avg, s.unit),
            format::value(lo, s.unit),
            format::value(hi, s.unit)
        ));
    }
    let projection = projection_text(t, zone);
    if !projection.is_empty() {
        parts.push(projection);
    }
    parts.push("Keys: + and − zoom, arrows read values, shift and arrows move the window".into());
    parts.join(". ")
}

/// The window a key asks for: `+` zooms into the middle half, `−` out to twice the span,
/// shift+arrows move by a quarter. `None` for other keys.
pub fn key_window(key: &str, shift: bool, start: i64, end: i64) -> Option<(i64, i64)> {
    let span = (end - start).max(1);
    match (key, shift) {
        ("+" | "=", _) => Some((start + span / 4, end - span / 4)),
        ("-" | "_", _) => Some((start - span / 2, end + span / 2)),
        ("ArrowLeft", true) => Some((start - span / 4, end - span / 4)),
        ("ArrowRight", true) => Some((start + span / 4, end + span / 4)),
        _ => None,
    }
}

#[component]
pub fn ChartView(
    /// The trend to draw (`None` while the first answer is on its way).
    #[prop(into)]
    trend: Signal<Option<Trend>>,
    /// Called with the dragged span (ms) to zoom into.
    on_zoom: Callback<(i64, i64)>,
    /// A name for test hooks, e.g. `disk`.
    #[prop(into)]
    name: String,
) -> impl IntoView {
    let zone = use_zone();
    let svg_box = NodeRef::<leptos::html::Div>::new();
    let plot = RwSignal::new(None::<Plot>);
    let draw_ms = RwSignal::new(None::<f64>);
    let draws = RwSignal::new(0u32);
    let draw_error = RwSignal::new(None::<String>);
    let hover = RwSignal::new(None::<f64>);
    let drag = RwSignal::new(None::<(f64, f64)>);
    // The drawing size: the chart's real pixel width, so labels are legible on a phone.
    let width = RwSignal::new(WIDTH);
    let resized = RwSignal::new(0u32);
    #[cfg(feature = "hydrate")]
    {
        let listener = window_event_listener(leptos::ev::resize, move |_| {
            resized.update(|n| *n = n.wrapping_add(1))
        });
        on_cleanup(move || listener.remove());
    }

    // Redraw when the data changes (load, zoom, live tail) or the window is resized, timed for
    // the benchmark.
    Effect::new(move |_| {
        resized.track();
        let Some(t) = trend.get() else { return };
        let started = now_precise_ms();
        let w = svg_box
            .get_untracked()
            .map(|el| el.client_width())
            .filter(|w| *w > 0)
            .map_or(WIDTH, |w| (w as u32).clamp(280, 2000));
        width.set(w);
        match chart::draw(&t, w, chart::height_for(w), zone) {
            Ok(d) => {
                if let Some(el) = svg_box.get_untracked() {
                    el.set_inner_html(&d.svg);
                }
                plot.set(Some(d.plot));
                draw_error.set(None);
            }
            Err(e) => draw_error.set(Some(e.to_string())),
        }
        draw_ms.set(Some(now_precise_ms() - started));
        draws.update(|n| *n += 1);
    });

    let down = move |ev: leptos::ev::PointerEvent| {
        if let Some(x) = pointer_x(&ev, width.get_untracked() as f64) {
            capture_pointer(&ev);
            drag.set(Some((x, x)));
            hover.set(Some(x));
        }
    };
    let moved = move |ev: leptos::ev::PointerEvent| {
        let Some(x) = pointer_x(&ev, width.get_untracked() as f64) else {
            return;
        };
        hover.set(Some(x));
        if drag.get_untracked().is_some() {
            drag.update(|d| {
                if let Some((_, now)) = d {
                    *now = x;
                }
            });
        }
    };
    let up = move |_ev: leptos::ev::PointerEvent| {
        let Some((a, b)) = drag.get_untracked() else {
            return;
        };
        drag.set(None);
        let (Some(p), Some(t)) = (plot.get_untracked(), trend.get_untracked()) else {
            return;
        };
        if (b - a).abs() >= MIN_DRAG {
            // The future part of a projection holds no data: zoom within the measured window.
            let from = p.time_at(a.min(b)).min(t.end_ms);
            let to = p.time_at(a.max(b)).min(t.end_ms);
            if to > from {
                on_zoom.run((from, to));
            }
        }
    };
    let leave = move |ev: leptos::ev::PointerEvent| {
        // A mouse leaving clears the crosshair; a finger's last tap stays readable.
        if ev.pointer_type() == "mouse" && drag.get_untracked().is_none() {
            hover.set(None);
        }
    };
    let cancel = move |_ev: leptos::ev::PointerEvent| drag.set(None);

    // The keyboard's way to read and zoom: arrows move the crosshair, +/− and shift+arrows
    // change the window (the server keeps it within the data and now).
    let key = move |ev: leptos::ev::KeyboardEvent| {
        let Some(t) = trend.get_untracked() else {
            return;
        };
        if let Some((from, to)) = key_window(&ev.key(), ev.shift_key(), t.start_ms, t.end_ms) {
            ev.prevent_default();
            on_zoom.run((from.max(0), to));
            return;
        }
        let step = width.get_untracked() as f64 / 50.0;
        let at = hover
            .get_untracked()
            .or_else(|| plot.get_untracked().map(|p| p.right));
        let next = match ev.key().as_str() {
            "ArrowLeft" => at.map(|x| x - step),
            "ArrowRight" => at.map(|x| x + step),
            "Escape" => None,
            _ => return,
        };
        ev.prevent_default();
        hover.set(next);
    };

    let point = Memo::new(move |_| {
        let (x, p) = (hover.get()?, plot.get()?);
        trend.with(|t| readout(t.as_ref()?, p.time_at(x)))
    });

    view! {
        <div class="chart" data-testid=format!("chart-{name}")
            data-draw-ms=move || draw_ms.get().map(|ms| format!("{ms:.2}"))
            data-draws=move || draws.get()
            data-zoom-from=move || trend.with(|t| t.as_ref().map(|t| t.start_ms.to_string()))
            data-zoom-to=move || trend.with(|t| t.as_ref().map(|t| t.end_ms.to_string()))>
            <div class="chart-svg" node_ref=svg_box
                style=move || format!("height:{}px", chart::height_for(width.get()))></div>
            <svg class="chart-overlay" viewBox=move || { let w = width.get(); format!("0 0 {w} {}", chart::height_for(w)) }
                preserveAspectRatio="none" style=move || format!("height:{}px", chart::height_for(width.get()))
                role="img" tabindex="0"
                aria-label=move || trend.with(|t| t.as_ref().map(|t| chart_summary(t, zone)).unwrap_or_default())
                on:keydown=key
                on:pointerdown=down on:pointermove=moved on:pointerup=up
                on:pointerleave=leave on:pointercancel=cancel>
                {move || drag.get().filter(|(a, b)| (b - a).abs() >= MIN_DRAG).zip(plot.get()).map(|((a, b), p)| view! {
                    <rect class="chart-selection" x=a.min(b) y=p.top width=(b - a).abs() height=p.bottom - p.top/>
                })}
                {move || point.get().zip(plot.get()).map(|(Readout { ts_ms, values }, p)| {
                    let x = p.x_of(ts_ms);
                    view! {
                        <line class="chart-crosshair" x1=x x2=x y1=p.top y2=p.bottom/>
                        {values.into_iter().map(|(i, _, v)| view! {
                            <circle cx=x cy=p.y_of(v) r="4" fill=chart::colour(i)/>
                        }).collect_view()}
                    }
                })}
            </svg>
            <p class="chart-readout" data-testid=format!("hover-{name}")>
                {move || match point.get() {
                    Some(Readout { ts_ms, values }) => format!(
                        "{} · {}",
                        zone.datetime(ts_ms),
                        values.into_iter().map(|(_, text, _)| text).collect::<Vec<_>>().join(" · ")
                    ),
                    None => "Hover or tap for values; drag across to zoom.".to_string(),
                }}
            </p>
            {move || draw_error.get().map(|e| view! { <p class="error">{e}</p> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::key_window;

    #[test]
    fn keys_zoom_and_move_the_window() {
        assert_eq!(key_window("+", false, 0, 400), Some((100, 300)));
        assert_eq!(key_window("-", false, 100, 300), Some((0, 400)));
        assert_eq!(key_window("ArrowLeft", true, 100, 300), Some((50, 250)));
        assert_eq!(key_window("ArrowRight", true, 100, 300), Some((150, 350)));
        assert_eq!(
            key_window("ArrowLeft", false, 100, 300),
            None,
            "plain arrows read values"
        );
        assert_eq!(key_window("x", false, 0, 1), None);
    }
}
