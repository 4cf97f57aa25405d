//! Pure parsers of what model servers answer: Ollama's `/api/*` JSON, the OpenAI-compatible
//! `/v1/models`, llama.cpp's `/props` and `/slots`, and the Prometheus text format of
//! llama.cpp's and vLLM's `/metrics`. No I/O; every function takes the body and returns typed
//! data or a [`ParseError`] naming the endpoint.

use std::collections::HashMap;

use app::models::{Architecture, DiskModel, LoadedModel};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("{endpoint}: not the JSON expected ({message})")]
    Json {
        endpoint: &'static str,
        message: String,
    },
    #[error("{endpoint}: missing {what}")]
    Missing {
        endpoint: &'static str,
        what: &'static str,
    },
}

fn json<T: serde::de::DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<T, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError::Json {
        endpoint,
        message: e.to_string(),
    })
}

/// RFC 3339 (Ollama writes nanoseconds and a zone offset) to Unix milliseconds.
fn rfc3339_ms(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// `GET /api/version`: `{"version": "0.5.1"}`.
pub fn ollama_version(body: &[u8]) -> Result<String, ParseError> {
    #[derive(Deserialize)]
    struct V {
        version: String,
    }
    Ok(json::<V>("/api/version", body)?.version)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OllamaDetails {
    family: Option<String>,
    parameter_size: Option<String>,
    quantization_level: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// `GET /api/tags`: the models on disk.
pub fn ollama_tags(body: &[u8]) -> Result<Vec<DiskModel>, ParseError> {
    #[derive(Deserialize)]
    struct Tags {
        models: Vec<Tag>,
    }
    #[derive(Deserialize)]
    struct Tag {
        name: String,
        size: Option<u64>,
        modified_at: Option<String>,
        #[serde(default)]
        details: OllamaDetails,
    }
    let tags: Tags = json("/api/tags", body)?;
    Ok(tags
        .models
        .into_iter()
        .map(|t| DiskModel {
            name: t.name,
            size_bytes: t.size,
            family: non_empty(t.details.family),
            parameter_size: non_empty(t.details.parameter_size),
            quantization: non_empty(t.details.quantization_level),
            modified_ms: t.modified_at.as_deref().and_then(rfc3339_ms),
            ..Default::default()
        })
        .collect())
}

/// `GET /api/ps`: the models in memory.
pub fn ollama_ps(body: &[u8]) -> Result<Vec<LoadedModel>, ParseError> {
    #[derive(Deserialize)]
    struct Ps {
        models: Vec<Running>,
    }
    #[derive(Deserialize)]
    struct Running {
        name: String,
        size: Option<u64>,
        size_vram: Option<u64>,
        context_length: Option<u64>,
        expires_at: Option<String>,
    }
    let ps: Ps = json("/api/ps", body)?;
    Ok(ps
        .models
        .into_iter()
        .map(|m| LoadedModel {
            name: m.name,
            size_bytes: m.size,
            vram_bytes: m.size_vram,
            context_length: m.context_length,
            expires_at_ms: m.expires_at.as_deref().and_then(rfc3339_ms),
            status: None,
        })
        .collect())
}

/// The KV-cache numbers from GGUF-style metadata keys (`general.architecture` = `llama` gives
/// `llama.block_count`, …), as Ollama's `/api/show` `model_info` and a GGUF header carry them.
pub fn architecture(meta: &HashMap<String, Value>) -> Option<Architecture> {
    let arch = meta.get("general.architecture")?.as_str()?.to_string();
    let get = |key: &str| meta.get(&format!("{arch}.{key}")).and_then(number);
    let layers = get("block_count")?;
    let heads = get("attention.head_count")?;
    Some(Architecture {
        layers,
        heads,
        kv_heads: get("attention.head_count_kv").unwrap_or(heads),
        embedding: get("embedding_length")?,
        head_dim: get("attention.key_length"),
        context_max: get("context_length"),
        vocab: get("vocab_size")
            .or_else(|| {
                meta.get("tokenizer.ggml.tokens#len")
                    .and_then(Value::as_u64)
            })
            .or_else(|| {
                meta.get("tokenizer.ggml.tokens")
                    .and_then(Value::as_array)
                    .map(|a| a.len() as u64)
            }),
        name: arch,
    })
}

/// A metadata number; some models give a per-layer array (the largest counts).
fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Array(items) => items.iter().filter_map(Value::as_u64).max(),
        _ => v.as_u64(),
    }
}

/// `POST /api/show`: the model's architecture from `model_info`.
pub fn ollama_show(body: &[u8]) -> Result<Architecture, ParseError> {
    #[derive(Deserialize)]
    struct Show {
        model_info: Option<HashMap<String, Value>>,
    }
    let show: Show = json("/api/show", body)?;
    let info = show.model_info.ok_or(ParseError::Missing {
        endpoint: "/api/show",
        what: "model_info",
    })?;
    architecture(&info).ok_or(ParseError::Missing {
        endpoint: "/api/show",
        what: "the architecture's block_count, head_count and embedding_length",
    })
}

/// `POST /api/generate` (a load or unload): `done` must be true; `done_reason` says which.
pub fn ollama_generate(body: &[u8]) -> Result<Option<String>, ParseError> {
    #[derive(Deserialize)]
    struct G {
        done: bool,
        done_reason: Option<String>,
    }
    let g: G = json("/api/generate", body)?;
    if !g.done {
        return Err(ParseError::Missing {
            endpoint: "/api/generate",
            what: "done: true",
        });
    }
    Ok(g.done_reason)
}

/// `GET /v1/models` of any OpenAI-compatible server (llama.cpp adds `meta` with the size).
pub fn openai_models(body: &[u8]) -> Result<Vec<DiskModel>, ParseError> {
    #[derive(Deserialize)]
    struct List {
        data: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        id: String,
        created: Option<i64>,
        meta: Option<Meta>,
    }
    #[derive(Deserialize)]
    struct Meta {
        size: Option<u64>,
        n_params: Option<u64>,
    }
    let list: List = json("/v1/models", body)?;
    Ok(list
        .data
        .into_iter()
        .map(|m| DiskModel {
            size_bytes: m.meta.as_ref().and_then(|x| x.size),
            parameter_size: m.meta.as_ref().and_then(|x| x.n_params).map(params_text),
            modified_ms: m.created.filter(|c| *c > 0).map(|c| c * 1000),
            name: m.id,
            ..Default::default()
        })
        .collect())
}

/// 134515008 → "134.5M", as Ollama writes parameter sizes.
fn params_text(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1}B", n / 1e9)
    } else {
        format!("{:.1}M", n / 1e6)
    }
}

