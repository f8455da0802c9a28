//! `vrouter bench lpm --with-rte-lpm` (a `--features dpdk` build): vrouter's FIB against
//! DPDK's `rte_lpm` (IPv4, DIR-24-8) and `rte_lpm6` on the same tables and the same destination
//! arrays, in one run: vrouter batched, `rte_lpm` one lookup at a time and in bulk
//! (`rte_lpm_lookup_bulk`, bursts of the same size as vrouter's), per-round ratios, medians;
//! build times and memory. The two must agree on every destination compared.

use std::hint::black_box;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use dataplane::port::dpdk::{self, lpm::RteLpm, lpm::RteLpm6, lpm::LOOKUP_SUCCESS};
use fib::{Lpm, NO_ROUTE};
use serde_json::json;

use super::lpm::{rate, run_batch as run_vrouter};

/// One table measured against DPDK's.
pub struct RteRow {
    pub family: &'static str,
    pub table: String,
    pub routes: usize,
    pub dist: &'static str,
    /// Medians, M lookups/s.
    pub vrouter: f64,
    pub rte_single: f64,
    pub rte_bulk: f64,
    /// Median of each round's vrouter / rte bulk ratio.
    pub ratio_bulk: f64,
    pub ratio_single: f64,
    pub vrouter_build_s: f64,
    pub rte_build_s: f64,
    pub vrouter_bytes: usize,
    /// rte_lpm's tables as configured (tbl24 + tbl8 groups + rules), bytes.
    pub rte_bytes: usize,
    pub mismatches: usize,
}

impl RteRow {
    pub fn json(&self) -> serde_json::Value {
        json!({
            "family": self.family, "table": self.table, "routes": self.routes,
            "destinations": self.dist, "vrouter_batch_mlps": self.vrouter,
            "rte_single_mlps": self.rte_single, "rte_bulk_mlps": self.rte_bulk,
            "ratio_vs_rte_bulk": self.ratio_bulk, "ratio_vs_rte_single": self.ratio_single,
            "vrouter_build_seconds": self.vrouter_build_s, "rte_build_seconds": self.rte_build_s,
            "vrouter_fib_bytes": self.vrouter_bytes, "rte_bytes": self.rte_bytes,
        })
    }
}

/// The process's EAL for the benchmark: no devices, enough ordinary memory for the tables.
pub fn start_eal() -> Result<()> {
    let args = dpdk::eal_args(&dpdk::EalOptions {
        prefix: format!("vrouter-{}", std::process::id()),
        memory_mb: 6144,
        ..dpdk::EalOptions::default()
    });
    dpdk::eal_init(&args).map_err(|e| anyhow!("DPDK: {e}"))
}

pub fn stop_eal() {
    dpdk::eal_cleanup();
}

/// Second-level groups a DIR-24-8-style table needs: for each 8-bit level below the first
/// 24 bits, the distinct parents of prefixes longer than that level.
fn groups<K: Copy + Ord + Into<u128>>(entries: &[(K, u8, u32)], bits: u32) -> u32 {
    let mut total = 0u32;
    let mut level = 24u32;
    while level < bits {
        let mut parents: Vec<u128> = entries
            .iter()
            .filter(|(_, l, _)| u32::from(*l) > level)
            .map(|(k, _, _)| (*k).into() >> (bits - level))
            .collect();
        parents.sort_unstable();
        parents.dedup();
        total += parents.len() as u32;
        level += 8;
    }
    total
}

/// A DPDK table under test.
trait Rte {
    type Addr: Copy;
    fn single(&self, addrs: &[Self::Addr]) -> u64;
    fn bulk(&self, addrs: &mut [Self::Addr]) -> u64;
    fn hop(&self, a: Self::Addr) -> u32;
}

