//! End to end on memory ports: a generator and sinks on this thread, the router on a worker
//! thread. Router ports: 0 faces the generator; 1 and 2 face sinks. Even next hops leave on port
//! 1, odd ones on port 2, each next hop with its own neighbour MAC, so every frame's exit proves
//! its lookup.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dataplane::neighbour::{Neighbour, Neighbours};
use dataplane::pipeline::{Interface, PacketBuf, Pipeline};
use dataplane::pool::Pool;
use dataplane::port::memory::{link, MemPort};
use dataplane::port::Port;
use dataplane::wire::ipv4;
use dataplane::worker::{PollMode, VirtualRouter, Worker};
use fib::source::{load, LoadOptions};
use fib::{share, FibWriter, Lpm};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const NEXTHOPS: u32 = 16;

fn neighbour_mac(id: u32, generation: u8) -> [u8; 6] {
    [2, 0, 0, generation, 1, id as u8]
}

fn neighbours(generation: u8) -> Neighbours {
    let mut n = Neighbours::new();
    for id in 0..NEXTHOPS * 2 {
        n.set(
            id,
            Neighbour {
                port: 1 + (id % 2) as u16,
                mac: neighbour_mac(id, generation).into(),
            },
        );
    }
    n
}

fn router(
    fib4: fib::FibReader<u32>,
    fib6: fib::FibReader<u128>,
) -> (VirtualRouter, MemPort, MemPort, MemPort) {
    router_with(fib4, fib6, 4096)
}

/// The router of [`router`], port 1's link holding `out1` frames.
fn router_with(
    fib4: fib::FibReader<u32>,
    fib6: fib::FibReader<u128>,
    out1: usize,
) -> (VirtualRouter, MemPort, MemPort, MemPort) {
    let ifc = |p: u16, net: &str| Interface {
        port: p,
        mac: [2, 0, 0, 0, 0, 1 + p as u8].into(),
        v4: vec![net.parse().unwrap()],
        v6: vec![],
        mtu: 1500,
    };
    let pipeline = Pipeline::new(
        vec![
            ifc(0, "198.18.0.1/24"),
            ifc(1, "198.18.1.1/24"),
            ifc(2, "198.18.2.1/24"),
        ],
        neighbours(0),
    );
    let (gen, r0) = link("in", 4096);
    let (r1, sink1) = link("out1", out1);
    let (r2, sink2) = link("out2", 4096);
    let ports: Vec<Box<dyn Port>> = vec![Box::new(r0), Box::new(r1), Box::new(r2)];
    (
        VirtualRouter::new("vr0", pipeline, ports, fib4, fib6),
        gen,
        sink1,
        sink2,
    )
}

fn real_table() -> Vec<(u32, u8, u32)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/routeviews-2014-05-13.ipv4.ipasn.gz"
    );
    load(path.as_ref(), &LoadOptions::default(), &mut |_, _| {})
        .unwrap()
        .v4_entries(NEXTHOPS)
}

fn frame(dst: Ipv4Addr) -> Vec<u8> {
    testkit::ipv4_frame(
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 0x99],
        Ipv4Addr::new(198, 18, 0, 2),
        dst,
        17,
        64,
        &[0; 26],
    )
}

/// Sends `dsts` through the router (never more than `window` in flight, so nothing can overflow),
/// calling `each` on every frame that comes out with its sink port; returns frames received.
fn drive(
    gen: &mut MemPort,
    sinks: &mut [MemPort; 2],
    pool: &Pool,
    dsts: &[Ipv4Addr],
    mut between: impl FnMut(usize),
    mut each: impl FnMut(u16, &PacketBuf),
) -> usize {
    let mut cache = pool.cache();
    let (mut sent, mut got) = (0usize, 0usize);
    let mut out = Vec::with_capacity(64);
    let mut rx = Vec::with_capacity(64);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while got < dsts.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out: sent {sent}, received {got}"
        );
        while sent < dsts.len() && sent - got < 1024 && out.len() < 32 {
            let mut b = cache.get().expect("pool has buffers");
            b.set(&frame(dsts[sent]));
            out.push(b);
            sent += 1;
        }
        gen.tx_burst(&mut out);
        for (i, s) in sinks.iter_mut().enumerate() {
            rx.clear();
            s.rx_burst(&mut rx, 64);
            for b in rx.drain(..) {
                each(1 + i as u16, &b);
                got += 1;
                cache.put(b);
            }
        }
        between(sent);
    }
    got
}

