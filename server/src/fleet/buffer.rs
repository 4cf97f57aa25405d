//! The agent's disk buffer: heartbeats the hub has not acknowledged yet, one file each
//! (`<seq>-<collected_ms>.json`, written to a temporary name and renamed, so a crash leaves
//! whole files only), sent oldest first and deleted only when the hub acknowledged them.
//! Bounded by bytes and by age: past either, the oldest are dropped and counted. The next
//! sequence number and the drop count live in `state` beside them, so they survive restarts.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BufferError {
    #[error("agent buffer {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BufferError + '_ {
    move |source| BufferError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    seq: u64,
    collected_ms: i64,
    bytes: u64,
}

impl Entry {
    fn file_name(&self) -> String {
        format!("{:020}-{}.json", self.seq, self.collected_ms)
    }

    fn parse(name: &str) -> Option<(u64, i64)> {
        let (seq, rest) = name.strip_suffix(".json")?.split_once('-')?;
        Some((seq.parse().ok()?, rest.parse().ok()?))
    }
}

pub struct Buffer {
    dir: PathBuf,
    max_bytes: u64,
    max_age_ms: i64,
    entries: VecDeque<Entry>,
    bytes: u64,
    next_seq: u64,
    dropped_total: u64,
}

impl Buffer {
    /// Opens (or creates) the buffer in `dir`, finding what an earlier run left.
    pub fn open(dir: &Path, max_bytes: u64, max_age_ms: i64) -> Result<Self, BufferError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut entries = Vec::new();
        for item in std::fs::read_dir(dir).map_err(io(dir))? {
            let item = item.map_err(io(dir))?;
            let name = item.file_name();
            let Some((seq, collected_ms)) = name.to_str().and_then(Entry::parse) else {
                continue;
            };
            let bytes = item.metadata().map_err(io(&item.path()))?.len();
            entries.push(Entry {
                seq,
                collected_ms,
                bytes,
            });
        }
        entries.sort_by_key(|e| e.seq);
        let (mut next_seq, dropped_total) = read_state(&dir.join("state"));
        if let Some(last) = entries.last() {
            next_seq = next_seq.max(last.seq + 1);
        }
        let bytes = entries.iter().map(|e| e.bytes).sum();
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            max_age_ms,
            entries: entries.into(),
            bytes,
            next_seq: next_seq.max(1),
            dropped_total,
        })
    }

    /// The sequence number the next heartbeat gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn queued(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// Stores a heartbeat under the next sequence number, then drops the oldest while the
    /// buffer is over its bounds (never the one just stored for age; for size, only if it alone
    /// is over the limit).
    pub fn push(
        &mut self,
        collected_ms: i64,
        body: &[u8],
        now_ms: i64,
    ) -> Result<u64, BufferError> {
        let entry = Entry {
            seq: self.next_seq,
            collected_ms,
            bytes: body.len() as u64,
        };
        let path = self.dir.join(entry.file_name());
        let tmp = self.dir.join(format!("{}.tmp", entry.seq));
        std::fs::write(&tmp, body).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        self.entries.push_back(entry);
        self.bytes += entry.bytes;
        self.next_seq += 1;
        self.enforce(now_ms)?;
        self.save_state()?;
        Ok(entry.seq)
    }

    fn enforce(&mut self, now_ms: i64) -> Result<(), BufferError> {
        while let Some(oldest) = self.entries.front().copied() {
            let too_big = self.bytes > self.max_bytes;
            let too_old = now_ms - oldest.collected_ms > self.max_age_ms;
            if !(too_big || too_old) {
                break;
            }
            self.remove_front()?;
            self.dropped_total += 1;
        }
        Ok(())
    }

    fn remove_front(&mut self) -> Result<(), BufferError> {
        if let Some(e) = self.entries.pop_front() {
            let path = self.dir.join(e.file_name());
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(io(&path)(err)),
            }
            self.bytes -= e.bytes;
        }
        Ok(())
    }

    /// The oldest heartbeat waiting: its sequence number and body.
    pub fn oldest(&self) -> Result<Option<(u64, Vec<u8>)>, BufferError> {
        let Some(e) = self.entries.front() else {
            return Ok(None);
        };
        let path = self.dir.join(e.file_name());
        let body = std::fs::read(&path).map_err(io(&path))?;
        Ok(Some((e.seq, body)))
    }

    /// Deletes the oldest heartbeat if it is `seq` (acknowledged, or refused for good).
    pub fn remove(&mut self, seq: u64) -> Result<(), BufferError> {
        if self.entries.front().is_some_and(|e| e.seq == seq) {
            self.remove_front()?;
        }
        Ok(())
    }

    /// Counts a heartbeat the hub refused for good (it would never be taken).
    pub fn drop_refused(&mut self, seq: u64) -> Result<(), BufferError> {
        self.remove(seq)?;
        self.dropped_total += 1;
        self.save_state()
    }

    fn save_state(&self) -> Result<(), BufferError> {
        let path = self.dir.join("state");
        let tmp = self.dir.join("state.tmp");
        std::fs::write(&tmp, format!("{} {}\n", self.next_seq, self.dropped_total))
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }
}

