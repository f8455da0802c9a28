//! `vrouter bench lab`: one router on veth in a namespace lab (a [`TestBed`] from
//! [`open_bed`]), fed by vrouter's own generator and measured by its sink, for vrouter on
//! AF_XDP and on AF_PACKET and for the Linux kernel's forwarding, side by side in one run, with
//! the full table relocated into 240.0.0.0/4: the unpaced maximum, the RFC 2544 zero-loss rate
//! (binary search) of 64-byte frames, and the CPU spent per forwarded packet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde_json::json;

use crate::host::system_busy_ns;
use crate::measure::bed::{BedOptions, Dut, RouterSetup, TestBed};
use crate::measure::generator::{FrameSize, Load, RouterResult};
use crate::measure::open_bed;
use crate::measure::search::search;

#[derive(clap::Args)]
pub struct LabBenchArgs {
    /// Route table, relocated into 240.0.0.0/4 (default: the shipped RouteViews table).
    #[arg(long)]
    table: Option<PathBuf>,
    /// What to measure, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["vrouter-afxdp", "vrouter-afpacket", "kernel"])]
    routers: Vec<Dut>,
    /// vrouter's polling mode (adaptive is what `vrouter run` and the lab use by default).
    #[arg(long, default_value = "adaptive")]
    mode: String,
    /// Seconds per trial (the search runs `--steps` of them).
    #[arg(long, default_value_t = 1.0, value_parser = crate::cli::num::seconds)]
    seconds: f64,
    /// Bisection steps of the zero-loss search.
    #[arg(long, default_value_t = 7, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=30))]
    steps: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    guest: crate::vm::GuestArgs,
}

struct Row {
    kind: Dut,
    max_pps: f64,
    max_offered_pps: f64,
    max_loss: f64,
    zero_loss_pps: f64,
    /// Loss of a second run at the zero-loss rate (how repeatable the search's answer is).
    recheck_loss: f64,
    cpu_ns_per_packet: f64,
    /// CPU per packet at the kernel's zero-loss rate (vrouter rows, when the kernel ran).
    cpu_same_load: Option<f64>,
    cores: f64,
    gen_cores: f64,
    /// Frames the router's ports dropped during the runs (`None`: a kernel router).
    router_drops: Option<u64>,
    /// Frames the sink's receive ring dropped during the runs.
    sink_drops: u64,
}

impl Row {
    /// What held the rate back, judged from where frames were lost.
    fn limit(&self) -> &'static str {
        if self.kind == Dut::Kernel {
            // On veth the kernel forwards (and the sink receives) inside the generator's
            // system call: one core does all of it.
            "generator core (forwarding runs in its send)"
        } else if self.router_drops.unwrap_or(0) > 0 {
            "router (its rings overflowed)"
        } else if self.sink_drops > 0 {
            "sink (its ring overflowed)"
        } else if self.max_loss < 1e-3 && self.gen_cores >= 0.9 {
            "generator (no loss at its top rate)"
        } else if self.max_loss >= 1e-3 && self.kind == Dut::Dpdk {
            // DPDK 22.11's net_af_packet reads no PACKET_STATISTICS: its socket's drops
            // show nowhere.
            "DPDK's af_packet socket or veth (uncounted)"
        } else if self.max_loss >= 1e-3 && self.kind == Dut::DpdkXdp {
            "veth or DPDK's af_xdp socket (lost where nothing counts)"
        } else if self.max_loss >= 1e-3 {
            "veth/kernel (lost where nothing counts)"
        } else {
            "unclear"
        }
    }
}

/// One trial and every core's busy time during it (ns).
fn busy_run(bed: &mut dyn TestBed, load: &Load) -> Result<(RouterResult, f64)> {
    let b0 = system_busy_ns();
    let r = bed
        .trial(load)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no result"))?;
    Ok((r, system_busy_ns().saturating_sub(b0) as f64))
}

/// Measures one router; `same_load`, when given, is a rate (the kernel's zero-loss rate) at
/// which CPU per packet is measured too, so that routers compare at equal load.
fn measure(a: &LabBenchArgs, subject: Dut, table: &Path, same_load: Option<f64>) -> Result<Row> {
    let set = crate::routes::load_set(table, &crate::routes::LoadSpec::new(16))?;
    let router = RouterSetup::new(&set.v4_entries(16), 65_536, 1)?;
    let mode = a.mode.parse().map_err(|e| anyhow!("--mode: {e}"))?;
    let mut bed = open_bed(
        subject,
        &BedOptions {
            name: format!("bl{}{}", subject.tag(), std::process::id() % 10_000),
            mode,
            // The router on core 1, the generator and sink on core 0 (when there are two).
            core: (std::thread::available_parallelism().map_or(1, |n| n.get()) > 1).then_some(1),
            guest: a.guest.spec()?,
            ..BedOptions::new(subject)
        },
        vec![router],
    )?;
    let bed = bed.as_mut();
    let load = |rate: Option<f64>| Load {
        rate_per_router: rate,
        frame: FrameSize::Fixed(60),
        seconds: a.seconds,
        link_bps: None,
    };
    // The unpaced run: the top rate, and whether the generator thread was what held it.
    let d0 = bed.drops();
    let (max, _) = busy_run(bed, &load(None))?;
    let gen_cpu = bed.generator_cpu_ns().unwrap_or(0) as f64;
    let (zero, _) = search(&mut |rate| bed.trial(&load(rate)), a.steps, 0.0)?;
    // CPU per packet at the router's own zero-loss rate: all cores' busy time (generator,
    // router, sink, and the kernel's work for each; on veth the kernel forwards inside the
    // sender's system call, so no finer split is fair) per forwarded packet. Measured at a rate
    // the router sustains, not in the unpaced run, where frames the router later drops would
    // be charged to the ones it forwards.
    let (at_zero, all_cpu) = busy_run(bed, &load(Some(zero.max(1_000.0))))?;
    let cpu_same_load = match same_load.filter(|&r| r > 0.0) {
        Some(rate) => {
            let (r, cpu) = busy_run(bed, &load(Some(rate)))?;
            Some(cpu / r.received.max(1) as f64)
        }
        None => None,
    };
    let (router_drops, sink_drops) = bed.drops().since(&d0);
    Ok(Row {
        kind: subject,
        max_pps: max.forwarded_pps,
        max_offered_pps: max.offered_pps,
        max_loss: max.loss(),
        zero_loss_pps: zero,
        recheck_loss: at_zero.loss(),
        cpu_ns_per_packet: all_cpu / at_zero.received.max(1) as f64,
        cpu_same_load,
        cores: all_cpu / 1e9 / a.seconds,
        gen_cores: gen_cpu / 1e9 / a.seconds,
        router_drops,
        sink_drops,
    })
}

