//! `hvbench timer`: the outside clock. Each marker is stamped by this host's kernel when it
//! arrives (`SO_TIMESTAMPNS`: the stamp does not wait for this process to be scheduled), the
//! network task's datagrams are echoed and counted, and the markers are paired by (run, task,
//! round): a round whose start or end marker was lost is reported as such and left out of the
//! figures, never paired with a neighbour's marker.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::marker::{self, Marker};
use super::{Sizes, Task};
use crate::measure::stats::Summary;

/// A marker and when it arrived (ns of this host's realtime clock, stamped by the kernel).
#[derive(Clone, Debug)]
pub struct Arrival {
    pub at_ns: i128,
    pub marker: Marker,
}

/// When to stop listening.
pub struct Until<'a> {
    /// After this many runs said done.
    pub runs: usize,
    /// After this long without a marker, once one has arrived.
    pub idle: Duration,
    /// In any case at this instant.
    pub deadline: Instant,
    /// Asked between datagrams (an interrupt, or the platform under test is gone).
    pub stop: &'a (dyn Fn() -> bool + Sync),
}

/// Why listening ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ended {
    /// Every expected run said done.
    Done,
    /// Nothing arrived for the idle time.
    Idle,
    /// The deadline passed.
    Deadline,
    /// The caller said stop.
    Stopped,
}

/// What the timer heard.
#[derive(Clone, Debug)]
pub struct Log {
    pub arrivals: Vec<Arrival>,
    /// Network datagrams seen (and echoed) per (run, round).
    pub data: HashMap<(u64, u32), u64>,
    pub ended: Ended,
}

/// The timer's socket.
pub struct Timer {
    sock: UdpSocket,
}

impl Timer {
    /// Listens on `addr` (port 0: any).
    pub fn bind(addr: SocketAddr) -> Result<Timer> {
        let sock = UdpSocket::bind(addr).with_context(|| format!("timer: binding {addr}"))?;
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
            .context("timer: asking for kernel receive timestamps")?;
        // Room for a burst of echoes' worth of datagrams while a marker is handled.
        let _ = nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::RcvBuf, &(4 << 20));
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        Ok(Timer { sock })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.sock.local_addr()?)
    }

    /// Listens until `until` says stop; `seen` is called with each marker as it arrives.
    pub fn collect(&self, until: &Until, seen: &mut dyn FnMut(&Marker)) -> Result<Log> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
        let mut log = Log {
            arrivals: Vec::new(),
            data: HashMap::new(),
            ended: Ended::Deadline,
        };
        let mut done = std::collections::HashSet::new();
        let mut last = None::<Instant>;
        let mut buf = vec![0u8; 65536];
        loop {
            if (until.stop)() {
                log.ended = Ended::Stopped;
                break;
            }
            if Instant::now() >= until.deadline {
                log.ended = Ended::Deadline;
                break;
            }
            if last.is_some_and(|t| t.elapsed() >= until.idle) {
                log.ended = Ended::Idle;
                break;
            }
            let (n, at_ns, from) = {
                let mut iov = [std::io::IoSliceMut::new(&mut buf)];
                let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
                let msg = match recvmsg::<SockaddrStorage>(
                    self.sock.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::empty(),
                ) {
                    Ok(m) => m,
                    Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(e).context("timer: receiving"),
                };
                let mut at = None;
                for c in msg.cmsgs().into_iter().flatten() {
                    if let ControlMessageOwned::ScmTimestampns(ts) = c {
                        at = Some(ts.tv_sec() as i128 * 1_000_000_000 + ts.tv_nsec() as i128);
                    }
                }
                let from = msg.address.and_then(|a| {
                    a.as_sockaddr_in()
                        .map(|s| SocketAddr::V4((*s).into()))
                        .or_else(|| a.as_sockaddr_in6().map(|s| SocketAddr::V6((*s).into())))
                });
                (msg.bytes, at.unwrap_or_else(realtime_ns), from)
            };
            let b = &buf[..n];
            if let Some((run, round, _)) = marker::parse_data(b) {
                *log.data.entry((run, round)).or_default() += 1;
                if let Some(from) = from {
                    // An echo that cannot go out is a loss the sender counts.
                    let _ = self.sock.send_to(b, from);
                }
                continue;
            }
            let Some(m) = Marker::decode(b) else {
                continue;
            };
            last = Some(Instant::now());
            seen(&m);
            if let Marker::Done { run, .. } = m {
                done.insert(run);
            }
            log.arrivals.push(Arrival { at_ns, marker: m });
            if done.len() >= until.runs {
                log.ended = Ended::Done;
                break;
            }
        }
        Ok(log)
    }
}

