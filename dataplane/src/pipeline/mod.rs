//! The forwarding pipeline: a pure function over a burst of frames. No I/O, no clock (the caller
//! passes the time), no allocation: unit-testable and fuzzable.
//!
//! Per frame, in order:
//! 1. Ethernet: for us (our MAC, broadcast, or IPv6 multicast), untagged.
//! 2. ARP requests for our addresses are answered.
//! 3. IPv4 (RFC 1812 §5.2.2): version, header length, total length vs frame, header checksum;
//!    martian sources (0/8, 127/8, multicast, class E, broadcast) and destinations (0/8,
//!    127/8) dropped; multicast and limited-broadcast destinations are not forwarded.
//!    IPv6: version, payload length; unspecified, loopback or multicast sources dropped.
//! 4. Traffic to the router: ICMP/ICMPv6 echo answered, neighbour solicitations for our
//!    addresses answered; anything else to us is dropped and counted.
//! 5. TTL / hop limit ≤ 1: ICMP Time Exceeded.
//!    Ethernet padding past the IP packet is trimmed; IPv4 options are validated (Parameter
//!    Problem on a malformed one; source routes refused unless accepted: [`options`]).
//! 6. One batched FIB lookup for all frames of the burst still forwarding; no route: ICMP
//!    Destination Unreachable; next hop without a neighbour: dropped. The router's own subnets
//!    are routes too ([`connected_routes`], next hops from [`CONNECTED_BASE`]): their hosts
//!    are resolved by ARP/ND like gateways, and their IPv4 broadcast address is not forwarded
//!    unless configured (directed broadcast, RFC 2644).
//! 7. IPv6 link-local sources do not leave their link (ICMPv6 "beyond scope", RFC 4443).
//! 8. MTU: too big for the egress port: ICMP Fragmentation Needed (IPv4 with DF) or Packet Too
//!    Big (IPv6); IPv4 without DF is fragmented ([`fragment`], an exception path with spare
//!    buffers).
//! 9. Record Route and Timestamp options filled in; TTL/hop limit decremented (IPv4 checksum
//!    updated incrementally, RFC 1624), MACs rewritten.
//!
//! What the router writes itself (answers, ICMP errors, ARP/ND requests) is in [`reply`].
//! ICMP errors are rate-limited by a token bucket and never sent about ICMP errors, non-first
//! fragments, or martians. Every frame ends with exactly one [`Verdict`]; every drop is counted
//! by [`DropReason`]; nothing panics, whatever the bytes.

mod connected;
mod fragment;
pub mod options;
mod reply;
mod types;

pub use connected::{connected_routes, Connected, CONNECTED_BASE};

pub use types::{DropReason, Interface, Io, PacketBuf, Stats, TokenBucket, Verdict};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reply::mac_at;

use fib::{Lpm, NO_ROUTE};

use crate::neighbour::{Neighbours, Resolution};
use crate::wire::ethernet::{self, Mac};
use crate::wire::{arp, get16, icmp, ipv4, ipv6};

/// Frames per burst.
pub const BURST: usize = 32;

pub use crate::buf::BUF_SIZE;

/// A virtual router's forwarding state, owned by the worker that runs it.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// Indexed by port.
    pub interfaces: Vec<Interface>,
    pub neighbours: Neighbours,
    pub stats: Stats,
    pub icmp: TokenBucket,
    /// Treat 240.0.0.0/4 (class E) as unicast, as Linux does since 2.6.25: sources there are
    /// then not martians. Off by default (RFC 1812); labs relocated into 240/4 turn it on.
    pub class_e_unicast: bool,
    /// Forward directed broadcasts (to a connected subnet's broadcast address) as link-layer
    /// broadcasts. Off by default (RFC 2644; Linux's `bc_forwarding` too).
    pub forward_directed_broadcast: bool,
    /// Forward source-routed IPv4 datagrams (without acting on the route). Off by default
    /// (RFC 7126; Linux's `accept_source_route` too).
    pub accept_source_route: bool,
}

/// Work left for the second pass of a burst: look up and forward, IP header at `l3`.
#[derive(Clone, Copy)]
enum Pending {
    None,
    V4 { l3: usize },
    V6 { l3: usize },
}

const TTL_OUT: u8 = 64;

