//! A router by the RFCs, on hand-built frames through the documented default router (port 0
//! 198.18.0.1/24 2001:2::1/64, port 1 198.18.1.1/24 2001:2:0:1::1/64, MTU 1400 on port 1 here)
//! with its connected routes installed: each of the defects the differential run against the
//! Linux kernel found (issue 22), and what the RFCs ask instead.
//!
//! - connected subnets are routes, their hosts resolved by ARP/ND (RFC 1812 §5.2.4.3), and the
//!   directed broadcast is not forwarded by default (RFC 1812 §5.3.5.2, RFC 2644);
//! - every port's IPv6 address is the router's (as IPv4's already was);
//! - IPv4 datagrams without DF are fragmented to fit the egress MTU (RFC 1812 §4.2.2.7);
//! - IPv4 options: malformed ones get Parameter Problem with the pointer (§5.2.5), Record Route
//!   and Timestamp are filled in (§5.3.13.2/.3), source routes are refused (RFC 7126);
//! - IPv6 link-local sources stay on their link (RFC 4291 §2.5.6, RFC 4443 §3.1 code 2);
//! - Ethernet padding past the IP datagram is not forwarded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dataplane::pipeline::{connected_routes, DropReason, Io, PacketBuf, Pipeline, Verdict};
use dataplane::wire::{arp, checksum, ethernet, icmp, ipv4, ipv6};
use fib::{Key, Lpm};

const US0: [u8; 6] = [2, 0, 0, 0, 0, 1];
const US1: [u8; 6] = [2, 0, 0, 0, 0, 2];
const NEXT: [u8; 6] = [2, 0, 0, 0, 0, 3];
const PEER: [u8; 6] = [2, 0, 0, 0, 0, 0x99];
const HOST1: [u8; 6] = [2, 0, 0, 0, 0, 0x44];

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The default router with port 1 at MTU 1400, its next hops static on port 1.
fn router() -> Pipeline {
    let mut p = testkit::default_router(1);
    p.interfaces[1].mtu = 1400;
    p
}

/// The tables: 8.8.8.0/24 and 240/4 (IPv6: 2001:4860::/32, 3fff::/20) to next hop 0, and the
/// router's connected routes.
fn tables(p: &Pipeline) -> (Lpm<u32>, Lpm<u128>) {
    let (c4, c6) = connected_routes(&p.interfaces);
    let mut r4 = vec![
        (u32::from_addr(v4("8.8.8.0")), 24, 0),
        (u32::from_addr(v4("240.0.0.0")), 4, 0),
    ];
    r4.extend(c4);
    let mut r6 = vec![
        (u128::from_addr(v6("2001:4860::")), 32, 0),
        (u128::from_addr(v6("3fff::")), 20, 0),
    ];
    r6.extend(c6);
    (Lpm::from_routes(r4).unwrap(), Lpm::from_routes(r6).unwrap())
}

type Outcome = (Vec<Verdict>, Vec<PacketBuf>, Vec<(u16, PacketBuf)>);

/// Frames arriving on `port` at time `now`, with spare buffers for requests and fragments.
fn run_on(p: &mut Pipeline, port: u16, now: u64, frames: &[Vec<u8>]) -> Outcome {
    let (f4, f6) = tables(p);
    let mut bufs: Vec<PacketBuf> = frames
        .iter()
        .map(|f| PacketBuf::from_bytes(f).unwrap())
        .collect();
    let mut v = vec![Verdict::Forward { port: 9 }; bufs.len()];
    let (mut out, mut free) = (Vec::new(), Vec::new());
    let mut spare = || Some(PacketBuf::default());
    let mut io = Io {
        spare: &mut spare,
        out: &mut out,
        free: &mut free,
    };
    p.process_io(&f4, &f6, now, port, &mut bufs, &mut v, Some(&mut io));
    assert_eq!(
        p.stats.frames_in,
        p.stats.accounted(),
        "every frame counted once"
    );
    (v, bufs, out)
}

fn run(p: &mut Pipeline, frames: &[Vec<u8>]) -> Outcome {
    run_on(p, 0, 1_000_000_000, frames)
}