fn realtime_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// One round as the outside clock saw it.
#[derive(Clone, Debug, Serialize)]
pub struct RoundReport {
    pub task: Task,
    pub round: u32,
    /// Seconds between the markers' arrivals; `None` when one was lost.
    pub outside_s: Option<f64>,
    /// The platform's own claim (from its end marker).
    pub guest_s: Option<f64>,
    pub ok: Option<bool>,
    pub detail: String,
    /// Network task: datagrams the timer saw, and those the platform got back.
    pub seen: u64,
    pub echoed: u64,
    /// What was lost of this round's markers, if anything.
    pub lost: Option<String>,
}

/// A task's figures over its rounds.
#[derive(Clone, Debug, Serialize)]
pub struct TaskSummary {
    pub task: Task,
    /// Seconds per round on the outside clock (paired rounds whose result checked out).
    pub outside: Option<Summary>,
    /// The platform's own claim for the same rounds.
    pub guest: Option<Summary>,
    /// How far the platform's clock is off, (claimed − outside) / outside, in %, averaged over
    /// the rounds: the distortion the paper warns of.
    pub clock_error_pct: Option<f64>,
    /// Network task: UDP payload Mb/s each way, on the outside clock.
    pub mbps: Option<Summary>,
    /// Rounds left out: a marker lost, or a result that did not check out.
    pub lost_rounds: usize,
    pub failed_rounds: usize,
}

/// A run, paired.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub run: u64,
    pub platform: String,
    pub sizes: Option<Sizes>,
    pub rounds: Vec<RoundReport>,
    pub tasks: Vec<TaskSummary>,
    /// Lost markers, in words.
    pub lost: Vec<String>,
    pub done: bool,
}

/// Pairs a log's markers into runs and rounds.
pub fn pair(log: &Log) -> Vec<RunReport> {
    let mut order = Vec::new();
    let mut by_run: HashMap<u64, Vec<&Arrival>> = HashMap::new();
    for a in &log.arrivals {
        let run = a.marker.run();
        if !by_run.contains_key(&run) {
            order.push(run);
        }
        by_run.entry(run).or_default().push(a);
    }
    order
        .into_iter()
        .map(|run| pair_run(run, &by_run[&run], &log.data))
        .collect()
}

