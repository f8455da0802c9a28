//! Route-table tools behind `vrouter routes ...`: load (with a progress bar and a warning for
//! skipped records), inspect, look up, convert, generate and relocate tables, list update
//! events. Loading itself is `fib::source`; this module adds what a person at a terminal needs.

use std::io::{BufRead, BufWriter, Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use fib::source::{self, Change, Format, LoadOptions, PeerChoice, RouteSet, RouteValue};
use fib::{Ipv4Fib, Ipv6Fib, Key};
use ipnet::IpNet;
use serde_json::json;

use crate::progress;

#[derive(Clone, Copy, ValueEnum)]
pub enum OutFormat {
    Snapshot,
    Text,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Family {
    V4,
    V6,
}

/// How a table is loaded: shared by every command that loads one.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    /// Skip malformed records (counted) instead of failing.
    pub lenient: bool,
    /// RIB dumps: which peer's route to take per prefix.
    pub peer: PeerChoice,
    /// Number of next hops the router has; routes map onto ids 0..N deterministically.
    pub nexthops: u32,
    /// Accept a table with no routes (otherwise an error: an empty or cut file).
    pub allow_empty: bool,
}

impl LoadSpec {
    /// Strict loading, best peer, `nexthops` next hops.
    pub fn new(nexthops: u32) -> Self {
        LoadSpec {
            lenient: false,
            peer: PeerChoice::Best,
            nexthops,
            allow_empty: false,
        }
    }

    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            lenient: self.lenient,
            peer: self.peer.clone(),
            format: None,
        }
    }
}

/// `routes convert`: the table as a snapshot or text file.
pub fn convert(file: &Path, output: &Path, format: OutFormat, load: &LoadSpec) -> Result<()> {
    let set = load_set(file, load)?;
    write_set(&set, Some(output), format, load.nexthops)?;
    eprintln!("wrote {} routes to {}", set.routes.len(), output.display());
    Ok(())
}

/// The largest synthetic table `routes synth` makes (a full IPv4 table is ~1M routes today).
pub const MAX_SYNTH: usize = 20_000_000;

/// `routes synth`: a seeded synthetic table of `count` routes.
pub fn synth(
    count: usize,
    seed: u64,
    family: Family,
    output: Option<&Path>,
    format: OutFormat,
    nexthops: u32,
) -> Result<()> {
    if count == 0 || count > MAX_SYNTH {
        bail!("--count: {count} must be 1..={MAX_SYNTH}");
    }
    let set = match family {
        Family::V4 => source::synth::ipv4(count, seed),
        Family::V6 => source::synth::ipv6(count, seed),
    };
    if set.routes.len() < count {
        bail!(
            "could only generate {} distinct routes of the {count} asked",
            set.routes.len()
        );
    }
    write_set(&set, output, format, nexthops)
}

/// `routes relocate`: the table moved into 240.0.0.0/4 and 3fff::/20.
pub fn relocate(
    file: &Path,
    output: Option<&Path>,
    format: OutFormat,
    load: &LoadSpec,
) -> Result<()> {
    let set = load_set(file, load)?;
    let (moved, dropped) = source::relocate::relocate(&set);
    if dropped > 0 {
        tracing::warn!(
            "relocate: dropped {dropped} routes too long to fit (IPv4 > /28, IPv6 > /108)"
        );
    }
    write_set(&moved, output, format, load.nexthops)
}

/// Loads a table for a command: a progress bar, a warning for skipped records, and an error for
/// a table with no routes (an empty or cut file) unless `load.allow_empty`.
pub fn load_set(file: &Path, load: &LoadSpec) -> Result<RouteSet> {
    let set = progress::load(file, &load.options())?;
    if let Some(e) = &set.stats.first_error {
        let n = set.stats.skipped.get("malformed").copied().unwrap_or(0);
        let unread = match set.stats.unread_bytes {
            0 => String::new(),
            b => format!(" and {b} bytes after it, unread"),
        };
        tracing::warn!("skipped {n} malformed record(s){unread}; first: {e}");
    }
    if set.routes.is_empty() && !load.allow_empty {
        bail!(
            "{}: no routes in it (empty or cut short?); --allow-empty accepts that",
            file.display()
        );
    }
    Ok(set)
}

