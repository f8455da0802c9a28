//! `vrouter bench lab`: one router on veth in a namespace lab (`labbed`), fed by vrouter's own
//! generator and measured by its sink, for vrouter on AF_XDP and on AF_PACKET and for the Linux
//! kernel's forwarding, side by side in one run, with the full table relocated into 240.0.0.0/4: the unpaced maximum, the RFC 2544 zero-loss rate (binary
//! search) of 64-byte frames, and the CPU spent per forwarded packet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Result};
use serde_json::json;

use crate::lab::{self, RouterKind};
use crate::labbed::{LabBed, LabOptions};
use crate::testbed::{self, Load, RouterSetup};

#[derive(clap::Args)]
pub struct LabBenchArgs {
    /// Route table, relocated into 240.0.0.0/4 (default: the shipped RouteViews table).
    #[arg(long)]
    table: Option<PathBuf>,
    /// What to measure, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["vrouter-afxdp", "vrouter-afpacket", "kernel"])]
    routers: Vec<Subject>,
    /// vrouter's polling mode.
    #[arg(long, default_value = "busy")]
    mode: String,
    /// Seconds per trial (the search runs `--steps` of them).
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Bisection steps of the zero-loss search.
    #[arg(long, default_value_t = 7)]
    steps: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A router under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Subject {
    VrouterAfxdp,
    VrouterAfpacket,
    Kernel,
}

impl Subject {
    fn kind(self) -> RouterKind {
        match self {
            Subject::Kernel => RouterKind::Kernel,
            _ => RouterKind::Vrouter,
        }
    }
    fn io(self) -> lab::PortIo {
        match self {
            Subject::VrouterAfxdp => lab::PortIo::Afxdp,
            _ => lab::PortIo::Afpacket,
        }
    }
    fn tag(self) -> &'static str {
        match self {
            Subject::VrouterAfxdp => "x",
            Subject::VrouterAfpacket => "p",
            Subject::Kernel => "k",
        }
    }
}

/// Busy time of all CPUs (user, nice, system, irq, softirq), in ns, from /proc/stat.
fn system_busy_ns() -> u64 {
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

struct Row {
    kind: Subject,
    max_pps: f64,
    max_offered_pps: f64,
    max_loss: f64,
    zero_loss_pps: f64,
    cpu_ns_per_packet: f64,
    cores: f64,
    gen_cores: f64,
}

fn measure(a: &LabBenchArgs, subject: Subject, table: &Path) -> Result<Row> {
    let set = crate::routes::load_set(
        table,
        &crate::routes::LoadArgs {
            lenient: false,
            peer: fib::source::PeerChoice::Best,
            nexthops: 16,
        },
    )?;
    let router = RouterSetup::new(&set.v4_entries(16), 65_536, 1)?;
    let mut bed = LabBed::up(
        &LabOptions {
            name: format!("bl{}{}", subject.tag(), std::process::id() % 10_000),
            kind: subject.kind(),
            io: subject.io(),
            mode: a.mode.clone(),
            // The router on core 1, the generator and sink on core 0 (when there are two).
            core: (std::thread::available_parallelism().map_or(1, |n| n.get()) > 1).then_some(1),
            frame: testbed::FrameSize::Fixed(60),
        },
        &[router],
    )?;
    let mut trial = |rate: Option<f64>| {
        bed.trial(&Load {
            rate_per_router: rate,
            frame: testbed::FrameSize::Fixed(60),
            seconds: a.seconds,
        })
    };
    // The unpaced run: rate, and all CPU time (generator, router, sink, and the kernel's work
    // for each): on veth the kernel forwards inside the sender's system call, so no finer
    // split is fair.
    let b0 = system_busy_ns();
    let max = trial(None)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no result"))?;
    let all_cpu = system_busy_ns().saturating_sub(b0) as f64;
    let gen_cpu = bed.gen_cpu_ns as f64;
    let (zero, _) = testbed::search(
        &mut |rate| {
            bed.trial(&Load {
                rate_per_router: rate,
                frame: testbed::FrameSize::Fixed(60),
                seconds: a.seconds,
            })
        },
        a.steps,
        0.0,
    )?;
    Ok(Row {
        kind: subject,
        max_pps: max.forwarded_pps,
        max_offered_pps: max.offered_pps,
        max_loss: max.loss(),
        zero_loss_pps: zero,
        cpu_ns_per_packet: all_cpu / max.received.max(1) as f64,
        cores: all_cpu / 1e9 / a.seconds,
        gen_cores: gen_cpu / 1e9 / a.seconds,
    })
}

pub fn run(a: &LabBenchArgs) -> Result<()> {
    let table = a.table.clone().unwrap_or_else(crate::default_table);
    let mut rows = Vec::new();
    for &k in &a.routers {
        eprintln!("bench lab: {k:?} ...");
        rows.push(measure(a, k, &table)?);
        std::thread::sleep(Duration::from_millis(200));
    }
    let name = |k: Subject| match k {
        Subject::VrouterAfxdp => format!("vrouter-afxdp ({})", a.mode),
        Subject::VrouterAfpacket => format!("vrouter-afpacket ({})", a.mode),
        Subject::Kernel => "linux kernel".to_string(),
    };
    let kernel = rows.iter().find(|r| r.kind == Subject::Kernel);
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
                    "cpu_ns_per_packet": r.cpu_ns_per_packet,
                    "total_cores": r.cores,
                    "generator_cores": r.gen_cores,
                    "ratio_vs_kernel": kernel_pps.map(|k| r.zero_loss_pps / k.max(1.0)),
                    "cpu_ratio_vs_kernel": kernel_cpu.map(|k| r.cpu_ns_per_packet / k),
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
        "CPU: all cores' busy time during the unpaced run (generator, router, sink and the kernel's work for\n\
         them) per forwarded packet; on veth the kernel forwards inside the sender's system call."
    );
    println!(
        "{:<28} {:>12} {:>12} {:>10} {:>14} {:>12} {:>12} {:>10}",
        "router",
        "max kp/s",
        "offered kp/s",
        "loss",
        "0-loss kp/s",
        "CPU ns/pkt",
        "all cores",
        "gen thread"
    );
    for r in &rows {
        println!(
            "{:<28} {:>12.1} {:>12.1} {:>9.2}% {:>14.1} {:>12.0} {:>12.2} {:>10.2}",
            name(r.kind),
            r.max_pps / 1e3,
            r.max_offered_pps / 1e3,
            100.0 * r.max_loss,
            r.zero_loss_pps / 1e3,
            r.cpu_ns_per_packet,
            r.cores,
            r.gen_cores
        );
    }
    if let (Some(k), Some(kc)) = (kernel_pps, kernel_cpu) {
        for r in rows.iter().filter(|r| r.kind != Subject::Kernel) {
            println!(
                "{}: {:.2}x the kernel's zero-loss rate, {:.2}x its CPU per packet",
                name(r.kind),
                r.zero_loss_pps / k.max(1.0),
                r.cpu_ns_per_packet / kc
            );
        }
    }
    Ok(())
}
