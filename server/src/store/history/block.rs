//! A day of one series' 1-minute rollups packed into one compressed block. Kept as rows, a
//! minute costs about 60 bytes (key, three doubles, count, the bucket index); a year of a
//! host's 27 series is then ~850 MB. Packed per UTC day, each column is compressed on its own
//! with pco (a lossless codec for numeric sequences: it finds the deltas, integer and float
//! multiples that monitoring values are made of), so the minute level can be kept for a year.
//!
//! Layout (version 1): `[1u8]`, then five sections — minute of the day (u32), mean, min, max
//! (f64), sample count (u32) — each `[len: u32 LE][pco standalone file]`. Pure: no I/O.

use pco::standalone::{simple_compress, simple_decompress};
use pco::ChunkConfig;

/// A UTC day in milliseconds: a block's span.
pub const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;
const VERSION: u8 = 1;

/// One 1-minute rollup row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteRow {
    pub bucket: i64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    pub count: i64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BlockError {
    #[error("a block holds one day of minutes: the bucket {0} is not in the day starting {1}")]
    OutsideDay(i64, i64),
    #[error("a block holds at least one minute")]
    Empty,
    #[error("unknown block version {0}")]
    Version(u8),
    #[error("the block is cut short")]
    Truncated,
    #[error("the block's columns differ in length")]
    Ragged,
    #[error("a column could not be compressed or read: {0}")]
    Codec(String),
}

/// The start of the UTC day holding `ms`.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// Packs `rows` (one series, all within the day starting `day`, any order, buckets unique).
pub fn encode(day: i64, rows: &[MinuteRow]) -> Result<Vec<u8>, BlockError> {
    if rows.is_empty() {
        return Err(BlockError::Empty);
    }
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| r.bucket);
    let mut minutes = Vec::with_capacity(rows.len());
    for r in &rows {
        if day_of(r.bucket) != day {
            return Err(BlockError::OutsideDay(r.bucket, day));
        }
        minutes.push(((r.bucket - day) / MINUTE_MS) as u32);
    }
    let counts: Vec<u32> = rows
        .iter()
        .map(|r| r.count.clamp(0, u32::MAX as i64) as u32)
        .collect();
    let column = |f: fn(&MinuteRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let mut out = vec![VERSION];
    put(&mut out, &minutes)?;
    put(&mut out, &column(|r| r.avg))?;
    put(&mut out, &column(|r| r.min))?;
    put(&mut out, &column(|r| r.max))?;
    put(&mut out, &counts)?;
    Ok(out)
}

/// Unpacks a block of the day starting `day`, oldest minute first.
pub fn decode(day: i64, block: &[u8]) -> Result<Vec<MinuteRow>, BlockError> {
    let (&version, mut rest) = block.split_first().ok_or(BlockError::Truncated)?;
    if version != VERSION {
        return Err(BlockError::Version(version));
    }
    let minutes: Vec<u32> = take(&mut rest)?;
    let avg: Vec<f64> = take(&mut rest)?;
    let min: Vec<f64> = take(&mut rest)?;
    let max: Vec<f64> = take(&mut rest)?;
    let counts: Vec<u32> = take(&mut rest)?;
    let n = minutes.len();
    if [avg.len(), min.len(), max.len(), counts.len()] != [n; 4] {
        return Err(BlockError::Ragged);
    }
    Ok((0..n)
        .map(|i| MinuteRow {
            bucket: day + minutes[i] as i64 * MINUTE_MS,
            avg: avg[i],
            min: min[i],
            max: max[i],
            count: counts[i] as i64,
        })
        .collect())
}

fn put<T: pco::data_types::Number>(out: &mut Vec<u8>, values: &[T]) -> Result<(), BlockError> {
    let bytes = simple_compress(values, &ChunkConfig::default())
        .map_err(|e| BlockError::Codec(e.to_string()))?;
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&bytes);
    Ok(())
}

fn take<T: pco::data_types::Number>(rest: &mut &[u8]) -> Result<Vec<T>, BlockError> {
    let (len, tail) = rest.split_first_chunk::<4>().ok_or(BlockError::Truncated)?;
    let len = u32::from_le_bytes(*len) as usize;
    if tail.len() < len {
        return Err(BlockError::Truncated);
    }
    let (section, tail) = tail.split_at(len);
    *rest = tail;
    // A day has at most 1,440 minutes; more is a broken block, not an allocation to make.
    let values = simple_decompress(section).map_err(|e| BlockError::Codec(e.to_string()))?;
    if values.len() > (DAY_MS / MINUTE_MS) as usize {
        return Err(BlockError::Ragged);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 20_000 * DAY_MS;

    fn row(minute: i64, avg: f64) -> MinuteRow {
        MinuteRow {
            bucket: DAY + minute * MINUTE_MS,
            avg,
            min: avg - 1.5,
            max: avg + 2.25,
            count: 12,
        }
    }

    #[test]
    fn a_day_round_trips_exactly_in_order() {
        // Gaps, an unsorted input, values with full mantissas, and a count that is not 12.
        let mut rows: Vec<MinuteRow> = (0..1440)
            .filter(|m| m % 7 != 3)
            .map(|m| row(m, (m as f64 * 0.37).sin() * 41.123_456_789 + 50.0))
            .collect();
        rows[10].count = 3;
        rows.reverse();
        let block = encode(DAY, &rows).unwrap();
        let mut expected = rows.clone();
        expected.sort_by_key(|r| r.bucket);
        assert_eq!(decode(DAY, &block).unwrap(), expected);
    }

    #[test]
    fn steady_values_cost_a_few_bytes_not_sixty_a_minute() {
        let rows: Vec<MinuteRow> = (0..1440).map(|m| row(m, 8e9)).collect();
        let block = encode(DAY, &rows).unwrap();
        assert!(block.len() < 200, "{} bytes", block.len());
    }

    #[test]
    fn a_minute_of_another_day_or_no_minute_is_refused() {
        assert_eq!(
            encode(DAY, &[row(1440, 1.0)]),
            Err(BlockError::OutsideDay(DAY + DAY_MS, DAY))
        );
        assert_eq!(
            encode(DAY, &[row(-1, 1.0)]).unwrap_err(),
            BlockError::OutsideDay(DAY - MINUTE_MS, DAY)
        );
        assert_eq!(encode(DAY, &[]), Err(BlockError::Empty));
    }

    #[test]
    fn a_broken_block_is_an_error_not_a_panic() {
        let block = encode(DAY, &[row(0, 1.0), row(1, 2.0)]).unwrap();
        assert_eq!(decode(DAY, &[]), Err(BlockError::Truncated));
        assert_eq!(decode(DAY, &[9]), Err(BlockError::Version(9)));
        for cut in 1..block.len() {
            assert!(decode(DAY, &block[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = block.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        let _ = decode(DAY, &flipped);
    }

    #[test]
    fn days_start_at_utc_midnight() {
        assert_eq!(day_of(DAY + 5), DAY);
        assert_eq!(day_of(DAY - 1), DAY - DAY_MS);
        assert_eq!(day_of(-1), -DAY_MS);
    }
}
