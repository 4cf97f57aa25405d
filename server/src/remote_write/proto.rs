//! The remote-write wire format (pure): Prometheus's `WriteRequest` protobuf messages, the
//! fleet samples turned into labelled series, and the snappy-compressed body.
//!
//! The messages are the four of `prometheus/prompb` version 1 that a writer needs (metadata,
//! exemplars and histograms are left out: receivers treat them as optional).

use std::collections::HashMap;

use prost::Message;

use super::queue::Entry;

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Sorted by name, `__name__` first (its underscores sort before letters).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Oldest first: receivers refuse a series whose samples go back in time.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Why a body could not be read back (tests, and a receiver's view of what was sent).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not snappy: {0}")]
    Snappy(#[from] snap::Error),
    #[error("not a WriteRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// The labels and exported value of one stored sample of a fleet host: the metric's `/metrics`
/// family (in its base unit), `host`, `group` where the host has one, and the metric's own
/// label (`mountpoint`, `gpu`, …). A series no metric defines is left out (`None`).
pub fn series_of(
    host: &str,
    group: Option<&str>,
    key: &str,
    value: f64,
) -> Option<(Vec<Label>, f64)> {
    let def = app::vitals::metric_def::by_series_key(key)?;
    let mut labels = vec![label("__name__", def.export), label("host", host)];
    if let Some(g) = group {
        labels.push(label("group", g));
    }
    if let Some((_, l)) = key.split_once(':') {
        let name = def.label.export_label();
        // `host` and `group` are Steward's own; a metric label never overrides them.
        if name != "host" && name != "group" {
            labels.push(label(name, l));
        }
    }
    labels.sort();
    Some((labels, def.export_value(value)))
}

/// The request for `entries`: one series per label set, its samples oldest first. Labels are
/// built once per series in the batch (a host's series recur when a backlog is replayed).
pub fn request(entries: &[Entry]) -> WriteRequest {
    type Key<'a> = (&'a str, Option<&'a str>, &'a str);
    let mut index: HashMap<Key<'_>, usize> = HashMap::new();
    let mut timeseries: Vec<TimeSeries> = Vec::new();
    for e in entries {
        for s in &e.samples {
            if !s.value.is_finite() {
                continue;
            }
            let key = (&*e.host, e.group.as_deref(), s.series.as_str());
            let Some((labels, value)) = (match index.get(&key) {
                // The family is known: only the value needs its unit.
                Some(_) => app::vitals::metric_def::by_series_key(&s.series)
                    .map(|d| (None, d.export_value(s.value))),
                None => series_of(&e.host, e.group.as_deref(), &s.series, s.value)
                    .map(|(l, v)| (Some(l), v)),
            }) else {
                continue;
            };
            let i = match labels {
                Some(labels) => {
                    timeseries.push(TimeSeries {
                        labels,
                        samples: Vec::new(),
                    });
                    index.insert(key, timeseries.len() - 1);
                    timeseries.len() - 1
                }
                None => index[&key],
            };
            timeseries[i].samples.push(Sample {
                value,
                timestamp: s.ts_ms,
            });
        }
    }
    for t in &mut timeseries {
        if t.samples
            .windows(2)
            .any(|w| w[1].timestamp <= w[0].timestamp)
        {
            t.samples.sort_by_key(|s| s.timestamp);
            // Two samples at one instant: the later one stands (a receiver refuses both).
            t.samples.dedup_by(|later, earlier| {
                let same = later.timestamp == earlier.timestamp;
                if same {
                    earlier.value = later.value;
                }
                same
            });
        }
    }
    WriteRequest { timeseries }
}

/// The HTTP body for `entries`: the protobuf, snappy block-compressed (not framed), and the
/// number of samples it carries.
pub fn encode(entries: &[Entry]) -> (Vec<u8>, usize) {
    let req = request(entries);
    let samples = req.timeseries.iter().map(|t| t.samples.len()).sum();
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        // Compressing a byte slice into a vector it sizes itself cannot fail.
        .unwrap_or_default();
    (body, samples)
}

/// Reads a body back (what a receiver does).
pub fn decode(body: &[u8]) -> Result<WriteRequest, DecodeError> {
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    Ok(WriteRequest::decode(raw.as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::history::Sample as Stored;
    use std::sync::Arc;

    fn stored(series: &str, ts_ms: i64, value: f64) -> Stored {
        Stored {
            series: series.into(),
            ts_ms,
            value,
        }
    }

    fn names(labels: &[Label]) -> Vec<(&str, &str)> {
        labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect()
    }

    #[test]
    fn a_sample_takes_its_family_its_label_and_the_host_and_group() {
        let (labels, value) = series_of("web-1", Some("eu"), "disk_used_pct:/var", 42.5).unwrap();
        assert_eq!(
            names(&labels),
            [
                ("__name__", "steward_disk_used_percent"),
                ("group", "eu"),
                ("host", "web-1"),
                ("mountpoint", "/var"),
            ]
        );
        assert_eq!(value, 42.5);
        let (labels, _) = series_of("web-1", None, "mem_used_pct", 1.0).unwrap();
        assert_eq!(
            names(&labels),
            [("__name__", "steward_mem_used_percent"), ("host", "web-1")]
        );
        assert!(series_of("web-1", None, "no_such_metric", 1.0).is_none());
    }

    #[test]
    fn values_are_written_in_the_family_base_unit() {
        // A percentage exported as a ratio, milliseconds as seconds.
        let (_, v) = series_of("h", None, "gpu_util_pct:0", 65.0).unwrap();
        assert_eq!(v, 0.65);
        let (_, v) = series_of("h", None, "model_check_ms:llama", 250.0).unwrap();
        assert_eq!(v, 0.25);
    }

    #[test]
    fn one_series_per_label_set_oldest_first_and_the_body_reads_back() {
        let host: Arc<str> = Arc::from("a");
        let entries = vec![
            Entry {
                host: host.clone(),
                group: None,
                samples: vec![
                    stored("mem_used_pct", 2_000, 20.0),
                    stored("cpu_busy_pct", 2_000, 5.0),
                    stored("load1", 2_000, f64::NAN),
                ],
            },
            Entry {
                host: host.clone(),
                group: None,
                samples: vec![stored("mem_used_pct", 1_000, 10.0)],
            },
            Entry {
                host: Arc::from("b"),
                group: Some(Arc::from("g")),
                samples: vec![
                    stored("mem_used_pct", 1_000, 30.0),
                    stored("mem_used_pct", 1_000, 31.0),
                ],
            },
        ];
        let (body, count) = encode(&entries);
        assert_eq!(count, 4, "NaN left out, a repeated instant written once");
        let req = decode(&body).unwrap();
        assert_eq!(req, request(&entries));
        let mem_a = req
            .timeseries
            .iter()
            .find(|t| names(&t.labels) == [("__name__", "steward_mem_used_percent"), ("host", "a")])
            .unwrap();
        assert_eq!(
            mem_a
                .samples
                .iter()
                .map(|s| (s.timestamp, s.value))
                .collect::<Vec<_>>(),
            [(1_000, 10.0), (2_000, 20.0)]
        );
        let mem_b = req
            .timeseries
            .iter()
            .find(|t| t.labels.iter().any(|l| l.value == "b"))
            .unwrap();
        assert_eq!(
            mem_b.samples,
            [Sample {
                value: 31.0,
                timestamp: 1_000
            }]
        );
        assert_eq!(req.timeseries.len(), 3);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(matches!(
            decode(b"not snappy at all"),
            Err(DecodeError::Snappy(_))
        ));
        let not_proto = snap::raw::Encoder::new().compress_vec(&[0xff; 8]).unwrap();
        assert!(matches!(decode(&not_proto), Err(DecodeError::Protobuf(_))));
    }
}
