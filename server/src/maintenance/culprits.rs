//! Disk culprits: what takes the disk's space, by what Steward can name — Docker images, build
//! cache, containers' writable layers and volumes (the engine), each container's log file, the
//! journal and the largest folders under configured paths. Sampled on a slow interval into
//! history (`disk_culprit_bytes:{item}`), so each item's growth can be fitted.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use app::maintenance::Culprit;

use super::cleanup::Ctx;
use crate::config::CleanupStep;

/// Folder walks stop after this many entries (the size is then "at least").
const MAX_ENTRIES: usize = 200_000;
/// The largest folders kept per configured path.
const TOP_DIRS: usize = 5;
/// Container log files kept (the largest).
const TOP_LOGS: usize = 20;

/// Bytes a folder takes on disk (allocated blocks, not apparent sizes), without following
/// links or crossing into other filesystems; `(bytes, complete)`.
pub fn dir_bytes(root: &Path, deadline: Instant) -> (u64, bool) {
    let Ok(meta) = std::fs::symlink_metadata(root) else {
        return (0, true);
    };
    let dev = meta.dev();
    let mut total = meta.blocks() * 512;
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES || Instant::now() > deadline {
                return (total, false);
            }
            let Ok(m) = e.metadata() else { continue };
            if m.dev() != dev {
                continue;
            }
            total += m.blocks() * 512;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    (total, true)
}

/// The step that frees an item, if one is configured.
fn step_for(steps: &[CleanupStep], kind: fn(&CleanupStep) -> bool) -> Option<String> {
    steps.iter().find(|s| kind(s)).map(CleanupStep::name)
}

/// One sample of every item, and what could not be read.
pub async fn sample(
    ctx: &Ctx,
    paths: &[String],
    steps: &[CleanupStep],
) -> (Vec<Culprit>, Vec<String>) {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let item = |key: String, label: String, bytes: u64, step: Option<String>| Culprit {
        key,
        label,
        bytes,
        growth_per_day: None,
        step,
    };
    if ctx.docker.is_some() {
        match docker_items(ctx).await {
            Ok(found) => {
                for (key, label, bytes) in found {
                    let step = match key.as_str() {
                        "docker_images" => {
                            step_for(steps, |s| matches!(s, CleanupStep::Images { .. }))
                        }
                        "docker_build_cache" => {
                            step_for(steps, |s| matches!(s, CleanupStep::BuilderCache))
                        }
                        "docker_containers" => {
                            step_for(steps, |s| matches!(s, CleanupStep::Containers { .. }))
                        }
                        k if k.starts_with("container_logs:") => {
                            step_for(steps, |s| matches!(s, CleanupStep::ContainerLogs { .. }))
                        }
                        _ => None,
                    };
                    items.push(item(key, label, bytes, step));
                }
            }
            Err(e) => errors.push(format!("Docker: {e}")),
        }
    }
    let rootfs = ctx.rootfs.clone();
    let paths = paths.to_vec();
    let journal_step = step_for(steps, |s| matches!(s, CleanupStep::Journal { .. }));
    let walked = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut out = Vec::new();
        let journal = rootfs.join("var/log/journal");
        if journal.is_dir() {
            let (b, _) = dir_bytes(&journal, deadline);
            out.push(("journal".to_string(), "the systemd journal".to_string(), b));
        }
        for p in &paths {
            let dir = rootfs.join(p.trim_start_matches('/'));
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut subs: Vec<(String, u64, bool)> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| {
                    let (b, complete) = dir_bytes(&e.path(), deadline);
                    let name = format!(
                        "{}/{}",
                        p.trim_end_matches('/'),
                        e.file_name().to_string_lossy()
                    );
                    (name, b, complete)
                })
                .collect();
            subs.sort_by_key(|s| std::cmp::Reverse(s.1));
            for (name, b, complete) in subs.into_iter().take(TOP_DIRS) {
                let label = if complete {
                    name.clone()
                } else {
                    format!("{name} (at least)")
                };
                out.push((format!("dir:{name}"), label, b));
            }
        }
        out
    })
    .await;
    match walked {
        Ok(found) => {
            for (key, label, bytes) in found {
                let step = (key == "journal").then(|| journal_step.clone()).flatten();
                items.push(item(key, label, bytes, step));
            }
        }
        Err(e) => errors.push(format!("folder sizes: {e}")),
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    (items, errors)
}

async fn docker_items(ctx: &Ctx) -> Result<Vec<(String, String, u64)>, String> {
    let c = ctx.docker().await?;
    let images = c.images().await.map_err(|e| e.to_string())?;
    let layers: i64 = super::cleanup::own_bytes(&images).into_iter().sum();
    let mut out = vec![(
        "docker_images".to_string(),
        "Docker images".to_string(),
        layers as u64,
    )];
    let containers = c.containers_with_size().await.map_err(|e| e.to_string())?;
    let writable: i64 = containers
        .iter()
        .map(|s| s.size_rw.unwrap_or(0).max(0))
        .sum();
    out.push((
        "docker_containers".into(),
        "containers' writable layers".into(),
        writable as u64,
    ));
    if let Ok(Some(b)) = c.build_cache_reclaimable().await {
        out.push((
            "docker_build_cache".into(),
            "Docker build cache (unused)".into(),
            b,
        ));
    }
    let mut logs = Vec::new();
    for s in &containers {
        let (Some(id), Some(name)) = (&s.id, s.names.as_ref().and_then(|n| n.first())) else {
            continue;
        };
        let Ok(Some(path)) = c.log_path(id).await else {
            continue;
        };
        if let Ok(m) = std::fs::metadata(ctx.rootfs.join(path.trim_start_matches('/'))) {
            let name = name.trim_start_matches('/');
            logs.push((
                format!("container_logs:{name}"),
                format!("container logs of {name}"),
                m.len(),
            ));
        }
    }
    logs.sort_by_key(|l| std::cmp::Reverse(l.2));
    out.extend(logs.into_iter().take(TOP_LOGS));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_sizes_count_allocated_blocks_and_stop_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/f"), vec![1u8; 64 * 1024]).unwrap();
        let (bytes, complete) = dir_bytes(dir.path(), Instant::now() + Duration::from_secs(10));
        assert!(complete);
        assert!(bytes >= 64 * 1024, "{bytes}");
        let (_, complete) = dir_bytes(dir.path(), Instant::now() - Duration::from_secs(1));
        assert!(!complete);
        assert_eq!(
            dir_bytes(&dir.path().join("missing"), Instant::now()),
            (0, true)
        );
    }
}
