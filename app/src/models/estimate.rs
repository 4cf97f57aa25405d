//! The pre-load check (pure): what a model will take once loaded — weights + KV cache at the
//! context asked + the backend's overhead — against the memory it would load into, and a verdict
//! with the numbers.

use serde::{Deserialize, Serialize};

use crate::models::{Architecture, AtRisk, BackendKind, EstimateError};
use crate::shared::format::bytes;

const GIB: u64 = 1 << 30;

/// What the estimate needs to know about the load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimateInput {
    pub kind: BackendKind,
    /// The model file's size: the weights are mapped whole.
    pub weights_bytes: u64,
    pub architecture: Option<Architecture>,
    /// Context (tokens) the load asks for.
    pub context: u64,
    /// Bytes per KV-cache element: 2 for the default f16 cache, 1 for q8_0.
    pub kv_bytes_per_element: f64,
}

/// The estimate, part by part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub weights_bytes: u64,
    /// `None` when the architecture is unknown (then the total leaves it out and says so).
    pub kv_cache_bytes: Option<u64>,
    pub overhead_bytes: u64,
    pub total_bytes: u64,
    /// The total corrected by this backend's past error, when there is one.
    pub corrected_bytes: Option<u64>,
    pub notes: Vec<String>,
}

impl Estimate {
    /// The figure the verdict uses: corrected when past loads taught one.
    pub fn need_bytes(&self) -> u64 {
        self.corrected_bytes.unwrap_or(self.total_bytes)
    }
}

/// 2 (keys and values) × layers × context × KV heads × head size × bytes per element.
pub fn kv_cache_bytes(a: &Architecture, context: u64, bytes_per_element: f64) -> u64 {
    let elements = 2u128
        * u128::from(a.layers)
        * u128::from(context)
        * u128::from(a.kv_heads)
        * u128::from(a.head_size());
    (elements as f64 * bytes_per_element).min(u64::MAX as f64) as u64
}

/// What a backend needs beyond weights and KV cache: its runtime, plus compute buffers that
/// grow with the vocabulary (the output of a 512-token micro-batch) and the context (attention
/// scratch). Measured on a real llama-server (SmolLM2-135M at contexts 512, 2,048 and 8,192:
/// 35–36 MB beyond weights and KV cache; BENCHMARKS.md, "Models issue"); Ollama's runner and
/// vLLM's Python process start larger. The learned error corrects the rest per backend.
pub fn overhead_bytes(kind: BackendKind, a: Option<&Architecture>, context: u64) -> u64 {
    let base: u64 = match kind {
        BackendKind::Llamacpp => 10 << 20,
        BackendKind::Ollama => 300 << 20,
        BackendKind::Vllm | BackendKind::Openai => 512 << 20,
    };
    let Some(a) = a else { return base };
    let output = a.vocab.unwrap_or(32_000).saturating_mul(512);
    let scratch = context.saturating_mul(a.embedding) / 2;
    base + output + scratch
}

/// The whole estimate; `error` is this backend's learned error, applied when it rests on at
/// least two loads.
pub fn estimate(input: &EstimateInput, error: Option<&EstimateError>) -> Estimate {
    let mut notes = Vec::new();
    let kv = match &input.architecture {
        Some(a) if a.layers > 0 && a.kv_heads > 0 && a.head_size() > 0 => {
            Some(kv_cache_bytes(a, input.context, input.kv_bytes_per_element))
        }
        _ => {
            notes.push(
                "the model's architecture is unknown, so the KV cache is left out: the real need is higher"
                    .into(),
            );
            None
        }
    };
    if let Some(max) = input.architecture.as_ref().and_then(|a| a.context_max) {
        if input.context > max {
            notes.push(format!(
                "context {} is more than the model was trained for ({max})",
                input.context
            ));
        }
    }
    let overhead = overhead_bytes(input.kind, input.architecture.as_ref(), input.context);
    let total = input
        .weights_bytes
        .saturating_add(kv.unwrap_or(0))
        .saturating_add(overhead);
    let corrected = error.filter(|e| e.samples >= 2).map(|e| {
        notes.push(format!(
            "corrected by {:+.0} %, the mean error of {} past loads on this backend",
            e.mean * 100.0,
            e.samples
        ));
        (total as f64 * (1.0 + e.mean.clamp(-0.9, 10.0))) as u64
    });
    Estimate {
        weights_bytes: input.weights_bytes,
        kv_cache_bytes: kv,
        overhead_bytes: overhead,
        total_bytes: total,
        corrected_bytes: corrected,
        notes,
    }
}

/// Fits, tight or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    Fits,
    Tight,
    DoesNotFit,
}

