//! `vrouter bench lpm`: vrouter's FIB against the `ip_network_table-deps-treebitmap` crate, side
//! by side in one run, on the same tables and destination arrays; plus load/build/reload times
//! and route-update throughput under concurrent lookups.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Subcommand;
use fib::lpm::{poptrie::Poptrie, Arena};
use fib::source::{self, LoadOptions, RouteSet};
use fib::{Key, Lpm, Update, NO_ROUTE};
use ip_network_table_deps_treebitmap::IpLookupTable;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::json;

#[derive(Subcommand)]
pub enum BenchCmd {
    /// LPM lookups/s of vrouter's FIB vs the treebitmap crate (single and batched; routed and
    /// uniform random destinations; 1k/10k/100k/full tables; IPv4 and IPv6), build/load times,
    /// and route updates/s with concurrent lookups.
    Lpm(LpmArgs),
    /// Packets/s per core through the forwarding pipeline (no port I/O yet): 64-byte frames to
    /// destinations spread over the table, copied into the burst buffers as a NIC would, then
    /// parsed, validated, looked up, rewritten.
    Pipeline(PipelineArgs),
    /// One router on veth in a namespace lab (root): vrouter on AF_XDP and on AF_PACKET vs the
    /// Linux kernel; 64-byte zero-loss rate, CPU per packet and what limits each; full
    /// relocated table.
    Lab(crate::benchlab::LabBenchArgs),
}

#[derive(clap::Args)]
pub struct PipelineArgs {
    /// Route table (default: the shipped RouteViews IPv4 table).
    #[arg(long)]
    table: Option<PathBuf>,
    /// Frames to push through the bare pipeline.
    #[arg(long, default_value_t = 50_000_000)]
    frames: u64,
    /// Seconds for each run on memory ports (maximum rate; then 130 kp/s busy and adaptive).
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Adaptive mode's sleep between light polls, in microseconds.
    #[arg(long, default_value_t = 100)]
    adaptive_sleep_us: u64,
    /// Maximum-rate runs on memory ports; the median is reported (the machine is shared).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=99))]
    rounds: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct LpmArgs {
    /// IPv4 table (default: the shipped RouteViews table, 512,621 prefixes).
    #[arg(long)]
    table: Option<PathBuf>,
    /// IPv6 table (default: the shipped RouteViews IPv6 RIB dump, loaded leniently).
    #[arg(long)]
    v6_table: Option<PathBuf>,
    /// Destinations per measurement for vrouter (treebitmap gets a quarter: it is slower).
    #[arg(long, default_value_t = 16 << 20)]
    lookups: usize,
    /// Rounds; each times vrouter and the treebitmap in turn. Medians of the rates and of the
    /// per-round ratios are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Next hops routes are mapped onto.
    #[arg(long, default_value_t = 16)]
    nexthops: u32,
    /// Route updates (inserts + deletes) to apply in the update test.
    #[arg(long, default_value_t = 2_000_000)]
    updates: usize,
    /// Updates per atomically published batch.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Fewer lookups, rounds and updates: a run of a few seconds.
    #[arg(long)]
    quick: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print JSON (top level: ratio_vs_treebitmap, fib_bytes, then details).
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Lpm(mut a) => {
            if a.quick {
                a.lookups = a.lookups.min(2 << 20);
                a.rounds = a.rounds.min(1);
                a.updates = a.updates.min(200_000);
            }
            if a.lookups < 64 || a.rounds == 0 {
                bail!("--lookups must be at least 64 and --rounds at least 1");
            }
            lpm(&a)
        }
        BenchCmd::Pipeline(a) => pipeline(&a),
        BenchCmd::Lab(a) => crate::benchlab::run(&a),
    }
}

