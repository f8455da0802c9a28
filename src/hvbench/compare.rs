//! `hvbench compare`: the suite natively, in a container and in a QEMU guest, each timed from
//! a namespace of its own: the paper's Fig. 1 (time per task and platform, 95% intervals),
//! drawn as SVG, with CSV and JSON.
//!
//! Each platform gets a fresh pair of network namespaces joined by a veth pair and nothing
//! else: the timer's (`198.18.250.1`) and the platform's (`198.18.250.2`). The native run is a
//! process in the platform's namespace; the container adds its own PID, mount, UTS and IPC
//! namespaces (`unshare`, the OpenVZ-style path of `vrouter lab up --router container`); the
//! guest is the vrouter image booted by QEMU with one virtio-net NIC on a tap bridged to the
//! veth, and a scratch virtio disk it formats itself for the disk task. The timer is a thread
//! of this process inside the timer namespace; the namespaces, the platform's processes and
//! the scratch files are removed after each platform, also on failure or SIGINT.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use super::marker::Marker;
use super::tasks::Edge;
use super::timer::{self, RunReport, Timer, Until};
use super::{Sizes, Task, TIMER_PORT};
use crate::lab::netns::{ip, spawn_in, tap_bridge, CONTAINER};
use crate::vm::qemu::{self, Accel, Boot, Guest, GuestFiles, NicModel, Wait};

/// A platform the suite runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// A process on the host (in a network namespace of its own): the reference.
    Native,
    /// A Linux container (own PID, mount, UTS, IPC and network namespaces): OpenVZ-style.
    Container,
    /// A QEMU guest of the vrouter image (KVM where it works, else TCG).
    Qemu,
}

/// What `compare` runs.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub platforms: Vec<Platform>,
    pub tasks: Vec<Task>,
    pub rounds: u32,
    pub sizes: Sizes,
    /// The guest image folder (`deploy/qemu/build-image`).
    pub image: PathBuf,
    pub accel: Accel,
    /// Where the disk task writes on the host (native and container).
    pub dir: PathBuf,
    /// Longest time one platform may take, boot included.
    pub timeout: Duration,
    /// Passed to `hvbench run` (tests of the timer's loss report).
    pub drop: Vec<(Task, u32, Edge)>,
}

/// One platform's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct PlatformResult {
    pub platform: Platform,
    /// `native`, `container`, `qemu-tcg`, `qemu-kvm`.
    pub label: String,
    pub report: Option<RunReport>,
    /// Why the platform gave no report, or what went wrong after it did.
    pub error: Option<String>,
    pub wall_s: f64,
}

const TIMER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 250, 1);
const SUBJECT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 250, 2);
const GUEST_MAC: &str = "02:00:c6:12:fa:02";

/// The two namespaces of one platform, removed when dropped.
struct Bed {
    timer: String,
    subject: String,
}

