//! `fib`: longest-prefix-match forwarding tables for IPv4 and IPv6, and the route sources that
//! fill them. No I/O on the lookup path, no `unsafe`.
//!
//! # How a table is laid out, by example
//!
//! Take four IPv4 routes, next hops 1 to 4:
//!
//! ```text
//!   0.0.0.0/0        -> 1
//!   10.0.0.0/8       -> 2
//!   10.1.0.0/16      -> 3
//!   10.1.2.0/24      -> 4
//! ```
//!
//! The table is a *poptrie*. The first 18 bits of an address index a direct array of 2^18
//! entries. Routes of /18 or shorter are painted into it: the entries of 10.0.0.0/8 (the 64
//! entries 10.0/18 .. 10.255.192/18) say "leaf 2", all others "leaf 1", except 10.1.0.0/18,
//! which holds a longer route (10.1.2.0/24) and so points to a node instead:
//!
//! ```text
//!  dir[10.1.0.0/18] ──► node A  (bits 18..24 of the address: 64 slots)
//!                        slot 0..1 : leaf 3   (10.1.0.0 - 10.1.1.255, from the /16)
//!                        slot 2    : leaf 4   (10.1.2.0/24)
//!                        slot 3..63: leaf 3
//!                        vector  = 0            (no slot needs a deeper node)
//!                        leafvec = bits 0,2,3   (a leaf run starts at slots 0, 2 and 3)
//!                        leaves  = [3, 4, 3]
//! ```
//!
//! Looking up 10.1.2.7: dir entry 10.1.0.0/18 is a node; the next six bits are 2; `vector` bit 2
//! is clear so it is a leaf: `popcount(leafvec & bits 0..=2) - 1 = 1`, leaves[1] = 4. A /25
//! would set `vector` bit 2 and give node A a child node for bits 24..30. With 64-bit bitmaps and
//! runs of equal leaves stored once, a full IPv4 table of ~512k routes takes a few MiB: it lives
//! in the L2/L3 cache, where DIR-24-8 needs 64+ MiB.
//!
//! ```
//! use fib::{Ipv4Fib, Key};
//! let t = Ipv4Fib::from_routes(vec![
//!     (0, 0, 1),
//!     (u32::from_addr("10.0.0.0".parse().unwrap()), 8, 2),
//!     (u32::from_addr("10.1.0.0".parse().unwrap()), 16, 3),
//!     (u32::from_addr("10.1.2.0".parse().unwrap()), 24, 4),
//! ]).unwrap();
//! assert_eq!(t.lookup(u32::from_addr("10.1.2.7".parse().unwrap())), Some(4));
//! assert_eq!(t.lookup(u32::from_addr("10.1.3.7".parse().unwrap())), Some(3));
//! assert_eq!(t.lookup(u32::from_addr("10.2.0.1".parse().unwrap())), Some(2));
//! assert_eq!(t.lookup(u32::from_addr("192.0.2.1".parse().unwrap())), Some(1));
//! ```
//!
//! Updates edit a route store kept beside the arrays and recompile only the /18 chunks they
//! touch; [`shared`] publishes tables to forwarding threads so that a batch of updates is seen
//! whole or not at all.

pub mod lpm;
pub mod shared;
pub mod source;

pub use lpm::{
    Entry, Key, Lpm, LpmError, MemoryUsage, NextHop, Update, BATCH, MAX_NEXT_HOP, NO_ROUTE,
};
pub use shared::{share, FibReader, FibWriter};

/// IPv4 table (keys are `u32` addresses in host order).
pub type Ipv4Fib = Lpm<u32>;
/// IPv6 table (keys are `u128` addresses in host order).
pub type Ipv6Fib = Lpm<u128>;
