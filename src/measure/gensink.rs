//! `vrouter gen` and `vrouter sink`: the measurement engines as standalone commands on a Linux
//! interface (AF_PACKET, or AF_XDP with `--io afxdp`), for labs and guests: a paced generator
//! of stamped UDP frames (the generator loop's [`Sender`]) and a sink that accounts for them per
//! flow. Stamps carry CLOCK_MONOTONIC time, so a generator and a sink on one host (any
//! namespaces) measure one-way latency on one clock.
//!
//! Network safety is enforced here: frames go to 240.0.0.0/4 destinations only (tables are
//! relocated with `--relocate`) from a 198.18.0.0/15 source; IPv6 frames (`--src-ip6`) to
//! 3fff::/20 from 2001:2::/48 (RFC 5180 benchmarking space).

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::generator::Sender;
use super::traffic::{FrameSpec, Sink};
use crate::host::mono_ns;
use crate::lab::netns::{open_in, open_xdp_in};
use crate::lab::PortIo;
use anyhow::{bail, Result};
use dataplane::pool::Pool;
use dataplane::port::Port;
use serde_json::json;

/// Where a generator or sink sends or receives.
#[derive(clap::Args)]
pub struct IfaceArgs {
    /// Interface to send on (gen) or receive on (sink).
    #[arg(long, required_unless_present = "memif")]
    iface: Option<String>,
    /// Instead of an interface: the client end of a net_memif link whose server is a DPDK
    /// router's port (`vdev = "net_memif0,role=server,id=0,socket-abstract=no,socket=PATH"`);
    /// a `--features dpdk` build. No kernel interface carries these frames.
    #[arg(long, conflicts_with_all = ["iface", "netns"])]
    memif: Option<PathBuf>,
    /// Network namespace of the interface (default: the current one).
    #[arg(long)]
    netns: Option<String>,
    /// Socket type on the interface (an AF_XDP sink takes the interface's frames from the
    /// kernel, which no longer sees them).
    #[arg(long, value_enum, default_value_t = PortIo::Afpacket)]
    io: PortIo,
}

