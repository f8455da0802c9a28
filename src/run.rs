//! `vrouter run --config vr.toml`: builds the routers of a configuration, runs their workers, and
//! serves the control socket until SIGINT/SIGTERM (or `vrouter ctl shutdown`).
//!
//! Control protocol: one JSON request per line on a Unix socket (mode 0600), one JSON answer per
//! line: `{"cmd": "stats"}`, `{"cmd": "route-add", "router": R, "prefix": P, "nexthop": N}`,
//! `{"cmd": "route-del", "router": R, "prefix": P}`, `{"cmd": "routes-load", "router": R, "file": F}`,
//! `{"cmd": "lookup", "router": R, "addr": A}`, `{"cmd": "shutdown"}`. `router` defaults to the
//! first router. Answers carry `"ok": true` or `"ok": false, "error": "..."`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use dataplane::neighbour::{Neighbour, Neighbours};
use dataplane::pipeline::{DropReason, Interface, Pipeline};
use dataplane::pool::Pool;
use dataplane::port::afpacket::{AfPacket, AfPacketConfig};
use dataplane::port::memory::{link, MemPort};
use dataplane::port::Port;
use dataplane::worker::{PollMode, RouterCounters, VirtualRouter, Worker, WorkerCounters};
use fib::source::{LoadOptions, RouteSet};
use fib::{share, FibWriter, Key, Lpm, Update};
use ipnet::IpNet;
use serde_json::{json, Value};

use crate::config::{self, Backend, NeighbourTarget, RouterConfig};

/// Where `run` and `ctl` meet by default.
pub fn default_socket() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("vrouter.sock")
}

#[derive(Args)]
pub struct RunArgs {
    /// Configuration file.
    #[arg(long)]
    config: PathBuf,
    /// Control socket path.
    #[arg(long, default_value_os_t = default_socket())]
    socket: PathBuf,
    /// Stop by itself after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
}

/// What the control thread keeps per router.
struct Control {
    name: String,
    nexthops: u32,
    v4: FibWriter<u32>,
    v6: FibWriter<u128>,
    /// One set per queue (shard) of the router; stats add them up.
    counters: Vec<Arc<RouterCounters>>,
}

/// A PACKET_FANOUT group id for a router's port (stable, distinct per router and port).
fn fanout_group(router: &str, port: usize) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in router.bytes().chain([0, port as u8]) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 16)) as u16
}

fn tables(r: &RouterConfig) -> Result<(Lpm<u32>, Lpm<u128>)> {
    let Some(path) = &r.routes else {
        return Ok((Lpm::new(), Lpm::new()));
    };
    let load = crate::routes::LoadArgs {
        lenient: r.lenient,
        peer: fib::source::PeerChoice::Best,
        nexthops: r.nexthops,
    };
    Ok(crate::routes::load_set(path, &load)?.tables(r.nexthops)?)
}

/// The forwarding state of a configured router.
pub fn pipeline(r: &RouterConfig) -> Pipeline {
    let interfaces = r
        .ports
        .iter()
        .enumerate()
        .map(|(i, p)| Interface {
            port: i as u16,
            mac: p.mac,
            v4: p
                .addresses
                .iter()
                .filter_map(|a| if let IpNet::V4(n) = a { Some(*n) } else { None })
                .collect(),
            v6: p
                .addresses
                .iter()
                .filter_map(|a| if let IpNet::V6(n) = a { Some(*n) } else { None })
                .collect(),
            mtu: p.mtu,
        })
        .collect();
    let mut neighbours = Neighbours::new();
    for n in &r.neighbours {
        match n.target {
            NeighbourTarget::Static(mac) => {
                neighbours.set(n.nexthop, Neighbour { port: n.port, mac })
            }
            NeighbourTarget::Gateway(ip) => neighbours.set_dynamic(n.nexthop, n.port, ip),
        }
    }
    let mut p = Pipeline::new(interfaces, neighbours);
    p.class_e_unicast = r.class_e_unicast;
    p
}

