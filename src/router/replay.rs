//! `vrouter replay`: runs the forwarding pipeline over a capture, offline, and writes what the
//! router sends (like DPDK's pcap PMD or VPP's pcap trace): forwarded frames, answers, and ICMP
//! errors, each on its egress port.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dataplane::pcap;
use dataplane::pipeline::{DropReason, Io, PacketBuf, Pipeline, Verdict, BURST};
use serde_json::json;

use crate::routes::{load_set, LoadSpec};

/// What `vrouter replay` was asked.
pub struct ReplayOptions {
    /// Input capture (pcap or pcapng, Ethernet). Frames arrive on port 0.
    pub input: PathBuf,
    /// Route table (default: the configuration's, else the shipped RouteViews IPv4 table).
    pub table: Option<PathBuf>,
    /// Router configuration (its first router is replayed); default: [`super::preset`].
    pub config: Option<PathBuf>,
    /// Output capture (pcapng, one interface per port) of every frame the router sends.
    pub output: Option<PathBuf>,
    pub load: LoadSpec,
    /// Print JSON instead of text.
    pub json: bool,
}

/// A capture read whole, up to the same limit as route files (`VROUTER_MAX_INPUT_MB`), so that
/// `/dev/zero` or a runaway file is refused instead of exhausting memory.
fn read_capped(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let max = fib::source::max_input_bytes();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max {
        anyhow::bail!(
            "{}: larger than {} MiB; not read (VROUTER_MAX_INPUT_MB raises the limit)",
            path.display(),
            max >> 20
        );
    }
    Ok(bytes)
}

pub fn run(a: ReplayOptions) -> Result<()> {
    let bytes = read_capped(&a.input)?;
    let records = pcap::read(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", a.input.display()))?;
    let (mut router, nexthops, cfg_table) = match &a.config {
        Some(path) => {
            let routers = super::config::load(path)?;
            let r = &routers[0];
            (super::run::pipeline(r), r.nexthops, r.routes.clone())
        }
        None => (
            super::preset::default_router(a.load.nexthops),
            a.load.nexthops,
            None,
        ),
    };
    let table = a
        .table
        .clone()
        .or(cfg_table)
        .unwrap_or_else(crate::host::default_table);
    let set = load_set(&table, &a.load)?;
    let (mut fib4, mut fib6) = set.tables(nexthops)?;
    super::run::add_connected(&mut fib4, &mut fib6, &router.interfaces)?;
    let mut out = pcap::Writer::new(router.interfaces.len() as u32);
    let mut sent_per_port = vec![0u64; router.interfaces.len()];
    let mut oversize = 0u64;

    let mut bufs: Vec<PacketBuf> = Vec::with_capacity(BURST);
    let mut stamps: Vec<u64> = Vec::with_capacity(BURST);
    let mut verdicts = [Verdict::Forward { port: 0 }; BURST];
    let mut flush = |bufs: &mut Vec<PacketBuf>, stamps: &mut Vec<u64>, router: &mut Pipeline| {
        let n = bufs.len();
        if n == 0 {
            return;
        }
        let now = stamps.last().copied().unwrap_or(0);
        // Offline, spare buffers may simply be allocated.
        let mut extra = Vec::new();
        let mut freed = Vec::new();
        let mut spare = || Some(PacketBuf::default());
        let mut io = Io {
            spare: &mut spare,
            out: &mut extra,
            free: &mut freed,
        };
        router.process_io(
            &fib4,
            &fib6,
            now,
            0,
            bufs,
            &mut verdicts[..n],
            Some(&mut io),
        );
        // The burst's own frames first (a fragmented datagram's first fragment is one of
        // them, the others are in `extra`), then what left outside the burst.
        for ((b, &ts), v) in bufs.iter().zip(stamps.iter()).zip(&verdicts[..n]) {
            let Some(port) = v.egress() else { continue };
            out.packet(u32::from(port), ts, b.bytes());
            sent_per_port[usize::from(port)] += 1;
        }
        for (port, b) in extra {
            out.packet(u32::from(port), now, b.bytes());
            if let Some(c) = sent_per_port.get_mut(usize::from(port)) {
                *c += 1;
            }
        }
        bufs.clear();
        stamps.clear();
    };
    for r in &records {
        match PacketBuf::from_bytes(&r.data) {
            Some(b) => {
                bufs.push(b);
                stamps.push(r.ts_ns);
            }
            None => oversize += 1,
        }
        if bufs.len() == BURST {
            flush(&mut bufs, &mut stamps, &mut router);
        }
    }
    flush(&mut bufs, &mut stamps, &mut router);
    if let Some(path) = &a.output {
        write(path, out.into_bytes())?;
    }

    let s = &router.stats;
    let mut dropped = serde_json::Map::new();
    for r in DropReason::ALL {
        if s.drop_count(r) > 0 {
            dropped.insert(r.name().into(), json!(s.drop_count(r)));
        }
    }
    if oversize > 0 {
        dropped.insert("oversize".into(), json!(oversize));
    }
    if a.json {
        let v = json!({
            "frames_in": records.len(),
            "forwarded": s.forwarded,
            "answered": s.answered,
            "dropped": dropped,
            "icmp_errors": s.icmp_errors,
            "icmp_rate_limited": s.icmp_rate_limited,
            "held": s.held,
            "released": s.released,
            "consumed": s.consumed,
            "sent_per_port": sent_per_port,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("frames in   {}", records.len());
        println!("forwarded   {}", s.forwarded);
        println!("answered    {}", s.answered);
        println!("dropped     {}", s.dropped() + oversize);
        for (k, v) in &dropped {
            println!("  {k:<22} {v}");
        }
        println!(
            "icmp errors {} sent, {} rate-limited",
            s.icmp_errors, s.icmp_rate_limited
        );
        for (p, n) in sent_per_port.iter().enumerate() {
            println!("port {p} sent {n}");
        }
    }
    Ok(())
}

fn write(path: &Path, bytes: Vec<u8>) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
