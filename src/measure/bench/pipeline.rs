//! `vrouter bench pipeline`: packets/s per core through the bare forwarding pipeline, then
//! through memory ports with the router on its own core (maximum rate, and 130 kp/s in busy
//! and adaptive mode with latency and CPU), on the real table.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use dataplane::wire::ethernet::Mac;
use serde_json::json;

use crate::measure::bed::destinations;
use crate::measure::traffic;

#[derive(clap::Args)]
pub struct PipelineArgs {
    /// Route table (default: the shipped RouteViews IPv4 table).
    #[arg(long)]
    table: Option<PathBuf>,
    /// Frames to push through the bare pipeline.
    #[arg(long, default_value_t = 50_000_000, value_parser = clap::value_parser!(u64).range(1..=2_000_000_000))]
    frames: u64,
    /// Seconds for each run on memory ports (maximum rate; then 130 kp/s busy and adaptive).
    #[arg(long, default_value_t = 2.0, value_parser = crate::cli::num::seconds)]
    seconds: f64,
    /// Adaptive mode's sleep between light polls, in microseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    adaptive_sleep_us: u64,
    /// Maximum-rate runs on memory ports; the median is reported (the machine is shared).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=99))]
    rounds: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// 64-byte frames (60 without FCS, stamped UDP) from 198.18.0.2 to `n` routed-random
/// destinations.
fn templates(entries: &[(u32, u8, u32)], n: usize) -> Vec<[u8; 60]> {
    let spec = traffic::FrameSpec {
        src_mac: Mac([2, 0, 0, 0, 0, 9]),
        dst_mac: Mac([2, 0, 0, 0, 0, 1]),
        src_ip: Ipv4Addr::new(198, 18, 0, 2),
        src_ip6: std::net::Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2),
        size: 60,
    };
    destinations(entries, n, 1)
        .into_iter()
        .map(|dst| {
            let mut f = [0u8; 60];
            f.copy_from_slice(&spec.template(Ipv4Addr::from(dst).into()));
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
    latency: Option<traffic::LatencySummary>,
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
        crate::router::preset::default_router(16),
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
        let mut meter = traffic::Sink::new();
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
        let mut pacer = rate.map(traffic::Pacer::new);
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
                traffic::stamp(
                    &mut f,
                    traffic::Stamp {
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
        tracing::warn!(
            "the router worker could not be pinned to core 1; figures are for a shared core"
        );
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

/// Runs the benchmark.
pub fn run(a: &PipelineArgs) -> Result<()> {
    use dataplane::pipeline::{PacketBuf, Verdict, BURST};
    use dataplane::worker::PollMode;

    let path = a.table.clone().unwrap_or_else(crate::host::default_table);
    let set = crate::progress::load(&path, &fib::source::LoadOptions::default())?;
    let (fib4, fib6) = set.tables(16)?;
    let entries = set.v4_entries(16);
    if entries.is_empty() {
        bail!("{}: no IPv4 routes", path.display());
    }
    let mut router = crate::router::preset::default_router(16);
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
    let ghz = crate::host::cpu_ghz();
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
