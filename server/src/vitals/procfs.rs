//! Pure parsers for the Linux files the vitals collector reads (`/proc`, `/sys`).
//!
//! No I/O here: each function takes the file's text and returns typed data or a [`ParseError`].

use std::collections::HashMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("{file}: missing {what}")]
    Missing { file: &'static str, what: String },
    #[error("{file}: bad value {value:?} for {what}")]
    BadValue {
        file: &'static str,
        what: String,
        value: String,
    },
}

fn num<T: std::str::FromStr>(file: &'static str, what: &str, value: &str) -> Result<T, ParseError> {
    value.parse().map_err(|_| ParseError::BadValue {
        file,
        what: what.to_string(),
        value: value.to_string(),
    })
}

/// A reading that must be a finite number: the kernel never writes `nan` or `inf`, so a file
/// that says so is damaged or faked, and the value is unknown rather than passed on.
fn finite(file: &'static str, what: &str, value: &str) -> Result<f64, ParseError> {
    let x: f64 = num(file, what, value)?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(ParseError::BadValue {
            file,
            what: what.to_string(),
            value: value.to_string(),
        })
    }
}

fn missing(file: &'static str, what: &str) -> ParseError {
    ParseError::Missing {
        file,
        what: what.to_string(),
    }
}

/// Aggregate CPU time from the `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// All time, excluding guest time (already counted in user and nice).
    pub fn total(&self) -> u64 {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }
}

/// What the collector takes from `/proc/stat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub cpu: CpuTimes,
    /// Number of `cpuN` lines: the online CPUs.
    pub cores: u32,
}

/// Parses `/proc/stat`. Fields missing on old kernels (steal before 2.6.11) count as 0.
pub fn parse_stat(text: &str) -> Result<Stat, ParseError> {
    const F: &str = "/proc/stat";
    let mut cpu = None;
    let mut cores = 0;
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        match fields.next() {
            Some("cpu") => {
                let v: Vec<u64> = fields
                    .take(8)
                    .enumerate()
                    .map(|(i, f)| num(F, &format!("cpu field {}", i + 1), f))
                    .collect::<Result<_, _>>()?;
                if v.len() < 4 {
                    return Err(missing(F, "user/nice/system/idle on the cpu line"));
                }
                let at = |i: usize| v.get(i).copied().unwrap_or(0);
                cpu = Some(CpuTimes {
                    user: at(0),
                    nice: at(1),
                    system: at(2),
                    idle: at(3),
                    iowait: at(4),
                    irq: at(5),
                    softirq: at(6),
                    steal: at(7),
                });
            }
            Some(name) if name.starts_with("cpu") => cores += 1,
            _ => {}
        }
    }
    Ok(Stat {
        cpu: cpu.ok_or_else(|| missing(F, "the aggregate cpu line"))?,
        cores,
    })
}

/// CPU percentages between two samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuPercent {
    pub busy: f64,
    pub steal: f64,
    pub iowait: f64,
}

/// Busy (not idle, not iowait, not steal), steal and iowait percent between two samples.
/// `None` when no time passed or the counters went backwards (e.g. CPU hot-unplug).
pub fn cpu_percent(prev: &CpuTimes, cur: &CpuTimes) -> Option<CpuPercent> {
    let total = cur.total().checked_sub(prev.total())?;
    if total == 0 {
        return None;
    }
    let d = |a: u64, b: u64| b.saturating_sub(a) as f64;
    let idle = d(prev.idle, cur.idle);
    let iowait = d(prev.iowait, cur.iowait);
    let steal = d(prev.steal, cur.steal);
    let t = total as f64;
    let pct = |x: f64| (x / t * 100.0).clamp(0.0, 100.0);
    Some(CpuPercent {
        busy: pct(t - idle - iowait - steal),
        steal: pct(steal),
        iowait: pct(iowait),
    })
}

/// `/proc/loadavg`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadAvg {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