fn ipv4_frame(src: &str, dst: &str, ttl: u8, payload: &[u8]) -> Vec<u8> {
    testkit::ipv4_frame(US0, PEER, v4(src), v4(dst), ipv4::PROTO_UDP, ttl, payload)
}

/// An IPv4 frame with `options` (a multiple of 4 bytes) after the base header.
fn ipv4_with_options(dst: &str, options: &[u8], df: bool, payload: &[u8]) -> Vec<u8> {
    let ihl = 20 + options.len();
    let total = ihl + payload.len();
    let mut f = vec![0u8; 14 + total];
    ethernet::write_header(&mut f, US0, PEER, ethernet::TYPE_IPV4);
    let h = &mut f[14..];
    h[0] = 0x40 | (ihl / 4) as u8;
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    if df {
        h[6] = 0x40;
    }
    h[8] = 64;
    h[9] = ipv4::PROTO_UDP;
    h[12..16].copy_from_slice(&v4("198.18.0.2").octets());
    h[16..20].copy_from_slice(&v4(dst).octets());
    h[20..ihl].copy_from_slice(options);
    h[ihl..].copy_from_slice(payload);
    let c = checksum::of(&h[..ihl]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    f
}

fn ipv6_frame(src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    testkit::ipv6_frame(US0, PEER, v6(src), v6(dst), 17, 64, payload)
}

fn echo6(src: &str, dst: &str) -> Vec<u8> {
    let msg = [icmp::V6_ECHO_REQUEST, 0, 0, 0, 0, 1, 0, 1, b'h', b'i'];
    let mut f = testkit::ipv6_frame(US0, PEER, v6(src), v6(dst), 58, 64, &msg);
    let acc = checksum::ipv6_pseudo(&v6(src).octets(), &v6(dst).octets(), msg.len() as u32, 58);
    let c = checksum::finish(checksum::sum(acc, &f[54..]));
    f[56..58].copy_from_slice(&c.to_be_bytes());
    f
}

#[test]
fn a_host_on_a_connected_subnet_is_resolved_by_arp_and_reached() {
    let mut p = router();
    // 198.18.1.7 is on port 1's subnet: no configured route, yet routable.
    let (v, b, out) = run(
        &mut p,
        &[ipv4_frame("198.18.0.2", "198.18.1.7", 64, &[0; 12])],
    );
    assert_eq!(
        v[0],
        Verdict::Held { request: Some(1) },
        "held while ARP asks"
    );
    let req = arp::Packet::new_checked(&b[0].bytes()[14..]).unwrap();
    assert_eq!(req.target_ip(), v4("198.18.1.7"));
    assert_eq!(req.sender_ip(), v4("198.18.1.1"));
    assert!(out.is_empty());
    // The host answers; the held datagram leaves for it.
    let mut reply = vec![0u8; 60];
    ethernet::write_header(&mut reply, US1, HOST1, ethernet::TYPE_ARP);
    arp::write(
        &mut reply[14..],
        arp::OP_REPLY,
        HOST1,
        v4("198.18.1.7"),
        US1,
        v4("198.18.1.1"),
    );
    let (v, _, out) = run_on(&mut p, 1, 1_100_000_000, &[reply]);
    assert_eq!(v[0], Verdict::Consumed);
    assert_eq!(out.len(), 1);
    let (port, f) = &out[0];
    assert_eq!(*port, 1);
    assert_eq!(&f.bytes()[0..6], &HOST1);
    assert_eq!(&f.bytes()[6..12], &US1);
    // Now known: the next one goes straight out.
    let (v, b, _) = run_on(
        &mut p,
        0,
        1_200_000_000,
        &[ipv4_frame("198.18.0.2", "198.18.1.7", 64, &[0; 12])],
    );
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    assert_eq!(&b[0].bytes()[0..6], &HOST1);
    // A configured next hop's own address (198.18.1.2) is just a host of the subnet too.
    let (v, _, _) = run(
        &mut p,
        &[ipv4_frame("198.18.0.2", "198.18.1.2", 64, &[0; 12])],
    );
    assert!(matches!(v[0], Verdict::Held { .. }), "{:?}", v[0]);
    assert_eq!(p.neighbours.hosts(), 2);
}

/// A configured gateway resolved by ARP (as in the labs) is also a host of its connected
/// subnet: traffic to its own address goes to the MAC learned for the next hop. (The lab's
/// return path to the generator is such a host; a broken dispatch dropped it as no-neighbour.)
#[test]
fn a_dynamic_gateway_is_reached_as_a_host_of_its_subnet() {
    let mut p = router();
    p.neighbours.set_dynamic(0, 1, IpAddr::V4(v4("198.18.1.2")));
    let to_gw = || ipv4_frame("198.18.0.2", "198.18.1.2", 64, &[0; 12]);
    let (v, b, _) = run(&mut p, &[to_gw()]);
    assert_eq!(v[0], Verdict::Held { request: Some(1) });
    let req = arp::Packet::new_checked(&b[0].bytes()[14..]).unwrap();
    assert_eq!(req.target_ip(), v4("198.18.1.2"));
    let mut reply = vec![0u8; 60];
    ethernet::write_header(&mut reply, US1, NEXT, ethernet::TYPE_ARP);
    arp::write(
        &mut reply[14..],
        arp::OP_REPLY,
        NEXT,
        v4("198.18.1.2"),
        US1,
        v4("198.18.1.1"),
    );
    let (_, _, out) = run_on(&mut p, 1, 1_100_000_000, &[reply]);
    assert_eq!(
        out.len(),
        1,
        "the held frame leaves once the gateway answers"
    );
    assert_eq!(&out[0].1.bytes()[0..6], &NEXT);
    // Known now, both as the next hop of a route and as a host of the subnet.
    let (v, b, _) = run_on(
        &mut p,
        0,
        1_200_000_000,
        &[to_gw(), ipv4_frame("198.18.0.2", "8.8.8.8", 64, &[0; 12])],
    );
    for i in 0..2 {
        assert_eq!(v[i], Verdict::Forward { port: 1 }, "frame {i}");
        assert_eq!(&b[i].bytes()[0..6], &NEXT, "frame {i}");
    }
    assert_eq!(
        p.neighbours.hosts(),
        0,
        "the gateway is its next hop, not a new host"
    );
}

#[test]
fn the_directed_broadcast_is_not_forwarded_unless_configured() {
    let mut p = router();
    let (v, _, _) = run(
        &mut p,
        &[ipv4_frame("198.18.0.2", "198.18.1.255", 64, &[0; 12])],
    );
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::DirectedBroadcast,
            icmp: None
        }
    );
    p.forward_directed_broadcast = true;
    let (v, b, _) = run(
        &mut p,
        &[ipv4_frame("198.18.0.2", "198.18.1.255", 64, &[0; 12])],
    );
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    assert_eq!(&b[0].bytes()[0..6], &[0xff; 6], "a link-layer broadcast");
    let ip = ipv4::Packet::new_checked(&b[0].bytes()[14..]).unwrap();
    assert_eq!(ip.ttl(), 63);
    assert!(ip.checksum_ok());
}

