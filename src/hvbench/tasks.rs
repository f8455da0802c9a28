//! `hvbench run`: the tasks, each round a fixed amount of work whose result is checked,
//! bracketed by a start and an end marker to the outside timer.

use std::io::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::marker::{self, Marker};
use super::{pi, Sizes, Task};

/// Which marker of a round (for `--drop-marker`, which checks that a timer reports a lost one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    Start,
    End,
}

/// What `hvbench run` does.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub tasks: Vec<Task>,
    pub rounds: u32,
    pub sizes: Sizes,
    /// The timer's address.
    pub marker: SocketAddr,
    /// A name for the platform, carried to the timer (`native`, `container`, `qemu-tcg`, ...).
    pub platform: String,
    /// Where the disk task makes its own folder (it writes nothing else, and removes it).
    pub dir: PathBuf,
    /// Network datagrams in flight.
    pub window: u32,
    /// Markers not to send.
    pub drop: Vec<(Task, u32, Edge)>,
}

/// One round as the platform saw it (its own clock: what the timer is there to check).
#[derive(Clone, Debug)]
pub struct Round {
    pub task: Task,
    pub round: u32,
    pub own_s: f64,
    pub ok: bool,
    pub detail: String,
}

/// Runs every round of every task, markers around each; returns the rounds' outcomes.
pub fn run(o: &RunOptions, each: &mut dyn FnMut(&Round)) -> Result<Vec<Round>> {
    if o.rounds == 0 {
        bail!("--rounds 0: give at least 1");
    }
    let sock = UdpSocket::bind(match o.marker {
        SocketAddr::V4(_) => "0.0.0.0:0",
        SocketAddr::V6(_) => "[::]:0",
    })
    .context("opening the marker socket")?;
    sock.connect(o.marker)
        .with_context(|| format!("marker address {}", o.marker))?;
    let run_id: u64 = rand::random::<u64>() >> 1;
    let send = |m: &Marker| -> Result<()> {
        sock.send(&m.encode())
            .with_context(|| format!("sending a marker to {}", o.marker))?;
        Ok(())
    };
    send(&Marker::Hello {
        run: run_id,
        platform: o.platform.clone(),
        tasks: o.tasks.clone(),
        rounds: o.rounds,
        sizes: o.sizes.clone(),
    })?;
    // The first frame may wait for ARP; the first start marker should not.
    std::thread::sleep(Duration::from_millis(50));
    let dropped = |t: Task, r: u32, e: Edge| o.drop.contains(&(t, r, e));
    let mut out = Vec::new();
    let mut disk = None;
    for &task in &o.tasks {
        for round in 1..=o.rounds {
            if task == Task::Disk {
                let d = match disk.take() {
                    Some(d) => d,
                    None => Scratch::new(&o.dir)?,
                };
                d.settle()?;
                disk = Some(d);
            }
            let t0 = Instant::now();
            if !dropped(task, round, Edge::Start) {
                send(&Marker::Start {
                    run: run_id,
                    task,
                    round,
                })?;
            }
            let res = match task {
                Task::Cpu => cpu(o.sizes.pi_digits),
                Task::Mem => mem(o.sizes.mem_mib, round),
                Task::Disk => disk.as_ref().map_or_else(
                    || Err("no scratch folder".into()),
                    |d| d.write(o.sizes.disk_mib),
                ),
                Task::Net => net(&sock, run_id, round, o.sizes.net_mib, o.window),
                Task::Sleep => {
                    std::thread::sleep(Duration::from_millis(o.sizes.sleep_ms));
                    Ok(Outcome::text(format!("slept {} ms", o.sizes.sleep_ms)))
                }
            };
            let own = t0.elapsed();
            let (ok, detail, echoed) = match res {
                Ok(x) => (true, x.detail, x.echoed),
                Err(e) => (false, e, 0),
            };
            if !dropped(task, round, Edge::End) {
                send(&Marker::End {
                    run: run_id,
                    task,
                    round,
                    guest_ns: own.as_nanos() as u64,
                    ok,
                    detail: detail.clone(),
                    echoed,
                })?;
            }
            let r = Round {
                task,
                round,
                own_s: own.as_secs_f64(),
                ok,
                detail,
            };
            each(&r);
            out.push(r);
        }
    }
    drop(disk);
    let failed = out.iter().filter(|r| !r.ok).count() as u32;
    send(&Marker::Done {
        run: run_id,
        failed,
    })?;
    Ok(out)
}

/// What a round produced.
struct Outcome {
    detail: String,
    echoed: u64,
}

impl Outcome {
    fn text(detail: String) -> Outcome {
        Outcome { detail, echoed: 0 }
    }
}

fn cpu(digits: u64) -> Result<Outcome, String> {
    let p = pi::compute(digits)?;
    Ok(Outcome::text(format!(
        "{digits} digits in {} iterations, first {} decimals checked",
        p.iterations, p.checked
    )))
}

