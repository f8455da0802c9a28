//! Test support shared by vrouter's crates; a dev-dependency only, never linked into the
//! product. What lives here is written once for every test that needs it:
//!
//! - [`within`]: a random address inside a route (the "routed destinations" every LPM and
//!   pipeline test draws);
//! - [`default_router`]: the documented default router that `vrouter replay` uses (the
//!   binary's `router::preset` builds the same one; a test there checks they agree);
//! - [`data_file`]: a file of the repository's `data/` folder.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use dataplane::neighbour::{Neighbour, Neighbours};
use dataplane::pipeline::{Interface, Pipeline};
use dataplane::wire::ethernet::Mac;
use ipnet::{Ipv4Net, Ipv6Net};
use rand::Rng;

/// An address key: IPv4 as `u32`, IPv6 as `u128`.
pub trait Addr: Copy + std::ops::BitOr<Output = Self> {
    const BITS: u8;
    fn zero() -> Self;
    fn random(rng: &mut impl Rng) -> Self;
    fn shr(self, n: u8) -> Self;
}

impl Addr for u32 {
    const BITS: u8 = 32;
    fn zero() -> Self {
        0
    }
    fn random(rng: &mut impl Rng) -> Self {
        rng.gen()
    }
    fn shr(self, n: u8) -> Self {
        self >> n
    }
}

impl Addr for u128 {
    const BITS: u8 = 128;
    fn zero() -> Self {
        0
    }
    fn random(rng: &mut impl Rng) -> Self {
        rng.gen()
    }
    fn shr(self, n: u8) -> Self {
        self >> n
    }
}

/// A random address inside `key/len` (`key`'s host bits zero).
pub fn within<K: Addr>(rng: &mut impl Rng, key: K, len: u8) -> K {
    let host = if len >= K::BITS {
        K::zero()
    } else {
        K::random(rng).shr(len)
    };
    key | host
}

/// The MAC of the neighbour every next hop of [`default_router`] resolves to.
pub const NEXT_HOP_MAC: Mac = Mac([2, 0, 0, 0, 0, 3]);

/// The default router: port 0 `02:00:00:00:00:01` with 198.18.0.1/24 and 2001:2::1/64, port
/// 1 `02:00:00:00:00:02` with 198.18.1.1/24 and 2001:2:0:1::1/64, MTU 1500; next hops
/// `0..nexthops` resolve to 198.18.1.2 at `02:00:00:00:00:03` on port 1.
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

/// A file of the repository's `data/` folder.
pub fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn addresses_stay_inside_their_route() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let a = within(&mut rng, 0xc633_6400u32, 24);
            assert_eq!(a & 0xffff_ff00, 0xc633_6400);
            let b = within(&mut rng, 0x2001_0db8u128 << 96, 32);
            assert_eq!(b >> 96, 0x2001_0db8);
        }
        assert_eq!(within(&mut rng, 0x0a00_0001u32, 32), 0x0a00_0001);
        assert!(data_file("README.md").exists());
    }
}
