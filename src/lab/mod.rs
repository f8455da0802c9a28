//! Namespace labs behind `vrouter lab`: test topologies out of network namespaces and veth
//! pairs, with the `ip` command (no hand-built netlink). [`plan`] computes what a lab is made
//! of (pure, unit-tested), [`apply`] builds it, [`netns`] holds the namespace helpers.
//!
//! `lab up --routers N` builds a chain `gen — r1 — … — rN — sink`. Every namespace and veth is
//! created here, inside its namespaces; nothing touches the root namespace or a real interface.
//! Hosts and next hops are in 198.18.0.0/15 (link `i` is 198.18.i.0/24, left end `.1`, right end
//! `.2`; IPv6 2001:2:0:i::/64 from the RFC 5180 benchmarking block); destinations are in
//! 240.0.0.0/4 and 3fff::/20, which the sink namespace owns (local routes), and route tables are
//! relocated there before they are loaded. Each router namespace runs vrouter (AF_PACKET on its
//! two veths) or the Linux kernel (ip_forward=1, same routes) as the baseline.
//!
//! State (configs, route files, logs, PIDs) lives in `/run/vrouter-lab/<name>/`; `lab down`
//! stops the routers and deletes the namespaces (which deletes their veths); `lab clean` removes
//! every lab; `lab up` removes what it built if any step fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use dataplane::worker::PollMode;
use serde::{Deserialize, Serialize};

use crate::dut::Dut;
use netns::ip;

pub mod apply;
pub mod guests;
pub mod netns;
pub mod plan;

const STATE_ROOT: &str = "/run/vrouter-lab";
const NS_PREFIX: &str = "vrl-";

/// What runs in a router namespace, as a lab's saved state records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouterKind {
    /// vrouter (AF_PACKET or AF_XDP ports).
    Vrouter,
    /// The Linux kernel's forwarding (the baseline).
    Kernel,
    /// vrouter in a container of its own (PID, mount, UTS, IPC namespaces) in the router's
    /// network namespace, OpenVZ-style with veth.
    Container,
}

/// How routers are connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// gen - r1 - ... - rN - sink.
    Chain,
    /// N routers side by side, each on its own pair of links from the generator and to the
    /// sink (router k on links 2k and 2k+1).
    Parallel,
}

/// Socket type of a generator or sink on a lab interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortIo {
    Afpacket,
    Afxdp,
    /// DPDK's net_af_packet driver on the veths, each router process its own EAL (a build
    /// with `--features dpdk`).
    Dpdk,
    /// DPDK's net_af_xdp driver on the veths (`--features dpdk`).
    DpdkXdp,
}

impl PortIo {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PortIo::Afpacket => "afpacket",
            PortIo::Afxdp => "afxdp",
            PortIo::Dpdk => "dpdk",
            PortIo::DpdkXdp => "dpdk-xdp",
        }
    }
}

/// A lab to build.
#[derive(Clone, Debug)]
pub struct LabSpec {
    /// Lab name (namespaces are vrl-<name>-gen, -r1.., -sink): 1-12 letters, digits, - or _.
    pub name: String,
    /// Routers, 1..=16.
    pub routers: usize,
    /// Route table, relocated into 240.0.0.0/4 and 3fff::/20 before loading (`None`: only
    /// the two covering routes).
    pub table: Option<PathBuf>,
    /// Skip malformed records of the table (counted) instead of failing.
    pub lenient: bool,
    /// What forwards: vrouter on afpacket or afxdp, or the kernel.
    pub dut: Dut,
    /// vrouter's polling mode.
    pub mode: PollMode,
    /// Queues per vrouter: the router spreads over this many workers (AF_PACKET fanout).
    pub queues: usize,
    /// Pin each vrouter's worker to this core.
    pub core: Option<usize>,
    /// With afxdp: descriptors per AF_XDP ring (default 16384).
    pub xdp_ring: Option<u32>,
    pub topology: Topology,
    /// How guests are built and booted (guest routers only).
    pub guest: crate::vm::GuestSpec,
}

