//! Finds the process behind a backend on this host (the one listening on its port) and reads
//! its resident memory: llama.cpp and vLLM do not report their own memory, and the pre-load
//! check learns from what a load really took. `parse_listeners` is pure; the rest reads the
//! configured procfs.

use std::path::Path;

/// Socket inodes listening on `port`, from `/proc/net/tcp` or `tcp6` text (state `0A`).
pub fn parse_listeners(text: &str, port: u16) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local = f.get(1)?;
            let p = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (p == port && *f.get(3)? == "0A").then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

/// The PID holding a listening socket on `port`, if this host's procfs shows one.
pub fn listener_pid(procfs: &Path, port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for f in ["net/tcp", "net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(procfs.join(f)) {
            inodes.extend(parse_listeners(&text, port));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir(procfs).ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if wanted.iter().any(|w| target.as_os_str() == w.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

/// `VmRSS` of a process in bytes.
pub fn rss_bytes(procfs: &Path, pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(procfs.join(pid.to_string()).join("status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_by_port() {
        // /proc/net/tcp as the kernel writes it: port 0x1F90 = 8080 listening, 0x0050 = 80
        // established.
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:0050 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(parse_listeners(text, 8080), vec![123456]);
        assert!(parse_listeners(text, 80).is_empty());
        assert!(parse_listeners("garbage\nmore garbage", 8080).is_empty());
    }

    #[test]
    fn finds_this_test_process_listening() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let pid = listener_pid(Path::new("/proc"), port);
        assert_eq!(pid, Some(std::process::id()));
        assert!(rss_bytes(Path::new("/proc"), std::process::id()).unwrap() > 0);
    }
}
