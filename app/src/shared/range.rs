//! Time ranges such as `1h` or `7d`, and the history resolution that serves each.

use serde::{Deserialize, Serialize};

/// The longest range a query may ask for (10 years).
pub const MAX_RANGE_SECS: u64 = 10 * 365 * 86_400;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    #[error("range is empty; use e.g. 15m, 1h, 24h, 7d, 30d or 1y")]
    Empty,
    #[error("range {0:?} must be a positive whole number followed by s, m, h, d, w or y")]
    Malformed(String),
    #[error("range {0:?} is longer than the maximum of 10y")]
    TooLong(String),
}

/// Parses `30s`, `15m`, `1h`, `7d`, `2w`, `1y` into seconds.
pub fn parse_range(text: &str) -> Result<u64, RangeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(RangeError::Empty);
    }
    let malformed = || RangeError::Malformed(text.to_string());
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(malformed)?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| malformed())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(malformed()),
    };
    if n == 0 {
        return Err(malformed());
    }
    let secs = n
        .checked_mul(unit_secs)
        .ok_or_else(|| RangeError::TooLong(text.to_string()))?;
    if secs > MAX_RANGE_SECS {
        return Err(RangeError::TooLong(text.to_string()));
    }
    Ok(secs)
}

/// Which stored table a history query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Raw samples, one per collection interval.
    Raw,
    /// 1-minute rollups.
    Minute,
    /// 1-hour rollups.
    Hour,
    /// 1-day rollups.
    Day,
}

impl Resolution {
    /// The granularity that follows the range: ≤ 1 h raw, ≤ 2 d minutes, ≤ 60 d hours, else days.
    pub fn for_range(secs: u64) -> Self {
        match secs {
            s if s <= 3_600 => Resolution::Raw,
            s if s <= 2 * 86_400 => Resolution::Minute,
            s if s <= 60 * 86_400 => Resolution::Hour,
            _ => Resolution::Day,
        }
    }

    /// Bucket width in milliseconds (`None` for raw samples).
    pub fn bucket_ms(self) -> Option<i64> {
        match self {
            Resolution::Raw => None,
            Resolution::Minute => Some(60_000),
            Resolution::Hour => Some(3_600_000),
            Resolution::Day => Some(86_400_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        for (text, secs) in [
            ("30s", 30),
            ("15m", 900),
            ("1h", 3_600),
            (" 24h ", 86_400),
            ("7d", 604_800),
            ("2w", 1_209_600),
            ("1y", 31_536_000),
        ] {
            assert_eq!(parse_range(text), Ok(secs), "{text}");
        }
    }

    #[test]
    fn rejects_bad_ranges() {
        assert_eq!(parse_range(""), Err(RangeError::Empty));
        for bad in ["h", "1", "1x", "-1h", "1.5h", "0h", "1h2", "abc"] {
            assert!(
                matches!(parse_range(bad), Err(RangeError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(parse_range("11y"), Err(RangeError::TooLong(_))));
        assert!(matches!(
            parse_range("99999999999999999999d"),
            Err(RangeError::Malformed(_))
        ));
        assert!(matches!(
            parse_range("9999999999999999y"),
            Err(RangeError::TooLong(_))
        ));
    }

    #[test]
    fn resolution_follows_range() {
        assert_eq!(Resolution::for_range(3_600), Resolution::Raw);
        assert_eq!(Resolution::for_range(3_601), Resolution::Minute);
        assert_eq!(Resolution::for_range(2 * 86_400), Resolution::Minute);
        assert_eq!(Resolution::for_range(2 * 86_400 + 1), Resolution::Hour);
        assert_eq!(Resolution::for_range(60 * 86_400), Resolution::Hour);
        assert_eq!(Resolution::for_range(365 * 86_400), Resolution::Day);
    }
}
