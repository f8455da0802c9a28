//! `vrouter sweep`: the paper's experiments, end to end, measured from outside the routers.
//!
//! Each point is repeated (`--trials`, default 5) and summarised as a mean with a Student-t 95%
//! confidence interval. Results go to `results/<UTC timestamp>/`: `trials.csv` (one value per
//! trial, router and metric), `summary.csv`, `sweep.json` (parameters and both tables) and one
//! SVG per experiment; a summary table is printed at the end.
//!
//! Longer than 700 lines on purpose: the five experiments share one `Run` (parameters,
//! values, progress) and read best side by side; what is written out is in `report.rs`.

pub mod report;

use report::{table_text, timestamp, write_outputs};

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use dataplane::worker::PollMode;
use serde::Serialize;

use crate::measure::bed::{BedOptions, Drops, Dut, Placement, RouterSetup, TestBed, NEXT_HOPS};
use crate::measure::generator::{FrameSize, Load, RouterResult};
use crate::measure::open_bed;
use crate::measure::stats::{jain, Summary};

/// Full-length trials in a row, each within the tolerance, that confirm an RFC 2544 answer
/// (§26.1), stepping the rate down 5% after each that is not. Two were seen to pass by luck at
/// the edge of a noisy host's capacity and lose 0.6% on the next trial; three hold better.
const CONFIRM_REPEATS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Experiment {
    /// 1..N routers, each with its own table, each offered --rate at once.
    Routers,
    /// Forwarding rate for 1k, 10k, 100k routes, the full table and 1M routes, then IPv6
    /// (the real table and 200k routes): at --rate and at the highest zero-loss rate.
    TableSize,
    /// 1..N routers sending 1472-byte UDP payloads as fast as they can: throughput shares.
    Fairness,
    /// RFC 2544 throughput (zero loss, and within --loss-tolerance), then latency at 10/50/90%.
    Rfc2544,
    /// busy, adaptive and shared-core placement at 1..N routers: rate, loss and CPU.
    Modes,
}

impl Experiment {
    fn name(self) -> &'static str {
        match self {
            Experiment::Routers => "routers",
            Experiment::TableSize => "table-size",
            Experiment::Fairness => "fairness",
            Experiment::Rfc2544 => "rfc2544",
            Experiment::Modes => "modes",
        }
    }
}

/// What forwards in one series of an experiment: a router kind and its placement (lab and
/// guest routers: its polling mode). A sweep on memory ports or a lab has one row; on guests
/// (`--backend vm`) three: vrouter adaptive, vrouter busy and the kernel, side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    pub dut: Dut,
    pub placement: Placement,
}

impl Row {
    /// `vrouter adaptive`, `vrouter busy`, `kernel` (guests); `afxdp adaptive` (labs).
    pub fn name(self) -> String {
        match self.dut {
            Dut::VmKernel | Dut::Kernel => "kernel".into(),
            Dut::Vm | Dut::Memory => format!("vrouter {}", self.placement),
            d => format!("{} {}", d.label(), self.placement),
        }
    }
}

/// How the offered rate is read: per router (each offered `--rate`) or in total (`--rate`
/// shared by the routers), or both side by side. The paper's "130 kp/s" for 1..4 routers can
/// be read either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RatePer {
    Router,
    Total,
    Both,
}

/// A sweep's parameters, validated (`vrouter sweep`'s flags after defaults and `--quick`;
/// `cli::sweep` builds them). They are written into `sweep.json` as they are.
#[derive(Clone, Debug, Serialize)]
pub struct Params {
    pub experiments: Vec<Experiment>,
    pub backend: Dut,
    pub trials: usize,
    pub seconds: f64,
    pub search_seconds: f64,
    pub search_steps: usize,
    pub rate: f64,
    pub frame: FrameSize,
    pub max_routers: usize,
    /// Worker placement of every experiment but `modes` (in JSON: its name).
    pub mode: Placement,
    pub routes: usize,
    pub table: PathBuf,
    pub ring: usize,
    pub sleep_us: u64,
    pub loss_tolerance_pct: f64,
    pub quick: bool,
    /// Print the summary as JSON on stdout instead of the table.
    #[serde(skip)]
    pub json: bool,
    pub cores: usize,
    /// What forwards, one series each (in JSON: router kind and placement).
    pub rows: Vec<Row>,
    pub rate_per: RatePer,
    /// The total rate of `--rate-per total`; `None` (guests without `--rate`): each row's own
    /// single-router zero-loss rate, measured first.
    pub total_rate: Option<f64>,
    /// The shared link of the fairness experiment, bits/s on the wire (`None`: only the
    /// uncapped run).
    pub link_rate: Option<f64>,
    /// How guests boot (`--backend vm`, `vm-kernel`).
    #[serde(skip)]
    pub guest: crate::vm::GuestSpec,
    /// Where results go (a new `<UTC timestamp>` folder inside).
    #[serde(skip)]
    pub out: PathBuf,
}