impl Bed {
    fn new(tag: &str) -> Result<Bed> {
        let base = format!("vrouter-hb{}-{tag}", std::process::id());
        let bed = Bed {
            timer: format!("{base}-t"),
            subject: format!("{base}-s"),
        };
        for ns in [&bed.timer, &bed.subject] {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        ip(&[
            "-n",
            &bed.timer,
            "link",
            "add",
            "hbt0",
            "type",
            "veth",
            "peer",
            "name",
            "hbs0",
            "netns",
            &bed.subject,
        ])?;
        ip(&[
            "-n",
            &bed.timer,
            "addr",
            "add",
            &format!("{TIMER_IP}/24"),
            "dev",
            "hbt0",
        ])?;
        ip(&["-n", &bed.timer, "link", "set", "hbt0", "up"])?;
        ip(&["-n", &bed.subject, "link", "set", "hbs0", "up"])?;
        Ok(bed)
    }

    /// The platform's address on the veth (native, container).
    fn address_subject(&self) -> Result<()> {
        ip(&[
            "-n",
            &self.subject,
            "addr",
            "add",
            &format!("{SUBJECT_IP}/24"),
            "dev",
            "hbs0",
        ])?;
        Ok(())
    }

    /// A tap for the guest, bridged to the veth (queue as the lab's guests').
    fn tap(&self) -> Result<String> {
        tap_bridge(
            &self.subject,
            "hbs0",
            "hbtap0",
            "hbbr0",
            crate::lab::guests::TAP_QUEUE,
        )?;
        Ok("hbtap0".into())
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        for ns in [&self.subject, &self.timer] {
            if let Err(e) = ip(&["netns", "del", ns]) {
                tracing::error!("hvbench: removing namespace {ns}: {e:#}");
            }
        }
    }
}

/// A process of the platform (`ip netns exec` execs it: its PID and process group are its
/// own), killed with its group when dropped.
struct Proc(std::process::Child);

impl Proc {
    fn running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.running() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(self.0.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.wait();
    }
}

/// A work folder of this process, removed (with what it made in it) when dropped.
struct Work(PathBuf);

impl Drop for Work {
    fn drop(&mut self) {
        for f in [
            "guest.initrd",
            "scratch.img",
            "console",
            "qemu.log",
            "run.log",
        ] {
            let _ = std::fs::remove_file(self.0.join(f));
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Runs the suite on every platform in turn; `interrupted` is asked while they run.
pub fn compare(
    o: &CompareOptions,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<PlatformResult>> {
    crate::host::need_root()?;
    if o.platforms.contains(&Platform::Container) && crate::host::which("unshare").is_none() {
        bail!("--platforms container needs `unshare` (util-linux)");
    }
    if o.platforms.contains(&Platform::Qemu) {
        let mut spec = crate::vm::GuestSpec::new();
        spec.image = o.image.clone();
        crate::vm::check_image(&spec)?;
        qemu::qemu_binary()?;
    }
    let per_platform = o.tasks.len() as u64 * o.rounds as u64;
    let pb = crate::progress::steps(per_platform * o.platforms.len() as u64, "hvbench");
    let mut out = Vec::new();
    for &p in &o.platforms {
        if interrupted() {
            bail!("interrupted by a signal");
        }
        pb.set_message(format!("hvbench {}", name(p)));
        let t0 = Instant::now();
        let mut label = name(p).to_string();
        let res = one(o, p, &mut label, &pb, interrupted);
        let wall_s = t0.elapsed().as_secs_f64();
        let (report, error) = match res {
            Ok((r, e)) => (r, e),
            Err(e) => (None, Some(format!("{e:#}"))),
        };
        if let Some(e) = &error {
            tracing::warn!("hvbench: {label}: {e}");
        }
        // Whatever happened, the bar moves on to the next platform.
        pb.set_position(per_platform * (out.len() as u64 + 1));
        out.push(PlatformResult {
            platform: p,
            label,
            report,
            error,
            wall_s,
        });
        if interrupted() {
            bail!("interrupted by a signal");
        }
    }
    pb.finish_and_clear();
    Ok(out)
}

fn name(p: Platform) -> &'static str {
    match p {
        Platform::Native => "native",
        Platform::Container => "container",
        Platform::Qemu => "qemu",
    }
}

/// `hvbench run`'s arguments for a platform.
fn run_args(o: &CompareOptions, label: &str, dir: &Path) -> Vec<String> {
    let tasks: Vec<&str> = o.tasks.iter().map(|t| t.name()).collect();
    let mut a = vec![
        "hvbench".to_string(),
        "run".into(),
        tasks.join(","),
        "--marker".into(),
        format!("{TIMER_IP}:{TIMER_PORT}"),
        "--platform".into(),
        label.into(),
        "--rounds".into(),
        o.rounds.to_string(),
        "--pi-digits".into(),
        o.sizes.pi_digits.to_string(),
        "--mem-mib".into(),
        o.sizes.mem_mib.to_string(),
        "--disk-mib".into(),
        o.sizes.disk_mib.to_string(),
        "--net-mib".into(),
        o.sizes.net_mib.to_string(),
        "--sleep-ms".into(),
        o.sizes.sleep_ms.to_string(),
        "--dir".into(),
        dir.to_string_lossy().to_string(),
    ];
    for (t, r, e) in &o.drop {
        a.push("--drop-marker".into());
        a.push(format!(
            "{}:{r}:{}",
            t.name(),
            if *e == Edge::Start { "start" } else { "end" }
        ));
    }
    a
}

/// One platform: its bed, the timer, the platform's run; the report, and an error that came
/// after the report if any.
fn one(
    o: &CompareOptions,
    p: Platform,
    label: &mut String,
    pb: &indicatif::ProgressBar,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<(Option<RunReport>, Option<String>)> {
    let bed = Bed::new(name(p))?;
    let work = Work(o.dir.join(format!(
        "vrouter-hvbench-{}-{}",
        std::process::id(),
        name(p)
    )));
    std::fs::create_dir(&work.0)
        .with_context(|| format!("making the work folder {}", work.0.display()))?;
    // The timer, listening before the platform starts.
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + o.timeout;
    let (tx, rx) = std::sync::mpsc::channel();
    let timer_ns = bed.timer.clone();
    let (stop2, pb2) = (Arc::clone(&stop), pb.clone());
    let timer_thread = std::thread::spawn(move || -> Result<timer::Log> {
        let f = std::fs::File::open(format!("/run/netns/{timer_ns}"))?;
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
            .with_context(|| format!("entering {timer_ns}"))?;
        let t = Timer::bind(SocketAddr::V4(SocketAddrV4::new(TIMER_IP, TIMER_PORT)));
        let t = match t {
            Ok(t) => {
                let _ = tx.send(Ok(()));
                t
            }
            Err(e) => {
                let _ = tx.send(Err(format!("{e:#}")));
                return Err(e);
            }
        };
        let stop_now = move || stop2.load(Ordering::Relaxed);
        let until = Until {
            runs: 1,
            idle: Duration::from_secs(u64::MAX / 4),
            deadline,
            stop: &stop_now,
        };
        t.collect(&until, &mut |m| {
            if matches!(m, Marker::End { .. }) {
                pb2.inc(1);
            }
        })
    });
    rx.recv()
        .map_err(|_| anyhow!("the timer thread ended early"))?
        .map_err(|e| anyhow!(e))?;
    let stop_timer = |stop: &AtomicBool| stop.store(true, Ordering::Relaxed);

    let started = start(o, p, &bed, &work, label, interrupted);
    let mut proc = match started {
        Ok(x) => x,
        Err(e) => {
            stop_timer(&stop);
            let _ = timer_thread.join();
            return Err(e);
        }
    };
    // Wait for the run to say done (the timer thread ends), the platform to exit (then a
    // moment for its last markers), the deadline or a signal.
    let mut gone_at = None::<Instant>;
    let mut why = None;
    while !timer_thread.is_finished() {
        if interrupted() {
            why = Some("interrupted by a signal".to_string());
            break;
        }
        if gone_at.is_none() && !proc.running() {
            gone_at = Some(Instant::now());
        }
        if gone_at.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
            why = Some(format!(
                "the {label} run ended before its done marker arrived: {}",
                log_tail(&work, p)
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop_timer(&stop);
    let log = timer_thread
        .join()
        .map_err(|_| anyhow!("the timer thread panicked"))??;
    if log.ended == timer::Ended::Deadline && why.is_none() {
        why = Some(format!(
            "not done within {} s (--timeout): {}",
            o.timeout.as_secs(),
            log_tail(&work, p)
        ));
    }
    drop(proc);
    let report = timer::pair(&log).into_iter().next();
    if report.is_none() && why.is_none() {
        why = Some(format!("no marker arrived: {}", log_tail(&work, p)));
    }
    Ok((report, why))
}

fn log_tail(work: &Work, p: Platform) -> String {
    let f = if p == Platform::Qemu {
        "console"
    } else {
        "run.log"
    };
    let t = qemu::console_tail(&work.0.join(f), 6);
    if t.is_empty() {
        "(no output)".into()
    } else {
        format!("its output ends:\n    {t}")
    }
}

/// Starts the platform's run.
fn start(
    o: &CompareOptions,
    p: Platform,
    bed: &Bed,
    work: &Work,
    label: &mut String,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Proc> {
    let exe = std::env::current_exe().context("finding this vrouter")?;
    let log = || std::fs::File::create(work.0.join("run.log")).context("run.log");
    match p {
        Platform::Native => {
            bed.address_subject()?;
            let args = run_args(o, label, &o.dir);
            Ok(Proc(spawn_in(&bed.subject, &exe, &args, log()?)?))
        }
        Platform::Container => {
            bed.address_subject()?;
            let mut args: Vec<String> = CONTAINER.map(String::from).to_vec();
            args.push(exe.to_string_lossy().to_string());
            args.extend(run_args(o, label, &o.dir));
            Ok(Proc(spawn_in(
                &bed.subject,
                Path::new("unshare"),
                &args,
                log()?,
            )?))
        }
        Platform::Qemu => start_guest(o, bed, work, label, interrupted),
    }
}

/// Boots the guest; under `--accel auto`, a guest that does not start its init under KVM is
/// booted again under TCG (as `vrouter vm up` does).
fn start_guest(
    o: &CompareOptions,
    bed: &Bed,
    work: &Work,
    label: &mut String,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Proc> {
    let tap = bed.tap()?;
    // The scratch disk: sparse, formatted by the guest.
    let scratch = work.0.join("scratch.img");
    let f = std::fs::File::create(&scratch)?;
    f.set_len((o.sizes.disk_mib + 64) << 20)?;
    drop(f);
    let mut accel = qemu::first_choice(o.accel);
    loop {
        *label = format!("qemu-{}", accel.name());
        let env = format!(
            "# written by vrouter hvbench compare\nROUTER=hvbench\nNAME=hvbench\nPORT0_MAC={GUEST_MAC}\nPORT0_ADDR=\"{SUBJECT_IP}/24\"\nHVBENCH_DISK=/dev/vda\nHVBENCH_ARGS=\"{}\"\n",
            run_args(o, label, Path::new("/mnt/scratch"))[2..].join(" ")
        );
        let base = std::fs::read(o.image.join("initrd.img"))
            .with_context(|| format!("reading {}", o.image.join("initrd.img").display()))?;
        let mut img = base;
        img.extend_from_slice(&crate::vm::cpio::archive_gz(&[crate::vm::cpio::Entry {
            path: "guest/guest.env",
            data: env.as_bytes(),
        }])?);
        let files = GuestFiles {
            kernel: o.image.join("vmlinuz"),
            initrd: work.0.join("guest.initrd"),
            disk: PathBuf::new(),
            config_disk: PathBuf::new(),
            console: work.0.join("console"),
            control: work.0.join("ctl.sock"),
        };
        std::fs::write(&files.initrd, img)?;
        let _ = std::fs::remove_file(&files.console);
        let guest = Guest {
            name: "hvbench".into(),
            memory_mib: (o.sizes.mem_mib as u32).saturating_add(256),
            nics: vec![(tap.clone(), GUEST_MAC.into())],
            nic_model: NicModel::Virtio,
            boot: Boot::Kernel,
            control_port: false,
        };
        let mut argv = qemu::argv(&guest, &files, accel);
        argv.push("-drive".into());
        argv.push(format!(
            "file={},format=raw,if=virtio,cache=writeback",
            scratch.display()
        ));
        let qlog = std::fs::File::create(work.0.join("qemu.log"))?;
        let mut proc = Proc(spawn_in(&bed.subject, &qemu::qemu_binary()?, &argv, qlog)?);
        let start_limit = if accel == Accel::Kvm {
            Duration::from_secs(25)
        } else {
            Duration::from_secs(150)
        };
        match qemu::wait_ready(
            &[proc.0.id()],
            std::slice::from_ref(&files.console),
            start_limit,
            Duration::from_secs(240),
            interrupted,
        ) {
            Wait::Ready => return Ok(proc),
            Wait::NoStart(_) if accel == Accel::Kvm && o.accel == Accel::Auto => {
                tracing::warn!("hvbench: the guest printed nothing from its init within 25 s under KVM (a paravirtual or nested KVM?); booting it under TCG");
                qemu::remember_kvm_hangs();
                drop(proc);
                accel = Accel::Tcg;
            }
            Wait::Stopped => bail!("interrupted by a signal while the guest booted"),
            w => {
                let running = proc.running();
                drop(proc);
                bail!(
                    "the guest did not come up ({w:?}{}); its console:\n    {}",
                    if running { "" } else { ", QEMU exited" },
                    qemu::console_tail(&files.console, 12)
                );
            }
        }
    }
}

/// `platform,task,round,...` rows of every round of `runs` (platform label, report).
pub fn csv<'a>(runs: impl IntoIterator<Item = (&'a str, &'a RunReport)>) -> String {
    let mut s = String::from(
        "platform,task,round,outside_s,claimed_s,ok,lost,datagrams_seen,datagrams_echoed,detail\n",
    );
    for (label, rep) in runs {
        for x in &rep.rounds {
            let f = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.6}"));
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},\"{}\"",
                label,
                x.task.name(),
                x.round,
                f(x.outside_s),
                f(x.guest_s),
                x.ok.map_or_else(String::new, |k| k.to_string()),
                x.lost.clone().unwrap_or_default(),
                x.seen,
                x.echoed,
                x.detail.replace('"', "'")
            );
        }
    }
    s
}

/// The summary table: per task, each platform's mean ± 95% CI on the outside clock and its
/// ratio to the first platform's (native, when it ran).
pub fn summary(results: &[PlatformResult], tasks: &[Task], sizes: &Sizes) -> String {
    let mut s = String::new();
    for &t in tasks {
        let _ = writeln!(s, "{} ({}):", t.name(), sizes.describe(t));
        let mut base = None;
        for r in results {
            let sum = r
                .report
                .as_ref()
                .and_then(|rep| rep.tasks.iter().find(|x| x.task == t));
            let Some(ts) = sum else {
                let _ = writeln!(
                    s,
                    "  {:<10} no result{}",
                    r.label,
                    r.error.as_ref().map_or(String::new(), |e| format!(
                        ": {}",
                        e.lines().next().unwrap_or("")
                    ))
                );
                continue;
            };
            let Some(o) = ts.outside else {
                let _ = writeln!(s, "  {:<10} no round paired", r.label);
                continue;
            };
            let ratio = match base {
                None => {
                    base = Some(o.mean);
                    "reference".to_string()
                }
                Some(b) => format!("{:.2}x the reference", o.mean / b),
            };
            let _ = write!(
                s,
                "  {:<10} {:>9.4} ± {:.4} s per round (n={}), {ratio}",
                r.label, o.mean, o.ci95, o.n
            );
            if let Some(m) = ts.mbps {
                let _ = write!(s, ", {:.1} Mb/s each way", m.mean);
            }
            if let Some(e) = ts.clock_error_pct {
                let _ = write!(s, ", own clock {e:+.2}%");
            }
            if ts.lost_rounds + ts.failed_rounds > 0 {
                let _ = write!(
                    s,
                    ", {} rounds with lost markers, {} failed",
                    ts.lost_rounds, ts.failed_rounds
                );
            }
            s.push('\n');
        }
    }
    for r in results {
        if let Some(rep) = &r.report {
            for l in &rep.lost {
                let _ = writeln!(s, "{}: lost {l}", r.label);
            }
        }
        if let (Some(e), Some(_)) = (&r.error, &r.report) {
            let _ = writeln!(s, "{}: {e}", r.label);
        }
    }
    s
}

/// The paper's Fig. 1: one panel per task, a bar per platform (mean seconds per round on the
/// outside clock, 95% CI; the network task in Mb/s).
pub fn chart(path: &Path, results: &[PlatformResult], tasks: &[Task], rounds: u32) -> Result<()> {
    use crate::measure::plot::{render_bars, BarPanel};
    let panels: Vec<BarPanel> = tasks
        .iter()
        .map(|&t| {
            let net = t == Task::Net;
            BarPanel {
                title: t.name().to_string(),
                y_label: if net {
                    "Mb/s each way".into()
                } else {
                    "s per round".into()
                },
                bars: results
                    .iter()
                    .map(|r| {
                        let ts = r
                            .report
                            .as_ref()
                            .and_then(|rep| rep.tasks.iter().find(|x| x.task == t));
                        let v = ts.and_then(|ts| if net { ts.mbps } else { ts.outside });
                        (
                            r.label.clone(),
                            v.map_or(f64::NAN, |v| v.mean),
                            v.map_or(0.0, |v| v.ci95),
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    render_bars(
        path,
        &format!("hvbench: per task and platform, outside clock, 95% CI ({rounds} rounds)"),
        &panels,
    )
}
