//! What the harness asks of the operating system: open-file limits, CPU pinning, and a
//! process's resident memory and CPU time read from `/proc`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

/// File descriptors kept free for everything that is not a viewer's socket.
const FD_RESERVE: u64 = 256;
/// `/proc/<pid>/stat` counts CPU time in clock ticks of 1/100 s (`USER_HZ` on Linux).
const USER_HZ: f64 = 100.0;

/// Raises this process's open-file soft limit to its hard limit (children inherit it) and
/// returns the new limit.
pub fn raise_nofile() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

/// The most sockets one process may hold with `limit` open files.
pub fn max_sockets(limit: u64) -> usize {
    usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX)
}

/// Where the harness runs its processes.
#[derive(Clone, Debug)]
pub struct Pinning {
    /// `taskset -c <cpu>` wraps every server under test, when set.
    pub server_cpu: Option<usize>,
    /// The load generator (and the nats-server it starts) runs here, when set.
    pub generator_cpu: Option<usize>,
}

impl Pinning {
    /// No pinning.
    pub fn none() -> Pinning {
        Pinning {
            server_cpu: None,
            generator_cpu: None,
        }
    }

    /// Server under test on CPU 0, generator on CPU 1, when `taskset` exists and this
    /// process may use at least two CPUs.
    pub fn detect() -> Pinning {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        if cpus >= 2 && which("taskset") {
            Pinning {
                server_cpu: Some(0),
                generator_cpu: Some(1),
            }
        } else {
            Pinning::none()
        }
    }

    /// Pins the calling thread (call it before any other thread starts, so they inherit).
    pub fn pin_generator(&self) -> Result<()> {
        let Some(cpu) = self.generator_cpu else {
            return Ok(());
        };
        let mut set = nix::sched::CpuSet::new();
        set.set(cpu).context("CPU index")?;
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
            .context("pinning the load generator")?;
        Ok(())
    }

    /// A description for the report.
    pub fn describe(&self) -> String {
        match (self.server_cpu, self.generator_cpu) {
            (Some(s), Some(g)) => format!(
                "server under test on CPU {s} (taskset), load generator + nats-server on CPU {g}"
            ),
            _ => "not pinned (all processes share every CPU)".into(),
        }
    }
}

/// Whether `program` is on `PATH`.
pub fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Resident memory of `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .with_context(|| format!("no VmRSS in {path}"))
}

/// CPU time (user + system, every thread) `pid` has used so far.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    cpu_time_at(Path::new(&format!("/proc/{pid}/stat")))
}

/// CPU time this process has used so far.
pub fn own_cpu_time() -> Result<Duration> {
    cpu_time_at(Path::new("/proc/self/stat"))
}

fn cpu_time_at(path: &Path) -> Result<Duration> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // The command name (field 2) may hold spaces; fields are counted after its ')'.
    let rest = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .context("short stat")?
            .parse::<f64>()
            .context("stat field")
    };
    Ok(Duration::from_secs_f64((ticks(11)? + ticks(12)?) / USER_HZ))
}

/// CPU use of a process between two readings, as a share of one core.
#[derive(Clone, Copy, Debug)]
pub struct CpuMeter {
    pid: Option<u32>,
    cpu: Duration,
    wall: std::time::Instant,
}

impl CpuMeter {
    /// Starts measuring `pid` (`None`: this process).
    pub fn start(pid: Option<u32>) -> CpuMeter {
        let cpu = Self::read(pid).unwrap_or_default();
        CpuMeter {
            pid,
            cpu,
            wall: std::time::Instant::now(),
        }
    }

    fn read(pid: Option<u32>) -> Result<Duration> {
        match pid {
            Some(pid) => cpu_time(pid),
            None => own_cpu_time(),
        }
    }

    /// CPU seconds used since `start`, and the share of one core (1.0 = 100 %).
    pub fn stop(&self) -> (f64, f64) {
        let used = Self::read(self.pid)
            .unwrap_or_default()
            .saturating_sub(self.cpu)
            .as_secs_f64();
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        (used, used / wall)
    }
}