/// One measured value.
#[derive(Clone, Debug, Serialize)]
struct Value {
    experiment: &'static str,
    point: String,
    x: f64,
    trial: usize,
    /// Router index, or `None` for the aggregate over routers.
    router: Option<usize>,
    metric: &'static str,
    value: f64,
}

#[derive(Clone, Debug, Serialize)]
struct SummaryRow {
    experiment: &'static str,
    point: String,
    x: f64,
    router: Option<usize>,
    metric: &'static str,
    #[serde(flatten)]
    s: Summary,
}

/// Units of each metric, for CSV readers and the summary table.
fn unit(metric: &str) -> &'static str {
    match metric {
        m if m.ends_with("_kpps") => "kp/s",
        m if m.ends_with("_mpps") => "Mp/s",
        m if m.ends_with("_pct") => "%",
        m if m.ends_with("_us") => "µs",
        m if m.ends_with("_mbps") => "Mb/s",
        _ => "",
    }
}

/// `1 Gb/s`, `100 Mb/s`, `2.5 Gb/s`: a link rate as people write it.
pub fn rate_name(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{} Gb/s", bps / 1e9)
    } else {
        format!("{} Mb/s", bps / 1e6)
    }
}

/// A link rate: `1G`, `100M`, `2.5g`, `1000000000` (bits/s on the wire), or `none`.
pub fn parse_link_rate(s: &str) -> Result<Option<f64>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let (num, mult) = match t.chars().last() {
        Some('G' | 'g') => (&t[..t.len() - 1], 1e9),
        Some('M' | 'm') => (&t[..t.len() - 1], 1e6),
        Some('K' | 'k') => (&t[..t.len() - 1], 1e3),
        _ => (t, 1.0),
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v * mult >= 1e6 && v * mult <= 1e12 => Ok(Some(v * mult)),
        _ => Err(format!(
            "`{s}` is not a link rate from 1M to 1000G (e.g. 1G, 100M, 2.5G, or none)"
        )),
    }
}

/// IPv4 routes: (prefix, length, next hop).
type Routes = Vec<(u32, u8, u32)>;

/// Where a value belongs: experiment, point, its x position and the trial.
struct At<'a> {
    e: Experiment,
    point: &'a str,
    x: f64,
    trial: usize,
}

struct Run {
    p: Params,
    values: Vec<Value>,
    pb: Option<indicatif::ProgressBar>,
    started: Instant,
    full: Option<(PathBuf, Routes)>,
    /// `trials.csv`, written as values come in, so an interrupted sweep keeps its trials.
    trials: std::io::BufWriter<std::fs::File>,
    /// Set by SIGINT/SIGTERM: the sweep stops after the trial that is running.
    interrupted: Arc<AtomicBool>,
}

/// The sweep was stopped by a signal.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted by a signal")
    }
}

impl std::error::Error for Interrupted {}

