//! What the router writes itself: answers (ARP reply, echo replies, neighbour advertisements),
//! ICMP and ICMPv6 errors about a frame (written over it), and ARP requests and neighbour
//! solicitations for next hops being resolved. Replies are built in the frame's own buffer from
//! byte 14 on; the sender's MAC stays readable until [`Pipeline::return_to_sender`] writes the
//! Ethernet header.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{DropReason, Io, PacketBuf, Pipeline, Verdict, TTL_OUT};
use crate::wire::ethernet::{self, Mac};
use crate::wire::{arp, checksum, get16, icmp, ipv4, ipv6, put16};

impl Pipeline {
    /// Sends a request for `gateway` on `port` from a spare buffer (MAC refresh).
    pub(super) fn send_request(
        &mut self,
        port: u16,
        gateway: IpAddr,
        io: &mut Option<&mut Io<'_>>,
    ) {
        let Some(io) = io.as_deref_mut() else { return };
        let Some(mut b) = (io.spare)() else { return };
        if self.write_request(port, gateway, &mut b) {
            io.out.push((port, b));
        } else {
            io.free.push(b);
        }
    }

    /// Writes an ARP request (IPv4) or a neighbour solicitation (IPv6) for `gateway` from `port`
    /// into `f`. False when the port has no address of that family to ask from.
    pub(super) fn write_request(&self, port: u16, gateway: IpAddr, f: &mut PacketBuf) -> bool {
        let Some(ifc) = self.interfaces.get(usize::from(port)) else {
            return false;
        };
        let b = &mut f.data[..];
        match gateway {
            IpAddr::V4(gw) => {
                let Some(src) = ifc
                    .v4
                    .iter()
                    .find(|n| n.contains(&gw))
                    .or(ifc.v4.first())
                    .map(|n| n.addr())
                else {
                    return false;
                };
                ethernet::write_header(b, ethernet::BROADCAST, ifc.mac, ethernet::TYPE_ARP);
                arp::write(
                    &mut b[14..],
                    arp::OP_REQUEST,
                    ifc.mac,
                    src,
                    Mac::default(),
                    gw,
                );
                b[42..60].fill(0);
                f.len = 60;
            }
            IpAddr::V6(gw) => {
                // From the port's link-local address, as Linux asks (RFC 4861 §7.2.2 lets
                // either be the source); only ports with an IPv6 address speak IPv6.
                if ifc.v6.is_empty() {
                    return false;
                }
                let src = ifc.link_local();
                let g = gw.octets();
                let solicited = Ipv6Addr::new(
                    0xff02,
                    0,
                    0,
                    0,
                    0,
                    1,
                    0xff00 | u16::from(g[13]),
                    u16::from_be_bytes([g[14], g[15]]),
                );
                let l4 = 14 + 40;
                let len = 32;
                b[l4..l4 + len].fill(0);
                b[l4] = icmp::V6_NEIGHBOR_SOLICIT;
                b[l4 + 8..l4 + 24].copy_from_slice(&g);
                b[l4 + 24] = 1; // source link-layer address option
                b[l4 + 25] = 1;
                b[l4 + 26..l4 + 32].copy_from_slice(&ifc.mac.0);
                ipv6::write_header(&mut b[14..], src, solicited, ipv6::NEXT_ICMPV6, 255, len);
                icmp6_checksum(b, l4, len, &src, &solicited);
                ethernet::write_header(
                    b,
                    Mac([0x33, 0x33, 0xff, g[13], g[14], g[15]]),
                    ifc.mac,
                    ethernet::TYPE_IPV6,
                );
                f.len = l4 + len;
            }
        }
        true
    }

    pub(super) fn echo4(
        &mut self,
        ingress: u16,
        f: &mut PacketBuf,
        l3: usize,
        l4: usize,
        end: usize,
    ) -> Verdict {
        let b = &mut f.data[..];
        let (src, dst) = (ip4_at(b, l3 + 12), ip4_at(b, l3 + 16));
        // Reply: same payload, addresses swapped, fresh header without options.
        let icmp_len = end - l4;
        b.copy_within(l4..end, l3 + 20);
        let l4 = l3 + 20;
        b[l4] = icmp::V4_ECHO_REPLY;
        put16(b, l4 + 2, 0);
        let c = checksum::of(&b[l4..l4 + icmp_len]);
        put16(b, l4 + 2, c);
        ipv4::write_header(&mut b[l3..], dst, src, ipv4::PROTO_ICMP, TTL_OUT, icmp_len);
        self.return_to_sender(ingress, f, ethernet::TYPE_IPV4, l4 + icmp_len);
        Verdict::Answer { port: ingress }
    }