/// Writes routes as text (`PREFIX<TAB>NEXTHOP` after vrouter's header) or a snapshot.
fn write_set(set: &RouteSet, out: Option<&Path>, format: OutFormat, nexthops: u32) -> Result<()> {
    let bytes = match format {
        OutFormat::Snapshot => {
            if out.is_none() {
                bail!("--format snapshot needs -o FILE (binary output)");
            }
            source::snapshot::encode(set, nexthops)
        }
        OutFormat::Text => {
            let mut s = String::with_capacity(set.routes.len() * 24);
            s.push_str(source::text::TEXT_HEADER);
            s.push('\n');
            for r in &set.routes {
                use std::fmt::Write as _;
                let _ = writeln!(s, "{}\t{}", r.prefix, r.value.next_hop(&r.prefix, nexthops));
            }
            s.into_bytes()
        }
    };
    match out {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("cannot write {}", p.display()))
        }
        None => {
            let mut o = std::io::stdout().lock();
            o.write_all(&bytes)?;
            Ok(o.flush()?)
        }
    }
}

pub fn stats(file: &Path, load: &LoadSpec, json: bool) -> Result<()> {
    let t0 = Instant::now();
    let set = load_set(file, load)?;
    let load_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let (v4, v6) = set.tables(load.nexthops)?;
    let build_s = t1.elapsed().as_secs_f64();
    let mut lens4 = [0u64; 33];
    let mut lens6 = [0u64; 129];
    for r in &set.routes {
        match r.prefix {
            IpNet::V4(p) => lens4[p.prefix_len() as usize] += 1,
            IpNet::V6(p) => lens6[p.prefix_len() as usize] += 1,
        }
    }
    let hist = |lens: &[u64]| -> serde_json::Map<String, serde_json::Value> {
        lens.iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(l, &c)| (l.to_string(), json!(c)))
            .collect()
    };
    let (m4, m6) = (v4.memory(), v6.memory());
    let format = set.format.map_or("?", Format::name);
    if json {
        let out = json!({
            "file": file.display().to_string(),
            "format": format,
            "records": set.stats.records,
            "skipped": set.stats.skipped,
            "unread_bytes": set.stats.unread_bytes,
            "routes": set.routes.len(),
            "ipv4": v4.len(),
            "ipv6": v6.len(),
            "ipv4_lengths": hist(&lens4),
            "ipv6_lengths": hist(&lens6),
            "load_seconds": load_s,
            "build_seconds": build_s,
            "ipv4_fib_bytes": m4.lookup,
            "ipv6_fib_bytes": m6.lookup,
            "ipv4_control_bytes": m4.control,
            "ipv6_control_bytes": m6.control,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("file      {} ({format})", file.display());
    println!("records   {}", set.stats.records);
    for (why, n) in &set.stats.skipped {
        println!("skipped   {n} ({why})");
    }
    if set.stats.unread_bytes > 0 {
        println!(
            "unread    {} bytes (after a record whose framing was lost)",
            set.stats.unread_bytes
        );
    }
    println!(
        "routes    {} ({} IPv4, {} IPv6)",
        set.routes.len(),
        v4.len(),
        v6.len()
    );
    let line = |lens: &[u64]| {
        lens.iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(l, c)| format!("/{l}:{c}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !v4.is_empty() {
        println!("IPv4      {}", line(&lens4));
    }
    if !v6.is_empty() {
        println!("IPv6      {}", line(&lens6));
    }
    println!("load      {:.3} s (read, decompress, parse)", load_s);
    println!("build     {:.3} s (both tables)", build_s);
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!(
        "memory    IPv4 FIB {:.2} MiB ({} KiB chunk arena), IPv6 FIB {:.2} MiB (lookup structures); route store {:.2} MiB",
        mib(m4.lookup), m4.arena_bytes / 1024,
        mib(m6.lookup),
        mib(m4.control + m6.control)
    );
    Ok(())
}

pub fn lookup(
    file: &Path,
    addrs: &[String],
    stdin: bool,
    load: &LoadSpec,
    json: bool,
) -> Result<()> {
    if addrs.is_empty() && !stdin {
        bail!("give addresses to look up, or --stdin");
    }
    let set = load_set(file, load)?;
    let (v4, v6) = set.tables(load.nexthops)?;
    let out = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, out.lock());
    for a in addrs {
        answer(&v4, &v6, a, &mut out, json)?;
    }
    if stdin {
        // Lines are read with a cap: an address is at most 45 characters, and /dev/zero or a
        // binary file on stdin must not be read into memory whole.
        const MAX_LINE: usize = 4096;
        let mut r = std::io::stdin().lock();
        let mut line = Vec::new();
        for n in 1.. {
            line.clear();
            if (&mut r)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line)?
                == 0
            {
                break;
            }
            if line.len() > MAX_LINE {
                bail!("standard input, line {n}: longer than {MAX_LINE} bytes (an address is at most 45)");
            }
            let text = std::str::from_utf8(&line)
                .map_err(|_| anyhow::anyhow!("standard input, line {n}: not text"))?;
            let a = text.trim();
            if !a.is_empty() {
                answer(&v4, &v6, a, &mut out, json)?;
            }
        }
    }
    Ok(out.flush()?)
}

fn answer(v4: &Ipv4Fib, v6: &Ipv6Fib, a: &str, out: &mut impl Write, json: bool) -> Result<()> {
    let addr: IpAddr = a
        .parse()
        .with_context(|| format!("`{}` is not an IPv4 or IPv6 address", source::excerpt(a)))?;
    let hit: Option<(String, u32)> = match addr {
        IpAddr::V4(x) => v4
            .longest_match(u32::from_addr(x))
            .map(|(k, l, nh)| (k.to_net(l).to_string(), nh)),
        IpAddr::V6(x) => v6
            .longest_match(u128::from_addr(x))
            .map(|(k, l, nh)| (k.to_net(l).to_string(), nh)),
    };
    if json {
        let v = match &hit {
            Some((p, nh)) => json!({"addr": a, "prefix": p, "nexthop": nh}),
            None => json!({"addr": a, "prefix": null, "nexthop": null}),
        };
        writeln!(out, "{v}")?;
    } else {
        match hit {
            Some((p, nh)) => writeln!(out, "{a}\t{p}\t{nh}")?,
            None => writeln!(out, "{a}\t-")?,
        }
    }
    Ok(())
}

pub fn events(
    file: &Path,
    bgp: bool,
    peer: Option<IpAddr>,
    nexthops: u32,
    lenient: bool,
) -> Result<()> {
    let opts = LoadOptions {
        lenient,
        ..LoadOptions::default()
    };
    let pb = progress::bytes(file);
    let mut cb = |d: u64, t: u64| {
        pb.set_length(t);
        pb.set_position(d);
    };
    let (events, stats) = source::load_events(file, &opts, &mut cb)?;
    pb.finish_and_clear();
    if let Some(e) = &stats.first_error {
        tracing::warn!("skipped malformed record(s); first: {e}");
    }
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    for e in events.iter().filter(|e| peer.is_none() || e.peer == peer) {
        match &e.change {
            Change::Announce(r) => {
                if bgp {
                    let hop = match &r.value {
                        RouteValue::None => "-".to_string(),
                        v => v.to_string(),
                    };
                    writeln!(out, "announce\t{}\t{hop}", r.prefix)?;
                } else {
                    writeln!(
                        out,
                        "announce\t{}\t{}",
                        r.prefix,
                        r.value.next_hop(&r.prefix, nexthops)
                    )?;
                }
            }
            Change::Withdraw(p) => writeln!(out, "withdraw\t{p}")?,
        }
    }
    out.flush()?;
    let summary: Vec<String> = stats
        .skipped
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    eprintln!(
        "{} changes from {} records; skipped: {}",
        events.len(),
        stats.records,
        summary.join(", ")
    );
    Ok(())
}
