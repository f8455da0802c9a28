//! `vrouter lab`: test topologies out of network namespaces and veth pairs, with the `ip`
//! command (no hand-built netlink).
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

use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

const STATE_ROOT: &str = "/run/vrouter-lab";
const NS_PREFIX: &str = "vrl-";

#[derive(Subcommand)]
pub enum LabCmd {
    /// Builds a lab: generator, N routers in a chain, sink.
    Up(UpArgs),
    /// Stops a lab's routers and deletes its namespaces.
    Down(NameArg),
    /// Removes every lab (namespaces named vrl-*, their processes, their state).
    Clean,
    /// Lists labs, their namespaces and router processes.
    Status,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouterKind {
    /// vrouter with AF_PACKET ports.
    Vrouter,
    /// The Linux kernel's forwarding (the baseline).
    Kernel,
}

#[derive(clap::Args, Debug, Clone)]
pub struct UpArgs {
    /// Lab name (namespaces are vrl-<name>-gen, -r1.., -sink).
    #[arg(long, default_value = "lab")]
    pub name: String,
    /// Routers in the chain.
    #[arg(long, default_value_t = 1)]
    pub routers: usize,
    /// Route table, relocated into 240.0.0.0/4 and 3fff::/20 before loading (default: only the
    /// two covering routes).
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// Skip malformed records of the table (counted) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// What forwards in the router namespaces.
    #[arg(long, value_enum, default_value_t = RouterKind::Vrouter)]
    pub router: RouterKind,
    /// vrouter's polling mode (busy, adaptive, interrupt).
    #[arg(long, default_value = "adaptive")]
    pub mode: String,
    /// Queues per vrouter: the router spreads over this many workers (AF_PACKET fanout).
    #[arg(long, default_value_t = 1)]
    pub queues: usize,
    /// Pin each vrouter's worker to this core.
    #[arg(long)]
    pub core: Option<usize>,
    /// vrouter's packet I/O on the veths.
    #[arg(long, value_enum, default_value_t = PortIo::Afpacket)]
    pub io: PortIo,
    /// With `--io afxdp`: descriptors per AF_XDP ring (the ports' `ring`; default 16384).
    #[arg(long)]
    pub xdp_ring: Option<u32>,
    /// `chain`: gen - r1 - ... - rN - sink; `parallel`: N routers side by side, each on its own
    /// pair of links from the generator and to the sink (router k on links 2k and 2k+1).
    #[arg(long, value_enum, default_value_t = Topology::Chain)]
    pub topology: Topology,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortIo {
    Afpacket,
    Afxdp,
}

impl PortIo {
    fn name(self) -> &'static str {
        match self {
            PortIo::Afpacket => "afpacket",
            PortIo::Afxdp => "afxdp",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    Chain,
    Parallel,
}

/// Router `k`'s input and output links (1-based `k`).
pub fn router_links(t: Topology, k: usize) -> (usize, usize) {
    match t {
        Topology::Chain => (k - 1, k),
        Topology::Parallel => (2 * k, 2 * k + 1),
    }
}

#[derive(clap::Args, Debug)]
pub struct NameArg {
    #[arg(long, default_value = "lab")]
    pub name: String,
}

/// What a lab is made of, saved so that `down` can undo it.
#[derive(Serialize, Deserialize, Default, Debug)]
struct State {
    name: String,
    namespaces: Vec<String>,
    pids: Vec<u32>,
    routers: usize,
    kind: Option<RouterKind>,
}

fn state_dir(name: &str) -> PathBuf {
    Path::new(STATE_ROOT).join(name)
}

fn ns(lab: &str, node: &str) -> String {
    format!("{NS_PREFIX}{lab}-{node}")
}

/// Runs a command; an error carries its stderr.
fn run(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{cmd}` (is it installed?)"))?;
    if !out.status.success() {
        bail!(
            "`{cmd} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

fn ip(args: &[&str]) -> Result<String> {
    run("ip", args)
}

fn in_ns(n: &str, cmd: &[&str]) -> Result<String> {
    let mut a = vec!["netns", "exec", n];
    a.extend_from_slice(cmd);
    ip(&a)
}

/// Locally administered MAC of the end of link `link` on side 1 (left) or 2 (right).
pub fn mac(link: usize, side: u8) -> [u8; 6] {
    [2, 0x76, 0x72, (link >> 8) as u8, link as u8, side]
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn v4(link: usize, side: u8) -> String {
    format!("198.18.{link}.{side}")
}

fn v6(link: usize, side: u8) -> String {
    format!("2001:2:0:{link:x}::{side}")
}

pub fn cmd(c: LabCmd) -> Result<()> {
    match c {
        LabCmd::Up(a) => up(&a).map(|_| ()),
        LabCmd::Down(n) => down(&n.name),
        LabCmd::Clean => clean(),
        LabCmd::Status => status(),
    }
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

pub fn need_root() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        bail!("the lab creates network namespaces and needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)");
    }
    Ok(())
}

/// Builds a lab; on failure removes what it built. Returns the state directory.
pub fn up(a: &UpArgs) -> Result<PathBuf> {
    check_name(&a.name)?;
    if a.routers == 0 || a.routers > 16 {
        bail!("--routers: {} must be 1..=16", a.routers);
    }
    a.mode
        .parse::<dataplane::worker::PollMode>()
        .map_err(|e| anyhow!("--mode: {e}"))?;
    need_root()?;
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
        kind: Some(a.router),
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

fn save(dir: &Path, st: &State) -> Result<()> {
    std::fs::write(dir.join("state.json"), serde_json::to_string_pretty(st)?)
        .with_context(|| format!("writing {}", dir.display()))
}

fn build(a: &UpArgs, dir: &Path, st: &mut State) -> Result<()> {
    let n = a.routers;
    let gen = ns(&a.name, "gen");
    let sink = ns(&a.name, "sink");
    let routers: Vec<String> = (1..=n).map(|k| ns(&a.name, &format!("r{k}"))).collect();
    // Namespaces, loopback up.
    for name in std::iter::once(&gen)
        .chain(&routers)
        .chain(std::iter::once(&sink))
    {
        ip(&["netns", "add", name])?;
        st.namespaces.push(name.clone());
        save(dir, st)?;
        ip(&["-n", name, "link", "set", "lo", "up"])?;
    }
    // Links, with ends e<i>l and e<i>r created directly inside their namespaces. Chain: link
    // i joins node i (gen = 0) to node i+1 (sink = n+1). Parallel: link 2k joins gen to router
    // k, link 2k+1 router k to sink.
    let links: Vec<(usize, &String, &String)> = match a.topology {
        Topology::Chain => (0..=n)
            .map(|i| {
                let left = if i == 0 { &gen } else { &routers[i - 1] };
                let right = if i == n { &sink } else { &routers[i] };
                (i, left, right)
            })
            .collect(),
        Topology::Parallel => (1..=n)
            .flat_map(|k| {
                [
                    (2 * k, &gen, &routers[k - 1]),
                    (2 * k + 1, &routers[k - 1], &sink),
                ]
            })
            .collect(),
    };
    for &(i, left, right) in &links {
        let (l, r) = (format!("e{i}l"), format!("e{i}r"));
        let (ml, mr) = (mac_text(mac(i, 1)), mac_text(mac(i, 2)));
        ip(&[
            "link", "add", "name", &l, "address", &ml, "netns", left, "type", "veth", "peer",
            "name", &r, "address", &mr, "netns", right,
        ])?;
        for (nsn, dev) in [(left, &l), (right, &r)] {
            // Offloads off: frames on the wire are whole and carry real checksums, as a
            // router (and AF_PACKET) must see them.
            in_ns(
                nsn,
                &[
                    "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off",
                ],
            )
            .context("turning veth offloads off (needs ethtool)")?;
            ip(&["-n", nsn, "link", "set", dev, "up"])?;
        }
    }
    // The IPv4 and IPv6 addresses of one end of a link (hosts, and kernel routers).
    let host = |nsn: &str, dev: &str, link: usize, side: u8| -> Result<()> {
        ip(&[
            "-n",
            nsn,
            "addr",
            "add",
            &format!("{}/24", v4(link, side)),
            "dev",
            dev,
        ])?;
        ip(&[
            "-n",
            nsn,
            "-6",
            "addr",
            "add",
            &format!("{}/64", v6(link, side)),
            "dev",
            dev,
            "nodad",
        ])?;
        Ok(())
    };
    // The generator's and the sink's links (chain: one each; parallel: one per router). The
    // generator's kernel routes lab space through router 1; the sink answers each generator
    // link back through the router that serves it.
    let (first_in, _) = router_links(a.topology, 1);
    for k in 1..=n {
        let (inl, outl) = router_links(a.topology, k);
        if a.topology == Topology::Parallel || k == 1 {
            host(&gen, &format!("e{inl}l"), inl, 1)?;
        }
        if a.topology == Topology::Parallel || k == n {
            host(&sink, &format!("e{outl}r"), outl, 2)?;
        }
        if a.topology == Topology::Parallel {
            let net4 = format!("198.18.{inl}.0/24");
            let net6 = format!("2001:2:0:{inl:x}::/64");
            ip(&["-n", &sink, "route", "add", &net4, "via", &v4(outl, 1)])?;
            ip(&[
                "-n",
                &sink,
                "-6",
                "route",
                "add",
                &net6,
                "via",
                &v6(outl, 1),
            ])?;
        }
    }
    let via4 = v4(first_in, 2);
    let via6 = v6(first_in, 2);
    for (fam, dst, via) in [
        ("-4", "240.0.0.0/4", &via4),
        ("-4", "198.18.0.0/15", &via4),
        ("-6", "3fff::/20", &via6),
        ("-6", "2001:2::/48", &via6),
    ] {
        ip(&["-n", &gen, fam, "route", "add", dst, "via", via])?;
    }
    ip(&[
        "-n",
        &sink,
        "route",
        "add",
        "local",
        "240.0.0.0/4",
        "dev",
        "lo",
    ])?;
    ip(&[
        "-n",
        &sink,
        "-6",
        "route",
        "add",
        "local",
        "3fff::/20",
        "dev",
        "lo",
    ])?;
    if a.topology == Topology::Chain {
        ip(&[
            "-n",
            &sink,
            "route",
            "add",
            "198.18.0.0/15",
            "via",
            &v4(n, 1),
        ])?;
        ip(&[
            "-n",
            &sink,
            "-6",
            "route",
            "add",
            "2001:2::/48",
            "via",
            &v6(n, 1),
        ])?;
    }
    // The table, relocated once for every router.
    let table = match &a.table {
        Some(t) => {
            let load = crate::routes::LoadArgs {
                lenient: a.lenient,
                peer: fib::source::PeerChoice::Best,
                nexthops: 16,
            };
            let set = crate::routes::load_set(t, &load)?;
            let (moved, dropped) = fib::source::relocate::relocate(&set);
            if dropped > 0 {
                eprintln!(
                    "lab: {dropped} routes longer than /28 (IPv6 /108) do not fit 240.0.0.0/4 and were left out"
                );
            }
            moved.routes.into_iter().map(|r| r.prefix).collect()
        }
        None => Vec::new(),
    };
    let exe = std::env::current_exe().context("locating the vrouter binary")?;
    for k in 1..=n {
        let r = &routers[k - 1];
        let (inl, outl) = router_links(a.topology, k);
        let (indev, outdev) = (format!("e{inl}r"), format!("e{outl}l"));
        // Link routes: the input link and links left of it go left, the output link and links
        // right of it go right (the hosts on a router's own links are its two neighbours).
        let mut links: Vec<(String, String, bool)> = Vec::new();
        let span = match a.topology {
            Topology::Chain => 0..=n,
            Topology::Parallel => inl..=outl,
        };
        for j in span {
            let right = j >= outl;
            if a.router == RouterKind::Kernel && (j == inl || j == outl) {
                continue; // the kernel has connected routes for its own links
            }
            links.push((
                format!("198.18.{j}.0/24"),
                format!("2001:2:0:{j:x}::/64"),
                right,
            ));
        }
        match a.router {
            RouterKind::Kernel => {
                host(r, &indev, inl, 2)?;
                host(r, &outdev, outl, 1)?;
                in_ns(r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
                in_ns(r, &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])?;
                let mut batch = String::new();
                let (right4, right6) = (v4(outl, 2), v6(outl, 2));
                let (left4, left6) = (v4(inl, 1), v6(inl, 1));
                let _ = writeln!(batch, "route add 240.0.0.0/4 via {right4}");
                let _ = writeln!(batch, "route add 3fff::/20 via {right6}");
                for (p4, p6, right) in &links {
                    let (g4, g6) = if *right {
                        (&right4, &right6)
                    } else {
                        (&left4, &left6)
                    };
                    let _ = writeln!(batch, "route add {p4} via {g4}");
                    let _ = writeln!(batch, "route add {p6} via {g6}");
                }
                for p in &table {
                    match p {
                        ipnet::IpNet::V4(_) => {
                            let _ = writeln!(batch, "route replace {p} via {right4}");
                        }
                        ipnet::IpNet::V6(_) => {
                            let _ = writeln!(batch, "route replace {p} via {right6}");
                        }
                    }
                }
                let f = dir.join(format!("r{k}.batch"));
                std::fs::write(&f, batch)?;
                eprintln!(
                    "lab: r{k}: loading {} routes into the kernel (ip -batch; ~30k routes/s)",
                    table.len() + 2 + 2 * links.len()
                );
                ip(&["-n", r, "-batch", &f.to_string_lossy()])
                    .context("loading the routes into the kernel")?;
            }
            RouterKind::Vrouter => {
                // The kernel of a vrouter namespace stays out of the way: no addresses, no
                // forwarding, IPv6 off (AF_PACKET still sees every frame).
                in_ns(r, &["sysctl", "-qw", "net.ipv4.ip_forward=0"])?;
                for dev in ["all", "default", &indev, &outdev] {
                    in_ns(
                        r,
                        &[
                            "sysctl",
                            "-qw",
                            &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
                        ],
                    )?;
                }
                // Next hop 0: right neighbour; 1: left neighbour.
                let mut routes = format!(
                    "{}\n240.0.0.0/4\t0\n3fff::/20\t0\n",
                    fib::source::text::TEXT_HEADER
                );
                for (p4, p6, right) in &links {
                    let nh = if *right { 0 } else { 1 };
                    let _ = writeln!(routes, "{p4}\t{nh}\n{p6}\t{nh}");
                }
                for p in &table {
                    let _ = writeln!(routes, "{p}\t0");
                }
                let rf = dir.join(format!("r{k}.routes"));
                std::fs::write(&rf, routes)?;
                let cfg = format!(
                    "# vrouter lab `{lab}`, router {k}\n\
                     [[router]]\nname = \"r{k}\"\nroutes = \"{rf}\"\nnexthops = 2\nmode = \"{mode}\"\nclass_e_unicast = true\nqueues = {queues}\n{core}\n\
                     [[router.port]]\nbackend = \"{io}\"\niface = \"{indev}\"\nmac = \"{min}\"\n{ring}\
                     addresses = [\"{a_in4}/24\", \"{a_in6}/64\"]\n\n\
                     [[router.port]]\nbackend = \"{io}\"\niface = \"{outdev}\"\nmac = \"{mout}\"\n{ring}\
                     addresses = [\"{a_out4}/24\", \"{a_out6}/64\"]\n\n\
                     [[router.neighbour]]\nnexthop = 0\nport = 1\n{right}\n\n\
                     [[router.neighbour]]\nnexthop = 1\nport = 0\n{left}\n",
                    lab = a.name,
                    io = a.io.name(),
                    ring = match (a.io, a.xdp_ring) {
                        (PortIo::Afxdp, Some(n)) => format!("ring = {n}\n"),
                        _ => String::new(),
                    },
                    queues = a.queues,
                    core = a.core.map_or(String::new(), |c| format!("core = {c}\n")),
                    rf = rf.display(),
                    mode = a.mode,
                    min = mac_text(mac(inl, 2)),
                    mout = mac_text(mac(outl, 1)),
                    a_in4 = v4(inl, 2),
                    a_in6 = v6(inl, 2),
                    a_out4 = v4(outl, 1),
                    a_out6 = v6(outl, 1),
                    // Resolved by ARP at run time; static with several queues (answers would
                    // reach one queue only).
                    right = if a.queues > 1 {
                        format!("mac = \"{}\"", mac_text(mac(outl, 2)))
                    } else {
                        format!("gateway = \"{}\"", v4(outl, 2))
                    },
                    left = if a.queues > 1 {
                        format!("mac = \"{}\"", mac_text(mac(inl, 1)))
                    } else {
                        format!("gateway = \"{}\"", v4(inl, 1))
                    },
                );
                let cf = dir.join(format!("r{k}.toml"));
                std::fs::write(&cf, cfg)?;
                let log = std::fs::File::create(dir.join(format!("r{k}.log")))?;
                let sock = dir.join(format!("r{k}.sock"));
                let child = Command::new("ip")
                    .args(["netns", "exec", r])
                    .arg(&exe)
                    .args(["run", "--config"])
                    .arg(&cf)
                    .arg("--socket")
                    .arg(&sock)
                    .stdin(Stdio::null())
                    .stdout(log.try_clone()?)
                    .stderr(log)
                    .process_group(0)
                    .spawn()
                    .context("starting vrouter in the router namespace")?;
                st.pids.push(child.id());
                save(dir, st)?;
                eprintln!(
                    "lab: r{k}: vrouter ({} routes, {} on {indev}/{outdev}) starting",
                    table.len() + 2 + 2 * links.len(),
                    a.io.name()
                );
                wait_ready(&sock, child.id(), &dir.join(format!("r{k}.log")))?;
            }
        }
    }
    Ok(())
}

/// Waits for a router's control socket (its tables are loaded and workers run), or fails with
/// the end of its log if it exits first.
fn wait_ready(sock: &Path, pid: u32, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if sock.exists() {
            return Ok(());
        }
        if !alive(pid) {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            bail!(
                "vrouter in the router namespace exited: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("vrouter did not open {} within 60 s", sock.display())
}

fn alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped by us) counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
        Err(_) => false,
    }
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
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &p in pids.iter().filter(|&&p| alive(p)) {
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
    need_root()?;
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

fn clean() -> Result<()> {
    need_root()?;
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
    eprintln!("lab: removed {n} namespaces");
    Ok(())
}

fn status() -> Result<()> {
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
    Ok(())
}
