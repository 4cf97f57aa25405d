//! Pure parts of the Prometheus HTTP API client: the `query_range` response format (as
//! documented at prometheus.io/docs/prometheus/latest/querying/api/) and the choice of step.

use app::vitals::HistoryPoint;
use serde::Deserialize;

/// Prometheus refuses ranges of more than 11,000 points per series.
pub const PROMETHEUS_MAX_POINTS: u64 = 11_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("Prometheus answered with an error ({kind}): {message}")]
    Api { kind: String, message: String },
    #[error("Prometheus's answer is not valid JSON of the query API: {0}")]
    Format(String),
    #[error("Prometheus returned a {0} result where a matrix was expected")]
    ResultType(String),
    #[error("Prometheus returned a bad sample {0:?}")]
    Sample(String),
}

/// One series of a matrix result.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub points: Vec<HistoryPoint>,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<MatrixSeries>,
}

#[derive(Deserialize)]
struct MatrixSeries {
    metric: std::collections::BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// Parses a `query_range` answer. Non-finite samples (`NaN`, `±Inf`) are skipped: a chart has no
/// place for them, and skipping keeps the gap visible.
pub fn parse_query_range(body: &str) -> Result<Vec<Series>, ParseError> {
    let env: Envelope =
        serde_json::from_str(body).map_err(|e| ParseError::Format(e.to_string()))?;
    if env.status != "success" {
        return Err(ParseError::Api {
            kind: env.error_type.unwrap_or_else(|| "unknown".into()),
            message: env.error.unwrap_or_else(|| "no message".into()),
        });
    }
    let data = env
        .data
        .ok_or_else(|| ParseError::Format("missing data".into()))?;
    if data.result_type != "matrix" {
        return Err(ParseError::ResultType(data.result_type));
    }
    data.result
        .into_iter()
        .map(|s| {
            let mut points = Vec::with_capacity(s.values.len());
            for (ts, v) in s.values {
                let value: f64 = v.parse().map_err(|_| ParseError::Sample(v.clone()))?;
                if value.is_finite() {
                    points.push(HistoryPoint {
                        ts_ms: (ts * 1000.0).round() as i64,
                        avg: value,
                        min: value,
                        max: value,
                    });
                }
            }
            Ok(Series {
                labels: s.metric.into_iter().collect(),
                points,
            })
        })
        .collect()
}

/// The step (seconds) for a range: about `target_points` points, never under `min_step`, and
/// always under Prometheus's limit of 11,000 points.
pub fn choose_step(range_secs: u64, target_points: u64, min_step: u64) -> u64 {
    // The answer has range / step + 1 points, so at most 10,999 steps fit.
    let target = target_points.clamp(1, PROMETHEUS_MAX_POINTS - 1);
    range_secs.div_ceil(target).max(min_step).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_matrix_example() {
        // The example from the Prometheus HTTP API documentation.
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},
             "values":[[1435781430.781,"1"],[1435781445.781,"1"],[1435781460.781,"1"]]},
            {"metric":{"__name__":"up","job":"node","instance":"localhost:9091"},
             "values":[[1435781430.781,"0"],[1435781445.781,"NaN"],[1435781460.781,"1"]]}]}}"#;
        let s = parse_query_range(body).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].points.len(), 3);
        assert_eq!(s[0].points[0].ts_ms, 1_435_781_430_781);
        assert_eq!(s[0].labels[0], ("__name__".into(), "up".into()));
        assert_eq!(s[1].points.len(), 2, "NaN is skipped");
    }

    #[test]
    fn errors_are_typed() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}"#;
        assert!(
            matches!(parse_query_range(body), Err(ParseError::Api { kind, .. }) if kind == "bad_data")
        );
        assert!(matches!(
            parse_query_range("<html>"),
            Err(ParseError::Format(_))
        ));
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(
            parse_query_range(vector),
            Err(ParseError::ResultType("vector".into()))
        );
        let bad = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}"#;
        assert_eq!(parse_query_range(bad), Err(ParseError::Sample("x".into())));
    }

    #[test]
    fn steps_stay_under_the_limit() {
        let day = 86_400;
        assert_eq!(choose_step(3_600, 1_000, 15), 15);
        assert_eq!(choose_step(7 * day, 1_000, 15), 605);
        assert_eq!(choose_step(365 * day, 1_000, 15), 31_536);
        // Asking for more than Prometheus allows is capped.
        let s = choose_step(30 * day, 50_000, 1);
        assert!(30 * day / s < PROMETHEUS_MAX_POINTS, "{s}");
        for range in [60, 3_600, 7 * day, 30 * day, 365 * day, 3_650 * day] {
            for target in [1, 1_000, 10_999, 11_000, 1_000_000] {
                let s = choose_step(range, target, 1);
                assert!(range / s < PROMETHEUS_MAX_POINTS, "{range} {target} {s}");
            }
        }
    }
}