/// What llama.cpp's `/props` says about the server.
#[derive(Debug, Default, PartialEq)]
pub struct LlamacppProps {
    pub model_path: Option<String>,
    pub context: Option<u64>,
    pub total_slots: Option<u32>,
    pub build: Option<String>,
    /// `role: "router"`: the server loads and unloads models itself (router mode).
    pub router: bool,
}

/// `GET /props`.
pub fn llamacpp_props(body: &[u8]) -> Result<LlamacppProps, ParseError> {
    let v: Value = json("/props", body)?;
    Ok(LlamacppProps {
        model_path: v["model_path"].as_str().map(str::to_string),
        context: v["default_generation_settings"]["n_ctx"].as_u64(),
        total_slots: v["total_slots"].as_u64().map(|n| n as u32),
        build: v["build_info"].as_str().map(str::to_string),
        router: v["role"] == "router",
    })
}

/// One model a llama.cpp router knows (`GET /models`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RouterModel {
    pub id: String,
    /// `unloaded`, `loading`, `loaded`, `sleeping` or `downloading`.
    pub status: String,
    /// The last load's instance exited with this code (`failed: true`).
    pub failed_exit: Option<i64>,
    /// The GGUF file: `path`, else the instance's `--model` argument.
    pub path: Option<String>,
    /// The instance's port once started (its `--port` argument; 0 before).
    pub port: Option<u16>,
    /// The context the instance is started with (`--ctx-size` / `-c`).
    pub context: Option<u64>,
    /// 0–1 while loading, where the router reports it.
    pub progress: Option<f64>,
}