pub fn parse_loadavg(text: &str) -> Result<LoadAvg, ParseError> {
    const F: &str = "/proc/loadavg";
    let mut f = text.split_ascii_whitespace();
    let mut next = |what: &str| -> Result<f64, ParseError> {
        let v = f.next().ok_or_else(|| missing(F, what))?;
        finite(F, what, v)
    };
    Ok(LoadAvg {
        one: next("load1")?,
        five: next("load5")?,
        fifteen: next("load15")?,
    })
}

/// `/proc/meminfo`, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemInfo {
    pub total: u64,
    /// Available memory: `MemAvailable`, or the estimate when the kernel lacks it.
    pub available: u64,
    /// True when `available` is the pre-3.14 estimate, not the kernel's own figure.
    pub available_estimated: bool,
    pub swap_total: u64,
    pub swap_free: u64,
    pub swap_cached: u64,
}

/// Parses `/proc/meminfo`.
///
/// Kernels before 3.14 have no `MemAvailable`; we then estimate it the way `free` did before
/// the kernel did it itself: `MemFree + Buffers + Cached + SReclaimable − Shmem` (never below
/// `MemFree`). The result is flagged as estimated.
pub fn parse_meminfo(text: &str) -> Result<MemInfo, ParseError> {
    const F: &str = "/proc/meminfo";
    let mut kv: HashMap<&str, u64> = HashMap::new();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut parts = rest.split_ascii_whitespace();
        let Some(value) = parts.next() else {
            continue;
        };
        let value: u64 = num(F, key, value)?;
        let bytes = match parts.next() {
            Some("kB") => value.saturating_mul(1024),
            _ => value,
        };
        kv.insert(key.trim(), bytes);
    }
    let get = |k: &str| kv.get(k).copied().ok_or_else(|| missing(F, k));
    let total = get("MemTotal")?;
    let free = get("MemFree")?;
    let (available, available_estimated) = match kv.get("MemAvailable") {
        Some(v) => (*v, false),
        None => {
            let opt = |k: &str| kv.get(k).copied().unwrap_or(0);
            let estimate = (free + opt("Buffers") + opt("Cached") + opt("SReclaimable"))
                .saturating_sub(opt("Shmem"))
                .max(free)
                .min(total);
            (estimate, true)
        }
    };
    Ok(MemInfo {
        total,
        available,
        available_estimated,
        swap_total: kv.get("SwapTotal").copied().unwrap_or(0),
        swap_free: kv.get("SwapFree").copied().unwrap_or(0),
        swap_cached: kv.get("SwapCached").copied().unwrap_or(0),
    })
}

/// One line of `/proc/mounts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub device: String,
    pub mount_point: String,
    pub fs_type: String,
}

/// Filesystem types that are not real storage (node_exporter's list, plus tmpfs and ramfs).
const PSEUDO_FS: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "fuse.lxcfs",
    "fuse.portal",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "procfs",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "erofs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "nfsd",
];

/// Mount points under which only runtime noise lives (container layers, kernel trees).
fn noisy_mount_point(mp: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/dev",
        "/proc",
        "/sys",
        "/run/credentials/",
        "/var/lib/docker/",
        "/var/lib/containers/storage/",
        "/snap/",
    ];
    PREFIXES.iter().any(|p| {
        mp == p.trim_end_matches('/') || mp.starts_with(&format!("{}/", p.trim_end_matches('/')))
    })
}

