//! vrouter's binary snapshot: resolved routes (prefix and next-hop id), packed, for fast
//! reloads. Layout (big-endian):
//!
//! ```text
//! "VRSNAP01"  u64 v4_count  u64 v6_count
//! v4_count x (u32 addr, u8 len, u32 next_hop)
//! v6_count x (u128 addr, u8 len, u32 next_hop)
//! u64 FNV-1a of everything before it
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::mrt::Cur;
use super::{fnv, Bad, LoadStats, Route, RouteSet, RouteValue};

pub const MAGIC: &[u8] = b"VRSNAP01";

/// Encodes routes with next hops already mapped onto `nexthops` ids.
pub fn encode(set: &RouteSet, nexthops: u32) -> Vec<u8> {
    let v4 = set.v4_entries(nexthops);
    let v6 = set.v6_entries(nexthops);
    let mut out = Vec::with_capacity(24 + v4.len() * 9 + v6.len() * 21 + 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(v4.len() as u64).to_be_bytes());
    out.extend_from_slice(&(v6.len() as u64).to_be_bytes());
    for (k, l, nh) in v4 {
        out.extend_from_slice(&k.to_be_bytes());
        out.push(l);
        out.extend_from_slice(&nh.to_be_bytes());
    }
    for (k, l, nh) in v6 {
        out.extend_from_slice(&k.to_be_bytes());
        out.push(l);
        out.extend_from_slice(&nh.to_be_bytes());
    }
    let sum = fnv(&out);
    out.extend_from_slice(&sum.to_be_bytes());
    out
}

/// Raw decoded entries: `(v4, v6)` as (key, len, next hop), in stored order.
pub type Entries = (Vec<(u32, u8, u32)>, Vec<(u128, u8, u32)>);

/// Decodes to raw entries (the fast path for building tables).
pub fn decode_entries(data: &[u8]) -> Result<Entries, Bad> {
    if data.len() < MAGIC.len() + 24 {
        return Err(Bad::offset(
            0,
            format!("snapshot too short ({} bytes)", data.len()),
        ));
    }
    let (body, sum) = data.split_at(data.len() - 8);
    let mut c = Cur::new(body, 0);
    if c.bytes(8, "magic")? != MAGIC {
        return Err(Bad::offset(0, "not a vrouter snapshot (bad magic)"));
    }
    let n4 = c.u32("v4 count high")? as u64 * (1 << 32) + c.u32("v4 count")? as u64;
    let n6 = c.u32("v6 count high")? as u64 * (1 << 32) + c.u32("v6 count")? as u64;
    let need = n4
        .checked_mul(9)
        .and_then(|a| n6.checked_mul(21).and_then(|b| a.checked_add(b)));
    if need != Some(c.remaining() as u64) {
        return Err(Bad::offset(
            8,
            format!(
                "counts ({n4} IPv4, {n6} IPv6 routes) do not match the {} bytes of entries (truncated?)",
                c.remaining()
            ),
        ));
    }
    let want = u64::from_be_bytes(
        sum.try_into()
            .map_err(|_| Bad::offset(body.len(), "checksum"))?,
    );
    if fnv(body) != want {
        return Err(Bad::offset(
            body.len(),
            "checksum mismatch: the snapshot is corrupt",
        ));
    }
    let mut v4 = Vec::with_capacity(n4 as usize);
    for _ in 0..n4 {
        let at = c.offset();
        let k = c.u32("v4 address")?;
        let l = c.u8("v4 length")?;
        let nh = c.u32("v4 next hop")?;
        if l > 32 || k & !u32::MAX.checked_shl(32 - u32::from(l)).unwrap_or(0) != 0 && l < 32 {
            return Err(Bad::offset(
                at,
                format!("bad IPv4 prefix {}/{l}", Ipv4Addr::from(k)),
            ));
        }
        v4.push((k, l, nh));
    }
    let mut v6 = Vec::with_capacity(n6 as usize);
    for _ in 0..n6 {
        let at = c.offset();
        let hi = u64::from(c.u32("v6 address")?) << 32 | u64::from(c.u32("v6 address")?);
        let lo = u64::from(c.u32("v6 address")?) << 32 | u64::from(c.u32("v6 address")?);
        let k = u128::from(hi) << 64 | u128::from(lo);
        let l = c.u8("v6 length")?;
        let nh = c.u32("v6 next hop")?;
        if l > 128 || l < 128 && k & !u128::MAX.checked_shl(128 - u32::from(l)).unwrap_or(0) != 0 {
            return Err(Bad::offset(
                at,
                format!("bad IPv6 prefix {}/{l}", Ipv6Addr::from(k)),
            ));
        }
        v6.push((k, l, nh));
    }
    Ok((v4, v6))
}

/// Decodes to a route set (values are next-hop ids).
pub fn decode(data: &[u8]) -> Result<RouteSet, Bad> {
    let (v4, v6) = decode_entries(data)?;
    let mut routes = Vec::with_capacity(v4.len() + v6.len());
    for (k, l, nh) in v4 {
        if let Ok(n) = Ipv4Net::new(Ipv4Addr::from(k), l) {
            routes.push(Route {
                prefix: IpNet::V4(n),
                value: RouteValue::NextHop(nh),
            });
        }
    }
    for (k, l, nh) in v6 {
        if let Ok(n) = Ipv6Net::new(Ipv6Addr::from(k), l) {
            routes.push(Route {
                prefix: IpNet::V6(n),
                value: RouteValue::NextHop(nh),
            });
        }
    }
    let stats = LoadStats {
        records: routes.len() as u64,
        ..LoadStats::default()
    };
    Ok(RouteSet {
        routes,
        format: None,
        stats,
    })
}
