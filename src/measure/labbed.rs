//! The test bed on a namespace lab: routers in a parallel lab (vrouter on AF_XDP or AF_PACKET,
//! or the kernel), driven by the generator loop of [`super::generator`] (generator on AF_XDP,
//! sink on AF_PACKET) on ports opened in the generator and sink namespaces. `vrouter sweep
//! --backend ...` and `vrouter bench lab` run their trials here; the lab is torn down when the
//! bed is dropped, also when the work using it fails.

use std::fmt::Write as _;
use std::net::IpAddr;

use anyhow::{anyhow, bail, Result};
use dataplane::pool::Pool;

use super::bed::{BedOptions, Drops, Dut, RouterSetup, TestBed};
use super::generator::{self, FrameSize, Lane, Load, RouterResult};
use super::traffic::FrameSpec;
use crate::host::process_cpu_ns;
use crate::lab::netns::{open_gen, open_in, quiet_sink, LabGuard};
use crate::lab::{self, LabSpec, Topology};

/// A parallel lab with one lane (generator port, sink port) per router.
pub struct LabBed {
    lanes: Vec<Lane>,
    /// Each lane's frame template and destinations, and the frame size its headers are for.
    specs: Vec<(FrameSpec, Vec<IpAddr>)>,
    frame: FrameSize,
    pool: Pool,
    pids: Vec<u32>,
    /// CPU the generator/sink thread used in the last trial (ns).
    gen_cpu_ns: u64,
    /// Receive-ring drops of the sink sockets so far (the kernel's counter resets on read).
    sink_drops: u64,
    /// Guests: their router namespaces (the taps `t0` there feed them).
    guest_namespaces: Vec<String>,
    guard: LabGuard,
}

impl LabBed {
    /// Builds the lab for `routers` (they all load router 0's tables, relocated into 240/4 and
    /// 3fff::/20; each gets its own destinations, relocated alike) and warms it up.
    pub fn up(dut: Dut, o: &BedOptions, routers: &[RouterSetup]) -> Result<LabBed> {
        let n = routers.len();
        let first = routers.first().ok_or_else(|| anyhow!("no routers"))?;
        let mut text = format!("{}\n", fib::source::text::TEXT_HEADER);
        for (k, l, _) in first.fib4.routes() {
            let _ = writeln!(text, "{}/{l}\t0", std::net::Ipv4Addr::from(k));
        }
        for (k, l, _) in first.fib6.routes() {
            let _ = writeln!(text, "{}/{l}\t0", std::net::Ipv6Addr::from(k));
        }
        let table = std::env::temp_dir().join(format!("vrouter-{}.routes", o.name));
        std::fs::write(&table, text)?;
        let _ = lab::down(&o.name);
        let res = lab::up(&LabSpec {
            routers: n,
            table: Some(table.clone()),
            mode: o.mode,
            topology: Topology::Parallel,
            core: o.core,
            guest: o.guest.clone(),
            ..LabSpec::new(&o.name, dut)
        });
        let _ = std::fs::remove_file(&table);
        res?;
        let guard = LabGuard(o.name.clone());
        let (gen_ns, sink_ns) = (
            format!("vrl-{}-gen", o.name),
            format!("vrl-{}-sink", o.name),
        );
        let pool = Pool::new(65_536);
        let mut lanes = Vec::new();
        let mut specs = Vec::new();
        for (k, r) in (1..=n).zip(routers) {
            let (inl, outl) = lab::plan::router_links(Topology::Parallel, k);
            let spec = FrameSpec {
                src_mac: lab::plan::mac(inl, 1),
                dst_mac: lab::plan::mac(inl, 2),
                src_ip: std::net::Ipv4Addr::new(198, 18, inl as u8, 1),
                src_ip6: lab::plan::v6(inl, 1)
                    .parse()
                    .map_err(|e| anyhow!("lab address {}: {e}", lab::plan::v6(inl, 1)))?,
                size: o.frame.at(0),
            };
            let tx = open_gen(&gen_ns, &format!("e{inl}l"), &pool)?;
            let rx = open_in(&sink_ns, &format!("e{outl}r"), &pool)?;
            quiet_sink(&sink_ns, &format!("e{outl}r"));
            // Relocation keeps every address inside its relocated prefix.
            let dests: Vec<IpAddr> = r
                .dests
                .iter()
                .map(|&d| match d {
                    IpAddr::V4(a) => fib::source::relocate::v4_addr(a).into(),
                    IpAddr::V6(a) => fib::source::relocate::v6_addr(a).into(),
                })
                .collect();
            let mut lane = Lane::new(tx, Box::new(rx), generator::heads(&spec, &dests, o.frame));
            // Kernel ports cost a system call per transmit: gather up to 32 paced frames per
            // call (`Sender::batch_wait_ns` says how long a lane waits for them).
            lane.sender.batch = 32;
            lanes.push(lane);
            specs.push((spec, dests));
        }
        let mut bed = LabBed {
            lanes,
            specs,
            frame: o.frame,
            pool,
            pids: lab::router_pids(&o.name),
            gen_cpu_ns: 0,
            sink_drops: 0,
            guest_namespaces: if dut.is_guest() {
                (1..=n)
                    .map(|k| lab::plan::ns(&o.name, &format!("r{k}")))
                    .collect()
            } else {
                Vec::new()
            },
            guard,
        };
        // Warm-up: neighbours resolve on the first frames.
        bed.trial(&Load {
            rate_per_router: Some(1_000.0),
            frame: o.frame,
            seconds: 0.3,
            link_bps: None,
        })?;
        Ok(bed)
    }