#[test]
fn every_ports_ipv6_address_is_the_routers() {
    let mut p = router();
    // Port 1's address, asked on port 0: answered, like IPv4 (it used to get "no route").
    let (v, b, _) = run(&mut p, &[echo6("2001:2::2", "2001:2:0:1::1")]);
    assert_eq!(v[0], Verdict::Answer { port: 0 });
    let ip = ipv6::Packet::new_checked(&b[0].bytes()[14..]).unwrap();
    assert_eq!(ip.src(), v6("2001:2:0:1::1"));
    assert_eq!(ip.dst(), v6("2001:2::2"));
    assert_eq!(b[0].bytes()[54], icmp::V6_ECHO_REPLY);
}

#[test]
fn a_datagram_without_df_is_fragmented_to_the_egress_mtu() {
    let mut p = router();
    let payload: Vec<u8> = (0..1480u32).map(|i| (i * 7) as u8).collect();
    let orig = ipv4_with_options("8.8.8.8", &[], false, &payload);
    let (v, b, out) = run(&mut p, std::slice::from_ref(&orig));
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    assert_eq!(out.len(), 1, "1500 bytes at MTU 1400: two fragments");
    assert_eq!((p.stats.fragmented, p.stats.fragments), (1, 2));
    let mut frags: Vec<&[u8]> = vec![b[0].bytes()];
    frags.extend(out.iter().map(|(port, f)| {
        assert_eq!(*port, 1);
        f.bytes()
    }));
    let mut data = vec![0u8; payload.len()];
    let mut seen = 0;
    for (k, f) in frags.iter().enumerate() {
        assert_eq!(&f[0..6], &NEXT);
        assert_eq!(&f[6..12], &US1);
        let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
        assert!(ip.checksum_ok(), "fragment {k}");
        assert!(ip.total_len() <= 1400, "fragment {k}: {}", ip.total_len());
        assert_eq!(ip.ttl(), 63);
        let field = u16::from_be_bytes([f[20], f[21]]);
        let (more, off) = (field & 0x2000 != 0, usize::from(field & 0x1fff) * 8);
        assert_eq!(more, k == 0, "more fragments on all but the last");
        assert_eq!(u16::from_be_bytes([f[18], f[19]]), 0x1234, "same id");
        let body = &f[14 + 20..14 + ip.total_len()];
        if more {
            assert_eq!(body.len() % 8, 0);
        }
        data[off..off + body.len()].copy_from_slice(body);
        seen += body.len();
    }
    assert_eq!(
        (seen, data),
        (payload.len(), payload),
        "reassembles to the original"
    );
    // With DF the answer is still Fragmentation Needed with the MTU.
    let (v, b, out) = run(
        &mut p,
        &[ipv4_with_options("8.8.8.8", &[], true, &[0; 1480])],
    );
    assert!(out.is_empty());
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::TooBig,
            icmp: Some(0)
        }
    );
    let m = &b[0].bytes()[34..];
    assert_eq!((m[0], m[1]), (icmp::V4_DEST_UNREACHABLE, 4));
    assert_eq!(u16::from_be_bytes([m[6], m[7]]), 1400);
}

