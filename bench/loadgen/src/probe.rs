//! CPU accounting sampled at the start and end of the measured window, so a
//! run can show which side was the bottleneck: this process (getrusage), the
//! server process (/proc/PID/schedstat) and every CPU (/proc/stat).

use std::fs;
use std::time::Duration;

#[derive(Clone, Default)]
pub struct Sample {
    /// This process: user and system time.
    pub own_user: Duration,
    pub own_sys: Duration,
    /// The server process's time on a CPU, if it was asked for and readable.
    pub server: Option<Duration>,
    /// Per CPU: (busy, total) in clock ticks, and softirq ticks.
    pub cpus: Vec<CpuTicks>,
}

#[derive(Clone, Copy, Default)]
pub struct CpuTicks {
    pub busy: u64,
    pub total: u64,
    pub softirq: u64,
}

pub fn sample(server_pid: Option<u32>) -> Sample {
    // SAFETY: rusage is plain data; getrusage fills it in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Sample {
        own_user: tv(ru.ru_utime),
        own_sys: tv(ru.ru_stime),
        server: server_pid.and_then(schedstat),
        cpus: proc_stat(),
    }
}

fn schedstat(pid: u32) -> Option<Duration> {
    let text = fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// `cpuN user nice system idle iowait irq softirq steal ...` lines.
fn proc_stat() -> Vec<CpuTicks> {
    let Ok(text) = fs::read_to_string("/proc/stat") else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            let idle = at(3) + at(4);
            let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
            CpuTicks {
                busy,
                total: busy + idle,
                softirq: at(6),
            }
        })
        .collect()
}

/// What happened between two samples taken `window` apart.
pub struct Usage {
    pub own_user: f64,
    pub own_sys: f64,
    /// Cores' worth of CPU the server process used.
    pub server: Option<f64>,
    /// Per CPU: busy fraction and softirq fraction.
    pub cpus: Vec<(f64, f64)>,
}

pub fn usage(a: &Sample, b: &Sample, window: Duration) -> Usage {
    let secs = window.as_secs_f64();
    let cpus = a
        .cpus
        .iter()
        .zip(&b.cpus)
        .map(|(x, y)| {
            let total = y.total.saturating_sub(x.total).max(1) as f64;
            (
                y.busy.saturating_sub(x.busy) as f64 / total,
                y.softirq.saturating_sub(x.softirq) as f64 / total,
            )
        })
        .collect();
    Usage {
        own_user: b.own_user.saturating_sub(a.own_user).as_secs_f64() / secs,
        own_sys: b.own_sys.saturating_sub(a.own_sys).as_secs_f64() / secs,
        server: match (a.server, b.server) {
            (Some(x), Some(y)) => Some(y.saturating_sub(x).as_secs_f64() / secs),
            _ => None,
        },
        cpus,
    }
}