    /// One trial; each router's CPU is its vrouter process's (NaN for kernel routers).
    pub fn trial(&mut self, load: &Load) -> Result<Vec<RouterResult>> {
        if lab::interrupted() {
            bail!("interrupted by a signal");
        }
        let c0: Vec<u64> = self.pids.iter().map(|&p| process_cpu_ns(p)).collect();
        if load.frame != self.frame {
            // Headers carry the IP and UDP lengths: rebuild them for this frame size.
            for (lane, (spec, dests)) in self.lanes.iter_mut().zip(&self.specs) {
                lane.set_heads(generator::heads(spec, dests, load.frame));
            }
            self.frame = load.frame;
        }
        let lanes = std::mem::take(&mut self.lanes);
        let (mut rs, back, gen_cpu) = generator::external_trial(lanes, &self.pool, load)?;
        self.lanes = back;
        self.gen_cpu_ns = gen_cpu;
        for (i, r) in rs.iter_mut().enumerate() {
            if let (Some(&p), Some(&c)) = (self.pids.get(i), c0.get(i)) {
                r.cpu = process_cpu_ns(p).saturating_sub(c) as f64 / 1e9 / load.seconds;
            }
        }
        Ok(rs)
    }
}

impl TestBed for LabBed {
    fn trial(&mut self, load: &Load) -> Result<Vec<RouterResult>> {
        LabBed::trial(self, load)
    }

    /// The routers' port drops come from their control sockets (`None` for kernel routers);
    /// the sinks' from their sockets.
    fn drops(&mut self) -> Drops {
        let router = (1..=self.lanes.len())
            .map(|k| -> Option<u64> {
                let sock = lab::router_socket(&self.guard.0, k);
                // A guest's router answers through its virtio-serial relay; a short limit keeps
                // a stuck one from stalling the bed.
                let stats =
                    crate::router::client::stats_within(&sock, std::time::Duration::from_secs(3))
                        .ok()?;
                let r = stats.routers.first()?;
                Some(r.ports.iter().map(|p| p.dropped()).sum())
            })
            .sum();
        for lane in &mut self.lanes {
            self.sink_drops += lane.rx.rx_dropped();
        }
        // Guests: frames their taps dropped (QEMU late to read them), both directions' taps.
        let host = (!self.guest_namespaces.is_empty()).then(|| {
            self.guest_namespaces
                .iter()
                .flat_map(|ns| {
                    ["t0", "t1"]
                        .into_iter()
                        .filter_map(|t| crate::lab::netns::link_counters(ns, t))
                })
                .map(|c| c.tx_dropped)
                .sum()
        });
        Drops {
            router,
            sink: self.sink_drops,
            host,
        }
    }

    fn generator_cpu_ns(&self) -> Option<u64> {
        Some(self.gen_cpu_ns)
    }
}
