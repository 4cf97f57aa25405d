//! A private Docker engine for tests: Debian's `dockerd` on its own socket, data root and exec
//! root, with no bridge, iptables or NAT (so the host's network is untouched), and an offline test
//! image built from the host's static busybox (no registry is reachable here).
//!
//! Containers made through [`Engine::run`] are removed, and dockerd stopped, on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::Proc;

/// The health-checked test image: healthy while `/health` exists; logs `tick N` every second;
/// exits promptly on SIGTERM (PID 1 ignores it otherwise).
pub const IMAGE: &str = "steward-test/health";
// The check fails at once when /health is gone; its timeout only has to outlast a loaded machine
// (with 1 s, `docker exec` alone sometimes took longer while the other tests ran, and a healthy
// container turned unhealthy and was restarted).

const DOCKERFILE: &str = r#"FROM steward-test/busybox
RUN touch /health
HEALTHCHECK --interval=2s --timeout=10s --retries=1 CMD test -f /health
CMD ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done"]
"#;

/// Why the engine could not be started (tests print it and skip loudly).
pub fn unavailable_reason() -> Option<String> {
    if !Path::new("/usr/sbin/dockerd").exists() && which("dockerd").is_none() {
        return Some("dockerd is not installed (make test installs Debian's docker.io)".into());
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("/bin/busybox is missing (make test installs busybox-static)".into());
    }
    // dockerd needs root (cgroups, mounts, namespaces).
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("dockerd needs root here".into());
    }
    None
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// A running private engine.
pub struct Engine {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    exec_root: PathBuf,
    containers: std::sync::Mutex<Vec<String>>,
    daemon: Option<Proc>,
}

impl Engine {
    /// Starts dockerd and builds the test image; `None` (with the reason printed) when this
    /// machine cannot run Docker.
    pub fn start() -> Option<Engine> {
        if let Some(why) = unavailable_reason() {
            eprintln!("SKIPPED: Docker tests need a Docker engine: {why}");
            return None;
        }
        // Short paths: unix socket paths are limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("stw-dk")
            .tempdir_in("/tmp")
            .unwrap();
        let socket = dir.path().join("d.sock");
        let exec_root = dir.path().join("x");
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let child = Command::new(which("dockerd").unwrap_or_else(|| "/usr/sbin/dockerd".into()))
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(&exec_root)
            .arg("--pidfile")
            .arg(dir.path().join("d.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--storage-driver=vfs",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        let engine = Engine {
            dir,
            socket,
            exec_root,
            containers: Default::default(),
            daemon: Some(Proc(child)),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !engine.cli(&["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "dockerd did not come up; log: {}",
                std::fs::read_to_string(engine.dir.path().join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        engine.build_image();
        Some(engine)
    }

    /// `unix:///…/d.sock`, for `docker.host`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Runs the Debian docker CLI against this engine.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new("/usr/bin/docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("docker CLI runs")
    }

    /// Like [`Engine::cli`], failing the test with Docker's message on error.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn build_image(&self) {
        let root = self.dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
        for applet in ["sh", "sleep", "test", "echo", "rm", "touch", "cat", "ls"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        let tar = self.dir.path().join("rootfs.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success(), "tar of the busybox rootfs");
        self.ok(&["import", tar.to_str().unwrap(), "steward-test/busybox"]);
        let ctx = self.dir.path().join("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
        self.ok(&["build", "-q", "-t", IMAGE, ctx.to_str().unwrap()]);
    }

    /// `docker run -d --network none` with extra arguments; returns the container id.
    pub fn run(&self, name: &str, extra: &[&str]) -> String {
        self.run_cmd(name, extra, &[])
    }

    /// Like [`Engine::run`], with the image's command replaced by `cmd`.
    pub fn run_cmd(&self, name: &str, extra: &[&str], cmd: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--network", "none", "--name", name];
        args.extend_from_slice(extra);
        args.push(IMAGE);
        args.extend_from_slice(cmd);
        let id = self.ok(&args);
        self.containers.lock().unwrap().push(name.to_string());
        id
    }

    /// Removes the container named `name` with the engine (one the test ran by hand).
    pub fn adopt(&self, name: &str) {
        self.containers.lock().unwrap().push(name.to_string());
    }

    /// Makes a container fail its health check from now on.
    pub fn make_unhealthy(&self, name: &str) {
        self.ok(&["exec", name, "rm", "-f", "/health"]);
    }

    /// `State.StartedAt` of a container (changes on every start, manual or not).
    pub fn started_at(&self, name: &str) -> String {
        self.ok(&["inspect", "-f", "{{.State.StartedAt}}", name])
    }

    /// `State.Status` of a container.
    pub fn state(&self, name: &str) -> String {
        self.ok(&["inspect", "-f", "{{.State.Status}}", name])
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let names = self
            .containers
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        if !names.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(names.iter().map(String::as_str));
            let _ = self.cli(&args);
        }
        if let Some(mut d) = self.daemon.take() {
            // SIGTERM lets dockerd unmount; kill if it hangs.
            let _ = Command::new("kill").arg(d.0.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = d.0.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            drop(d);
        }
        let netns = self.exec_root.join("netns/default");
        if netns.exists() {
            let _ = Command::new("umount").arg(&netns).status();
        }
        // The vfs data root is large and may hold busy mounts briefly; best effort.
        let _ = Command::new("rm")
            .arg("-rf")
            .arg(self.dir.path().join("data"))
            .status();
    }
}
