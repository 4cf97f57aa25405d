//! A real SMTP server on loopback for the email notifier's tests: Python's `aiosmtpd` (Debian
//! `python3-aiosmtpd`, installed by `make test`) with its `Mailbox` handler, which writes each
//! message it accepts into a maildir read back here.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, Proc};

pub struct SmtpServer {
    _proc: Proc,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// One received message: its raw text (headers and MIME parts).
pub struct Mail(pub String);

impl Mail {
    /// A header's value (the first one; unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.0.split("\n\n").next().unwrap_or_default();
        let prefix = format!("{}:", name.to_ascii_lowercase());
        let mut lines = head.lines().peekable();
        while let Some(l) = lines.next() {
            if l.to_ascii_lowercase().starts_with(&prefix) {
                let mut v = l[prefix.len()..].trim().to_string();
                while lines.peek().is_some_and(|n| n.starts_with([' ', '\t'])) {
                    v.push(' ');
                    v.push_str(lines.next().unwrap().trim());
                }
                return Some(v);
            }
        }
        None
    }
}

impl SmtpServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        // Debian's Python, where the package is installed (a pyenv `python3` may come first).
        let python =
            std::env::var("STEWARD_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{python} -m aiosmtpd: {e}; `make test` installs python3-aiosmtpd")
            });
        let proc = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start (is python3-aiosmtpd installed?)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            _proc: proc,
            port,
            dir,
        }
    }

    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("mail/new")) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        // Maildir names start with the delivery time.
        files.sort();
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .map(|t| Mail(t.replace("\r\n", "\n")))
            .collect()
    }
}
