//! The host's GPUs on the overview, one card each (utilisation, VRAM, temperature, power),
//! coloured by [`gpu_level`]; shown only where a GPU exists. Each card opens the models page,
//! which has the processes and the history.

use leptos::prelude::*;

use crate::models::{gpu_level, GpuSummary};
use crate::shared::format::bytes;

/// "1.5 GB / 8.6 GB VRAM (17 %)", or what is known of it.
fn vram_text(g: &GpuSummary) -> String {
    match (g.vram_used_bytes, g.vram_total_bytes, g.vram_pct()) {
        (Some(u), Some(t), Some(pct)) => format!(
            "{} / {} VRAM ({pct:.0} %)",
            bytes(u as f64),
            bytes(t as f64)
        ),
        (Some(u), _, _) => format!("{} VRAM used", bytes(u as f64)),
        _ => "VRAM unknown".into(),
    }
}

/// "51 °C · 25 W / 150 W", skipping what the card does not report.
fn thermals_text(g: &GpuSummary) -> String {
    let mut parts = Vec::new();
    if let Some(t) = g.temperature_c {
        parts.push(format!("{t:.0} °C"));
    }
    match (g.power_w, g.power_limit_w) {
        (Some(p), Some(l)) => parts.push(format!("{p:.0} W / {l:.0} W")),
        (Some(p), None) => parts.push(format!("{p:.0} W")),
        _ => {}
    }
    parts.join(" · ")
}

#[component]
pub fn GpuCards(
    gpus: Vec<GpuSummary>,
    /// Where each card leads; `None` makes plain cards (a fleet host has no models page here).
    link: Option<&'static str>,
) -> impl IntoView {
    (!gpus.is_empty()).then(|| {
        view! {
            <h2>"GPUs"</h2>
            <div class="vitals gpus" data-testid="overview-gpus">
                {gpus.into_iter().map(|g| {
                    let class = format!("card vital gpu {}", gpu_level(&g).as_str());
                    let body = view! {
                        <span class="card-title">{format!("GPU {} · {}", g.index, g.name)}</span>
                        <span class="card-value">{g.util_pct.map_or("busy —".into(), |u| format!("{u:.0} % busy"))}</span>
                        <span class="card-note">{vram_text(&g)}</span>
                        <span class="card-note">{thermals_text(&g)}</span>
                    };
                    match link {
                        Some(href) => view! {
                            <a class=class href=href data-testid="gpu-card" data-gpu=g.index>{body}</a>
                        }.into_any(),
                        None => view! {
                            <div class=class data-testid="gpu-card" data-gpu=g.index>{body}</div>
                        }.into_any(),
                    }
                }).collect_view()}
            </div>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_say_what_is_known() {
        let g = GpuSummary {
            vram_used_bytes: Some(1_490_378_752),
            vram_total_bytes: Some(8_573_157_376),
            temperature_c: Some(51.0),
            power_w: Some(25.0),
            power_limit_w: Some(150.0),
            ..Default::default()
        };
        assert_eq!(vram_text(&g), "1.5 GB / 8.6 GB VRAM (17 %)");
        assert_eq!(thermals_text(&g), "51 °C · 25 W / 150 W");
        let bare = GpuSummary::default();
        assert_eq!(vram_text(&bare), "VRAM unknown");
        assert_eq!(thermals_text(&bare), "");
    }
}
