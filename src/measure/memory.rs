//! The in-process test bed on memory ports: N virtual routers, each between a generator link
//! and a sink link, driven by the generator loop of [`super::generator`] on its own thread
//! and core, as the paper measured with an external generator and sink. `vrouter sweep` (the
//! default backend) and `vrouter bench pipeline` build on it.
//!
//! ```text
//!             gen.0 ──> vr0 ──> sink.0
//! generator   gen.1 ──> vr1 ──> sink.1    sink (same thread as the generator, core 0)
//! (core 0)     ...               ...
//! ```
//!
//! Routers run on the other cores: in `busy` and `adaptive` placement one worker thread per
//! router (threads outnumber cores when routers do, as VMs' vCPUs did in the paper); in
//! `shared-core` placement one adaptive worker serves every router's queues in turn.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use dataplane::pool::Pool;
use dataplane::port::memory::link;
use dataplane::port::Port;
use dataplane::wire::ethernet::Mac;
use dataplane::worker::{PollMode, VirtualRouter, Worker, WorkerCounters, TX_HOLD};

use super::bed::{Drops, Placement, RouterSetup, TestBed, NEXT_HOPS};
use super::generator::{cores, heads, run_lanes, Lane, Load, RouterResult};
use super::traffic::FrameSpec;

/// Frames per generator burst, for sizing the pool.
const BURST: usize = 32;

/// The testbed: routers, their placement on workers, ring sizes.
pub struct MemoryBed {
    pub routers: Vec<RouterSetup>,
    pub placement: Placement,
    /// Frames each memory link holds per direction (a NIC or virtio ring).
    pub ring: usize,
    /// Adaptive workers' sleep between light polls.
    pub sleep: Duration,
    /// Frames the routers dropped so far (transmit rings full, and the pipeline's drops).
    pub dropped: std::cell::Cell<u64>,
    /// CPU the generator/sink thread used in the last trial (ns).
    pub generator_cpu: std::cell::Cell<u64>,
}

