//! A test bed on a namespace lab: routers in a parallel lab (vrouter on AF_XDP or AF_PACKET, or
//! the kernel), driven by the generator and sink of `testbed` (generator on AF_XDP, sink on
//! AF_PACKET) on ports opened in the generator and sink namespaces. `vrouter sweep --backend ...` and `vrouter bench lab` run
//! their trials here; the lab is torn down when the bed is dropped.

use std::fmt::Write as _;

use anyhow::{anyhow, Context, Result};
use dataplane::pool::Pool;
use dataplane::port::afpacket::{AfPacket, AfPacketConfig};
use dataplane::port::afxdp::{AfXdp, XdpMode};
use dataplane::port::Port;
use dataplane::traffic::FrameSpec;

use crate::lab::{self, PortIo, RouterKind, Topology, UpArgs};
use crate::testbed::{self, Lane, Load, RouterResult, RouterSetup};

/// How the lab's routers run.
pub struct LabOptions {
    /// Lab name (short: namespaces are vrl-<name>-...).
    pub name: String,
    pub kind: RouterKind,
    pub io: PortIo,
    /// vrouter's polling mode (busy or adaptive).
    pub mode: String,
    /// Pin router k's worker to core `core` (all routers on that core).
    pub core: Option<usize>,
    /// Frame sizes the headers are first built for.
    pub frame: testbed::FrameSize,
}

/// Runs `f` on a thread inside network namespace `ns` (the current one if `None`): a socket
/// stays in the namespace it was made in, whichever thread uses it later.
pub fn in_netns<T: Send + 'static>(
    ns: Option<&str>,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let path = ns.map(|ns| format!("/run/netns/{ns}"));
    std::thread::spawn(move || -> Result<T> {
        if let Some(path) = path {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("entering {path}"))?;
        }
        f()
    })
    .join()
    .map_err(|_| anyhow!("the namespace thread failed"))?
}

/// Opens an AF_PACKET port on `iface` in network namespace `ns`.
pub fn open_in(ns: &str, iface: &str, pool: &Pool) -> Result<AfPacket> {
    let (iface, pool) = (iface.to_string(), pool.clone());
    in_netns(Some(ns), move || {
        let mut cfg = AfPacketConfig::new(&iface);
        cfg.rx_blocks = 128;
        Ok(AfPacket::open(&cfg, &pool)?)
    })
}

/// Opens an AF_XDP port on `iface` in network namespace `ns` (libxdp's program is loaded
/// there too).
pub fn open_xdp_in(ns: Option<&str>, iface: &str, pool: &Pool) -> Result<AfXdp> {
    let (iface, pool) = (iface.to_string(), pool.clone());
    in_netns(ns, move || Ok(AfXdp::open(&iface, XdpMode::Auto, &pool)?))
}

/// The generator's port: an AF_XDP socket in `ns` (in copy mode its transmit path costs the
/// sending core about 30% less per frame than AF_PACKET's on veth: measured with `vrouter bench
/// lab`, kernel router 0.43 -> 0.54 Mp/s, vrouter-afxdp 0.75 -> 1.0+ Mp/s), else AF_PACKET, saying
/// why. Frames arriving on the generator's interface (ARP, ICMP errors) go to the socket and
/// are not read; the generator needs none of them.
fn open_gen(ns: &str, iface: &str, pool: &Pool) -> Result<Box<dyn Port>> {
    match open_xdp_in(Some(ns), iface, pool) {
        Ok(p) => Ok(Box::new(p)),
        Err(e) => {
            eprintln!("lab: generator on AF_PACKET: AF_XDP on {iface} failed: {e:#}");
            Ok(Box::new(open_in(ns, iface, pool)?))
        }
    }
}

