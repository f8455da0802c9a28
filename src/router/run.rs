//! Building and running the routers of a configuration: tables, pipelines, ports, workers,
//! then the control socket ([`super::control`]) until SIGINT/SIGTERM, `ctl shutdown` or the
//! optional duration; final counters on stdout.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use dataplane::neighbour::{Neighbour, Neighbours};
use dataplane::pipeline::{Interface, Pipeline};
use dataplane::pool::Pool;
use dataplane::port::afpacket::{AfPacket, AfPacketConfig};
use dataplane::port::memory::{link, MemPort};
use dataplane::port::Port;
use dataplane::worker::{PollMode, VirtualRouter, Worker, WorkerCounters};
use fib::{share, Lpm};
use ipnet::IpNet;

use super::config::{self, Backend, NeighbourTarget, RouterConfig};
use super::control::{self, Control};
#[cfg(feature = "dpdk")]
use super::dpdk::Dpdk;

/// What `vrouter run` was asked.
pub struct RunOptions {
    pub config: PathBuf,
    pub socket: PathBuf,
    /// Stop by itself after this many seconds.
    pub duration: Option<f64>,
}

/// A PACKET_FANOUT group id for a router's port (stable, distinct per router and port).
fn fanout_group(router: &str, port: usize) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in router.bytes().chain([0, port as u8]) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 16)) as u16
}

/// The router's tables: its route file's routes and its connected routes.
fn tables(r: &RouterConfig) -> Result<(Lpm<u32>, Lpm<u128>)> {
    let (mut t4, mut t6) = match &r.routes {
        None => (Lpm::new(), Lpm::new()),
        Some(path) => {
            let load = crate::routes::LoadSpec {
                lenient: r.lenient,
                ..crate::routes::LoadSpec::new(r.nexthops)
            };
            crate::routes::load_set(path, &load)?.tables(r.nexthops)?
        }
    };
    add_connected(&mut t4, &mut t6, &pipeline(r).interfaces)?;
    Ok((t4, t6))
}

/// Adds the connected routes of `interfaces` (each port's subnets, next hop
/// [`dataplane::pipeline::CONNECTED_BASE`] + port) to a router's tables: on start and on
/// every reload, so that a table from a file never loses them.
pub fn add_connected(
    t4: &mut Lpm<u32>,
    t6: &mut Lpm<u128>,
    interfaces: &[dataplane::pipeline::Interface],
) -> Result<()> {
    let (c4, c6) = dataplane::pipeline::connected_routes(interfaces);
    for (k, l, nh) in c4 {
        t4.insert(k, l, nh)?;
    }
    for (k, l, nh) in c6 {
        t6.insert(k, l, nh)?;
    }
    Ok(())
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
    p.forward_directed_broadcast = r.forward_directed_broadcast;
    p.accept_source_route = r.accept_source_route;
    p
}

/// Why a configuration with dpdk ports does not run on this binary.
pub const NO_DPDK: &str = "this vrouter was built without the DPDK backend: build it with \
     `cargo build --release --features dpdk` (needs libdpdk-dev; scripts/test installs it)";

pub fn run(a: RunOptions) -> Result<()> {
    let config = config::load_all(&a.config)?;
    let routers = config.routers;
    let has_dpdk = routers.iter().any(|r| {
        r.ports
            .iter()
            .any(|p| matches!(p.backend, Backend::Dpdk { .. }))
    });
    if has_dpdk && !cfg!(feature = "dpdk") {
        bail!("{}: {NO_DPDK}", a.config.display());
    }
    // One EAL for the process, with every dpdk port's device, before any port opens.
    #[cfg(feature = "dpdk")]
    let mut dpdk = if has_dpdk {
        Some(Dpdk::start(&routers, &config.dpdk)?)
    } else {
        None
    };
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
                        let port = dataplane::port::afxdp::AfXdp::open_with(
                            iface, *xdp_mode, *ring, &pool,
                        )
                        .with_context(|| format!("router `{}`: afxdp port", r.name))?;
                        tracing::info!(
                            "vrouter: {iface}: AF_XDP in {:?} mode, rings of {ring}",
                            port.mode
                        );
                        ports.push(Box::new(port));
                    }
                    Backend::AfPacket {
                        iface,
                        fanout,
                        qdisc_bypass,
                        tx_ring,
                    } => {
                        let mut c = AfPacketConfig::new(iface);
                        c.qdisc_bypass = *qdisc_bypass;
                        c.tx_frames = *tx_ring as usize;
                        // Several queues: one socket each, in a fanout group (the configured
                        // one, else one derived from the router and port).
                        c.fanout =
                            fanout.or_else(|| (r.queues > 1).then(|| fanout_group(&r.name, pi)));
                        let port = AfPacket::open(&c, &pool)
                            .with_context(|| format!("router `{}`: afpacket port", r.name))?;
                        ports.push(Box::new(port));
                    }
                    #[cfg(feature = "dpdk")]
                    Backend::Dpdk { ring, .. } => {
                        let d = dpdk.as_ref().expect("EAL started for dpdk ports");
                        let port = d
                            .open(&r.name, pi, *ring, &pool)
                            .with_context(|| format!("router `{}`: dpdk port {pi}", r.name))?;
                        ports.push(Box::new(port));
                    }
                    #[cfg(not(feature = "dpdk"))]
                    Backend::Dpdk { .. } => unreachable!("refused above: {NO_DPDK}"),
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
            interfaces: pipeline(r).interfaces,
            v4: w4,
            v6: w6,
            counters: shards,
        });
    }
    #[cfg(feature = "dpdk")]
    if let Some(d) = dpdk.as_mut() {
        d.ports_opened();
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

    tracing::info!(
        "vrouter: {} router(s) on {} worker(s); control socket {}",
        controls.len(),
        workers.len(),
        a.socket.display()
    );
    let server = control::Server::bind(&a.socket, controls, workers, Arc::clone(&stop))?;
    server.serve_until(
        a.duration
            .map(|d| Instant::now() + Duration::from_secs_f64(d)),
    );
    stop.store(true, Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let st = server.stats();
    drop(server);
    // The workers, and with them every port, are gone: the EAL can stop.
    #[cfg(feature = "dpdk")]
    drop(dpdk);
    println!("{}", serde_json::to_string_pretty(&st)?);
    Ok(())
}