fn destinations(entries: &[(u32, u8, u32)], n: usize, seed: u64) -> Vec<Ipv4Addr> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (k, l, _) = entries[rng.gen_range(0..entries.len())];
            Ipv4Addr::from(testkit::within(&mut rng, k, l))
        })
        .collect()
}

#[test]
fn ten_thousand_real_destinations_leave_by_the_right_port() {
    let entries = real_table();
    let table = Lpm::<u32>::from_routes(entries.clone()).unwrap();
    let (_w4, r4) = share(table.clone());
    let (_w6, r6) = share(Lpm::<u128>::new());
    let (vr, mut gen, s1, s2) = router(r4, r6);
    let pool = Pool::new(8192);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = Worker::new(vec![vr], PollMode::Adaptive, None, &pool, Arc::clone(&stop)).unwrap();
    let counters = Arc::clone(&worker.counters);
    let handle = worker.spawn();
    let dsts = destinations(&entries, 10_000, 1);
    let mut sinks = [s1, s2];
    let mut checked = 0;
    let got = drive(
        &mut gen,
        &mut sinks,
        &pool,
        &dsts,
        |_| {},
        |port, b| {
            let f = b.bytes();
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            let nh = table
                .lookup(u32::from(ip.dst()))
                .expect("every destination is routed");
            assert_eq!(port, 1 + (nh % 2) as u16, "{}", ip.dst());
            assert_eq!(&f[0..6], &neighbour_mac(nh, 0));
            assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 1 + port as u8]);
            assert_eq!(ip.ttl(), 63);
            assert!(ip.checksum_ok());
            checked += 1;
        },
    );
    stop.store(true, Ordering::Relaxed);
    let routers = handle.join().unwrap();
    assert_eq!((got, checked), (10_000, 10_000));
    let c = &routers[0].counters;
    assert_eq!(c.forwarded.load(Ordering::Relaxed), 10_000);
    assert_eq!(c.ports[0].rx_packets.load(Ordering::Relaxed), 10_000);
    let tx: u64 = c
        .ports
        .iter()
        .map(|p| p.tx_packets.load(Ordering::Relaxed))
        .sum();
    assert_eq!(tx, 10_000);
    assert!(counters.packets.load(Ordering::Relaxed) >= 10_000);
    assert_eq!(pool.available(), pool.size(), "every buffer came back");
}

#[test]
fn replacing_the_full_table_while_forwarding_loses_nothing() {
    let entries = real_table();
    // Generation B: the same routes, next hops shifted by NEXTHOPS (same exit port, other MACs).
    let a = Lpm::<u32>::from_routes(entries.clone()).unwrap();
    let b_routes: Vec<(u32, u8, u32)> = entries
        .iter()
        .map(|&(k, l, nh)| (k, l, nh + NEXTHOPS))
        .collect();
    let b = Lpm::<u32>::from_routes(b_routes).unwrap();
    let (writer, r4): (FibWriter<u32>, _) = share(a.clone());
    let (_w6, r6) = share(Lpm::<u128>::new());
    let (vr, mut gen, s1, s2) = router(r4, r6);
    let pool = Pool::new(8192);
    let stop = Arc::new(AtomicBool::new(false));
    let handle = Worker::new(vec![vr], PollMode::Busy, None, &pool, Arc::clone(&stop))
        .unwrap()
        .spawn();
    let dsts = destinations(&entries, 200_000, 2);
    let mut sinks = [s1, s2];
    let mut writer = writer;
    let mut swaps = 0;
    let mut seen = [0usize; 2];
    let got = drive(
        &mut gen,
        &mut sinks,
        &pool,
        &dsts,
        |sent| {
            // A full-table swap every 20k frames sent.
            if sent / 20_000 > swaps {
                swaps += 1;
                writer.replace(if swaps % 2 == 1 { b.clone() } else { a.clone() });
            }
        },
        |port, buf| {
            let f = buf.bytes();
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            let nh = a.lookup(u32::from(ip.dst())).unwrap();
            assert_eq!(port, 1 + (nh % 2) as u16, "misrouted {}", ip.dst());
            let generation = if f[0..6] == neighbour_mac(nh, 0) {
                0
            } else {
                assert_eq!(
                    &f[0..6],
                    &neighbour_mac(nh + NEXTHOPS, 0),
                    "wrong MAC for {}",
                    ip.dst()
                );
                1
            };
            seen[generation] += 1;
        },
    );
    stop.store(true, Ordering::Relaxed);
    let routers = handle.join().unwrap();
    assert_eq!(got, 200_000, "zero frames lost");
    assert!(swaps >= 9, "{swaps} table swaps");
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "both tables forwarded traffic: {seen:?}"
    );
    let c = &routers[0].counters;
    assert_eq!(c.dropped(), 0);
    assert_eq!(
        c.ports
            .iter()
            .map(|p| p.tx_dropped.load(Ordering::Relaxed))
            .sum::<u64>(),
        0
    );
}