fn pair_run(run: u64, arrivals: &[&Arrival], data: &HashMap<(u64, u32), u64>) -> RunReport {
    let mut lost = Vec::new();
    let hello = arrivals.iter().find_map(|a| match &a.marker {
        Marker::Hello {
            platform,
            tasks,
            rounds,
            sizes,
            ..
        } => Some((platform.clone(), tasks.clone(), *rounds, sizes.clone())),
        _ => None,
    });
    // The rounds to expect: the hello's, or (when it was lost) those any marker names.
    let mut expected: BTreeMap<(usize, u32), Task> = BTreeMap::new();
    let task_index = |tasks: &[Task], t: Task| tasks.iter().position(|&x| x == t);
    let (platform, tasks, sizes) = match hello {
        Some((p, tasks, rounds, sizes)) => {
            for (i, &t) in tasks.iter().enumerate() {
                for r in 1..=rounds {
                    expected.insert((i, r), t);
                }
            }
            (p, tasks, Some(sizes))
        }
        None => {
            lost.push("the hello marker (the run's tasks and sizes are unknown)".to_string());
            ("unknown".to_string(), Vec::new(), None)
        }
    };
    let mut tasks = tasks;
    let mut starts: HashMap<(Task, u32), i128> = HashMap::new();
    let mut ends: HashMap<(Task, u32), (i128, &Marker)> = HashMap::new();
    let mut done = false;
    for a in arrivals {
        match &a.marker {
            Marker::Start { task, round, .. } => {
                starts.entry((*task, *round)).or_insert(a.at_ns);
            }
            Marker::End { task, round, .. } => {
                ends.entry((*task, *round)).or_insert((a.at_ns, &a.marker));
            }
            Marker::Done { .. } => done = true,
            Marker::Hello { .. } => {}
        }
        if let Marker::Start { task, round, .. } | Marker::End { task, round, .. } = &a.marker {
            if task_index(&tasks, *task).is_none() {
                tasks.push(*task);
            }
            let i = task_index(&tasks, *task).unwrap_or(0);
            expected.entry((i, *round)).or_insert(*task);
        }
    }
    if !done {
        lost.push("the done marker (the run may have stopped early)".to_string());
    }
    let mut rounds = Vec::new();
    for (&(_, round), &task) in &expected {
        let s = starts.get(&(task, round)).copied();
        let e = ends.get(&(task, round));
        let (mut ok, mut detail, mut guest_s, mut echoed) = (None, String::new(), None, 0);
        if let Some((
            _,
            Marker::End {
                guest_ns,
                ok: k,
                detail: d,
                echoed: x,
                ..
            },
        )) = e
        {
            ok = Some(*k);
            detail = d.clone();
            guest_s = Some(*guest_ns as f64 / 1e9);
            echoed = *x;
        }
        let what = match (s.is_some(), e.is_some()) {
            (true, true) => None,
            (false, true) => Some("start marker lost"),
            (true, false) => Some("end marker lost"),
            (false, false) => Some("both markers lost"),
        };
        if let Some(w) = what {
            lost.push(format!("{} round {round}: {w}", task.name()));
        }
        let outside_s = match (s, e) {
            (Some(s), Some((e, _))) => Some((*e - s) as f64 / 1e9),
            _ => None,
        };
        rounds.push(RoundReport {
            task,
            round,
            outside_s,
            guest_s,
            ok,
            detail,
            seen: data.get(&(run, round)).copied().unwrap_or(0),
            echoed,
            lost: what.map(str::to_string),
        });
    }
    let summaries = tasks.iter().map(|&t| summarize(t, &rounds)).collect();
    RunReport {
        run,
        platform,
        sizes,
        rounds,
        tasks: summaries,
        lost,
        done,
    }
}

fn summarize(task: Task, rounds: &[RoundReport]) -> TaskSummary {
    let mine: Vec<&RoundReport> = rounds.iter().filter(|r| r.task == task).collect();
    let good: Vec<&RoundReport> = mine
        .iter()
        .copied()
        .filter(|r| r.outside_s.is_some() && r.ok == Some(true))
        .collect();
    let outside: Vec<f64> = good.iter().filter_map(|r| r.outside_s).collect();
    let guest: Vec<f64> = good.iter().filter_map(|r| r.guest_s).collect();
    let errs: Vec<f64> = good
        .iter()
        .filter_map(|r| Some((r.guest_s? - r.outside_s?) / r.outside_s? * 100.0))
        .collect();
    let mbps: Vec<f64> = if task == Task::Net {
        good.iter()
            .filter_map(|r| Some(r.seen as f64 * marker::PAYLOAD as f64 * 8.0 / r.outside_s? / 1e6))
            .collect()
    } else {
        Vec::new()
    };
    TaskSummary {
        task,
        outside: Summary::of(&outside),
        guest: Summary::of(&guest),
        clock_error_pct: (!errs.is_empty()).then(|| errs.iter().sum::<f64>() / errs.len() as f64),
        mbps: Summary::of(&mbps),
        lost_rounds: mine.iter().filter(|r| r.lost.is_some()).count(),
        failed_rounds: mine.iter().filter(|r| r.ok == Some(false)).count(),
    }
}

