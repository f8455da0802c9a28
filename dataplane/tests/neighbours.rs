//! Dynamic neighbour resolution through the pipeline: frames for a gateway whose MAC is unknown
//! are held (at most four) while an ARP request or neighbour solicitation goes out, released by
//! the answer, and refreshed after the MAC expires; learning is limited to configured gateways.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dataplane::neighbour::{HOLD, REACHABLE_NS};
use dataplane::pipeline::{DropReason, Io, PacketBuf, Pipeline, Verdict};
use dataplane::wire::{arp, checksum, ethernet, icmp, ipv4, ipv6};
use fib::{Key, Lpm};

const GW_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x33];
const US1: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn router() -> Pipeline {
    let mut p = testkit::default_router(0);
    p.neighbours
        .set_dynamic(0, 1, IpAddr::V4(Ipv4Addr::new(198, 18, 1, 2)));
    p.neighbours
        .set_dynamic(1, 1, IpAddr::V6("2001:2:0:1::2".parse().unwrap()));
    p
}

fn tables() -> (Lpm<u32>, Lpm<u128>) {
    (
        Lpm::from_routes(vec![(u32::from_addr(Ipv4Addr::new(8, 8, 8, 0)), 24, 0)]).unwrap(),
        Lpm::from_routes(vec![(
            u128::from_addr("2001:4860::".parse().unwrap()),
            32,
            1,
        )])
        .unwrap(),
    )
}

fn udp4(ttl: u8) -> Vec<u8> {
    testkit::ipv4_frame(
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 0x99],
        Ipv4Addr::new(198, 18, 0, 2),
        Ipv4Addr::new(8, 8, 8, 8),
        17,
        ttl,
        &[0; 26],
    )
}

fn udp6() -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + 16];
    ethernet::write_header(
        &mut f,
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 0x99],
        ethernet::TYPE_IPV6,
    );
    ipv6::write_header(
        &mut f[14..],
        "2001:2::2".parse().unwrap(),
        "2001:4860::8888".parse().unwrap(),
        17,
        64,
        16,
    );
    f
}

/// What one run returns: verdicts, the burst's buffers, frames sent outside the burst, and how
/// many buffers were freed.
type Outcome = (Vec<Verdict>, Vec<PacketBuf>, Vec<(u16, PacketBuf)>, usize);

/// Runs frames arriving on `port` at `now`, with an Io whose spares are fresh buffers.
fn run(p: &mut Pipeline, port: u16, now: u64, frames: &[Vec<u8>]) -> Outcome {
    let (f4, f6) = tables();
    let mut bufs: Vec<PacketBuf> = frames
        .iter()
        .map(|f| PacketBuf::from_bytes(f).unwrap())
        .collect();
    let mut v = vec![Verdict::Forward { port: 9 }; bufs.len()];
    let mut out = Vec::new();
    let mut free = Vec::new();
    let mut spare = || Some(PacketBuf::default());
    let mut io = Io {
        spare: &mut spare,
        out: &mut out,
        free: &mut free,
    };
    p.process_io(&f4, &f6, now, port, &mut bufs, &mut v, Some(&mut io));
    assert_eq!(p.stats.frames_in, p.stats.accounted());
    (v, bufs, out, free.len())
}

fn arp_from_gateway(op: u16) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    ethernet::write_header(&mut f, US1, GW_MAC, ethernet::TYPE_ARP);
    arp::write(
        &mut f[14..],
        op,
        GW_MAC,
        Ipv4Addr::new(198, 18, 1, 2),
        US1,
        Ipv4Addr::new(198, 18, 1, 1),
    );
    f
}