impl LabSpec {
    /// One router in a chain, adaptive polling, one queue, no table.
    pub fn new(name: &str, dut: Dut) -> Self {
        LabSpec {
            name: name.to_string(),
            routers: 1,
            table: None,
            lenient: false,
            dut,
            mode: PollMode::Adaptive,
            queues: 1,
            core: None,
            xdp_ring: None,
            topology: Topology::Chain,
            guest: crate::vm::GuestSpec::new(),
        }
    }
}

/// What a lab is made of, saved (`state.json`) so that `down` can undo it.
#[derive(Serialize, Deserialize, Default, Debug)]
pub struct State {
    pub name: String,
    pub namespaces: Vec<String>,
    pub pids: Vec<u32>,
    pub routers: usize,
    pub kind: Option<RouterKind>,
    /// What forwards (older states have only `kind`).
    #[serde(default)]
    pub dut: Option<Dut>,
    /// Guests: the accelerator they run on (`kvm` or `tcg`).
    #[serde(default)]
    pub accel: Option<String>,
}

/// Where lab `name` keeps its state, configs, logs and (guests) consoles.
pub fn state_dir(name: &str) -> PathBuf {
    Path::new(STATE_ROOT).join(name)
}

/// The saved state of lab `name`.
pub fn state(name: &str) -> Result<State> {
    check_name(name)?;
    let f = state_dir(name).join("state.json");
    let text = std::fs::read_to_string(&f)
        .with_context(|| format!("lab `{name}` is not up (no {})", f.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: unreadable", f.display()))
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 12
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("--name: `{name}` must be 1-12 letters, digits, `-` or `_`");
    }
    Ok(())
}

/// SIGINT/SIGTERM seen since the first lab was built in this process (see [`interrupted`]).
static STOP: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
    std::sync::OnceLock::new();

/// From the first `up` on, SIGINT and SIGTERM no longer kill the process outright (which would
/// leave namespaces, guests and processes behind): they set a flag that the waits of `up`
/// and the lab beds' trials check, so the work stops and the lab is torn down by its owner.
pub fn watch_signals() {
    STOP.get_or_init(|| {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register(sig, std::sync::Arc::clone(&flag));
        }
        flag
    });
}

/// Whether SIGINT or SIGTERM arrived since the first lab was built here.
pub fn interrupted() -> bool {
    STOP.get()
        .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
}

