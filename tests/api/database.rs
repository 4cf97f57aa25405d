//! Users, sessions, the fleet registry, the audit log, alerts and heartbeat jobs on the embedded SQLite file and on a real
//! PostgreSQL (`[database] url`, a fresh cluster on loopback per test): the same suites through
//! the same traits on both, and two hub replicas on one PostgreSQL where a session made on one
//! works on the other and a host added on one is served by the other.

use std::sync::Arc;
use std::time::Duration;

use app::alerts::{AlertState, Severity};
use app::fleet::action::{ActionKind, ActionState, FleetAction};
use app::fleet::{Health, HealthCheck};
use app::shared::range::Resolution;
use server::alerts::history::{AlertHistoryDb, PgAlertHistory, SqliteAlertHistory};
use server::alerts::shared::{Held, SharedAlerts};
use server::alerts::silences::{PgSilences, SilenceDb, SqliteSilences};
use server::fleet::store::{FleetDb, FleetError, FleetStore, HostUpdate, LatestRow, TokenCheck};
use server::maintenance::job_store::{End, HeartbeatJob, JobStore, PgJobs, Ping, SqliteJobs};
use server::store::audit::db::{AuditDb, PgAudit, SqliteAudit};
use server::store::audit::{Action, AuditLog, Entry, Outcome, Refusal};
use server::store::history::postgres::PgHistory;
use server::store::history::{HistoryError, HistoryStore, HostHistory, Sample};
use server::store::users::{NewSession, PgUsers, SqliteUsers, UserStore};
use steward_tests::postgres::Postgres;

use crate::helpers::spawn_app;
use crate::maintenance::{job, job_token, ping};

/// What every engine must do alike.
async fn exercise(users: &dyn UserStore) {
    let engine = users.engine();
    assert!(!users.admin_exists().await.unwrap(), "{engine}: empty");
    assert!(
        users.create_first_admin("root", "$hash1", 1).await.unwrap(),
        "{engine}"
    );
    assert!(users.admin_exists().await.unwrap(), "{engine}");
    assert!(
        !users
            .create_first_admin("other", "$hash2", 2)
            .await
            .unwrap(),
        "{engine}: an admin exists, no second first admin"
    );
    assert_eq!(users.user("other").await.unwrap(), None, "{engine}");
    let (id, role) = users.user("root").await.unwrap().unwrap();
    assert_eq!(role, "admin", "{engine}");
    assert_eq!(
        users.password_hash("root").await.unwrap().as_deref(),
        Some("$hash1"),
        "{engine}"
    );
    assert_eq!(users.password_hash("nobody").await.unwrap(), None);

    users
        .insert_session(NewSession {
            token_hash: "t1",
            user_id: id,
            csrf: "c1",
            created_ms: 10,
            expires_ms: 1_000,
        })
        .await
        .unwrap();
    let s = users.session("t1", 500).await.unwrap().unwrap();
    assert_eq!(
        (s.username.as_str(), s.role.as_str(), s.csrf.as_str()),
        ("root", "admin", "c1"),
        "{engine}"
    );
    assert_eq!(
        users.session("t1", 1_000).await.unwrap(),
        None,
        "{engine}: expired"
    );
    assert_eq!(users.session("t2", 500).await.unwrap(), None, "{engine}");

    // A new password and role end the user's sessions.
    users
        .upsert_user("root", "$hash3", "viewer", 20)
        .await
        .unwrap();
    assert_eq!(users.session("t1", 500).await.unwrap(), None, "{engine}");
    assert_eq!(
        users.user("root").await.unwrap().unwrap(),
        (id, "viewer".to_string()),
        "{engine}: the same user, updated"
    );
    users
        .upsert_user("ops", "$hash4", "admin", 30)
        .await
        .unwrap();
    assert!(users.admin_exists().await.unwrap());

    // Ending one session also clears the expired ones.
    for (t, exp) in [("a", 2_000), ("b", 100)] {
        users
            .insert_session(NewSession {
                token_hash: t,
                user_id: id,
                csrf: "c",
                created_ms: 10,
                expires_ms: exp,
            })
            .await
            .unwrap();
    }
    users.end_session("a", 500).await.unwrap();
    assert_eq!(users.session("a", 500).await.unwrap(), None, "{engine}");
    assert_eq!(
        users.session("b", 50).await.unwrap(),
        None,
        "{engine}: b expired at 100 and went"
    );
}

