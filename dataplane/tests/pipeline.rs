//! The forwarding pipeline, rule by rule, on hand-built frames through the documented default
//! router (port 0 `02:..:01` 198.18.0.1/24 2001:2::1/64, port 1 `02:..:02` 198.18.1.1/24,
//! next hops -> 198.18.1.2 at `02:..:03` on port 1).

use std::net::{Ipv4Addr, Ipv6Addr};

use dataplane::pipeline::{DropReason, PacketBuf, Pipeline, Verdict};
use dataplane::wire::{checksum, ethernet, icmp, ipv4, ipv6};
use fib::{Key, Lpm};

const US0: [u8; 6] = [2, 0, 0, 0, 0, 1];
const US1: [u8; 6] = [2, 0, 0, 0, 0, 2];
const NEXT: [u8; 6] = [2, 0, 0, 0, 0, 3];
const HOST: [u8; 6] = [2, 0, 0, 0, 0, 0x99];

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// Ethernet + IPv4 + UDP (or ICMP) frame with a valid header checksum.
fn frame4(src: &str, dst: &str, ttl: u8, proto: u8, payload: &[u8]) -> Vec<u8> {
    testkit::ipv4_frame(US0, HOST, v4(src), v4(dst), proto, ttl, payload)
}

fn udp4(src: &str, dst: &str, ttl: u8) -> Vec<u8> {
    frame4(
        src,
        dst,
        ttl,
        ipv4::PROTO_UDP,
        &[0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0, 0, 1, 2, 3, 4],
    )
}

fn echo_request4(dst: &str) -> Vec<u8> {
    let mut icmp_msg = vec![
        icmp::V4_ECHO_REQUEST,
        0,
        0,
        0,
        0x12,
        0x34,
        0x00,
        0x07,
        b'p',
        b'i',
        b'n',
        b'g',
    ];
    let c = checksum::of(&icmp_msg);
    icmp_msg[2..4].copy_from_slice(&c.to_be_bytes());
    frame4("198.18.0.2", dst, 64, ipv4::PROTO_ICMP, &icmp_msg)
}

/// Ethernet + IPv6 + payload (upper-layer `next`).
fn frame6(src: &str, dst: &str, hop: u8, next: u8, payload: &[u8]) -> Vec<u8> {
    testkit::ipv6_frame(US0, HOST, v6(src), v6(dst), next, hop, payload)
}

fn icmp6_frame(src: &str, dst: &str, hop: u8, msg: &[u8]) -> Vec<u8> {
    let mut f = frame6(src, dst, hop, ipv6::NEXT_ICMPV6, msg);
    let acc = checksum::ipv6_pseudo(&v6(src).octets(), &v6(dst).octets(), msg.len() as u32, 58);
    let c = checksum::finish(checksum::sum(acc, &f[54..]));
    f[56..58].copy_from_slice(&c.to_be_bytes());
    f
}

fn tables() -> (Lpm<u32>, Lpm<u128>) {
    let p4 = |s: &str, l: u8| (u32::from_addr(v4(s)), l, 0u32);
    let p6 = |s: &str, l: u8| (u128::from_addr(v6(s)), l, 0u32);
    (
        Lpm::from_routes(vec![p4("8.8.8.0", 24), p4("240.0.0.0", 4)]).unwrap(),
        Lpm::from_routes(vec![p6("2001:4860::", 32), p6("3fff::", 20)]).unwrap(),
    )
}

/// Runs frames through a fresh default router arriving on port 0 at time `now`.
fn run_at(p: &mut Pipeline, now: u64, frames: &[Vec<u8>]) -> (Vec<Verdict>, Vec<PacketBuf>) {
    let (f4, f6) = tables();
    let mut bufs: Vec<PacketBuf> = frames
        .iter()
        .map(|f| PacketBuf::from_bytes(f).unwrap())
        .collect();
    let mut v = vec![Verdict::Forward { port: 9 }; bufs.len()];
    p.process(&f4, &f6, now, 0, &mut bufs, &mut v);
    (v, bufs)
}

fn run(frames: &[Vec<u8>]) -> (Vec<Verdict>, Vec<PacketBuf>, Pipeline) {
    let mut p = testkit::default_router(1);
    let (v, b) = run_at(&mut p, 1_000_000_000, frames);
    let s = &p.stats;
    assert_eq!(s.frames_in, s.accounted(), "every frame counted once");
    (v, b, p)
}

fn drop_of(reason: DropReason) -> Verdict {
    Verdict::Drop { reason, icmp: None }
}

