//! Cleanup steps: what each would free (the dry run) and running it. Docker steps go through
//! the one Docker client; file steps read the host through `--path.rootfs`; commands come from
//! the config only and run without a shell under the step timeout. A step never panics and
//! never stops the run: its failure is its record's `error`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::maintenance::StepRecord;
use app::shared::format::bytes_binary;

use crate::config::CleanupStep;
use crate::docker::collector::DockerHandle;
use crate::docker::disk::KEEP_LABEL;
use crate::docker::DockerClient;

/// What the steps need from the server.
#[derive(Clone)]
pub struct Ctx {
    pub docker: Option<Arc<DockerHandle>>,
    pub rootfs: PathBuf,
    /// The filesystem whose used space is recorded before and after (the scored disk).
    pub disk_mount: String,
    pub step_timeout: Duration,
}

/// A step's result before it is stamped with its name and duration.
struct Done {
    freed: Option<u64>,
    items: u32,
    detail: String,
}

type StepResult = Result<Done, String>;

impl Ctx {
    fn host_path(&self, path: &str) -> PathBuf {
        self.rootfs.join(path.trim_start_matches('/'))
    }

    pub(super) async fn docker(&self) -> Result<DockerClient, String> {
        let handle = self
            .docker
            .as_ref()
            .ok_or("Docker monitoring is off (docker.enabled = false)")?;
        handle.get().await.map_err(|e| e.to_string())
    }

    /// Used bytes of the recorded filesystem, as `df` counts them.
    pub fn disk_used_bytes(&self) -> Option<u64> {
        let st = rustix::fs::statvfs(self.host_path(&self.disk_mount)).ok()?;
        Some(st.f_blocks.saturating_sub(st.f_bfree) * st.f_frsize)
    }
}

/// What the step would free, without changing anything.
pub async fn estimate(step: &CleanupStep, ctx: &Ctx) -> StepRecord {
    timed(step, ctx, estimate_inner(step, ctx)).await
}

/// Runs the step.
pub async fn execute(step: &CleanupStep, ctx: &Ctx) -> StepRecord {
    timed(step, ctx, execute_inner(step, ctx)).await
}

async fn timed(
    step: &CleanupStep,
    ctx: &Ctx,
    fut: impl std::future::Future<Output = StepResult>,
) -> StepRecord {
    let start = Instant::now();
    let result = match tokio::time::timeout(ctx.step_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "stopped after the step timeout ({} s, maintenance.step_timeout_secs)",
            ctx.step_timeout.as_secs()
        )),
    };
    let duration_ms = start.elapsed().as_millis() as i64;
    match result {
        Ok(d) => StepRecord {
            name: step.name(),
            freed_bytes: d.freed,
            items: d.items,
            error: None,
            detail: d.detail,
            duration_ms,
        },
        Err(e) => StepRecord {
            name: step.name(),
            freed_bytes: None,
            items: 0,
            error: Some(e),
            detail: step.describe(),
            duration_ms,
        },
    }
}

fn cutoff_secs(days: u64) -> i64 {
    app::shared::clock::now_ms() / 1000 - (days as i64).saturating_mul(86_400)
}

/// Images no container uses that an image prune with this age would remove, with the bytes
/// only they hold.
async fn image_candidates(c: &DockerClient, days: u64) -> Result<(u32, u64, Vec<String>), String> {
    let used: HashSet<String> = c
        .list()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|s| s.image_id)
        .collect();
    let cutoff = cutoff_secs(days);
    let images = c.images().await.map_err(|e| e.to_string())?;
    let own = own_bytes(&images);
    // A parent of another image keeps its layers when pruned (the engine only removes its
    // tag), so it frees nothing; the engine's prune skips untagged parents altogether.
    let parents: HashSet<&str> = images.iter().map(|i| i.parent_id.as_str()).collect();
    let mut n = 0;
    let mut bytes = 0u64;
    let mut names = Vec::new();
    for (image, own) in images.iter().zip(own) {
        let dangling = image.repo_tags.iter().all(|t| t == "<none>:<none>");
        if used.contains(&image.id)
            || parents.contains(image.id.as_str())
            || !(dangling || image.created < cutoff)
        {
            continue;
        }
        // The bytes only this image holds: what the engine says it shares when it says so
        // (API 1.42+), else what it adds over a local parent image, else all of it.
        let unique = if image.shared_size >= 0 {
            image.size - image.shared_size
        } else {
            own
        };
        n += 1;
        bytes += unique.max(0) as u64;
        names.push(if dangling {
            format!(
                "<none> {}",
                image
                    .id
                    .trim_start_matches("sha256:")
                    .chars()
                    .take(12)
                    .collect::<String>()
            )
        } else {
            image.repo_tags.join(", ")
        });
    }
    Ok((n, bytes, names))
}

/// The bytes each image adds over its parent when the parent is in `images` (the list holds
/// intermediate images too), else its whole size: its own layers.
pub fn own_bytes(images: &[bollard::models::ImageSummary]) -> Vec<i64> {
    let sizes: std::collections::HashMap<&str, i64> =
        images.iter().map(|i| (i.id.as_str(), i.size)).collect();
    images
        .iter()
        .map(|i| (i.size - sizes.get(i.parent_id.as_str()).copied().unwrap_or(0)).max(0))
        .collect()
}