    pub(super) fn echo6(
        &mut self,
        ingress: u16,
        f: &mut PacketBuf,
        l3: usize,
        l4: usize,
        end: usize,
    ) -> Verdict {
        let b = &mut f.data[..];
        let (src, dst) = (ip6_at(b, l3 + 8), ip6_at(b, l3 + 24));
        let icmp_len = end - l4;
        b.copy_within(l4..end, l3 + 40);
        let l4 = l3 + 40;
        b[l4] = icmp::V6_ECHO_REPLY;
        ipv6::write_header(&mut b[l3..], dst, src, ipv6::NEXT_ICMPV6, TTL_OUT, icmp_len);
        icmp6_checksum(b, l4, icmp_len, &dst, &src);
        self.return_to_sender(ingress, f, ethernet::TYPE_IPV6, l4 + icmp_len);
        Verdict::Answer { port: ingress }
    }

    pub(super) fn neighbor_advert(
        &mut self,
        ingress: u16,
        f: &mut PacketBuf,
        l3: usize,
        l4: usize,
        end: usize,
    ) -> Verdict {
        let ifc = &self.interfaces[usize::from(ingress)];
        let Ok(target) = icmp::Message::new_checked(&f.data[l4..end]).and_then(|m| m.nd_target())
        else {
            return Self::drop(DropReason::BadLength);
        };
        let ours = ifc.v6.iter().any(|n| n.addr() == target)
            || (!ifc.v6.is_empty() && target == ifc.link_local());
        if !ours {
            return Self::drop(DropReason::LocalUnsupported);
        }
        let mac = ifc.mac;
        let b = &mut f.data[..];
        let src = ip6_at(b, l3 + 8);
        let peer_mac = mac_at(b, 6);
        // Solicited (to the asker) unless the asker had no address yet (then to all nodes).
        let (to, solicited) = if src.is_unspecified() {
            (Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 0)
        } else {
            (src, 0x40)
        };
        let l4 = l3 + 40;
        let len = 32;
        b[l4..l4 + len].fill(0);
        b[l4] = icmp::V6_NEIGHBOR_ADVERT;
        b[l4 + 4] = 0x80 | solicited | 0x20; // router, solicited, override
        b[l4 + 8..l4 + 24].copy_from_slice(&target.octets());
        b[l4 + 24] = 2; // target link-layer address option
        b[l4 + 25] = 1;
        b[l4 + 26..l4 + 32].copy_from_slice(&mac.0);
        ipv6::write_header(&mut b[l3..], target, to, ipv6::NEXT_ICMPV6, 255, len);
        icmp6_checksum(b, l4, len, &target, &to);
        let dst_mac = if src.is_unspecified() {
            Mac([0x33, 0x33, 0, 0, 0, 1])
        } else {
            peer_mac
        };
        ethernet::write_header(b, dst_mac, mac, ethernet::TYPE_IPV6);
        f.len = l4 + len;
        Verdict::Answer { port: ingress }
    }

    /// Addresses a reply built in `f` back to the frame's sender on `ingress` and sets its
    /// length. Replies are written from byte 14 on, so the sender's MAC is still in place.
    pub(super) fn return_to_sender(
        &self,
        ingress: u16,
        f: &mut PacketBuf,
        ethertype: u16,
        len: usize,
    ) {
        let mac = self.interfaces[usize::from(ingress)].mac;
        let peer = mac_at(&f.data[..], 6);
        ethernet::write_header(&mut f.data[..], peer, mac, ethertype);
        f.len = len;
    }

