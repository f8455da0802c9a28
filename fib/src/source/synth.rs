//! A seeded synthetic BGP-like table: prefix lengths drawn from the real tables shipped with
//! vrouter (RouteViews 2014 for IPv4, 2015 for IPv6), with about 40% of prefixes nested inside
//! an earlier, shorter one (more-specifics, often from the same origin AS), origins drawn from
//! a skewed AS population. IPv6 follows the real table's shape further: other prefixes fall in
//! the RIR blocks (2001::/16, 2400::/12, 2600::/12, 2800::/12, 2a00::/12, 2c00::/12), and a
//! nested prefix sits mostly 16 or 24 bits under its parent (a /48 in a /32). The same seed
//! always gives the same table.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{LoadStats, Route, RouteSet, RouteValue};

/// IPv4 prefix-length counts of the RouteViews 2014-05-13 table (/8 .. /32).
const V4_LENGTHS: [(u8, u32); 25] = [
    (8, 16),
    (9, 12),
    (10, 30),
    (11, 90),
    (12, 259),
    (13, 487),
    (14, 974),
    (15, 1726),
    (16, 13017),
    (17, 7050),
    (18, 11917),
    (19, 24936),
    (20, 35828),
    (21, 37624),
    (22, 57782),
    (23, 47385),
    (24, 270023),
    (25, 918),
    (26, 1060),
    (27, 537),
    (28, 138),
    (29, 292),
    (30, 331),
    (31, 20),
    (32, 169),
];

/// IPv6 prefix-length counts of the RouteViews 2015-11-01 dump (main lengths).
const V6_LENGTHS: [(u8, u32); 20] = [
    (19, 1),
    (20, 3),
    (24, 4),
    (28, 5),
    (29, 70),
    (30, 14),
    (31, 16),
    (32, 1003),
    (33, 35),
    (34, 37),
    (35, 68),
    (36, 172),
    (38, 41),
    (40, 245),
    (44, 140),
    (46, 74),
    (47, 68),
    (48, 3904),
    (56, 157),
    (64, 302),
];

/// Share of new prefixes placed inside an existing shorter one.
const NEST: f64 = 0.4;

/// IPv6 RIR blocks (prefix, length) where non-nested IPv6 prefixes are placed.
const V6_BLOCKS: [(u128, u8); 6] = [
    (0x2001 << 112, 16),
    (0x24 << 120, 12),
    (0x26 << 120, 12),
    (0x28 << 120, 12),
    (0x2a << 120, 12),
    (0x2c << 120, 12),
];

/// How many bits shorter the parent of a nested prefix is.
fn parent_gap(rng: &mut impl Rng, v6: bool) -> u8 {
    if !v6 {
        return rng.gen_range(1..=8);
    }
    match rng.gen_range(0..20) {
        0..=7 => 16,
        8..=12 => 24,
        _ => rng.gen_range(1..=15),
    }
}

fn pick_len(rng: &mut impl Rng, table: &[(u8, u32)]) -> u8 {
    let total: u32 = table.iter().map(|t| t.1).sum();
    let mut x = rng.gen_range(0..total);
    for &(l, c) in table {
        if x < c {
            return l;
        }
        x -= c;
    }
    table[table.len() - 1].0
}

fn origin(rng: &mut impl Rng) -> u32 {
    // Skewed: a few ASes originate many prefixes.
    let u: f64 = rng.gen();
    1 + (u * u * u * 64_000.0) as u32
}