#[test]
fn forwards_ipv4_rewriting_macs_ttl_and_checksum() {
    let (v, b, p) = run(&[udp4("198.18.0.2", "8.8.8.8", 64)]);
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    let f = b[0].bytes();
    assert_eq!(&f[0..6], &NEXT);
    assert_eq!(&f[6..12], &US1);
    let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
    assert_eq!(ip.ttl(), 63);
    assert!(ip.checksum_ok());
    assert_eq!(ip.dst(), v4("8.8.8.8"));
    assert_eq!(p.stats.forwarded, 1);
}

#[test]
fn ttl_expiry_sends_time_exceeded_quoting_the_packet() {
    let orig = udp4("198.18.0.2", "8.8.8.8", 1);
    let (v, b, p) = run(std::slice::from_ref(&orig));
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::TtlExpired,
            icmp: Some(0)
        }
    );
    let f = b[0].bytes();
    assert_eq!(&f[0..6], &HOST, "back to the sender");
    assert_eq!(&f[6..12], &US0);
    let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
    assert!(ip.checksum_ok());
    assert_eq!(
        (ip.src(), ip.dst(), ip.protocol()),
        (v4("198.18.0.1"), v4("198.18.0.2"), ipv4::PROTO_ICMP)
    );
    let m = ip.payload();
    assert_eq!((m[0], m[1]), (icmp::V4_TIME_EXCEEDED, 0));
    assert_eq!(checksum::of(m), 0, "ICMP checksum valid");
    // As much of the datagram as fits in 576 bytes (RFC 1812 §4.3.2.3): all 32 of it.
    assert_eq!(&m[8..], &orig[14..14 + 32], "the whole original datagram");
    assert_eq!(
        (
            p.stats.icmp_errors,
            p.stats.drop_count(DropReason::TtlExpired)
        ),
        (1, 1)
    );
}

#[test]
fn no_route_sends_net_unreachable() {
    let (v, b, _) = run(&[udp4("198.18.0.2", "9.9.9.9", 64)]);
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::NoRoute,
            icmp: Some(0)
        }
    );
    let ip = ipv4::Packet::new_checked(&b[0].bytes()[14..]).unwrap();
    assert_eq!(
        (ip.payload()[0], ip.payload()[1]),
        (icmp::V4_DEST_UNREACHABLE, icmp::V4_UNREACH_NET)
    );
}

#[test]
fn every_ipv4_drop_reason() {
    let good = udp4("198.18.0.2", "8.8.8.8", 64);
    let mut bad_sum = good.clone();
    bad_sum[14 + 10] ^= 0xff;
    let mut bad_ver = good.clone();
    bad_ver[14] = 0x55;
    let mut bad_ihl = good.clone();
    bad_ihl[14] = 0x44;
    let mut bad_len = good.clone();
    bad_len[14 + 3] = 200;
    let mut not_us = good.clone();
    not_us[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x42]);
    let mut vlan = vec![0u8; good.len() + 4];
    vlan[..12].copy_from_slice(&good[..12]);
    vlan[12..16].copy_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
    vlan[16..].copy_from_slice(&good[12..]);
    let mut other = good.clone();
    other[12..14].copy_from_slice(&[0x88, 0xcc]);
    let cases: Vec<(Vec<u8>, DropReason)> = vec![
        (good[..13].to_vec(), DropReason::TooShort),
        (good[..30].to_vec(), DropReason::TooShort),
        (bad_sum, DropReason::BadChecksum),
        (bad_ver, DropReason::BadVersion),
        (bad_ihl, DropReason::BadHeaderLength),
        (bad_len, DropReason::BadLength),
        (not_us, DropReason::NotForUs),
        (vlan, DropReason::Vlan),
        (other, DropReason::UnsupportedEthertype),
        (udp4("127.0.0.1", "8.8.8.8", 64), DropReason::Martian),
        (udp4("0.1.2.3", "8.8.8.8", 64), DropReason::Martian),
        (udp4("224.0.0.5", "8.8.8.8", 64), DropReason::Martian),
        (udp4("240.0.0.1", "8.8.8.8", 64), DropReason::Martian),
        (udp4("198.18.0.2", "127.0.0.1", 64), DropReason::Martian),
        (udp4("198.18.0.2", "0.0.0.9", 64), DropReason::Martian),
        (
            udp4("198.18.0.2", "224.0.0.5", 64),
            DropReason::NotForwarded,
        ),
        (
            udp4("198.18.0.2", "255.255.255.255", 64),
            DropReason::NotForwarded,
        ),
        (
            udp4("198.18.0.2", "198.18.0.1", 64),
            DropReason::LocalUnsupported,
        ),
    ];
    let frames: Vec<Vec<u8>> = cases.iter().map(|c| c.0.clone()).collect();
    let (v, _, p) = run(&frames);
    for (i, (_, want)) in cases.iter().enumerate() {
        assert_eq!(v[i], drop_of(*want), "case {i}");
    }
    assert_eq!(p.stats.dropped(), cases.len() as u64);
    // Class E is fine as a destination: the lab relocates tables into 240.0.0.0/4.
    let (v, _, _) = run(&[udp4("198.18.0.2", "240.1.2.3", 64)]);
    assert_eq!(v[0], Verdict::Forward { port: 1 });
}

