//! Fleet ingest with hub replicas on PostgreSQL beside the embedded default, in one run on the
//! same machine: N hosts (default 2,000; `FLEET_HOSTS` sets it) each send one heartbeat of a
//! real round's size (27 metrics) per round, all at once, through validation and the group
//! commit — into one hub on SQLite, one hub on PostgreSQL, and two hubs on one PostgreSQL with
//! the hosts split between them (a hub on PostgreSQL commits its samples to the shared fleet
//! history and its host rows to the shared registry, as replicas do). Then, to say where the
//! time goes, one registry commit and one samples commit of 500 hosts timed alone on each
//! engine. The replicas are two `Fleet`s
//! in this process: on two cores they share the CPU as two processes would.
//!
//! Run: `cargo bench -p steward-tests --bench replicas` (needs Debian's `postgresql`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::vitals::thresholds::Thresholds;
use server::config::FleetConfig;
use server::fleet::heartbeat;
use server::fleet::store::{FleetStore, HostUpdate, LatestRow};
use server::fleet::Fleet;
use server::store::history::postgres::PgHistory;
use server::store::history::{HistoryStore, HostHistory, Sample};
use steward_tests::postgres::Postgres;
use tokio_util::sync::CancellationToken;

#[path = "../../server/benches/fixtures/heartbeat.rs"]
mod fixture;

const ROUNDS: usize = 5;

/// One hub: its own SQLite file and its registry (SQLite or the shared PostgreSQL).
struct Hub {
    fleet: Arc<Fleet>,
    task: tokio::task::JoinHandle<()>,
    history: Arc<HistoryStore>,
    _dir: tempfile::TempDir,
}

/// A hub on `shared` (the registry and the fleet history on PostgreSQL), or on its own SQLite
/// file holding `names` when there is none.
async fn hub(
    shared: Option<(FleetStore, Arc<PgHistory>)>,
    names: &[String],
    cancel: &CancellationToken,
) -> Hub {
    let hosts = names.len();
    let dir = tempfile::tempdir().unwrap();
    let history = Arc::new(
        HistoryStore::open(&dir.path().join("steward.db"))
            .await
            .unwrap(),
    );
    let (registry, samples): (FleetStore, Arc<dyn HostHistory>) = match shared {
        Some((r, h)) => (r, h),
        None => {
            let r = FleetStore::new(history.pool().clone());
            add_hosts(&r, names).await;
            (r, history.clone())
        }
    };
    let (fleet, task) = Fleet::start(
        samples,
        registry,
        FleetConfig {
            ingest_queue: (hosts * 2) as u64,
            ..FleetConfig::default()
        },
        Thresholds::default(),
        server::store::audit::AuditLog::new(history.pool().clone()),
        None,
        cancel.clone(),
    )
    .await
    .unwrap();
    Hub {
        fleet,
        task,
        history,
        _dir: dir,
    }
}

/// Sends `ROUNDS` rounds of one heartbeat per host, host `i` to hub `i % hubs.len()`;
/// returns the median round's heartbeats/s and the ack p50 and p99 in ms.
async fn ingest(hubs: &[Hub], names: &[String]) -> (f64, f64, f64) {
    let thresholds = Thresholds::default();
    let mut acks = Vec::new();
    let mut rates = Vec::new();
    for round in 0..ROUNDS {
        let at = app::shared::clock::now_ms() - (ROUNDS - round) as i64 * 5000;
        let started = Instant::now();
        let mut waits = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let fleet = hubs[i % hubs.len()].fleet.clone();
            let a = heartbeat::validate(
                fixture::beat(round as u64 + 1, at, i),
                name,
                app::shared::clock::now_ms(),
                fleet.limits(),
                &thresholds,
            )
            .unwrap();
            let name = name.clone();
            waits.push(tokio::spawn(async move {
                let t = Instant::now();
                fleet.ingest(name, String::new(), a).await.unwrap();
                t.elapsed().as_micros() as u64
            }));
        }
        for w in waits {
            acks.push(w.await.unwrap());
        }
        rates.push(names.len() as f64 / started.elapsed().as_secs_f64());
    }
    acks.sort_unstable();
    rates.sort_by(f64::total_cmp);
    let q = |p: f64| acks[((acks.len() as f64 * p) as usize).min(acks.len() - 1)] as f64 / 1e3;
    (rates[rates.len() / 2], q(0.5), q(0.99))
}