/// Stopped containers a prune with this age would remove, with their writable layers' size.
async fn container_candidates(
    c: &DockerClient,
    days: u64,
) -> Result<(u32, u64, Vec<String>), String> {
    let cutoff = cutoff_secs(days);
    let mut n = 0;
    let mut bytes = 0u64;
    let mut names = Vec::new();
    for s in c.containers_with_size().await.map_err(|e| e.to_string())? {
        let stopped = matches!(
            s.state.map(|st| st.to_string()).as_deref(),
            Some("exited" | "created" | "dead")
        );
        let keep = s
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(KEEP_LABEL));
        if !stopped || keep || s.created.unwrap_or(i64::MAX) >= cutoff {
            continue;
        }
        n += 1;
        bytes += s.size_rw.unwrap_or(0).max(0) as u64;
        names.extend(
            s.names
                .unwrap_or_default()
                .first()
                .map(|x| x.trim_start_matches('/').to_string()),
        );
    }
    Ok((n, bytes, names))
}

/// Container log files over `over` bytes: (container name, host path, size).
async fn big_logs(
    c: &DockerClient,
    ctx: &Ctx,
    over: u64,
) -> Result<Vec<(String, PathBuf, u64)>, String> {
    let mut out = Vec::new();
    for s in c.list().await.map_err(|e| e.to_string())? {
        let (Some(id), name) = (s.id.clone(), s.names.unwrap_or_default().first().cloned()) else {
            continue;
        };
        let Some(path) = c.log_path(&id).await.map_err(|e| e.to_string())? else {
            continue;
        };
        let path = ctx.host_path(&path);
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.len() > over {
                let name = name.unwrap_or(id).trim_start_matches('/').to_string();
                out.push((name, path, meta.len()));
            }
        }
    }
    Ok(out)
}

fn list(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    let more = names.len().saturating_sub(shown.len());
    let mut s = shown.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

fn apt_files(ctx: &Ctx) -> Vec<(PathBuf, u64)> {
    let base = ctx.host_path("/var/cache/apt");
    let mut files = Vec::new();
    for dir in [base.join("archives"), base.join("archives/partial")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let deb = p.extension().is_some_and(|x| x == "deb") || dir.ends_with("partial");
            if let (true, Ok(m)) = (deb, e.metadata()) {
                if m.is_file() {
                    files.push((p, m.len()));
                }
            }
        }
    }
    for name in ["pkgcache.bin", "srcpkgcache.bin"] {
        if let Ok(m) = std::fs::metadata(base.join(name)) {
            files.push((base.join(name), m.len()));
        }
    }
    files
}

/// Runs a program without a shell; its output's tail, or why it failed.
async fn run(program: &str, args: &[String]) -> Result<String, String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("could not start {program}: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let tail = crate::maintenance::store::tail(text.trim(), 400).to_string();
    if out.status.success() {
        Ok(tail)
    } else {
        Err(format!("{program} exited with {}: {tail}", out.status))
    }
}

fn journal_args(ctx: &Ctx, extra: &str) -> Vec<String> {
    let mut args = vec![extra.to_string()];
    if ctx.rootfs != Path::new("/") {
        args.push(format!(
            "--directory={}",
            ctx.host_path("/var/log/journal").display()
        ));
    }
    args
}

async fn journal_usage(ctx: &Ctx) -> Result<u64, String> {
    let text = run("journalctl", &journal_args(ctx, "--disk-usage")).await?;
    let after = text.split("take up").nth(1).unwrap_or(&text);
    super::import::first_size(after).ok_or_else(|| format!("journalctl said {text:?}"))
}