/// What every engine must do alike with the fleet registry.
async fn exercise_fleet(s: &dyn FleetDb) {
    let engine = s.engine();
    let first = s.add("gpu-01", None).await.unwrap();
    assert!(
        matches!(s.add("gpu-01", None).await, Err(FleetError::Exists(_))),
        "{engine}"
    );
    assert!(matches!(
        s.add("Bad Name", None).await,
        Err(FleetError::BadName(_))
    ));
    assert!(
        matches!(s.check(&first).await.unwrap(), TokenCheck::Valid { ref host, .. } if host == "gpu-01"),
        "{engine}"
    );

    // Rotated with a grace period: both work, the old one shows its end; without grace the
    // older ones stop at once and their uses are counted on the host.
    let second = s.rotate("gpu-01", 60_000).await.unwrap();
    assert!(matches!(
        s.check(&first).await.unwrap(),
        TokenCheck::Valid { .. }
    ));
    let tokens = s.tokens("gpu-01").await.unwrap();
    assert_eq!(tokens.len(), 2, "{engine}");
    assert!(tokens[1].expires_ms.is_some(), "{engine}: newest first");
    let third = s.rotate("gpu-01", 0).await.unwrap();
    for old in [&first, &second] {
        assert!(
            matches!(s.check(old).await.unwrap(), TokenCheck::Refused { .. }),
            "{engine}"
        );
    }
    assert!(matches!(
        s.check(&third).await.unwrap(),
        TokenCheck::Valid { .. }
    ));
    assert_eq!(s.revoke("gpu-01").await.unwrap(), 1, "{engine}");
    assert_eq!(
        s.check(&third).await.unwrap(),
        TokenCheck::Refused {
            host: "gpu-01".into(),
            why: "revoked"
        }
    );
    assert_eq!(s.host("gpu-01").await.unwrap().unwrap().refused_tokens, 3);
    assert_eq!(s.check("never-issued").await.unwrap(), TokenCheck::Unknown);
    assert_eq!(s.unknown_tokens().await.unwrap(), 0, "{engine}");
    s.save_unknown_tokens(2).await.unwrap();
    s.save_unknown_tokens(5).await.unwrap();
    assert_eq!(s.unknown_tokens().await.unwrap(), 5, "{engine}");
    assert!(matches!(
        s.rotate("nope", 0).await,
        Err(FleetError::NoHost(_))
    ));
    assert!(matches!(s.revoke("nope").await, Err(FleetError::NoHost(_))));

    // Heartbeats: counters add up, the newest heartbeat wins over a late commit.
    let token = s
        .add("web-01", Some("http://127.0.0.1:1/healthz"))
        .await
        .unwrap();
    let TokenCheck::Valid { digest, .. } = s.check(&token).await.unwrap() else {
        panic!("{engine}: a new token is valid");
    };
    let update = |received_ms, seq| HostUpdate {
        host: "web-01".into(),
        digest: digest.clone(),
        received_ms,
        seq,
        agent_version: "1.2.3".into(),
        agent_status: "ready",
        rejected: 1,
        clamped: 2,
        agent_dropped: 7,
    };
    // One batch with two of the host's heartbeats (a replay), then a late one alone.
    // Each carries the host's latest state as replicas share it: the newest collected wins,
    // a replica reads only others' rows, and a host deleted meanwhile fails nothing.
    let state = |collected_ms: i64, writer: &str| LatestRow {
        host: "web-01".into(),
        collected_ms,
        writer: writer.into(),
        state: format!("state at {collected_ms}"),
    };
    let gone = LatestRow {
        host: "no-such-host".into(),
        ..state(1, "r1")
    };
    let before = app::shared::clock::now_ms();
    s.record(
        &[update(5_000, 9), update(3_000, 7)],
        &[],
        &[state(5_000, "r1"), state(3_000, "r1"), gone],
    )
    .await
    .unwrap();
    s.record(&[update(4_000, 8)], &[], &[state(4_000, "r2")])
        .await
        .unwrap();
    let seen = s.latest_since(before, "r2").await.unwrap();
    assert_eq!(seen, [state(5_000, "r1")], "{engine}: newest kept, once");
    assert!(
        s.latest_since(before, "r1").await.unwrap().is_empty(),
        "{engine}: a replica skips its own rows"
    );
    assert!(s
        .latest_since(app::shared::clock::now_ms() + 60_000, "r2")
        .await
        .unwrap()
        .is_empty());
    let h = s.host("web-01").await.unwrap().unwrap();
    assert_eq!(h.last_heartbeat_ms, Some(5_000), "{engine}: newest wins");
    assert_eq!(
        (
            h.heartbeats_total,
            h.rejected_fields,
            h.clamped_fields,
            h.agent_dropped
        ),
        (3, 3, 6, 7),
        "{engine}"
    );
    assert_eq!(h.agent_version.as_deref(), Some("1.2.3"));
    assert_eq!(h.address.as_deref(), Some("http://127.0.0.1:1/healthz"));
    let used = s.tokens("web-01").await.unwrap();
    assert_eq!(
        used[0].last_used_ms,
        Some(5_000),
        "{engine}: the newest use"
    );
    s.set_address("web-01", None).await.unwrap();
    assert_eq!(s.host("web-01").await.unwrap().unwrap().address, None);
    assert!(matches!(
        s.set_address("nope", None).await,
        Err(FleetError::NoHost(_))
    ));
    let names: Vec<String> = s
        .hosts()
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.host)
        .collect();
    assert_eq!(names, ["gpu-01", "web-01"], "{engine}");

    // Health changes: stored for known hosts only, trimmed to the newest, latest per host.
    let check = |at_ms, status| HealthCheck {
        at_ms,
        status,
        latency_ms: Some(12),
        reason: format!("at {at_ms}"),
    };
    let mut changes: Vec<(String, HealthCheck)> = (0..105)
        .map(|i| ("web-01".to_string(), check(i, Health::Healthy)))
        .collect();
    changes.push(("web-01".into(), check(200, Health::Critical)));
    changes.push(("gpu-01".into(), check(150, Health::Unreachable)));
    changes.push(("ghost".into(), check(150, Health::Healthy)));
    s.record_health(&changes).await.unwrap();
    let web = s.health_changes("web-01", 1_000).await.unwrap();
    assert_eq!(
        web.len() as i64,
        server::fleet::store::KEEP_HEALTH_CHANGES,
        "{engine}"
    );
    assert_eq!(
        web[0],
        check(200, Health::Critical),
        "{engine}: newest first"
    );
    let mut latest = s.latest_health().await.unwrap();
    latest.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        latest,
        vec![
            ("gpu-01".to_string(), check(150, Health::Unreachable)),
            ("web-01".to_string(), check(200, Health::Critical)),
        ],
        "{engine}: no row for a host that does not exist"
    );

    // Groups: names checked, renames carry their hosts, deletes leave them ungrouped.
    s.create_group("prod").await.unwrap();
    assert!(matches!(
        s.create_group("prod").await,
        Err(FleetError::GroupExists(_))
    ));
    assert!(matches!(
        s.create_group("Not OK").await,
        Err(FleetError::BadGroup(_))
    ));
    let both = ["gpu-01".to_string(), "web-01".to_string()];
    assert_eq!(s.assign(&both, Some("prod")).await.unwrap(), 2);
    assert!(
        matches!(
            s.assign(&both, Some("none")).await,
            Err(FleetError::NoGroup(_))
        ),
        "{engine}"
    );
    assert!(matches!(
        s.assign(&["web-01".to_string(), "ghost".to_string()], None)
            .await,
        Err(FleetError::NoHosts(_))
    ));
    assert_eq!(
        s.host("web-01").await.unwrap().unwrap().group.as_deref(),
        Some("prod"),
        "{engine}: all or none"
    );
    s.create_group("staging").await.unwrap();
    assert!(matches!(
        s.rename_group("prod", "staging").await,
        Err(FleetError::GroupExists(_))
    ));
    s.rename_group("prod", "live").await.unwrap();
    assert_eq!(
        s.host("gpu-01").await.unwrap().unwrap().group.as_deref(),
        Some("live"),
        "{engine}: the hosts follow a rename"
    );
    s.delete_group("live").await.unwrap();
    assert!(matches!(
        s.delete_group("live").await,
        Err(FleetError::NoGroup(_))
    ));
    assert_eq!(s.groups().await.unwrap(), ["staging"]);
    assert_eq!(s.host("gpu-01").await.unwrap().unwrap().group, None);

    // Actions: stored per confirmation, updated by a heartbeat's commit, newest kept.
    let action = |i: i64| FleetAction {
        id: format!("a{i:03}"),
        batch: format!("b{}", i / 2),
        host: "web-01".into(),
        kind: ActionKind::RestartUnhealthy,
        containers: vec!["db".into()],
        requested_by: "admin".into(),
        requested_ms: i,
        state: ActionState::Queued,
        delivered_ms: None,
        updated_ms: i,
        finished_ms: None,
        results: Vec::new(),
        message: None,
    };
    let many: Vec<FleetAction> = (0..105).map(action).collect();
    s.insert_actions(&many).await.unwrap();
    let mut done = action(104);
    done.state = ActionState::Done;
    done.finished_ms = Some(999);
    done.message = Some("restarted 1".into());
    s.record(&[], &[done.clone()], &[]).await.unwrap();
    let batch = s.batch("b52").await.unwrap();
    assert_eq!(batch.len(), 1, "{engine}: a104 alone in b52");
    assert_eq!(batch[0], done, "{engine}");
    let recent = s.recent_actions().await.unwrap();
    assert_eq!(
        recent.len() as i64,
        server::fleet::store::RECENT_ACTIONS,
        "{engine}"
    );
    assert_eq!(recent[0].id, "a104", "{engine}: newest first");
    assert!(s.batch("b0").await.unwrap().is_empty(), "{engine}: trimmed");
    let since: Vec<String> = s
        .actions_since(100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(since, ["a100", "a101", "a102", "a103", "a104"], "{engine}");

    // Deleting a host takes its tokens, health, actions and latest state with it.
    s.delete("web-01").await.unwrap();
    assert!(s.latest_since(0, "").await.unwrap().is_empty(), "{engine}");
    assert!(matches!(
        s.delete("web-01").await,
        Err(FleetError::NoHost(_))
    ));
    assert_eq!(s.check(&token).await.unwrap(), TokenCheck::Unknown);
    assert!(s.health_changes("web-01", 10).await.unwrap().is_empty());
    assert!(s.recent_actions().await.unwrap().is_empty(), "{engine}");
}