/// Decodes the octal escapes (`\040` for a space) the kernel uses in mount points.
fn unescape_mount(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Three octal digits that fit in a byte (a hostile name could say \777).
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .and_then(|d| {
                let v = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                u8::try_from(v).ok()
            });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/mounts` and keeps real filesystems only, one entry per device (the first).
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_ascii_whitespace();
            let device = f.next()?;
            let mount_point = unescape_mount(f.next()?);
            let fs_type = f.next()?;
            Some(Mount {
                device: device.to_string(),
                mount_point,
                fs_type: fs_type.to_string(),
            })
        })
        .filter(|m| !PSEUDO_FS.contains(&m.fs_type.as_str()) && !noisy_mount_point(&m.mount_point))
        .filter(|m| seen.insert(m.device.clone()))
        .collect()
}

/// Cumulative bytes read and written by whole block devices, from `/proc/diskstats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskIo {
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// Whether a block device name is a partition or a virtual device that would double-count I/O.
/// Used when `/sys/block` cannot tell us the whole disks.
pub fn skip_block_device(name: &str) -> bool {
    const VIRTUAL: &[&str] = &["loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd"];
    if VIRTUAL.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    let ends_digit = name.ends_with(|c: char| c.is_ascii_digit());
    if ["sd", "vd", "xvd", "hd"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        return ends_digit;
    }
    // NVMe and MMC partitions end in `p<digits>` after a digit: nvme0n1p1, mmcblk0p2.
    if name.starts_with("nvme") || name.starts_with("mmcblk") {
        if let Some(at) = name.rfind('p') {
            let (head, tail) = (&name[..at], &name[at + 1..]);
            return !tail.is_empty()
                && tail.chars().all(|c| c.is_ascii_digit())
                && head.ends_with(|c: char| c.is_ascii_digit());
        }
    }
    false
}

/// Sums `/proc/diskstats` over the devices `keep` accepts. Sectors are always 512 bytes there.
pub fn parse_diskstats(text: &str, keep: impl Fn(&str) -> bool) -> Result<DiskIo, ParseError> {
    const F: &str = "/proc/diskstats";
    let mut io = DiskIo::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        if !keep(f[2]) {
            continue;
        }
        let read: u64 = num(F, "sectors read", f[5])?;
        let written: u64 = num(F, "sectors written", f[9])?;
        io.read_bytes += read * 512;
        io.write_bytes += written * 512;
    }
    Ok(io)
}

/// Cumulative network bytes over interfaces, from `/proc/net/dev`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetIo {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// Interfaces that carry no traffic of the host's own (loopback, container bridges and veths).
pub fn skip_interface(name: &str) -> bool {
    const VIRTUAL: &[&str] = &[
        "lo", "veth", "docker", "br-", "virbr", "cni", "flannel", "cali", "vxlan",
    ];
    name == "lo" || VIRTUAL[1..].iter().any(|p| name.starts_with(p))
}

pub fn parse_net_dev(text: &str) -> Result<NetIo, ParseError> {
    const F: &str = "/proc/net/dev";
    let mut io = NetIo::default();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if skip_interface(name) {
            continue;
        }
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        if f.len() < 9 {
            return Err(missing(F, &format!("counters for {name}")));
        }
        io.rx_bytes += num::<u64>(F, "rx bytes", f[0])?;
        io.tx_bytes += num::<u64>(F, "tx bytes", f[8])?;
    }
    Ok(io)
}

/// The fields of `/proc/<pid>/stat` the collector uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PidStat {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    /// user + system time, in clock ticks.
    pub cpu_ticks: u64,
    /// Start time after boot, in clock ticks.
    pub start_ticks: u64,
    pub rss_pages: u64,
}

/// Parses `/proc/<pid>/stat`. The name may contain spaces and parentheses, so it is the text
/// between the first `(` and the *last* `)`.
pub fn parse_pid_stat(text: &str) -> Result<PidStat, ParseError> {
    const F: &str = "/proc/<pid>/stat";
    let open = text.find('(').ok_or_else(|| missing(F, "("))?;
    let close = text.rfind(')').ok_or_else(|| missing(F, ")"))?;
    if close < open {
        return Err(missing(F, "a name in parentheses"));
    }
    let pid = num(F, "pid", text[..open].trim())?;
    let comm = text[open + 1..close].to_string();
    // Fields after the name, numbered from 3 (state) as in proc(5).
    let rest: Vec<&str> = text[close + 1..].split_ascii_whitespace().collect();
    let field = |n: usize| {
        rest.get(n - 3)
            .copied()
            .ok_or_else(|| missing(F, &format!("field {n}")))
    };
    let state = field(3)?
        .chars()
        .next()
        .ok_or_else(|| missing(F, "state"))?;
    let utime: u64 = num(F, "utime", field(14)?)?;
    let stime: u64 = num(F, "stime", field(15)?)?;
    Ok(PidStat {
        pid,
        comm,
        state,
        cpu_ticks: utime + stime,
        start_ticks: num(F, "starttime", field(22)?)?,
        rss_pages: num::<i64>(F, "rss", field(24)?)?.max(0) as u64,
    })
}

