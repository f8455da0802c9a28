//! The test-bed abstraction: every experiment (`sweep`, `bench lab`) runs trials on a
//! [`TestBed`], whatever the router under test ([`Dut`]) is. `measure::open_bed` builds the
//! bed for a router kind: in process on memory ports (`memory`) or in a parallel namespace lab
//! (`labbed`). Adding a router kind is one more bed implementation and one more arm there.
//!
//! Invariant of every bed: a trial's results are in router order, one per router, and each
//! counts every offered frame as received or lost (see [`super::generator`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use anyhow::{anyhow, Result};
use dataplane::worker::PollMode;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub use crate::dut::Dut;

use super::generator::{FrameSize, Load, RouterResult};

/// Next-hop ids the beds' routers map routes onto (all resolve to the sink side).
pub const NEXT_HOPS: u32 = 16;

/// Where trials run.
pub trait TestBed {
    /// One trial at `load`: each router's result, in router order.
    fn trial(&mut self, load: &Load) -> Result<Vec<RouterResult>>;
    /// Frames dropped where they can be counted, since the bed came up.
    fn drops(&mut self) -> Drops;
    /// CPU the generator/sink thread used in the last trial (ns), where it is measured.
    fn generator_cpu_ns(&self) -> Option<u64> {
        None
    }
}

/// How to build a bed; each kind reads the fields it needs.
#[derive(Clone, Debug)]
pub struct BedOptions {
    /// Worker placement (in-process beds).
    pub placement: Placement,
    /// Frames each memory link holds per direction (a NIC or virtio ring).
    pub ring: usize,
    /// Adaptive workers' sleep between light polls (in-process beds).
    pub sleep: Duration,
    /// Lab routers' polling mode.
    pub mode: PollMode,
    /// Lab name (short: namespaces are vrl-<name>-...).
    pub name: String,
    /// Pin every lab router's worker to this core.
    pub core: Option<usize>,
    /// Frame sizes the lab's headers are first built for.
    pub frame: FrameSize,
    /// How guests are built and booted (guest routers).
    pub guest: crate::vm::GuestSpec,
}

impl BedOptions {
    /// Defaults for `dut`: adaptive placement, 4096-frame rings, 100 µs sleeps, 64-byte frames,
    /// a lab named after the process.
    pub fn new(dut: Dut) -> Self {
        BedOptions {
            placement: Placement::Adaptive,
            ring: 4096,
            sleep: Duration::from_micros(100),
            mode: PollMode::Adaptive,
            name: format!("b{}{}", dut.tag(), std::process::id() % 10_000),
            core: None,
            frame: FrameSize::Fixed(60),
            guest: crate::vm::GuestSpec::new(),
        }
    }
}

/// Frames dropped where they could be counted since the bed came up, summed over its lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// The vrouters' port drops (receive ring overflow, transmit ring full), from their control
    /// sockets; `None` when a router is the kernel (it has no socket) or the bed counts none.
    pub router: Option<u64>,
    /// The sink sockets' receive-ring drops.
    pub sink: u64,
    /// Frames the host dropped on their way into guests (their taps' queues overflowed: QEMU
    /// did not read them in time); `None` where there are no guests.
    pub host: Option<u64>,
}

impl Drops {
    /// Drops counted between `before` and `self`: (router, sink).
    pub fn since(&self, before: &Drops) -> (Option<u64>, u64) {
        let router = self
            .router
            .map(|r| r.saturating_sub(before.router.unwrap_or(0)));
        (router, self.sink - before.sink)
    }
}

/// How routers are placed on worker threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placement {
    /// One busy-polling worker per router.
    Busy,
    /// One adaptive worker per router.
    Adaptive,
    /// One adaptive worker serving all routers.
    SharedCore,
}

impl Placement {
    pub const ALL: [Placement; 3] = [Placement::Busy, Placement::Adaptive, Placement::SharedCore];

    pub fn name(self) -> &'static str {
        match self {
            Placement::Busy => "busy",
            Placement::Adaptive => "adaptive",
            Placement::SharedCore => "shared-core",
        }
    }
}

impl std::str::FromStr for Placement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Placement::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("mode must be busy, adaptive or shared-core, not `{s}`"))
    }
}