/// A new folder `out/<stamp>`, or `out/<stamp>-2`, `-3`, ... if a sweep started in the same
/// second already has one (two sweeps never share a folder).
fn unique_dir(out: &Path, stamp: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for k in 1..1000 {
        let dir = if k == 1 {
            out.join(stamp)
        } else {
            out.join(format!("{stamp}-{k}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    bail!("{}: 999 sweeps started in the same second?", out.display())
}

/// Runs the sweep's experiments, writes the results under `p.out/<UTC timestamp>/` and prints
/// the summary table.
pub fn run(p: Params) -> Result<()> {
    let out = p.out.clone();
    let table = p.table.clone();
    let mode = p.mode;
    let dir = unique_dir(&out, &timestamp())?;
    let trials_path = dir.join("trials.csv");
    let mut trials = std::io::BufWriter::new(
        std::fs::File::create(&trials_path)
            .with_context(|| format!("creating {}", trials_path.display()))?,
    );
    writeln!(trials, "{}", report::TRIALS_HEADER)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&interrupted))?;
    }
    let total = total_trials(&p);
    let pb = std::io::stderr()
        .is_terminal()
        .then(|| crate::progress::steps(total, "sweep"));
    tracing::info!(
        "sweep: {} on the {:?} backend, {} trials of {} s per point, {} cores; results in {}",
        p.experiments
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", "),
        p.backend,
        p.trials,
        p.seconds,
        p.cores,
        dir.display()
    );
    let mut run = Run {
        p,
        values: Vec::new(),
        pb,
        started: Instant::now(),
        full: None,
        trials,
        interrupted,
    };
    let full_path = table;
    let _ = mode;
    let mut done = Ok(());
    for e in run.p.experiments.clone() {
        done = match e {
            Experiment::Routers => run.routers(),
            Experiment::TableSize => run.table_size(&full_path),
            Experiment::Fairness => run.fairness(),
            Experiment::Rfc2544 => run.rfc2544(&full_path),
            Experiment::Modes => run.modes(),
        };
        if done.is_err() {
            break;
        }
    }
    if let Some(pb) = &run.pb {
        pb.finish_and_clear();
    }
    run.trials.flush()?;
    if let Err(e) = done {
        // A lab bed stops its trial on the signal too (its error is not `Interrupted`).
        if !e.is::<Interrupted>() && !run.interrupted.load(Ordering::Relaxed) {
            return Err(e.context(format!(
                "the trials so far are in {}",
                trials_path.display()
            )));
        }
        // Stopped by a signal: summarise what was measured, then say so.
        let summary = run.summarise();
        write_outputs(&dir, &run, &summary)?;
        print!("{}", table_text(&run.p, &summary));
        bail!(
            "sweep interrupted after {} values; the results so far are in {}",
            run.values.len(),
            dir.display()
        );
    }
    let summary = run.summarise();
    write_outputs(&dir, &run, &summary)?;
    if run.p.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "results": dir,
                "seconds": run.started.elapsed().as_secs_f64(),
                "params": run.p,
                "summary": summary,
            }))?
        );
    } else {
        print!("{}", table_text(&run.p, &summary));
        println!(
            "sweep finished in {:.0} s; results: {}",
            run.started.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    // `latest` is replaced only if it is a link (ours, from an earlier run).
    let latest = out.join("latest");
    if std::fs::symlink_metadata(&latest).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = std::fs::remove_file(&latest);
    }
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(dir.file_name().unwrap_or_default(), &latest);
    Ok(())
}

/// Trials the whole sweep runs (for the progress bar).
fn total_trials(p: &Params) -> u64 {
    let t = p.trials as u64;
    let r = p.max_routers as u64;
    let rows = p.rows.len() as u64;
    let guests = p.rows.iter().any(|r| r.dut.is_guest());
    let readings = if p.rate_per == RatePer::Both { 2 } else { 1 };
    let search = u64::from(p.total_rate.is_none() && p.rate_per != RatePer::Router);
    let sizes = if guests { 3 } else { 7 };
    p.experiments
        .iter()
        .map(|e| match e {
            Experiment::Routers => rows * (r * t * readings + search),
            Experiment::Fairness => rows * r * t * (1 + u64::from(p.link_rate.is_some())),
            Experiment::TableSize => rows * sizes * t * 2,
            Experiment::Rfc2544 => rows * (t * 2 + 5 * t),
            Experiment::Modes if guests => 0,
            Experiment::Modes => 3 * r * t,
        })
        .sum()
}

impl Run {
    /// A test bed for `routers` with `placement`: in process on memory ports, or a parallel
    /// namespace lab (one router namespace per router; they all load router 0's table).
    fn bed(&self, row: Row, routers: Vec<RouterSetup>) -> Result<Box<dyn TestBed>> {
        let placement = row.placement;
        let o = BedOptions {
            placement,
            ring: self.p.ring,
            sleep: Duration::from_micros(self.p.sleep_us),
            mode: if placement == Placement::Busy {
                PollMode::Busy
            } else {
                PollMode::Adaptive
            },
            name: format!("sw{}", std::process::id() % 10_000),
            core: None,
            frame: self.p.frame,
            guest: self.p.guest.clone(),
        };
        open_bed(row.dut, &o, routers)
    }

    /// One trial done: progress shown, values so far on disk; a signal ends the sweep here.
    fn tick(&mut self, what: &str) -> Result<()> {
        match &self.pb {
            Some(pb) => {
                pb.set_message(what.to_string());
                pb.inc(1);
            }
            None => tracing::info!("[{:>5.0} s] {what}", self.started.elapsed().as_secs_f64()),
        }
        self.trials.flush()?;
        if self.interrupted.load(Ordering::Relaxed) {
            return Err(Interrupted.into());
        }
        Ok(())
    }