/// The audit log through two nodes sharing one log: what each wrote, paging, refusals
/// written per key, restarts counted per node, long details clipped, retention.
async fn exercise_audit(engine: &str, local: &sqlx::SqlitePool, log: Arc<dyn AuditDb>) {
    let a = AuditLog::with_log(local.clone(), log.clone(), "node-a");
    let b = AuditLog::with_log(local.clone(), log.clone(), "node-b");
    let entry = |action, target, outcome| Entry {
        actor: "ops",
        action,
        target,
        outcome,
        detail: None,
    };
    for _ in 0..3 {
        a.record(entry(Action::Restart, "nginx", Outcome::Ok)).await;
    }
    a.record(entry(Action::Restart, "nginx", Outcome::Failed))
        .await;
    b.record(entry(Action::WatchdogRestart, "nginx", Outcome::Ok))
        .await;
    b.record(Entry {
        detail: Some(&"é".repeat(3000)),
        ..entry(Action::Explore, "promql", Outcome::Ok)
    })
    .await;
    for _ in 0..2 {
        a.refused(Refusal {
            action: Action::Login,
            actor: "mallory",
            client: "203.0.113.9",
            target: "admin",
            reason: "wrong password",
        });
    }
    assert_eq!(a.flush_refusals().await.unwrap(), 1, "{engine}");
    assert_eq!(a.flush_refusals().await.unwrap(), 0, "{engine}");

    // Either node reads everything, newest first, in pages.
    let all = b.list(None, 500).await.unwrap();
    assert_eq!(all.len(), 7, "{engine}: {all:?}");
    assert_eq!(all[0].result, "refused", "{engine}");
    assert_eq!(all[0].node, "node-a", "{engine}");
    assert!(
        all[0].detail.as_deref().unwrap().starts_with("2 times in"),
        "{engine}: {:?}",
        all[0].detail
    );
    let explore = &all[1];
    assert_eq!(
        (explore.node.as_str(), explore.action.as_str()),
        ("node-b", "explore")
    );
    assert_eq!(
        explore.detail.as_ref().unwrap().len(),
        4096,
        "{engine}: clipped"
    );
    let page = a.list(Some(all[2].id), 2).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[3].id, all[4].id],
        "{engine}"
    );

    // Restarts are counted per node: a's three, b's one (a failed one is not a restart).
    assert_eq!(a.restarts_since(0).await.unwrap(), 3, "{engine}");
    assert_eq!(b.restarts_since(0).await.unwrap(), 1, "{engine}");
    assert_eq!(a.restarts_since(i64::MAX).await.unwrap(), 0, "{engine}");
    let fresh = AuditLog::with_log(local.clone(), log.clone(), "node-a");
    fresh.load_restart_counts().await.unwrap();
    assert_eq!(fresh.restarts_of("nginx"), 3, "{engine}");

    // Retention: the row count first, then the age.
    let config = server::config::AuditConfig {
        retention_days: 0,
        max_rows: 5,
        ..Default::default()
    };
    a.enforce_retention(&config, app::shared::clock::now_ms())
        .await
        .unwrap();
    let kept = a.list(None, 500).await.unwrap();
    assert_eq!(
        kept.iter().map(|e| e.id).collect::<Vec<_>>(),
        all[..5].iter().map(|e| e.id).collect::<Vec<_>>(),
        "{engine}: the oldest go first"
    );
    let config = server::config::AuditConfig {
        retention_days: 1,
        ..config
    };
    let tomorrow = app::shared::clock::now_ms() + 2 * 86_400_000;
    a.enforce_retention(&config, tomorrow).await.unwrap();
    assert!(a.list(None, 500).await.unwrap().is_empty(), "{engine}");
}