impl MemoryBed {
    /// Runs one trial and returns each router's result.
    pub fn trial(&self, load: &Load) -> Result<Vec<RouterResult>> {
        let (_, router_cores) = cores();
        let n = self.routers.len();
        // Per router: two rings' worth, bursts in flight, and what a full ring holds back.
        let pool = Pool::new(n * 2 * (self.ring + TX_HOLD) + n * BURST * 4 + 4096);
        let stop = Arc::new(AtomicBool::new(false));
        let spec = FrameSpec {
            src_mac: Mac([2, 0, 0, 0, 0, 9]),
            dst_mac: Mac([2, 0, 0, 0, 0, 1]),
            src_ip: std::net::Ipv4Addr::new(198, 18, 0, 2),
            src_ip6: std::net::Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2),
            size: 60,
        };
        let mut lanes = Vec::with_capacity(n);
        let mut vrs = Vec::with_capacity(n);
        for (i, r) in self.routers.iter().enumerate() {
            let (gen, r0) = link(&format!("gen{i}"), self.ring);
            let (r1, sink) = link(&format!("sink{i}"), self.ring);
            let (_w4, r4) = fib::share(r.fib4.clone());
            let (_w6, r6) = fib::share(r.fib6.clone());
            let ports: Vec<Box<dyn Port>> = vec![Box::new(r0), Box::new(r1)];
            vrs.push(VirtualRouter::new(
                &format!("vr{i}"),
                crate::router::preset::default_router(NEXT_HOPS),
                ports,
                r4,
                r6,
            ));
            let mut lane = Lane::new(
                Box::new(gen),
                Box::new(sink),
                heads(&spec, &r.dests, load.frame),
            );
            lane.reset(load.rate_per_router);
            lanes.push(lane);
        }
        let router_counters: Vec<_> = vrs.iter().map(|v| Arc::clone(&v.counters)).collect();
        // Workers, as the placement says.
        let mut groups: Vec<(Vec<VirtualRouter>, PollMode)> = match self.placement {
            Placement::Busy => vrs.into_iter().map(|v| (vec![v], PollMode::Busy)).collect(),
            Placement::Adaptive => vrs
                .into_iter()
                .map(|v| (vec![v], PollMode::Adaptive))
                .collect(),
            Placement::SharedCore => vec![(vrs, PollMode::Adaptive)],
        };
        let mut handles = Vec::new();
        let mut wcs: Vec<(Arc<WorkerCounters>, usize)> = Vec::new();
        for (k, (group, mode)) in groups.drain(..).enumerate() {
            let core = (!router_cores.is_empty()).then(|| router_cores[k % router_cores.len()]);
            let size = group.len();
            let mut w =
                Worker::new(group, mode, core, &pool, Arc::clone(&stop)).map_err(|e| anyhow!(e))?;
            w.sleep = self.sleep;
            wcs.push((Arc::clone(&w.counters), size));
            handles.push(w.spawn());
        }
        // Stop the workers whatever the generator did, then report its failure.
        let ran = run_lanes(lanes, &pool, load.seconds, load.link_bps);
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            let _ = h.join();
        }
        let (lanes, secs, gen_cpu) = ran?;
        self.generator_cpu.set(gen_cpu);
        let dropped: u64 = router_counters
            .iter()
            .map(|c| {
                c.dropped()
                    + c.ports
                        .iter()
                        .map(|p| p.tx_dropped.load(Ordering::Relaxed))
                        .sum::<u64>()
            })
            .sum();
        self.dropped.set(self.dropped.get() + dropped);
        // Per-router CPU: each worker's share, split evenly between the routers it served.
        let mut cpu = Vec::with_capacity(n);
        for (wc, size) in &wcs {
            let wall = wc.wall_ns.load(Ordering::Relaxed).max(1) as f64;
            let c = wc.cpu_ns.load(Ordering::Relaxed) as f64 / wall / *size as f64;
            let w = wc.wait_ns.load(Ordering::Relaxed) as f64 / wall;
            for _ in 0..*size {
                cpu.push((c, w));
            }
        }
        Ok(lanes
            .iter()
            .zip(cpu)
            .map(|(l, (cpu, wait))| RouterResult {
                cpu,
                run_queue_wait: wait,
                ..l.result(secs)
            })
            .collect())
    }
}

impl TestBed for MemoryBed {
    fn trial(&mut self, load: &Load) -> Result<Vec<RouterResult>> {
        MemoryBed::trial(self, load)
    }
    /// The routers' own drops (full transmit rings, the pipeline's drop reasons); frames their
    /// input rings refused are each trial's `refused`.
    fn drops(&mut self) -> Drops {
        Drops {
            router: Some(self.dropped.get()),
            ..Drops::default()
        }
    }