    fn push(&mut self, at: &At, router: Option<usize>, metric: &'static str, value: f64) {
        let v = Value {
            experiment: at.e.name(),
            point: at.point.to_string(),
            x: at.x,
            trial: at.trial,
            router,
            metric,
            value,
        };
        // Written now (flushed per trial), so that an interrupted sweep loses nothing.
        let _ = writeln!(self.trials, "{}", report::trial_line(&v));
        self.values.push(v);
    }

    /// Records the usual metrics of one trial: aggregate and per router.
    fn record(&mut self, at: &At, rs: &[RouterResult]) {
        let fwd: Vec<f64> = rs.iter().map(|r| r.forwarded_pps).collect();
        let offered: u64 = rs.iter().map(|r| r.offered).sum();
        let lost: u64 = rs.iter().map(|r| r.lost).sum();
        let worst = |f: fn(&crate::measure::traffic::LatencySummary) -> u64| {
            rs.iter()
                .filter_map(|r| r.latency.as_ref().map(f))
                .max()
                .map_or(f64::NAN, |v| v as f64 / 1e3)
        };
        let agg: [(&'static str, f64); 10] = [
            (
                "offered_kpps",
                rs.iter().map(|r| r.offered_pps).sum::<f64>() / 1e3,
            ),
            ("forwarded_kpps", fwd.iter().sum::<f64>() / 1e3),
            (
                "loss_pct",
                if offered == 0 {
                    0.0
                } else {
                    100.0 * lost as f64 / offered as f64
                },
            ),
            ("jain", jain(&fwd)),
            (
                "cpu_per_router_pct",
                100.0 * rs.iter().map(|r| r.cpu).sum::<f64>() / rs.len().max(1) as f64,
            ),
            (
                "cpu_total_pct",
                100.0 * rs.iter().map(|r| r.cpu).sum::<f64>(),
            ),
            (
                "run_queue_wait_pct",
                100.0 * rs.iter().map(|r| r.run_queue_wait).fold(0.0, f64::max),
            ),
            ("p50_us", worst(|l| l.p50)),
            ("p99_us", worst(|l| l.p99)),
            ("max_us", worst(|l| l.max)),
        ];
        let sum = |f: fn(&RouterResult) -> u64| rs.iter().map(f).sum::<u64>() as f64;
        self.push(at, None, "received", sum(|r| r.received));
        self.push(at, None, "duplicates", sum(|r| r.duplicates));
        self.push(at, None, "received_bytes", sum(|r| r.bytes));
        self.push(at, None, "reordered", sum(|r| r.reordered));
        self.push(at, None, "late", sum(|r| r.late));
        self.push(at, None, "ingress_drops", sum(|r| r.refused));
        let lag = rs.iter().map(|r| r.gen_lag).max().unwrap_or(0);
        self.push(at, None, "generator_lag_frames", lag as f64);
        for (m, v) in agg {
            self.push(at, None, m, v);
        }
        for (i, r) in rs.iter().enumerate() {
            self.push(at, Some(i), "forwarded_kpps", r.forwarded_pps / 1e3);
            self.push(at, Some(i), "loss_pct", 100.0 * r.loss());
            self.push(at, Some(i), "cpu_pct", 100.0 * r.cpu);
            let p99 = r.latency.map_or(f64::NAN, |l| l.p99 as f64 / 1e3);
            self.push(at, Some(i), "p99_us", p99);
        }
    }

    fn synth_routers(&self, n: usize) -> Result<Vec<RouterSetup>> {
        (0..n)
            .map(|i| {
                let set = fib::source::synth::ipv4(self.p.routes, 1000 + i as u64);
                RouterSetup::new(&set.v4_entries(NEXT_HOPS), 8192, i as u64)
            })
            .collect()
    }

    fn full_entries(&mut self, path: &Path) -> Result<Routes> {
        if let Some((p, e)) = &self.full {
            if p == path {
                return Ok(e.clone());
            }
        }
        let set = crate::progress::load(path, &fib::source::LoadOptions::default())
            .with_context(|| format!("loading {}", path.display()))?;
        let e = set.v4_entries(NEXT_HOPS);
        if e.is_empty() {
            bail!("{}: no IPv4 routes", path.display());
        }
        self.full = Some((path.to_path_buf(), e.clone()));
        Ok(e)
    }

    fn load(&self, rate: Option<f64>, frame: FrameSize, seconds: f64) -> Load {
        Load {
            rate_per_router: rate,
            frame,
            seconds,
            link_bps: None,
        }
    }

    /// `--trials` trials of one point at `load` on `bed`, each recorded; `extra` adds the
    /// experiment's own values per trial.
    fn point(
        &mut self,
        bed: &mut dyn TestBed,
        e: Experiment,
        point: &str,
        x: f64,
        load: Load,
        mut extra: impl FnMut(&mut Self, &At, &[RouterResult]),
    ) -> Result<()> {
        for t in 0..self.p.trials {
            let at = At {
                e,
                point,
                x,
                trial: t,
            };
            let d0 = bed.drops();
            let rs = bed.trial(&load)?;
            self.record(&at, &rs);
            self.record_drops(&at, bed, &d0);
            extra(self, &at, &rs);
            self.tick(&format!("{}: {point}, trial {}", e.name(), t + 1))?;
        }
        Ok(())
    }

    /// Whether the routers under test are guests (slower, and compared in rows).
    fn guests(&self) -> bool {
        self.p.rows.iter().any(|r| r.dut.is_guest())
    }

    /// The name of `row` in point names: empty when the sweep has one row.
    fn prefix(&self, row: Row) -> String {
        if self.p.rows.len() > 1 {
            format!("{}: ", row.name())
        } else {
            String::new()
        }
    }

    /// Records the bed's drops during one trial (`d0`: before it), by place.
    fn record_drops(&mut self, at: &At, bed: &mut dyn TestBed, d0: &Drops) {
        let d = bed.drops();
        let (router, sink) = d.since(d0);
        if let Some(r) = router {
            self.push(at, None, "router_drops", r as f64);
        }
        self.push(at, None, "sink_drops", sink as f64);
        if let (Some(a), Some(b)) = (d.host, d0.host) {
            self.push(at, None, "host_drops", a.saturating_sub(b) as f64);
        }
        if let Some(ns) = bed.generator_cpu_ns() {
            self.push(
                at,
                None,
                "generator_cpu_pct",
                100.0 * ns as f64 / 1e9 / self.p.seconds,
            );
        }
    }

    /// 1..N routers of each row, each offered `--rate` (per router), or sharing a total (the
    /// paper's 130 kp/s read as a total; on guests without `--rate`, what one guest of that
    /// row carries without loss, measured first), or both.
    fn routers(&mut self) -> Result<()> {
        let e = Experiment::Routers;
        let all = self.synth_routers(self.p.max_routers)?;
        for row in self.p.rows.clone() {
            let prefix = self.prefix(row);
            let mut total = self.p.total_rate;
            for n in 1..=self.p.max_routers {
                let mut bed = self.bed(row, all[..n].to_vec())?;
                let per = self.p.rate_per;
                if n == 1 && total.is_none() && per != RatePer::Router {
                    let at = At {
                        e,
                        point: &format!("{prefix}1 router, zero-loss rate"),
                        x: 1.0,
                        trial: 0,
                    };
                    let (r1, l1) = self.search(bed.as_mut(), 0.0)?;
                    self.push(&at, None, "zero_loss_kpps", r1 / 1e3);
                    self.held(&at, l1);
                    self.tick(&format!("routers: {prefix}zero-loss rate of one router"))?;
                    if r1 <= 0.0 {
                        bail!("routers: {prefix}one router forwarded nothing without loss");
                    }
                    total = Some(r1);
                }
                let readings: Vec<(&str, f64)> = match per {
                    RatePer::Router => vec![("", self.p.rate)],
                    RatePer::Total => vec![("total, ", total.unwrap_or(self.p.rate) / n as f64)],
                    RatePer::Both => vec![
                        ("per router, ", self.p.rate),
                        ("total, ", total.unwrap_or(self.p.rate) / n as f64),
                    ],
                };
                for (reading, rate) in readings {
                    let point = format!("{prefix}{reading}{n} routers");
                    let load = self.load(Some(rate), self.p.frame, self.p.seconds);
                    self.point(bed.as_mut(), e, &point, n as f64, load, |_, _, _| {})?;
                }
            }
        }
        Ok(())
    }

    /// The paper's table sizes (1k, 10k, 100k) and, except on guests, the full table, a
    /// synthetic 1M-route table and two IPv6 tables (the shipped real one and a synthetic 200k,
    /// sent 78-byte IPv6 frames, the smallest that carry a stamp): the rate at `--rate` and the
    /// highest zero-loss rate. IPv6 points are named `v6 ...`.
    fn table_size(&mut self, full: &Path) -> Result<()> {
        let e = Experiment::TableSize;
        let mut sizes: Vec<(String, RouterSetup)> = Vec::new();
        for n in [1_000usize, 10_000, 100_000] {
            let routes = fib::source::synth::ipv4(n, 7).v4_entries(NEXT_HOPS);
            sizes.push((
                format!("{}k", n / 1000),
                RouterSetup::new(&routes, 65_536, 1)?,
            ));
        }
        if !self.guests() {
            // A guest of 256 MiB running the kernel router does not hold 512k routes, and
            // loading them under TCG takes minutes: guests stop at the paper's 100k (IPv4
            // only). Elsewhere the shipped real table, and a seeded synthetic table the size
            // of today's full IPv4 tables (~1M prefixes), then IPv6.
            let entries = self.full_entries(full)?;
            sizes.push((
                format!("full {}", entries.len()),
                RouterSetup::new(&entries, 65_536, 1)?,
            ));
            let m = fib::source::synth::ipv4(1_000_000, 7).v4_entries(NEXT_HOPS);
            sizes.push(("1M".to_string(), RouterSetup::new(&m, 65_536, 1)?));
            let real6 = crate::measure::bed::shipped_v6_entries()?;
            sizes.push((
                format!("v6 full {}", real6.len()),
                RouterSetup::new_v6(&real6, 65_536, 1)?,
            ));
            let synth6 = fib::source::synth::ipv6(200_000, 7).v6_entries(NEXT_HOPS);
            sizes.push((
                "v6 200k".to_string(),
                RouterSetup::new_v6(&synth6, 65_536, 1)?,
            ));
        }
        for row in self.p.rows.clone() {
            let prefix = self.prefix(row);
            for (i, (name, setup)) in sizes.iter().enumerate() {
                let routes = setup.fib4.len() + setup.fib6.len();
                let mut bed = self.bed(row, vec![setup.clone()])?;
                let point = format!("{prefix}{name} routes");
                for t in 0..self.p.trials {
                    let at = At {
                        e,
                        point: &point,
                        x: i as f64,
                        trial: t,
                    };
                    let d0 = bed.drops();
                    let rs =
                        bed.trial(&self.load(Some(self.p.rate), self.p.frame, self.p.seconds))?;
                    self.record(&at, &rs);
                    self.record_drops(&at, bed.as_mut(), &d0);
                    self.push(&at, None, "routes", routes as f64);
                    self.tick(&format!(
                        "table-size: {point} at {} kp/s, trial {}",
                        self.p.rate / 1e3,
                        t + 1
                    ))?;
                    let (max, lm) = self.search(bed.as_mut(), 0.0)?;
                    self.push(&at, None, "zero_loss_mpps", max / 1e6);
                    self.held(&at, lm);
                    self.tick(&format!(
                        "table-size: {point} zero-loss search, trial {}",
                        t + 1
                    ))?;
                }
            }
        }
        Ok(())
    }

    /// 1..N routers sending 1518-byte frames (1472-byte UDP payloads): each on its own
    /// unlimited link as fast as it takes them, and, with `--link-rate`, all of them through one
    /// shared link of that rate, each offered the whole link's rate (as the paper's guests
    /// sharing one gigabit NIC, each running iperf at line rate).
    fn fairness(&mut self) -> Result<()> {
        let e = Experiment::Fairness;
        let all = self.synth_routers(self.p.max_routers)?;
        let frame = FrameSize::Fixed(1514);
        let payload_bits = (1472 * 8) as f64;
        let mut links: Vec<Option<f64>> = vec![None];
        links.extend(self.p.link_rate.map(Some));
        for row in self.p.rows.clone() {
            let prefix = self.prefix(row);
            for &link in &links {
                for n in 1..=self.p.max_routers {
                    let mut bed = self.bed(row, all[..n].to_vec())?;
                    let (mut load, point) = match link {
                        None => (
                            self.load(None, frame, self.p.seconds),
                            format!("{prefix}{n} routers"),
                        ),
                        Some(bps) => {
                            // Each router offers 10% more than the link carries, as a sender
                            // at line rate behind a faster path would: the link stays busy
                            // through the generator's jitter, and drops the excess.
                            let fps = 1.1 * bps
                                / (crate::measure::generator::wire_bytes(1514) * 8) as f64;
                            (
                                self.load(Some(fps), frame, self.p.seconds),
                                format!("{prefix}{} link, {n} routers", rate_name(bps)),
                            )
                        }
                    };
                    load.link_bps = link;
                    self.point(bed.as_mut(), e, &point, n as f64, load, |run, at, rs| {
                        // Through a shared link: the rate frames left it (all routers' frames
                        // over the longest first-to-last departure span, on the sink's clock),
                        // shared in proportion to what each router got through; else each
                        // router's rate over the sending window.
                        let mbps: Vec<f64> = match link {
                            Some(_) => {
                                let total: u64 = rs.iter().map(|r| r.received).sum();
                                let span = rs.iter().map(|r| r.arrival_span_ns).max().unwrap_or(0);
                                let pps = if span > 0 && total > 1 {
                                    (total - 1) as f64 * 1e9 / span as f64
                                } else {
                                    0.0
                                };
                                rs.iter()
                                    .map(|r| {
                                        pps * r.received as f64 / total.max(1) as f64 * payload_bits
                                            / 1e6
                                    })
                                    .collect()
                            }
                            None => rs
                                .iter()
                                .map(|r| r.forwarded_pps * payload_bits / 1e6)
                                .collect(),
                        };
                        let sum: f64 = mbps.iter().sum();
                        run.push(at, None, "throughput_mbps", sum);
                        if link.is_some() {
                            run.push(at, None, "jain_link", jain(&mbps));
                            let drops = rs.iter().map(|r| r.link_drops).sum::<u64>();
                            run.push(at, None, "link_drops", drops as f64);
                        }
                        for (i, m) in mbps.iter().enumerate() {
                            run.push(at, Some(i), "throughput_mbps", *m);
                            let share = if sum > 0.0 { 100.0 * m / sum } else { 0.0 };
                            run.push(at, Some(i), "share_pct", share);
                        }
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Records whether a zero-loss search's answer held its confirmation (`held`: 1 or 0) and,
    /// when it did not, the loss of its last full-length trial (`confirm_loss_pct`), with a
    /// warning: a rate that never held is not a zero-loss rate, whatever the short search said.
    fn held(&mut self, at: &At, loss: f64) -> bool {
        let ok = loss == 0.0;
        self.push(at, None, "held", if ok { 1.0 } else { 0.0 });
        if !ok {
            self.push(at, None, "confirm_loss_pct", 100.0 * loss);
            tracing::warn!(
                "{}: {} trial {}: the search's answer did not hold {CONFIRM_REPEATS} full-length trials in a row ({:.3}% lost in the last)",
                at.e.name(),
                at.point,
                at.trial + 1,
                100.0 * loss
            );
        }
        ok
    }

    /// RFC 2544 throughput on one bed: a binary search with trials of `search_seconds` (see
    /// [`crate::measure::search::search`]), then confirmed with full-length trials of
    /// `--seconds`: [`CONFIRM_REPEATS`] in a row within `tolerance`, stepping down 5% each time
    /// one loses more (at most 8 trials; [`crate::measure::search::confirm`]). Returns (rate,
    /// loss at it).
    fn search(&self, bed: &mut dyn TestBed, tolerance: f64) -> Result<(f64, f64)> {
        let (short, full, frame) = (self.p.search_seconds, self.p.seconds, self.p.frame);
        let (r, l) = crate::measure::search::search(
            &mut |rate| bed.trial(&self.load(rate, frame, short)),
            self.p.search_steps,
            tolerance,
        )?;
        if r <= 0.0 {
            return Ok((r, l));
        }
        let (held, loss, _) = crate::measure::search::confirm(
            &mut |rate| bed.trial(&self.load(Some(rate), frame, full)),
            r,
            tolerance,
            0.05,
            CONFIRM_REPEATS,
            8,
        )?;
        Ok((held, loss))
    }

    fn rfc2544(&mut self, full: &Path) -> Result<()> {
        let e = Experiment::Rfc2544;
        // Guests take the synthetic table of `--routes` (see `table_size`).
        let entries = if self.guests() {
            fib::source::synth::ipv4(self.p.routes, 1000).v4_entries(NEXT_HOPS)
        } else {
            self.full_entries(full)?
        };
        let tol = self.p.loss_tolerance_pct / 100.0;
        for row in self.p.rows.clone() {
            let prefix = self.prefix(row);
            let mut bed = self.bed(row, vec![RouterSetup::new(&entries, 65_536, 1)?])?;
            let mut zero = Vec::new();
            let throughput = format!("{prefix}throughput");
            for t in 0..self.p.trials {
                let at = At {
                    e,
                    point: &throughput,
                    x: 0.0,
                    trial: t,
                };
                let (r0, l0) = self.search(bed.as_mut(), 0.0)?;
                self.push(&at, None, "zero_loss_mpps", r0 / 1e6);
                self.tick(&format!(
                    "rfc2544: {prefix}zero-loss search, trial {}",
                    t + 1
                ))?;
                let (rt, lt) = self.search(bed.as_mut(), tol)?;
                self.push(&at, None, "tolerant_mpps", rt / 1e6);
                self.push(&at, None, "tolerant_loss_pct", 100.0 * lt);
                self.tick(&format!(
                    "rfc2544: {prefix}{}% loss search, trial {}",
                    self.p.loss_tolerance_pct,
                    t + 1
                ))?;
                // Only answers that held their confirmation trials set the rate the holding
                // and latency points are measured at.
                if self.held(&at, l0) {
                    zero.push(r0);
                }
            }
            // The rate every trial's search held: the holding and latency points are measured
            // there (the median of three searches was seen to lose 0.6% when offered again).
            let base = zero.iter().copied().fold(f64::INFINITY, f64::min);
            let base = if base.is_finite() { base } else { f64::NAN };
            // What held the rate: one unpaced trial (routers take what their rings allow) with
            // its drops by place and the generator's CPU.
            let unpaced = format!("{prefix}unpaced");
            let load = self.load(None, self.p.frame, self.p.seconds);
            self.point(bed.as_mut(), e, &unpaced, 0.0, load, |_, _, _| {})?;
            if base.is_nan() || base <= 0.0 {
                continue;
            }
            // Latency at the throughput rate (RFC 2544 §26.2) and at fractions of it.
            for pct in [10u32, 50, 90, 100] {
                let point = format!("{prefix}{pct}% of throughput");
                let rate = base * f64::from(pct) / 100.0;
                let load = self.load(Some(rate), self.p.frame, self.p.seconds);
                self.point(bed.as_mut(), e, &point, f64::from(pct), load, |_, _, _| {})?;
            }
        }
        Ok(())
    }

    fn modes(&mut self) -> Result<()> {
        let e = Experiment::Modes;
        if self.guests() {
            tracing::info!(
                "modes: on guests the routers experiment compares the polling modes (its rows)"
            );
            return Ok(());
        }
        let all = self.synth_routers(self.p.max_routers)?;
        let dut = self.p.backend;
        for mode in Placement::ALL {
            if mode == Placement::SharedCore && dut != Dut::Memory {
                // Lab routers are one process each; there is no shared worker to compare.
                continue;
            }
            for n in 1..=self.p.max_routers {
                let row = Row {
                    dut,
                    placement: mode,
                };
                let mut bed = self.bed(row, all[..n].to_vec())?;
                let load = self.load(Some(self.p.rate), self.p.frame, self.p.seconds);
                let point = format!("{mode}, {n} routers");
                self.point(bed.as_mut(), e, &point, n as f64, load, |_, _, _| {})?;
            }
        }
        Ok(())
    }

    /// Mean and confidence interval of every (experiment, point, router, metric).
    fn summarise(&self) -> Vec<SummaryRow> {
        let mut groups: BTreeMap<(usize, Option<usize>, &'static str), Vec<f64>> = BTreeMap::new();
        let mut first: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let mut keys: Vec<(&'static str, String, f64)> = Vec::new();
        for v in &self.values {
            let k = *first
                .entry((v.experiment, v.point.as_str()))
                .or_insert_with(|| {
                    keys.push((v.experiment, v.point.clone(), v.x));
                    keys.len() - 1
                });
            groups
                .entry((k, v.router, v.metric))
                .or_default()
                .push(v.value);
        }
        groups
            .into_iter()
            .filter_map(|((k, router, metric), xs)| {
                let finite: Vec<f64> = xs.into_iter().filter(|x| x.is_finite()).collect();
                let s = Summary::of(&finite)?;
                let (experiment, point, x) = keys[k].clone();
                Some(SummaryRow {
                    experiment,
                    point,
                    x,
                    router,
                    metric,
                    s,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_rates_parse_as_people_write_them() {
        assert_eq!(parse_link_rate("1G"), Ok(Some(1e9)));
        assert_eq!(parse_link_rate("2.5g"), Ok(Some(2.5e9)));
        assert_eq!(parse_link_rate("100M"), Ok(Some(1e8)));
        assert_eq!(parse_link_rate("none"), Ok(None));
        for bad in ["", "fast", "0G", "-1G", "10", "2000G", "nanG"] {
            assert!(parse_link_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(rate_name(1e9), "1 Gb/s");
        assert_eq!(rate_name(1e8), "100 Mb/s");
    }

    #[test]
    fn sweeps_started_in_the_same_second_get_their_own_folders() {
        let out = tempfile::tempdir().unwrap();
        let a = unique_dir(out.path(), "20261203T100000Z").unwrap();
        let b = unique_dir(out.path(), "20261203T100000Z").unwrap();
        let c = unique_dir(out.path(), "20261203T100000Z").unwrap();
        assert!(a.is_dir() && b.is_dir() && c.is_dir());
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert!(b.to_string_lossy().ends_with("-2") && c.to_string_lossy().ends_with("-3"));
    }
}
