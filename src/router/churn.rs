//! Route churn into a running router: the changes of a BGP update stream (MRT BGP4MP or
//! `bgpdump -m` text) sent as `route-add` / `route-del` requests over the control socket, in
//! file order, paced, for a bounded time, the file looped if asked (`vrouter ctl routes
//! replay`). Forwarding goes on meanwhile: every change is one atomic FIB update. Used by the
//! soak test, and by operators to see a router under a real update load.
//!
//! A withdrawal of a prefix the table does not hold (the stream was recorded against another
//! table) is counted, not an error; so is a change the router refuses for a reason of its own
//! (a connected prefix). Anything else (the router gone, a timeout) stops the replay with the
//! count of changes made so far.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use fib::source::{relocate, Change, Event};
use ipnet::IpNet;
use serde::Serialize;

use super::client;
use super::proto::Request;

/// How a stream is replayed.
#[derive(Clone, Debug)]
pub struct ChurnOptions {
    /// Announced next hops map onto ids 0..nexthops (as the loaders map them).
    pub nexthops: u32,
    /// Move prefixes into 240.0.0.0/4 and 3fff::/20 first (lab routers, whose traffic goes
    /// there); prefixes too long to move are skipped.
    pub relocate: bool,
    /// Changes per second at most.
    pub rate: f64,
    /// Stop after this long, whatever is left.
    pub duration: Duration,
    /// Start the stream again when it ends (until `duration`).
    pub repeat: bool,
    /// Per request.
    pub timeout: Duration,
}

/// What a replay did.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ChurnReport {
    pub announced: u64,
    pub withdrawn: u64,
    /// Withdrawals of prefixes the table did not hold.
    pub absent: u64,
    /// Changes the router refused for a reason of its own (connected prefixes), and prefixes
    /// too long to relocate.
    pub refused: u64,
    /// Whole passes over the stream.
    pub passes: u64,
    pub seconds: f64,
    pub changes_per_second: f64,
}

/// The changes of `events` as (prefix, next hop for an announcement), prepared once.
fn changes(events: &[Event], o: &ChurnOptions) -> (Vec<(IpNet, Option<u32>)>, u64) {
    let mut unfit = 0;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let (p, nh) = match &e.change {
            Change::Announce(r) => (r.prefix, Some(r.value.next_hop(&r.prefix, o.nexthops))),
            Change::Withdraw(p) => (*p, None),
        };
        let p = if o.relocate {
            match relocate::prefix(p) {
                Some(p) => p,
                None => {
                    unfit += 1;
                    continue;
                }
            }
        } else {
            p
        };
        out.push((p.trunc(), nh));
    }
    (out, unfit)
}

/// Replays `events` into router `router` (the first one: `None`) at `socket` until the stream
/// ends (or `duration` passes, with `repeat`) or `stop` is set.
pub fn churn(
    socket: &Path,
    router: Option<String>,
    events: &[Event],
    o: &ChurnOptions,
    stop: &AtomicBool,
) -> Result<ChurnReport> {
    if !(o.rate > 0.0 && o.rate <= 1e6) {
        bail!("--rate: {} must be changes per second in (0, 1e6]", o.rate);
    }
    let (changes, unfit) = changes(events, o);
    if changes.is_empty() {
        bail!("no route changes to replay (an update file holds announcements and withdrawals)");
    }
    let mut rep = ChurnReport {
        refused: unfit,
        ..ChurnReport::default()
    };
    let start = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / o.rate);
    let mut due = start;
    'stream: loop {
        for (p, nh) in &changes {
            if start.elapsed() >= o.duration || stop.load(Relaxed) {
                break 'stream;
            }
            due += gap;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let req = match nh {
                Some(nh) => Request::RouteAdd {
                    router: router.clone(),
                    prefix: p.to_string(),
                    nexthop: *nh,
                },
                None => Request::RouteDel {
                    router: router.clone(),
                    prefix: p.to_string(),
                },
            };
            match client::call_raw_within(socket, &req, o.timeout) {
                Ok(_) if nh.is_some() => rep.announced += 1,
                Ok(_) => rep.withdrawn += 1,
                Err(e) => {
                    let msg = format!("{e:#}");
                    if msg.contains("is not in router") {
                        rep.absent += 1;
                    } else if msg.contains("is the connected route") {
                        rep.refused += 1;
                    } else {
                        bail!(
                            "after {} changes: {msg}",
                            rep.announced + rep.withdrawn + rep.absent
                        );
                    }
                }
            }
        }
        rep.passes += 1;
        if !o.repeat {
            break;
        }
    }
    rep.seconds = start.elapsed().as_secs_f64();
    rep.changes_per_second =
        (rep.announced + rep.withdrawn + rep.absent) as f64 / rep.seconds.max(1e-9);
    Ok(rep)
}