#[derive(clap::Args)]
pub struct GenArgs {
    #[command(flatten)]
    at: IfaceArgs,
    /// The router's MAC on this link.
    #[arg(long)]
    dst_mac: String,
    /// Source MAC (default: 02:00:00:00:00:09).
    #[arg(long, default_value = "02:00:00:00:00:09")]
    src_mac: String,
    /// Source address, in 198.18.0.0/15.
    #[arg(long, required_unless_present = "src_ip6")]
    src_ip: Option<Ipv4Addr>,
    /// Send IPv6 frames from this source, in 2001:2::/48, to the table's IPv6 routes (default:
    /// all of 3fff::/20); 78 bytes at least (82 on the wire), the smallest that carry a stamp.
    #[arg(long, conflicts_with = "src_ip")]
    src_ip6: Option<Ipv6Addr>,
    /// Destinations are drawn from this table's routes (default: all of 240.0.0.0/4).
    #[arg(long)]
    table: Option<PathBuf>,
    /// Relocate the table into 240.0.0.0/4 and 3fff::/20 first (required for real tables).
    #[arg(long)]
    relocate: bool,
    /// Frames per second.
    #[arg(long, default_value_t = 130_000.0)]
    rate: f64,
    /// Frame size in bytes with FCS (64..=1518), or `imix` (64/594/1518 bytes, 7:4:1).
    #[arg(long, default_value = "64")]
    frame: super::generator::FrameSize,
    /// Seconds to send.
    #[arg(long, default_value_t = 1.0)]
    duration: f64,
    /// Stop after this many frames.
    #[arg(long)]
    count: Option<u64>,
    /// Flow id in the stamps.
    #[arg(long, default_value_t = 0)]
    flow: u16,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct SinkArgs {
    #[command(flatten)]
    at: IfaceArgs,
    /// Seconds to receive.
    #[arg(long, default_value_t = 2.0)]
    duration: f64,
    #[arg(long)]
    json: bool,
}

fn open(at: &IfaceArgs, pool: &Pool) -> Result<Box<dyn Port>> {
    if let Some(sock) = &at.memif {
        return open_memif(sock, pool);
    }
    let (ns, iface) = (at.netns.as_deref(), at.iface.as_deref().unwrap_or_default());
    Ok(match (at.io, ns) {
        (PortIo::Afxdp, _) => Box::new(open_xdp_in(ns, iface, pool)?),
        (PortIo::Afpacket, Some(ns)) => Box::new(open_in(ns, iface, pool)?),
        (PortIo::Afpacket, None) => {
            let cfg = dataplane::port::afpacket::AfPacketConfig::new(iface);
            Box::new(dataplane::port::afpacket::AfPacket::open(&cfg, pool)?)
        }
        (PortIo::Dpdk | PortIo::DpdkXdp, _) => anyhow::bail!(
            "--io dpdk and dpdk-xdp are for routers (`lab up --io dpdk`); the generator and sink use afpacket \
             or afxdp sockets"
        ),
    })
}

/// A memif client port in an EAL of this process, which stops when the port is dropped.
#[cfg(feature = "dpdk")]
fn open_memif(sock: &std::path::Path, pool: &Pool) -> Result<Box<dyn Port>> {
    use dataplane::port::dpdk::{self, DpdkPort, EalOptions, Mempool};
    /// The port, then the EAL, released in that order.
    struct Owned(Option<DpdkPort>);
    impl Owned {
        fn port(&mut self) -> &mut DpdkPort {
            self.0.as_mut().expect("open until dropped")
        }
    }
    impl Port for Owned {
        fn rx_burst(&mut self, out: &mut Vec<dataplane::buf::PacketBuf>, max: usize) -> usize {
            self.port().rx_burst(out, max)
        }
        fn tx_burst(&mut self, bufs: &mut Vec<dataplane::buf::PacketBuf>) -> usize {
            self.port().tx_burst(bufs)
        }
        fn rx_dropped(&mut self) -> u64 {
            self.port().rx_dropped()
        }
        fn rx_capacity(&self) -> usize {
            self.0.as_ref().map_or(0, |p| p.rx_capacity())
        }
        fn name(&self) -> &str {
            self.0.as_ref().map_or("memif", |p| p.name())
        }
    }
    impl Drop for Owned {
        fn drop(&mut self) {
            self.0.take();
            dpdk::eal_cleanup();
        }
    }
    use std::os::unix::fs::FileTypeExt as _;
    if !std::fs::metadata(sock).is_ok_and(|m| m.file_type().is_socket()) {
        bail!(
            "--memif {}: no router listens there (its port needs vdev = \
             \"net_memif0,role=server,id=0,socket-abstract=no,socket={}\")",
            sock.display(),
            sock.display()
        );
    }
    let args = dpdk::eal_args(&EalOptions {
        prefix: format!("vrouter-{}", std::process::id()),
        memory_mb: 128,
        vdevs: vec![format!(
            "net_memif0,role=client,id=0,socket-abstract=no,socket={}",
            sock.display()
        )],
        ..EalOptions::default()
    });
    dpdk::eal_init(&args).map_err(|e| anyhow::anyhow!("--memif: DPDK: {e}"))?;
    let mut owned = Owned(None);
    let mempool = Mempool::new("gensink", 4095).map_err(|e| anyhow::anyhow!("--memif: {e}"))?;
    owned.0 = Some(
        DpdkPort::open("net_memif0", &mempool, 1024, 1024, pool)
            .map_err(|e| anyhow::anyhow!("--memif: {e}"))?,
    );
    drop(mempool);
    if !owned.port().wait_link_up(Duration::from_secs(5)) {
        bail!(
            "--memif {}: the router on that socket did not bring the link up within 5 s",
            sock.display()
        );
    }
    Ok(Box::new(owned))
}

#[cfg(not(feature = "dpdk"))]
fn open_memif(_: &std::path::Path, _: &Pool) -> Result<Box<dyn Port>> {
    bail!("--memif: {}", crate::router::run::NO_DPDK)
}

/// In the space the lab's sink owns: 240.0.0.0/4 (but not the broadcast address) or
/// 3fff::/20.
fn reserved(d: &IpAddr) -> bool {
    match *d {
        IpAddr::V4(a) => u32::from(a) >> 28 == 0xf && !a.is_broadcast(),
        IpAddr::V6(a) => u128::from(a) >> 108 == 0x3fff0,
    }
}

pub fn gen(a: &GenArgs) -> Result<()> {
    if !(a.rate > 0.0 && a.rate <= 1e9) {
        bail!(
            "--rate: {} must be a number of frames per second in (0, 1e9]",
            a.rate
        );
    }
    if !(a.duration > 0.0 && a.duration <= 3600.0) {
        bail!("--duration: {} must be in (0, 3600] seconds", a.duration);
    }
    if let Some(src) = a.src_ip {
        if u32::from(src) >> 17 != u32::from(Ipv4Addr::new(198, 18, 0, 0)) >> 17 {
            bail!("--src-ip: {src} is not in 198.18.0.0/15 (RFC 2544 benchmarking space)");
        }
    }
    if let Some(src) = a.src_ip6 {
        if u128::from(src) >> 80 != 0x2001_0002_0000 {
            bail!("--src-ip6: {src} is not in 2001:2::/48 (RFC 5180 benchmarking space)");
        }
    }
    let mac = |s: &str, what: &str| {
        s.parse::<dataplane::wire::ethernet::Mac>()
            .map_err(|_| anyhow::anyhow!("{what}: `{s}` is not a MAC address"))
    };
    let spec = FrameSpec {
        src_mac: mac(&a.src_mac, "--src-mac")?,
        dst_mac: mac(&a.dst_mac, "--dst-mac")?,
        src_ip: a.src_ip.unwrap_or(Ipv4Addr::new(198, 18, 0, 2)),
        src_ip6: a
            .src_ip6
            .unwrap_or(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2)),
        size: a.frame.at(0),
    };
    let set = match &a.table {
        Some(t) => {
            let set = crate::routes::load_set(t, &crate::routes::LoadSpec::new(16))?;
            Some(if a.relocate {
                fib::source::relocate::relocate(&set).0
            } else {
                set
            })
        }
        None => None,
    };
    let v6 = a.src_ip6.is_some();
    // Without a table: all of the sink's space.
    let dests: Vec<IpAddr> = if v6 {
        let e = set
            .as_ref()
            .map_or_else(|| vec![(0x3fff_u128 << 112, 20, 0)], |s| s.v6_entries(16));
        let d = super::bed::destinations6(&e, 65_536, 1);
        d.into_iter().map(|x| Ipv6Addr::from(x).into()).collect()
    } else {
        let e = set
            .as_ref()
            .map_or_else(|| vec![(0xf000_0000, 4, 0)], |s| s.v4_entries(16));
        let d = super::bed::destinations(&e, 65_536, 1);
        d.into_iter().map(|x| Ipv4Addr::from(x).into()).collect()
    };
    if let Some(t) = &a.table {
        let (family, space) = if v6 {
            ("IPv6", "3fff::/20")
        } else {
            ("IPv4", "240.0.0.0/4")
        };
        if dests.is_empty() {
            bail!("{}: no {family} routes", t.display());
        }
        if let Some(x) = dests.iter().find(|x| !reserved(x)) {
            bail!(
                "{}: destination {x} is outside {space}; frames on interfaces go to reserved space only (use --relocate)",
                t.display()
            );
        }
    }
    let heads = super::generator::heads(&spec, &dests, a.frame);
    let pool = Pool::new(8192);
    let mut cache = pool.cache();
    let mut tx = Sender::new(open(&a.at, &pool)?, heads);
    tx.reset(Some(a.rate));
    // Gather 16 frames per system call, or wait at most 50 µs.
    (tx.batch, tx.batch_wait_ns) = (16, 50_000);
    tx.flow = a.flow;
    tx.limit = a.count.unwrap_or(u64::MAX);
    let start = Instant::now();
    let end = Duration::from_secs_f64(a.duration);
    let mut sent = 0u64;
    while start.elapsed() < end && !tx.done() {
        let now = start.elapsed().as_nanos() as u64;
        match tx.round(now, mono_ns, &mut cache) {
            0 => std::hint::spin_loop(),
            n => sent += n as u64,
        }
    }
    tx.finish(&mut cache);
    let (seq, full) = (tx.offered, tx.refused);
    let secs = start.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(
            out,
            "{}",
            json!({"offered": seq, "sent": sent, "tx_ring_full": full, "seconds": secs,
                   "rate_pps": sent as f64 / secs, "flow": a.flow, "frame_bytes": a.frame})
        )?;
    } else {
        writeln!(
            out,
            "sent {sent} of {seq} frames ({full} found the TX ring full) in {secs:.3} s: {:.1} kp/s, flow {}",
            sent as f64 / secs / 1e3,
            a.flow
        )?;
    }
    Ok(())
}

