//! The server side of the control socket ([`super::proto`]): binds the socket (mode 0600,
//! never over a live instance), answers requests against the live tables and counters.
//! Table changes go through the FIB writers, so forwarding never waits for them.

use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use dataplane::pipeline::DropReason;
use dataplane::worker::{PortCounters, RouterCounters, WorkerCounters};
use fib::source::{LoadOptions, RouteSet};
use fib::{FibWriter, Key, Update};
use ipnet::IpNet;

use super::proto::{
    Changed, Empty, Envelope, Loaded, Lookup, PortStats, Request, Response, RouterStats, Stats,
    WorkerStats,
};

/// What the control thread keeps per router.
pub struct Control {
    pub name: String,
    pub nexthops: u32,
    pub v4: FibWriter<u32>,
    pub v6: FibWriter<u128>,
    /// One set per queue (shard) of the router; stats add them up.
    pub counters: Vec<Arc<RouterCounters>>,
}

/// Binds the control socket (mode 0600), replacing a stale one but never a live one.
pub fn bind(path: &Path) -> Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            bail!(
                "{}: another vrouter is running on this control socket (use --socket)",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove stale {}", path.display()))?;
    }
    let l = UnixListener::bind(path).with_context(|| format!("cannot bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Every router's, port's and worker's counters, summed over queues.
pub fn stats(controls: &[Control], workers: &[(String, Arc<WorkerCounters>)]) -> Stats {
    let routers = controls
        .iter()
        .map(|c| {
            // Counters of all the router's queues, added up.
            let sum = |f: &dyn Fn(&RouterCounters) -> &AtomicU64| -> u64 {
                c.counters.iter().map(|k| f(k).load(Relaxed)).sum()
            };
            let dropped = DropReason::ALL
                .iter()
                .enumerate()
                .map(|(i, r)| (r, sum(&|k: &RouterCounters| &k.drops[i])))
                .filter(|(_, n)| *n > 0)
                .map(|(r, n)| (r.name().to_string(), n))
                .collect();
            let nports = c.counters.first().map_or(0, |k| k.ports.len());
            let ports = (0..nports)
                .map(|p| {
                    let f = |g: fn(&PortCounters) -> &AtomicU64| {
                        sum(&|k: &RouterCounters| g(&k.ports[p]))
                    };
                    PortStats {
                        rx_packets: f(|p| &p.rx_packets),
                        rx_bytes: f(|p| &p.rx_bytes),
                        tx_packets: f(|p| &p.tx_packets),
                        tx_bytes: f(|p| &p.tx_bytes),
                        tx_dropped: f(|p| &p.tx_dropped),
                        rx_dropped: f(|p| &p.rx_dropped),
                    }
                })
                .collect();
            RouterStats {
                name: c.name.clone(),
                queues: c.counters.len(),
                frames_in: sum(&|k| &k.frames_in),
                forwarded: sum(&|k| &k.forwarded),
                answered: sum(&|k| &k.answered),
                icmp_errors: sum(&|k| &k.icmp_errors),
                held: sum(&|k| &k.held),
                released: sum(&|k| &k.released),
                hold_dropped: sum(&|k| &k.hold_dropped),
                dropped,
                ports,
                routes_v4: c.v4.load().len(),
                routes_v6: c.v6.load().len(),
            }
        })
        .collect();
    let ghz = crate::host::cpu_ghz();
    let workers = workers
        .iter()
        .map(|(name, w)| {
            let packets = w.packets.load(Relaxed);
            let ns = w.busy_ns.load(Relaxed) as f64 / packets.max(1) as f64;
            WorkerStats {
                name: name.clone(),
                packets,
                busy_polls: w.busy_polls.load(Relaxed),
                idle_polls: w.idle_polls.load(Relaxed),
                sleeps: w.sleeps.load(Relaxed),
                ns_per_packet: ns,
                cycles_per_packet: ghz.map(|g| ns * g),
                pinned: w.pinned.load(Relaxed),
            }
        })
        .collect();
    Stats { routers, workers }
}

/// Answers one connection's request.
pub fn serve(
    s: UnixStream,
    controls: &mut [Control],
    workers: &[(String, Arc<WorkerCounters>)],
    stop: &AtomicBool,
) -> Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line)?;
    let res = serde_json::from_str::<Request>(&line)
        .map_err(|e| anyhow!("bad request: {e}"))
        .and_then(|req| handle(req, controls, workers, stop));
    let answer = Envelope::of(res.map_err(|e| format!("{e:#}")));
    let mut w = &s;
    writeln!(w, "{}", serde_json::to_string(&answer)?)?;
    Ok(())
}