#[test]
fn later_fragments_carry_only_the_copied_options() {
    let mut p = router();
    // Security (130, copied) and Record Route (7, not copied); 2000 bytes of payload.
    let opts = [130, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0];
    let (v, b, out) = run(
        &mut p,
        &[ipv4_with_options("8.8.8.8", &opts, false, &[0xab; 2000])],
    );
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    assert_eq!(out.len(), 1);
    let first = b[0].bytes();
    assert_eq!(
        first[14] & 0x0f,
        8,
        "the first keeps every option (32-byte header)"
    );
    assert_eq!(
        &first[14 + 24..14 + 31],
        &[7, 7, 8, 198, 18, 1, 1],
        "route recorded"
    );
    let second = out[0].1.bytes();
    assert_eq!(
        second[14] & 0x0f,
        6,
        "a 24-byte header: only the copied option"
    );
    assert_eq!(&second[34..38], &[130, 4, 0, 0]);
    assert!(ipv4::Packet::new_checked(&second[14..])
        .unwrap()
        .checksum_ok());
}

#[test]
fn a_malformed_option_gets_parameter_problem_with_its_pointer() {
    let mut p = router();
    // Option type 0x44 (timestamp) with length 0: the case.
    let (v, b, _) = run(
        &mut p,
        &[ipv4_with_options(
            "8.8.8.8",
            &[0x44, 0, 0, 0],
            false,
            &[0; 8],
        )],
    );
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::BadOption,
            icmp: Some(0)
        }
    );
    let m = &b[0].bytes()[34..];
    assert_eq!((m[0], m[1]), (icmp::V4_PARAMETER_PROBLEM, 0));
    assert_eq!(
        m[4], 20,
        "pointer: the option's first octet, IP header byte 20 (as Linux)"
    );
    assert_eq!(checksum::of(&m[..b[0].len() - 34]), 0);
}