    fn generator_cpu_ns(&self) -> Option<u64> {
        Some(self.generator_cpu.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::generator::FrameSize;

    fn router(routes: usize, seed: u64) -> RouterSetup {
        let set = fib::source::synth::ipv4(routes, seed);
        RouterSetup::new(&set.v4_entries(NEXT_HOPS), 1024, seed).unwrap()
    }

    fn bed(routers: Vec<RouterSetup>, placement: Placement, ring: usize) -> MemoryBed {
        MemoryBed {
            routers,
            placement,
            ring,
            sleep: Duration::from_micros(100),
            dropped: Default::default(),
            generator_cpu: Default::default(),
        }
    }

    #[test]
    fn generator_paces_within_one_percent_and_every_frame_is_accounted() {
        let bed = bed(
            vec![router(10_000, 1), router(10_000, 2)],
            Placement::Adaptive,
            4096,
        );
        let rs = bed
            .trial(&Load {
                rate_per_router: Some(130_000.0),
                frame: FrameSize::Fixed(60),
                seconds: 1.0,
                link_bps: None,
            })
            .unwrap();
        assert_eq!(rs.len(), 2);
        for r in &rs {
            // Pacing: the offered count over one second is the target within 1%.
            let err = (r.offered as f64 - 130_000.0).abs() / 130_000.0;
            assert!(err < 0.01, "offered {} frames in 1 s", r.offered);
            assert!((r.offered_pps - 130_000.0).abs() / 130_000.0 < 0.01);
            // Accounting: every offered frame is received or lost, none twice.
            assert_eq!(r.received + r.lost, r.offered, "{r:?}");
            assert_eq!(r.duplicates, 0);
            // Frames went through the router (routed destinations, valid headers).
            assert!(r.received > 0 && r.latency.is_some(), "{r:?}");
            assert!(r.cpu > 0.0 && r.cpu <= 1.05, "{r:?}");
        }
    }

    #[test]
    fn unpaced_large_frames_reach_the_sink_whole() {
        let bed = bed(vec![router(1_000, 3)], Placement::SharedCore, 256);
        let rs = bed
            .trial(&Load {
                rate_per_router: None,
                frame: FrameSize::Fixed(1514),
                seconds: 0.1,
                link_bps: None,
            })
            .unwrap();
        let r = &rs[0];
        assert!(r.offered > 1000 && r.received > 1000, "{r:?}");
        // Unpaced sending never overruns the router's input ring; its output ring can still
        // overflow if the sink's thread stalls (a busy machine), and that shows as loss. Every
        // frame is accounted for either way, and the frames arrive whole (1514 bytes).
        assert_eq!(r.received + r.lost, r.offered, "{r:?}");
        assert_eq!(r.duplicates, 0);
        assert_eq!(r.bytes, r.received * 1514, "{r:?}");
    }

    #[test]
    fn an_imix_trial_delivers_the_exact_mix() {
        let bed = bed(vec![router(1_000, 5)], Placement::SharedCore, 4096);
        // 2,000 frames at most: they fit the rings even if the router stalls throughout.
        let rs = bed
            .trial(&Load {
                rate_per_router: Some(10_000.0),
                frame: FrameSize::Imix,
                seconds: 0.2,
                link_bps: None,
            })
            .unwrap();
        let r = &rs[0];
        assert!(r.offered > 1000, "{r:?}");
        assert_eq!(
            (r.received, r.lost, r.duplicates),
            (r.offered, 0, 0),
            "{r:?}"
        );
        let want: u64 = (0..r.offered as usize)
            .map(|i| FrameSize::Imix.at(i) as u64)
            .sum();
        assert_eq!(r.bytes, want, "{r:?}");
    }

    #[test]
    fn ipv6_trials_forward_the_real_table_with_78_byte_frames() {
        let entries = crate::measure::bed::shipped_v6_entries().unwrap();
        let v6 = RouterSetup::new_v6(&entries, 4096, 9).unwrap();
        assert!(v6.is_v6() && v6.fib4.is_empty() && v6.fib6.len() > 6000);
        let bed = bed(vec![v6, router(1_000, 6)], Placement::SharedCore, 4096);
        let rs = bed
            .trial(&Load {
                rate_per_router: Some(10_000.0),
                frame: FrameSize::Fixed(60),
                seconds: 0.2,
                link_bps: None,
            })
            .unwrap();
        // The IPv6 router got 78-byte frames (the smallest that carry a stamp), the IPv4 one
        // 60-byte frames, and both forwarded every one (an unrouted or malformed frame would be
        // dropped by the router and missing here).
        for (r, size) in rs.iter().zip([78, 60]) {
            assert!(r.offered > 1000, "{r:?}");
            assert_eq!(
                (r.received, r.lost, r.duplicates),
                (r.offered, 0, 0),
                "{r:?}"
            );
            assert_eq!(r.bytes, r.received * size, "{r:?}");
        }
        assert_eq!(bed.dropped.get(), 0);
    }
}