/// Silences alike on both engines: stored, in force until their end, ended once.
async fn exercise_silences(engine: &str, db: &dyn SilenceDb) {
    let silence = |minutes: i64, comment: &str| app::alerts::SilenceView {
        id: 0,
        matchers: vec![("alertname".into(), "heartbeat_stale".into())],
        starts_ms: 1_000,
        ends_ms: 1_000 + minutes * 60_000,
        comment: comment.into(),
        created_by: "ops".into(),
    };
    let long = db.insert(&silence(60, "long")).await.unwrap();
    let short = db.insert(&silence(1, "short")).await.unwrap();
    assert_ne!(long, short, "{engine}");
    let now = 2_000;
    let active = db.active(now).await.unwrap();
    assert_eq!(
        active
            .iter()
            .map(|s| (s.id, s.comment.as_str()))
            .collect::<Vec<_>>(),
        [(long, "long"), (short, "short")],
        "{engine}"
    );
    assert_eq!(active[0].matchers, silence(1, "").matchers, "{engine}");
    // The short one has run out two minutes later; the long one is ended early, once.
    assert_eq!(db.active(121_000).await.unwrap().len(), 1, "{engine}");
    assert!(
        !db.end(short, 121_000).await.unwrap(),
        "{engine}: over already"
    );
    assert!(db.end(long, 121_000).await.unwrap(), "{engine}");
    assert!(!db.end(long, 122_000).await.unwrap(), "{engine}");
    assert!(db.active(121_000).await.unwrap().is_empty(), "{engine}");
    assert_eq!(db.shared(), engine == "postgresql");
}

/// Heartbeat jobs alike on both engines: created once per slug, found by slug and token digest,
/// a start paired with its end, an end without a start a run of its own, rotated, trimmed per
/// job, deleted with their reports.
async fn exercise_jobs(engine: &str, db: &dyn JobStore) {
    let job = |slug: &str| HeartbeatJob {
        id: 0,
        slug: slug.into(),
        name: format!("Job {slug}"),
        schedule: "0 2 * * *".into(),
        grace_secs: 3600,
        created_ms: 1_000,
    };
    assert!(db.create_job(&job("backup"), "d1", "ops").await.unwrap());
    assert!(
        !db.create_job(&job("backup"), "d9", "ops").await.unwrap(),
        "{engine}: the slug is taken"
    );
    assert!(db.create_job(&job("vacuum"), "d2", "ops").await.unwrap());
    let jobs = db.jobs().await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.slug.as_str()).collect::<Vec<_>>(),
        ["backup", "vacuum"],
        "{engine}"
    );
    assert_eq!(
        (
            jobs[0].grace_secs,
            jobs[0].created_ms,
            jobs[0].name.as_str()
        ),
        (3600, 1_000, "Job backup"),
        "{engine}"
    );
    let id = db.job_by_token("backup", "d1").await.unwrap().unwrap();
    assert_eq!(id, jobs[0].id, "{engine}");
    assert_eq!(
        db.job_by_token("backup", "d2").await.unwrap(),
        None,
        "{engine}"
    );
    assert_eq!(
        db.job_by_token("nobody", "d1").await.unwrap(),
        None,
        "{engine}"
    );
    let mut tokens = db.tokens().await.unwrap();
    tokens.sort();
    assert_eq!(
        tokens[0],
        ("backup".to_string(), id, "d1".to_string()),
        "{engine}"
    );

    // A start and its failure pair into one run; an ok with no open run is a run of its own;
    // an end after the pairing window does not close a start that old.
    db.ping(id, Ping::Start, 10_000, End::default(), 60_000)
        .await
        .unwrap();
    let fail = End {
        exit_code: Some(3),
        log: Some("rsync: disk full\n"),
    };
    db.ping(id, Ping::Fail, 20_000, fail, 60_000).await.unwrap();
    db.ping(id, Ping::Ok, 30_000, End::default(), 60_000)
        .await
        .unwrap();
    db.ping(id, Ping::Start, 40_000, End::default(), 60_000)
        .await
        .unwrap();
    db.ping(id, Ping::Ok, 200_000, End::default(), 60_000)
        .await
        .unwrap();
    let runs = db.runs(id, 10).await.unwrap();
    let seen: Vec<_> = runs
        .iter()
        .map(|r| (r.started_ms, r.ended_ms, r.result, r.exit_code))
        .collect();
    use app::maintenance::RunResult::{Failed, Ok as Done, Running};
    assert_eq!(
        seen,
        [
            (None, Some(200_000), Done, None),
            (Some(40_000), None, Running, None),
            (None, Some(30_000), Done, None),
            (Some(10_000), Some(20_000), Failed, Some(3)),
        ],
        "{engine}"
    );
    assert_eq!(runs[3].log_tail.as_deref(), Some("rsync: disk full\n"));
    assert_eq!(
        db.runs(id, 2).await.unwrap().len(),
        2,
        "{engine}: the limit"
    );

    // Rotation: the old digest no longer finds the job.
    assert!(db.rotate_token("backup", "d3").await.unwrap());
    assert!(!db.rotate_token("nobody", "d4").await.unwrap(), "{engine}");
    assert_eq!(
        db.job_by_token("backup", "d1").await.unwrap(),
        None,
        "{engine}"
    );
    assert_eq!(db.job_by_token("backup", "d3").await.unwrap(), Some(id));

    // Trimming keeps each job's newest reports.
    let other = db.job_by_token("vacuum", "d2").await.unwrap().unwrap();
    db.ping(other, Ping::Ok, 5_000, End::default(), 60_000)
        .await
        .unwrap();
    assert_eq!(db.trim_job(id, 2).await.unwrap(), 2, "{engine}");
    assert_eq!(db.trim_job(other, 2).await.unwrap(), 0, "{engine}");
    let kept: Vec<_> = db
        .runs(id, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.ended_ms)
        .collect();
    assert_eq!(kept, [Some(200_000), None], "{engine}");
    assert_eq!(db.runs(other, 10).await.unwrap().len(), 1, "{engine}");

    // Deleting a job takes its reports with it, once.
    assert!(db.delete_job("backup").await.unwrap());
    assert!(!db.delete_job("backup").await.unwrap(), "{engine}");
    assert!(db.runs(id, 10).await.unwrap().is_empty(), "{engine}");
    assert_eq!(db.jobs().await.unwrap().len(), 1, "{engine}");
    assert_eq!(db.shared(), engine == "postgresql");
}