/// Builds a lab; on failure (or SIGINT/SIGTERM while it builds) removes what it built.
/// Returns the state directory.
pub fn up(a: &LabSpec) -> Result<PathBuf> {
    check_name(&a.name)?;
    watch_signals();
    if interrupted() {
        bail!("interrupted by a signal");
    }
    if a.routers == 0 || a.routers > 16 {
        bail!("--routers: {} must be 1..=16", a.routers);
    }
    if a.dut == Dut::Memory {
        bail!("a lab's routers are vrouter on afpacket or afxdp, the kernel, guests or containers, not memory");
    }
    if a.queues == 0 || a.queues > 16 {
        bail!("--queues: {} must be 1..=16", a.queues);
    }
    crate::host::need_root()?;
    if a.dut.is_guest() {
        crate::vm::qemu::qemu_binary()?;
        crate::vm::check_image(&a.guest)?;
    }
    if a.dut == Dut::Container && crate::host::which("unshare").is_none() {
        bail!("--router container needs `unshare` (util-linux)");
    }
    let dir = state_dir(&a.name);
    if dir.join("state.json").exists() {
        bail!(
            "lab `{}` is up already (`vrouter lab down --name {}` first)",
            a.name,
            a.name
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut st = State {
        name: a.name.clone(),
        routers: a.routers,
        kind: Some(if a.dut.is_kernel() {
            RouterKind::Kernel
        } else if a.dut == Dut::Container {
            RouterKind::Container
        } else {
            RouterKind::Vrouter
        }),
        dut: Some(a.dut),
        ..State::default()
    };
    let res = build(a, &dir, &mut st);
    save(&dir, &st)?;
    if let Err(e) = res {
        let _ = teardown(&st);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e.context(format!(
            "lab `{}` not built; what was built is removed",
            a.name
        )));
    }
    Ok(dir)
}

pub fn save(dir: &Path, st: &State) -> Result<()> {
    std::fs::write(dir.join("state.json"), serde_json::to_string_pretty(st)?)
        .with_context(|| format!("writing {}", dir.display()))
}

/// Loads and relocates the table (impure), plans the lab (pure), builds it.
fn build(a: &LabSpec, dir: &Path, st: &mut State) -> Result<()> {
    let table = relocated_table(a)?;
    let p = plan::plan(a, &table);
    apply::apply(&p, &a.name, dir, st, &a.guest)
}

/// The lab's table (`a.table`), relocated into 240.0.0.0/4 and 3fff::/20; empty without one.
pub fn relocated_table(a: &LabSpec) -> Result<Vec<ipnet::IpNet>> {
    Ok(match &a.table {
        Some(t) => {
            let load = crate::routes::LoadSpec {
                lenient: a.lenient,
                ..crate::routes::LoadSpec::new(16)
            };
            let set = crate::routes::load_set(t, &load)?;
            let (moved, dropped) = fib::source::relocate::relocate(&set);
            if dropped > 0 {
                tracing::warn!(
                    "lab: {dropped} routes longer than /28 (IPv6 /108) do not fit 240.0.0.0/4 and were left out"
                );
            }
            moved.routes.into_iter().map(|r| r.prefix).collect()
        }
        None => Vec::new(),
    })
}

fn kill(pid: u32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}

/// Stops processes (SIGTERM, then SIGKILL after 5 s) and deletes namespaces.
fn teardown(st: &State) -> Result<()> {
    use nix::sys::signal::Signal;
    let mut pids = st.pids.clone();
    // Whatever else runs in the lab's namespaces (tools left by a failed test).
    for n in &st.namespaces {
        if let Ok(out) = ip(&["netns", "pids", n]) {
            pids.extend(out.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    pids.sort_unstable();
    pids.dedup();
    for &p in &pids {
        kill(p, Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| crate::host::alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &p in pids.iter().filter(|&&p| crate::host::alive(p)) {
        kill(p, Signal::SIGKILL);
    }
    let mut errors = Vec::new();
    for n in st.namespaces.iter().rev() {
        if let Err(e) = ip(&["netns", "del", n]) {
            if Path::new("/run/netns").join(n).exists() {
                errors.push(format!("{e:#}"));
            }
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(())
}

/// The control socket of vrouter router `k` (from 1) of lab `name` (absent for kernel routers).
pub fn router_socket(name: &str, k: usize) -> PathBuf {
    state_dir(name).join(format!("r{k}.sock"))
}

/// PIDs of a lab's vrouter processes, router 1 first (empty for kernel routers).
pub fn router_pids(name: &str) -> Vec<u32> {
    std::fs::read_to_string(state_dir(name).join("state.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<State>(&s).ok())
        .map(|st| st.pids)
        .unwrap_or_default()
}

pub fn down(name: &str) -> Result<()> {
    check_name(name)?;
    crate::host::need_root()?;
    let dir = state_dir(name);
    let f = dir.join("state.json");
    let st: State = match std::fs::read_to_string(&f) {
        Ok(s) => {
            serde_json::from_str(&s).with_context(|| format!("{}: unreadable", f.display()))?
        }
        Err(_) => {
            // No state: remove whatever namespaces carry the lab's name.
            let prefix = format!("{NS_PREFIX}{name}-");
            State {
                name: name.to_string(),
                namespaces: lab_namespaces()?
                    .into_iter()
                    .filter(|n| n.starts_with(&prefix))
                    .collect(),
                ..State::default()
            }
        }
    };
    teardown(&st)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn lab_namespaces() -> Result<Vec<String>> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(NS_PREFIX))
        .map(str::to_string)
        .collect())
}

pub fn clean() -> Result<()> {
    crate::host::need_root()?;
    let mut pids = Vec::new();
    if let Ok(rd) = std::fs::read_dir(STATE_ROOT) {
        for e in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(e.path().join("state.json")) {
                if let Ok(st) = serde_json::from_str::<State>(&s) {
                    pids.extend(st.pids);
                }
            }
        }
    }
    let st = State {
        namespaces: lab_namespaces()?,
        pids,
        ..State::default()
    };
    let n = st.namespaces.len();
    teardown(&st)?;
    let _ = std::fs::remove_dir_all(STATE_ROOT);
    tracing::info!("lab: removed {n} namespaces");
    Ok(())
}

pub fn status() -> Result<()> {
    let names = lab_namespaces()?;
    if names.is_empty() {
        println!("no lab namespaces");
    }
    for n in names {
        let pids = ip(&["netns", "pids", &n]).unwrap_or_default();
        println!(
            "{n}\t{}",
            pids.split_whitespace().collect::<Vec<_>>().join(",")
        );
    }
    // Each lab's vrouter processes: running, or dead with the end of its log.
    let mut labs: Vec<String> = std::fs::read_dir(STATE_ROOT)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    labs.sort();
    for lab in labs {
        for r in routers(&lab).unwrap_or_default() {
            match &r.exited {
                None => println!("lab {lab}: r{} running (pid {})", r.k, r.pid),
                Some(why) => println!("lab {lab}: r{} DEAD (pid {}): {why}", r.k, r.pid),
            }
        }
    }
    Ok(())
}

/// One vrouter process of a lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterProcess {
    /// Router number, from 1.
    pub k: usize,
    pub pid: u32,
    /// `None` while it runs; else the last line of its log.
    pub exited: Option<String>,
}

/// The vrouter processes of lab `name`, router 1 first (none for kernel routers or guests).
pub fn routers(name: &str) -> Result<Vec<RouterProcess>> {
    let st = state(name)?;
    if !matches!(st.dut, Some(Dut::Afpacket | Dut::Afxdp | Dut::Container))
        && st.kind != Some(RouterKind::Vrouter)
    {
        return Ok(Vec::new());
    }
    Ok(st
        .pids
        .iter()
        .enumerate()
        .map(|(i, &pid)| {
            let k = i + 1;
            let exited = (!crate::host::alive(pid)).then(|| {
                let log = std::fs::read_to_string(state_dir(name).join(format!("r{k}.log")))
                    .unwrap_or_default();
                let last = log.lines().rev().find(|l| !l.trim().is_empty());
                format!(
                    "exited{}",
                    last.map_or(String::new(), |l| format!("; log ends: {}", l.trim()))
                )
            });
            RouterProcess { k, pid, exited }
        })
        .collect())
}

/// Starts router `k` of lab `name` again from its saved configuration, after its process
/// died (a crash, a SIGKILL): same namespace, ports, table and control socket. A running
/// router is left alone (stop it first). Returns the new PID once its socket answers.
pub fn restart(name: &str, k: usize) -> Result<u32> {
    crate::host::need_root()?;
    let mut st = state(name)?;
    let procs = routers(name)?;
    let Some(r) = procs.iter().find(|r| r.k == k) else {
        if procs.is_empty() {
            bail!("lab `{name}` has no vrouter processes to restart (kernel routers or guests)");
        }
        bail!("lab `{name}` has routers r1..r{}, not r{k}", procs.len());
    };
    if r.exited.is_none() {
        bail!(
            "r{k} of lab `{name}` is running (pid {}); it restarts only after it stopped",
            r.pid
        );
    }
    let dir = state_dir(name);
    let (cf, sock, log_path) = (
        dir.join(format!("r{k}.toml")),
        router_socket(name, k),
        dir.join(format!("r{k}.log")),
    );
    let container = st.dut == Some(Dut::Container) || st.kind == Some(RouterKind::Container);
    let exe = std::env::current_exe().context("locating the vrouter binary")?;
    let (program, args) = apply::router_command(&exe, container, &cf, &sock);
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&log_path)?;
    use std::io::Write as _;
    writeln!(
        log,
        "--- restarted by `vrouter lab restart` (pid {} had exited)",
        r.pid
    )?;
    let ns = format!("{NS_PREFIX}{name}-r{k}");
    let child = netns::spawn_in(&ns, &program, &args, log)?;
    st.pids[k - 1] = child.id();
    save(&dir, &st)?;
    apply::wait_ready(&sock, child.id(), &log_path)?;
    Ok(child.id())
}
