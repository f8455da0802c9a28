//! `vrouter bench lpm`: vrouter's FIB against the `ip_network_table-deps-treebitmap` crate, side
//! by side in one run, on the same tables and destination arrays; plus load/build/reload times
//! and route-update throughput under concurrent lookups.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use fib::lpm::{poptrie::Poptrie, Arena};
use fib::source::{self, LoadOptions, RouteSet};
use fib::{Key, Lpm, Update, NO_ROUTE};
use ip_network_table_deps_treebitmap::IpLookupTable;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::json;

#[derive(clap::Args)]
pub struct LpmArgs {
    /// IPv4 table (default: the shipped RouteViews table, 512,621 prefixes).
    #[arg(long)]
    table: Option<PathBuf>,
    /// IPv6 table (default: the shipped RouteViews IPv6 RIB dump, loaded leniently).
    #[arg(long)]
    v6_table: Option<PathBuf>,
    /// Destinations per measurement for vrouter (treebitmap gets a quarter: it is slower).
    #[arg(long, default_value_t = 16 << 20, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(64..=1 << 28))]
    lookups: usize,
    /// Rounds; each times vrouter and the treebitmap in turn. Medians of the rates and of the
    /// per-round ratios are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=99))]
    rounds: usize,
    /// Next hops routes are mapped onto.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=32_767))]
    nexthops: u32,
    /// Route updates (inserts + deletes) to apply in the update test.
    #[arg(long, default_value_t = 2_000_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=100_000_000))]
    updates: usize,
    /// Updates per atomically published batch.
    #[arg(long, default_value_t = 10_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000_000))]
    batch: usize,
    /// Fewer lookups, rounds and updates: a run of a few seconds.
    #[arg(long)]
    quick: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print JSON (top level: ratio_vs_treebitmap, fib_bytes, then details).
    #[arg(long)]
    json: bool,
    /// Also against DPDK's rte_lpm and rte_lpm6 on the same tables and destinations (IPv4
    /// full table, IPv6 real and synthetic 200k; a `--features dpdk` build).
    #[arg(long)]
    with_rte_lpm: bool,
}

/// One measured row.
struct Row {
    family: &'static str,
    table: String,
    routes: usize,
    dist: &'static str,
    batch: f64,
    single: f64,
    treebitmap: f64,
    /// Batched rate of the same table compiled as a poptrie (the layout IPv6 used before the
    /// range trees; IPv4's multibit trie measured 1.6x it), for the side-by-side choice.
    poptrie: f64,
    /// Medians of each round's ratio (not ratios of the medians).
    ratio_batch: f64,
    ratio_single: f64,
    fib_bytes: usize,
    mismatches: usize,
}

fn median(v: Vec<f64>) -> f64 {
    crate::measure::stats::median(&v)
}

/// Millions of operations per second of one call of `f`, which performs `n` operations.
pub(super) fn rate(n: usize, f: impl FnOnce() -> u64) -> f64 {
    let t = Instant::now();
    black_box(f());
    n as f64 / t.elapsed().as_secs_f64() / 1e6
}

/// Address families under test, with the treebitmap address type.
trait Family: Key {
    type Tb: ip_network_table_deps_treebitmap::address::Address;
    fn tb(self) -> Self::Tb;
    fn uniform(rng: &mut impl Rng) -> Self;
    fn within(key: Self, len: u8, rng: &mut impl Rng) -> Self;
}

impl Family for u32 {
    type Tb = Ipv4Addr;
    fn tb(self) -> Ipv4Addr {
        Ipv4Addr::from(self)
    }
    fn uniform(rng: &mut impl Rng) -> Self {
        rng.gen()
    }
    fn within(key: u32, len: u8, rng: &mut impl Rng) -> u32 {
        crate::measure::bed::random_in(rng, key, len)
    }
}

impl Family for u128 {
    type Tb = Ipv6Addr;
    fn tb(self) -> Ipv6Addr {
        Ipv6Addr::from(self)
    }
    fn uniform(rng: &mut impl Rng) -> Self {
        // Uniform over 2000::/3, where the routes are.
        rng.gen::<u128>() >> 3 | 1u128 << 125
    }
    fn within(key: u128, len: u8, rng: &mut impl Rng) -> u128 {
        let host = if len >= 128 {
            0
        } else {
            rng.gen::<u128>() >> len
        };
        key | host
    }
}

