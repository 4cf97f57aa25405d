//! The weekly digest's drawing: a full week of hourly points for both lines (168 each, the
//! busiest the chart gets), drawn and encoded as the 800 × 400 PNG that is sent, with the
//! Debian font's words. It runs on a blocking thread every five minutes and before each send.
//!
//! Run: `cargo bench -p server --bench digest` (prints p50 / p99 per drawing and the PNG size).

use std::time::Instant;

use server::digest::chart::{draw, load_font, Line};

fn main() {
    let font = load_font(&server::config::DigestConfig::default().font_file).ok();
    let hour = 3_600_000;
    let start = 1_780_272_000_000 - 7 * 24 * hour;
    let score: Vec<(i64, f64)> = (0..168)
        .map(|i| (start + i * hour, 80.0 + 10.0 * ((i as f64) / 9.0).sin()))
        .collect();
    let disk: Vec<(i64, f64)> = (0..168)
        .map(|i| (start + i * hour, 37.0 + i as f64 * 0.05))
        .collect();
    let lines = [
        Line {
            name: "Health score",
            color: (0x1f, 0x6f, 0xeb),
            points: &score,
        },
        Line {
            name: "Disk used % (/)",
            color: (0xd9, 0x73, 0x06),
            points: &disk,
        },
    ];
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..200 {
        let t = Instant::now();
        let png = draw(
            "srv1491630 — week ending 2026-06-01",
            &lines,
            start,
            start + 168 * hour,
            font.as_ref(),
        )
        .unwrap();
        times.push(t.elapsed().as_micros() as u64);
        size = png.len();
    }
    times.sort_unstable();
    let at =
        |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)] as f64 / 1000.0;
    println!(
        "digest chart, 2 × 168 points, 800 × 400 PNG ({} bytes, words {}): p50 {:.2} ms, p99 {:.2} ms over 200 drawings",
        size,
        if font.is_some() { "drawn" } else { "left out: no font" },
        at(0.5),
        at(0.99)
    );
}
