//! The memory bar: used by the system | used by loaded models | free, with the numbers.

use leptos::prelude::*;

use crate::models::MemoryBar;
use crate::shared::format::bytes;

fn pct(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64 * 100.0
    }
}

#[component]
pub fn MemoryBarView(bar: MemoryBar) -> impl IntoView {
    let t = bar.total_bytes;
    let label = format!(
        "{}: system {}, models {}, free {} of {}",
        bar.label,
        bytes(bar.system_bytes as f64),
        bytes(bar.models_bytes as f64),
        bytes(bar.free_bytes as f64),
        bytes(t as f64)
    );
    view! {
        <div class="memory-bar" data-testid="memory-bar">
            <div class="memory-bar-title"><strong>{bar.label.clone()}</strong>" "<span class="muted">{bytes(t as f64)}</span></div>
            <div class="bar" role="img" aria-label=label>
                <span class="seg system" style=format!("width:{:.2}%", pct(bar.system_bytes, t))></span>
                <span class="seg models" style=format!("width:{:.2}%", pct(bar.models_bytes, t))></span>
                <span class="seg free" style=format!("width:{:.2}%", pct(bar.free_bytes, t))></span>
            </div>
            <ul class="legend">
                <li><span class="dot system"></span>"System "{bytes(bar.system_bytes as f64)}</li>
                <li><span class="dot models"></span>"Models "{bytes(bar.models_bytes as f64)}</li>
                <li><span class="dot free"></span>"Free "{bytes(bar.free_bytes as f64)}</li>
            </ul>
        </div>
    }
}