/// Destinations: `routed` picks a route at random and an address inside it; `uniform` draws
/// from the whole (unicast) space.
fn destinations<K: Family>(
    entries: &[(K, u8, u32)],
    n: usize,
    routed: bool,
    rng: &mut impl Rng,
) -> Vec<K> {
    (0..n)
        .map(|_| {
            if routed && !entries.is_empty() {
                let (k, l, _) = entries[rng.gen_range(0..entries.len())];
                K::within(k, l, rng)
            } else {
                K::uniform(rng)
            }
        })
        .collect()
}

/// Kept out of line so that each measured loop is compiled on its own, as a forwarding loop
/// would be, rather than folded into the harness around it.
///
/// Bursts of [`fib::BATCH`] destinations, each answered into one burst-sized buffer, as the
/// forwarding loop does: one call over all 16M destinations would also stream a 64 MB output
/// array through the caches, which no router does and which costs more than the lookups of a
/// cached table. The sum of the answers keeps every lookup live.
#[inline(never)]
pub(super) fn run_batch<K: Key, A: Arena<K>>(fib: &Lpm<K, A>, addrs: &[K]) -> u64 {
    let mut out = [0u32; fib::BATCH];
    let mut sum = 0u64;
    for burst in addrs.chunks(fib::BATCH) {
        let out = &mut out[..burst.len()];
        fib.lookup_batch(burst, out);
        sum = out.iter().fold(sum, |s, &nh| s.wrapping_add(u64::from(nh)));
    }
    sum
}

#[inline(never)]
fn run_single<K: Key>(fib: &Lpm<K>, addrs: &[K]) -> u64 {
    addrs.iter().fold(0u64, |s, &x| {
        s.wrapping_add(u64::from(fib.lookup(x).unwrap_or(NO_ROUTE)))
    })
}

#[inline(never)]
fn run_treebitmap<A: ip_network_table_deps_treebitmap::address::Address>(
    tb: &IpLookupTable<A, u32>,
    addrs: &[A],
) -> u64 {
    addrs.iter().fold(0u64, |s, &x| {
        s.wrapping_add(u64::from(
            tb.longest_match(x).map_or(NO_ROUTE, |(_, _, &v)| v),
        ))
    })
}

fn measure<K: Family>(
    family: &'static str,
    table: &str,
    entries: &[(K, u8, u32)],
    a: &LpmArgs,
    rng: &mut impl Rng,
) -> Result<Vec<Row>> {
    let fib = Lpm::<K>::from_routes(entries.to_vec())?;
    let pop = Lpm::<K, Poptrie>::from_routes(entries.to_vec())?;
    let mut tb = IpLookupTable::<K::Tb, u32>::new();
    for &(k, l, nh) in entries {
        tb.insert(k.mask(l).tb(), u32::from(l), nh);
    }
    let mut rows = Vec::new();
    for (dist, routed) in [("routed", true), ("uniform", false)] {
        let addrs = destinations(entries, a.lookups, routed, rng);
        // The treebitmap is about ten times slower: a quarter of the destinations is plenty.
        let tb_addrs: Vec<K::Tb> = addrs[..addrs.len() / 4].iter().map(|&x| x.tb()).collect();
        // Rounds that time all three in turn: a shared machine's load drifts over seconds, and
        // a ratio of runs seconds apart would carry that drift. Each round's ratio is taken
        // from that round; the medians are reported. Each table is warmed by an untimed pass
        // right before it is timed, since the other one's run has just evicted it from the
        // caches. (The first warm-up also absorbs the treebitmap's build, hundreds of thousands
        // of small allocations, which slows whatever runs right after it.)
        let mut rounds = Vec::with_capacity(a.rounds);
        for _ in 0..a.rounds {
            black_box(run_batch(&fib, &addrs));
            let batch = rate(addrs.len(), || run_batch(&fib, &addrs));
            let single = rate(addrs.len(), || run_single(&fib, &addrs));
            black_box(run_batch(&pop, &addrs));
            let poptrie = rate(addrs.len(), || run_batch(&pop, &addrs));
            black_box(run_treebitmap(&tb, &tb_addrs[..tb_addrs.len() / 4]));
            let treebitmap = rate(tb_addrs.len(), || run_treebitmap(&tb, &tb_addrs));
            rounds.push([
                batch,
                single,
                treebitmap,
                batch / treebitmap,
                single / treebitmap,
                poptrie,
            ]);
        }
        let med = |i: usize| median(rounds.iter().map(|r| r[i]).collect());
        // Cross-check: both implementations must agree on every destination measured.
        let mut out = vec![0u32; tb_addrs.len()];
        fib.lookup_batch(&addrs[..tb_addrs.len()], &mut out);
        let mismatches = tb_addrs
            .iter()
            .zip(&out)
            .filter(|(t, &o)| tb.longest_match(**t).map_or(NO_ROUTE, |(_, _, &v)| v) != o)
            .count();
        rows.push(Row {
            family,
            table: table.to_string(),
            routes: fib.len(),
            dist,
            batch: med(0),
            single: med(1),
            treebitmap: med(2),
            ratio_batch: med(3),
            ratio_single: med(4),
            poptrie: med(5),
            fib_bytes: fib.memory().lookup,
            mismatches,
        });
    }
    Ok(rows)
}

