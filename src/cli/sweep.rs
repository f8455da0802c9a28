//! `vrouter sweep`: the flags, checked and turned into [`Params`]; the experiments are
//! [`crate::measure::sweep`].

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::dut::Dut;
use crate::measure::bed::Placement;
use crate::measure::generator::FrameSize;
use crate::measure::sweep::{self, Experiment, Params, RatePer, Row};

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// Experiments to run, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    experiments: Vec<Experiment>,
    /// Packet I/O between generator, routers and sink.
    #[arg(long, value_enum, default_value_t = Dut::Memory)]
    backend: Dut,
    /// Trials per point.
    #[arg(long)]
    trials: Option<usize>,
    /// Seconds of traffic per trial.
    #[arg(long)]
    seconds: Option<f64>,
    /// Frames per second offered to each router (the paper: 130 kp/s), or in total with
    /// `--rate-per total` (default 130000; guests: 10000 per router, and in total what one
    /// guest carries without loss, measured first).
    #[arg(long)]
    rate: Option<f64>,
    /// How the routers experiment reads the rate: each router offered --rate, or --rate shared
    /// by the routers (the paper's 130 kp/s for 1..4 routers reads either way), or both side by
    /// side (default: router; guests: both).
    #[arg(long, value_enum)]
    rate_per: Option<RatePer>,
    /// Frame size in bytes, FCS included (64..=1518), or `imix` (64/594/1518 bytes, 7:4:1),
    /// for all but the fairness experiment (which always sends 1518-byte frames: 1472-byte UDP
    /// payloads).
    #[arg(long, default_value = "64")]
    frame: FrameSize,
    /// Most routers at once in routers, fairness and modes.
    #[arg(long, default_value_t = 4)]
    max_routers: usize,
    /// Worker placement for every experiment but modes (which compares all three).
    #[arg(long, default_value_t = Placement::Adaptive)]
    mode: Placement,
    /// Routes in each router's table in routers, fairness and modes (seeded synthetic
    /// BGP-like tables, a different seed per router; default 100000, guests 10000: a kernel
    /// guest loads 100k routes in ~15 s under TCG).
    #[arg(long)]
    routes: Option<usize>,
    /// The full table for table-size and rfc2544 (default: the shipped RouteViews table).
    #[arg(long)]
    table: Option<PathBuf>,
    /// Frames each link holds per direction (a NIC or virtio ring). 4096 rides out a shared
    /// VM's stalls at the paper's rates (31 ms at 130 kp/s) but holds 1.4 ms at 3 Mp/s, less
    /// than the 4-7 ms preemptions of a non-isolated core (32768 rides them out there); try
    /// 256 or 1024 to see stalls as loss at 130 kp/s.
    #[arg(long, default_value_t = 4096)]
    ring: usize,
    /// Adaptive workers' sleep between light polls, in microseconds.
    #[arg(long, default_value_t = 100)]
    sleep_us: u64,
    /// The fairness experiment's shared link (1G, 100M, 10G, ... bits/s on the wire, or
    /// none): every router's output crosses it, as the paper's guests shared one gigabit NIC;
    /// the uncapped run is kept beside it.
    #[arg(long, default_value = "1G")]
    link_rate: String,
    /// Loss accepted by the tolerant RFC 2544 search, in percent.
    #[arg(long, default_value_t = 0.1)]
    loss_tolerance: f64,
    /// A run under a minute (guests: a few minutes): 2 trials of 0.2 s (guests 1 s), shorter
    /// searches.
    #[arg(long)]
    quick: bool,
    /// Where results go (a new `<UTC timestamp>` folder inside).
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Print the summary as JSON on stdout (results are written to --out either way).
    #[arg(long)]
    json: bool,
    /// Seconds per trial of the RFC 2544 binary search (its answer is then confirmed with
    /// full-length trials of --seconds; default 0.25, guests 1, --quick half).
    #[arg(long)]
    search_seconds: Option<f64>,
    #[command(flatten)]
    guest: crate::vm::GuestArgs,
}