/// Generic generator over 128-bit keys; `bits` is the family width, `space` the allowed
/// first-octet check.
fn generate(count: usize, seed: u64, v6: bool) -> Vec<(u128, u8, u32)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (lengths, bits): (&[(u8, u32)], u32) = if v6 {
        (&V6_LENGTHS, 128)
    } else {
        (&V4_LENGTHS, 32)
    };
    let mut seen: HashSet<(u128, u8)> = HashSet::with_capacity(count);
    // Generated prefixes by length, for picking parents.
    let mut by_len: Vec<Vec<(u128, u32)>> = vec![Vec::new(); bits as usize + 1];
    let mut out = Vec::with_capacity(count);
    let mask = |k: u128, l: u8| {
        if l == 0 {
            0
        } else {
            k & (u128::MAX << (128 - u32::from(l)))
        }
    };
    let mut attempts = 0usize;
    while out.len() < count && attempts < count * 20 + 1000 {
        attempts += 1;
        let len = pick_len(&mut rng, lengths);
        let raw: u128 = rng.gen();
        let mut asn = origin(&mut rng);
        let key_top = if rng.gen_bool(NEST) {
            // Nest under a random earlier prefix 1..8 bits shorter, if any.
            let parent_len = len.saturating_sub(parent_gap(&mut rng, v6));
            let pool = &by_len[parent_len as usize];
            if pool.is_empty() {
                None
            } else {
                let (pk, pas) = pool[rng.gen_range(0..pool.len())];
                if rng.gen_bool(0.5) {
                    asn = pas;
                }
                // Parent bits, then random bits below them.
                Some(pk | (raw >> parent_len) & !mask(u128::MAX, parent_len))
            }
        } else {
            None
        };
        let key = key_top.unwrap_or_else(|| {
            if v6 {
                let (block, blen) = V6_BLOCKS[rng.gen_range(0..V6_BLOCKS.len())];
                block | (raw >> blen)
            } else {
                // Unicast space 1.0.0.0 - 223.255.255.255, skipping 10/8, 127/8.
                let a = (raw >> 96) as u32;
                let first = 1 + (a >> 24) % 223;
                let first = if first == 10 || first == 127 {
                    first + 1
                } else {
                    first
                };
                u128::from(first << 24 | (a & 0x00ff_ffff)) << 96
            }
        });
        let key = mask(key, len);
        if seen.insert((key, len)) {
            by_len[len as usize].push((key, asn));
            out.push((key, len, asn));
        }
    }
    out
}

/// `count` synthetic IPv4 routes (values: origin AS).
pub fn ipv4(count: usize, seed: u64) -> RouteSet {
    to_set(
        generate(count, seed, false)
            .into_iter()
            .filter_map(|(k, l, asn)| {
                let net = Ipv4Net::new(Ipv4Addr::from((k >> 96) as u32), l).ok()?;
                Some(Route {
                    prefix: IpNet::V4(net),
                    value: RouteValue::Asn(asn),
                })
            }),
    )
}

/// `count` synthetic IPv6 routes (values: origin AS).
pub fn ipv6(count: usize, seed: u64) -> RouteSet {
    to_set(
        generate(count, seed, true)
            .into_iter()
            .filter_map(|(k, l, asn)| {
                let net = Ipv6Net::new(Ipv6Addr::from(k), l).ok()?;
                Some(Route {
                    prefix: IpNet::V6(net),
                    value: RouteValue::Asn(asn),
                })
            }),
    )
}

fn to_set(routes: impl Iterator<Item = Route>) -> RouteSet {
    let routes: Vec<Route> = routes.collect();
    RouteSet {
        stats: LoadStats {
            records: routes.len() as u64,
            ..LoadStats::default()
        },
        routes,
        format: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_sized_and_nested() {
        let a = ipv4(10_000, 7);
        let b = ipv4(10_000, 7);
        assert_eq!(a.routes, b.routes);
        assert_eq!(a.routes.len(), 10_000);
        assert_ne!(ipv4(1000, 8).routes, ipv4(1000, 7).routes);
        let share24 = a
            .routes
            .iter()
            .filter(|r| r.prefix.prefix_len() == 24)
            .count() as f64
            / 10_000.0;
        assert!((0.45..0.60).contains(&share24), "share of /24: {share24}");
        // Real tables nest: a good share of prefixes have a covering prefix in the table.
        let set: HashSet<IpNet> = a.routes.iter().map(|r| r.prefix).collect();
        let nested = a
            .routes
            .iter()
            .filter(|r| {
                (1..r.prefix.prefix_len())
                    .any(|l| set.contains(&IpNet::new(r.prefix.addr(), l).unwrap().trunc()))
            })
            .count();
        assert!(nested > 2_000, "nested: {nested}");
        let v6 = ipv6(5_000, 1);
        assert_eq!(v6.routes.len(), 5_000);
        assert!(v6.routes.iter().all(|r| r.prefix.addr().is_ipv6()));
    }
}