impl Pipeline {
    /// A router with these interfaces (one per port, `interfaces[i].port == i`), ICMP errors
    /// limited to 1000/s with a burst of 100.
    pub fn new(interfaces: Vec<Interface>, neighbours: Neighbours) -> Self {
        Pipeline {
            interfaces,
            neighbours,
            stats: Stats::default(),
            class_e_unicast: false,
            forward_directed_broadcast: false,
            accept_source_route: false,
            icmp: TokenBucket::new(1000, 100),
        }
    }

    /// Processes a burst that arrived on `ingress`, at time `now_ns`. `verdicts` must be at
    /// least as long as `frames`; bursts longer than [`BURST`] are handled in chunks. Without
    /// [`Io`], next hops without a MAC drop their frames (`no-neighbour`).
    pub fn process(
        &mut self,
        fib4: &Lpm<u32>,
        fib6: &Lpm<u128>,
        now_ns: u64,
        ingress: u16,
        frames: &mut [PacketBuf],
        verdicts: &mut [Verdict],
    ) {
        self.process_io(fib4, fib6, now_ns, ingress, frames, verdicts, None);
    }

    /// [`Pipeline::process`] with neighbour resolution: frames for unresolved next hops are
    /// held and requests sent; frames released by answers go to `io.out`.
    #[allow(clippy::too_many_arguments)]
    pub fn process_io(
        &mut self,
        fib4: &Lpm<u32>,
        fib6: &Lpm<u128>,
        now_ns: u64,
        ingress: u16,
        frames: &mut [PacketBuf],
        verdicts: &mut [Verdict],
        mut io: Option<&mut Io<'_>>,
    ) {
        for (f, v) in frames.chunks_mut(BURST).zip(verdicts.chunks_mut(BURST)) {
            self.burst(fib4, fib6, now_ns, ingress, f, v, &mut io);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn burst(
        &mut self,
        fib4: &Lpm<u32>,
        fib6: &Lpm<u128>,
        now_ns: u64,
        ingress: u16,
        frames: &mut [PacketBuf],
        verdicts: &mut [Verdict],
        io: &mut Option<&mut Io<'_>>,
    ) {
        let n = frames.len().min(verdicts.len());
        let mut pending = [Pending::None; BURST];
        let mut dst4 = [0u32; BURST];
        let mut idx4 = [0usize; BURST];
        let mut dst6 = [0u128; BURST];
        let mut idx6 = [0usize; BURST];
        let (mut n4, mut n6) = (0, 0);
        for i in 0..n {
            self.stats.frames_in += 1;
            self.stats.bytes_in += frames[i].len as u64;
            match self.classify(now_ns, ingress, &mut frames[i], io) {
                Ok(Pending::V4 { l3 }) => {
                    pending[i] = Pending::V4 { l3 };
                    dst4[n4] = u32::from_be_bytes(
                        frames[i].data[l3 + 16..l3 + 20]
                            .try_into()
                            .unwrap_or([0; 4]),
                    );
                    idx4[n4] = i;
                    n4 += 1;
                }
                Ok(Pending::V6 { l3 }) => {
                    pending[i] = Pending::V6 { l3 };
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&frames[i].data[l3 + 24..l3 + 40]);
                    dst6[n6] = u128::from_be_bytes(a);
                    idx6[n6] = i;
                    n6 += 1;
                }
                Ok(Pending::None) => verdicts[i] = Self::drop(DropReason::NotForUs),
                Err(v) => verdicts[i] = v,
            }
        }
        // One batched lookup per family for the whole burst.
        let mut hop4 = [NO_ROUTE; BURST];
        let mut hop6 = [NO_ROUTE; BURST];
        fib4.lookup_batch(&dst4[..n4], &mut hop4[..n4]);
        fib6.lookup_batch(&dst6[..n6], &mut hop6[..n6]);
        for k in 0..n4 {
            let i = idx4[k];
            if let Pending::V4 { l3 } = pending[i] {
                verdicts[i] = self.forward(now_ns, ingress, &mut frames[i], l3, hop4[k], false, io);
            }
        }
        for k in 0..n6 {
            let i = idx6[k];
            if let Pending::V6 { l3 } = pending[i] {
                verdicts[i] = self.forward(now_ns, ingress, &mut frames[i], l3, hop6[k], true, io);
            }
        }
        for v in &verdicts[..n] {
            match *v {
                Verdict::Forward { .. } => self.stats.forwarded += 1,
                Verdict::Answer { .. } => self.stats.answered += 1,
                Verdict::Held { .. } => self.stats.held += 1,
                Verdict::Consumed => self.stats.consumed += 1,
                Verdict::Drop { reason, icmp } => {
                    self.stats.drops[reason as usize] += 1;
                    if icmp.is_some() {
                        self.stats.icmp_errors += 1;
                    }
                }
            }
        }
    }

    fn drop(reason: DropReason) -> Verdict {
        Verdict::Drop { reason, icmp: None }
    }

    /// First pass: validation, local traffic, TTL. `Ok` means "look up and forward".
    fn classify(
        &mut self,
        now_ns: u64,
        ingress: u16,
        f: &mut PacketBuf,
        io: &mut Option<&mut Io<'_>>,
    ) -> Result<Pending, Verdict> {
        let Some(ifc) = self.interfaces.get(usize::from(ingress)) else {
            return Err(Self::drop(DropReason::NotForUs));
        };
        let (dst_mac, ethertype, l2) = match ethernet::Frame::new_checked(f.bytes()) {
            Ok(e) if e.vlan().is_some() => return Err(Self::drop(DropReason::Vlan)),
            Ok(e) => (e.dst(), e.ethertype(), e.header_len()),
            Err(_) => return Err(Self::drop(DropReason::TooShort)),
        };
        let multicast = dst_mac[0] & 1 != 0;
        if dst_mac != ifc.mac && !multicast {
            return Err(Self::drop(DropReason::NotForUs));
        }
        match ethertype {
            ethernet::TYPE_ARP => Err(self.arp(now_ns, ingress, f, l2, io)),
            ethernet::TYPE_IPV4 => self.classify4(now_ns, ingress, f, l2, multicast),
            ethernet::TYPE_IPV6 => self.classify6(now_ns, ingress, f, l2, io),
            _ => Err(Self::drop(DropReason::UnsupportedEthertype)),
        }
    }

    fn arp(
        &mut self,
        now_ns: u64,
        ingress: u16,
        f: &mut PacketBuf,
        l2: usize,
        io: &mut Option<&mut Io<'_>>,
    ) -> Verdict {
        let Ok(a) = arp::Packet::new_checked(&f.bytes()[l2..]) else {
            return Self::drop(DropReason::BadArp);
        };
        let (target, op) = (a.target_ip(), a.operation());
        // Requests and replies alike teach us a configured gateway's MAC.
        let learned = self.learn(
            now_ns,
            IpAddr::V4(a.sender_ip()),
            ingress,
            a.sender_mac(),
            io,
        );
        let ifc = &self.interfaces[usize::from(ingress)];
        if op != arp::OP_REQUEST || !ifc.v4.iter().any(|n| n.addr() == target) {
            return if learned {
                Verdict::Consumed
            } else {
                Self::drop(DropReason::LocalUnsupported)
            };
        }
        let (sha, spa) = (a.sender_mac(), a.sender_ip());
        let mac = ifc.mac;
        let b = &mut f.data[..];
        ethernet::write_header(b, sha, mac, ethernet::TYPE_ARP);
        arp::write(&mut b[14..], arp::OP_REPLY, mac, target, sha, spa);
        b[42..60].fill(0);
        f.len = 60;
        Verdict::Answer { port: ingress }
    }

    fn classify4(
        &mut self,
        now_ns: u64,
        ingress: u16,
        f: &mut PacketBuf,
        l2: usize,
        l2_multicast: bool,
    ) -> Result<Pending, Verdict> {
        let p = match ipv4::Packet::new_checked(&f.bytes()[l2..]) {
            Ok(p) => p,
            Err(crate::wire::Error::Truncated) => return Err(Self::drop(DropReason::TooShort)),
            Err(crate::wire::Error::BadVersion) => return Err(Self::drop(DropReason::BadVersion)),
            Err(_) => {
                // Tell header-length errors from total-length ones for the counters.
                let b = &f.bytes()[l2..];
                let ihl = usize::from(b[0] & 0x0f) * 4;
                let reason = if ihl < 20 || ihl > b.len() {
                    DropReason::BadHeaderLength
                } else {
                    DropReason::BadLength
                };
                return Err(Self::drop(reason));
            }
        };
        if !p.checksum_ok() {
            return Err(Self::drop(DropReason::BadChecksum));
        }
        let (src, dst) = (p.src(), p.dst());
        let (ihl, total) = (p.header_len(), p.total_len());
        if martian4_src(src, self.class_e_unicast) || dst.octets()[0] == 0 || dst.is_loopback() {
            return Err(Self::drop(DropReason::Martian));
        }
        if dst.is_multicast() || dst.is_broadcast() || l2_multicast {
            return Err(Self::drop(DropReason::NotForwarded));
        }
        let ifc_has =
            |a: Ipv4Addr, ifs: &[Interface]| ifs.iter().any(|i| i.v4.iter().any(|n| n.addr() == a));
        if ifc_has(dst, &self.interfaces) {
            let l4 = l2 + p.header_len();
            let end = l2 + p.total_len();
            let is_echo = p.protocol() == ipv4::PROTO_ICMP
                && end - l4 >= icmp::field::HEADER_LEN
                && f.data[l4] == icmp::V4_ECHO_REQUEST;
            return Err(if is_echo {
                self.echo4(ingress, f, l2, l4, end)
            } else {
                Self::drop(DropReason::LocalUnsupported)
            });
        }
        if p.ttl() <= 1 {
            return Err(self.icmp4_error(
                now_ns,
                ingress,
                f,
                l2,
                DropReason::TtlExpired,
                icmp::V4_TIME_EXCEEDED,
                0,
                0,
            ));
        }
        // Ethernet padding (a short datagram in a minimum-size frame) does not travel on.
        f.len = f.len.min(l2 + total);
        if ihl > ipv4::field::MIN_HEADER_LEN {
            self.check_options(now_ns, ingress, f, l2, ihl)?;
        }
        Ok(Pending::V4 { l3: l2 })
    }

    fn classify6(
        &mut self,
        now_ns: u64,
        ingress: u16,
        f: &mut PacketBuf,
        l2: usize,
        io: &mut Option<&mut Io<'_>>,
    ) -> Result<Pending, Verdict> {
        let p = match ipv6::Packet::new_checked(&f.bytes()[l2..]) {
            Ok(p) => p,
            Err(crate::wire::Error::Truncated) => return Err(Self::drop(DropReason::TooShort)),
            Err(crate::wire::Error::BadVersion) => return Err(Self::drop(DropReason::BadVersion)),
            Err(_) => return Err(Self::drop(DropReason::BadLength)),
        };
        let (src, dst) = (p.src(), p.dst());
        if src.is_unspecified() && !dst.is_multicast()
            || src.is_loopback()
            || src.is_multicast()
            || dst.is_unspecified()
            || dst.is_loopback()
        {
            return Err(Self::drop(DropReason::Martian));
        }
        // Every port's address is the router's (as for IPv4; neighbour solicitations are
        // answered for the ingress port's own addresses only, in `neighbor_advert`).
        let ingress_ll = self.interfaces[usize::from(ingress)].link_local();
        let ours = |a: Ipv6Addr| {
            self.interfaces
                .iter()
                .any(|i| i.v6.iter().any(|n| n.addr() == a))
                || (a == ingress_ll && !self.interfaces[usize::from(ingress)].v6.is_empty())
        };
        let local = ours(dst) || dst.is_multicast();
        if local {
            let Ok((next, off)) = p.upper_layer() else {
                return Err(Self::drop(DropReason::BadLength));
            };
            let hop_limit = p.hop_limit();
            let end = l2 + ipv6::field::HEADER_LEN + p.payload_len();
            let l4 = l2 + off;
            if next != ipv6::NEXT_ICMPV6 || end - l4 < icmp::field::HEADER_LEN {
                return Err(Self::drop(if dst.is_multicast() {
                    DropReason::NotForwarded
                } else {
                    DropReason::LocalUnsupported
                }));
            }
            let kind = f.data[l4];
            return Err(match kind {
                icmp::V6_ECHO_REQUEST if !dst.is_multicast() => self.echo6(ingress, f, l2, l4, end),
                icmp::V6_NEIGHBOR_SOLICIT if hop_limit == 255 => {
                    self.neighbor_advert(ingress, f, l2, l4, end)
                }
                icmp::V6_NEIGHBOR_ADVERT if hop_limit == 255 => {
                    let mac = na_mac(&f.data[..], l4, end);
                    let target =
                        icmp::Message::new_checked(&f.data[l4..end]).and_then(|m| m.nd_target());
                    match (target, mac) {
                        (Ok(t), Some(m)) if self.learn(now_ns, IpAddr::V6(t), ingress, m, io) => {
                            Verdict::Consumed
                        }
                        _ => Self::drop(DropReason::LocalUnsupported),
                    }
                }
                _ if dst.is_multicast() => Self::drop(DropReason::NotForwarded),
                _ => Self::drop(DropReason::LocalUnsupported),
            });
        }
        if dst.is_unicast_link_local() {
            // Someone else's link-local address: it lives on the sender's link only.
            return Err(Self::drop(DropReason::NotForwarded));
        }
        let end = l2 + ipv6::field::HEADER_LEN + p.payload_len();
        if p.hop_limit() <= 1 {
            return Err(self.icmp6_error(
                now_ns,
                ingress,
                f,
                l2,
                DropReason::TtlExpired,
                icmp::V6_TIME_EXCEEDED,
                0,
                0,
            ));
        }
        f.len = f.len.min(end);
        Ok(Pending::V6 { l3: l2 })
    }

    /// Learns `mac` for `ip` if it is a configured gateway on `port`; frames held for it leave
    /// through `io.out`. True if something was learned.
    fn learn(
        &mut self,
        now_ns: u64,
        ip: IpAddr,
        port: u16,
        mac: Mac,
        io: &mut Option<&mut Io<'_>>,
    ) -> bool {
        let Some((n, held)) = self.neighbours.learn(ip, port, mac, now_ns) else {
            return false;
        };
        self.stats.released += held.len() as u64;
        match io.as_deref_mut() {
            Some(io) => {
                for mut b in held {
                    b.data[..6].copy_from_slice(&n.mac.0);
                    io.out.push((n.port, b));
                }
            }
            None => drop(held),
        }
        true
    }

    /// Forwards a frame whose next hop is `hop`: neighbour resolution, MTU, TTL or hop limit,
    /// MAC rewrite.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &mut self,
        now_ns: u64,
        ingress: u16,
        f: &mut PacketBuf,
        l3: usize,
        mut hop: u32,
        v6: bool,
        io: &mut Option<&mut Io<'_>>,
    ) -> Verdict {
        // One compare on the fast path: above CONNECTED_BASE are connected routes and, at the
        // top, no route at all.
        let resolution = if hop >= CONNECTED_BASE {
            if hop == NO_ROUTE {
                return if v6 {
                    self.icmp6_error(
                        now_ns,
                        ingress,
                        f,
                        l3,
                        DropReason::NoRoute,
                        icmp::V6_DEST_UNREACHABLE,
                        0,
                        0,
                    )
                } else {
                    self.icmp4_error(
                        now_ns,
                        ingress,
                        f,
                        l3,
                        DropReason::NoRoute,
                        icmp::V4_DEST_UNREACHABLE,
                        icmp::V4_UNREACH_NET,
                        0,
                    )
                };
            }
            match self.connected_host(now_ns, f, l3, hop, v6) {
                Ok(id) => {
                    hop = id;
                    match io {
                        Some(_) => self.neighbours.resolve_host(id, now_ns),
                        None => self
                            .neighbours
                            .get_host(id)
                            .map_or(Resolution::Unknown, Resolution::Ready),
                    }
                }
                Err(v) => return v,
            }
        } else {
            // Without an Io there is nowhere to hold frames: only known MACs forward.
            match io {
                Some(_) => self.neighbours.resolve(hop, now_ns),
                None => self
                    .neighbours
                    .get(hop)
                    .map_or(Resolution::Unknown, Resolution::Ready),
            }
        };
        let (port, mac, ask) = match resolution {
            Resolution::Ready(n) => (n.port, Some(n.mac), None),
            Resolution::Refresh(n, gateway) => {
                self.send_request(n.port, gateway, io);
                (n.port, Some(n.mac), None)
            }
            Resolution::Pending {
                port,
                gateway,
                request,
            } => (port, None, request.then_some(gateway)),
            Resolution::Unknown => return Self::drop(DropReason::NoNeighbour),
        };
        let Some(out) = self.interfaces.get(usize::from(port)) else {
            return Self::drop(DropReason::NoNeighbour);
        };
        let (out_mac, mtu) = (out.mac, usize::from(out.mtu));
        let b = &f.data[..];
        if v6 {
            if port != ingress && reply::ip6_at(b, l3 + 8).is_unicast_link_local() {
                return self.icmp6_error(
                    now_ns,
                    ingress,
                    f,
                    l3,
                    DropReason::BeyondScope,
                    icmp::V6_DEST_UNREACHABLE,
                    icmp::V6_UNREACH_BEYOND_SCOPE,
                    0,
                );
            }
            let b = &f.data[..];
            let size =
                ipv6::field::HEADER_LEN + usize::from(get16(b, l3 + ipv6::field::PAYLOAD_LEN));
            if size > mtu {
                return self.icmp6_error(
                    now_ns,
                    ingress,
                    f,
                    l3,
                    DropReason::TooBig,
                    icmp::V6_PACKET_TOO_BIG,
                    0,
                    mtu as u32,
                );
            }
            let h = &mut f.data[l3 + ipv6::field::HOP_LIMIT];
            *h = h.saturating_sub(1); // > 1 here: checked in classify6
        } else {
            let total = usize::from(get16(b, l3 + ipv4::field::TOTAL_LEN));
            if total > mtu {
                if get16(b, l3 + ipv4::field::FLAGS_FRAG) & ipv4::FLAG_DF == 0 {
                    return self.forward_fragmented(now_ns, ingress, f, l3, port, mac, ask, io);
                } else {
                    return self.icmp4_error(
                        now_ns,
                        ingress,
                        f,
                        l3,
                        DropReason::TooBig,
                        icmp::V4_DEST_UNREACHABLE,
                        icmp::V4_UNREACH_FRAG_NEEDED,
                        mtu as u32,
                    );
                }
            }
            if b[l3] != 0x45 {
                // Options (a header longer than 20 bytes).
                if let Err(v) = self.record_options(now_ns, ingress, port, f, l3) {
                    return v;
                }
            }
            let end = f.len;
            if let Ok(mut p) = ipv4::Packet::new_checked(&mut f.data[l3..end]) {
                p.decrement_ttl();
            }
        }
        let ethertype = if v6 {
            ethernet::TYPE_IPV6
        } else {
            ethernet::TYPE_IPV4
        };
        // Rewritten before any holding: a released frame only needs its destination MAC.
        ethernet::write_header(&mut f.data[..], mac.unwrap_or_default(), out_mac, ethertype);
        if mac.is_some() {
            return Verdict::Forward { port };
        }
        self.hold(now_ns, hop, port, ask, f, io)
    }

