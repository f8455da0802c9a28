//! The server side of the control socket ([`super::proto`]): binds the socket (mode 0600; it
//! replaces only a stale socket, never a live one or any other file), serves clients
//! concurrently with a bound and a timeout each, and answers requests against the live tables
//! and counters. Table changes go through the FIB writers, so forwarding never waits for them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use dataplane::pipeline::DropReason;
use dataplane::worker::{PortCounters, RouterCounters, WorkerCounters};
use fib::source::{LoadOptions, RouteSet};
use fib::{FibWriter, Key, Update};
use ipnet::IpNet;

use super::proto::{
    Changed, Empty, Envelope, Loaded, Lookup, PortStats, Request, Response, RouterStats,
    RoutesPage, Stats, WorkerStats,
};

/// What the control thread keeps per router.
pub struct Control {
    pub name: String,
    pub nexthops: u32,
    /// The router's ports (their connected routes are re-added to every table it loads).
    pub interfaces: Vec<dataplane::pipeline::Interface>,
    pub v4: FibWriter<u32>,
    pub v6: FibWriter<u128>,
    /// One set per queue (shard) of the router; stats add them up.
    pub counters: Vec<Arc<RouterCounters>>,
}

/// Clients served at once; one more is answered "busy" and closed.
pub const MAX_CLIENTS: usize = 16;
/// How long a client may take to send its request line.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest request line accepted.
pub const MAX_REQUEST: usize = 64 * 1024;
/// Routes in one page of `routes-dump` (an answer of about 3 MB).
pub const MAX_DUMP_PAGE: usize = 100_000;

/// Binds the control socket (mode 0600). An existing path is replaced only if it is a socket
/// nobody answers on (a stale one); a live socket or any other file is refused and left alone.
pub fn bind(path: &Path) -> Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            bail!(
                "{}: exists and is not a socket; vrouter replaces only a stale control socket \
                 (choose another --socket)",
                path.display()
            );
        }
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

/// The control socket of a running instance: clients are served concurrently (at most
/// [`MAX_CLIENTS`]), each on its own thread with a [`CLIENT_TIMEOUT`], so an idle or slow
/// client never holds up the others or shutdown. Table changes are serialised by one lock.
/// The socket file is removed when the server is dropped, also on an error path.
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    controls: Arc<Mutex<Vec<Control>>>,
    workers: Arc<Vec<(String, Arc<WorkerCounters>)>>,
    stop: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
}