pub fn run(a: RunArgs) -> Result<()> {
    let routers = config::load(&a.config)?;
    // Memory links: the first port naming a link gets one end, the second the other.
    // With queues, link `L` is one ring pair per queue (`L.q0`, `L.q1`, ...): both ends must
    // have the same number of queues.
    let mut ends: HashMap<(String, usize), Vec<MemPort>> = HashMap::new();
    let mut link_queues: HashMap<&str, (usize, &str)> = HashMap::new();
    for r in &routers {
        for p in &r.ports {
            let Backend::Memory { link: name } = &p.backend else {
                continue;
            };
            if let Some((q, other)) = link_queues.insert(name, (r.queues, &r.name)) {
                if q != r.queues {
                    bail!(
                        "memory link `{name}`: router `{other}` has {q} queue(s), router `{}` {}; both ends need the same",
                        r.name,
                        r.queues
                    );
                }
            }
            for k in 0..r.queues {
                ends.entry((name.clone(), k)).or_insert_with(|| {
                    let (x, y) = link(&format!("{name}.q{k}"), 4096);
                    vec![y, x]
                });
            }
        }
    }
    let pool = Pool::new(16_384 * routers.len().max(1));
    let stop = Arc::new(AtomicBool::new(false));
    let mut controls = Vec::new();
    let mut groups: Vec<(String, Vec<VirtualRouter>, PollMode, Option<usize>)> = Vec::new();
    for r in &routers {
        let (t4, t6) = tables(r)?;
        let (w4, r4) = share(t4);
        let (w6, r6) = share(t6);
        let mut shards = Vec::new();
        for k in 0..r.queues {
            let mut ports: Vec<Box<dyn Port>> = Vec::new();
            for (pi, p) in r.ports.iter().enumerate() {
                match &p.backend {
                    Backend::Memory { link: name } => {
                        let end = ends
                            .get_mut(&(name.clone(), k))
                            .and_then(Vec::pop)
                            .ok_or_else(|| anyhow!("memory link `{name}` has no free end"))?;
                        ports.push(Box::new(end));
                    }
                    Backend::AfXdp {
                        iface,
                        xdp_mode,
                        ring,
                    } => {
                        let mode = xdp_mode
                            .parse()
                            .map_err(|e: String| anyhow!("router `{}`: {e}", r.name))?;
                        let port =
                            dataplane::port::afxdp::AfXdp::open_with(iface, mode, *ring, &pool)
                                .with_context(|| format!("router `{}`: afxdp port", r.name))?;
                        eprintln!(
                            "vrouter: {iface}: AF_XDP in {:?} mode, rings of {ring}",
                            port.mode
                        );
                        ports.push(Box::new(port));
                    }
                    Backend::AfPacket { iface, fanout } => {
                        let mut c = AfPacketConfig::new(iface);
                        // Several queues: one socket each, in a fanout group (the configured
                        // one, else one derived from the router and port).
                        c.fanout =
                            fanout.or_else(|| (r.queues > 1).then(|| fanout_group(&r.name, pi)));
                        let port = AfPacket::open(&c, &pool)
                            .with_context(|| format!("router `{}`: afpacket port", r.name))?;
                        ports.push(Box::new(port));
                    }
                }
            }
            let vr = VirtualRouter::new(&r.name, pipeline(r), ports, r4.clone(), r6.clone());
            shards.push(Arc::clone(&vr.counters));
            let worker = if r.queues > 1 {
                format!("{}#q{k}", r.worker)
            } else {
                r.worker.clone()
            };
            let core = r.core.map(|c| c + k);
            match groups.iter_mut().find(|g| g.0 == worker) {
                Some(g) => g.1.push(vr),
                None => groups.push((worker, vec![vr], r.mode, core)),
            }
        }
        controls.push(Control {
            name: r.name.clone(),
            nexthops: r.nexthops,
            v4: w4,
            v6: w6,
            counters: shards,
        });
    }
    let mut handles = Vec::new();
    let mut workers: Vec<(String, Arc<WorkerCounters>)> = Vec::new();
    for (name, vrs, mode, core) in groups {
        let w = Worker::new(vrs, mode, core, &pool, Arc::clone(&stop))
            .map_err(|e| anyhow!("worker `{name}`: {e}"))?;
        workers.push((name, Arc::clone(&w.counters)));
        handles.push(w.spawn());
    }
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))?;

    let listener = bind(&a.socket)?;
    eprintln!(
        "vrouter: {} router(s) on {} worker(s); control socket {}",
        controls.len(),
        workers.len(),
        a.socket.display()
    );
    let deadline = a
        .duration
        .map(|d| Instant::now() + Duration::from_secs_f64(d));
    while !stop.load(Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        match listener.accept() {
            Ok((s, _)) => {
                if let Err(e) = serve(s, &mut controls, &workers, &stop) {
                    eprintln!("vrouter: control connection: {e:#}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => eprintln!("vrouter: control socket: {e}"),
        }
    }
    stop.store(true, Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let _ = std::fs::remove_file(&a.socket);
    println!(
        "{}",
        serde_json::to_string_pretty(&stats(&controls, &workers))?
    );
    Ok(())
}

/// Binds the control socket (mode 0600), replacing a stale one but never a live one.
fn bind(path: &Path) -> Result<UnixListener> {
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

fn stats(controls: &[Control], workers: &[(String, Arc<WorkerCounters>)]) -> Value {
    let routers: Vec<Value> = controls
        .iter()
        .map(|c| {
            // Counters of all the router's queues, added up.
            let sum = |f: &dyn Fn(&RouterCounters) -> u64| -> u64 {
                c.counters.iter().map(|k| f(k)).sum()
            };
            let drops: serde_json::Map<String, Value> = DropReason::ALL
                .iter()
                .enumerate()
                .map(|(i, r)| (r, sum(&|k: &RouterCounters| k.drops[i].load(Relaxed))))
                .filter(|(_, n)| *n > 0)
                .map(|(r, n)| (r.name().to_string(), json!(n)))
                .collect();
            let nports = c.counters.first().map_or(0, |k| k.ports.len());
            let ports: Vec<Value> = (0..nports)
                .map(|p| {
                    let f = |g: fn(
                        &dataplane::worker::PortCounters,
                    ) -> &std::sync::atomic::AtomicU64| {
                        sum(&|k: &RouterCounters| g(&k.ports[p]).load(Relaxed))
                    };
                    json!({
                        "rx_packets": f(|p| &p.rx_packets), "rx_bytes": f(|p| &p.rx_bytes),
                        "tx_packets": f(|p| &p.tx_packets), "tx_bytes": f(|p| &p.tx_bytes),
                        "tx_dropped": f(|p| &p.tx_dropped), "rx_dropped": f(|p| &p.rx_dropped),
                    })
                })
                .collect();
            json!({
                "name": c.name,
                "queues": c.counters.len(),
                "frames_in": sum(&|k: &RouterCounters| k.frames_in.load(Relaxed)),
                "forwarded": sum(&|k: &RouterCounters| k.forwarded.load(Relaxed)),
                "answered": sum(&|k: &RouterCounters| k.answered.load(Relaxed)),
                "icmp_errors": sum(&|k: &RouterCounters| k.icmp_errors.load(Relaxed)),
                "held": sum(&|k: &RouterCounters| k.held.load(Relaxed)),
                "released": sum(&|k: &RouterCounters| k.released.load(Relaxed)),
                "hold_dropped": sum(&|k: &RouterCounters| k.hold_dropped.load(Relaxed)),
                "dropped": drops, "ports": ports,
                "routes_v4": c.v4.load().len(), "routes_v6": c.v6.load().len(),
            })
        })
        .collect();
    let ghz = crate::bench::cpu_ghz();
    let workers: Vec<Value> = workers
        .iter()
        .map(|(name, w)| {
            let packets = w.packets.load(Relaxed);
            let ns = w.busy_ns.load(Relaxed) as f64 / packets.max(1) as f64;
            json!({
                "name": name, "packets": packets, "busy_polls": w.busy_polls.load(Relaxed),
                "idle_polls": w.idle_polls.load(Relaxed), "sleeps": w.sleeps.load(Relaxed),
                "ns_per_packet": ns,
                "cycles_per_packet": ghz.map(|g| ns * g),
                "pinned": w.pinned.load(Relaxed),
            })
        })
        .collect();
    json!({ "routers": routers, "workers": workers })
}

fn serve(
    s: UnixStream,
    controls: &mut [Control],
    workers: &[(String, Arc<WorkerCounters>)],
    stop: &AtomicBool,
) -> Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line)?;
    let answer = match handle(&line, controls, workers, stop) {
        Ok(v) => {
            let mut v = v;
            v["ok"] = json!(true);
            v
        }
        Err(e) => json!({ "ok": false, "error": format!("{e:#}") }),
    };
    let mut w = &s;
    writeln!(w, "{answer}")?;
    Ok(())
}

fn handle(
    line: &str,
    controls: &mut [Control],
    workers: &[(String, Arc<WorkerCounters>)],
    stop: &AtomicBool,
) -> Result<Value> {
    let req: Value = serde_json::from_str(line).context("request is not JSON")?;
    let cmd = req["cmd"]
        .as_str()
        .ok_or_else(|| anyhow!("request has no \"cmd\""))?;
    if cmd == "stats" {
        return Ok(stats(controls, workers));
    }
    if cmd == "shutdown" {
        stop.store(true, Relaxed);
        return Ok(json!({}));
    }
    let c = match req["router"].as_str() {
        None => controls.first_mut().ok_or_else(|| anyhow!("no routers"))?,
        Some(n) => controls
            .iter_mut()
            .find(|c| c.name == n)
            .ok_or_else(|| anyhow!("no router named `{n}`"))?,
    };
    let field = |k: &str| req[k].as_str().ok_or_else(|| anyhow!("\"{k}\" is missing"));
    match cmd {
        "route-add" | "route-del" => {
            let prefix: IpNet = field("prefix")?
                .parse()
                .map_err(|_| anyhow!("`{}` is not a prefix", req["prefix"]))?;
            let nh = match cmd {
                "route-add" => {
                    let nh = req["nexthop"]
                        .as_u64()
                        .ok_or_else(|| anyhow!("\"nexthop\" is missing"))?;
                    if nh >= u64::from(c.nexthops) {
                        bail!("next hop {nh} is not below nexthops = {}", c.nexthops);
                    }
                    Some(nh as u32)
                }
                _ => None,
            };
            match prefix.trunc() {
                IpNet::V4(p) => {
                    let (key, len) = u32::from_net(p);
                    c.v4.apply(
                        &[nh.map_or(Update::Remove { key, len }, |nh| Update::Insert {
                            key,
                            len,
                            nh,
                        })],
                    )?;
                }
                IpNet::V6(p) => {
                    let (key, len) = u128::from_net(p);
                    c.v6.apply(
                        &[nh.map_or(Update::Remove { key, len }, |nh| Update::Insert {
                            key,
                            len,
                            nh,
                        })],
                    )?;
                }
            }
            Ok(json!({ "router": c.name }))
        }
        "routes-load" => {
            let file = PathBuf::from(field("file")?);
            let opts = LoadOptions {
                lenient: req["lenient"].as_bool().unwrap_or(false),
                ..LoadOptions::default()
            };
            let set: RouteSet = fib::source::load(&file, &opts, &mut |_, _| {})?;
            let (t4, t6) = set.tables(c.nexthops)?;
            let (n4, n6) = (t4.len(), t6.len());
            // Atomic swap: forwarding continues on the old tables until this instant.
            c.v4.replace(t4);
            c.v6.replace(t6);
            Ok(json!({ "router": c.name, "routes_v4": n4, "routes_v6": n6 }))
        }
        "lookup" => {
            let addr: IpAddr = field("addr")?
                .parse()
                .map_err(|_| anyhow!("`{}` is not an address", req["addr"]))?;
            let hit = match addr {
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
            Ok(match hit {
                Some((p, nh)) => {
                    json!({ "router": c.name, "addr": addr.to_string(), "prefix": p, "nexthop": nh })
                }
                None => {
                    json!({ "router": c.name, "addr": addr.to_string(), "prefix": null, "nexthop": null })
                }
            })
        }
        other => bail!("unknown command `{other}`"),
    }
}