/// Drops the measured frames (IPv4 to 240.0.0.0/4) at the sink interface's ingress hook,
/// after the sink's AF_PACKET socket has seen them (taps run first) and before the sink
/// namespace's IP stack, which would otherwise deliver each one locally, find no UDP socket
/// and consult the ICMP rate limiter, per frame, on whichever core sent it (the router's, or
/// for a kernel router the generator's). Without `nft` the lab still works, only slower.
fn quiet_sink(ns: &str, iface: &str) {
    let rules = format!(
        "table netdev vrouter_sink {{\n chain in_{iface} {{\n  type filter hook ingress device \"{iface}\" priority 0;\n  ip daddr 240.0.0.0/4 drop\n }}\n}}\n"
    );
    let res = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            if let Some(mut i) = c.stdin.take() {
                i.write_all(rules.as_bytes())?;
            }
            c.wait_with_output()
        });
    match res {
        Ok(o) if o.status.success() => {}
        Ok(o) => eprintln!(
            "lab: nft could not add the sink's ingress drop on {iface} ({}); the sink's IP stack will see every frame",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => eprintln!(
            "lab: nft not available ({e}); the sink's IP stack will see every frame"
        ),
    }
}

/// Tears a lab down when dropped (also when the work using it fails).
pub struct LabGuard(pub String);

impl Drop for LabGuard {
    fn drop(&mut self) {
        if let Err(e) = lab::down(&self.0) {
            eprintln!("vrouter: tearing down lab {}: {e:#}", self.0);
        }
    }
}

/// A parallel lab with one lane (generator port, sink port) per router.
pub struct LabBed {
    lanes: Vec<Lane>,
    /// Each lane's frame template and destinations, and the frame size its headers are for.
    specs: Vec<(FrameSpec, Vec<u32>)>,
    frame: testbed::FrameSize,
    pool: Pool,
    pids: Vec<u32>,
    /// CPU the generator/sink thread used in the last trial (ns).
    pub gen_cpu_ns: u64,
    /// Receive-ring drops of the sink sockets so far (the kernel's counter resets on read).
    sink_drops: u64,
    guard: LabGuard,
}

impl LabBed {
    /// Builds the lab for `routers` (they all load router 0's table, relocated into 240/4;
    /// each gets its own destinations, relocated alike) and warms it up.
    pub fn up(o: &LabOptions, routers: &[RouterSetup]) -> Result<LabBed> {
        let n = routers.len();
        let first = routers.first().ok_or_else(|| anyhow!("no routers"))?;
        let mut text = format!("{}\n", fib::source::text::TEXT_HEADER);
        for (k, l, _) in first.fib4.routes() {
            let _ = writeln!(text, "{}/{l}\t0", std::net::Ipv4Addr::from(k));
        }
        let table = std::env::temp_dir().join(format!("vrouter-{}.routes", o.name));
        std::fs::write(&table, text)?;
        let _ = lab::down(&o.name);
        let res = lab::up(&UpArgs {
            name: o.name.clone(),
            routers: n,
            table: Some(table.clone()),
            lenient: false,
            router: o.kind,
            mode: o.mode.clone(),
            topology: Topology::Parallel,
            io: o.io,
            xdp_ring: None,
            core: o.core,
            queues: 1,
        });
        let _ = std::fs::remove_file(&table);
        res?;
        let guard = LabGuard(o.name.clone());
        let (gen_ns, sink_ns) = (
            format!("vrl-{}-gen", o.name),
            format!("vrl-{}-sink", o.name),
        );
        let pool = Pool::new(65_536);
        let mut lanes = Vec::new();
        let mut specs = Vec::new();
        for (k, r) in (1..=n).zip(routers) {
            let (inl, outl) = lab::router_links(Topology::Parallel, k);
            let spec = FrameSpec {
                src_mac: lab::mac(inl, 1),
                dst_mac: lab::mac(inl, 2),
                src_ip: std::net::Ipv4Addr::new(198, 18, inl as u8, 1),
                size: o.frame.at(0),
            };
            let tx = open_gen(&gen_ns, &format!("e{inl}l"), &pool)?;
            let rx = open_in(&sink_ns, &format!("e{outl}r"), &pool)?;
            quiet_sink(&sink_ns, &format!("e{outl}r"));
            // Relocation keeps every address inside its relocated prefix.
            let dests: Vec<u32> = r
                .dests
                .iter()
                .map(|&d| u32::from(fib::source::relocate::v4_addr(d.into())))
                .collect();
            let mut lane = Lane::new(tx, Box::new(rx), testbed::heads(&spec, &dests, o.frame));
            // Kernel ports cost a system call per transmit: gather up to 32 paced frames per
            // call (see `testbed::BATCH_WAIT_NS` for how long a lane waits for them).
            lane.batch = 32;
            lanes.push(lane);
            specs.push((spec, dests));
        }
        let mut bed = LabBed {
            lanes,
            specs,
            frame: o.frame,
            pool,
            pids: lab::router_pids(&o.name),
            gen_cpu_ns: 0,
            sink_drops: 0,
            guard,
        };
        // Warm-up: neighbours resolve on the first frames.
        bed.trial(&Load {
            rate_per_router: Some(1_000.0),
            frame: o.frame,
            seconds: 0.3,
        })?;
        Ok(bed)
    }