/// Median time of one registry commit of `n` host rows (the group commit's second half),
/// with each host's latest state (`state`, as replicas share it) when given.
async fn registry_commit(
    store: &FleetStore,
    names: &[String],
    n: usize,
    state: Option<&str>,
) -> Duration {
    let mut times = Vec::new();
    for round in 0..5u64 {
        let updates: Vec<HostUpdate> = names[..n]
            .iter()
            .map(|h| HostUpdate {
                host: h.clone(),
                digest: String::new(),
                received_ms: app::shared::clock::now_ms(),
                seq: 100 + round,
                agent_version: "bench".into(),
                agent_status: "ready",
                rejected: 0,
                clamped: 0,
                agent_dropped: 0,
            })
            .collect();
        let latest: Vec<LatestRow> = match state {
            Some(state) => names[..n]
                .iter()
                .map(|h| LatestRow {
                    host: h.clone(),
                    collected_ms: app::shared::clock::now_ms(),
                    writer: "bench".into(),
                    state: state.to_string(),
                })
                .collect(),
            None => Vec::new(),
        };
        let t = Instant::now();
        store.record(&updates, &[], &latest).await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// Median time of one samples commit of `n` hosts' heartbeats (the group commit's first half).
async fn samples_commit(history: &dyn HostHistory, names: &[String], n: usize) -> Duration {
    let mut times = Vec::new();
    for round in 0..5i64 {
        let at = app::shared::clock::now_ms() + round * 5000;
        let batches: Vec<(server::platform::bus::HostId, Vec<Sample>)> = names[..n]
            .iter()
            .map(|h| {
                let samples = (0..27)
                    .map(|k| Sample {
                        series: format!("metric_{k}"),
                        ts_ms: at,
                        value: k as f64 + round as f64,
                    })
                    .collect();
                (h.as_str().into(), samples)
            })
            .collect();
        let refs: Vec<_> = batches
            .iter()
            .map(|(h, s)| (h.clone(), s.as_slice()))
            .collect();
        let t = Instant::now();
        history.write_hosts(&refs).await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

async fn add_hosts(store: &FleetStore, names: &[String]) {
    for name in names {
        store.add(name, None).await.unwrap();
    }
}

fn main() {
    let hosts: usize = std::env::var("FLEET_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let names: Vec<String> = (0..hosts).map(|i| format!("host-{i:05}")).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let pg = Postgres::start();
    rt.block_on(async move {
        let cancel = CancellationToken::new();
        println!(
            "fleet ingest, {hosts} hosts × {ROUNDS} rounds, 27 metrics each, acked after commit \
             ({} cores)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );

        let sqlite = hub(None, &names, &cancel).await;
        let sqlite_registry = sqlite.fleet.store().clone();
        let (rate, p50, p99) = ingest(std::slice::from_ref(&sqlite), &names).await;
        println!(
            "  1 hub on SQLite:            {rate:>7.0} heartbeats/s (median round), ack p50 {p50:.1} ms, p99 {p99:.1} ms"
        );

        let pool = |n| {
            let url = pg.url();
            async move {
                server::store::postgres::open(&url, Duration::from_secs(10), n)
                    .await
                    .unwrap()
            }
        };
        let shared = FleetStore::postgres(pool(8).await);
        add_hosts(&shared, &names).await;
        let on_pg = |n| async move {
            let p = pool(n).await;
            (
                FleetStore::postgres(p.clone()),
                Arc::new(PgHistory::open(p).await.unwrap()),
            )
        };
        let one = hub(Some(on_pg(8).await), &names, &cancel).await;
        let (rate, p50, p99) = ingest(std::slice::from_ref(&one), &names).await;
        println!(
            "  1 hub on PostgreSQL:        {rate:>7.0} heartbeats/s (median round), ack p50 {p50:.1} ms, p99 {p99:.1} ms"
        );
        let two = [
            hub(Some(on_pg(8).await), &names, &cancel).await,
            hub(Some(on_pg(8).await), &names, &cancel).await,
        ];
        let (rate, p50, p99) = ingest(&two, &names).await;
        println!(
            "  2 hubs on one PostgreSQL:   {rate:>7.0} heartbeats/s (median round, both together), ack p50 {p50:.1} ms, p99 {p99:.1} ms"
        );

        let n = 500.min(hosts);
        let on_sqlite = registry_commit(&sqlite_registry, &names, n, None).await;
        let on_pg = registry_commit(&shared, &names, n, None).await;
        // A real round's state, as the group commit of a replica writes it per host.
        let now = app::shared::clock::now_ms();
        let state = server::fleet::latest::encode(
            &heartbeat::validate(
                fixture::beat(1, now, 0),
                &names[0],
                now,
                one.fleet.limits(),
                &Thresholds::default(),
            )
            .unwrap(),
        );
        let with_state = registry_commit(&shared, &names, n, Some(&state)).await;
        println!(
            "  registry commit of {n} host rows alone (median of 5): SQLite {:.1} ms, PostgreSQL {:.1} ms, \
             PostgreSQL with the hosts' latest states {:.1} ms ({} bytes each)",
            on_sqlite.as_secs_f64() * 1e3,
            on_pg.as_secs_f64() * 1e3,
            with_state.as_secs_f64() * 1e3,
            state.len()
        );

        let pg_history = PgHistory::open(pool(8).await).await.unwrap();
        let samples_sqlite = samples_commit(sqlite.history.as_ref(), &names, n).await;
        let samples_pg = samples_commit(&pg_history, &names, n).await;
        println!(
            "  samples commit of {n} hosts × 27 alone (median of 5): SQLite {:.1} ms, PostgreSQL {:.1} ms",
            samples_sqlite.as_secs_f64() * 1e3,
            samples_pg.as_secs_f64() * 1e3,
        );
        // The lease holder's first rollup round over everything the runs above wrote.
        let raw = pg_history.row_counts().await.unwrap()[0].1;
        let t = Instant::now();
        let written = pg_history
            .rollup(app::shared::clock::now_ms() + 3_600_000)
            .await
            .unwrap();
        println!(
            "  PostgreSQL rollup round over {raw} raw samples: {:.0} ms, {written} rows written",
            t.elapsed().as_secs_f64() * 1e3
        );

        cancel.cancel();
        for h in [sqlite, one].into_iter().chain(two) {
            h.task.await.unwrap();
            h.history.close().await;
        }
    });
}