/// The router a request names (the first one when it names none).
fn router<'a>(controls: &'a mut [Control], name: Option<&str>) -> Result<&'a mut Control> {
    match name {
        None => controls.first_mut().ok_or_else(|| anyhow!("no routers")),
        Some(n) => controls
            .iter_mut()
            .find(|c| c.name == n)
            .ok_or_else(|| anyhow!("no router named `{n}`")),
    }
}

fn parse_prefix(s: &str) -> Result<IpNet> {
    s.parse().map_err(|_| anyhow!("`{s}` is not a prefix"))
}

/// Adds (`nh` given) or removes a route.
fn change(c: &mut Control, prefix: IpNet, nh: Option<u32>) -> Result<()> {
    fn update<K: Key>(key: K, len: u8, nh: Option<u32>) -> Update<K> {
        match nh {
            Some(nh) => Update::Insert { key, len, nh },
            None => Update::Remove { key, len },
        }
    }
    match prefix.trunc() {
        IpNet::V4(p) => {
            let (key, len) = u32::from_net(p);
            c.v4.apply(&[update(key, len, nh)])?;
        }
        IpNet::V6(p) => {
            let (key, len) = u128::from_net(p);
            c.v6.apply(&[update(key, len, nh)])?;
        }
    }
    Ok(())
}

pub fn handle(
    req: Request,
    controls: &mut [Control],
    workers: &[(String, Arc<WorkerCounters>)],
    stop: &AtomicBool,
) -> Result<Response> {
    let name = req.router().map(str::to_string);
    match req {
        Request::Stats => Ok(Response::Stats(stats(controls, workers))),
        Request::Shutdown => {
            stop.store(true, Relaxed);
            Ok(Response::Empty(Empty {}))
        }
        Request::RouteAdd {
            prefix, nexthop, ..
        } => {
            let c = router(controls, name.as_deref())?;
            let prefix = parse_prefix(&prefix)?;
            if nexthop >= c.nexthops {
                bail!("next hop {nexthop} is not below nexthops = {}", c.nexthops);
            }
            change(c, prefix, Some(nexthop))?;
            Ok(Response::Changed(Changed {
                router: c.name.clone(),
            }))
        }
        Request::RouteDel { prefix, .. } => {
            let c = router(controls, name.as_deref())?;
            change(c, parse_prefix(&prefix)?, None)?;
            Ok(Response::Changed(Changed {
                router: c.name.clone(),
            }))
        }
        Request::RoutesLoad { file, lenient, .. } => {
            let c = router(controls, name.as_deref())?;
            let opts = LoadOptions {
                lenient,
                ..LoadOptions::default()
            };
            let set: RouteSet = fib::source::load(&file, &opts, &mut |_, _| {})?;
            let (t4, t6) = set.tables(c.nexthops)?;
            let (n4, n6) = (t4.len(), t6.len());
            // Atomic swap: forwarding continues on the old tables until this instant.
            c.v4.replace(t4);
            c.v6.replace(t6);
            Ok(Response::Loaded(Loaded {
                router: c.name.clone(),
                routes_v4: n4,
                routes_v6: n6,
            }))
        }
        Request::Lookup { addr, .. } => {
            let c = router(controls, name.as_deref())?;
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| anyhow!("`{addr}` is not an address"))?;
            let hit = match ip {
                IpAddr::V4(x) => {
                    c.v4.load()
                        .longest_match(u32::from_addr(x))
                        .map(|(k, l, nh)| (k.to_net(l).to_string(), nh))
                }
                IpAddr::V6(x) => {
                    c.v6.load()
                        .longest_match(u128::from_addr(x))
                        .map(|(k, l, nh)| (k.to_net(l).to_string(), nh))
                }
            };
            Ok(Response::Lookup(Lookup {
                router: c.name.clone(),
                addr: ip.to_string(),
                prefix: hit.as_ref().map(|h| h.0.clone()),
                nexthop: hit.map(|h| h.1),
            }))
        }
    }
}
