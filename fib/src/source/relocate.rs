//! Lab relocation: maps a table into reserved space so that frames built from it never carry a
//! public or private-range destination. IPv4 goes into 240.0.0.0/4 (`addr >> 4 | 240.0.0.0`,
//! length + 4) and IPv6 into 3fff::/20 (`addr >> 20 | 3fff::`, length + 20). The map is
//! injective and order-preserving, so nesting, overlaps and longest matches are kept. Prefixes
//! too long to fit (IPv4 longer than /28, IPv6 longer than /108) are dropped and counted.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::{Route, RouteSet};

/// 240.0.0.0/4.
pub const V4_SPACE: u32 = 0xf000_0000;
/// 3fff::/20.
pub const V6_SPACE: u128 = 0x3fff_u128 << 112;

/// An IPv4 address moved into 240.0.0.0/4.
pub fn v4_addr(a: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(a) >> 4 | V4_SPACE)
}

/// An IPv6 address moved into 3fff::/20.
pub fn v6_addr(a: Ipv6Addr) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(a) >> 20 | V6_SPACE)
}

/// A prefix moved into reserved space, or `None` if it is too long to fit.
pub fn prefix(p: IpNet) -> Option<IpNet> {
    match p {
        IpNet::V4(n) => Ipv4Net::new(v4_addr(n.network()), n.prefix_len().checked_add(4)?)
            .ok()
            .map(IpNet::V4),
        IpNet::V6(n) => Ipv6Net::new(v6_addr(n.network()), n.prefix_len().checked_add(20)?)
            .ok()
            .map(IpNet::V6),
    }
}

/// Relocates every route; returns the new set and how many routes did not fit.
pub fn relocate(set: &RouteSet) -> (RouteSet, usize) {
    let mut dropped = 0;
    let routes = set
        .routes
        .iter()
        .filter_map(|r| match prefix(r.prefix) {
            Some(p) => Some(Route {
                prefix: p,
                value: r.value.clone(),
            }),
            None => {
                dropped += 1;
                None
            }
        })
        .collect();
    let mut stats = set.stats.clone();
    if dropped > 0 {
        *stats
            .skipped
            .entry("too long to relocate".into())
            .or_default() += dropped as u64;
    }
    (
        RouteSet {
            routes,
            format: set.format,
            stats,
        },
        dropped,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_nesting_and_lands_in_reserved_space() {
        let p = |s: &str| -> IpNet { s.parse().unwrap() };
        assert_eq!(prefix(p("0.0.0.0/0")), Some(p("240.0.0.0/4")));
        assert_eq!(prefix(p("1.0.0.0/24")), Some(p("240.16.0.0/28")));
        assert_eq!(
            prefix(p("255.255.255.240/28")),
            Some(p("255.255.255.255/32"))
        );
        assert_eq!(prefix(p("1.2.3.4/32")), None);
        assert_eq!(
            prefix(p("2001:db8::/32")),
            Some(p("3fff:200:10db:8000::/52"))
        );
        assert_eq!(prefix(p("::/0")), Some(p("3fff::/20")));
        // A covering prefix still covers its more-specific after relocation.
        let outer = prefix(p("198.18.0.0/15")).unwrap();
        let inner = prefix(p("198.19.2.0/24")).unwrap();
        assert!(outer.contains(&inner));
        assert!(IpNet::V4("240.0.0.0/4".parse().unwrap()).contains(&inner));
    }
}