/// The value after `flag` (or one of its aliases) in an instance's argument list.
fn arg<'a>(args: &'a [Value], flags: &[&str]) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0].as_str().is_some_and(|a| flags.contains(&a)))
        .and_then(|w| w[1].as_str())
}

/// `GET /models` of a llama.cpp router: each model with its status and instance arguments.
pub fn llamacpp_router_models(body: &[u8]) -> Result<Vec<RouterModel>, ParseError> {
    #[derive(Deserialize)]
    struct List {
        data: Vec<Value>,
    }
    let list: List = json("/models", body)?;
    list.data
        .iter()
        .map(|m| {
            let id = m["id"].as_str().ok_or(ParseError::Missing {
                endpoint: "/models",
                what: "a model's id",
            })?;
            let st = &m["status"];
            let args = st["args"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            Ok(RouterModel {
                id: id.to_string(),
                status: st["value"].as_str().unwrap_or("unknown").to_string(),
                failed_exit: (st["failed"] == true).then(|| st["exit_code"].as_i64().unwrap_or(-1)),
                path: m["path"]
                    .as_str()
                    .or_else(|| arg(args, &["--model", "-m"]))
                    .map(str::to_string),
                port: arg(args, &["--port"])
                    .and_then(|p| p.parse().ok())
                    .filter(|p| *p != 0),
                context: arg(args, &["--ctx-size", "-c"]).and_then(|c| c.parse().ok()),
                progress: st["progress"]["value"].as_f64().map(|v| v.clamp(0.0, 1.0)),
            })
        })
        .collect()
}

/// A query-string value, percent-encoded (model ids hold `/` and `:`).
pub fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /slots`: (busy, total, context of the first slot).
pub fn llamacpp_slots(body: &[u8]) -> Result<(u32, u32, Option<u64>), ParseError> {
    let v: Vec<Value> = json("/slots", body)?;
    let busy = v
        .iter()
        .filter(|s| s["is_processing"].as_bool().unwrap_or(false))
        .count() as u32;
    let ctx = v.first().and_then(|s| s["n_ctx"].as_u64());
    Ok((busy, v.len() as u32, ctx))
}

/// A sample's labels, in order.
pub type Labels = Vec<(String, String)>;

/// A Prometheus text-format exposition, by family: each sample's labels and value. Comments,
/// blank lines and lines that do not parse are skipped (counted), never fatal.
#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: HashMap<String, Vec<(Labels, f64)>>,
    pub skipped: usize,
}

impl Exposition {
    /// The sum of a family's samples (a gauge without labels is its value).
    pub fn sum(&self, name: &str) -> Option<f64> {
        let s = self.samples.get(name)?;
        Some(s.iter().map(|(_, v)| v).sum())
    }

    /// The first of several names that exists (vLLM renamed `gpu_cache_usage_perc`).
    pub fn first_sum(&self, names: &[&str]) -> Option<f64> {
        names.iter().find_map(|n| self.sum(n))
    }

    /// A quantile of a histogram family (`<name>_bucket` with `le`), all label sets merged,
    /// interpolated linearly inside the bucket like PromQL's `histogram_quantile`.
    pub fn quantile(&self, name: &str, q: f64) -> Option<f64> {
        let mut buckets: HashMap<String, f64> = HashMap::new();
        for (labels, v) in self.samples.get(&format!("{name}_bucket"))? {
            let le = labels.iter().find(|(k, _)| k == "le")?.1.clone();
            *buckets.entry(le).or_default() += v;
        }
        let mut b: Vec<(f64, f64)> = buckets
            .into_iter()
            .filter_map(|(le, c)| Some((le.parse::<f64>().ok()?, c)))
            .collect();
        b.sort_by(|x, y| x.0.total_cmp(&y.0));
        histogram_quantile(q, &b)
    }
}

/// PromQL's `histogram_quantile` over cumulative (upper bound, count) buckets.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 || !buckets.last()?.0.is_infinite() {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let in_bucket = count - prev.1;
            let frac = if in_bucket > 0.0 {
                (rank - prev.1) / in_bucket
            } else {
                1.0
            };
            return Some(prev.0 + (le - prev.0) * frac);
        }
        prev = (le, count);
    }
    None
}

/// Parses the text format.
pub fn exposition(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match sample(line) {
            Some((name, labels, v)) => out.samples.entry(name).or_default().push((labels, v)),
            None => out.skipped += 1,
        }
    }
    out
}

/// One `name{a="b",c="d"} value [timestamp]` line.
fn sample(line: &str) -> Option<(String, Labels, f64)> {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => return None,
    };
    let (labels, rest) = if let Some(inner) = rest.strip_prefix('{') {
        let end = inner.find('}')?;
        (labels(&inner[..end])?, &inner[end + 1..])
    } else {
        (Vec::new(), rest)
    };
    let value = rest.split_whitespace().next()?;
    let v = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    v.is_finite().then(|| (name.to_string(), labels, v))
}

fn labels(s: &str) -> Option<Labels> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_string();
        let after = rest[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        out.push((key, value));
        rest = after[end + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    Some(out)
}

#[cfg(test)]
mod tests {

    /// `GET /models` of llama-server 11434 in router mode (`--models-dir`), as it answered here:
    /// one model loaded, one whose instance exited, one from the cache with a `path`.
    const ROUTER_MODELS: &str = r#"{"data":[
      {"id":"smollm2","aliases":[],"object":"model","status":{"value":"loaded","args":["/bin/llama-server","--host","127.0.0.1","--metrics","--port","57025","--alias","smollm2","--ctx-size","1024","--model","/tmp/rm/models/smollm2.gguf","--parallel","1"]},"source":"models_dir"},
      {"id":"broken","status":{"value":"unloaded","args":["/bin/llama-server","--port","0","--model","/tmp/rm/models/broken.gguf"],"failed":true,"exit_code":1}},
      {"id":"ggml-org/gemma-3-4b-it-GGUF:Q4_K_M","path":"/cache/gemma.gguf","status":{"value":"loading","progress":{"stages":["text_model"],"current":"text_model","value":0.5}}}
    ],"object":"list"}"#;

    #[test]
    fn router_models_with_status_port_context_and_failures() {
        let m = llamacpp_router_models(ROUTER_MODELS.as_bytes()).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].status, "loaded");
        assert_eq!(m[0].port, Some(57025));
        assert_eq!(m[0].context, Some(1024));
        assert_eq!(m[0].path.as_deref(), Some("/tmp/rm/models/smollm2.gguf"));
        assert_eq!(m[0].failed_exit, None);
        assert_eq!(m[1].failed_exit, Some(1));
        assert_eq!(m[1].port, None, "port 0 is no port");
        assert_eq!(m[2].path.as_deref(), Some("/cache/gemma.gguf"));
        assert_eq!(m[2].progress, Some(0.5));
        assert!(llamacpp_router_models(br#"{"data":[{"status":{}}]}"#).is_err());
        assert!(llamacpp_router_models(b"<html>").is_err());
        let props = llamacpp_props(br#"{"role":"router","max_instances":4,"model_path":"none"}"#);
        assert!(props.unwrap().router);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            query_value("ggml-org/gemma-3-4b-it-GGUF:Q4_K_M"),
            "ggml-org%2Fgemma-3-4b-it-GGUF%3AQ4_K_M"
        );
        assert_eq!(query_value("a b&c"), "a%20b%26c");
    }
    use super::*;

    // Bodies from Ollama's API reference (docs/api.md), trimmed.
    const TAGS: &str = r#"{"models":[{"name":"deepseek-r1:latest","model":"deepseek-r1:latest","modified_at":"2025-05-10T08:06:48.639712648-07:00","size":4683075271,"digest":"0a8c26691023","details":{"parent_model":"","format":"gguf","family":"qwen2","families":["qwen2"],"parameter_size":"7.6B","quantization_level":"Q4_K_M"}}]}"#;
    const PS: &str = r#"{"models":[{"name":"mistral:latest","model":"mistral:latest","size":5137025024,"digest":"2ae6f6dd7a3d","details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],"parameter_size":"7.2B","quantization_level":"Q4_0"},"expires_at":"2024-06-04T14:38:31.83753-07:00","size_vram":5137025024}]}"#;
    const SHOW: &str = r##"{"modelfile":"# Modelfile","parameters":"num_keep 24","template":"{{ .Prompt }}","details":{"family":"llama"},"model_info":{"general.architecture":"llama","general.file_type":2,"general.parameter_count":8030261248,"llama.attention.head_count":32,"llama.attention.head_count_kv":8,"llama.attention.layer_norm_rms_epsilon":0.00001,"llama.block_count":32,"llama.context_length":8192,"llama.embedding_length":4096,"llama.feed_forward_length":14336,"llama.vocab_size":128256},"capabilities":["completion"]}"##;

    #[test]
    fn ollama_bodies_parse() {
        assert_eq!(ollama_version(br#"{"version":"0.5.1"}"#).unwrap(), "0.5.1");
        let tags = ollama_tags(TAGS.as_bytes()).unwrap();
        assert_eq!(tags[0].name, "deepseek-r1:latest");
        assert_eq!(tags[0].size_bytes, Some(4_683_075_271));
        assert_eq!(tags[0].quantization.as_deref(), Some("Q4_K_M"));
        assert_eq!(tags[0].modified_ms, Some(1_746_889_608_639));
        let ps = ollama_ps(PS.as_bytes()).unwrap();
        assert_eq!(ps[0].vram_bytes, Some(5_137_025_024));
        assert_eq!(ps[0].expires_at_ms, Some(1_717_537_111_837));
        let a = ollama_show(SHOW.as_bytes()).unwrap();
        assert_eq!(
            (a.layers, a.kv_heads, a.heads, a.embedding),
            (32, 8, 32, 4096)
        );
        assert_eq!(
            (a.head_size(), a.context_max, a.vocab),
            (128, Some(8192), Some(128_256))
        );
        assert_eq!(ollama_generate(br#"{"model":"m","created_at":"x","response":"","done":true,"done_reason":"unload"}"#).unwrap().as_deref(), Some("unload"));
    }

    #[test]
    fn garbage_is_an_error_naming_the_endpoint() {
        let e = ollama_tags(b"<html>502</html>").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/api/tags: not the JSON expected"),
            "{e}"
        );
        assert!(matches!(
            ollama_show(br#"{"details":{}}"#),
            Err(ParseError::Missing { .. })
        ));
        assert!(ollama_generate(br#"{"done":false}"#).is_err());
        assert!(llamacpp_slots(b"{}").is_err());
    }

    #[test]
    fn openai_models_with_llamacpp_meta() {
        let body = br#"{"object":"list","data":[{"id":"smollm2.gguf","object":"model","created":1732000000,"owned_by":"llamacpp","meta":{"vocab_type":2,"n_vocab":49152,"n_ctx_train":8192,"n_embd":576,"n_params":134515008,"size":100267008}}]}"#;
        let m = openai_models(body).unwrap();
        assert_eq!(m[0].size_bytes, Some(100_267_008));
        assert_eq!(m[0].parameter_size.as_deref(), Some("134.5M"));
    }

    #[test]
    fn exposition_sums_gauges_and_reads_histograms() {
        let text = r#"
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 3.0
vllm:num_requests_waiting{model_name="m"} 7.0
vllm:gpu_cache_usage_perc{model_name="m"} 0.42
vllm:generation_tokens_total{model_name="m"} 1200.0
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} 50.0
vllm:time_to_first_token_seconds_bucket{le="0.5",model_name="m"} 90.0
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} 100.0
weird{a="x\"y"} 1 1700000000000
broken line
"#;
        let e = exposition(text);
        assert_eq!(e.sum("vllm:num_requests_running"), Some(3.0));
        assert_eq!(
            e.first_sum(&["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"]),
            Some(0.42)
        );
        assert_eq!(e.skipped, 1);
        assert_eq!(e.samples["weird"][0].0[0].1, "x\"y");
        let p50 = e.quantile("vllm:time_to_first_token_seconds", 0.5).unwrap();
        assert!((p50 - 0.1 * 50.0 / 50.0).abs() < 1e-9, "{p50}");
        let p95 = e
            .quantile("vllm:time_to_first_token_seconds", 0.95)
            .unwrap();
        assert_eq!(p95, 0.5);
        assert_eq!(e.quantile("absent", 0.5), None);
    }
}
