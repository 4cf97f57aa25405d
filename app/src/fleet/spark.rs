//! The fleet card's sparklines (pure): the last half hour of a host's CPU, memory and disk use,
//! one point a minute (the mean of that minute's heartbeats), kept by the hub in memory and
//! drawn by the card as small SVG lines.

use serde::{Deserialize, Serialize};

/// Points per line: one a minute for half an hour.
pub const SPARK_POINTS: usize = 30;
const MINUTE_MS: i64 = 60_000;
/// A minute without a reading (the host was silent, or the agent could not read it).
pub const GAP: u8 = u8::MAX;
/// The metrics the lines follow, as (name, label): the card's CPU, memory and disk `/`.
pub const SPARK_METRICS: [(&str, Option<&str>); 3] = [
    ("cpu_busy_pct", None),
    ("mem_used_pct", None),
    ("disk_used_pct", Some("/")),
];

/// The lines as the card gets them: whole percentages, oldest first, the last point the
/// minute of the newest heartbeat; [`GAP`] where a minute had no reading.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sparks {
    pub cpu: Vec<u8>,
    pub mem: Vec<u8>,
    pub disk: Vec<u8>,
}

impl Sparks {
    pub fn is_empty(&self) -> bool {
        self.cpu.is_empty()
    }
}

/// The hub's side: per-minute means of one host's heartbeats, the last [`SPARK_POINTS`].
#[derive(Clone, Debug, Default)]
pub struct SparkRing {
    /// The minute (ms / 60 000) of the newest point.
    minute: i64,
    /// Sums and counts of the newest minute's readings.
    sums: [f64; 3],
    counts: [u16; 3],
    /// Finished minutes, then the newest (the running mean), oldest first.
    points: std::collections::VecDeque<[u8; 3]>,
}

fn percent(sum: f64, count: u16) -> u8 {
    if count == 0 {
        GAP
    } else {
        (sum / f64::from(count)).round().clamp(0.0, 100.0) as u8
    }
}

impl SparkRing {
    /// Adds a heartbeat's readings (in [`SPARK_METRICS`] order) collected at `at_ms`. A reading
    /// older than the newest minute is left out: a replayed backlog does not redraw the past.
    pub fn push(&mut self, at_ms: i64, values: [Option<f64>; 3]) {
        let minute = at_ms.div_euclid(MINUTE_MS);
        if self.points.is_empty() {
            self.minute = minute;
            self.points.push_back([GAP; 3]);
        } else if minute < self.minute {
            return;
        } else if minute > self.minute {
            let skipped = (minute - self.minute - 1).min(SPARK_POINTS as i64) as usize;
            for _ in 0..skipped {
                self.points.push_back([GAP; 3]);
            }
            self.points.push_back([GAP; 3]);
            self.minute = minute;
            self.sums = [0.0; 3];
            self.counts = [0; 3];
            while self.points.len() > SPARK_POINTS {
                self.points.pop_front();
            }
        }
        for (i, v) in values.into_iter().enumerate() {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                self.sums[i] += v;
                self.counts[i] = self.counts[i].saturating_add(1);
            }
        }
        let newest = std::array::from_fn(|i| percent(self.sums[i], self.counts[i]));
        if let Some(last) = self.points.back_mut() {
            *last = newest;
        }
    }

    /// A ring of stored per-minute means (bucket start, values in [`SPARK_METRICS`] order),
    /// oldest first: what a restarted hub draws before heartbeats come.
    pub fn from_minutes(minutes: impl IntoIterator<Item = (i64, [Option<f64>; 3])>) -> Self {
        let mut ring = SparkRing::default();
        for (at_ms, values) in minutes {
            ring.push(at_ms, values);
        }
        ring
    }

    /// The minute of the oldest point.
    fn oldest_minute(&self) -> Option<i64> {
        (!self.points.is_empty()).then(|| self.minute - (self.points.len() as i64 - 1))
    }

    /// Puts `older` (stored minutes, read while heartbeats already came) in front of what the
    /// heartbeats drew: a minute both have keeps the heartbeats' mean, a minute neither has
    /// is a gap, and the newest minute and its running mean stay the heartbeats'.
    pub fn backfill(&mut self, older: SparkRing) {
        let (Some(first), Some(old_first)) = (self.oldest_minute(), older.oldest_minute()) else {
            if self.points.is_empty() {
                *self = older;
            }
            return;
        };
        let mut points: std::collections::VecDeque<[u8; 3]> = older
            .points
            .iter()
            .take((first - old_first).clamp(0, SPARK_POINTS as i64) as usize)
            .copied()
            .collect();
        if points.is_empty() {
            return;
        }
        let missing = first - (old_first + points.len() as i64);
        for _ in 0..missing.clamp(0, SPARK_POINTS as i64) {
            points.push_back([GAP; 3]);
        }
        points.extend(self.points.iter().copied());
        while points.len() > SPARK_POINTS {
            points.pop_front();
        }
        self.points = points;
    }

    pub fn sparks(&self) -> Sparks {
        let line = |i: usize| self.points.iter().map(|p| p[i]).collect();
        Sparks {
            cpu: line(0),
            mem: line(1),
            disk: line(2),
        }
    }
}