fn read_state(path: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut parts = text.split_whitespace().map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(seq), Some(dropped)) => (seq, dropped),
        _ => (1, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_are_sent_oldest_first_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), 1 << 20, 60_000).unwrap();
        assert_eq!(b.push(1_000, b"one", 1_000).unwrap(), 1);
        assert_eq!(b.push(2_000, b"two", 2_000).unwrap(), 2);
        drop(b);
        let mut b = Buffer::open(dir.path(), 1 << 20, 60_000).unwrap();
        assert_eq!(b.queued(), 2);
        assert_eq!(b.next_seq(), 3);
        assert_eq!(b.oldest().unwrap(), Some((1, b"one".to_vec())));
        b.remove(2).unwrap();
        assert_eq!(b.queued(), 2, "only the oldest is removed");
        b.remove(1).unwrap();
        assert_eq!(b.oldest().unwrap(), Some((2, b"two".to_vec())));
        b.remove(2).unwrap();
        assert_eq!(b.oldest().unwrap(), None);
        assert_eq!(b.bytes(), 0);
        // Sequence numbers keep counting across restarts even with an empty buffer.
        drop(b);
        let b = Buffer::open(dir.path(), 1 << 20, 60_000).unwrap();
        assert_eq!(b.next_seq(), 3);
    }

    #[test]
    fn the_oldest_are_dropped_and_counted_past_the_size_or_age() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), 10, 5_000).unwrap();
        b.push(0, b"aaaa", 0).unwrap();
        b.push(1, b"bbbb", 1).unwrap();
        b.push(2, b"cccc", 2).unwrap();
        assert_eq!(b.queued(), 2, "12 bytes > 10: the oldest goes");
        assert_eq!(b.dropped_total(), 1);
        assert_eq!(b.oldest().unwrap().unwrap().1, b"bbbb");
        b.push(9_000, b"d", 9_000).unwrap();
        assert_eq!(b.queued(), 1, "older than 5 s: both go");
        assert_eq!(b.dropped_total(), 3);
        b.drop_refused(4).unwrap();
        assert_eq!(b.dropped_total(), 4);
        drop(b);
        let b = Buffer::open(dir.path(), 10, 5_000).unwrap();
        assert_eq!(b.dropped_total(), 4, "the count survives a restart");
        assert_eq!(b.queued(), 0);
    }

    #[test]
    fn stray_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        std::fs::write(dir.path().join("5.tmp"), "half").unwrap();
        let b = Buffer::open(dir.path(), 1 << 20, 60_000).unwrap();
        assert_eq!(b.queued(), 0);
    }
}
