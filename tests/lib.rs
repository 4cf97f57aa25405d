//! Test support shared by the integration tests (`api/`) and the browser tests (`end2end`):
//! a kill-on-drop child process, a free loopback port, a private Docker engine, and the recorded
//! container snapshot.

pub mod docker_engine;
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

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("local address")
        .port()
}