impl Rte for RteLpm {
    type Addr = u32;
    #[inline(never)]
    fn single(&self, addrs: &[u32]) -> u64 {
        addrs.iter().fold(0u64, |s, &x| {
            s.wrapping_add(u64::from(self.lookup(x).unwrap_or(NO_ROUTE)))
        })
    }
    #[inline(never)]
    fn bulk(&self, addrs: &mut [u32]) -> u64 {
        let mut out = [0u32; fib::BATCH];
        let mut sum = 0u64;
        for burst in addrs.chunks(fib::BATCH) {
            let out = &mut out[..burst.len()];
            self.lookup_bulk(burst, out);
            sum = out.iter().fold(sum, |s, &h| {
                s.wrapping_add(u64::from(if h & LOOKUP_SUCCESS != 0 {
                    h & 0xff_ffff
                } else {
                    NO_ROUTE
                }))
            });
        }
        sum
    }
    fn hop(&self, a: u32) -> u32 {
        self.lookup(a).unwrap_or(NO_ROUTE)
    }
}

impl Rte for RteLpm6 {
    type Addr = [u8; 16];
    #[inline(never)]
    fn single(&self, addrs: &[[u8; 16]]) -> u64 {
        addrs.iter().fold(0u64, |s, x| {
            s.wrapping_add(u64::from(
                self.lookup(u128::from_be_bytes(*x)).unwrap_or(NO_ROUTE),
            ))
        })
    }
    #[inline(never)]
    fn bulk(&self, addrs: &mut [[u8; 16]]) -> u64 {
        let mut out = [0i32; fib::BATCH];
        let mut sum = 0u64;
        for burst in addrs.chunks_mut(fib::BATCH) {
            let n = burst.len();
            self.lookup_bulk(burst, &mut out[..n]);
            sum = out[..n].iter().fold(sum, |s, &h| {
                s.wrapping_add(if h < 0 { u64::from(NO_ROUTE) } else { h as u64 })
            });
        }
        sum
    }
    fn hop(&self, a: [u8; 16]) -> u32 {
        self.lookup(u128::from_be_bytes(a)).unwrap_or(NO_ROUTE)
    }
}

/// Measures one table: `addrs` (routed or uniform) as vrouter keys and as DPDK's addresses.
#[allow(clippy::too_many_arguments)]
fn compare<K: fib::Key, R: Rte>(
    family: &'static str,
    table: &str,
    dist: &'static str,
    fib: &Lpm<K>,
    rte: &R,
    addrs: &[K],
    rte_addrs: &mut [R::Addr],
    rounds: usize,
) -> RteRow {
    let mut r = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        // Each warmed by an untimed pass right before it is timed (the other evicted it).
        black_box(run_vrouter(fib, addrs));
        let v = rate(addrs.len(), || run_vrouter(fib, addrs));
        black_box(rte.bulk(rte_addrs));
        let bulk = rate(rte_addrs.len(), || rte.bulk(rte_addrs));
        let single = rate(rte_addrs.len(), || rte.single(rte_addrs));
        r.push([v, single, bulk, v / bulk, v / single]);
    }
    let med = |i: usize| crate::measure::stats::median(&r.iter().map(|x| x[i]).collect::<Vec<_>>());
    let check = addrs.len().min(1 << 20);
    let mut out = vec![0u32; check];
    fib.lookup_batch(&addrs[..check], &mut out);
    let mismatches = rte_addrs[..check]
        .iter()
        .zip(&out)
        .filter(|(a, &o)| rte.hop(**a) != o)
        .count();
    RteRow {
        family,
        table: table.to_string(),
        routes: fib.len(),
        dist,
        vrouter: med(0),
        rte_single: med(1),
        rte_bulk: med(2),
        ratio_bulk: med(3),
        ratio_single: med(4),
        vrouter_build_s: 0.0,
        rte_build_s: 0.0,
        vrouter_bytes: fib.memory().lookup,
        rte_bytes: 0,
        mismatches,
    }
}

