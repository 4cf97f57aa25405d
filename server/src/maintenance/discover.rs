//! Discovery of what is scheduled on the host, read through `--path.rootfs`: `/etc/crontab`,
//! `/etc/cron.d/*`, `/var/spool/cron/crontabs/*` and enabled systemd timers. Unreadable files
//! and bad lines become findings shown above the table, never silence.

use std::path::Path;

use app::maintenance::{Finding, Job, JobSource, JobStatus};

use super::crontab::{self, Format};
use super::schedule::{host_zone, Schedule, ScheduleError};
use super::timers;

const TIMER_DIRS: [&str; 3] = [
    "etc/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

/// Every discovered job, and what could not be read.
pub fn all(rootfs: &Path, marker: &str, now_ms: i64) -> (Vec<Job>, Vec<Finding>) {
    let mut jobs = Vec::new();
    let mut findings = Vec::new();
    let mut files: Vec<(std::path::PathBuf, Format, Option<String>)> =
        vec![(rootfs.join("etc/crontab"), Format::System, None)];
    for (dir, format) in [
        ("etc/cron.d", Format::System),
        ("var/spool/cron/crontabs", Format::User),
    ] {
        let path = rootfs.join(dir);
        match std::fs::read_dir(&path) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str().map(String::from))
                    .filter(|n| crontab::cron_d_name_ok(n))
                    .collect();
                names.sort();
                for n in names {
                    let user = (format == Format::User).then(|| n.clone());
                    files.push((path.join(&n), format, user));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => findings.push(Finding {
                origin: display(rootfs, &path),
                message: format!("cannot list: {e} (run Steward as root to see every crontab)"),
            }),
        }
    }
    for (path, format, user) in files {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                findings.push(Finding {
                    origin: display(rootfs, &path),
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let origin = display(rootfs, &path);
        let (entries, bad) = crontab::parse(&text, format, marker);
        findings.extend(bad.into_iter().map(|b| Finding {
            origin: format!("{origin}:{}", b.line),
            message: b.message,
        }));
        for e in entries {
            let user = e.user.clone().or_else(|| user.clone());
            jobs.push(cron_job(&origin, e, user, now_ms, &mut findings));
        }
    }
    timers_of(rootfs, now_ms, &mut jobs, &mut findings);
    (jobs, findings)
}

fn display(rootfs: &Path, path: &Path) -> String {
    match path.strip_prefix(rootfs) {
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) => path.display().to_string(),
    }
}

fn slug_of(origin: &str, line: usize) -> String {
    let base = origin.rsplit('/').next().unwrap_or(origin);
    format!("cron-{base}-{line}")
}

fn cron_job(
    origin: &str,
    e: crontab::CronEntry,
    user: Option<String>,
    now_ms: i64,
    findings: &mut Vec<Finding>,
) -> Job {
    let (words, next, reason) = match e.schedule.parse::<Schedule>() {
        Ok(s) => (
            Some(s.words()),
            s.next_after_ms(now_ms, &host_zone()),
            "runs from cron; it does not report to Steward, so whether it ran is unknown (add a heartbeat)".to_string(),
        ),
        Err(ScheduleError::AtBoot(_)) => (Some("at boot".into()), None, "runs at boot".into()),
        Err(err) => {
            findings.push(Finding {
                origin: format!("{origin}:{}", e.line),
                message: err.to_string(),
            });
            (None, None, err.to_string())
        }
    };
    Job {
        slug: slug_of(origin, e.line),
        name: crontab::job_name(&e.command),
        source: if e.managed {
            JobSource::Managed
        } else {
            JobSource::Crontab
        },
        schedule: Some(e.schedule),
        schedule_words: words,
        command: Some(e.command),
        user,
        origin: Some(format!("{origin}:{}", e.line)),
        grace_secs: None,
        next_run_ms: next,
        status: JobStatus::Unmonitored,
        reason,
        runs: Vec::new(),
        freed_bytes: None,
    }
}

fn timers_of(rootfs: &Path, now_ms: i64, jobs: &mut Vec<Job>, findings: &mut Vec<Finding>) {
    let wants = rootfs.join("etc/systemd/system/timers.target.wants");
    let Ok(entries) = std::fs::read_dir(&wants) else {
        return;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.ends_with(".timer"))
        .collect();
    names.sort();
    for name in names {
        // The links point at paths on the host; look the unit up by name under the rootfs.
        let Some((path, text)) = TIMER_DIRS.iter().find_map(|d| {
            let p = rootfs.join(d).join(&name);
            std::fs::read_to_string(&p).ok().map(|t| (p, t))
        }) else {
            findings.push(Finding {
                origin: format!("/etc/systemd/system/timers.target.wants/{name}"),
                message: "enabled, but its unit file was not found".into(),
            });
            continue;
        };
        let unit = timers::parse(&text);
        let calendar = unit.on_calendar.first().cloned();
        let schedule = calendar
            .as_deref()
            .and_then(timers::calendar_to_cron)
            .and_then(|c| c.parse::<Schedule>().ok());
        let (words, next, reason) = match (&calendar, &schedule) {
            (_, Some(s)) => (
                Some(s.words()),
                s.next_after_ms(now_ms, &host_zone()),
                "a systemd timer; it does not report to Steward (add a heartbeat)".to_string(),
            ),
            (Some(c), None) => (
                None,
                None,
                format!("a systemd timer; Steward cannot compute OnCalendar={c} (see systemctl list-timers)"),
            ),
            (None, None) => (
                Some(unit.monotonic.join(", ")),
                None,
                "a systemd timer on a monotonic clock".to_string(),
            ),
        };
        let stem = name.trim_end_matches(".timer");
        jobs.push(Job {
            slug: format!("timer-{stem}"),
            name: unit.description.clone().unwrap_or_else(|| stem.to_string()),
            source: JobSource::Timer,
            schedule: calendar.or_else(|| unit.monotonic.first().cloned()),
            schedule_words: words,
            command: Some(
                unit.unit
                    .clone()
                    .unwrap_or_else(|| format!("{stem}.service")),
            ),
            user: None,
            origin: Some(display(rootfs, &path)),
            grace_secs: None,
            next_run_ms: next,
            status: JobStatus::Unmonitored,
            reason,
            runs: Vec::new(),
            freed_bytes: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn discovers_crontabs_and_timers_under_a_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "etc/crontab",
            "# bytelyst-vm-maintenance\n0 3 * * * root /opt/vm-cleanup.sh\n",
        );
        write(
            root,
            "etc/cron.d/e2scrub_all",
            "30 3 * * 0 root test -e /run/systemd/system || /sbin/e2scrub_all\n",
        );
        write(
            root,
            "etc/cron.d/old.dpkg-old",
            "* * * * * root /bin/never\n",
        );
        write(root, "etc/cron.d/broken", "0 3 * * 8 root /bin/x\n");
        write(
            root,
            "var/spool/cron/crontabs/alice",
            "@reboot /home/alice/start.sh\n*/10 * * * * /home/alice/sync\n",
        );
        write(root, "lib/systemd/system/apt-daily.timer", "[Unit]\nDescription=Daily apt download activities\n[Timer]\nOnCalendar=*-*-* 6,18:00\n");
        write(
            root,
            "lib/systemd/system/fstrim.timer",
            "[Timer]\nOnCalendar=weekly\n",
        );
        std::fs::create_dir_all(root.join("etc/systemd/system/timers.target.wants")).unwrap();
        for t in ["apt-daily.timer", "fstrim.timer", "gone.timer"] {
            std::fs::write(
                root.join("etc/systemd/system/timers.target.wants").join(t),
                "",
            )
            .unwrap();
        }
        // The wants entries are files here; on a host they are links. Either is found by name.
        let now = chrono::DateTime::parse_from_rfc3339("2026-05-26T12:00:00Z")
            .unwrap()
            .timestamp_millis();
        let (jobs, findings) = all(root, "vm-maintenance", now);
        let names: Vec<(&str, JobSource)> =
            jobs.iter().map(|j| (j.name.as_str(), j.source)).collect();
        assert_eq!(
            names,
            vec![
                ("vm-cleanup.sh", JobSource::Managed),
                ("x", JobSource::Crontab),
                (
                    "test -e /run/systemd/system || /sbin/e2scrub_all",
                    JobSource::Crontab
                ),
                ("start.sh", JobSource::Crontab),
                ("sync", JobSource::Crontab),
                ("Daily apt download activities", JobSource::Timer),
                ("fstrim", JobSource::Timer),
            ]
        );
        let alice = &jobs[4];
        assert_eq!(alice.user.as_deref(), Some("alice"));
        assert_eq!(
            alice.origin.as_deref(),
            Some("/var/spool/cron/crontabs/alice:2")
        );
        assert!(alice.next_run_ms.is_some());
        assert_eq!(jobs[3].schedule_words.as_deref(), Some("at boot"));
        assert!(jobs[5].next_run_ms.is_some() && jobs[6].next_run_ms.is_some());
        assert!(jobs.iter().all(|j| j.status == JobStatus::Unmonitored));
        let problems: Vec<&str> = findings.iter().map(|f| f.origin.as_str()).collect();
        assert_eq!(
            problems,
            vec![
                "/etc/cron.d/broken:1",
                "/etc/systemd/system/timers.target.wants/gone.timer"
            ]
        );
    }
}