impl Fit {
    pub fn as_str(self) -> &'static str {
        match self {
            Fit::Fits => "fits",
            Fit::Tight => "tight",
            Fit::DoesNotFit => "does not fit",
        }
    }
}

/// The memory a load would go into.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// "RAM" or "GPU 0 VRAM".
    pub label: String,
    pub available_bytes: u64,
    pub total_bytes: u64,
    /// Free swap (RAM only): what a load that does not fit would push out into.
    pub swap_free_bytes: Option<u64>,
}

/// The check's answer with its numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub fit: Fit,
    pub estimate: Estimate,
    pub target: Target,
    /// Available minus needed (negative when it does not fit).
    pub leaves_bytes: i64,
    pub text: String,
    pub at_risk: Vec<AtRisk>,
}

/// The margin below which a load is tight: 10 % of the memory, at least 1 GiB of RAM (the
/// page cache and the system's own growth need it), 5 % of VRAM.
pub fn margin(target: &Target) -> u64 {
    if target.swap_free_bytes.is_some() {
        (target.total_bytes / 10).max(GIB)
    } else {
        target.total_bytes / 20
    }
}

/// Rough sizes read best in GB ("leaves ~0.9 GB"); small ones keep their unit.
fn approx(b: u64) -> String {
    if b >= 100_000_000 {
        format!("{:.1} GB", b as f64 / 1e9)
    } else {
        bytes(b as f64)
    }
}

/// Judges an estimate against a target.
pub fn judge(estimate: Estimate, target: Target, at_risk: Vec<AtRisk>) -> Verdict {
    let need = estimate.need_bytes();
    let leaves = target.available_bytes as i64 - need as i64;
    let margin = margin(&target);
    let fit = if leaves < 0 {
        Fit::DoesNotFit
    } else if (leaves as u64) < margin {
        Fit::Tight
    } else {
        Fit::Fits
    };
    let needs = format!(
        "needs ~{} of {} {} available",
        bytes(need as f64),
        bytes(target.available_bytes as f64),
        target.label
    );
    let text = match fit {
        Fit::Fits => format!("Fits: {needs}, leaves ~{}.", approx(leaves as u64)),
        Fit::Tight => match target.swap_free_bytes {
            Some(_) => format!(
                "Tight: {needs}, leaves ~{}; swap pressure likely.",
                approx(leaves as u64)
            ),
            None => format!(
                "Tight: {needs}, leaves ~{}; a longer context may not fit.",
                approx(leaves as u64)
            ),
        },
        Fit::DoesNotFit => {
            let short = (-leaves) as u64;
            match target.swap_free_bytes {
                Some(swap) if swap >= short => format!(
                    "Does not fit: {needs}; ~{} would go to swap — a swap storm is likely.",
                    approx(short)
                ),
                Some(_) => format!(
                    "Does not fit: {needs}; ~{} short, more than free swap — the OOM killer is likely.",
                    approx(short)
                ),
                None => format!(
                    "Does not fit: {needs}; ~{} short — layers would spill to RAM and run slowly.",
                    approx(short)
                ),
            }
        }
    };
    Verdict {
        fit,
        estimate,
        target,
        leaves_bytes: leaves,
        text,
        at_risk,
    }
}

/// Learns from one more load: the new mean of measured / estimated − 1.
pub fn learn(previous: Option<&EstimateError>, estimated: u64, measured: u64) -> EstimateError {
    let sample = if estimated == 0 {
        0.0
    } else {
        measured as f64 / estimated as f64 - 1.0
    };
    match previous {
        Some(p) => {
            let n = f64::from(p.samples);
            EstimateError {
                mean: (p.mean * n + sample) / (n + 1.0),
                samples: p.samples + 1,
            }
        }
        None => EstimateError {
            mean: sample,
            samples: 1,
        },
    }
}