fn sample<K: Copy>(entries: &[K], n: usize, rng: &mut impl Rng) -> Vec<K> {
    if n >= entries.len() {
        return entries.to_vec();
    }
    let mut v = entries.to_vec();
    v.shuffle(rng);
    v.truncate(n);
    v
}

fn load(path: &std::path::Path, lenient: bool) -> Result<(RouteSet, f64)> {
    let t = Instant::now();
    let set = crate::progress::load(
        path,
        &LoadOptions {
            lenient,
            ..LoadOptions::default()
        },
    )?;
    Ok((set, t.elapsed().as_secs_f64()))
}

/// Route updates while another thread looks up: `a.updates` inserts and deletes in batches of
/// `a.batch`, each batch published atomically.
fn updates(
    entries: &[(u32, u8, u32)],
    a: &LpmArgs,
    rng: &mut impl Rng,
) -> Result<serde_json::Value> {
    let (mut writer, reader) = fib::share(Lpm::<u32>::from_routes(entries.to_vec())?);
    let addrs = destinations(entries, 1 << 16, true, rng);
    let stop = Arc::new(AtomicBool::new(false));
    let looked = Arc::new(AtomicU64::new(0));
    let (s2, l2) = (Arc::clone(&stop), Arc::clone(&looked));
    let lookups = std::thread::spawn(move || {
        let mut out = vec![0u32; addrs.len()];
        while !s2.load(Ordering::Relaxed) {
            for chunk in addrs.chunks(fib::BATCH * 8) {
                let t = reader.load();
                t.lookup_batch(chunk, &mut out[..chunk.len()]);
            }
            l2.fetch_add(addrs.len() as u64, Ordering::Relaxed);
        }
        black_box(out);
    });
    // Each batch removes half its routes from the table and re-inserts the half removed by
    // the batch before, with new next hops: the table keeps its size.
    let half = (a.batch / 2).max(1);
    let mut removed: Vec<(u32, u8)> = Vec::new();
    let mut done = 0usize;
    let mut batch = Vec::with_capacity(a.batch);
    let t = Instant::now();
    let l0 = looked.load(Ordering::Relaxed);
    while done < a.updates {
        batch.clear();
        for (k, l) in removed.drain(..) {
            batch.push(Update::Insert {
                key: k,
                len: l,
                nh: rng.gen_range(0..a.nexthops),
            });
        }
        for _ in 0..half {
            let (k, l, _) = entries[rng.gen_range(0..entries.len())];
            removed.push((k, l));
            batch.push(Update::Remove { key: k, len: l });
        }
        writer.apply(&batch)?;
        done += batch.len();
    }
    let secs = t.elapsed().as_secs_f64();
    let lookups_done = looked.load(Ordering::Relaxed) - l0;
    stop.store(true, Ordering::Relaxed);
    let _ = lookups.join();
    Ok(json!({
        "updates": done,
        "batch": a.batch,
        "seconds": secs,
        "updates_per_second": done as f64 / secs,
        "concurrent_lookups_per_second": lookups_done as f64 / secs,
    }))
}

/// Runs the benchmark (`--quick` shrinks it to a few seconds).
pub fn run(mut a: LpmArgs) -> Result<()> {
    if a.quick {
        a.lookups = a.lookups.min(2 << 20);
        a.rounds = a.rounds.min(1);
        a.updates = a.updates.min(200_000);
    }
    if a.lookups < 64 || a.rounds == 0 {
        bail!("--lookups must be at least 64 and --rounds at least 1");
    }
    lpm(&a)
}