#[tokio::test]
async fn heartbeat_jobs_behave_alike_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    exercise_jobs("sqlite", &SqliteJobs(sqlite_pool(&dir).await)).await;

    let (_pg, pool) = postgres_pool().await;
    exercise_jobs("postgresql", &PgJobs(pool)).await;
}

/// A migrated SQLite file in `dir`: a suite's embedded-default run.
async fn sqlite_pool(dir: &tempfile::TempDir) -> sqlx::SqlitePool {
    server::store::history::HistoryStore::open(&dir.path().join("steward.db"))
        .await
        .unwrap()
        .pool()
        .clone()
}

/// A real PostgreSQL on loopback (stopped when the first value drops) and a pool on its
/// migrated database: a suite's shared run.
async fn postgres_pool() -> (Postgres, sqlx::PgPool) {
    let pg = Postgres::start();
    let pool = server::store::postgres::open(&pg.url(), Duration::from_secs(10), 4)
        .await
        .unwrap();
    (pg, pool)
}

#[tokio::test]
async fn silences_behave_alike_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_pool(&dir).await;
    exercise_silences("sqlite", &SqliteSilences(sqlite.clone())).await;

    let (_pg, pool) = postgres_pool().await;
    exercise_silences("postgresql", &PgSilences(pool)).await;
}

/// Resolved alerts alike on both engines: newest first with the node that judged each, the
/// week's counts per node, the oldest rows trimmed past the limit.
async fn exercise_alert_history(engine: &str, db: &dyn AlertHistoryDb) {
    let resolved = |rule: &str, severity: Severity, since_ms: i64| app::alerts::Alert {
        rule: rule.into(),
        labels: vec![("alertname".into(), rule.into())],
        state: AlertState::Resolved,
        severity,
        value: Some(12.5),
        threshold: None,
        summary: format!("{rule} was over"),
        since_ms,
        resolved_ms: Some(since_ms + 1_000),
        acknowledged_by: None,
        silenced: false,
        judged_on: None,
    };
    assert!(db.recent(10).await.unwrap().is_empty(), "{engine}");
    let a = [
        resolved("cpu_steal_pct", Severity::Warning, 1_000),
        resolved("disk_used_pct", Severity::Critical, 2_000),
    ];
    db.record(&a, "node-a", 100).await.unwrap();
    db.record(
        &[resolved("heartbeat_stale", Severity::Warning, 3_000)],
        "node-b",
        100,
    )
    .await
    .unwrap();
    db.record(&[], "node-b", 100).await.unwrap();
    let recent = db.recent(10).await.unwrap();
    assert_eq!(
        recent
            .iter()
            .map(|(a, node)| (a.rule.as_str(), node.as_str()))
            .collect::<Vec<_>>(),
        [
            ("heartbeat_stale", "node-b"),
            ("disk_used_pct", "node-a"),
            ("cpu_steal_pct", "node-a"),
        ],
        "{engine}: newest first"
    );
    assert_eq!(recent[1].0, a[1], "{engine}: as recorded");
    assert_eq!(db.recent(1).await.unwrap().len(), 1, "{engine}");
    // Each replica's digest counts what it judged, from the week's start.
    assert_eq!(
        db.fired_since(0, "node-a").await.unwrap(),
        (1, 1),
        "{engine}"
    );
    assert_eq!(
        db.fired_since(1_500, "node-a").await.unwrap(),
        (1, 0),
        "{engine}"
    );
    assert_eq!(
        db.fired_since(0, "node-b").await.unwrap(),
        (0, 1),
        "{engine}"
    );
    // Past the limit the oldest go.
    db.record(
        &[resolved("mem_used_pct", Severity::Warning, 4_000)],
        "node-a",
        2,
    )
    .await
    .unwrap();
    let kept: Vec<String> = db
        .recent(10)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, _)| a.rule)
        .collect();
    assert_eq!(kept, ["mem_used_pct", "heartbeat_stale"], "{engine}");
    assert_eq!(db.shared(), engine == "postgresql");
}