    /// Replaces the frame by an ICMPv4 error about it, if allowed and the bucket has a token.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn icmp4_error(
        &mut self,
        now_ns: u64,
        ingress: u16,
        f: &mut PacketBuf,
        l3: usize,
        reason: DropReason,
        kind: u8,
        code: u8,
        mtu: u32,
    ) -> Verdict {
        let b = &f.data[..];
        let ihl = usize::from(b[l3] & 0x0f) * 4;
        let total = usize::from(get16(b, l3 + 2));
        let frag_offset = get16(b, l3 + 6) & 0x1fff;
        let about_error = b[l3 + 9] == ipv4::PROTO_ICMP
            && total > ihl
            && !matches!(
                b[l3 + ihl],
                icmp::V4_ECHO_REQUEST | icmp::V4_ECHO_REPLY | 13 | 14
            );
        let Some(our) = self.interfaces[usize::from(ingress)]
            .v4
            .first()
            .map(|n| n.addr())
        else {
            return Self::drop(reason);
        };
        if about_error || frag_offset != 0 {
            return Self::drop(reason);
        }
        if !self.icmp.take(now_ns) {
            self.stats.icmp_rate_limited += 1;
            return Self::drop(reason);
        }
        // As much of the original datagram as fits in a 576-byte error (RFC 1812 §4.3.2.3;
        // Linux quotes as much), moved into place first: it overlaps the new headers.
        let quote_len = total.min(576 - 20 - 8).min(f.len.saturating_sub(l3));
        let to = ip4_at(b, l3 + 12);
        let b = &mut f.data[..];
        let l4 = 14 + 20;
        b.copy_within(l3..l3 + quote_len, l4 + 8);
        let icmp_len = 8 + quote_len;
        b[l4] = kind;
        b[l4 + 1] = code;
        put16(b, l4 + 2, 0);
        b[l4 + 4..l4 + 8].copy_from_slice(&mtu.to_be_bytes());
        let c = checksum::of(&b[l4..l4 + icmp_len]);
        put16(b, l4 + 2, c);
        ipv4::write_header(&mut b[14..], our, to, ipv4::PROTO_ICMP, TTL_OUT, icmp_len);
        self.return_to_sender(ingress, f, ethernet::TYPE_IPV4, l4 + icmp_len);
        Verdict::Drop {
            reason,
            icmp: Some(ingress),
        }
    }

    /// Replaces the frame by an ICMPv6 error about it (as much of it as fits in 1280 bytes).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn icmp6_error(
        &mut self,
        now_ns: u64,
        ingress: u16,
        f: &mut PacketBuf,
        l3: usize,
        reason: DropReason,
        kind: u8,
        code: u8,
        param: u32,
    ) -> Verdict {
        let b = &f.data[..];
        let end = (l3 + 40 + usize::from(get16(b, l3 + 4))).min(f.len);
        let about_error = ipv6::Packet::new_checked(&b[l3..end])
            .and_then(|p| p.upper_layer())
            .map(|(next, off)| next == ipv6::NEXT_ICMPV6 && l3 + off < end && b[l3 + off] < 128)
            .unwrap_or(false);
        let ifc = &self.interfaces[usize::from(ingress)];
        let to = ip6_at(b, l3 + 8);
        // To a link-local address, from the port's link-local address (same scope, RFC 6724).
        let our = if to.is_unicast_link_local() {
            Some(ifc.link_local()).filter(|_| !ifc.v6.is_empty())
        } else {
            ifc.v6.first().map(|n| n.addr())
        };
        let Some(our) = our else {
            return Self::drop(reason);
        };
        if about_error {
            return Self::drop(reason);
        }
        if !self.icmp.take(now_ns) {
            self.stats.icmp_rate_limited += 1;
            return Self::drop(reason);
        }
        let quote_len = (end - l3).min(1280 - 48);
        // Move the quoted packet into place first (it overlaps the new headers).
        let l4 = 14 + 40;
        let b = &mut f.data[..];
        b.copy_within(l3..l3 + quote_len, l4 + 8);
        let icmp_len = 8 + quote_len;
        b[l4] = kind;
        b[l4 + 1] = code;
        b[l4 + 4..l4 + 8].copy_from_slice(&param.to_be_bytes());
        ipv6::write_header(&mut b[14..], our, to, ipv6::NEXT_ICMPV6, TTL_OUT, icmp_len);
        icmp6_checksum(b, l4, icmp_len, &our, &to);
        self.return_to_sender(ingress, f, ethernet::TYPE_IPV6, l4 + icmp_len);
        Verdict::Drop {
            reason,
            icmp: Some(ingress),
        }
    }
}

pub(super) fn ip4_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

pub(super) fn ip6_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(a)
}

pub(super) fn mac_at(b: &[u8], at: usize) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[at..at + 6]);
    Mac(m)
}

pub(super) fn icmp6_checksum(b: &mut [u8], l4: usize, len: usize, src: &Ipv6Addr, dst: &Ipv6Addr) {
    put16(b, l4 + 2, 0);
    let acc = checksum::ipv6_pseudo(&src.octets(), &dst.octets(), len as u32, ipv6::NEXT_ICMPV6);
    let c = checksum::finish(checksum::sum(acc, &b[l4..l4 + len]));
    put16(b, l4 + 2, c);
}
