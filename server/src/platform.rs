//! What every feature runs on: the event bus collectors publish to, the one round loop
//! (`periodic`) every collector runs in, and the progress log of background jobs (`jobs`).

pub mod bus;
pub mod jobs;
pub mod periodic;

/// The machine's host name from the configured procfs (`None` when unreadable or empty).
pub fn host_name(procfs: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(procfs.join("sys/kernel/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
}