/// The CPU clock the kernel reports in /proc/cpuinfo (first core), in GHz: to turn ns into
/// cycles.
pub(crate) fn cpu_ghz() -> Option<f64> {
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

/// 64-byte frames (60 without FCS, stamped UDP) from 198.18.0.2 to `n` routed-random
/// destinations.
fn templates(entries: &[(u32, u8, u32)], n: usize) -> Vec<[u8; 60]> {
    let spec = dataplane::traffic::FrameSpec {
        src_mac: [2, 0, 0, 0, 0, 9],
        dst_mac: [2, 0, 0, 0, 0, 1],
        src_ip: Ipv4Addr::new(198, 18, 0, 2),
        size: 60,
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    destinations(entries, n, true, &mut rng)
        .into_iter()
        .map(|dst| {
            let mut f = [0u8; 60];
            f.copy_from_slice(&spec.template(Ipv4Addr::from(dst)));
            f
        })
        .collect()
}

/// Result of one run on memory ports.
struct PortRun {
    sent: u64,
    received: u64,
    seconds: f64,
    router_cpu: f64,
    ns_per_packet: f64,
    /// Frames per busy poll round (VPP's "vectors per call").
    avg_burst: f64,
    /// One-way latency through the router, measured at the sink.
    latency: Option<dataplane::traffic::LatencySummary>,
}

/// Generator and sink on this thread (core 0), the router on a worker pinned to core 1, memory
/// ports between them. `rate` paces the generator (frames/s); `None` sends as fast as the ring
/// takes them.
fn port_run(
    fib4: &fib::Lpm<u32>,
    templates: &[[u8; 60]],
    mode: dataplane::worker::PollMode,
    rate: Option<f64>,
    seconds: f64,
    sleep_us: u64,
) -> Result<PortRun> {
    use dataplane::pool::Pool;
    use dataplane::port::memory::link;
    use dataplane::port::Port;
    use dataplane::worker::{VirtualRouter, Worker};

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (_w4, r4) = fib::share(fib4.clone());
    let (_w6, r6) = fib::share(fib::Lpm::<u128>::new());
    let (mut gen, r0) = link("gen", 4096);
    let (r1, mut sink) = link("sink", 4096);
    let ports: Vec<Box<dyn Port>> = vec![Box::new(r0), Box::new(r1)];
    let vr = VirtualRouter::new(
        "vr0",
        dataplane::pipeline::Pipeline::lab_default(16),
        ports,
        r4,
        r6,
    );
    let pool = Pool::new(16_384);
    let stop = Arc::new(AtomicBool::new(false));
    let mut worker = Worker::new(
        vec![vr],
        mode,
        (cores > 1).then_some(1),
        &pool,
        Arc::clone(&stop),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    worker.sleep = std::time::Duration::from_micros(sleep_us);
    let wc = Arc::clone(&worker.counters);
    let handle = worker.spawn();
    // The generator and sink get their own thread on core 0, so that this thread's affinity
    // (inherited by later workers) stays whole.
    let templates = templates.to_vec();
    let traffic = std::thread::spawn(move || {
        if cores > 1 {
            core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
        }
        let mut cache = pool.cache();
        let (mut sent, mut received) = (0u64, 0u64);
        let mut out = Vec::with_capacity(BURST_TX);
        let mut rx = Vec::with_capacity(64);
        let mut t_idx = 0;
        let start = Instant::now();
        let end_ns = (seconds * 1e9) as u64;
        let mut meter = dataplane::traffic::Sink::new();
        let mut sink_drain = |rx: &mut Vec<dataplane::pipeline::PacketBuf>,
                              cache: &mut dataplane::pool::PoolCache| {
            rx.clear();
            sink.rx_burst(rx, 64);
            let n = rx.len() as u64;
            let now = start.elapsed().as_nanos() as u64;
            for b in rx.drain(..) {
                meter.record(b.bytes(), now);
                cache.put(b);
            }
            n
        };
        let mut pacer = rate.map(dataplane::traffic::Pacer::new);
        loop {
            // One clock read per round: the deadline, the pacer and the stamps all use it.
            let now_ns = start.elapsed().as_nanos() as u64;
            if now_ns >= end_ns {
                break;
            }
            let room = BURST_TX - out.len();
            let want = pacer
                .as_mut()
                .map_or(room as u64, |p| p.due(now_ns).min(room as u64));
            let mut built = 0;
            while built < want {
                let Some(mut b) = cache.get() else { break };
                let mut f = templates[t_idx];
                let seq = (sent + out.len() as u64) as u32;
                dataplane::traffic::stamp(
                    &mut f,
                    dataplane::traffic::Stamp {
                        flow: 0,
                        seq,
                        sent_ns: now_ns,
                    },
                );
                b.set(&f);
                t_idx = (t_idx + 1) % templates.len();
                out.push(b);
                built += 1;
            }
            if let Some(p) = pacer.as_mut() {
                p.sent(built);
            }
            if !out.is_empty() {
                sent += gen.tx_burst(&mut out) as u64;
            }
            received += sink_drain(&mut rx, &mut cache);
        }
        // Let the router drain what is in flight.
        let drain_until = Instant::now() + std::time::Duration::from_millis(50);
        while Instant::now() < drain_until {
            received += sink_drain(&mut rx, &mut cache);
        }
        for b in out.drain(..) {
            cache.put(b);
        }
        let latency = meter.report().latency_ns;
        (sent, received, end_ns as f64 / 1e9, latency)
    });
    let (sent, received, secs, latency) = traffic
        .join()
        .map_err(|_| anyhow::anyhow!("traffic thread failed"))?;
    stop.store(true, Ordering::Relaxed);
    let _ = handle.join();
    if cores > 1 && !wc.pinned.load(Ordering::Relaxed) {
        eprintln!("warning: the router worker could not be pinned to core 1; figures are for a shared core");
    }
    let packets = wc.packets.load(Ordering::Relaxed).max(1);
    Ok(PortRun {
        sent,
        received,
        seconds: secs,
        router_cpu: wc.cpu_ns.load(Ordering::Relaxed) as f64
            / (wc.wall_ns.load(Ordering::Relaxed).max(1) as f64),
        ns_per_packet: wc.busy_ns.load(Ordering::Relaxed) as f64 / packets as f64,
        avg_burst: packets as f64 / wc.busy_polls.load(Ordering::Relaxed).max(1) as f64,
        latency,
    })
}

const BURST_TX: usize = 32;

fn pipeline(a: &PipelineArgs) -> Result<()> {
    use dataplane::pipeline::{PacketBuf, Pipeline, Verdict, BURST};
    use dataplane::worker::PollMode;

    let path = a.table.clone().unwrap_or_else(crate::default_table);
    let (set, _) = load(&path, false)?;
    let (fib4, fib6) = set.tables(16)?;
    let entries = set.v4_entries(16);
    if entries.is_empty() {
        bail!("{}: no IPv4 routes", path.display());
    }
    let mut router = Pipeline::lab_default(16);
    // 65,536 distinct destinations spread over the table (about 4 MiB of frames), so that the
    // FIB is exercised well beyond what stays hot in L1/L2.
    let templates = templates(&entries, 1 << 16);
    let mut bufs: Vec<PacketBuf> = (0..BURST).map(|_| PacketBuf::default()).collect();
    let mut verdicts = [Verdict::Forward { port: 0 }; BURST];
    let bursts = a.frames.div_ceil(BURST as u64);
    let mut t_idx = 0usize;
    let start = Instant::now();
    for _ in 0..bursts {
        for b in bufs.iter_mut() {
            b.set(&templates[t_idx]);
            t_idx = (t_idx + 1) % templates.len();
        }
        router.process(&fib4, &fib6, 0, 0, &mut bufs, &mut verdicts);
    }
    let secs = start.elapsed().as_secs_f64();
    let n = bursts * BURST as u64;
    let mpps = n as f64 / secs / 1e6;
    let ns = secs * 1e9 / n as f64;
    let ghz = cpu_ghz();
    let s = &router.stats;
    if s.forwarded + s.dropped() + s.answered != n {
        bail!(
            "accounting mismatch: {n} frames, {} forwarded, {} dropped",
            s.forwarded,
            s.dropped()
        );
    }
    let us = a.adaptive_sleep_us;
    let mut maxes = (0..a.rounds)
        .map(|_| port_run(&fib4, &templates, PollMode::Busy, None, a.seconds, us))
        .collect::<Result<Vec<_>>>()?;
    let rate = |r: &PortRun| r.received as f64 / r.seconds;
    maxes.sort_by(|x, y| rate(x).total_cmp(&rate(y)));
    let max_runs: Vec<f64> = maxes.iter().map(|r| rate(r) / 1e6).collect();
    let max = maxes.swap_remove(maxes.len() / 2);
    let busy = port_run(
        &fib4,
        &templates,
        PollMode::Busy,
        Some(130_000.0),
        a.seconds,
        us,
    )?;
    let adaptive = port_run(
        &fib4,
        &templates,
        PollMode::Adaptive,
        Some(130_000.0),
        a.seconds,
        us,
    )?;
    let loss = |r: &PortRun| 1.0 - r.received as f64 / r.sent.max(1) as f64;
    let run_json = |r: &PortRun| {
        json!({
            "sent": r.sent, "received": r.received, "seconds": r.seconds,
            "mpps": rate(r) / 1e6, "loss": loss(r),
            "router_cpu_fraction": r.router_cpu, "ns_per_packet": r.ns_per_packet,
            "avg_burst": r.avg_burst,
            "latency_ns": r.latency.map(|l| json!({"min": l.min, "p50": l.p50, "p99": l.p99, "p999": l.p999, "max": l.max})),
        })
    };
    if a.json {
        let v = json!({
            "frames": n, "seconds": secs, "mpps": mpps, "ns_per_packet": ns,
            "cycles_per_packet": ghz.map(|g| ns * g), "cpu_ghz": ghz,
            "forwarded": s.forwarded, "dropped": s.dropped(), "routes": fib4.len(),
            "memory_ports": {
                "max_rate": run_json(&max),
                "max_rate_runs_mpps": max_runs,
                "max_rate_cycles_per_packet": ghz.map(|g| max.ns_per_packet * g),
                "rx_budget": dataplane::worker::RX_BUDGET,
                "offered_130kpps_busy": run_json(&busy),
                "offered_130kpps_adaptive": run_json(&adaptive),
                "adaptive_sleep_us": us,
            },
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "pipeline only, 1 core, {} routes, 64-byte frames: {:.2} Mpps ({:.1} ns/packet{})",
            fib4.len(),
            mpps,
            ns,
            ghz.map_or(String::new(), |g| format!(
                ", ~{:.0} cycles at {:.2} GHz",
                ns * g,
                g
            )),
        );
        println!(
            "memory ports, router on one core: {:.2} Mpps forwarded, median of {} runs ({}) ({:.1} ns/packet in the router{}, {:.1} frames per poll, {:.0}% of its core)",
            rate(&max) / 1e6,
            max_runs.len(),
            max_runs
                .iter()
                .map(|m| format!("{m:.2}"))
                .collect::<Vec<_>>()
                .join(" "),
            max.ns_per_packet,
            ghz.map_or(String::new(), |g| format!(
                ", ~{:.0} cycles",
                max.ns_per_packet * g
            )),
            max.avg_burst,
            100.0 * max.router_cpu
        );
        for (name, r) in [("busy", &busy), ("adaptive", &adaptive)] {
            let lat = r.latency.map_or(String::new(), |l| {
                format!(
                    ", latency p50 {:.1} µs, p99 {:.1} µs",
                    l.p50 as f64 / 1e3,
                    l.p99 as f64 / 1e3
                )
            });
            println!(
                "130 kp/s offered, {name:<8}: {:.1} kp/s forwarded, loss {:.4}%, router CPU {:.1}% of a core{lat}",
                rate(r) / 1e3,
                100.0 * loss(r),
                100.0 * r.router_cpu
            );
        }
    }
    Ok(())
}

/// One measured row.
struct Row {
    family: &'static str,
    table: String,
    routes: usize,
    dist: &'static str,
    batch: f64,
    single: f64,
    treebitmap: f64,
    /// Batched rate of the same table compiled as a poptrie (the layout IPv6 used before the
    /// range trees; IPv4's multibit trie measured 1.6x it), for the side-by-side choice.
    poptrie: f64,
    /// Medians of each round's ratio (not ratios of the medians).
    ratio_batch: f64,
    ratio_single: f64,
    fib_bytes: usize,
    mismatches: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Millions of operations per second of one call of `f`, which performs `n` operations.
fn rate(n: usize, f: impl FnOnce() -> u64) -> f64 {
    let t = Instant::now();
    black_box(f());
    n as f64 / t.elapsed().as_secs_f64() / 1e6
}

/// Address families under test, with the treebitmap address type.
trait Family: Key {
    type Tb: ip_network_table_deps_treebitmap::address::Address;
    fn tb(self) -> Self::Tb;
    fn uniform(rng: &mut impl Rng) -> Self;
    fn within(key: Self, len: u8, rng: &mut impl Rng) -> Self;
}

impl Family for u32 {
    type Tb = Ipv4Addr;
    fn tb(self) -> Ipv4Addr {
        Ipv4Addr::from(self)
    }
    fn uniform(rng: &mut impl Rng) -> Self {
        rng.gen()
    }
    fn within(key: u32, len: u8, rng: &mut impl Rng) -> u32 {
        let host = if len >= 32 {
            0
        } else {
            rng.gen::<u32>() >> len
        };
        key | host
    }
}

impl Family for u128 {
    type Tb = Ipv6Addr;
    fn tb(self) -> Ipv6Addr {
        Ipv6Addr::from(self)
    }
    fn uniform(rng: &mut impl Rng) -> Self {
        // Uniform over 2000::/3, where the routes are.
        rng.gen::<u128>() >> 3 | 1u128 << 125
    }
    fn within(key: u128, len: u8, rng: &mut impl Rng) -> u128 {
        let host = if len >= 128 {
            0
        } else {
            rng.gen::<u128>() >> len
        };
        key | host
    }
}

/// Destinations: `routed` picks a route at random and an address inside it; `uniform` draws
/// from the whole (unicast) space.
fn destinations<K: Family>(
    entries: &[(K, u8, u32)],
    n: usize,
    routed: bool,
    rng: &mut impl Rng,
) -> Vec<K> {
    (0..n)
        .map(|_| {
            if routed && !entries.is_empty() {
                let (k, l, _) = entries[rng.gen_range(0..entries.len())];
                K::within(k, l, rng)
            } else {
                K::uniform(rng)
            }
        })
        .collect()
}

/// Kept out of line so that each measured loop is compiled on its own, as a forwarding loop
/// would be, rather than folded into the harness around it.
///
/// Bursts of [`fib::BATCH`] destinations, each answered into one burst-sized buffer, as the
/// forwarding loop does: one call over all 16M destinations would also stream a 64 MB output
/// array through the caches, which no router does and which costs more than the lookups of a
/// cached table. The sum of the answers keeps every lookup live.
#[inline(never)]
fn run_batch<K: Key, A: Arena<K>>(fib: &Lpm<K, A>, addrs: &[K]) -> u64 {
    let mut out = [0u32; fib::BATCH];
    let mut sum = 0u64;
    for burst in addrs.chunks(fib::BATCH) {
        let out = &mut out[..burst.len()];
        fib.lookup_batch(burst, out);
        sum = out.iter().fold(sum, |s, &nh| s.wrapping_add(u64::from(nh)));
    }
    sum
}

#[inline(never)]
fn run_single<K: Key>(fib: &Lpm<K>, addrs: &[K]) -> u64 {
    addrs.iter().fold(0u64, |s, &x| {
        s.wrapping_add(u64::from(fib.lookup(x).unwrap_or(NO_ROUTE)))
    })
}

#[inline(never)]
fn run_treebitmap<A: ip_network_table_deps_treebitmap::address::Address>(
    tb: &IpLookupTable<A, u32>,
    addrs: &[A],
) -> u64 {
    addrs.iter().fold(0u64, |s, &x| {
        s.wrapping_add(u64::from(
            tb.longest_match(x).map_or(NO_ROUTE, |(_, _, &v)| v),
        ))
    })
}

fn measure<K: Family>(
    family: &'static str,
    table: &str,
    entries: &[(K, u8, u32)],
    a: &LpmArgs,
    rng: &mut impl Rng,
) -> Result<Vec<Row>> {
    let fib = Lpm::<K>::from_routes(entries.to_vec())?;
    let pop = Lpm::<K, Poptrie>::from_routes(entries.to_vec())?;
    let mut tb = IpLookupTable::<K::Tb, u32>::new();
    for &(k, l, nh) in entries {
        tb.insert(k.mask(l).tb(), u32::from(l), nh);
    }
    let mut rows = Vec::new();
    for (dist, routed) in [("routed", true), ("uniform", false)] {
        let addrs = destinations(entries, a.lookups, routed, rng);
        // The treebitmap is about ten times slower: a quarter of the destinations is plenty.
        let tb_addrs: Vec<K::Tb> = addrs[..addrs.len() / 4].iter().map(|&x| x.tb()).collect();
        // Rounds that time all three in turn: a shared machine's load drifts over seconds, and
        // a ratio of runs seconds apart would carry that drift. Each round's ratio is taken
        // from that round; the medians are reported. Each table is warmed by an untimed pass
        // right before it is timed, since the other one's run has just evicted it from the
        // caches. (The first warm-up also absorbs the treebitmap's build, hundreds of thousands
        // of small allocations, which slows whatever runs right after it.)
        let mut rounds = Vec::with_capacity(a.rounds);
        for _ in 0..a.rounds {
            black_box(run_batch(&fib, &addrs));
            let batch = rate(addrs.len(), || run_batch(&fib, &addrs));
            let single = rate(addrs.len(), || run_single(&fib, &addrs));
            black_box(run_batch(&pop, &addrs));
            let poptrie = rate(addrs.len(), || run_batch(&pop, &addrs));
            black_box(run_treebitmap(&tb, &tb_addrs[..tb_addrs.len() / 4]));
            let treebitmap = rate(tb_addrs.len(), || run_treebitmap(&tb, &tb_addrs));
            rounds.push([
                batch,
                single,
                treebitmap,
                batch / treebitmap,
                single / treebitmap,
                poptrie,
            ]);
        }
        let med = |i: usize| median(rounds.iter().map(|r| r[i]).collect());
        // Cross-check: both implementations must agree on every destination measured.
        let mut out = vec![0u32; tb_addrs.len()];
        fib.lookup_batch(&addrs[..tb_addrs.len()], &mut out);
        let mismatches = tb_addrs
            .iter()
            .zip(&out)
            .filter(|(t, &o)| tb.longest_match(**t).map_or(NO_ROUTE, |(_, _, &v)| v) != o)
            .count();
        rows.push(Row {
            family,
            table: table.to_string(),
            routes: fib.len(),
            dist,
            batch: med(0),
            single: med(1),
            treebitmap: med(2),
            ratio_batch: med(3),
            ratio_single: med(4),
            poptrie: med(5),
            fib_bytes: fib.memory().lookup,
            mismatches,
        });
    }
    Ok(rows)
}

fn sample<K: Copy>(entries: &[K], n: usize, rng: &mut impl Rng) -> Vec<K> {
    if n >= entries.len() {
        return entries.to_vec();
    }
    let mut v = entries.to_vec();
    v.shuffle(rng);
    v.truncate(n);
    v
}

fn load(path: &std::path::Path, lenient: bool) -> Result<(RouteSet, f64)> {
    let t = Instant::now();
    let set = crate::progress::load(
        path,
        &LoadOptions {
            lenient,
            ..LoadOptions::default()
        },
    )?;
    Ok((set, t.elapsed().as_secs_f64()))
}

/// Route updates while another thread looks up: `a.updates` inserts and deletes in batches of
/// `a.batch`, each batch published atomically.
fn updates(
    entries: &[(u32, u8, u32)],
    a: &LpmArgs,
    rng: &mut impl Rng,
) -> Result<serde_json::Value> {
    let (mut writer, reader) = fib::share(Lpm::<u32>::from_routes(entries.to_vec())?);
    let addrs = destinations(entries, 1 << 16, true, rng);
    let stop = Arc::new(AtomicBool::new(false));
    let looked = Arc::new(AtomicU64::new(0));
    let (s2, l2) = (Arc::clone(&stop), Arc::clone(&looked));
    let lookups = std::thread::spawn(move || {
        let mut out = vec![0u32; addrs.len()];
        while !s2.load(Ordering::Relaxed) {
            for chunk in addrs.chunks(fib::BATCH * 8) {
                let t = reader.load();
                t.lookup_batch(chunk, &mut out[..chunk.len()]);
            }
            l2.fetch_add(addrs.len() as u64, Ordering::Relaxed);
        }
        black_box(out);
    });
    // Each batch removes half its routes from the table and re-inserts the half removed by
    // the batch before, with new next hops: the table keeps its size.
    let half = (a.batch / 2).max(1);
    let mut removed: Vec<(u32, u8)> = Vec::new();
    let mut done = 0usize;
    let mut batch = Vec::with_capacity(a.batch);
    let t = Instant::now();
    let l0 = looked.load(Ordering::Relaxed);
    while done < a.updates {
        batch.clear();
        for (k, l) in removed.drain(..) {
            batch.push(Update::Insert {
                key: k,
                len: l,
                nh: rng.gen_range(0..a.nexthops),
            });
        }
        for _ in 0..half {
            let (k, l, _) = entries[rng.gen_range(0..entries.len())];
            removed.push((k, l));
            batch.push(Update::Remove { key: k, len: l });
        }
        writer.apply(&batch)?;
        done += batch.len();
    }
    let secs = t.elapsed().as_secs_f64();
    let lookups_done = looked.load(Ordering::Relaxed) - l0;
    stop.store(true, Ordering::Relaxed);
    let _ = lookups.join();
    Ok(json!({
        "updates": done,
        "batch": a.batch,
        "seconds": secs,
        "updates_per_second": done as f64 / secs,
        "concurrent_lookups_per_second": lookups_done as f64 / secs,
    }))
}

fn lpm(a: &LpmArgs) -> Result<()> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(a.seed);
    let v4_path = a.table.clone().unwrap_or_else(crate::default_table);
    let (set4, load_s) = load(&v4_path, false)?;
    let v4 = set4.v4_entries(a.nexthops);
    if v4.is_empty() {
        bail!("{}: no IPv4 routes to benchmark", v4_path.display());
    }
    let t = Instant::now();
    let full = Lpm::<u32>::from_routes(v4.clone())?;
    let build_s = t.elapsed().as_secs_f64();
    let fib_bytes = full.memory().lookup;
    drop(full);

    // Snapshot reload: decode a snapshot written by `routes convert` and build the table.
    let snap = std::env::temp_dir().join(format!("vrouter-bench-{}.snap", std::process::id()));
    std::fs::write(&snap, source::snapshot::encode(&set4, a.nexthops))?;
    let t = Instant::now();
    let bytes = std::fs::read(&snap)?;
    let (s4, _) = source::snapshot::decode_entries(&bytes).map_err(|b| b.in_file(&snap))?;
    let reloaded = Lpm::<u32>::from_routes(s4)?;
    let reload_s = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&snap);
    black_box(reloaded.len());

    let name4 = v4_path
        .file_name()
        .map_or("table".into(), |n| n.to_string_lossy().to_string());
    let mut rows = Vec::new();
    let pb = crate::progress::steps(7, "bench lpm");
    for size in [1_000usize, 10_000, 100_000] {
        if size < v4.len() {
            let sub = sample(&v4, size, &mut rng);
            rows.extend(measure(
                "ipv4",
                &format!("{name4} sample {size}"),
                &sub,
                a,
                &mut rng,
            )?);
        }
        pb.inc(1);
    }
    rows.extend(measure("ipv4", &name4, &v4, a, &mut rng)?);
    pb.inc(1);

    let v6_path = a
        .v6_table
        .clone()
        .unwrap_or_else(|| crate::data_file("routeviews-rib6-2015-11-01.first1MB.mrt.bz2"));
    let (set6, _) = load(&v6_path, true)?;
    let v6 = set6.v6_entries(a.nexthops);
    let name6 = v6_path
        .file_name()
        .map_or("table".into(), |n| n.to_string_lossy().to_string());
    if !v6.is_empty() {
        rows.extend(measure("ipv6", &name6, &v6, a, &mut rng)?);
    }
    pb.inc(1);
    let syn6 = source::synth::ipv6(200_000, a.seed).v6_entries(a.nexthops);
    rows.extend(measure("ipv6", "synthetic 200k", &syn6, a, &mut rng)?);
    pb.inc(1);
    let upd = updates(&v4, a, &mut rng)?;
    pb.inc(1);
    pb.finish_and_clear();

    if let Some(bad) = rows.iter().find(|r| r.mismatches > 0) {
        bail!(
            "vrouter and treebitmap disagree on {} of the {} {} destinations ({} table)",
            bad.mismatches,
            a.lookups / 4,
            bad.dist,
            bad.table
        );
    }
    let headline = rows
        .iter()
        .find(|r| r.family == "ipv4" && r.table == name4 && r.dist == "routed")
        .map_or(0.0, |r| r.ratio_batch);

    if a.json {
        let details: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "family": r.family, "table": r.table, "routes": r.routes, "destinations": r.dist,
                    "vrouter_batch_mlps": r.batch, "vrouter_single_mlps": r.single,
                    "treebitmap_mlps": r.treebitmap, "poptrie_batch_mlps": r.poptrie,
                    "ratio_batch": r.ratio_batch, "ratio_single": r.ratio_single,
                    "fib_bytes": r.fib_bytes,
                })
            })
            .collect();
        let out = json!({
            "ratio_vs_treebitmap": headline,
            "fib_bytes": fib_bytes,
            "ipv4_table": v4_path.display().to_string(),
            "ipv4_routes": v4.len(),
            "load_seconds": load_s,
            "build_seconds": build_s,
            "snapshot_reload_seconds": reload_s,
            "lookups_per_measurement": a.lookups,
            "rounds": a.rounds,
            "results": details,
            "updates": upd,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let mib = |b: usize| b as f64 / 1048576.0;
    println!(
        "IPv4 table {} ({} routes): FIB {:.2} MiB; load {:.3} s, build {:.3} s, snapshot reload {:.3} s",
        v4_path.display(),
        v4.len(),
        mib(fib_bytes),
        load_s,
        build_s,
        reload_s
    );
    println!(
        "{:<5} {:<48} {:>8} {:<8} {:>11} {:>11} {:>11} {:>9} {:>7} {:>7} {:>9}",
        "fam",
        "table",
        "routes",
        "dests",
        "batch Ml/s",
        "single Ml/s",
        "tbitmap",
        "poptrie",
        "x batch",
        "x single",
        "FIB MiB"
    );
    for r in &rows {
        println!(
            "{:<5} {:<48} {:>8} {:<8} {:>11.1} {:>11.1} {:>11.2} {:>9.1} {:>7.1} {:>7.1} {:>9.2}",
            r.family,
            r.table,
            r.routes,
            r.dist,
            r.batch,
            r.single,
            r.treebitmap,
            r.poptrie,
            r.ratio_batch,
            r.ratio_single,
            mib(r.fib_bytes)
        );
    }
    println!(
        "updates: {} in batches of {} at {:.2} M/s, with {:.1} M lookups/s concurrently",
        upd["updates"],
        upd["batch"],
        upd["updates_per_second"].as_f64().unwrap_or(0.0) / 1e6,
        upd["concurrent_lookups_per_second"].as_f64().unwrap_or(0.0) / 1e6
    );
    println!("ratio_vs_treebitmap (IPv4, full table, routed, batched): {headline:.1}x");
    Ok(())
}