/// In JSON: the name (`"adaptive"`).
impl serde::Serialize for Placement {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One router of a bed: its tables and the destinations the generator sends it (all of one
/// family: a trial is IPv4 or IPv6).
#[derive(Clone)]
pub struct RouterSetup {
    pub fib4: fib::Lpm<u32>,
    /// Empty for an IPv4 router.
    pub fib6: fib::Lpm<u128>,
    /// Routed destinations, drawn from the table's own prefixes.
    pub dests: Vec<IpAddr>,
}

impl RouterSetup {
    /// A router for `entries` (prefix, length, next hop), with `n` destinations spread over the
    /// table's routes (a route chosen at random, then an address inside it).
    pub fn new(entries: &[(u32, u8, u32)], n: usize, seed: u64) -> Result<Self> {
        if entries.is_empty() {
            return Err(anyhow!("a testbed router needs at least one IPv4 route"));
        }
        let fib4 = fib::Lpm::<u32>::from_routes(entries.to_vec())
            .map_err(|e| anyhow!("building the router's table: {e}"))?;
        Ok(RouterSetup {
            fib4,
            fib6: fib::Lpm::new(),
            dests: destinations(entries, n, seed)
                .into_iter()
                .map(|d| Ipv4Addr::from(d).into())
                .collect(),
        })
    }

    /// An IPv6 router for `entries`, sent IPv6 frames only (see [`RouterSetup::new`]).
    pub fn new_v6(entries: &[(u128, u8, u32)], n: usize, seed: u64) -> Result<Self> {
        if entries.is_empty() {
            return Err(anyhow!(
                "an IPv6 testbed router needs at least one IPv6 route"
            ));
        }
        let fib6 = fib::Lpm::<u128>::from_routes(entries.to_vec())
            .map_err(|e| anyhow!("building the router's IPv6 table: {e}"))?;
        Ok(RouterSetup {
            fib4: fib::Lpm::new(),
            fib6,
            dests: destinations6(entries, n, seed)
                .into_iter()
                .map(|d| Ipv6Addr::from(d).into())
                .collect(),
        })
    }

    /// Whether the router is sent IPv6 frames.
    pub fn is_v6(&self) -> bool {
        self.dests.first().is_some_and(IpAddr::is_ipv6)
    }
}

/// The shipped real IPv6 table (RouteViews, 2015; the first MiB of the dump, so its last
/// record is cut and it is read leniently): its routes on next hops `0..NEXT_HOPS`.
pub fn shipped_v6_entries() -> Result<Vec<(u128, u8, u32)>> {
    let path = crate::host::data_file("routeviews-rib6-2015-11-01.first1MB.mrt.bz2");
    let opts = fib::source::LoadOptions {
        lenient: true,
        ..Default::default()
    };
    let set = crate::progress::load(&path, &opts)
        .map_err(|e| anyhow!("loading {}: {e}", path.display()))?;
    let v6 = set.v6_entries(NEXT_HOPS);
    if v6.is_empty() {
        return Err(anyhow!("{}: no IPv6 routes", path.display()));
    }
    Ok(v6)
}

/// `n` destinations spread over `entries`' routes: a route chosen at random, then an address
/// inside it (seeded: the same `seed` gives the same addresses).
pub fn destinations(entries: &[(u32, u8, u32)], n: usize, seed: u64) -> Vec<u32> {
    spread(entries, n, seed, random_in)
}

/// [`destinations`] for IPv6 routes.
pub fn destinations6(entries: &[(u128, u8, u32)], n: usize, seed: u64) -> Vec<u128> {
    spread(entries, n, seed, |rng, k, l| {
        k | if l >= 128 { 0 } else { rng.gen::<u128>() >> l }
    })
}

fn spread<K: Copy>(
    entries: &[(K, u8, u32)],
    n: usize,
    seed: u64,
    inside: fn(&mut Xoshiro256PlusPlus, K, u8) -> K,
) -> Vec<K> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (k, l, _) = entries[rng.gen_range(0..entries.len())];
            inside(&mut rng, k, l)
        })
        .collect()
}

/// A random address inside `key/len` (IPv4).
pub fn random_in(rng: &mut impl Rng, key: u32, len: u8) -> u32 {
    let host = if len >= 32 {
        0
    } else {
        rng.gen::<u32>() >> len
    };
    key | host
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_names_round_trip() {
        for p in Placement::ALL {
            assert_eq!(p.name().parse::<Placement>(), Ok(p));
        }
        let e = "spin".parse::<Placement>().unwrap_err();
        assert!(e.contains("busy, adaptive or shared-core"), "{e}");
    }
}