/// The reports as a reader wants them: per round, then per task with the 95% interval.
pub fn render(reports: &[RunReport]) -> String {
    let mut s = String::new();
    for r in reports {
        let _ = writeln!(
            s,
            "run {:x} on {}{}",
            r.run,
            r.platform,
            if r.done { "" } else { " (not done)" }
        );
        let _ = writeln!(
            s,
            "  {:<6} {:>5} {:>12} {:>12} {:>8}  result",
            "task", "round", "outside s", "claimed s", "clock %"
        );
        for x in &r.rounds {
            let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
            let err = match (x.outside_s, x.guest_s) {
                (Some(o), Some(g)) if o > 0.0 => format!("{:+.2}", (g - o) / o * 100.0),
                _ => "-".to_string(),
            };
            let res = match (&x.lost, x.ok) {
                (Some(l), _) => l.clone(),
                (None, Some(true)) => x.detail.clone(),
                (None, _) => format!("FAILED: {}", x.detail),
            };
            let _ = writeln!(
                s,
                "  {:<6} {:>5} {:>12} {:>12} {:>8}  {res}",
                x.task.name(),
                x.round,
                f(x.outside_s),
                f(x.guest_s),
                err
            );
        }
        for t in &r.tasks {
            let Some(o) = t.outside else {
                let _ = writeln!(s, "  {}: no round paired", t.task.name());
                continue;
            };
            let _ = write!(
                s,
                "  {}: {:.4} ± {:.4} s per round (95% CI, n={}) on the outside clock",
                t.task.name(),
                o.mean,
                o.ci95,
                o.n
            );
            if let Some(e) = t.clock_error_pct {
                let _ = write!(s, "; the platform's own clock says {e:+.2}%");
            }
            if let Some(m) = t.mbps {
                let _ = write!(s, "; {:.1} ± {:.1} Mb/s each way", m.mean, m.ci95);
            }
            if t.lost_rounds + t.failed_rounds > 0 {
                let _ = write!(
                    s,
                    "; left out: {} with a lost marker, {} failed",
                    t.lost_rounds, t.failed_rounds
                );
            }
            s.push('\n');
        }
        for l in &r.lost {
            let _ = writeln!(s, "  lost: {l}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i128, marker: Marker) -> Arrival {
        Arrival {
            at_ns: ms * 1_000_000,
            marker,
        }
    }

    fn start(round: u32) -> Marker {
        Marker::Start {
            run: 1,
            task: Task::Cpu,
            round,
        }
    }

    fn end(round: u32, claimed_ms: u64) -> Marker {
        Marker::End {
            run: 1,
            task: Task::Cpu,
            round,
            guest_ns: claimed_ms * 1_000_000,
            ok: true,
            detail: "ok".into(),
            echoed: 0,
        }
    }

    #[test]
    fn a_lost_end_marker_is_reported_and_never_paired_with_the_next_round() {
        let hello = Marker::Hello {
            run: 1,
            platform: "p".into(),
            tasks: vec![Task::Cpu],
            rounds: 3,
            sizes: Sizes::quick(),
        };
        let log = Log {
            arrivals: vec![
                at(0, hello),
                at(10, start(1)),
                at(110, end(1, 100)),
                at(120, start(2)),
                // round 2's end lost
                at(240, start(3)),
                at(340, end(3, 90)),
                at(341, Marker::Done { run: 1, failed: 0 }),
            ],
            data: HashMap::new(),
            ended: Ended::Done,
        };
        let r = &pair(&log)[0];
        assert_eq!(r.rounds.len(), 3);
        assert_eq!(r.rounds[0].outside_s, Some(0.1));
        assert_eq!(r.rounds[1].outside_s, None);
        assert_eq!(r.rounds[1].lost.as_deref(), Some("end marker lost"));
        assert_eq!(r.rounds[2].outside_s, Some(0.1));
        assert_eq!(r.lost, vec!["cpu round 2: end marker lost".to_string()]);
        let t = &r.tasks[0];
        let o = t.outside.unwrap();
        assert_eq!((o.n, o.mean), (2, 0.1));
        assert_eq!(t.lost_rounds, 1);
        // Claimed 100 and 90 ms against 100 measured: -5% on average.
        assert!((t.clock_error_pct.unwrap() + 5.0).abs() < 1e-9);
        assert!(render(&pair(&log)).contains("end marker lost"));
    }

    #[test]
    fn a_lost_start_hello_and_done_are_each_named() {
        let log = Log {
            arrivals: vec![at(5, end(1, 5)), at(10, start(2)), at(20, end(2, 10))],
            data: HashMap::new(),
            ended: Ended::Idle,
        };
        let r = &pair(&log)[0];
        assert_eq!(r.rounds[0].lost.as_deref(), Some("start marker lost"));
        assert_eq!(r.rounds[1].outside_s, Some(0.01));
        assert!(!r.done);
        assert_eq!(r.lost.len(), 3, "{:?}", r.lost);
    }
}
