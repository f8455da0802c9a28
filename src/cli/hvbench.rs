//! `vrouter hvbench ...`: the paper's hypervisor-overhead suite (see [`crate::hvbench`]).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use crate::hvbench::compare::{self, CompareOptions, Platform};
use crate::hvbench::tasks::{self, Edge, RunOptions};
use crate::hvbench::timer::{self, Timer, Until};
use crate::hvbench::{Sizes, Task};
use crate::vm::qemu::Accel;

#[derive(Subcommand)]
pub enum HvbenchCmd {
    /// Runs tasks here (natively, in a container or inside a guest), each round between a
    /// start and an end marker sent to an outside `hvbench timer`.
    Run(RunArgs),
    /// The outside clock: stamps markers as they arrive, echoes the network task, pairs the
    /// rounds and reports each task's time with a 95% interval and the platform's own claim.
    Timer(TimerArgs),
    /// The suite natively, in a container and in a QEMU guest, timed from outside: a table,
    /// CSV, JSON and the paper's bar charts (SVG) under results/hvbench-<timestamp>/.
    Compare(CompareArgs),
}

/// How much work a round is (defaults: the full suite, or `--quick`'s).
#[derive(clap::Args, Debug, Clone)]
pub struct SizeArgs {
    /// Small sizes and 3 rounds: a few minutes for all platforms here.
    #[arg(long)]
    pub quick: bool,
    /// Rounds per task [default: 10, quick 3].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: Option<u32>,
    /// Decimal digits of π per cpu round [default: 4194304 (2^22, the paper's), quick 32768].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    pub pi_digits: Option<u64>,
    /// MiB written and read back per mem round [default: 512, quick 64].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub mem_mib: Option<u64>,
    /// MiB of zeros written and synced per disk round [default: 256, quick 32].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub disk_mib: Option<u64>,
    /// MiB of UDP payload echoed per net round [default: 64, quick 4].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub net_mib: Option<u64>,
    /// Milliseconds per sleep round (the timer's calibration) [default: 1000, quick 300].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub sleep_ms: Option<u64>,
}

impl SizeArgs {
    fn sizes(&self) -> Sizes {
        let mut s = if self.quick {
            Sizes::quick()
        } else {
            Sizes::full()
        };
        s.pi_digits = self.pi_digits.unwrap_or(s.pi_digits);
        s.mem_mib = self.mem_mib.unwrap_or(s.mem_mib);
        s.disk_mib = self.disk_mib.unwrap_or(s.disk_mib);
        s.net_mib = self.net_mib.unwrap_or(s.net_mib);
        s.sleep_ms = self.sleep_ms.unwrap_or(s.sleep_ms);
        s
    }

    fn rounds(&self) -> u32 {
        self.rounds.unwrap_or(if self.quick { 3 } else { 10 })
    }
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Tasks, comma-separated, run in this order.
    #[arg(value_enum, value_delimiter = ',', required = true)]
    pub tasks: Vec<Task>,
    /// The timer's address (IP:PORT).
    #[arg(long)]
    pub marker: SocketAddr,
    /// A name for this platform, shown by the timer.
    #[arg(long, default_value = "native")]
    pub platform: String,
    #[command(flatten)]
    pub size: SizeArgs,
    /// Where the disk task makes its own folder (removed afterwards).
    #[arg(long, default_value = "/var/tmp")]
    pub dir: PathBuf,
    /// Network datagrams in flight.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub window: u32,
    /// Does not send this marker (TASK:ROUND:start|end; repeatable): checks that a timer
    /// reports a lost marker.
    #[arg(long, value_parser = parse_drop)]
    pub drop_marker: Vec<(Task, u32, Edge)>,
    /// The rounds as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_drop(s: &str) -> Result<(Task, u32, Edge), String> {
    let parts: Vec<&str> = s.split(':').collect();
    let [t, r, e] = parts[..] else {
        return Err(format!(
            "`{s}`: expected TASK:ROUND:start|end, e.g. cpu:2:end"
        ));
    };
    let task = <Task as clap::ValueEnum>::from_str(t, true)
        .map_err(|_| format!("`{t}`: not a task (cpu, mem, disk, net, sleep)"))?;
    let round: u32 = r
        .parse()
        .map_err(|_| format!("`{r}`: not a round number"))?;
    let edge = match e {
        "start" => Edge::Start,
        "end" => Edge::End,
        _ => return Err(format!("`{e}`: start or end")),
    };
    Ok((task, round, edge))
}