/// The `points` of each SVG polyline drawing `values` in a `width` × `height` box (0 % at the
/// bottom, 100 % at the top), right-aligned so the newest minute is at the right edge; a gap
/// splits the line. A lone point becomes a short dash so it shows.
/// Writes a coordinate (≥ 0) with one decimal, as integers: `{:.1}` falls back to the slow exact
/// float printer for most of these values, and the fleet page writes hundreds per render.
fn push_tenths(out: &mut String, v: f64) {
    use std::fmt::Write;
    let tenths = (v.max(0.0) * 10.0).round() as u64;
    let _ = write!(out, "{}.{}", tenths / 10, tenths % 10);
}

pub fn polylines(values: &[u8], width: f64, height: f64) -> Vec<String> {
    let step = width / (SPARK_POINTS - 1) as f64;
    let offset = SPARK_POINTS.saturating_sub(values.len());
    let mut lines = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let flush = |current: &mut Vec<(f64, f64)>, lines: &mut Vec<String>| {
        if let [(x, y)] = current.as_slice() {
            let (x, y) = (*x, *y);
            current.insert(0, ((x - step / 2.0).max(0.0), y));
        }
        if !current.is_empty() {
            let mut line = String::with_capacity(current.len() * 10);
            for (i, (x, y)) in current.iter().enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                push_tenths(&mut line, *x);
                line.push(',');
                push_tenths(&mut line, *y);
            }
            lines.push(line);
        }
        current.clear();
    };
    for (i, v) in values.iter().enumerate() {
        if *v == GAP {
            flush(&mut current, &mut lines);
            continue;
        }
        let x = (offset + i) as f64 * step;
        let y = height - f64::from((*v).min(100)) / 100.0 * height;
        current.push((x, y));
    }
    flush(&mut current, &mut lines);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000 / MINUTE_MS * MINUTE_MS;

    #[test]
    fn a_minute_is_the_mean_of_its_heartbeats_and_a_silent_minute_a_gap() {
        let mut r = SparkRing::default();
        r.push(T0, [Some(10.0), Some(50.0), None]);
        r.push(T0 + 5_000, [Some(20.0), Some(51.0), None]);
        assert_eq!(
            r.sparks(),
            Sparks {
                cpu: vec![15],
                mem: vec![51],
                disk: vec![GAP]
            },
            "the running mean of the minute; a metric never read is a gap"
        );
        r.push(T0 + 3 * MINUTE_MS, [Some(99.6), Some(-4.0), Some(40.0)]);
        let s = r.sparks();
        assert_eq!(s.cpu, [15, GAP, GAP, 100]);
        assert_eq!(s.mem, [51, GAP, GAP, 0], "clamped to 0–100");
        assert_eq!(s.disk, [GAP, GAP, GAP, 40]);
    }

    #[test]
    fn stored_minutes_go_in_front_of_what_heartbeats_drew() {
        let stored = |from: i64, to: i64| {
            SparkRing::from_minutes(
                (from..=to).map(|m| (T0 + m * MINUTE_MS, [Some(m as f64), Some(50.0), None])),
            )
        };
        // Heartbeats came at minutes 10 and 11 before the stored minutes 0–10 were read.
        let mut live = SparkRing::default();
        live.push(T0 + 10 * MINUTE_MS + 5_000, [Some(70.0), None, None]);
        live.push(T0 + 11 * MINUTE_MS, [Some(80.0), None, None]);
        live.backfill(stored(0, 10));
        let s = live.sparks();
        assert_eq!(s.cpu.len(), 12);
        assert_eq!(&s.cpu[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(&s.cpu[10..], &[70, 80], "the heartbeats' minutes win");
        assert_eq!(s.mem[9], 50);
        assert_eq!(s.mem[10], GAP);
        // The newest minute's running mean goes on.
        live.push(T0 + 11 * MINUTE_MS + 5_000, [Some(90.0), None, None]);
        assert_eq!(live.sparks().cpu[11], 85);

        // Stored minutes ending before the first heartbeat: the minutes between are gaps.
        let mut live = SparkRing::default();
        live.push(T0 + 20 * MINUTE_MS, [Some(5.0), None, None]);
        live.backfill(stored(0, 16));
        let s = live.sparks();
        assert_eq!(s.cpu.len(), 21);
        assert_eq!(&s.cpu[16..], &[16, GAP, GAP, GAP, 5]);

        // No heartbeat yet: the stored minutes are the lines; half an hour at most.
        let mut empty = SparkRing::default();
        empty.backfill(stored(0, 40));
        assert_eq!(empty.sparks().cpu.len(), SPARK_POINTS);
        assert_eq!(empty.sparks().cpu[0], 11);
        // Nothing stored: nothing changes.
        let before = live.sparks();
        live.backfill(SparkRing::default());
        assert_eq!(live.sparks(), before);
        // Stored minutes all newer than the first heartbeat's: nothing to put in front.
        live.backfill(stored(20, 22));
        assert_eq!(live.sparks(), before);
    }

    #[test]
    fn the_ring_keeps_half_an_hour_and_ignores_a_replayed_past() {
        let mut r = SparkRing::default();
        for m in 0..40 {
            r.push(T0 + m * MINUTE_MS, [Some(m as f64), None, None]);
        }
        let s = r.sparks();
        assert_eq!(s.cpu.len(), SPARK_POINTS);
        assert_eq!((s.cpu[0], s.cpu[29]), (10, 39));
        r.push(T0, [Some(90.0), None, None]);
        assert_eq!(
            r.sparks(),
            s,
            "an old heartbeat from a buffer changes nothing"
        );
        // A host back after hours starts a fresh half hour of gaps, not 180 points.
        r.push(T0 + 220 * MINUTE_MS, [Some(5.0), None, None]);
        let s = r.sparks();
        assert_eq!(s.cpu.len(), SPARK_POINTS);
        assert_eq!(s.cpu.iter().filter(|v| **v != GAP).count(), 1);
        assert_eq!(s.cpu[29], 5);
    }

    #[test]
    fn lines_are_right_aligned_split_at_gaps_and_a_lone_point_shows() {
        assert!(polylines(&[], 58.0, 10.0).is_empty());
        assert_eq!(polylines(&[0, 100], 58.0, 10.0), ["56.0,10.0 58.0,0.0"]);
        assert_eq!(
            polylines(&[50, GAP, 20, 20], 58.0, 10.0),
            ["51.0,5.0 52.0,5.0", "56.0,8.0 58.0,8.0"],
            "split at the gap; the lone 50 % point is a half-step dash ending at its minute"
        );
    }

    #[test]
    fn coordinates_are_written_to_the_nearest_tenth() {
        let step = 58.0 / (SPARK_POINTS - 1) as f64;
        for i in 0..SPARK_POINTS {
            for v in 0..=100u8 {
                for value in [i as f64 * step, 12.0 - f64::from(v) / 100.0 * 12.0] {
                    let mut out = String::new();
                    push_tenths(&mut out, value);
                    let (whole, tenth) = out.split_once('.').unwrap();
                    assert_eq!(tenth.len(), 1, "{out}");
                    let written: f64 = out.parse().unwrap();
                    assert!((written - value).abs() <= 0.05 + 1e-9, "{value} → {out}");
                    assert!(whole.parse::<u64>().is_ok(), "{out}");
                }
            }
        }
    }
}