#[test]
fn interrupt_mode_is_refused_for_memory_ports() {
    let (_w4, r4) = share(Lpm::<u32>::new());
    let (_w6, r6) = share(Lpm::<u128>::new());
    let (vr, ..) = router(r4, r6);
    let err = Worker::new(
        vec![vr],
        PollMode::Interrupt,
        None,
        &Pool::new(1),
        Arc::new(AtomicBool::new(false)),
    )
    .err()
    .unwrap();
    assert!(err.contains("file descriptors"), "{err}");
    assert_eq!("adaptive".parse::<PollMode>(), Ok(PollMode::Adaptive));
    assert!("spin".parse::<PollMode>().is_err());
}

#[test]
fn a_full_transmit_ring_holds_frames_in_order_and_drops_only_past_the_hold() {
    use dataplane::worker::TX_HOLD;
    // Everything leaves on port 1, whose sink reads nothing until the router has taken every
    // frame: its 64-frame ring fills, the next TX_HOLD frames wait, the newest are dropped.
    let (_w4, r4) = share(Lpm::<u32>::from_routes(vec![(0xf000_0000, 4, 0)]).unwrap());
    let (_w6, r6) = share(Lpm::<u128>::new());
    let (vr, mut gen, mut sink, _) = router_with(r4, r6, 64);
    let counters = Arc::clone(&vr.counters);
    let pool = Pool::new(8192);
    let stop = Arc::new(AtomicBool::new(false));
    let handle = Worker::new(vec![vr], PollMode::Busy, None, &pool, Arc::clone(&stop))
        .unwrap()
        .spawn();
    let total = 1500usize;
    let dropped = (total - 64 - TX_HOLD) as u64;
    let mut cache = pool.cache();
    let mut out = Vec::new();
    for seq in 0..total as u32 {
        // The frame's last 4 bytes (payload, outside every checksum) carry its number.
        let mut f = frame(Ipv4Addr::new(240, 0, 0, 1));
        let end = f.len();
        f[end - 4..].copy_from_slice(&seq.to_be_bytes());
        let mut b = cache.get().expect("pool has buffers");
        b.set(&f);
        out.push(b);
        if out.len() == 32 || seq as usize == total - 1 {
            gen.tx_burst(&mut out);
            assert!(
                out.is_empty(),
                "the router's 4096-frame input ring took every burst"
            );
        }
    }
    // The sink reads only once the router has dropped what the hold cannot take (it keeps
    // retrying the full ring meanwhile).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let port1 = &counters.ports[1];
    while port1.tx_dropped.load(Ordering::Relaxed) < dropped {
        assert!(
            std::time::Instant::now() < deadline,
            "the router never filled its hold"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let (mut got, mut rx) = (Vec::new(), Vec::new());
    while got.len() < 64 + TX_HOLD {
        assert!(std::time::Instant::now() < deadline, "got {}", got.len());
        rx.clear();
        sink.rx_burst(&mut rx, 64);
        for b in rx.drain(..) {
            let f = b.bytes();
            got.push(u32::from_be_bytes(f[f.len() - 4..].try_into().unwrap()));
            cache.put(b);
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    rx.clear();
    assert_eq!(
        sink.rx_burst(&mut rx, 64),
        0,
        "nothing past the hold was sent"
    );
    let want: Vec<u32> = (0..(64 + TX_HOLD) as u32).collect();
    assert_eq!(got, want, "the oldest frames, in order");
    stop.store(true, Ordering::Relaxed);
    let _routers = handle.join().unwrap();
    assert_eq!(
        port1.tx_packets.load(Ordering::Relaxed),
        (64 + TX_HOLD) as u64
    );
    assert_eq!(port1.tx_held.load(Ordering::Relaxed), TX_HOLD as u64);
    assert_eq!(port1.tx_dropped.load(Ordering::Relaxed), dropped);
    drop(cache);
    assert_eq!(pool.available(), pool.size(), "every buffer came back");
}