#[derive(clap::Args, Debug)]
pub struct TimerArgs {
    /// Address to listen on (IP:PORT), in the outside host's namespace.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Stops after this many runs said done.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub runs: u64,
    /// Stops after this many seconds without a marker (once one arrived).
    #[arg(long, default_value = "600", value_parser = crate::cli::num::seconds)]
    pub idle: f64,
    /// Stops after this many seconds in any case.
    #[arg(long, default_value = "3600", value_parser = crate::cli::num::seconds)]
    pub timeout: f64,
    /// The report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also writes every round as CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Platforms, comma-separated, in this order (the first is the reference of the ratios).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "native,container,qemu"
    )]
    pub platforms: Vec<Platform>,
    /// Tasks, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "cpu,mem,disk,net"
    )]
    pub tasks: Vec<Task>,
    #[command(flatten)]
    pub size: SizeArgs,
    /// The guest image (deploy/qemu/build-image) [default: $VROUTER_GUEST_IMAGE, else
    /// target/guest].
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// The guest's accelerator.
    #[arg(long, value_enum, default_value_t = Accel::Auto)]
    pub accel: Accel,
    /// Where native and container runs write the disk task's file (and the guest's scratch
    /// disk goes): a disk-backed file system.
    #[arg(long, default_value = "/var/tmp")]
    pub dir: PathBuf,
    /// Result folder [default: results/hvbench-<UTC timestamp>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Longest time per platform in seconds, boot included [default: 7200, quick 900].
    #[arg(long, value_parser = crate::cli::num::seconds)]
    pub timeout: Option<f64>,
    /// Passed to each platform's run (TASK:ROUND:start|end): the report must name the loss.
    #[arg(long, value_parser = parse_drop)]
    pub drop_marker: Vec<(Task, u32, Edge)>,
    /// The summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(c: HvbenchCmd) -> Result<()> {
    match c {
        HvbenchCmd::Run(a) => run_tasks(a),
        HvbenchCmd::Timer(a) => run_timer(a),
        HvbenchCmd::Compare(a) => run_compare(a),
    }
}

fn run_tasks(a: RunArgs) -> Result<()> {
    let o = RunOptions {
        tasks: a.tasks.clone(),
        rounds: a.size.rounds(),
        sizes: a.size.sizes(),
        marker: a.marker,
        platform: a.platform.clone(),
        dir: a.dir.clone(),
        window: a.window,
        drop: a.drop_marker.clone(),
    };
    let json = a.json;
    let rounds = tasks::run(&o, &mut |r| {
        if !json {
            // A closed stdout must not stop the rounds: the timer's markers are the result.
            let _ = writeln!(
                std::io::stdout(),
                "{:<5} round {:>3}/{}: {:.4} s by this platform's own clock, {}{}",
                r.task.name(),
                r.round,
                o.rounds,
                r.own_s,
                if r.ok { "" } else { "FAILED: " },
                r.detail
            );
        }
    })?;
    if json {
        let v: Vec<serde_json::Value> = rounds
            .iter()
            .map(|r| {
                serde_json::json!({"task": r.task, "round": r.round, "own_s": r.own_s, "ok": r.ok, "detail": r.detail})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    let failed = rounds.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        bail!("{failed} of {} rounds did not check out", rounds.len());
    }
    Ok(())
}

fn run_timer(a: TimerArgs) -> Result<()> {
    crate::lab::watch_signals();
    let t = Timer::bind(a.listen)?;
    eprintln!("hvbench timer: listening on {}", t.local_addr()?);
    let stop = crate::lab::interrupted;
    let until = Until {
        runs: a.runs as usize,
        idle: Duration::from_secs_f64(a.idle),
        deadline: Instant::now() + Duration::from_secs_f64(a.timeout),
        stop: &stop,
    };
    let log = t.collect(&until, &mut |m| {
        tracing::debug!("hvbench timer: {m:?}");
    })?;
    let reports = timer::pair(&log);
    if let Some(p) = &a.csv {
        let runs = reports.iter().map(|r| (r.platform.as_str(), r));
        std::fs::write(p, compare::csv(runs))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"ended": log.ended, "runs": reports})
            )?
        );
    } else {
        print!("{}", timer::render(&reports));
        if log.ended != timer::Ended::Done {
            println!("stopped: {:?} before every run said done", log.ended);
        }
    }
    if reports.is_empty() {
        bail!("no marker arrived ({:?})", log.ended);
    }
    Ok(())
}

fn run_compare(a: CompareArgs) -> Result<()> {
    crate::lab::watch_signals();
    if a.platforms.is_empty() || a.tasks.is_empty() {
        bail!("--platforms and --tasks need at least one each");
    }
    let o = CompareOptions {
        platforms: a.platforms.clone(),
        tasks: a.tasks.clone(),
        rounds: a.size.rounds(),
        sizes: a.size.sizes(),
        image: a.image.clone().unwrap_or_else(crate::vm::default_image),
        accel: a.accel,
        dir: a.dir.clone(),
        timeout: Duration::from_secs_f64(a.timeout.unwrap_or(if a.size.quick {
            900.0
        } else {
            7200.0
        })),
        drop: a.drop_marker.clone(),
    };
    if !o.dir.is_dir() {
        bail!("--dir {}: not a folder", o.dir.display());
    }
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!(
            "hvbench-{}",
            crate::measure::sweep::report::timestamp()
        ))
    });
    let results = compare::compare(&o, &crate::lab::interrupted)?;
    std::fs::create_dir_all(&out).with_context(|| format!("making {}", out.display()))?;
    let summary = compare::summary(&results, &o.tasks, &o.sizes);
    let (json_path, csv_path, svg_path) = (
        out.join("hvbench.json"),
        out.join("rounds.csv"),
        out.join("hvbench.svg"),
    );
    let doc = serde_json::json!({
        "tasks": o.tasks,
        "rounds": o.rounds,
        "sizes": o.sizes,
        "platforms": results,
        "files": {"json": json_path, "csv": csv_path, "svg": svg_path},
    });
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc)?)?;
    let runs = results
        .iter()
        .filter_map(|r| Some((r.label.as_str(), r.report.as_ref()?)));
    std::fs::write(&csv_path, compare::csv(runs))?;
    compare::chart(&svg_path, &results, &o.tasks, o.rounds)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{summary}");
        println!("results: {}", out.display());
    }
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.label)))
        .collect();
    if !failed.is_empty() {
        bail!("{}", failed.join("\n"));
    }
    Ok(())
}