pub fn sink(a: &SinkArgs) -> Result<()> {
    if !(a.duration > 0.0 && a.duration <= 3600.0) {
        bail!("--duration: {} must be in (0, 3600] seconds", a.duration);
    }
    let pool = Pool::new(8192);
    let mut port = open(&a.at, &pool)?;
    let mut cache = pool.cache();
    let mut sink = Sink::new();
    let mut rx = Vec::with_capacity(64);
    let start = Instant::now();
    let end = Duration::from_secs_f64(a.duration);
    while start.elapsed() < end {
        rx.clear();
        if port.rx_burst(&mut rx, 64) == 0 {
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        let now = mono_ns();
        for b in rx.drain(..) {
            sink.record(b.bytes(), now);
            cache.put(b);
        }
    }
    let r = sink.report();
    let flows: Vec<_> = sink
        .flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.received > 0 || f.duplicates > 0)
        .map(|(i, f)| {
            json!({"flow": i, "received": f.received, "lost_below_highest": f.lost(None),
                   "reordered": f.reordered, "duplicates": f.duplicates, "highest_seq": f.max_seq})
        })
        .collect();
    let lat = r
        .latency_ns
        .map(|l| json!({"min": l.min, "p50": l.p50, "p99": l.p99, "p999": l.p999, "max": l.max}));
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(
            out,
            "{}",
            json!({"received": r.received, "duplicates": r.duplicates, "reordered": r.reordered,
                   "foreign": r.foreign, "bytes": r.bytes, "rate_pps": r.rate_pps,
                   "latency_ns": lat, "flows": flows})
        )?;
    } else {
        writeln!(
            out,
            "received {} stamped frames ({} other) at {:.1} kp/s on the sink's clock; {} reordered, {} duplicates",
            r.received,
            r.foreign,
            r.rate_pps / 1e3,
            r.reordered,
            r.duplicates
        )?;
        for f in &flows {
            writeln!(out, "  {f}")?;
        }
        if let Some(l) = r.latency_ns {
            writeln!(
                out,
                "  one-way latency: min {:.1} µs, p50 {:.1}, p99 {:.1}, p99.9 {:.1}, max {:.1}",
                l.min as f64 / 1e3,
                l.p50 as f64 / 1e3,
                l.p99 as f64 / 1e3,
                l.p999 as f64 / 1e3,
                l.max as f64 / 1e3
            )?;
        }
    }
    Ok(())
}