/// Seconds since boot, from `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Result<f64, ParseError> {
    const F: &str = "/proc/uptime";
    let first = text
        .split_ascii_whitespace()
        .next()
        .ok_or_else(|| missing(F, "uptime"))?;
    finite(F, "uptime", first)
}

/// The `some avg10` (and `full avg10` where present) of a `/proc/pressure/*` file, in percent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pressure {
    pub some_avg10: f64,
    pub full_avg10: Option<f64>,
}

pub fn parse_pressure(text: &str) -> Result<Pressure, ParseError> {
    const F: &str = "/proc/pressure/*";
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        let mut f = line.split_ascii_whitespace();
        let kind = f.next();
        let avg10 = f
            .find_map(|kv| kv.strip_prefix("avg10="))
            .map(|v| finite(F, "avg10", v))
            .transpose()?;
        match kind {
            Some("some") => some = avg10,
            Some("full") => full = avg10,
            _ => {}
        }
    }
    Ok(Pressure {
        some_avg10: some.ok_or_else(|| missing(F, "some avg10"))?,
        full_avg10: full,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../tests/fixtures/procfs/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn stat_fixture() {
        let s = parse_stat(&fixture("stat")).unwrap();
        assert_eq!(s.cores, 2);
        assert_eq!(s.cpu.user, 10_000);
        assert_eq!(s.cpu.steal, 600);
        assert_eq!(
            s.cpu.total(),
            10_000 + 200 + 3_000 + 80_000 + 1_000 + 100 + 100 + 600
        );
    }

    #[test]
    fn stat_without_steal_column_is_zero_steal() {
        let s = parse_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(s.cpu.steal, 0);
        assert_eq!(s.cores, 1);
    }

    #[test]
    fn stat_errors_are_typed() {
        assert!(matches!(
            parse_stat("intr 1 2\n"),
            Err(ParseError::Missing { .. })
        ));
        assert!(matches!(
            parse_stat("cpu 1 x 3 4\n"),
            Err(ParseError::BadValue { .. })
        ));
        assert!(matches!(
            parse_stat("cpu 1 2\n"),
            Err(ParseError::Missing { .. })
        ));
    }

    #[test]
    fn cpu_percent_from_two_samples() {
        let a = CpuTimes {
            user: 100,
            idle: 800,
            steal: 0,
            iowait: 0,
            ..Default::default()
        };
        let b = CpuTimes {
            user: 150,
            idle: 880,
            steal: 10,
            iowait: 10,
            system: 50,
            ..Default::default()
        };
        // Δtotal = 50 + 80 + 10 + 10 + 50 = 200.
        let p = cpu_percent(&a, &b).unwrap();
        assert_eq!(p.steal, 5.0);
        assert_eq!(p.iowait, 5.0);
        assert_eq!(p.busy, 50.0);
        assert_eq!(cpu_percent(&a, &a), None);
        assert_eq!(cpu_percent(&b, &a), None);
    }

    #[test]
    fn loadavg() {
        let l = parse_loadavg("22.18 14.41 9.02 3/1234 5678\n").unwrap();
        assert_eq!((l.one, l.five, l.fifteen), (22.18, 14.41, 9.02));
        assert!(parse_loadavg("").is_err());
        assert!(parse_loadavg("1.0 x 2.0").is_err());
        // Non-finite readings are refused (the value becomes unknown with this error as reason).
        assert!(parse_loadavg("nan 1.0 1.0 1/1 1").is_err());
        assert!(parse_loadavg("1.0 inf 1.0 1/1 1").is_err());
        assert!(parse_uptime("NaN 1.0").is_err());
    }

    #[test]
    fn meminfo_with_mem_available() {
        let m = parse_meminfo(&fixture("meminfo")).unwrap();
        assert_eq!(m.total, 16_000_000 * 1024);
        assert_eq!(m.available, 9_000_000 * 1024);
        assert!(!m.available_estimated);
        assert_eq!(m.swap_total, 4_000_000 * 1024);
        assert_eq!(m.swap_free, 3_000_000 * 1024);
        assert_eq!(m.swap_cached, 300_000 * 1024);
    }

    #[test]
    fn meminfo_without_mem_available_is_estimated() {
        let m = parse_meminfo(&fixture("meminfo-old-kernel")).unwrap();
        // MemFree 1,000,000 + Buffers 200,000 + Cached 3,000,000 + SReclaimable 300,000 − Shmem 100,000.
        assert_eq!(m.available, 4_400_000 * 1024);
        assert!(m.available_estimated);
        assert_eq!(m.swap_total, 0);
    }

    #[test]
    fn meminfo_missing_total_is_an_error() {
        assert_eq!(
            parse_meminfo("MemFree: 10 kB\n"),
            Err(ParseError::Missing {
                file: "/proc/meminfo",
                what: "MemTotal".into()
            })
        );
        assert!(parse_meminfo("MemTotal: lots kB\n").is_err());
    }

    #[test]
    fn mounts_keep_real_filesystems_once() {
        let m = parse_mounts(&fixture("mounts"));
        let points: Vec<&str> = m.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, ["/", "/boot", "/mnt/data disk"]);
    }

    #[test]
    fn mount_escapes_never_overflow() {
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mount("/mnt/\\777"), "/mnt/\\777");
        assert_eq!(unescape_mount("/mnt/\\04"), "/mnt/\\04");
        assert_eq!(unescape_mount("\\"), "\\");
    }

    #[test]
    fn block_device_filter() {
        for keep in ["sda", "vda", "nvme0n1", "mmcblk0", "xvdb"] {
            assert!(!skip_block_device(keep), "{keep}");
        }
        for skip in [
            "sda1",
            "vda15",
            "nvme0n1p1",
            "mmcblk0p2",
            "loop0",
            "dm-0",
            "md127",
            "sr0",
            "zram0",
        ] {
            assert!(skip_block_device(skip), "{skip}");
        }
    }

    #[test]
    fn diskstats_sums_whole_disks() {
        let io = parse_diskstats(&fixture("diskstats"), |d| !skip_block_device(d)).unwrap();
        assert_eq!(io.read_bytes, (2_000 + 1_000) * 512);
        assert_eq!(io.write_bytes, (4_000 + 3_000) * 512);
    }

    #[test]
    fn net_dev_skips_loopback_and_bridges() {
        let io = parse_net_dev(&fixture("net/dev")).unwrap();
        assert_eq!(io.rx_bytes, 1_000_000 + 50);
        assert_eq!(io.tx_bytes, 2_000_000 + 70);
    }

    #[test]
    fn pid_stat_with_odd_name() {
        let text = "4242 (my (odd) proc) D 1 4242 4242 0 -1 4194560 100 0 0 0 700 300 0 0 20 0 1 0 5000 104857600 2560 18446744073709551615";
        let s = parse_pid_stat(text).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "my (odd) proc");
        assert_eq!(s.state, 'D');
        assert_eq!(s.cpu_ticks, 1000);
        assert_eq!(s.start_ticks, 5000);
        assert_eq!(s.rss_pages, 2560);
        assert!(parse_pid_stat("12 (x) R 1").is_err());
        assert!(parse_pid_stat("garbage").is_err());
    }

    #[test]
    fn pressure() {
        let p = parse_pressure("some avg10=12.50 avg60=3.00 avg300=1.00 total=123\nfull avg10=4.00 avg60=0.00 avg300=0.00 total=9\n").unwrap();
        assert_eq!(p.some_avg10, 12.5);
        assert_eq!(p.full_avg10, Some(4.0));
        assert!(parse_pressure("").is_err());
    }

    #[test]
    fn uptime() {
        assert_eq!(parse_uptime("12345.67 23456.78\n").unwrap(), 12345.67);
        assert!(parse_uptime("").is_err());
    }
}
