//! Crontabs: pure parsing of system (`/etc/crontab`, `/etc/cron.d/*`: with a user field) and
//! user crontabs (`/var/spool/cron/crontabs/USER`: without), and the managed block — lines
//! between a comment naming the configured marker and a comment naming it with `end` (or a
//! blank line). Schedules are checked with [`super::schedule::Schedule`], never parsed here.

/// One job line of a crontab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronEntry {
    /// The schedule as written: five fields or an `@nickname`.
    pub schedule: String,
    pub user: Option<String>,
    pub command: String,
    /// 1-based line number in its file.
    pub line: usize,
    /// Inside the managed block.
    pub managed: bool,
}

/// A line that looked like a job but could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

/// Which crontab format a file has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `m h dom mon dow user command`.
    System,
    /// `m h dom mon dow command`, the user being the file's owner.
    User,
}

/// Splits off the first whitespace-separated field.
fn field(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

/// Parses a crontab's text. Comments, blank lines and environment settings are skipped; a
/// job line that cannot be split into schedule, (user) and command is reported, not dropped.
pub fn parse(text: &str, format: Format, marker: &str) -> (Vec<CronEntry>, Vec<BadLine>) {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    let mut managed = false;
    let marker = marker.to_ascii_lowercase();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let number = i + 1;
        if line.is_empty() {
            managed = false;
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let c = comment.to_ascii_lowercase();
            if !marker.is_empty() && c.contains(&marker) {
                let closes = c
                    .split(|ch: char| !ch.is_ascii_alphanumeric())
                    .any(|w| w == "end");
                managed = !closes;
            }
            continue;
        }
        if is_environment(line) {
            continue;
        }
        match split(line, format) {
            Ok((schedule, user, command)) => entries.push(CronEntry {
                schedule,
                user,
                command,
                line: number,
                managed,
            }),
            Err(message) => bad.push(BadLine {
                line: number,
                message,
            }),
        }
    }
    (entries, bad)
}

/// `NAME=value` (cron's environment lines); a job line starts with a schedule instead.
fn is_environment(line: &str) -> bool {
    let Some(eq) = line.find('=') else {
        return false;
    };
    let name = line[..eq].trim();
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

fn split(line: &str, format: Format) -> Result<(String, Option<String>, String), String> {
    let (schedule, mut rest) = if line.starts_with('@') {
        let (nick, rest) = field(line).ok_or("empty line")?;
        (nick.to_string(), rest)
    } else {
        let mut fields = Vec::with_capacity(5);
        let mut rest = line;
        for _ in 0..5 {
            let (f, r) = field(rest).ok_or("fewer than five schedule fields")?;
            fields.push(f);
            rest = r;
        }
        (fields.join(" "), rest)
    };
    let user = match format {
        Format::System => {
            let (u, r) = field(rest).ok_or("no user field (system crontabs name the user)")?;
            rest = r;
            Some(u.to_string())
        }
        Format::User => None,
    };
    let command = rest.trim();
    if command.is_empty() {
        return Err("no command".into());
    }
    Ok((schedule, user, command.to_string()))
}

/// Whether cron reads a file of `/etc/cron.d` (Debian's run-parts rule: letters, digits, `_`
/// and `-` only, so `x.dpkg-old` and editor backups are skipped).
pub fn cron_d_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A short name for a job: its program's file name and arguments, without redirections.
pub fn job_name(command: &str) -> String {
    let mut words = command
        .split_whitespace()
        .take_while(|w| !w.contains(['>', '<']) && !matches!(*w, "|" | ";"));
    let program = words.next().unwrap_or("");
    let base = program.rsplit('/').next().unwrap_or(program);
    let mut name = std::iter::once(base)
        .chain(words)
        .collect::<Vec<_>>()
        .join(" ");
    if name.chars().count() > 60 {
        name = name.chars().take(59).collect::<String>() + "…";
    }
    if name.is_empty() {
        command.chars().take(60).collect()
    } else {
        name
    }
}

/// The heartbeat slug a command reports to, if it calls Steward's ping API.
pub fn pinged_slug(command: &str) -> Option<String> {
    let at = command.find("/api/v1/jobs/")? + "/api/v1/jobs/".len();
    let slug: String = command[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!slug.is_empty() && command[at + slug.len()..].starts_with("/ping")).then_some(slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM: &str = "\
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# m h dom mon dow user  command
17 *    * * *   root    cd / && run-parts --report /etc/cron.hourly
25 6    * * *   root    test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )
@reboot root /usr/local/bin/warm-up
# bytelyst-vm-maintenance BEGIN
0 3 * * * root /opt/scripts/vm-cleanup.sh >> /var/log/vm-cleanup.log 2>&1
0 4 * * 0 root /opt/scripts/vm-cleanup.sh --full >> /var/log/vm-cleanup.log 2>&1
# bytelyst-vm-maintenance END
30 2 * * * root /opt/backup.sh
0 5 * * *
";

    #[test]
    fn system_crontab_with_managed_block_and_a_bad_line() {
        let (entries, bad) = parse(SYSTEM, Format::System, "vm-maintenance");
        assert_eq!(entries.len(), 6, "{entries:#?}");
        assert_eq!(entries[0].schedule, "17 * * * *");
        assert_eq!(entries[0].user.as_deref(), Some("root"));
        assert_eq!(
            entries[0].command,
            "cd / && run-parts --report /etc/cron.hourly"
        );
        assert_eq!(entries[2].schedule, "@reboot");
        assert!(!entries[2].managed);
        assert!(entries[3].managed && entries[4].managed);
        assert_eq!(
            entries[4].command,
            "/opt/scripts/vm-cleanup.sh --full >> /var/log/vm-cleanup.log 2>&1"
        );
        assert!(!entries[5].managed, "the block ends at its END comment");
        assert_eq!(
            bad,
            vec![BadLine {
                line: 13,
                message: "no user field (system crontabs name the user)".into()
            }]
        );
    }

    #[test]
    fn user_crontab_has_no_user_field_and_a_blank_line_closes_the_block() {
        let text = "# vm-maintenance\n*/5 * * * * curl -fsS https://x/api/v1/jobs/sync-db/ping/ok\n\n0 1 * * * /home/a/x.sh\n";
        let (entries, bad) = parse(text, Format::User, "vm-maintenance");
        assert!(bad.is_empty());
        assert_eq!(entries[0].user, None);
        assert!(entries[0].managed);
        assert!(!entries[1].managed);
        assert_eq!(pinged_slug(&entries[0].command).as_deref(), Some("sync-db"));
        assert_eq!(pinged_slug(&entries[1].command), None);
    }

    #[test]
    fn names_and_file_rules() {
        assert_eq!(
            job_name("/opt/scripts/vm-cleanup.sh --full >> /var/log/x 2>&1"),
            "vm-cleanup.sh --full"
        );
        assert_eq!(
            job_name("cd / && run-parts --report /etc/cron.hourly"),
            "cd / && run-parts --report /etc/cron.hourly"
        );
        assert!(cron_d_name_ok("e2scrub_all"));
        assert!(!cron_d_name_ok("php.dpkg-old"));
        assert!(!cron_d_name_ok(".placeholder"));
        assert!(!is_environment("0 5 * * * root x=1"));
        assert!(is_environment("MAILTO=\"\""));
    }
}