fn lpm(a: &LpmArgs) -> Result<()> {
    if a.with_rte_lpm && !cfg!(feature = "dpdk") {
        bail!("--with-rte-lpm: {}", crate::router::run::NO_DPDK);
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(a.seed);
    let v4_path = a.table.clone().unwrap_or_else(crate::host::default_table);
    let (set4, load_s) = load(&v4_path, false)?;
    let v4 = set4.v4_entries(a.nexthops);
    if v4.is_empty() {
        bail!("{}: no IPv4 routes to benchmark", v4_path.display());
    }
    let t = Instant::now();
    let full = Lpm::<u32>::from_routes(v4.clone())?;
    let build_s = t.elapsed().as_secs_f64();
    let fib_bytes = full.memory().lookup;
    drop(full);

    // Snapshot reload: decode a snapshot written by `routes convert` and build the table.
    let snap = std::env::temp_dir().join(format!("vrouter-bench-{}.snap", std::process::id()));
    std::fs::write(&snap, source::snapshot::encode(&set4, a.nexthops))?;
    let t = Instant::now();
    let bytes = std::fs::read(&snap)?;
    let (s4, _) = source::snapshot::decode_entries(&bytes).map_err(|b| b.in_file(&snap))?;
    let reloaded = Lpm::<u32>::from_routes(s4)?;
    let reload_s = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&snap);
    black_box(reloaded.len());

    let name4 = v4_path
        .file_name()
        .map_or("table".into(), |n| n.to_string_lossy().to_string());
    let mut rows = Vec::new();
    let pb = crate::progress::steps(if a.with_rte_lpm { 10 } else { 7 }, "bench lpm");
    for size in [1_000usize, 10_000, 100_000] {
        if size < v4.len() {
            let sub = sample(&v4, size, &mut rng);
            rows.extend(measure(
                "ipv4",
                &format!("{name4} sample {size}"),
                &sub,
                a,
                &mut rng,
            )?);
        }
        pb.inc(1);
    }
    rows.extend(measure("ipv4", &name4, &v4, a, &mut rng)?);
    pb.inc(1);

    let v6_path = a
        .v6_table
        .clone()
        .unwrap_or_else(|| crate::host::data_file("routeviews-rib6-2015-11-01.first1MB.mrt.bz2"));
    let (set6, _) = load(&v6_path, true)?;
    let v6 = set6.v6_entries(a.nexthops);
    let name6 = v6_path
        .file_name()
        .map_or("table".into(), |n| n.to_string_lossy().to_string());
    if !v6.is_empty() {
        rows.extend(measure("ipv6", &name6, &v6, a, &mut rng)?);
    }
    pb.inc(1);
    let syn6 = source::synth::ipv6(200_000, a.seed).v6_entries(a.nexthops);
    rows.extend(measure("ipv6", "synthetic 200k", &syn6, a, &mut rng)?);
    pb.inc(1);
    let upd = updates(&v4, a, &mut rng)?;
    pb.inc(1);
    #[cfg(feature = "dpdk")]
    let rte = if a.with_rte_lpm {
        rte_rows(a, &name4, &v4, &name6, &v6, &syn6, &mut rng, &pb)?
    } else {
        Vec::new()
    };
    pb.finish_and_clear();

    if let Some(bad) = rows.iter().find(|r| r.mismatches > 0) {
        bail!(
            "vrouter and treebitmap disagree on {} of the {} {} destinations ({} table)",
            bad.mismatches,
            a.lookups / 4,
            bad.dist,
            bad.table
        );
    }
    let headline = rows
        .iter()
        .find(|r| r.family == "ipv4" && r.table == name4 && r.dist == "routed")
        .map_or(0.0, |r| r.ratio_batch);

    if a.json {
        let details: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "family": r.family, "table": r.table, "routes": r.routes, "destinations": r.dist,
                    "vrouter_batch_mlps": r.batch, "vrouter_single_mlps": r.single,
                    "treebitmap_mlps": r.treebitmap, "poptrie_batch_mlps": r.poptrie,
                    "ratio_batch": r.ratio_batch, "ratio_single": r.ratio_single,
                    "fib_bytes": r.fib_bytes,
                })
            })
            .collect();
        let out = json!({
            "ratio_vs_treebitmap": headline,
            "fib_bytes": fib_bytes,
            "ipv4_table": v4_path.display().to_string(),
            "ipv4_routes": v4.len(),
            "load_seconds": load_s,
            "build_seconds": build_s,
            "snapshot_reload_seconds": reload_s,
            "ipv6_batch_build": fib::lpm::stree::batch_build(),
            "lookups_per_measurement": a.lookups,
            "rounds": a.rounds,
            "results": details,
            "updates": upd,
        });
        #[cfg(feature = "dpdk")]
        let out = with_rte_json(out, &rte, &name4, &name6);
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let mib = |b: usize| b as f64 / 1048576.0;
    println!(
        "IPv4 table {} ({} routes): FIB {:.2} MiB; load {:.3} s, build {:.3} s, snapshot reload {:.3} s",
        v4_path.display(),
        v4.len(),
        mib(fib_bytes),
        load_s,
        build_s,
        reload_s
    );
    println!(
        "IPv6 batch lookups: the {} build of the range-tree search, chosen for this CPU at run \
         time (single lookups: the baseline build)",
        fib::lpm::stree::batch_build()
    );
    println!(
        "{:<5} {:<48} {:>8} {:<8} {:>11} {:>11} {:>11} {:>9} {:>7} {:>7} {:>9}",
        "fam",
        "table",
        "routes",
        "dests",
        "batch Ml/s",
        "single Ml/s",
        "tbitmap",
        "poptrie",
        "x batch",
        "x single",
        "FIB MiB"
    );
    for r in &rows {
        println!(
            "{:<5} {:<48} {:>8} {:<8} {:>11.1} {:>11.1} {:>11.2} {:>9.1} {:>7.1} {:>7.1} {:>9.2}",
            r.family,
            r.table,
            r.routes,
            r.dist,
            r.batch,
            r.single,
            r.treebitmap,
            r.poptrie,
            r.ratio_batch,
            r.ratio_single,
            mib(r.fib_bytes)
        );
    }
    println!(
        "updates: {} in batches of {} at {:.2} M/s, with {:.1} M lookups/s concurrently",
        upd["updates"],
        upd["batch"],
        upd["updates_per_second"].as_f64().unwrap_or(0.0) / 1e6,
        upd["concurrent_lookups_per_second"].as_f64().unwrap_or(0.0) / 1e6
    );
    println!("ratio_vs_treebitmap (IPv4, full table, routed, batched): {headline:.1}x");
    #[cfg(feature = "dpdk")]
    if !rte.is_empty() {
        super::rte::print(&rte);
    }
    Ok(())
}

