//! Remote write of fleet samples: how fast the hub turns committed heartbeats into remote-write
//! bodies (encode only), and how many samples per second reach a real receiver on loopback
//! (VictoriaMetrics when `victoria-metrics` is installed, else Prometheus with its receiver),
//! for one 5-second round of N hosts (default 100,000; `RW_HOSTS` sets it; `RW_SHARDS` the requests in flight), each a
//! node-exporter-sized heartbeat (27 samples). Figures: samples/s delivered, the lag from the
//! last push to the last ack, this process's CPU time, the receiver's CPU time.
//!
//! Run: `cargo bench -p server --bench remote_write`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use server::config::RemoteWriteConfig;
use server::platform::bus::Bus;
use server::remote_write::{proto, Entry, RemoteWriter};
use server::store::history::Sample;
use tokio_util::sync::CancellationToken;

#[path = "fixtures/heartbeat.rs"]
mod fixture;
#[path = "fixtures/receiver.rs"]
mod receiver;
use receiver::{cpu_secs, start_receiver};

fn entry(i: usize, at: i64) -> Entry {
    let hb = fixture::beat(1, at, i);
    Entry {
        host: Arc::from(format!("host-{i:06}")),
        group: Some(Arc::from(if i.is_multiple_of(2) { "eu" } else { "us" })),
        samples: hb
            .metrics
            .iter()
            .map(|m| Sample {
                series: app::vitals::series_key(&m.name, m.label.as_deref()),
                ts_ms: at,
                value: m.value.unwrap_or(0.0),
            })
            .collect(),
    }
}

fn main() {
    let hosts: usize = std::env::var("RW_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let now = app::shared::clock::now_ms();
    let entries: Vec<Entry> = (0..hosts).map(|i| entry(i, now)).collect();
    let samples: usize = entries.iter().map(|e| e.samples.len()).sum();

    // Encode only: the default batch size.
    let started = Instant::now();
    let mut bytes = 0;
    let per_batch = 5_000 / entries[0].samples.len().max(1);
    for chunk in entries.chunks(per_batch) {
        bytes += proto::encode(chunk).0.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "encode: {samples} samples in {:.0} ms = {:.0} samples/s, {:.1} bytes/sample on the wire",
        secs * 1e3,
        samples as f64 / secs,
        bytes as f64 / samples as f64
    );

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (receiver, name, url) = start_receiver(dir.path(), port);
    let receiver_pid = receiver.0.id().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let shards = std::env::var("RW_SHARDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(RemoteWriteConfig::default().shards);
        println!("{shards} requests in flight at most (remote_write.shards; RW_SHARDS sets it)");
        let writer = RemoteWriter::new(&RemoteWriteConfig {
            url,
            shards,
            capacity_samples: (samples * 2) as u64,
            ..RemoteWriteConfig::default()
        })
        .unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(writer.clone().run(Arc::new(Bus::new()), cancel.clone()));
        // Round 1 creates every series in the receiver; round 2 (5 s later in sample time)
        // appends to them, as every later round does.
        let mut delivered = 0u64;
        for round in 1..=2i64 {
            let at = now + (round - 1) * 5_000;
            let entries: Vec<Entry> = (0..hosts).map(|i| entry(i, at)).collect();
            let (cpu0, rcpu0) = (cpu_secs("self"), cpu_secs(&receiver_pid));
            let started = Instant::now();
            for e in entries {
                writer.push(e);
            }
            let pushed = started.elapsed();
            delivered += samples as u64;
            while writer.stats.sent_samples.load(Ordering::Relaxed)
                + writer.stats.refused_samples.load(Ordering::Relaxed)
                + writer.dropped()
                < delivered
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
                assert!(
                    started.elapsed() < Duration::from_secs(600),
                    "not delivered in 10 min: {} of {delivered}",
                    writer.stats.sent_samples.load(Ordering::Relaxed)
                );
            }
            let took = started.elapsed();
            let (cpu, rcpu) = (cpu_secs("self") - cpu0, cpu_secs(&receiver_pid) - rcpu0);
            let s = &writer.stats;
            println!(
                "{name}, round {round} ({}): {hosts} hosts × 27 = {samples} samples delivered in {:.2} s = {:.0} samples/s \
                 ({} requests so far, {} failed, {} refused, {} dropped); pushed in {} ms, last ack {:.2} s after the last push; \
                 Steward CPU {cpu:.2} s, receiver CPU {rcpu:.2} s",
                if round == 1 { "new series" } else { "existing series" },
                took.as_secs_f64(),
                samples as f64 / took.as_secs_f64(),
                s.sent_requests.load(Ordering::Relaxed),
                s.failed_requests.load(Ordering::Relaxed),
                s.refused_samples.load(Ordering::Relaxed),
                writer.dropped(),
                pushed.as_millis(),
                (took - pushed).as_secs_f64(),
            );
        }
        println!(
            "one round of {hosts} hosts every 5 s needs {:.0} samples/s",
            samples as f64 / 5.0
        );
        cancel.cancel();
        let _ = task.await;
    });
    drop(receiver);
}
