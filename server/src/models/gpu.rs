//! GPUs from sysfs, read like node_exporter's drm collector (`--path.sysfs`): AMD cards report
//! busy %, VRAM and hwmon readings under `/sys/class/drm/card*/device`. NVIDIA's driver exposes
//! none of that there; an NVIDIA card is found by its PCI vendor and read through NVML
//! (`nvml.rs`).
//! No GPU is a state ("none"), not an error.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use app::models::{Gpu, GpuReport, GpuVendor};

use super::nvml;
use crate::config::HostPaths;

const AMD: &str = "0x1002";
const NVIDIA: &str = "0x10de";

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn num(p: &Path) -> Option<f64> {
    read(p)?.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `card0`, `card1`… (not `card0-DP-1`, the connectors).
fn cards(sysfs: &Path) -> Vec<(u32, PathBuf)> {
    let Ok(dir) = std::fs::read_dir(sysfs.join("class/drm")) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, PathBuf)> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: u32 = name.strip_prefix("card")?.parse().ok()?;
            Some((n, e.path().join("device")))
        })
        .collect();
    out.sort();
    out
}

/// The first hwmon folder of a device.
fn hwmon(device: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(device.join("hwmon"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

/// One AMD card's readings; the files the driver lacks stay `None`.
pub fn amd_card(index: u32, device: &Path) -> Gpu {
    let hw = hwmon(device);
    let hw_num = |f: &str| hw.as_ref().and_then(|h| num(&h.join(f)));
    let fan_pct = match (hw_num("pwm1"), hw_num("pwm1_max")) {
        (Some(p), Some(max)) if max > 0.0 => Some(p / max * 100.0),
        (Some(p), None) => Some(p / 255.0 * 100.0),
        _ => None,
    };
    Gpu {
        index,
        vendor: GpuVendor::Amd,
        name: read(&device.join("product_name"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("AMD GPU (card{index})")),
        util_pct: num(&device.join("gpu_busy_percent")),
        vram_used_bytes: num(&device.join("mem_info_vram_used")).map(|v| v as u64),
        vram_total_bytes: num(&device.join("mem_info_vram_total")).map(|v| v as u64),
        // hwmon: millidegrees Celsius, microwatts.
        temperature_c: hw_num("temp1_input").map(|t| t / 1000.0),
        power_w: hw_num("power1_average")
            .or_else(|| hw_num("power1_input"))
            .map(|p| p / 1e6),
        power_limit_w: hw_num("power1_cap").map(|p| p / 1e6),
        fan_pct,
        processes: Vec::new(),
    }
}

/// Reads every GPU under `sysfs`; NVIDIA cards go through `nvidia` (NVML).
pub fn read_all(sysfs: &Path, nvidia: impl FnOnce() -> Result<Vec<Gpu>, String>) -> GpuReport {
    let mut gpus = Vec::new();
    let mut nvidia_cards = 0;
    for (index, device) in cards(sysfs) {
        match read(&device.join("vendor")).as_deref() {
            Some(AMD) => gpus.push(amd_card(index, &device)),
            Some(NVIDIA) => nvidia_cards += 1,
            _ => {}
        }
    }
    if nvidia_cards > 0 || super::nvml::nvidia_present(sysfs) {
        match nvidia() {
            Ok(n) => gpus.extend(n),
            Err(message) => return GpuReport::Error { message, gpus },
        }
    }
    if gpus.is_empty() {
        GpuReport::None {
            detail: "GPU: none — inference will be slow (runs on the CPU)".into(),
        }
    } else {
        GpuReport::Ok { gpus }
    }
}

/// Reads the host's GPUs each round (blocking: run it on a blocking thread). NVML is opened
/// on the first round that finds an NVIDIA card, kept, and retried while it fails. The models
/// collector and the agent each hold one; clones share the library handle.
#[derive(Clone, Default)]
pub struct GpuReader {
    nvml: Arc<Mutex<Option<Box<dyn nvml::NvmlSource>>>>,
}

impl GpuReader {
    /// This round's GPUs; `on` is `models.gpus`.
    pub fn read(&self, on: bool, paths: &HostPaths) -> GpuReport {
        if !on {
            return GpuReport::None {
                detail: "GPU reading is off (models.gpus = false)".into(),
            };
        }
        read_all(&paths.sysfs, || {
            let mut slot = self.nvml.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some(Box::new(nvml::RealNvml::open()?));
            }
            let source = slot.as_mut().expect("opened above");
            Ok(nvml::to_gpus(source.read()?, &paths.procfs))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// node_exporter's drm collector fixture (`collector/fixtures/sys.ttar`, card0 of an amdgpu
    /// card), as files under a temporary sysfs, plus a hwmon folder and a connector entry.
    fn amd_sysfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("class/drm/card0/device");
        std::fs::create_dir_all(dev.join("hwmon/hwmon1")).unwrap();
        std::fs::create_dir_all(dir.path().join("class/drm/card0-DP-1")).unwrap();
        for (f, v) in [
            ("vendor", "0x1002"),
            ("gpu_busy_percent", "4"),
            ("mem_info_gtt_total", "8573157376"),
            ("mem_info_gtt_used", "144560128"),
            ("mem_info_vis_vram_total", "8573157376"),
            ("mem_info_vis_vram_used", "1490378752"),
            ("mem_info_vram_total", "8573157376"),
            ("mem_info_vram_used", "1490378752"),
            ("unique_id", "0123456789abcdef"),
            ("hwmon/hwmon1/temp1_input", "51000"),
            ("hwmon/hwmon1/power1_average", "25000000"),
            ("hwmon/hwmon1/power1_cap", "150000000"),
            ("hwmon/hwmon1/pwm1", "51"),
            ("hwmon/hwmon1/pwm1_max", "255"),
        ] {
            std::fs::write(dev.join(f), format!("{v}\n")).unwrap();
        }
        dir
    }

    #[test]
    fn amd_card_from_sysfs() {
        let dir = amd_sysfs();
        let report = read_all(dir.path(), || panic!("no NVIDIA card here"));
        let GpuReport::Ok { gpus } = report else {
            panic!("{report:?}")
        };
        let g = &gpus[0];
        assert_eq!(
            (g.index, g.vendor, g.name.as_str()),
            (0, GpuVendor::Amd, "AMD GPU (card0)")
        );
        assert_eq!(g.util_pct, Some(4.0));
        assert_eq!(g.vram_total_bytes, Some(8_573_157_376));
        assert_eq!(g.vram_free_bytes(), Some(8_573_157_376 - 1_490_378_752));
        assert_eq!(
            (g.temperature_c, g.power_w, g.power_limit_w),
            (Some(51.0), Some(25.0), Some(150.0))
        );
        assert_eq!(g.fan_pct, Some(20.0));
    }

    #[test]
    fn no_gpu_is_a_state_and_a_failing_library_an_error() {
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_all(empty.path(), || unreachable!()),
            GpuReport::None { .. }
        ));
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("class/drm/card1/device");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("vendor"), "0x10de\n").unwrap();
        let library = || Err("NVML could not be loaded: a libloading error occurred".to_string());
        match read_all(dir.path(), library) {
            GpuReport::Error { message, gpus } => {
                assert!(message.contains("NVML"));
                assert!(gpus.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}