/// vrouter against rte_lpm / rte_lpm6 on the full IPv4 table and both IPv6 tables, routed and
/// uniform destinations, in an EAL of this process started for the purpose.
#[cfg(feature = "dpdk")]
#[allow(clippy::too_many_arguments)]
fn rte_rows(
    a: &LpmArgs,
    name4: &str,
    v4: &[(u32, u8, u32)],
    name6: &str,
    v6: &[(u128, u8, u32)],
    syn6: &[(u128, u8, u32)],
    rng: &mut impl Rng,
    pb: &indicatif::ProgressBar,
) -> Result<Vec<super::rte::RteRow>> {
    super::rte::start_eal()?;
    let mut run = || -> Result<Vec<super::rte::RteRow>> {
        let mut rows = Vec::new();
        let d4 = [
            ("routed", destinations(v4, a.lookups, true, rng)),
            ("uniform", destinations(v4, a.lookups, false, rng)),
        ];
        rows.extend(super::rte::ipv4(name4, v4, &d4, a.rounds)?);
        drop(d4);
        pb.inc(1);
        for (name, set) in [(name6, v6), ("synthetic 200k", syn6)] {
            if !set.is_empty() {
                let d6 = [
                    ("routed", destinations(set, a.lookups, true, rng)),
                    ("uniform", destinations(set, a.lookups, false, rng)),
                ];
                rows.extend(super::rte::ipv6(name, set, &d6, a.rounds)?);
            }
            pb.inc(1);
        }
        Ok(rows)
    };
    let rows = run();
    super::rte::stop_eal();
    let rows = rows?;
    if let Some(bad) = rows.iter().find(|r| r.mismatches > 0) {
        bail!(
            "vrouter and DPDK's {} disagree on {} {} destinations ({} table)",
            if bad.family == "ipv4" {
                "rte_lpm"
            } else {
                "rte_lpm6"
            },
            bad.mismatches,
            bad.dist,
            bad.table
        );
    }
    Ok(rows)
}

/// `out` with the DPDK rows and their headline ratios (routed destinations, bulk lookups).
#[cfg(feature = "dpdk")]
fn with_rte_json(
    mut out: serde_json::Value,
    rte: &[super::rte::RteRow],
    name4: &str,
    name6: &str,
) -> serde_json::Value {
    if rte.is_empty() {
        return out;
    }
    let ratio = |fam: &str, table: &str| {
        rte.iter()
            .find(|r| r.family == fam && r.table == table && r.dist == "routed")
            .map_or(0.0, |r| r.ratio_bulk)
    };
    out["ratio_vs_rte_lpm"] = json!(ratio("ipv4", name4));
    out["ratio_vs_rte_lpm6"] = json!(ratio("ipv6", name6));
    out["ratio_vs_rte_lpm6_synthetic"] = json!(ratio("ipv6", "synthetic 200k"));
    out["dpdk_version"] = json!(dataplane::port::dpdk::VERSION);
    out["rte"] = rte.iter().map(super::rte::RteRow::json).collect();
    out
}
