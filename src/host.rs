//! Facts about the machine vrouter runs on: the CPU clock, CPU time of processes and of the
//! whole system, process liveness, the root check, the monotonic clock that stamps carry, and
//! where the repository's data files are. Every `/proc` reader of the binary is here (the
//! per-thread one the workers use is `dataplane::worker::thread_cpu_ns`).
//!
//! Readers never fail: a missing or unreadable `/proc` file reads as "unknown" (`None`, 0 or
//! `false`), because every caller uses them for reporting, not for decisions that lose data.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// Fields of `/proc/PID/stat` after the command name (which may contain spaces and `)`).
fn stat_fields(text: &str) -> Vec<&str> {
    text.rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

/// The CPU clock the kernel reports in /proc/cpuinfo (first core), in GHz: to turn ns into
/// cycles.
pub fn cpu_ghz() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz = info
        .lines()
        .find(|l| l.starts_with("cpu MHz"))?
        .split(':')
        .nth(1)?
        .trim()
        .parse::<f64>()
        .ok()?;
    Some(mhz / 1000.0)
}

/// CPU time of a process (all its threads), in ns: from each thread's schedstat (ns), else
/// from /proc/PID/stat (10 ms ticks); 0 if the process is gone.
pub fn process_cpu_ns(pid: u32) -> u64 {
    let mut total = 0u64;
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                total += s
                    .split_whitespace()
                    .next()
                    .and_then(|x| x.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    if total > 0 {
        return total;
    }
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let f = stat_fields(&s);
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    (t(11) + t(12)) * 10_000_000
}

/// Busy time of all CPUs (user, nice, system, irq, softirq), in ns, from /proc/stat.
pub fn system_busy_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(l) = s.lines().next() else { return 0 };
    let f: Vec<u64> = l
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = [0usize, 1, 2, 5, 6]
        .iter()
        .map(|&i| f.get(i).copied().unwrap_or(0))
        .sum::<u64>();
    busy * 10_000_000
}

/// Whether process `pid` runs; a zombie (exited, not yet reaped) counts as gone.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => stat_fields(&s).first().is_some_and(|state| *state != "Z"),
        Err(_) => false,
    }
}

/// Fails unless running as root: namespaces, veths and raw sockets need it.
pub fn need_root() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        bail!("the lab creates network namespaces and needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)");
    }
    Ok(())
}

/// CLOCK_MONOTONIC in ns: the clock stamps carry, shared by every process on the host.
pub fn mono_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
    })
}

/// Runs `cmd` to completion (stdin closed) and returns its stdout; an error names the command
/// and carries its stderr, or says what to install (`hint`) when it cannot start.
pub fn run_command(cmd: &mut std::process::Command, hint: &str) -> Result<String> {
    use anyhow::Context as _;
    let name = cmd.get_program().to_string_lossy().to_string();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{name}` ({hint})"))?;
    if !out.status.success() {
        bail!(
            "`{name} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// The path of `cmd` on `PATH`, if it is there.
pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| std::path::Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

/// The real IPv4 table shipped in the repository (RouteViews 2014-05-13, 512,621 prefixes).
pub fn default_table() -> PathBuf {
    data_file("routeviews-2014-05-13.ipv4.ipasn.gz")
}

/// A file under the repository's `data/` folder: next to the working directory if run from a
/// checkout, else where the binary was built from.
pub fn data_file(name: &str) -> PathBuf {
    let local = PathBuf::from("data").join(name);
    if local.exists() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_uses_cpu() {
        let me = std::process::id();
        assert!(alive(me));
        // Burn a little CPU so that even 10 ms ticks see some.
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(process_cpu_ns(me) > 0);
        assert!(system_busy_ns() > 0);
        assert!(!alive(u32::MAX));
        assert_eq!(process_cpu_ns(u32::MAX), 0);
    }

    #[test]
    fn stat_fields_skip_a_command_name_with_spaces_and_parens() {
        let f = stat_fields("42 (a b) c) S 1 2");
        assert_eq!(f, vec!["S", "1", "2"]);
    }
}
