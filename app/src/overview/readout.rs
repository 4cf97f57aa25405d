//! One host's readout — score gauge, dimension cards with drill-down, vitals, GPUs and top
//! consumers — shared by the overview (this machine) and the fleet's host page (a host's
//! heartbeats), so there is one implementation of how a host is shown.

use leptos::prelude::*;

use crate::overview::dimension_card::DimensionCard;
use crate::overview::drilldown::Drilldown;
use crate::overview::gpu_cards::GpuCards;
use crate::overview::score::DimensionId;
use crate::overview::score_gauge::ScoreGauge;
use crate::overview::top_processes::TopProcesses;
use crate::overview::vital_card::VitalCard;
use crate::vitals::metric_def::MetricId;
use crate::vitals::{Metric, Overview};

/// Metrics that are context for others rather than cards of their own.
const HIDDEN: [MetricId; 2] = [MetricId::MemTotalBytes, MetricId::SwapTotalBytes];

/// The vitals that get a card: not the hidden ones, and not per-GPU readings (a fleet host's
/// heartbeat carries them as metrics; they are shown once, on the GPU cards).
fn visible(metrics: &[Metric]) -> Vec<Metric> {
    metrics
        .iter()
        .filter(|m| !HIDDEN.iter().any(|h| h.name() == m.name))
        .filter(|m| {
            crate::vitals::metric_def::by_name(&m.name)
                .is_none_or(|d| d.label != crate::vitals::metric_def::LabelKind::Gpu)
        })
        .cloned()
        .collect()
}

/// The score row, its drill-down, the vitals cards, GPU cards and the top consumers of the
/// host `overview` describes; `no_vitals` says why there are none yet.
#[component]
pub fn HostReadout(
    overview: RwSignal<Overview>,
    now: ReadSignal<i64>,
    no_vitals: &'static str,
    /// Where a GPU card leads (the local models page); `None` on a fleet host's page.
    #[prop(optional)]
    gpu_link: Option<&'static str>,
) -> impl IntoView {
    let selected = RwSignal::new(None::<DimensionId>);
    let score = Signal::derive(move || overview.with(|o| o.score.clone()));
    view! {
        {view! {<section class="score-row">
            <ScoreGauge score=score/>
            <div class="dimensions">
                <For each=move || score.with(|s| s.dimensions.iter().map(|d| d.id).collect::<Vec<_>>())
                    key=|id| *id
                    let:id>
                    <DimensionCard
                        dimension=Signal::derive(move || score.with(|s| s.dimensions.iter().find(|d| d.id == id).cloned().expect("dimension ids are stable")))
                        selected=selected now=now/>
                </For>
            </div>
        </section>}.into_any()}
        <Drilldown score=score selected=selected/>

        <h2>"Host vitals"</h2>
        {move || overview.with(|o| match &o.vitals {
            Some(v) => view! {
                <div class="vitals">
                    {visible(&v.metrics).into_iter().map(|m| view! { <VitalCard metric=m/> }).collect_view()}
                </div>
            }.into_any(),
            None => view! { <p class="muted" data-testid="no-vitals">{no_vitals}</p> }.into_any(),
        })}

        {move || overview.with(|o| view! { <GpuCards gpus=o.gpus.clone() link=gpu_link/> })}
    }
}

/// The top memory and CPU consumers, when the readout has vitals.
#[component]
pub fn TopConsumers(overview: RwSignal<Overview>) -> impl IntoView {
    move || {
        overview.with(|o| {
            o.vitals.as_ref().map(|v| {
                view! {
                    <TopProcesses title="Top memory" processes=v.top_rss.clone()/>
                    <TopProcesses title="Top CPU" processes=v.top_cpu.clone()/>
                }
            })
        })
    }
}