pub fn run(a: SweepArgs) -> Result<()> {
    let guests = a.backend.is_guest();
    let rate = a.rate.unwrap_or(if guests { 10_000.0 } else { 130_000.0 });
    let routes = a.routes.unwrap_or(if guests { 10_000 } else { 100_000 });
    if a.max_routers == 0 || a.max_routers > 64 {
        bail!("--max-routers: {} must be 1..=64", a.max_routers);
    }
    if !(rate > 0.0 && rate.is_finite()) {
        bail!("--rate: {rate} must be a positive number of frames per second");
    }
    if !(64..=65_536).contains(&a.ring) || !a.ring.is_power_of_two() {
        bail!("--ring: {} must be a power of two in 64..=65536", a.ring);
    }
    if a.sleep_us > 1_000_000 {
        bail!(
            "--sleep-us: {} must be at most 1000000 (one second)",
            a.sleep_us
        );
    }
    if rate > 1e9 {
        bail!("--rate: {rate} frames per second is more than any router here takes (at most 1e9)");
    }
    if routes == 0 || routes > 10_000_000 {
        bail!("--routes: {routes} must be 1..=10000000");
    }
    if !(0.0..100.0).contains(&a.loss_tolerance) {
        bail!("--loss-tolerance: {}% must be in 0..100", a.loss_tolerance);
    }
    if a.backend != Dut::Memory {
        if a.mode == Placement::SharedCore {
            bail!("--mode shared-core: lab routers run one process each; use busy or adaptive");
        }
        crate::host::need_root().with_context(|| format!("--backend {:?}", a.backend))?;
    }
    let trials = a.trials.unwrap_or(if a.quick { 2 } else { 5 });
    // Guests under TCG forward tens of kp/s: longer trials count enough frames.
    let seconds = a.seconds.unwrap_or(match (guests, a.quick) {
        (true, true) => 1.0,
        (true, false) => 3.0,
        (false, true) => 0.2,
        (false, false) => 1.0,
    });
    if trials == 0 || trials > 1000 || !(0.01..=3600.0).contains(&seconds) {
        bail!("--trials must be 1..=1000 and --seconds in [0.01, 3600]");
    }
    if rate * seconds < 10.0 {
        bail!(
            "--rate {rate} × --seconds {seconds} offers {:.1} frames per trial: fewer than 10 measure nothing",
            rate * seconds
        );
    }
    let search_seconds = a.search_seconds.unwrap_or(match (guests, a.quick) {
        (true, true) => 0.5,
        (true, false) => 1.0,
        (false, true) => 0.1,
        (false, false) => 0.25,
    });
    if !(0.01..=3600.0).contains(&search_seconds) {
        bail!("--search-seconds: {search_seconds} must be in [0.01, 3600]");
    }
    let defaults = a.experiments.is_empty();
    let mut experiments = if defaults {
        vec![
            Experiment::Routers,
            Experiment::TableSize,
            Experiment::Fairness,
            Experiment::Rfc2544,
            Experiment::Modes,
        ]
    } else {
        a.experiments
    };
    if guests && defaults {
        // On guests the routers experiment's rows compare the polling modes.
        experiments.retain(|e| *e != Experiment::Modes);
    }
    experiments.sort();
    experiments.dedup();
    let rows = match a.backend {
        Dut::Vm => vec![
            Row {
                dut: Dut::Vm,
                placement: Placement::Adaptive,
            },
            Row {
                dut: Dut::Vm,
                placement: Placement::Busy,
            },
            Row {
                dut: Dut::VmKernel,
                placement: Placement::Adaptive,
            },
        ],
        dut => vec![Row {
            dut,
            placement: a.mode,
        }],
    };
    let rate_per = a.rate_per.unwrap_or(if guests {
        RatePer::Both
    } else {
        RatePer::Router
    });
    // On guests without --rate the total is measured: what one guest carries without loss.
    let total_rate = if guests && a.rate.is_none() {
        None
    } else {
        Some(rate)
    };
    let table = a.table.clone().unwrap_or_else(crate::host::default_table);
    let p = Params {
        experiments,
        backend: a.backend,
        trials,
        seconds,
        search_seconds,
        search_steps: if a.quick { 6 } else { 8 },
        rate,
        frame: a.frame,
        max_routers: a.max_routers,
        mode: a.mode,
        routes,
        table,
        ring: a.ring,
        sleep_us: a.sleep_us,
        loss_tolerance_pct: a.loss_tolerance,
        quick: a.quick,
        json: a.json,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        rows,
        rate_per,
        total_rate,
        link_rate: sweep::parse_link_rate(&a.link_rate)
            .map_err(|e| anyhow::anyhow!("--link-rate: {e}"))?,
        guest: a.guest.spec()?,
        out: a.out,
    };
    sweep::run(p)
}
