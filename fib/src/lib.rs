//! `fib`: longest-prefix-match forwarding tables for IPv4 and IPv6, and the route sources that
//! fill them. No I/O on the lookup path, no `unsafe`.
//!
//! # How a table is laid out, by example
//!
//! Take four IPv4 routes, next hops 1 to 4 (all in the 198.18.0.0/15 benchmarking range):
//!
//! ```text
//!   0.0.0.0/0          -> 1
//!   198.18.0.0/15      -> 2
//!   198.19.0.0/16      -> 3
//!   198.19.2.0/24      -> 4
//!   198.19.2.128/25    -> 5   (added below)
//! ```
//!
//! The first 18 bits of an address index a direct array of 2^18 entries. Routes of /18 or
//! shorter are painted into it: the 8 entries of 198.18.0.0/15 (198.18.0.0/18 .. 198.19.192.0/18)
//! say "next hop 2", then the 4 entries of 198.19.0.0/16 "next hop 3", all others "next hop 1",
//! except 198.19.0.0/18, the one /18 that holds a longer route, which points to a *chunk*. (In
//! IPv4 "next hop 2" is itself a pointer, to a block of 64 entries that all say 2, shared by
//! every /18 that answers 2: every lookup then takes the same two steps.)
//!
//! ```text
//!  dir[198.19.0.0/18] ──► chunk, 64 entries for bits 18..24 (one per /24):
//!                          [0] 198.19.0.0/24: 3   [1] 198.19.1.0/24: 3   [2] 198.19.2.0/24: 4
//!                          [3] .. [63]: 3        (the /16 covers the rest of the /18)
//! ```
//!
//! Looking up 198.19.2.7: the direct entry is a chunk; bits 18..24 of the address are 2; entry 2
//! says next hop 4. Two indexed loads. Adding 198.19.2.128/25 gives entry 2 a pointer to a block
//! of 256 entries for bits 24..32 (128 of them 4, 128 of them 5), and only that chunk is
//! recompiled. A full IPv4 table of 512k routes takes 5.8 MiB this way (DIR-24-8 needs 64+ MiB),
//! so it stays in cache. IPv6, deeper and sparser, cuts each chunk into address ranges that
//! answer one next hop each and finds an address's range with a fixed walk of search-tree nodes
//! that compare it with many range starts at once; see [`lpm::stree`].
//!
//! ```
//! use fib::{Ipv4Fib, Key};
//! let ip = |s: &str| u32::from_addr(s.parse().unwrap());
//! let mut t = Ipv4Fib::from_routes(vec![
//!     (0, 0, 1),
//!     (ip("198.18.0.0"), 15, 2),
//!     (ip("198.19.0.0"), 16, 3),
//!     (ip("198.19.2.0"), 24, 4),
//! ]).unwrap();
//! assert_eq!(t.lookup(ip("198.19.2.7")), Some(4));
//! assert_eq!(t.lookup(ip("198.19.3.7")), Some(3));
//! assert_eq!(t.lookup(ip("198.18.5.1")), Some(2));
//! assert_eq!(t.lookup(ip("192.0.2.1")), Some(1));
//! t.insert(ip("198.19.2.128"), 25, 5).unwrap();
//! assert_eq!(t.lookup(ip("198.19.2.200")), Some(5));
//! assert_eq!(t.lookup(ip("198.19.2.7")), Some(4));
//! ```
//!
//! Updates edit a route store kept beside the lookup structure and recompile only the /18
//! chunks they touch; [`shared`] publishes tables to forwarding threads so that a batch of
//! updates is seen whole or not at all.

#![forbid(unsafe_code)]

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