async fn estimate_inner(step: &CleanupStep, ctx: &Ctx) -> StepResult {
    match step {
        CleanupStep::BuilderCache => {
            let c = ctx.docker().await?;
            Ok(match c.build_cache_reclaimable().await.map_err(|e| e.to_string())? {
                Some(b) => Done { freed: Some(b), items: 0, detail: format!("{} of build cache no build uses", bytes_binary(b as f64)) },
                None => Done {
                    freed: None,
                    items: 0,
                    detail: "this engine does not report reclaimable build cache before a prune; the run reports what the prune reclaimed".into(),
                },
            })
        }
        CleanupStep::Images { older_than_days } => {
            let (n, bytes, names) =
                image_candidates(&ctx.docker().await?, *older_than_days).await?;
            Ok(Done {
                freed: Some(bytes),
                items: n,
                detail: if n == 0 {
                    "no unused images to remove".into()
                } else {
                    format!("{n} unused images: {}", list(&names))
                },
            })
        }
        CleanupStep::Containers { older_than_days } => {
            let (n, bytes, names) =
                container_candidates(&ctx.docker().await?, *older_than_days).await?;
            Ok(Done {
                freed: Some(bytes),
                items: n,
                detail: if n == 0 {
                    "no stopped containers old enough".into()
                } else {
                    format!("{n} stopped containers: {}", list(&names))
                },
            })
        }
        CleanupStep::ContainerLogs { over_bytes } => {
            let logs = big_logs(&ctx.docker().await?, ctx, *over_bytes).await?;
            let bytes = logs.iter().map(|l| l.2).sum();
            let names: Vec<String> = logs
                .iter()
                .map(|l| format!("{} ({})", l.0, bytes_binary(l.2 as f64)))
                .collect();
            Ok(Done {
                freed: Some(bytes),
                items: logs.len() as u32,
                detail: if logs.is_empty() {
                    "no log file over the size".into()
                } else {
                    format!("truncate {}", list(&names))
                },
            })
        }
        CleanupStep::Journal { max_bytes } => {
            let usage = journal_usage(ctx).await?;
            Ok(Done {
                freed: Some(usage.saturating_sub(*max_bytes)),
                items: 0,
                detail: format!("the journal takes {}", bytes_binary(usage as f64)),
            })
        }
        CleanupStep::AptCache => {
            let files = apt_files(ctx);
            let bytes = files.iter().map(|f| f.1).sum();
            Ok(Done {
                freed: Some(bytes),
                items: files.len() as u32,
                detail: format!("{} files under /var/cache/apt", files.len()),
            })
        }
        CleanupStep::Command { command, .. } => Ok(Done {
            freed: None,
            items: 0,
            detail: format!(
                "runs `{}`; what it frees is measured when it runs",
                command.join(" ")
            ),
        }),
    }
}

async fn execute_inner(step: &CleanupStep, ctx: &Ctx) -> StepResult {
    let prune_timeout = ctx.step_timeout;
    match step {
        CleanupStep::BuilderCache => {
            let p = ctx
                .docker()
                .await?
                .prune_build_cache(prune_timeout)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Done {
                freed: Some(p.bytes),
                items: p.items,
                detail: format!("{} cache records removed", p.items),
            })
        }
        CleanupStep::Images { older_than_days } => {
            let c = ctx.docker().await?;
            let aged = c
                .prune_images(false, cutoff_secs(*older_than_days), prune_timeout)
                .await
                .map_err(|e| e.to_string())?;
            let dangling = c
                .prune_images(true, 0, prune_timeout)
                .await
                .map_err(|e| e.to_string())?;
            let items = aged.items + dangling.items;
            Ok(Done {
                freed: Some(aged.bytes + dangling.bytes),
                items,
                detail: format!("{items} image layers and tags removed"),
            })
        }
        CleanupStep::Containers { older_than_days } => {
            let p = ctx
                .docker()
                .await?
                .prune_containers(cutoff_secs(*older_than_days), prune_timeout)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Done {
                freed: Some(p.bytes),
                items: p.items,
                detail: format!("{} stopped containers removed", p.items),
            })
        }
        CleanupStep::ContainerLogs { over_bytes } => {
            let logs = big_logs(&ctx.docker().await?, ctx, *over_bytes).await?;
            let mut freed = 0;
            let mut errors = Vec::new();
            for (name, path, size) in &logs {
                // Docker's json-file driver appends, so truncating in place is safe.
                match std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| f.set_len(0))
                {
                    Ok(()) => freed += size,
                    Err(e) => errors.push(format!("{name}: {e}")),
                }
            }
            if !errors.is_empty() {
                return Err(format!("could not truncate {}", errors.join("; ")));
            }
            Ok(Done {
                freed: Some(freed),
                items: logs.len() as u32,
                detail: format!("{} log files truncated", logs.len()),
            })
        }
        CleanupStep::Journal { max_bytes } => {
            let before = journal_usage(ctx).await?;
            run(
                "journalctl",
                &journal_args(ctx, &format!("--vacuum-size={max_bytes}")),
            )
            .await?;
            let after = journal_usage(ctx).await?;
            Ok(Done {
                freed: Some(before.saturating_sub(after)),
                items: 0,
                detail: format!("the journal takes {} now", bytes_binary(after as f64)),
            })
        }
        CleanupStep::AptCache => {
            let mut freed = 0;
            let mut n = 0;
            let mut errors = Vec::new();
            for (path, size) in apt_files(ctx) {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        freed += size;
                        n += 1;
                    }
                    Err(e) => errors.push(format!("{}: {e}", path.display())),
                }
            }
            if let Some(first) = errors.first() {
                return Err(format!(
                    "{} files could not be removed, first {first}",
                    errors.len()
                ));
            }
            Ok(Done {
                freed: Some(freed),
                items: n,
                detail: format!("{n} files removed"),
            })
        }
        CleanupStep::Command { command, .. } => {
            let before = ctx.disk_used_bytes();
            let (program, args) = command.split_first().ok_or("empty command")?;
            let output = run(program, args).await?;
            let after = ctx.disk_used_bytes();
            let freed = before.zip(after).map(|(b, a)| b.saturating_sub(a));
            Ok(Done {
                freed,
                items: 0,
                detail: if output.is_empty() {
                    "ran".into()
                } else {
                    output
                },
            })
        }
    }
}
