//! Refusals (failed sign-ins, requests the guard turned away) counted per minute instead of
//! written one row each: anyone can send them, so a row per attempt would let a stranger fill
//! the disk. Pure: the caller flushes the counts into the audit log on an interval.

use std::collections::HashMap;

/// Longest piece of client input kept (usernames, paths); longer input is cut and marked.
pub const MAX_INPUT_CHARS: usize = 64;
/// Distinct (action, actor, client) keys counted per flush; the rest are counted together.
pub const MAX_KEYS: usize = 512;
/// The actor and client under which refusals past [`MAX_KEYS`] are counted.
pub const OVERFLOW: &str = "(others)";

/// What one aggregated row says.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RefusalKey {
    pub action: String,
    pub actor: String,
    pub client: String,
}

/// A count of refusals with the first time and the last reason seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusalCount {
    pub count: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub target: String,
    pub reason: String,
}

/// Cuts client input to [`MAX_INPUT_CHARS`] characters and replaces control characters, so what
/// is stored is bounded and prints safely.
pub fn clip(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(MAX_INPUT_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if input.chars().nth(MAX_INPUT_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[derive(Debug, Default)]
pub struct Refusals {
    counts: HashMap<RefusalKey, RefusalCount>,
}

impl Refusals {
    /// Counts one refusal. Input is clipped; past [`MAX_KEYS`] keys, new ones count as
    /// [`OVERFLOW`], so memory is bounded whatever arrives.
    pub fn count(
        &mut self,
        action: &str,
        actor: &str,
        client: &str,
        target: &str,
        reason: &str,
        now_ms: i64,
    ) {
        let mut key = RefusalKey {
            action: clip(action),
            actor: clip(actor),
            client: clip(client),
        };
        if !self.counts.contains_key(&key) && self.counts.len() >= MAX_KEYS {
            key.actor = OVERFLOW.into();
            key.client = OVERFLOW.into();
        }
        let entry = self.counts.entry(key).or_insert_with(|| RefusalCount {
            count: 0,
            first_ms: now_ms,
            last_ms: now_ms,
            target: clip(target),
            reason: clip(reason),
        });
        entry.count += 1;
        entry.last_ms = now_ms;
        if entry.reason != reason {
            entry.reason = clip(reason);
        }
    }

    /// Takes the counts so far, leaving the counter empty.
    pub fn drain(&mut self) -> Vec<(RefusalKey, RefusalCount)> {
        let mut rows: Vec<_> = self.counts.drain().collect();
        rows.sort_by_key(|(_, c)| c.first_ms);
        rows
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_clips_input() {
        let mut r = Refusals::default();
        let long = "x".repeat(16 * 1024);
        for t in 0..3000 {
            r.count(
                "login",
                &long,
                "10.0.0.1",
                "session",
                "wrong username or password",
                t,
            );
        }
        r.count("login", "bob", "10.0.0.1", "session", "too many", 5);
        let rows = r.drain();
        assert_eq!(rows.len(), 2);
        let (key, c) = &rows[0];
        assert_eq!(c.count, 3000);
        assert_eq!((c.first_ms, c.last_ms), (0, 2999));
        assert_eq!(key.actor.chars().count(), MAX_INPUT_CHARS + 1);
        assert!(r.is_empty());
        assert_eq!(clip("a\r\nb"), "a??b");
    }

    #[test]
    fn distinct_keys_are_bounded() {
        let mut r = Refusals::default();
        for i in 0..10_000 {
            r.count(
                "login",
                &format!("user{i}"),
                &format!("ip{i}"),
                "session",
                "no",
                i,
            );
        }
        let rows = r.drain();
        assert_eq!(rows.len(), MAX_KEYS + 1);
        let overflow = rows.iter().find(|(k, _)| k.actor == OVERFLOW).unwrap();
        assert_eq!(overflow.1.count, 10_000 - MAX_KEYS as u64);
    }
}
