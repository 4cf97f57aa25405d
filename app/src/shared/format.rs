//! Human formatting of values for the UI and the CLI.

use crate::vitals::{Metric, Unit};

/// Formats bytes with SI prefixes (1 GB = 10^9 bytes, as the score's bands use).
pub fn bytes(v: f64) -> String {
    scaled(v, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"])
}

/// Formats bytes with binary prefixes (1 MiB = 2^20 bytes), the units the kernel and Docker
/// count memory in: a `--memory 64m` limit reads "64.0 MiB", not "67.1 MB".
pub fn bytes_binary(v: f64) -> String {
    scaled(v, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"])
}

/// `v` divided by `base` until it fits, with the unit it reached (whole bytes, else 1 decimal).
fn scaled(mut v: f64, base: f64, units: &[&str]) -> String {
    let mut i = 0;
    while v.abs() >= base && i < units.len() - 1 {
        v /= base;
        i += 1;
    }
    if i == 0 {
        format!("{} {}", fixed(v, 0), units[0])
    } else {
        format!("{} {}", fixed(v, 1), units[i])
    }
}

/// `v` with `decimals` (0–2) digits after the point: the same text as `format!("{v:.N}")`.
/// That printer must round the exact binary value, which often takes its slow big-number path;
/// a page of fleet cards formats thousands of values. Here the value is scaled and rounded as
/// an integer, and only a value whose scaled fraction lies near one half (where the scaling's
/// own rounding could tip it), a negative value or a huge one goes to `format!`.
pub fn fixed(v: f64, decimals: usize) -> String {
    const SCALE: [u64; 3] = [1, 10, 100];
    let Some(&scale) = SCALE.get(decimals) else {
        return format!("{v:.decimals$}");
    };
    let p = v * scale as f64;
    if v.is_sign_negative() || p.is_nan() || p >= 1e15 || ((p - p.floor()) - 0.5).abs() < 1e-6 {
        return format!("{v:.decimals$}");
    }
    let n = p.round() as u64;
    let mut out = (n / scale).to_string();
    if decimals > 0 {
        let frac = (n % scale).to_string();
        out.push('.');
        for _ in frac.len()..decimals {
            out.push('0');
        }
        out.push_str(&frac);
    }
    out
}

/// Formats a value in a unit.
pub fn value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{} %", fixed(v, 1)),
        Unit::Bytes => bytes(v),
        Unit::BytesPerSecond => format!("{}/s", bytes(v)),
        Unit::Count => fixed(v, 0),
        Unit::Load => fixed(v, 2),
        Unit::Celsius => format!("{} °C", fixed(v, 0)),
        Unit::Watts => format!("{} W", fixed(v, 0)),
        Unit::TokensPerSecond => format!("{} tok/s", fixed(v, 1)),
        Unit::Milliseconds => format!("{} ms", fixed(v, 0)),
    }
}

/// Formats a metric's value, or "unknown" when it could not be read.
pub fn metric(m: &Metric) -> String {
    m.value
        .map(|v| value(v, m.unit))
        .unwrap_or_else(|| "unknown".into())
}

/// Formats a duration in seconds as e.g. "3d 4h", "5h 12m", "42s".
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// A human title for a metric name.
pub fn title(name: &str) -> &'static str {
    crate::vitals::metric_def::by_name(name).map_or("Metric", |d| d.title)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC for a time in ms since the epoch (Howard Hinnant's
/// days-to-civil algorithm, so the WASM needs no date library).
pub fn utc_datetime(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, for downloads and machine-readable text.
pub fn rfc3339_ms(ms: i64) -> String {
    format!(
        "{}.{:03}Z",
        utc_datetime(ms).replace(' ', "T"),
        ms.rem_euclid(1000)
    )
}

/// `HH:MM:SS.mmm` in UTC: a log line's time of day (its date is in the line's title).
pub fn utc_time_ms(ms: i64) -> String {
    format!("{}.{:03}", &utc_datetime(ms)[11..], ms.rem_euclid(1000))
}

/// "1 container", "3 containers": a count with its noun in the right number.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_writes_what_format_writes() {
        let mut values: Vec<f64> = (0..200_000).map(|i| i as f64 / 1000.0).collect();
        // Ties in decimal that are not ties in binary, exact binary ties, edges and
        // values a collector makes (a share of two counters), over many magnitudes.
        values.extend([
            0.05,
            0.15,
            0.25,
            0.35,
            0.45,
            1.005,
            2.675,
            0.125,
            0.375,
            2.5,
            3.5,
            12.25,
            99.95,
            99.949_999_999,
            1e14 + 0.5,
            9.99e14,
            1e15,
            1e300,
            0.0,
            -0.0,
            -0.04,
            -1.5,
            -12.34,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let a = (x >> 40) as f64;
            let b = ((x >> 8) & 0xFFFF_FFFF) as f64 + 1.0;
            values.push(a / b * 10f64.powi((x % 13) as i32 - 4));
        }
        for v in values {
            assert_eq!(fixed(v, 0), format!("{v:.0}"), "{v:e}");
            assert_eq!(fixed(v, 1), format!("{v:.1}"), "{v:e}");
            assert_eq!(fixed(v, 2), format!("{v:.2}"), "{v:e}");
        }
        assert_eq!(fixed(1.23456, 4), "1.2346", "more decimals go to format!");
    }

    #[test]
    fn formats_bytes_si() {
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(1_000.0), "1.0 kB");
        assert_eq!(bytes(6.5e9), "6.5 GB");
        assert_eq!(bytes(2e15), "2.0 PB");
    }

    #[test]
    fn formats_durations() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(125), "2m 5s");
        assert_eq!(duration(3 * 3600 + 120), "3h 2m");
        assert_eq!(duration(2 * 86_400 + 5 * 3600), "2d 5h");
    }

    #[test]
    fn utc_datetimes() {
        assert_eq!(super::utc_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc_datetime(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(
            super::utc_datetime(1_795_386_774_000),
            "2026-11-22 22:32:54"
        );
        assert_eq!(super::utc_datetime(-1000), "1969-12-31 23:59:59");
        assert_eq!(super::rfc3339_ms(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(super::utc_time_ms(86_400_007), "00:00:00.007");
    }

    #[test]
    fn memory_reads_in_binary_units() {
        assert_eq!(super::bytes_binary(64.0 * 1024.0 * 1024.0), "64.0 MiB");
        assert_eq!(super::bytes_binary(1536.0), "1.5 KiB");
        assert_eq!(super::bytes_binary(2.0 * 1024f64.powi(3)), "2.0 GiB");
        assert_eq!(super::bytes_binary(512.0), "512 B");
    }

    #[test]
    fn counts_take_the_nouns_number() {
        assert_eq!(count(1, "host", "hosts"), "1 host");
        assert_eq!(count(0, "host", "hosts"), "0 hosts");
        assert_eq!(count(3, "container", "containers"), "3 containers");
    }
}