pub fn run(a: &LabBenchArgs) -> Result<()> {
    let table = a.table.clone().unwrap_or_else(crate::host::default_table);
    // The kernel first: its zero-loss rate is the equal load at which vrouter's CPU per packet
    // is measured as well.
    let mut order = a.routers.clone();
    if let Some(m) = order.iter().find(|d| !d.in_lab()) {
        bail!(
            "--routers: {} is not a lab router (use `vrouter bench pipeline`)",
            m.label()
        );
    }
    order.sort_by_key(|&k| k != Dut::Kernel);
    let mut rows = Vec::new();
    let mut kernel_rate = None;
    for k in order {
        tracing::info!("bench lab: {} ...", k.label());
        let row = measure(a, k, &table, kernel_rate)?;
        if k == Dut::Kernel {
            kernel_rate = Some(row.zero_loss_pps);
        }
        rows.push(row);
        std::thread::sleep(Duration::from_millis(200));
    }
    let name = |k: Dut| match k {
        Dut::Kernel => k.label().to_string(),
        _ => format!("{} ({})", k.label(), a.mode),
    };
    let kernel = rows.iter().find(|r| r.kind == Dut::Kernel);
    let kernel_pps = kernel.map(|r| r.zero_loss_pps);
    let kernel_cpu = kernel.map(|r| r.cpu_ns_per_packet);
    if a.json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "router": name(r.kind),
                    "max_forwarded_pps": r.max_pps,
                    "max_offered_pps": r.max_offered_pps,
                    "loss_at_max": r.max_loss,
                    "zero_loss_pps": r.zero_loss_pps,
                    "recheck_loss": r.recheck_loss,
                    "cpu_ns_per_packet": r.cpu_ns_per_packet,
                    "total_cores": r.cores,
                    "generator_cores": r.gen_cores,
                    "router_drops": r.router_drops,
                    "sink_drops": r.sink_drops,
                    "limit": r.limit(),
                    "ratio_vs_kernel": kernel_pps.map(|k| r.zero_loss_pps / k.max(1.0)),
                    "cpu_ratio_vs_kernel": kernel_cpu.map(|k| r.cpu_ns_per_packet / k),
                    "cpu_ns_per_packet_at_kernel_rate": r.cpu_same_load,
                    "cpu_ratio_vs_kernel_at_kernel_rate":
                        kernel_cpu.zip(r.cpu_same_load).map(|(k, c)| c / k),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"frame_bytes": 64, "table": table, "results": v})
            )?
        );
        return Ok(());
    }
    println!(
        "one router on veth, 64-byte frames, {} relocated into 240/4; generator on AF_XDP, sink on AF_PACKET",
        table.display()
    );
    println!(
        "max: the unpaced run (gen thread: cores the generator used in it). CPU: all cores' busy time\n\
         (generator, router, sink and the kernel's work for them) per forwarded packet, in a second\n\
         run at the zero-loss rate (its loss: recheck); on veth the kernel forwards inside the\n\
         sender's system call."
    );
    println!(
        "{:<28} {:>9} {:>9} {:>7} {:>11} {:>8} {:>10} {:>9} {:>10}  limit (drops: router, sink)",
        "router",
        "max kp/s",
        "offered",
        "loss",
        "0-loss kp/s",
        "recheck",
        "CPU ns/pkt",
        "cores",
        "gen thread"
    );
    for r in &rows {
        println!(
            "{:<28} {:>9.1} {:>9.1} {:>6.2}% {:>11.1} {:>7.3}% {:>10.0} {:>9.2} {:>10.2}  {} ({}, {})",
            name(r.kind),
            r.max_pps / 1e3,
            r.max_offered_pps / 1e3,
            100.0 * r.max_loss,
            r.zero_loss_pps / 1e3,
            100.0 * r.recheck_loss,
            r.cpu_ns_per_packet,
            r.cores,
            r.gen_cores,
            r.limit(),
            r.router_drops.map_or("-".to_string(), |d| d.to_string()),
            r.sink_drops
        );
    }
    if let (Some(k), Some(kc)) = (kernel_pps, kernel_cpu) {
        for r in rows.iter().filter(|r| r.kind != Dut::Kernel) {
            println!(
                "{}: {:.2}x the kernel's zero-loss rate; CPU per packet {:.2}x the kernel's at \
                 each one's zero-loss rate, {} at the kernel's rate",
                name(r.kind),
                r.zero_loss_pps / k.max(1.0),
                r.cpu_ns_per_packet / kc,
                r.cpu_same_load
                    .map_or("-".to_string(), |c| format!("{:.2}x", c / kc))
            );
        }
    }
    Ok(())
}