    /// Drop counters of the routers and sinks so far (see [`Drops`]).
    pub fn drops(&mut self) -> Drops {
        let router = (1..=self.lanes.len())
            .map(|k| -> Option<u64> {
                let sock = lab::router_socket(&self.guard.0, k);
                let v = crate::ctl::request(&sock, serde_json::json!({"cmd": "stats"})).ok()?;
                let ports = v["routers"][0]["ports"].as_array()?;
                let count = |p: &serde_json::Value, k: &str| p[k].as_u64().unwrap_or(0);
                Some(
                    ports
                        .iter()
                        .map(|p| count(p, "rx_dropped") + count(p, "tx_dropped"))
                        .sum(),
                )
            })
            .sum();
        for lane in &mut self.lanes {
            self.sink_drops += lane.rx.rx_dropped();
        }
        Drops {
            router,
            sink: self.sink_drops,
        }
    }

    /// One trial; each router's CPU is its vrouter process's (NaN for kernel routers).
    pub fn trial(&mut self, load: &Load) -> Result<Vec<RouterResult>> {
        let c0: Vec<u64> = self.pids.iter().map(|&p| proc_cpu_ns(p)).collect();
        if load.frame != self.frame {
            // Headers carry the IP and UDP lengths: rebuild them for this frame size.
            for (lane, (spec, dests)) in self.lanes.iter_mut().zip(&self.specs) {
                lane.set_heads(testbed::heads(spec, dests, load.frame));
            }
            self.frame = load.frame;
        }
        let lanes = std::mem::take(&mut self.lanes);
        let (mut rs, back, gen_cpu) = testbed::external_trial(lanes, &self.pool, load)?;
        self.lanes = back;
        self.gen_cpu_ns = gen_cpu;
        for (i, r) in rs.iter_mut().enumerate() {
            if let (Some(&p), Some(&c)) = (self.pids.get(i), c0.get(i)) {
                r.cpu = proc_cpu_ns(p).saturating_sub(c) as f64 / 1e9 / load.seconds;
            }
        }
        Ok(rs)
    }
}

/// Frames dropped where they could be counted since the lab came up, summed over its lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// The vrouters' port drops (receive ring overflow, transmit ring full), from their control
    /// sockets; `None` when a router is the kernel (it has no socket).
    pub router: Option<u64>,
    /// The sink sockets' receive-ring drops.
    pub sink: u64,
}

impl Drops {
    /// Drops counted between `before` and `self`: (router, sink).
    pub fn since(&self, before: &Drops) -> (Option<u64>, u64) {
        let router = self
            .router
            .map(|r| r.saturating_sub(before.router.unwrap_or(0)));
        (router, self.sink - before.sink)
    }
}

/// CPU time of a process (all its threads), in ns: from each thread's schedstat (ns), else
/// from /proc/PID/stat (10 ms ticks).
fn proc_cpu_ns(pid: u32) -> u64 {
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
    let rest = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    (t(11) + t(12)) * 10_000_000
}