#[test]
fn answers_arp_for_its_addresses_only() {
    let mut req = vec![0u8; 42];
    ethernet::write_header(&mut req, ethernet::BROADCAST, HOST, ethernet::TYPE_ARP);
    dataplane::wire::arp::write(
        &mut req[14..],
        1,
        HOST,
        v4("198.18.0.2"),
        [0; 6],
        v4("198.18.0.1"),
    );
    let mut other = req.clone();
    other[14 + 24..14 + 28].copy_from_slice(&[198, 18, 0, 77]);
    let (v, b, _) = run(&[req, other, vec![0xff; 20]]);
    assert_eq!(v[0], Verdict::Answer { port: 0 });
    assert_eq!(v[1], drop_of(DropReason::LocalUnsupported));
    assert_eq!(v[2], drop_of(DropReason::UnsupportedEthertype));
    let f = b[0].bytes();
    assert_eq!(f.len(), 60);
    assert_eq!((&f[0..6], &f[6..12]), (&HOST[..], &US0[..]));
    let a = dataplane::wire::arp::Packet::new_checked(&f[14..]).unwrap();
    assert_eq!(a.operation(), 2);
    assert_eq!(
        (a.sender_mac(), a.sender_ip(), a.target_ip()),
        (US0.into(), v4("198.18.0.1"), v4("198.18.0.2"))
    );
}

#[test]
fn answers_ping() {
    let (v, b, _) = run(&[echo_request4("198.18.0.1"), echo_request4("198.18.1.1")]);
    for (i, us) in ["198.18.0.1", "198.18.1.1"].iter().enumerate() {
        assert_eq!(v[i], Verdict::Answer { port: 0 });
        let f = b[i].bytes();
        let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
        assert!(ip.checksum_ok());
        assert_eq!((ip.src(), ip.dst()), (v4(us), v4("198.18.0.2")));
        let m = ip.payload();
        assert_eq!(m[0], icmp::V4_ECHO_REPLY);
        assert_eq!(&m[4..], &[0x12, 0x34, 0x00, 0x07, b'p', b'i', b'n', b'g']);
        assert_eq!(checksum::of(m), 0);
    }
}

#[test]
fn mtu_frag_needed_and_too_big() {
    let mut p = testkit::default_router(1);
    p.interfaces[1].mtu = 1000;
    let big = |df: bool| {
        let mut f = frame4("198.18.0.2", "8.8.8.8", 64, ipv4::PROTO_UDP, &[0u8; 1400]);
        if df {
            f[14 + 6] = 0x40;
            f[14 + 10..14 + 12].fill(0);
            let c = checksum::of(&f[14..34]);
            f[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
        }
        f
    };
    let (v, b) = run_at(&mut p, 1, &[big(true), big(false)]);
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::TooBig,
            icmp: Some(0)
        }
    );
    assert_eq!(v[1], drop_of(DropReason::TooBig));
    let ip = ipv4::Packet::new_checked(&b[0].bytes()[14..]).unwrap();
    let m = ip.payload();
    assert_eq!(
        (m[0], m[1]),
        (icmp::V4_DEST_UNREACHABLE, icmp::V4_UNREACH_FRAG_NEEDED)
    );
    assert_eq!(u16::from_be_bytes([m[6], m[7]]), 1000, "next-hop MTU");
}