    /// Moves `f` into `hop`'s hold queue, leaving a request (or an empty spare) in its place.
    #[allow(clippy::too_many_arguments)]
    fn hold(
        &mut self,
        now_ns: u64,
        hop: u32,
        port: u16,
        ask: Option<IpAddr>,
        f: &mut PacketBuf,
        io: &mut Option<&mut Io<'_>>,
    ) -> Verdict {
        let Some(io) = io.as_deref_mut() else {
            return Self::drop(DropReason::NoNeighbour);
        };
        let Some(spare) = (io.spare)() else {
            return Self::drop(DropReason::NoNeighbour);
        };
        let frame = std::mem::replace(f, spare);
        self.neighbours.hold(hop, frame, now_ns, io.free);
        match ask {
            Some(gateway) if self.write_request(port, gateway, f) => Verdict::Held {
                request: Some(port),
            },
            _ => Verdict::Held { request: None },
        }
    }
}

fn martian4_src(a: Ipv4Addr, class_e_unicast: bool) -> bool {
    let o = a.octets()[0];
    o == 0
        || o == 127
        || (224..240).contains(&o)
        || (o >= 240 && !(class_e_unicast && o < 255))
        || a.is_broadcast()
}

/// The target link-layer address of a neighbour advertisement (option 2), else the frame's
/// Ethernet source.
fn na_mac(b: &[u8], l4: usize, end: usize) -> Option<Mac> {
    let mut at = l4 + icmp::field::ND_LEN;
    while at + 8 <= end {
        let (kind, len) = (b[at], usize::from(b[at + 1]) * 8);
        if len == 0 {
            break;
        }
        if kind == 2 && len >= 8 {
            return Some(mac_at(b, at + 2));
        }
        at += len;
    }
    (end > 12).then(|| mac_at(b, 6))
}