/// Largest first, and those without a memory limit before limited ones of the same size class:
/// the kernel's OOM killer and swap hit them first. At most `n`.
pub fn most_at_risk(mut items: Vec<AtRisk>, n: usize) -> Vec<AtRisk> {
    items.sort_by(|a, b| {
        (a.limit_bytes.is_some(), std::cmp::Reverse(a.bytes))
            .cmp(&(b.limit_bytes.is_some(), std::cmp::Reverse(b.bytes)))
    });
    items.truncate(n);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smollm2() -> Architecture {
        // SmolLM2-135M's GGUF metadata.
        Architecture {
            name: "llama".into(),
            layers: 30,
            kv_heads: 3,
            heads: 9,
            embedding: 576,
            head_dim: None,
            context_max: Some(8192),
            vocab: Some(49_152),
        }
    }

    fn ram(available: u64, total: u64) -> Target {
        Target {
            label: "RAM".into(),
            available_bytes: available,
            total_bytes: total,
            swap_free_bytes: Some(2 * GIB),
        }
    }

    #[test]
    fn kv_cache_follows_the_formula() {
        // 2 × 30 layers × 8192 × 3 heads × 64 × 2 bytes = 188,743,680.
        assert_eq!(kv_cache_bytes(&smollm2(), 8192, 2.0), 188_743_680);
        assert_eq!(kv_cache_bytes(&smollm2(), 8192, 1.0), 94_371_840);
        // A 70B-class model at 128k: no overflow.
        let big = Architecture {
            layers: 80,
            kv_heads: 8,
            heads: 64,
            embedding: 8192,
            ..Default::default()
        };
        assert_eq!(kv_cache_bytes(&big, 131_072, 2.0), 42_949_672_960);
    }

    #[test]
    fn unknown_architecture_leaves_kv_out_and_says_so() {
        let e = estimate(
            &EstimateInput {
                kind: BackendKind::Ollama,
                weights_bytes: 4 * GIB,
                architecture: None,
                context: 4096,
                kv_bytes_per_element: 2.0,
            },
            None,
        );
        assert_eq!(e.kv_cache_bytes, None);
        assert_eq!(e.total_bytes, 4 * GIB + (300 << 20));
        assert!(e.notes[0].contains("unknown"));
    }

    #[test]
    fn learned_error_corrects_after_two_loads() {
        let input = EstimateInput {
            kind: BackendKind::Llamacpp,
            weights_bytes: 100 << 20,
            architecture: Some(smollm2()),
            context: 9000,
            kv_bytes_per_element: 2.0,
        };
        let one = learn(None, 100, 110);
        assert!((one.mean - 0.1).abs() < 1e-9);
        assert_eq!(estimate(&input, Some(&one)).corrected_bytes, None);
        let two = learn(Some(&one), 100, 130);
        assert!((two.mean - 0.2).abs() < 1e-9);
        let e = estimate(&input, Some(&two));
        assert_eq!(e.corrected_bytes, Some((e.total_bytes as f64 * 1.2) as u64));
        assert!(e.notes.iter().any(|n| n.contains("trained for (8192)")));
        assert!(e.notes.iter().any(|n| n.contains("+20 %")));
    }

    fn est(total: u64) -> Estimate {
        Estimate {
            weights_bytes: total,
            kv_cache_bytes: Some(0),
            overhead_bytes: 0,
            total_bytes: total,
            corrected_bytes: None,
            notes: vec![],
        }
    }

    #[test]
    fn verdict_bands_and_their_words() {
        let total = 16 * GIB;
        let fits = judge(est(4 * GIB), ram(8 * GIB, total), vec![]);
        assert_eq!(fits.fit, Fit::Fits);
        assert!(fits.text.starts_with("Fits"), "{}", fits.text);
        // 10 % of 16 GiB is the margin: leaving 0.9 GB is tight.
        let tight = judge(est(7 * GIB + GIB / 6), ram(8 * GIB, total), vec![]);
        assert_eq!(tight.fit, Fit::Tight);
        assert!(
            tight.text.contains("leaves ~0.9 GB; swap pressure likely"),
            "{}",
            tight.text
        );
        let swap = judge(est(9 * GIB), ram(8 * GIB, total), vec![]);
        assert_eq!(swap.fit, Fit::DoesNotFit);
        assert!(swap.text.contains("swap storm"), "{}", swap.text);
        let oom = judge(est(12 * GIB), ram(8 * GIB, total), vec![]);
        assert!(oom.text.contains("OOM killer"), "{}", oom.text);
        assert_eq!(oom.leaves_bytes, -4 * GIB as i64);
        let vram = Target {
            label: "GPU 0 VRAM".into(),
            available_bytes: 10 * GIB,
            total_bytes: 24 * GIB,
            swap_free_bytes: None,
        };
        assert_eq!(judge(est(9 * GIB), vram.clone(), vec![]).fit, Fit::Tight);
        assert!(judge(est(11 * GIB), vram, vec![])
            .text
            .contains("spill to RAM"));
    }

    #[test]
    fn at_risk_puts_unlimited_and_large_first() {
        let r = |name: &str, bytes, limit| AtRisk {
            name: name.into(),
            kind: "container".into(),
            bytes,
            limit_bytes: limit,
        };
        let out = most_at_risk(
            vec![
                r("small", 1, None),
                r("capped", 100, Some(200)),
                r("big", 50, None),
            ],
            2,
        );
        let names: Vec<_> = out.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["big", "small"]);
    }
}