/// The word written at index `i` of memory round `round`: every word differs from its
/// neighbours and from the previous round's.
fn pattern(i: usize, round: u32) -> u64 {
    (i as u64 ^ ((round as u64) << 40)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Writes the pattern over `buf`.
pub fn fill(buf: &mut [u64], round: u32) {
    for (i, w) in buf.iter_mut().enumerate() {
        *w = pattern(i, round);
    }
}

/// Reads `buf` back: the first index that does not hold the pattern.
pub fn check(buf: &[u64], round: u32) -> Option<usize> {
    buf.iter()
        .enumerate()
        .find(|&(i, &w)| w != pattern(i, round))
        .map(|(i, _)| i)
}

fn mem(mib: u64, round: u32) -> Result<Outcome, String> {
    let words = (mib as usize) << 17;
    let mut buf: Vec<u64> = Vec::new();
    buf.try_reserve_exact(words)
        .map_err(|e| format!("allocating {mib} MiB: {e}"))?;
    buf.resize(words, 0);
    fill(&mut buf, round);
    // The writes must reach memory: the compiler may not see that the check reads them back.
    let buf = std::hint::black_box(buf);
    match check(&buf, round) {
        None => Ok(Outcome::text(format!(
            "{words} words written and read back"
        ))),
        Some(i) => Err(format!("word {i} of {words} read back wrong")),
    }
}

/// The disk task's own folder: made by it, emptied and removed when dropped.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(parent: &Path) -> Result<Scratch> {
        let dir = parent.join(format!(
            "vrouter-hvbench-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir(&dir)
            .with_context(|| format!("making the disk task's folder {}", dir.display()))?;
        Ok(Scratch { dir })
    }

    /// Between rounds: a small marker file, synced, then every buffered write on the system,
    /// so that the next round counts its own writes only.
    fn settle(&self) -> Result<()> {
        let mut f = std::fs::File::create(self.dir.join("settle"))?;
        f.write_all(&[0x5a; 64])?;
        f.sync_all()?;
        nix::unistd::sync();
        Ok(())
    }

    fn write(&self, mib: u64) -> Result<Outcome, String> {
        let path = self.dir.join("zfg");
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut f = std::fs::File::create(&path).map_err(io)?;
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..mib {
            f.write_all(&zeros).map_err(io)?;
        }
        f.sync_all().map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        if len != mib << 20 {
            return Err(format!(
                "{} holds {len} bytes, not {}",
                path.display(),
                mib << 20
            ));
        }
        Ok(Outcome::text(format!("{mib} MiB written and synced")))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for f in ["zfg", "settle"] {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            tracing::warn!("hvbench: removing {}: {e}", self.dir.display());
        }
    }
}

/// Sends `mib` of 1472-byte datagrams to the timer, which echoes each back, with at most
/// `window` in flight; a window that gets no answer for 200 ms counts as lost.
fn net(sock: &UdpSocket, run: u64, round: u32, mib: u64, window: u32) -> Result<Outcome, String> {
    let count = ((mib << 20) as usize).div_ceil(marker::PAYLOAD) as u32;
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let (mut sent, mut inflight, mut echoed, mut lost, mut bad) = (0u32, 0u32, 0u64, 0u64, 0u64);
    let mut buf = [0u8; 2048];
    while sent < count || inflight > 0 {
        while inflight < window.max(1) && sent < count {
            match sock.send(&marker::data(run, round, sent)) {
                Ok(_) => {
                    sent += 1;
                    inflight += 1;
                }
                // A full socket buffer: let the echoes catch up.
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => break,
                Err(e) => return Err(format!("sending: {e}")),
            }
        }
        match sock.recv(&mut buf) {
            Ok(n) => match marker::parse_data(&buf[..n]) {
                Some((r, k, seq)) if r == run && k == round => {
                    if buf[..n] == marker::data(run, round, seq) {
                        echoed += 1;
                    } else {
                        bad += 1;
                    }
                    inflight = inflight.saturating_sub(1);
                }
                _ => {}
            },
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                lost += inflight as u64;
                inflight = 0;
            }
            // The timer is not listening (ICMP port unreachable): nothing will come back.
            Err(e) => return Err(format!("receiving echoes: {e}")),
        }
    }
    if bad > 0 {
        return Err(format!("{bad} of {count} datagrams came back altered"));
    }
    Ok(Outcome {
        detail: format!("{echoed} of {count} datagrams echoed, {lost} lost"),
        echoed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_pattern_reads_back_and_a_changed_word_is_found() {
        let mut buf = vec![0u64; 1 << 16];
        fill(&mut buf, 3);
        assert_eq!(check(&buf, 3), None);
        // Another round's pattern differs everywhere.
        assert_eq!(check(&buf, 4), Some(0));
        buf[40_000] ^= 1 << 17;
        assert_eq!(check(&buf, 3), Some(40_000));
        assert!(mem(4, 1).is_ok());
    }

    #[test]
    fn the_disk_task_writes_its_file_and_leaves_nothing() {
        let parent = tempfile::tempdir().unwrap();
        {
            let s = Scratch::new(parent.path()).unwrap();
            s.settle().unwrap();
            let o = s.write(3).unwrap();
            assert!(o.detail.contains("3 MiB"), "{}", o.detail);
            assert_eq!(std::fs::metadata(s.dir.join("zfg")).unwrap().len(), 3 << 20);
        }
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }
}