#[test]
fn ipv4_frames_wait_for_arp_then_leave_in_order() {
    let mut p = router();
    let t0 = 10_000_000_000;
    let first: Vec<Vec<u8>> = (0..6).map(|i| udp4(64 - i)).collect();
    let (v, b, out, freed) = run(&mut p, 0, t0, &first);
    assert!(out.is_empty());
    assert_eq!(
        v[0],
        Verdict::Held { request: Some(1) },
        "first frame triggers a request"
    );
    assert!(
        v[1..].iter().all(|x| *x == Verdict::Held { request: None }),
        "one request per second: {v:?}"
    );
    // The request: who-has 198.18.1.2 tell 198.18.1.1, broadcast from port 1.
    let req = b[0].bytes();
    assert_eq!(
        (&req[0..6], &req[6..12]),
        (&ethernet::BROADCAST[..], &US1[..])
    );
    let a = arp::Packet::new_checked(&req[14..]).unwrap();
    assert_eq!(
        (a.operation(), a.sender_ip(), a.target_ip()),
        (
            1,
            Ipv4Addr::new(198, 18, 1, 1),
            Ipv4Addr::new(198, 18, 1, 2)
        )
    );
    // Six frames, four held: the two oldest were dropped from the hold queue.
    assert_eq!((p.neighbours.held_now(), freed), (HOLD, 2));
    assert_eq!(p.neighbours.stats.hold_dropped, 2);

    // The gateway answers on port 1: the four newest frames leave, rewritten, in order.
    let (v, _, out, _) = run(&mut p, 1, t0 + 1_000, &[arp_from_gateway(arp::OP_REPLY)]);
    assert_eq!(v[0], Verdict::Consumed);
    assert_eq!(out.len(), HOLD);
    for (k, (port, f)) in out.iter().enumerate() {
        assert_eq!(*port, 1);
        let f = f.bytes();
        assert_eq!((&f[0..6], &f[6..12]), (&GW_MAC[..], &US1[..]));
        let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
        assert_eq!(
            ip.ttl(),
            64 - 2 - k as u8 - 1,
            "held frames keep their order, TTL decremented once"
        );
        assert!(ip.checksum_ok());
    }
    assert_eq!((p.stats.released, p.neighbours.held_now()), (4, 0));
    // From now on frames go straight out.
    let (v, b, ..) = run(&mut p, 0, t0 + 2_000, &[udp4(64)]);
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    assert_eq!(&b[0].bytes()[0..6], &GW_MAC);
}

#[test]
fn requests_are_rate_limited_and_unanswered_frames_are_dropped() {
    let mut p = router();
    let t0 = 1_000_000_000;
    run(&mut p, 0, t0, &[udp4(64)]);
    let (v, ..) = run(&mut p, 0, t0 + 500_000_000, &[udp4(64)]);
    assert_eq!(v[0], Verdict::Held { request: None });
    let (v, ..) = run(&mut p, 0, t0 + 1_000_000_000, &[udp4(64)]);
    assert_eq!(
        v[0],
        Verdict::Held { request: Some(1) },
        "a second request after one second"
    );
    // Three seconds without an answer: what was held is given up.
    let (_, _, _, freed) = run(&mut p, 0, t0 + 3_500_000_000, &[udp4(64)]);
    assert_eq!(freed, 3);
    assert_eq!(p.neighbours.held_now(), 1);
    assert_eq!(p.neighbours.stats.requests, 3);
}

#[test]
fn only_configured_gateways_are_learned_so_floods_cannot_grow_the_table() {
    let mut p = router();
    let before = p.neighbours.len();
    let flood: Vec<Vec<u8>> = (0..10_000u32)
        .map(|i| {
            let mut f = vec![0u8; 60];
            let mac = [2, 0xee, (i >> 16) as u8, (i >> 8) as u8, i as u8, 1];
            ethernet::write_header(&mut f, ethernet::BROADCAST, mac, ethernet::TYPE_ARP);
            let spoofed = Ipv4Addr::from(0xc612_0100 + (i % 200) + 3); // 198.18.1.3 ..
            arp::write(
                &mut f[14..],
                2,
                mac,
                spoofed,
                US1,
                Ipv4Addr::new(198, 18, 1, 1),
            );
            f
        })
        .collect();
    let (v, ..) = run(&mut p, 1, 5, &flood);
    assert!(v.iter().all(|x| *x
        == Verdict::Drop {
            reason: DropReason::LocalUnsupported,
            icmp: None
        }));
    assert_eq!(p.neighbours.len(), before);
    assert_eq!(p.neighbours.stats.learned, 0);
    // The gateway's address seen on the wrong port is not learned either.
    let (v, ..) = run(&mut p, 0, 6, &[arp_from_gateway(arp::OP_REPLY)]);
    assert_ne!(v[0], Verdict::Consumed);
    // Nor is a multicast MAC.
    let mut bad = arp_from_gateway(arp::OP_REPLY);
    bad[14 + 8] = 0x01;
    let (v, ..) = run(&mut p, 1, 7, &[bad]);
    assert_ne!(v[0], Verdict::Consumed);
}

