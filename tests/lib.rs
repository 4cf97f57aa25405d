//! Test support shared by the integration tests (`api/`) and the browser tests (`end2end`):
//! kill-on-drop child processes (and process groups), a free loopback port, a private Docker
//! engine, and the recorded container snapshot.

pub mod docker_engine;
pub mod fake_fleet;
pub mod fuzz;
pub mod model_servers;
pub mod postgres;
pub mod receivers;
pub mod smtp;
pub mod snapshot;

use std::net::TcpListener;
use std::process::Child;

/// A child process that is killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child process started as the leader of its own process group (`Command::process_group(0)`)
/// whose whole group is killed when dropped: chromedriver's Chromium processes would otherwise
/// outlive a browser test that panics before closing its session, and load the machine.
pub struct ProcGroup(pub Child);

impl Drop for ProcGroup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("local address")
        .port()
}

/// A process's resident memory in KiB (`VmRSS`), for the benchmarks' footprint figures.
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_else(|| panic!("no VmRSS for process {pid}"))
}
