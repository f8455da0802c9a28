//! The documented default router, used by `vrouter replay` without a configuration and by the
//! in-process test beds and benchmarks: port 0 `02:00:00:00:00:01` with 198.18.0.1/24 and
//! 2001:2::1/64, port 1 `02:00:00:00:00:02` with 198.18.1.1/24 and 2001:2:0:1::1/64 (RFC 2544
//! and RFC 5180 benchmarking space), MTU 1500; every next hop id `0..nexthops` resolves to the
//! neighbour 198.18.1.2 at `02:00:00:00:00:03` on port 1. The engine's own tests get this same
//! router through `testkit::default_router`, which re-exports it.

use dataplane::neighbour::{Neighbour, Neighbours};
use dataplane::pipeline::{Interface, Pipeline};
use dataplane::wire::ethernet::Mac;
use ipnet::{Ipv4Net, Ipv6Net};

/// The MAC of the neighbour every next hop resolves to.
pub const NEXT_HOP_MAC: Mac = Mac([2, 0, 0, 0, 0, 3]);

/// The default router with next hops `0..nexthops`.
pub fn default_router(nexthops: u32) -> Pipeline {
    let net4 = |s: &str| s.parse::<Ipv4Net>().ok().into_iter().collect::<Vec<_>>();
    let net6 = |s: &str| s.parse::<Ipv6Net>().ok().into_iter().collect::<Vec<_>>();
    let interfaces = vec![
        Interface {
            port: 0,
            mac: Mac([2, 0, 0, 0, 0, 1]),
            v4: net4("198.18.0.1/24"),
            v6: net6("2001:2::1/64"),
            mtu: 1500,
        },
        Interface {
            port: 1,
            mac: Mac([2, 0, 0, 0, 0, 2]),
            v4: net4("198.18.1.1/24"),
            v6: net6("2001:2:0:1::1/64"),
            mtu: 1500,
        },
    ];
    let mut neighbours = Neighbours::new();
    neighbours.fill(
        nexthops,
        Neighbour {
            port: 1,
            mac: NEXT_HOP_MAC,
        },
    );
    Pipeline::new(interfaces, neighbours)
}