#[test]
fn learned_macs_are_refreshed_after_they_expire() {
    let mut p = router();
    run(&mut p, 1, 1, &[arp_from_gateway(arp::OP_REQUEST)]); // a request from the gateway teaches too
    let (v, _, out, _) = run(&mut p, 0, 2, &[udp4(64)]);
    assert_eq!((v[0], out.len()), (Verdict::Forward { port: 1 }, 0));
    let later = 2 + REACHABLE_NS;
    let (v, _, out, _) = run(&mut p, 0, later, &[udp4(64)]);
    assert_eq!(
        v[0],
        Verdict::Forward { port: 1 },
        "a stale MAC is still used"
    );
    assert_eq!(out.len(), 1, "while a refresh request goes out");
    let a = arp::Packet::new_checked(&out[0].1.bytes()[14..]).unwrap();
    assert_eq!(a.target_ip(), Ipv4Addr::new(198, 18, 1, 2));
}

#[test]
fn ipv6_frames_wait_for_neighbour_discovery() {
    let mut p = router();
    let (v, b, ..) = run(&mut p, 0, 1, &[udp6(), udp6()]);
    assert_eq!(v[0], Verdict::Held { request: Some(1) });
    assert_eq!(v[1], Verdict::Held { request: None });
    let ns = b[0].bytes();
    assert_eq!(
        &ns[0..6],
        &[0x33, 0x33, 0xff, 0, 0, 2],
        "solicited-node multicast"
    );
    let ip = ipv6::Packet::new_checked(&ns[14..]).unwrap();
    let gw: Ipv6Addr = "2001:2:0:1::2".parse().unwrap();
    // From port 1's link-local address (its MAC as modified EUI-64), as Linux asks.
    assert_eq!(
        (ip.src(), ip.dst(), ip.hop_limit()),
        (
            "fe80::ff:fe00:2".parse().unwrap(),
            "ff02::1:ff00:2".parse::<Ipv6Addr>().unwrap(),
            255
        )
    );
    let m = &ip.packet()[40..];
    assert_eq!(m[0], icmp::V6_NEIGHBOR_SOLICIT);
    assert_eq!(&m[8..24], &gw.octets());
    let acc = checksum::ipv6_pseudo(&ip.src().octets(), &ip.dst().octets(), m.len() as u32, 58);
    assert_eq!(checksum::finish(checksum::sum(acc, m)), 0);
    // The advertisement (target link-layer address option) releases both frames.
    let mut na = vec![icmp::V6_NEIGHBOR_ADVERT, 0, 0, 0, 0x60, 0, 0, 0];
    na.extend_from_slice(&gw.octets());
    na.extend_from_slice(&[2, 1]);
    na.extend_from_slice(&GW_MAC);
    let mut f = vec![0u8; 14 + 40 + na.len()];
    ethernet::write_header(&mut f, US1, GW_MAC, ethernet::TYPE_IPV6);
    ipv6::write_header(
        &mut f[14..],
        gw,
        "2001:2:0:1::1".parse().unwrap(),
        58,
        255,
        na.len(),
    );
    f[54..].copy_from_slice(&na);
    let (v, _, out, _) = run(&mut p, 1, 2, &[f]);
    assert_eq!(v[0], Verdict::Consumed);
    assert_eq!(out.len(), 2);
    for (port, b) in &out {
        assert_eq!(*port, 1);
        assert_eq!(&b.bytes()[0..6], &GW_MAC);
        assert_eq!(
            ipv6::Packet::new_checked(&b.bytes()[14..])
                .unwrap()
                .hop_limit(),
            63
        );
    }
}

#[test]
fn without_io_unresolved_next_hops_drop() {
    let mut p = router();
    let (f4, f6) = tables();
    let mut bufs = vec![PacketBuf::from_bytes(&udp4(64)).unwrap()];
    let mut v = vec![Verdict::Consumed];
    p.process(&f4, &f6, 1, 0, &mut bufs, &mut v);
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::NoNeighbour,
            icmp: None
        }
    );
    assert_eq!(p.neighbours.stats.requests, 0);
}
