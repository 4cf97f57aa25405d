//! NVIDIA GPUs through NVML (`nvml-wrapper` loads `libnvidia-ml.so.1` at run time). The readings
//! go through [`NvmlSource`] so the conversion is tested on recorded values; the real source is
//! opened only when an NVIDIA card is on the PCI bus, and a library that fails is an error with
//! its message. Each process holding GPU memory is mapped to its container through
//! `/proc/PID/cgroup`.

use std::path::Path;

use app::models::{Gpu, GpuProcess, GpuVendor};

/// One GPU as NVML reports it; `None` where the call is not supported on this card.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawGpu {
    pub index: u32,
    pub name: String,
    pub util_pct: Option<u32>,
    pub mem_used: Option<u64>,
    pub mem_total: Option<u64>,
    pub temperature_c: Option<u32>,
    pub power_mw: Option<u32>,
    pub power_limit_mw: Option<u32>,
    pub fan_pct: Option<u32>,
    /// (pid, GPU memory in bytes when known)
    pub processes: Vec<(u32, Option<u64>)>,
}

/// Where GPU readings come from: NVML, or recorded values in tests.
pub trait NvmlSource: Send {
    fn read(&mut self) -> Result<Vec<RawGpu>, String>;
}

/// The real NVML, opened once and kept.
pub struct RealNvml(nvml_wrapper::Nvml);

impl RealNvml {
    pub fn open() -> Result<Self, String> {
        nvml_wrapper::Nvml::init()
            .map(Self)
            .map_err(|e| format!("NVML could not be loaded: {e}"))
    }
}

impl NvmlSource for RealNvml {
    fn read(&mut self) -> Result<Vec<RawGpu>, String> {
        use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
        use nvml_wrapper::enums::device::UsedGpuMemory;
        let n = self
            .0
            .device_count()
            .map_err(|e| format!("NVML device count: {e}"))?;
        let mut out = Vec::new();
        for index in 0..n {
            let d = self
                .0
                .device_by_index(index)
                .map_err(|e| format!("NVML GPU {index}: {e}"))?;
            let mem = d.memory_info().ok();
            out.push(RawGpu {
                index,
                name: d.name().unwrap_or_else(|_| format!("NVIDIA GPU {index}")),
                util_pct: d.utilization_rates().ok().map(|u| u.gpu),
                mem_used: mem.as_ref().map(|m| m.used),
                mem_total: mem.as_ref().map(|m| m.total),
                temperature_c: d.temperature(TemperatureSensor::Gpu).ok(),
                power_mw: d.power_usage().ok(),
                power_limit_mw: d.enforced_power_limit().ok(),
                fan_pct: d.fan_speed(0).ok(),
                processes: d
                    .running_compute_processes()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| {
                        let used = match p.used_gpu_memory {
                            UsedGpuMemory::Used(b) => Some(b),
                            UsedGpuMemory::Unavailable => None,
                        };
                        (p.pid, used)
                    })
                    .collect(),
            });
        }
        Ok(out)
    }
}

/// Whether an NVIDIA display or 3D controller is on the PCI bus (vendor 0x10de, class 0x03…).
pub fn nvidia_present(sysfs: &Path) -> bool {
    let Ok(dir) = std::fs::read_dir(sysfs.join("bus/pci/devices")) else {
        return false;
    };
    dir.flatten().any(|e| {
        let read = |f: &str| std::fs::read_to_string(e.path().join(f)).unwrap_or_default();
        read("vendor").trim() == "0x10de" && read("class").trim().starts_with("0x03")
    })
}

/// The container a process runs in, from its `/proc/PID/cgroup` text: Docker's
/// `docker-<id>.scope` (cgroup v2, systemd driver) or `/docker/<id>` (cgroupfs), as a short id.
pub fn container_of(cgroup: &str) -> Option<String> {
    cgroup.lines().find_map(|line| {
        let path = line.rsplit(':').next()?;
        let id = path
            .split('/')
            .filter_map(|part| {
                part.strip_prefix("docker-")
                    .and_then(|p| p.strip_suffix(".scope"))
                    .or_else(|| path.contains("/docker/").then_some(part))
            })
            .find(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))?;
        Some(id[..12].to_string())
    })
}

