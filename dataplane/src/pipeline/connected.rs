//! Connected routes (RFC 1812 §5.2.4.1): each port's subnets are routes to "a host on this
//! port's subnet", `CONNECTED_BASE + port`, whose hosts are resolved by ARP/ND when traffic
//! asks for them; directed broadcasts to those subnets are not forwarded unless configured
//! (RFC 2644), and then leave as link-layer broadcasts. Off the fast path: only traffic to the
//! router's own subnets comes here.

use std::net::IpAddr;

use super::{reply, DropReason, Interface, PacketBuf, Pipeline, Verdict};
use crate::wire::ethernet::{self, Mac};
use crate::wire::ipv4;

/// Next hops of connected routes: `CONNECTED_BASE + port` is "a host on port's subnet",
/// resolved by ARP/ND. Above every configured next hop (configurations stay below it).
pub const CONNECTED_BASE: u32 = 0x7f00;

/// Routes as the FIB takes them: (prefix, length, next hop), IPv4 and IPv6.
pub type Connected = (Vec<fib::Entry<u32>>, Vec<fib::Entry<u128>>);

/// The connected routes of `interfaces`: each port's subnets, IPv4 and IPv6, to
/// `CONNECTED_BASE + port`. Added to every table a router forwards with.
pub fn connected_routes(interfaces: &[Interface]) -> Connected {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for i in interfaces {
        let hop = CONNECTED_BASE + u32::from(i.port);
        for n in &i.v4 {
            v4.push((u32::from(n.network()), n.prefix_len(), hop));
        }
        for n in &i.v6 {
            v6.push((u128::from(n.network()), n.prefix_len(), hop));
        }
    }
    (v4, v6)
}
impl Pipeline {
    /// The next-hop id of the destination of a frame routed to connected next hop `hop`
    /// (`CONNECTED_BASE + port`), or the verdict when it goes no further (a directed broadcast
    /// not forwarded, a host table full of waiting hosts). Off the fast path: only traffic to
    /// the router's own subnets comes here.
    #[cold]
    #[inline(never)]
    pub(super) fn connected_host(
        &mut self,
        now_ns: u64,
        f: &mut PacketBuf,
        l3: usize,
        hop: u32,
        v6: bool,
    ) -> Result<u32, Verdict> {
        let Some(port) = u16::try_from(hop - CONNECTED_BASE)
            .ok()
            .filter(|&p| usize::from(p) < self.interfaces.len())
        else {
            return Err(Self::drop(DropReason::NoNeighbour));
        };
        let dst = if v6 {
            IpAddr::V6(reply::ip6_at(&f.data[..], l3 + 24))
        } else {
            IpAddr::V4(reply::ip4_at(&f.data[..], l3 + 16))
        };
        if let IpAddr::V4(d) = dst {
            let ifc = &self.interfaces[usize::from(port)];
            let directed = ifc
                .v4
                .iter()
                .any(|n| n.prefix_len() < 31 && n.broadcast() == d);
            if directed {
                if !self.forward_directed_broadcast {
                    return Err(Self::drop(DropReason::DirectedBroadcast));
                }
                return Err(self.send_broadcast(f, l3, port));
            }
        }
        self.neighbours
            .host(port, dst, now_ns)
            .ok_or_else(|| Self::drop(DropReason::NoNeighbour))
    }

    /// Sends a directed broadcast on `port` as a link-layer broadcast (when configured to).
    pub(super) fn send_broadcast(&mut self, f: &mut PacketBuf, l3: usize, port: u16) -> Verdict {
        let out_mac = self.interfaces[usize::from(port)].mac;
        let end = f.len;
        if let Ok(mut p) = ipv4::Packet::new_checked(&mut f.data[l3..end]) {
            p.decrement_ttl();
        }
        ethernet::write_header(
            &mut f.data[..],
            Mac([0xff; 6]),
            out_mac,
            ethernet::TYPE_IPV4,
        );
        Verdict::Forward { port }
    }
}
