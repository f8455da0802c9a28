//! Test support shared by vrouter's crates; a dev-dependency only, never linked into the
//! product. What lives here is written once for every test that needs it:
//!
//! - [`within`]: a random address inside a route (the "routed destinations" every LPM and
//!   pipeline test draws);
//! - [`default_router`]: the documented default router that `vrouter replay` uses (the
//!   binary's `router::preset`, re-exported);
//! - [`data_file`]: a file of the repository's `data/` folder;
//! - [`NaiveLpm`]: the deliberately naive LPM oracle (a map per prefix length);
//! - [`ipv4_frame`], [`ipv6_frame`]: Ethernet frames with valid IP headers;
//! - [`fuzz`]: the bodies of the cargo-fuzz targets, for the kept inputs in the stable suite;
//! - [`require`], [`unavailable`]: prerequisites (root, tools) that make a test skip with a
//!   reason on a developer machine and fail under CI (`CI` set), never pass silently.

#![forbid(unsafe_code)]

pub mod fuzz;

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use dataplane::wire::ethernet::{self, Mac};
use dataplane::wire::{ipv4, ipv6};
use fib::Key;
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

/// The documented default router (the one `vrouter replay` uses without a configuration),
/// from the product itself so that the engine's tests and the product agree by construction.
pub use vrouter::router::preset::{default_router, NEXT_HOP_MAC};

/// A file of the repository's `data/` folder.
pub fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

/// The oracle: exact-match maps per prefix length, searched longest first.
pub struct NaiveLpm<K: Key> {
    by_len: Vec<HashMap<K, u32>>,
}

impl<K: Key> Default for NaiveLpm<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Key> NaiveLpm<K> {
    pub fn new() -> Self {
        NaiveLpm {
            by_len: (0..=K::BITS).map(|_| HashMap::new()).collect(),
        }
    }
    /// Adds or replaces `k/len`; returns the next hop it replaced.
    pub fn insert(&mut self, k: K, len: u8, nh: u32) -> Option<u32> {
        self.by_len[len as usize].insert(k.mask(len), nh)
    }
    /// Removes `k/len`; returns its next hop.
    pub fn remove(&mut self, k: K, len: u8) -> Option<u32> {
        self.by_len[len as usize].remove(&k.mask(len))
    }
    /// The next hop of the longest prefix holding `a`.
    pub fn lookup(&self, a: K) -> Option<u32> {
        (0..=K::BITS as u8)
            .rev()
            .find_map(|l| self.by_len[l as usize].get(&a.mask(l)).copied())
    }
    /// Every route held: (prefix, length, next hop), in no particular order.
    pub fn routes(&self) -> Vec<(K, u8, u32)> {
        self.by_len
            .iter()
            .enumerate()
            .flat_map(|(l, m)| m.iter().map(move |(&k, &nh)| (k, l as u8, nh)))
            .collect()
    }
    /// Routes held.
    pub fn len(&self) -> usize {
        self.by_len.iter().map(|m| m.len()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The bounded run of the `vrouter gen` end-to-end tests: 20,000 frames at 20 kp/s, stopped
/// after 2 s whatever happens, with a JSON report.
pub const GEN_RUN: [&str; 7] = [
    "--rate",
    "20000",
    "--count",
    "20000",
    "--duration",
    "2",
    "--json",
];

/// Ethernet + IPv4 header (valid checksum) + `payload`, from `src_mac` to `dst_mac`.
pub fn ipv4_frame(
    dst_mac: impl Into<Mac>,
    src_mac: impl Into<Mac>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + payload.len()];
    ethernet::write_header(&mut f, dst_mac, src_mac, ethernet::TYPE_IPV4);
    ipv4::write_header(&mut f[14..], src, dst, proto, ttl, payload.len());
    f[34..].copy_from_slice(payload);
    f
}

/// Ethernet + IPv6 header + `payload` (upper-layer protocol `next`).
pub fn ipv6_frame(
    dst_mac: impl Into<Mac>,
    src_mac: impl Into<Mac>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + payload.len()];
    ethernet::write_header(&mut f, dst_mac, src_mac, ethernet::TYPE_IPV6);
    ipv6::write_header(&mut f[14..], src, dst, next, hop, payload.len());
    f[54..].copy_from_slice(payload);
    f
}

/// Whether the process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A test cannot run here, for `why`: under CI (`CI` set) that is a failure (panics); on a
/// developer machine the test says so and is skipped.
pub fn unavailable(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// Runs `cmd` inside network namespace `ns`, bounded by `secs` (`ip netns exec NS timeout
/// SECS CMD...`).
pub fn in_netns(ns: &str, secs: u32, cmd: &[&str]) -> std::process::Output {
    let t = secs.to_string();
    let mut args = vec!["netns", "exec", ns, "timeout", &t];
    args.extend_from_slice(cmd);
    Command::new("ip").args(&args).output().expect("ip runs")
}

/// Whether `what` can run: root (if `root`) and every tool of `tools` on the PATH; otherwise
/// [`unavailable`] with what is missing and `hint` (how to get it).
pub fn require(what: &str, root: bool, tools: &[&str], hint: &str) -> bool {
    let mut missing: Vec<&str> = Vec::new();
    if root && !is_root() {
        missing.push("root");
    }
    missing.extend(tools.iter().copied().filter(|t| !have(t)));
    if missing.is_empty() {
        return true;
    }
    unavailable(&format!("{what} need {} ({hint})", missing.join(", ")));
    false
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

    #[test]
    fn the_oracle_takes_the_longest_match() {
        let mut n = NaiveLpm::<u32>::new();
        n.insert(0x0a00_0000, 8, 1);
        n.insert(0x0a01_0000, 16, 2);
        assert_eq!(n.lookup(0x0a01_0203), Some(2));
        assert_eq!(n.lookup(0x0a02_0203), Some(1));
        assert_eq!(n.remove(0x0a01_0000, 16), Some(2));
        assert_eq!((n.lookup(0x0a01_0203), n.len()), (Some(1), 1));
        assert_eq!(n.lookup(0x0b00_0000), None);
    }

    #[test]
    fn frames_carry_valid_headers() {
        let f = ipv4_frame(
            [2, 0, 0, 0, 0, 1],
            [2, 0, 0, 0, 0, 9],
            Ipv4Addr::new(198, 18, 0, 2),
            Ipv4Addr::new(240, 0, 0, 1),
            17,
            64,
            &[0; 26],
        );
        assert_eq!(f.len(), 60);
        let p = ipv4::Packet::new_checked(&f[14..]).unwrap();
        assert!(p.checksum_ok());
        assert_eq!((p.ttl(), p.dst()), (64, Ipv4Addr::new(240, 0, 0, 1)));
        let g = ipv6_frame(
            [2, 0, 0, 0, 0, 1],
            [2, 0, 0, 0, 0, 9],
            "2001:2::2".parse().unwrap(),
            "3fff::1".parse().unwrap(),
            17,
            64,
            &[0; 16],
        );
        assert_eq!(g.len(), 14 + 40 + 16);
        assert_eq!(&g[12..14], &ethernet::TYPE_IPV6.to_be_bytes());
        assert!(have("sh") && !have("no-such-tool-vrouter"));
    }
}