impl Server {
    pub fn bind(
        path: &Path,
        controls: Vec<Control>,
        workers: Vec<(String, Arc<WorkerCounters>)>,
        stop: Arc<AtomicBool>,
    ) -> Result<Server> {
        Ok(Server {
            listener: bind(path)?,
            path: path.to_path_buf(),
            controls: Arc::new(Mutex::new(controls)),
            workers: Arc::new(workers),
            stop,
            active: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Serves until the stop flag is set or `deadline` passes. A client is accepted as soon
    /// as it connects (the listener is polled, with a 50-ms timeout only to see the stop flag),
    /// so one client's requests in a row are not paced by the loop.
    pub fn serve_until(&self, deadline: Option<Instant>) {
        use nix::poll::{poll, PollFd, PollFlags};
        use std::os::fd::AsFd;
        while !self.stop.load(Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
            match self.listener.accept() {
                Ok((s, _)) => self.spawn(s),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
                    if let Err(e) = poll(&mut fds, 50u16) {
                        if e != nix::errno::Errno::EINTR {
                            tracing::error!("vrouter: control socket: poll: {e}");
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
                Err(e) => tracing::error!("vrouter: control socket: {e}"),
            }
        }
    }

    fn spawn(&self, s: UnixStream) {
        if self.active.fetch_add(1, Relaxed) >= MAX_CLIENTS {
            self.active.fetch_sub(1, Relaxed);
            let answer = Envelope::of(Err(format!(
                "busy: {MAX_CLIENTS} clients are being served; try again"
            )));
            let _ = s.set_nonblocking(false);
            let _ = s.set_write_timeout(Some(CLIENT_TIMEOUT));
            let _ = writeln!(&s, "{}", serde_json::to_string(&answer).unwrap_or_default());
            return;
        }
        let (controls, workers, stop, active) = (
            Arc::clone(&self.controls),
            Arc::clone(&self.workers),
            Arc::clone(&self.stop),
            Arc::clone(&self.active),
        );
        let spawned = std::thread::Builder::new()
            .name("vrouter-ctl".into())
            .spawn(move || {
                if let Err(e) = serve(s, &controls, &workers, &stop) {
                    tracing::debug!("vrouter: control connection: {e:#}");
                }
                active.fetch_sub(1, Relaxed);
            });
        if let Err(e) = spawned {
            self.active.fetch_sub(1, Relaxed);
            tracing::warn!("vrouter: control connection dropped: no thread for it ({e})");
        }
    }

    /// The instance's counters now.
    pub fn stats(&self) -> Stats {
        let controls = self.controls.lock().unwrap_or_else(|p| p.into_inner());
        stats(&controls, &self.workers)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Ours: it is a socket we bound (bind refuses anything else).
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_socket()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
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
                        tx_held: f(|p| &p.tx_held),
                        rx_dropped: f(|p| &p.rx_dropped),
                    }
                })
                .collect();
            let connected = c
                .interfaces
                .iter()
                .flat_map(|i| {
                    let v4 = i.v4.iter().map(|n| IpNet::V4(n.trunc()));
                    let v6 = i.v6.iter().map(|n| IpNet::V6(n.trunc()));
                    v4.chain(v6).map(move |n| format!("{n} port {}", i.port))
                })
                .collect();
            RouterStats {
                name: c.name.clone(),
                connected,
                fragmented: sum(&|k| &k.fragmented),
                fragments: sum(&|k| &k.fragments),
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

/// Answers one connection's request (one line of at most [`MAX_REQUEST`] bytes, sent within
/// [`CLIENT_TIMEOUT`]).
fn serve(
    s: UnixStream,
    controls: &Mutex<Vec<Control>>,
    workers: &[(String, Arc<WorkerCounters>)],
    stop: &AtomicBool,
) -> Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    s.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut line = Vec::new();
    BufReader::new((&s).take(MAX_REQUEST as u64 + 1)).read_until(b'\n', &mut line)?;
    let res = if line.len() > MAX_REQUEST {
        Err(anyhow!("request longer than {MAX_REQUEST} bytes"))
    } else {
        parse_request(&line)
            .map_err(|e| anyhow!("bad request: {e}"))
            .and_then(|req| {
                let mut c = controls.lock().unwrap_or_else(|p| p.into_inner());
                handle(req, &mut c, workers, stop)
            })
    };
    let answer = Envelope::of(res.map_err(|e| format!("{e:#}")));
    writeln!(&s, "{}", serde_json::to_string(&answer)?)?;
    Ok(())
}

/// The router a request names (the first one when it names none).
fn router<'a>(controls: &'a mut [Control], name: Option<&str>) -> Result<&'a mut Control> {
    match name {
        None => controls.first_mut().ok_or_else(|| anyhow!("no routers")),
        Some(n) => {
            let names: Vec<String> = controls.iter().map(|c| c.name.clone()).collect();
            controls.iter_mut().find(|c| c.name == n).ok_or_else(|| {
                anyhow!(
                    "no router named `{}` (routers: {})",
                    fib::source::excerpt(n),
                    names.join(", ")
                )
            })
        }
    }
}

/// A request line, or what is wrong with it naming the field at fault: the field whose
/// absence changes the error is the one the error is about (serde reports a missing field
/// only after every present one has been read, so removing a good field changes nothing).
pub fn parse_request(line: &[u8]) -> std::result::Result<Request, String> {
    let clean = |e: &serde_json::Error| {
        let m = e.to_string();
        m.strip_suffix(" at line 0 column 0")
            .unwrap_or(&m)
            .to_string()
    };
    let e = match serde_json::from_slice::<Request>(line) {
        Ok(r) => return Ok(r),
        Err(e) => e,
    };
    if e.is_syntax() || e.is_eof() {
        return Err(format!("not JSON: {e}"));
    }
    let first = clean(&e);
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_slice(line) else {
        return Err(first);
    };
    for k in obj.keys().filter(|k| *k != "cmd") {
        let mut o = obj.clone();
        o.remove(k);
        match serde_json::from_value::<Request>(serde_json::Value::Object(o)) {
            Err(e) if clean(&e) == first => {}
            _ => return Err(format!("field `{}`: {first}", fib::source::excerpt(k))),
        }
    }
    Err(first)
}

/// A prefix as written, with no bits set past its length (`198.19.0.0/15` is refused, as the
/// route files refuse it, rather than silently becoming 198.18.0.0/15).
fn parse_prefix(s: &str) -> Result<IpNet> {
    let p: IpNet = s
        .parse()
        .map_err(|_| anyhow!("`{}` is not a prefix", fib::source::excerpt(s)))?;
    if p.trunc() != p {
        bail!(
            "{p} has bits set past its length /{}: did you mean {}?",
            p.prefix_len(),
            p.trunc()
        );
    }
    Ok(p)
}

/// Whether the live table holds exactly this prefix.
fn has_route(c: &Control, prefix: &IpNet) -> bool {
    match *prefix {
        IpNet::V4(p) => {
            let (key, len) = u32::from_net(p);
            c.v4.load().get(key, len).is_some()
        }
        IpNet::V6(p) => {
            let (key, len) = u128::from_net(p);
            c.v6.load().get(key, len).is_some()
        }
    }
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

/// The port whose connected route `prefix` is, if it is one.
fn connected_port(c: &Control, prefix: &IpNet) -> Option<u16> {
    c.interfaces.iter().find_map(|i| {
        let mine = i.v4.iter().any(|n| IpNet::V4(n.trunc()) == *prefix)
            || i.v6.iter().any(|n| IpNet::V6(n.trunc()) == *prefix);
        mine.then_some(i.port)
    })
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
            if let Some(port) = connected_port(c, &prefix) {
                bail!("{prefix} is the connected route of port {port}: it goes with the port's address");
            }
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
            let prefix = parse_prefix(&prefix)?;
            if let Some(port) = connected_port(c, &prefix) {
                bail!("{prefix} is the connected route of port {port}: it goes with the port's address");
            }
            if !has_route(c, &prefix) {
                bail!(
                    "{prefix} is not in router {}'s table (a route is removed by its exact prefix)",
                    c.name
                );
            }
            change(c, prefix, None)?;
            Ok(Response::Changed(Changed {
                router: c.name.clone(),
            }))
        }
        Request::RoutesLoad {
            file,
            lenient,
            allow_empty,
            force,
            ..
        } => {
            let c = router(controls, name.as_deref())?;
            let opts = LoadOptions {
                lenient,
                ..LoadOptions::default()
            };
            let set: RouteSet = fib::source::load(&file, &opts, &mut |_, _| {})?;
            let (mut t4, mut t6) = set.tables(c.nexthops)?;
            let (n4, n6) = (t4.len(), t6.len());
            crate::router::run::add_connected(&mut t4, &mut t6, &c.interfaces)?;
            let live = c.v4.load().len() + c.v6.load().len();
            // A failed, empty or much smaller load never replaces a live table by accident.
            if n4 + n6 == 0 && !allow_empty {
                bail!(
                    "{}: no routes in it (empty or cut short?); the live table ({live} routes) \
                     is kept (--allow-empty to clear it)",
                    file.display()
                );
            }
            // Emptying on purpose (--allow-empty) needs no --force as well.
            let emptying = n4 + n6 == 0 && allow_empty;
            if 2 * (n4 + n6) < live && !force && !emptying {
                bail!(
                    "{}: {} routes would replace {live}, fewer than half; the live table is kept \
                     (--force to swap anyway)",
                    file.display(),
                    n4 + n6
                );
            }
            // Atomic swap: forwarding continues on the old tables until this instant.
            c.v4.replace(t4);
            c.v6.replace(t6);
            Ok(Response::Loaded(Loaded {
                router: c.name.clone(),
                routes_v4: n4,
                routes_v6: n6,
            }))
        }
        Request::RoutesDump { offset, limit, .. } => {
            let c = router(controls, name.as_deref())?;
            if limit == 0 || limit > MAX_DUMP_PAGE {
                bail!("limit {limit}: a page is 1..={MAX_DUMP_PAGE} routes");
            }
            let (t4, t6) = (c.v4.load(), c.v6.load());
            let (n4, n6) = (t4.len(), t6.len());
            let line =
                |net: String, nh: u32| match nh.checked_sub(dataplane::pipeline::CONNECTED_BASE) {
                    Some(port) => format!("{net}\tconnected port {port}"),
                    None => format!("{net}\t{nh}"),
                };
            let mut routes = Vec::new();
            if offset < n4 {
                routes.extend(
                    t4.routes()
                        .into_iter()
                        .skip(offset)
                        .take(limit)
                        .map(|(k, l, nh)| line(k.to_net(l).to_string(), nh)),
                );
            }
            if routes.len() < limit && offset + routes.len() < n4 + n6 {
                let from = (offset + routes.len()).saturating_sub(n4);
                let room = limit - routes.len();
                routes.extend(
                    t6.routes()
                        .into_iter()
                        .skip(from)
                        .take(room)
                        .map(|(k, l, nh)| line(k.to_net(l).to_string(), nh)),
                );
            }
            Ok(Response::Routes(RoutesPage {
                router: c.name.clone(),
                total: n4 + n6,
                offset,
                routes,
            }))
        }
        Request::Lookup { addr, .. } => {
            let c = router(controls, name.as_deref())?;
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| anyhow!("`{}` is not an address", fib::source::excerpt(&addr)))?;
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
            let connected = hit
                .as_ref()
                .and_then(|h| h.1.checked_sub(dataplane::pipeline::CONNECTED_BASE))
                .and_then(|p| u16::try_from(p).ok());
            Ok(Response::Lookup(Lookup {
                router: c.name.clone(),
                addr: ip.to_string(),
                prefix: hit.as_ref().map(|h| h.0.clone()),
                nexthop: hit.map(|h| h.1).filter(|_| connected.is_none()),
                connected_port: connected,
            }))
        }
    }
}