#[tokio::test]
async fn the_alert_history_behaves_alike_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_pool(&dir).await;
    exercise_alert_history("sqlite", &SqliteAlertHistory(sqlite.clone())).await;

    let (_pg, pool) = postgres_pool().await;
    exercise_alert_history("postgresql", &PgAlertHistory(pool)).await;
}

/// The fleet's alerts as the judging replica shares them on PostgreSQL (the embedded default
/// has one process and nothing to share): the set is replaced whole, acknowledgements asked on
/// other replicas are taken once, oldest first.
#[tokio::test]
async fn the_fleet_alerts_are_shared_through_postgresql() {
    let (_pg, pool) = postgres_pool().await;
    let (a, b) = (
        SharedAlerts::new(pool.clone(), "node-a"),
        SharedAlerts::new(pool, "node-b"),
    );
    let stale = |host: &str, state: AlertState| Held {
        alert: app::alerts::Alert {
            rule: "heartbeat_stale".into(),
            labels: vec![
                ("alertname".into(), "heartbeat_stale".into()),
                ("host".into(), host.into()),
            ],
            state,
            severity: Severity::Warning,
            value: Some(45.0),
            threshold: Some(30.0),
            summary: format!("Host {host} last sent a heartbeat 45 s ago"),
            since_ms: 1_000,
            resolved_ms: None,
            acknowledged_by: None,
            silenced: false,
            judged_on: None,
        },
        sent: (state == AlertState::Firing).then_some((Severity::Warning, 1_000)),
        worst: Some(Severity::Warning),
    };
    assert!(b.read().await.unwrap().is_empty());
    let first = [
        stale("edge-01", AlertState::Firing),
        stale("edge-02", AlertState::Pending),
    ];
    a.write(&first, 2_000).await.unwrap();
    let read = b.read().await.unwrap();
    assert_eq!(
        read.iter().map(|r| r.held.clone()).collect::<Vec<_>>(),
        first,
        "as written, by key"
    );
    assert!(read.iter().all(|r| r.node == "node-a"));

    // The next round: edge-01 resolved, edge-02 fires. The whole set is replaced; a replica
    // that took the lease over writes its own name.
    let mut second = stale("edge-02", AlertState::Firing);
    second.alert.acknowledged_by = Some("alice".into());
    b.write(std::slice::from_ref(&second), 3_000).await.unwrap();
    let read = a.read().await.unwrap();
    assert_eq!(read.len(), 1, "{read:?}");
    assert_eq!(read[0].held, second);
    assert_eq!(read[0].node, "node-b");

    // Acknowledgements asked on any replica are taken by the judge once, oldest first.
    a.ask_ack("heartbeat_stale{host=\"edge-02\"}", "bob", 4_000)
        .await
        .unwrap();
    a.ask_ack("heartbeat_stale{host=\"edge-03\"}", "carol", 4_001)
        .await
        .unwrap();
    let taken = b.take_acks().await.unwrap();
    assert_eq!(
        taken,
        [
            (
                "heartbeat_stale{host=\"edge-02\"}".to_string(),
                "bob".to_string()
            ),
            (
                "heartbeat_stale{host=\"edge-03\"}".to_string(),
                "carol".to_string()
            ),
        ]
    );
    assert!(b.take_acks().await.unwrap().is_empty(), "taken once");

    // Nothing stale any more: the set is empty.
    b.write(&[], 5_000).await.unwrap();
    assert!(a.read().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_audit_log_behaves_alike_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_pool(&dir).await;
    let local = sqlite;
    exercise_audit("sqlite", &local, Arc::new(SqliteAudit(local.clone()))).await;

    let (_pg, pool) = postgres_pool().await;
    exercise_audit("postgresql", &local, Arc::new(PgAudit(pool))).await;
}

#[tokio::test]
async fn the_fleet_registry_behaves_alike_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_pool(&dir).await;
    exercise_fleet(&*FleetStore::new(sqlite.clone())).await;

    let (_pg, pool) = postgres_pool().await;
    exercise_fleet(&*FleetStore::postgres(pool)).await;
}

#[tokio::test]
async fn users_and_sessions_behave_alike_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_pool(&dir).await;
    exercise(&SqliteUsers(sqlite.clone())).await;

    let (pg, pool) = postgres_pool().await;
    exercise(&PgUsers(pool.clone())).await;
    // Applying the migrations again (a second replica starting) changes nothing.
    server::store::postgres::open(&pg.url(), std::time::Duration::from_secs(10), 4)
        .await
        .unwrap();
    let users: Arc<dyn UserStore> = Arc::new(PgUsers(pool));
    assert!(users.admin_exists().await.unwrap());
}