#[test]
fn icmp_errors_are_rate_limited_and_never_about_errors() {
    let mut p = testkit::default_router(1);
    let expired: Vec<Vec<u8>> = (0..200).map(|_| udp4("198.18.0.2", "8.8.8.8", 1)).collect();
    run_at(&mut p, 5_000_000_000, &expired);
    assert_eq!(p.stats.icmp_errors, 100, "burst of 100");
    assert_eq!(p.stats.icmp_rate_limited, 100);
    assert_eq!(p.stats.drop_count(DropReason::TtlExpired), 200);
    // 50 ms later at 1000/s: 50 more.
    run_at(&mut p, 5_050_000_000, &expired);
    assert_eq!(p.stats.icmp_errors, 150);
    // An ICMP error that expires is dropped silently.
    let mut err = vec![icmp::V4_TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&[0x45; 28]);
    let f = frame4("198.18.0.2", "8.8.8.8", 1, ipv4::PROTO_ICMP, &err);
    let (v, _) = run_at(&mut p, 9_000_000_000, &[f]);
    assert_eq!(v[0], drop_of(DropReason::TtlExpired));
}

#[test]
fn ipv6_forward_errors_ping_and_neighbour_discovery() {
    let udp = [0u8; 16];
    let fwd = frame6("2001:2::2", "2001:4860::8888", 64, ipv6::NEXT_UDP, &udp);
    let expire = frame6("2001:2::2", "2001:4860::8888", 1, ipv6::NEXT_UDP, &udp);
    let unroutable = frame6("2001:2::2", "2001:db8::1", 64, ipv6::NEXT_UDP, &udp);
    let martian = frame6("::1", "2001:4860::8888", 64, ipv6::NEXT_UDP, &udp);
    let ping = icmp6_frame(
        "2001:2::2",
        "2001:2::1",
        64,
        &[128, 0, 0, 0, 0, 1, 0, 2, 9, 9],
    );
    let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&v6("2001:2::1").octets());
    ns.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 0x99]);
    let mut solicit = icmp6_frame("2001:2::2", "ff02::1:ff00:1", 255, &ns);
    solicit[0..6].copy_from_slice(&[0x33, 0x33, 0xff, 0, 0, 1]);
    let (v, b, _) = run(&[fwd, expire, unroutable, martian, ping, solicit]);
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    let p = ipv6::Packet::new_checked(&b[0].bytes()[14..]).unwrap();
    assert_eq!(p.hop_limit(), 63);
    assert_eq!(&b[0].bytes()[0..6], &NEXT);
    assert_eq!(
        v[1],
        Verdict::Drop {
            reason: DropReason::TtlExpired,
            icmp: Some(0)
        }
    );
    assert_eq!(
        v[2],
        Verdict::Drop {
            reason: DropReason::NoRoute,
            icmp: Some(0)
        }
    );
    assert_eq!(v[3], drop_of(DropReason::Martian));
    assert_eq!(v[4], Verdict::Answer { port: 0 });
    assert_eq!(v[5], Verdict::Answer { port: 0 });
    let check6 = |f: &[u8], kind: u8| {
        let p = ipv6::Packet::new_checked(&f[14..]).unwrap();
        let m = &p.packet()[40..];
        assert_eq!(m[0], kind);
        let acc = checksum::ipv6_pseudo(&p.src().octets(), &p.dst().octets(), m.len() as u32, 58);
        assert_eq!(
            checksum::finish(checksum::sum(acc, m)),
            0,
            "ICMPv6 checksum of type {kind}"
        );
        (p.src(), p.dst(), m.to_vec())
    };
    let (s, d, _) = check6(b[1].bytes(), icmp::V6_TIME_EXCEEDED);
    assert_eq!((s, d), (v6("2001:2::1"), v6("2001:2::2")));
    check6(b[2].bytes(), icmp::V6_DEST_UNREACHABLE);
    let (s, d, m) = check6(b[4].bytes(), icmp::V6_ECHO_REPLY);
    assert_eq!(
        (s, d, &m[4..]),
        (v6("2001:2::1"), v6("2001:2::2"), &[0, 1, 0, 2, 9, 9][..])
    );
    let (s, d, m) = check6(b[5].bytes(), icmp::V6_NEIGHBOR_ADVERT);
    assert_eq!((s, d), (v6("2001:2::1"), v6("2001:2::2")));
    assert_eq!(m[4] & 0xe0, 0xe0, "router, solicited, override");
    assert_eq!(&m[8..24], &v6("2001:2::1").octets());
    assert_eq!(
        &m[24..32],
        &[2, 1, 2, 0, 0, 0, 0, 1],
        "target link-layer address"
    );
    assert_eq!(&b[5].bytes()[0..6], &HOST);
}

#[test]
fn neighbour_missing_is_counted() {
    let mut p = testkit::default_router(0);
    let (v, _) = run_at(&mut p, 1, &[udp4("198.18.0.2", "8.8.8.8", 64)]);
    assert_eq!(v[0], drop_of(DropReason::NoNeighbour));
}