#[test]
fn record_route_and_timestamp_are_filled_in() {
    let mut p = router();
    // Record Route with room for two addresses, then a Timestamp (flag 1) with room for one.
    let opts = [
        7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let (v, b, _) = run_on(
        &mut p,
        0,
        7_000_000_000,
        &[ipv4_with_options("8.8.8.8", &opts, true, &[0; 8])],
    );
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    let f = b[0].bytes();
    let o = &f[34..34 + 24];
    assert_eq!(
        &o[..8],
        &[7, 11, 8, 198, 18, 1, 1, 0],
        "egress address recorded"
    );
    assert_eq!(o[14], 13, "timestamp pointer advanced");
    assert_eq!(
        &o[16..20],
        &[198, 18, 0, 1],
        "the address it arrived at (as Linux)"
    );
    assert_eq!(
        u32::from_be_bytes([o[20], o[21], o[22], o[23]]),
        0x8000_0000 | 7000,
        "non-standard time (high bit): ms of the router's clock"
    );
    assert!(ipv4::Packet::new_checked(&f[14..]).unwrap().checksum_ok());
}

#[test]
fn source_routes_are_refused_unless_accepted() {
    let mut p = router();
    let lsrr = [131, 7, 4, 198, 18, 1, 2, 1];
    let (v, _, _) = run(
        &mut p,
        &[ipv4_with_options("8.8.8.8", &lsrr, true, &[0; 8])],
    );
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::SourceRouted,
            icmp: None
        }
    );
    p.accept_source_route = true;
    let (v, _, _) = run(
        &mut p,
        &[ipv4_with_options("8.8.8.8", &lsrr, true, &[0; 8])],
    );
    assert_eq!(v[0], Verdict::Forward { port: 1 });
}

#[test]
fn a_link_local_source_does_not_leave_its_link() {
    let mut p = router();
    let (v, b, _) = run(
        &mut p,
        &[ipv6_frame("fe80::10", "2001:4860::8888", &[0; 16])],
    );
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::BeyondScope,
            icmp: Some(0)
        }
    );
    let f = b[0].bytes();
    let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
    assert_eq!(ip.dst(), v6("fe80::10"));
    assert_eq!(
        (f[54], f[55]),
        (icmp::V6_DEST_UNREACHABLE, 2),
        "beyond scope of source"
    );
    // Someone else's link-local destination is never forwarded.
    let (v, _, _) = run(&mut p, &[ipv6_frame("2001:2::2", "fe80::1234", &[0; 16])]);
    assert_eq!(
        v[0],
        Verdict::Drop {
            reason: DropReason::NotForwarded,
            icmp: None
        }
    );
}

#[test]
fn ethernet_padding_is_trimmed_to_the_datagram() {
    let mut p = router();
    let mut f = ipv4_frame("198.18.0.2", "8.8.8.8", 64, &[1, 2, 3, 4, 5, 6, 7, 8]);
    let datagram = f.len();
    f.extend_from_slice(&[0xee; 20]); // a 20-byte trailer
    let (v, b, _) = run(&mut p, &[f]);
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    assert_eq!(b[0].len(), datagram, "forwarded without its trailer");
    let mut g = ipv6_frame("2001:2::2", "2001:4860::1", &[9; 16]);
    let datagram = g.len();
    g.extend_from_slice(&[0xee; 12]);
    let (v, b, _) = run(&mut p, &[g]);
    assert_eq!(v[0], Verdict::Forward { port: 1 });
    assert_eq!(b[0].len(), datagram);
}

#[test]
fn connected_routes_lose_to_nothing_shorter_and_to_more_specific_routes() {
    let p = router();
    let (c4, _) = connected_routes(&p.interfaces);
    // A more specific route inside the connected /24 wins; the /24 beats a default route.
    let mut r4 = vec![
        (0u32, 0u8, 0u32),
        (u32::from_addr(v4("198.18.1.128")), 25, 0),
    ];
    r4.extend(c4.clone());
    let t: Lpm<u32> = Lpm::from_routes(r4).unwrap();
    assert_eq!(t.lookup(u32::from_addr(v4("198.18.1.200"))), Some(0));
    assert_eq!(
        t.lookup(u32::from_addr(v4("198.18.1.7"))),
        Some(dataplane::pipeline::CONNECTED_BASE + 1)
    );
    assert_eq!(
        c4,
        vec![
            (
                u32::from_addr(v4("198.18.0.0")),
                24,
                dataplane::pipeline::CONNECTED_BASE
            ),
            (
                u32::from_addr(v4("198.18.1.0")),
                24,
                dataplane::pipeline::CONNECTED_BASE + 1
            ),
        ]
    );
}
