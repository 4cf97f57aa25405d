//! `steward check`: the one-shot replacement of the seed's `health-monitor.sh`. Prints a table
//! of metric, value, thresholds and status; exits 0 (all ok), 1 (a warning, or a metric that
//! could not be read) or 2 (a critical metric, or the host could not be read at all).

use std::time::Duration;

use app::shared::format;
use app::vitals::{Level, Vitals};
use serde::Serialize;

use crate::config::{CheckArgs, Config};
use crate::vitals::collector::{CollectError, Collected, VitalsCollector};

/// Why `steward check` could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the collector thread crashed: {0}")]
    Crashed(#[from] tokio::task::JoinError),
}

/// The exit code for a set of vitals.
pub fn exit_code(v: &Vitals) -> i32 {
    match v.worst_level() {
        Level::Ok => 0,
        Level::Warn | Level::Unknown => 1,
        Level::Crit => 2,
    }
}

/// The table `steward check` prints.
pub fn render_table(v: &Vitals, problems: &[String]) -> String {
    let mut rows = vec![[
        "METRIC".to_string(),
        "VALUE".to_string(),
        "WARN".to_string(),
        "CRIT".to_string(),
        "STATUS".to_string(),
    ]];
    for m in &v.metrics {
        let name = match &m.label {
            Some(l) => format!("{}[{l}]", m.name),
            None => m.name.clone(),
        };
        let limit = |x: Option<f64>| {
            x.map(|x| format!("> {}", format::value(x, m.unit)))
                .unwrap_or_else(|| "-".into())
        };
        rows.push([
            name,
            format::metric(m),
            limit(m.warn),
            limit(m.crit),
            m.level.as_str().to_uppercase(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!("host {} ({} cores)\n", v.host, v.cores);
    for r in &rows {
        for (i, cell) in r.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            out.push_str(cell);
            if i < 4 {
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    }
    for p in problems {
        out.push_str(&format!("problem: {p}\n"));
    }
    let worst = v.worst_level();
    out.push_str(&format!("overall: {}\n", worst.as_str().to_uppercase()));
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    status: &'static str,
    exit_code: i32,
    vitals: Option<&'a Vitals>,
    problems: &'a [String],
}

async fn collect(
    collector: VitalsCollector,
) -> Result<(VitalsCollector, Result<Collected, CollectError>), CheckError> {
    Ok(tokio::task::spawn_blocking(move || {
        let mut c = collector;
        let r = c.collect_once();
        (c, r)
    })
    .await?)
}

/// Runs the check once, or every `--interval` seconds with `--continuous`. Returns the exit code
/// of the last check.
pub async fn run(config: &Config, args: &CheckArgs) -> Result<i32, CheckError> {
    let mut collector = VitalsCollector::new(config);
    loop {
        let (c, result) = collect(collector).await?;
        collector = c;
        let code = match result {
            Ok(collected) => {
                let code = exit_code(&collected.vitals);
                if args.json {
                    let report = JsonReport {
                        status: collected.vitals.worst_level().as_str(),
                        exit_code: code,
                        vitals: Some(&collected.vitals),
                        problems: &collected.problems,
                    };
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                } else {
                    print!("{}", render_table(&collected.vitals, &collected.problems));
                }
                code
            }
            Err(e) => {
                if args.json {
                    let problems = [e.to_string()];
                    let report = JsonReport {
                        status: "error",
                        exit_code: 2,
                        vitals: None,
                        problems: &problems,
                    };
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                } else {
                    eprintln!("steward check: cannot read this host: {e}");
                }
                2
            }
        };
        if !args.continuous {
            return Ok(code);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(args.interval)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::vitals::{Metric, Unit};

    fn vitals(levels: &[Level]) -> Vitals {
        Vitals {
            host: "h".into(),
            cores: 2,
            collected_at_ms: 0,
            metrics: levels
                .iter()
                .enumerate()
                .map(|(i, l)| Metric {
                    name: format!("m{i}"),
                    label: None,
                    value: (*l != Level::Unknown).then_some(1.0),
                    unit: Unit::Percent,
                    level: *l,
                    warn: Some(5.0),
                    crit: Some(15.0),
                    note: None,
                })
                .collect(),
            top_rss: vec![],
            top_cpu: vec![],
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(&vitals(&[Level::Ok, Level::Ok])), 0);
        assert_eq!(exit_code(&vitals(&[Level::Ok, Level::Warn])), 1);
        assert_eq!(exit_code(&vitals(&[Level::Unknown, Level::Ok])), 1);
        assert_eq!(
            exit_code(&vitals(&[Level::Warn, Level::Crit, Level::Unknown])),
            2
        );
    }

    #[test]
    fn table_lists_every_metric_with_thresholds() {
        let t = render_table(
            &vitals(&[Level::Ok, Level::Unknown]),
            &["m1: cannot read".into()],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "host h (2 cores)");
        assert!(lines[1].starts_with("METRIC  VALUE"), "{t}");
        assert!(
            lines[2].contains("m0")
                && lines[2].contains("1.0 %")
                && lines[2].contains("> 5.0 %")
                && lines[2].ends_with("OK"),
            "{t}"
        );
        assert!(
            lines[3].contains("unknown") && lines[3].ends_with("UNKNOWN"),
            "{t}"
        );
        assert_eq!(lines[4], "problem: m1: cannot read");
        assert_eq!(lines[5], "overall: UNKNOWN");
    }
}