#[tokio::test]
async fn a_session_made_on_one_replica_works_on_the_other() {
    let pg = Postgres::start();
    let url = pg.url();
    let (u1, u2) = (url.clone(), url.clone());
    let a = spawn_app(move |c, _| {
        c.database.url = u1;
        c.auth.anonymous_read = false;
        // Only another replica's announcement can refresh a's jobs within the test.
        c.maintenance.interval_secs = 3600;
    })
    .await;
    let b = spawn_app(move |c, _| {
        c.database.url = u2;
        c.auth.anonymous_read = false;
        c.maintenance.interval_secs = 3600;
    })
    .await;
    assert_eq!(
        b.get("/api/v1/score").await.status(),
        401,
        "b needs a session"
    );
    let admin = a.admin().await;
    assert_eq!(b.get_as("/api/v1/score", &admin).await.status(), 200);
    // Replica a created the admin from its password file; b found it there.
    let who: serde_json::Value = b
        .get_as("/api/v1/auth/session", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(who["username"], "admin", "{who}");
    assert_eq!(who["csrf"].as_str(), Some(admin.csrf.as_str()), "{who}");
    // A guarded action on b with a's session and CSRF token: signing out, which ends the
    // session on every replica.
    // One audit log: b shows the admin a created at start.
    let log = b.audit_log(&admin).await;
    assert!(
        log.iter()
            .any(|e| e["action"] == "setup" && e["target"] == "admin"),
        "{log:?}"
    );
    // One set of silences: made on a, b applies it within a round; ended on b, gone on a.
    let r = a
        .act(
            &admin,
            "/api/v1/alerts/silences",
            Some(serde_json::json!({
                "matchers": [["alertname", "heartbeat_stale"]],
                "minutes": 60,
                "comment": "fleet move, ticket 7"
            })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let has_silence = |v: &serde_json::Value| {
        v["silences"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["id"] == id))
    };
    let seen = b
        .wait_json_as(
            "/api/v1/alerts",
            &admin,
            Duration::from_secs(10),
            has_silence,
        )
        .await;
    assert_eq!(seen["silences"][0]["comment"], "fleet move, ticket 7");
    let expire = format!("/api/v1/alerts/silences/{id}/expire");
    assert_eq!(b.act(&admin, &expire, None).await.status(), 204);
    a.wait_json_as("/api/v1/alerts", &admin, Duration::from_secs(10), |v| {
        !has_silence(v)
    })
    .await;
    assert_eq!(a.act(&admin, &expire, None).await.status(), 404);

    // One set of heartbeat jobs: made on a, pinged on b, judged alike on both (a refreshed by
    // b's announcement, long before its hourly refresh); rotated on a, the old token is refused on b at once; deleted on b,
    // refused on a.
    let created = a
        .act(
            &admin,
            "/api/v1/maintenance/jobs",
            Some(
                serde_json::json!({"slug": "backup", "name": "Nightly backup",
                "schedule": "0 2 * * *", "grace_secs": 3600}),
            ),
        )
        .await;
    assert_eq!(created.status(), 201);
    let token = job_token(created).await;
    const FAIL: &str = "/api/v1/jobs/backup/ping/fail?exit_code=4";
    assert_eq!(ping(&b, FAIL, &token, "disk full").await, 204);
    for replica in [&a, &b] {
        let m = replica
            .wait_json_as(
                "/api/v1/maintenance",
                &admin,
                Duration::from_secs(20),
                |m| job(m, "backup").is_some_and(|j| j["status"] == "failed"),
            )
            .await;
        let run = &job(&m, "backup").unwrap()["runs"][0];
        assert_eq!(
            (&run["exit_code"], &run["log_tail"]),
            (&4.into(), &"disk full".into())
        );
    }
    let rotated = a
        .act(&admin, "/api/v1/maintenance/jobs/backup/rotate", None)
        .await;
    assert_eq!(rotated.status(), 200);
    let new_token = job_token(rotated).await;
    assert_eq!(ping(&b, FAIL, &token, "").await, 401, "the old token on b");
    assert_eq!(ping(&b, FAIL, &new_token, "").await, 204);
    let deleted = b
        .act(&admin, "/api/v1/maintenance/jobs/backup/delete", None)
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(ping(&a, FAIL, &new_token, "").await, 401, "deleted on b");

    // The fleet's shared alerts unreadable (their tables moved away): both replicas say so on
    // the alerts answer, the judge (taking acknowledgements) and the other (reading the rows);
    // put back, both are quiet again.
    let pool = server::store::postgres::open(&url, Duration::from_secs(10), 1)
        .await
        .unwrap();
    let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
    for (from, to) in [
        ("alert_fleet_active", "moved_active"),
        ("alert_fleet_acks", "moved_acks"),
    ] {
        sqlx::query(&rename(from, to)).execute(&pool).await.unwrap();
    }
    for replica in [&a, &b] {
        replica
            .wait_json_as("/api/v1/alerts", &admin, Duration::from_secs(10), |v| {
                v["sync_error"].as_str().is_some_and(|e| {
                    e.contains("the fleet's alerts could not be read")
                        || e.contains("the acknowledgements asked elsewhere could not be read")
                })
            })
            .await;
    }
    for (from, to) in [
        ("moved_active", "alert_fleet_active"),
        ("moved_acks", "alert_fleet_acks"),
    ] {
        sqlx::query(&rename(from, to)).execute(&pool).await.unwrap();
    }
    for replica in [&a, &b] {
        replica
            .wait_json_as("/api/v1/alerts", &admin, Duration::from_secs(10), |v| {
                v["sync_error"].is_null()
            })
            .await;
    }

    let r = b.act(&admin, "/api/v1/auth/logout", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(a.get_as("/api/v1/score", &admin).await.status(), 401);
    assert_eq!(b.get_as("/api/v1/score", &admin).await.status(), 401);
    // A wrong URL is a clear start-up error naming the field's value without its password.
    let err = server::store::postgres::open(
        "postgres://steward:s3cret@127.0.0.1:1/none",
        std::time::Duration::from_secs(2),
        1,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    a.stop().await;
    b.stop().await;
}

/// A history under test and its engine's rollup (run by the writer task on SQLite, by the
/// lease holder on PostgreSQL).
enum Engine<'a> {
    Sqlite(&'a HistoryStore),
    Postgres(&'a PgHistory),
}

impl Engine<'_> {
    fn history(&self) -> &dyn HostHistory {
        match self {
            Engine::Sqlite(h) => *h,
            Engine::Postgres(h) => *h,
        }
    }

    async fn rollup(&self, until: i64) {
        match self {
            Engine::Sqlite(h) => h.rollup(until).await.unwrap(),
            Engine::Postgres(h) => h.rollup(until).await.unwrap(),
        };
    }
}

/// Fleet hosts' history alike on both engines: samples replaced on rewrite (a batch holding
/// the same sample twice keeps the later), the three levels rolled up with count-weighted
/// means, a late sample's minute, hour and day computed again, names by prefix taken
/// literally, and the cards' minutes per host.
async fn exercise_history(engine: &str, e: Engine<'_>) {
    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;
    let h = e.history();
    assert_eq!(h.engine(), engine);
    let day = 20_000 * DAY;
    let s = |series: &str, ts_ms: i64, value: f64| Sample {
        series: series.into(),
        ts_ms,
        value,
    };
    // Host a: cpu at 10 and 30 in minute 0, 50 in minute 1, 70 an hour later; b: cpu 5.
    let a = [
        s("cpu", day + 5_000, 999.0),
        s("cpu", day + 5_000, 10.0),
        s("cpu", day + 35_000, 30.0),
        s("cpu", day + MIN + 5_000, 50.0),
        s("cpu", day + HOUR + 5_000, 70.0),
        s("gpu_util:0", day + 5_000, 1.0),
        s("gpu_util:1", day + 5_000, 2.0),
        s("gpu_utilx", day + 5_000, 3.0),
    ];
    let b = [s("cpu", day + 5_000, 5.0)];
    h.write_hosts(&[
        ("a".into(), &a[..1]),
        ("a".into(), &a[1..]),
        ("b".into(), &b),
    ])
    .await
    .unwrap();
    let raw = h
        .query_host_between("a", "cpu", Resolution::Raw, day, day + DAY)
        .await
        .unwrap();
    let values: Vec<f64> = raw.iter().map(|p| p.avg).collect();
    assert_eq!(
        values,
        [10.0, 30.0, 50.0, 70.0],
        "{engine}: the later sample wins"
    );
    assert!(matches!(
        h.query_host_between("a", "mem", Resolution::Raw, day, day + DAY)
            .await,
        Err(HistoryError::UnknownMetric(_))
    ));

    // Every level up to the next day's second hour.
    e.rollup(day + DAY + 2 * HOUR).await;
    let at = |res, from, to| h.query_host_between("a", "cpu", res, from, to);
    let minutes = at(Resolution::Minute, day, day + DAY).await.unwrap();
    let m: Vec<(i64, f64, f64, f64)> = minutes
        .iter()
        .map(|p| (p.ts_ms - day, p.avg, p.min, p.max))
        .collect();
    assert_eq!(
        m,
        [
            (0, 20.0, 10.0, 30.0),
            (MIN, 50.0, 50.0, 50.0),
            (HOUR, 70.0, 70.0, 70.0)
        ],
        "{engine}"
    );
    let hours = at(Resolution::Hour, day, day + DAY).await.unwrap();
    assert_eq!(hours.len(), 2, "{engine}");
    // Count-weighted: (10 + 30 + 50) / 3, not the mean of the minutes' means.
    assert_eq!(
        (hours[0].avg, hours[0].min, hours[0].max),
        (30.0, 10.0, 50.0)
    );
    let days = at(Resolution::Day, day, day + DAY).await.unwrap();
    assert_eq!(days.len(), 1, "{engine}");
    assert_eq!((days[0].avg, days[0].max), (40.0, 70.0), "{engine}");

    // A replayed sample for minute 0, after every level passed it, and the same again (a
    // retried heartbeat): its minute, hour and day are computed again, once.
    for _ in 0..2 {
        h.write_hosts(&[("a".into(), &[s("cpu", day + 50_000, 80.0)])])
            .await
            .unwrap();
    }
    e.rollup(day + DAY + 2 * HOUR).await;
    let minute0 = at(Resolution::Minute, day, day).await.unwrap();
    assert_eq!(
        (minute0[0].avg, minute0[0].max),
        (40.0, 80.0),
        "{engine}: the late minute"
    );
    let hour0 = at(Resolution::Hour, day, day).await.unwrap();
    assert_eq!(
        (hour0[0].avg, hour0[0].max),
        (42.5, 80.0),
        "{engine}: its hour"
    );
    let day0 = at(Resolution::Day, day, day).await.unwrap();
    assert_eq!(
        (day0[0].avg, day0[0].max),
        (48.0, 80.0),
        "{engine}: its day"
    );

    // Prefixes match literally (`_` is no wildcard), sorted, per host.
    assert_eq!(
        h.host_series_with_prefix("a", "gpu_util:").await.unwrap(),
        ["gpu_util:0", "gpu_util:1"],
        "{engine}"
    );
    assert!(h
        .host_series_with_prefix("b", "gpu_util:")
        .await
        .unwrap()
        .is_empty());

    // The cards' minutes: per host, oldest first.
    let cards = h
        .host_minutes(&["b".into(), "a".into()], &["cpu".into()], day)
        .await
        .unwrap();
    let cards: Vec<(&str, i64)> = cards
        .iter()
        .map(|(host, _, bucket, _)| (host.as_str(), bucket - day))
        .collect();
    assert_eq!(
        cards,
        [("a", 0), ("a", MIN), ("a", HOUR), ("b", 0)],
        "{engine}"
    );
}

#[tokio::test]
async fn fleet_history_behaves_alike_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = HistoryStore::open(&dir.path().join("steward.db"))
        .await
        .unwrap();
    exercise_history("sqlite", Engine::Sqlite(&sqlite)).await;

    let (_pg, pool) = postgres_pool().await;
    let pg = PgHistory::open(pool).await.unwrap();
    exercise_history("postgresql", Engine::Postgres(&pg)).await;
}