/// IPv4: `entries` into vrouter's FIB and an `rte_lpm`; both distributions of destinations.
pub fn ipv4(
    table: &str,
    entries: &[(u32, u8, u32)],
    dests: &[(&'static str, Vec<u32>)],
    rounds: usize,
) -> Result<Vec<RteRow>> {
    let t = Instant::now();
    let fib = Lpm::<u32>::from_routes(entries.to_vec())?;
    let vb = t.elapsed().as_secs_f64();
    let tbl8 = (groups(entries, 32) + 256).next_power_of_two();
    let t = Instant::now();
    let mut rte = RteLpm::new("bench4", entries.len() as u32 + 1, tbl8)?;
    for &(k, l, nh) in entries {
        rte.add(k, l, nh)
            .map_err(|e| anyhow!("rte_lpm: {}/{l}: {e}", std::net::Ipv4Addr::from(k)))?;
    }
    let rb = t.elapsed().as_secs_f64();
    let bytes = (1usize << 24) * 4 + tbl8 as usize * 256 * 4 + (entries.len() + 1) * 8;
    let mut rows = Vec::new();
    for (dist, addrs) in dests {
        let mut ra = addrs.clone();
        let mut row = compare("ipv4", table, dist, &fib, &rte, addrs, &mut ra, rounds);
        (row.vrouter_build_s, row.rte_build_s, row.rte_bytes) = (vb, rb, bytes);
        rows.push(row);
    }
    Ok(rows)
}

/// IPv6: `entries` into vrouter's FIB and an `rte_lpm6`.
pub fn ipv6(
    table: &str,
    entries: &[(u128, u8, u32)],
    dests: &[(&'static str, Vec<u128>)],
    rounds: usize,
) -> Result<Vec<RteRow>> {
    let t = Instant::now();
    let fib = Lpm::<u128>::from_routes(entries.to_vec())?;
    let vb = t.elapsed().as_secs_f64();
    let tbl8 = groups(entries, 128) + 256;
    let t = Instant::now();
    let mut rte = RteLpm6::new("bench6", entries.len() as u32 + 1, tbl8)?;
    for &(k, l, nh) in entries {
        if nh >= 1 << 21 {
            bail!("rte_lpm6 takes next hops below 2^21");
        }
        rte.add(k, l, nh)
            .map_err(|e| anyhow!("rte_lpm6: {}/{l}: {e}", std::net::Ipv6Addr::from(k)))?;
    }
    let rb = t.elapsed().as_secs_f64();
    // tbl24, the tbl8 groups, and the rules' hash (about 32 bytes a rule).
    let bytes = (1usize << 24) * 4 + tbl8 as usize * 256 * 4 + (entries.len() + 1) * 32;
    let mut rows = Vec::new();
    for (dist, addrs) in dests {
        let mut ra: Vec<[u8; 16]> = addrs.iter().map(|a| a.to_be_bytes()).collect();
        let mut row = compare("ipv6", table, dist, &fib, &rte, addrs, &mut ra, rounds);
        (row.vrouter_build_s, row.rte_build_s, row.rte_bytes) = (vb, rb, bytes);
        rows.push(row);
    }
    Ok(rows)
}

/// The rows as a table.
pub fn print(rows: &[RteRow]) {
    let mib = |b: usize| b as f64 / 1048576.0;
    println!(
        "\nvs DPDK {} rte_lpm/rte_lpm6 (same tables, same destinations; M lookups/s, medians)",
        dpdk::VERSION
    );
    println!(
        "{:<5} {:<40} {:>8} {:<8} {:>10} {:>10} {:>10} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8}",
        "fam",
        "table",
        "routes",
        "dests",
        "vrouter",
        "rte bulk",
        "rte 1-by-1",
        "x bulk",
        "x single",
        "build s",
        "rte build",
        "MiB",
        "rte MiB"
    );
    for r in rows {
        println!(
            "{:<5} {:<40} {:>8} {:<8} {:>10.1} {:>10.1} {:>10.1} {:>8.2} {:>8.2} {:>9.3} {:>9.3} {:>8.2} {:>8.1}",
            r.family,
            r.table,
            r.routes,
            r.dist,
            r.vrouter,
            r.rte_bulk,
            r.rte_single,
            r.ratio_bulk,
            r.ratio_single,
            r.vrouter_build_s,
            r.rte_build_s,
            mib(r.vrouter_bytes),
            mib(r.rte_bytes)
        );
    }
}