/// NVML's units to the panel's, each process with its container.
pub fn to_gpus(raw: Vec<RawGpu>, procfs: &Path) -> Vec<Gpu> {
    raw.into_iter()
        .map(|r| Gpu {
            index: r.index,
            vendor: GpuVendor::Nvidia,
            name: r.name,
            util_pct: r.util_pct.map(f64::from),
            vram_used_bytes: r.mem_used,
            vram_total_bytes: r.mem_total,
            temperature_c: r.temperature_c.map(f64::from),
            power_w: r.power_mw.map(|m| f64::from(m) / 1000.0),
            power_limit_w: r.power_limit_mw.map(|m| f64::from(m) / 1000.0),
            fan_pct: r.fan_pct.map(f64::from),
            processes: r
                .processes
                .into_iter()
                .map(|(pid, vram)| GpuProcess {
                    pid,
                    vram_bytes: vram,
                    container: std::fs::read_to_string(procfs.join(format!("{pid}/cgroup")))
                        .ok()
                        .and_then(|c| container_of(&c)),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values recorded from an H100 serving one vLLM process (nvidia-smi's view of the same).
    struct Recorded;

    impl NvmlSource for Recorded {
        fn read(&mut self) -> Result<Vec<RawGpu>, String> {
            Ok(vec![RawGpu {
                index: 0,
                name: "NVIDIA H100 80GB HBM3".into(),
                util_pct: Some(37),
                mem_used: Some(71_940_702_208),
                mem_total: Some(85_520_809_984),
                temperature_c: Some(41),
                power_mw: Some(187_456),
                power_limit_mw: Some(700_000),
                fan_pct: None,
                processes: vec![(4242, Some(71_303_168_000)), (4243, None)],
            }])
        }
    }

    #[test]
    fn recorded_nvml_values_become_the_panel_units_with_containers() {
        let dir = tempfile::tempdir().unwrap();
        let id = "3f1c2d4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";
        std::fs::create_dir_all(dir.path().join("4242")).unwrap();
        std::fs::write(
            dir.path().join("4242/cgroup"),
            format!("0::/system.slice/docker-{id}.scope\n"),
        )
        .unwrap();
        let gpus = to_gpus(Recorded.read().unwrap(), dir.path());
        let g = &gpus[0];
        assert_eq!(g.vendor, GpuVendor::Nvidia);
        assert_eq!(g.util_pct, Some(37.0));
        assert_eq!(g.vram_free_bytes(), Some(85_520_809_984 - 71_940_702_208));
        assert_eq!((g.power_w, g.power_limit_w), (Some(187.456), Some(700.0)));
        assert_eq!(g.fan_pct, None, "data-centre cards have no fan reading");
        assert_eq!(g.processes[0].container.as_deref(), Some("3f1c2d4e5a6b"));
        assert_eq!(g.processes[1].container, None);
        assert_eq!(g.processes[1].vram_bytes, None);
    }

    #[test]
    fn containers_from_cgroup_v1_and_v2() {
        let id = "a".repeat(64);
        assert_eq!(
            container_of(&format!("12:memory:/docker/{id}\n11:cpu:/docker/{id}\n")).as_deref(),
            Some("aaaaaaaaaaaa")
        );
        assert_eq!(
            container_of(&format!("0::/system.slice/docker-{id}.scope\n")).as_deref(),
            Some("aaaaaaaaaaaa")
        );
        assert_eq!(
            container_of("0::/user.slice/user-1000.slice/session-2.scope\n"),
            None
        );
        assert_eq!(container_of("0::/docker/not-an-id\n"), None);
        assert_eq!(container_of(""), None);
    }

    #[test]
    fn nvidia_found_on_the_pci_bus_only_as_a_display_controller() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("bus/pci/devices/0000:01:00.1");
        std::fs::create_dir_all(&dev).unwrap();
        // An NVIDIA audio function is not a GPU.
        std::fs::write(dev.join("vendor"), "0x10de\n").unwrap();
        std::fs::write(dev.join("class"), "0x040300\n").unwrap();
        assert!(!nvidia_present(dir.path()));
        let gpu = dir.path().join("bus/pci/devices/0000:01:00.0");
        std::fs::create_dir_all(&gpu).unwrap();
        std::fs::write(gpu.join("vendor"), "0x10de\n").unwrap();
        std::fs::write(gpu.join("class"), "0x030200\n").unwrap();
        assert!(nvidia_present(dir.path()));
    }
}
