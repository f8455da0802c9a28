//! Criterion: IPv4 lookups (vrouter batched and single vs treebitmap) on the shipped 512k table
//! with routed-random destinations, table build time, and IPv6 lookups on the shipped RouteViews
//! IPv6 dump (vrouter's range trees vs the same table as a poptrie vs treebitmap).
//! `cargo bench --bench lpm`.
use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};
use fib::lpm::{poptrie::Poptrie, Arena};
use fib::source::{load, LoadOptions};
use fib::{Key, Lpm, BATCH, NO_ROUTE};
use ip_network_table_deps_treebitmap::{address::Address, IpLookupTable};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const N: usize = 1 << 16;

fn table() -> Vec<(u32, u8, u32)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/routeviews-2014-05-13.ipv4.ipasn.gz"
    );
    load(path.as_ref(), &LoadOptions::default(), &mut |_, _| {})
        .expect("shipped table loads")
        .v4_entries(16)
}

fn lookups(c: &mut Criterion) {
    let entries = table();
    let fib = Lpm::<u32>::from_routes(entries.clone()).expect("builds");
    let dests = routed(&entries, |k, l, rng| testkit::within(rng, k, l));
    routed_group(c, "ipv4-full-routed", &fib, &dests, |g, addrs| {
        g.bench_function("vrouter-single", |b| {
            b.iter(|| {
                addrs
                    .iter()
                    .fold(0u32, |s, &a| s ^ fib.lookup(a).unwrap_or(NO_ROUTE))
            })
        });
    });

    let mut g = c.benchmark_group("ipv4-full-build");
    g.sample_size(10);
    g.bench_function("vrouter-from-routes", |b| {
        b.iter_batched(
            || entries.clone(),
            |e| Lpm::<u32>::from_routes(e).map(|t| t.len()),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// `N` routed-random destinations (a random route, then `within` picks an address inside it),
/// the same addresses as treebitmap takes them, and treebitmap's table of the routes.
struct Routed<K: Key> {
    addrs: Vec<K>,
    tb_addrs: Vec<K::Addr>,
    tb: IpLookupTable<K::Addr, u32>,
}

fn routed<K: Key>(
    entries: &[(K, u8, u32)],
    within: impl Fn(K, u8, &mut Xoshiro256PlusPlus) -> K,
) -> Routed<K>
where
    K::Addr: Address + From<K>,
{
    let mut tb = IpLookupTable::new();
    for &(k, l, nh) in entries {
        tb.insert(K::Addr::from(k), u32::from(l), nh);
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let addrs: Vec<K> = (0..N)
        .map(|_| {
            let (k, l, _) = entries[rng.gen_range(0..entries.len())];
            within(k, l, &mut rng)
        })
        .collect();
    let tb_addrs = addrs.iter().map(|&a| K::Addr::from(a)).collect();
    Routed {
        addrs,
        tb_addrs,
        tb,
    }
}

/// A group over routed destinations `dests`: vrouter batched, the family's own benches
/// (`more`), then treebitmap.
fn routed_group<K: Key>(
    c: &mut Criterion,
    name: &str,
    fib: &Lpm<K>,
    dests: &Routed<K>,
    more: impl FnOnce(&mut BenchmarkGroup<'_, WallTime>, &[K]),
) where
    K::Addr: Address,
{
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(N as u64));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("vrouter-batch", |b| {
        b.iter(|| batched(fib, black_box(&dests.addrs)))
    });
    more(&mut g, &dests.addrs);
    g.bench_function("treebitmap", |b| {
        b.iter(|| treebitmap(&dests.tb, black_box(&dests.tb_addrs)))
    });
    g.finish();
}

/// One pass of treebitmap lookups over `addrs`.
fn treebitmap<T: Address>(tb: &IpLookupTable<T, u32>, addrs: &[T]) -> u32 {
    addrs.iter().fold(0u32, |s, &a| {
        s ^ tb.longest_match(a).map_or(NO_ROUTE, |(_, _, &v)| v)
    })
}

/// Bursts of 32 into one burst-sized buffer, as the forwarding loop uses it.
fn batched<K: Key, A: Arena<K>>(fib: &Lpm<K, A>, addrs: &[K]) -> u32 {
    let mut out = [0u32; BATCH];
    addrs.chunks(BATCH).fold(0u32, |s, burst| {
        fib.lookup_batch(burst, &mut out[..burst.len()]);
        out.iter().fold(s, |s, &nh| s ^ nh)
    })
}

fn lookups_v6(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/routeviews-rib6-2015-11-01.first1MB.mrt.bz2"
    );
    // The shipped dump is the first megabyte of a RIB file: its last record is cut short.
    let opts = LoadOptions {
        lenient: true,
        ..LoadOptions::default()
    };
    let entries = load(path.as_ref(), &opts, &mut |_, _| {})
        .expect("shipped IPv6 dump loads")
        .v6_entries(16);
    let fib = Lpm::<u128>::from_routes(entries.clone()).expect("builds");
    let pop = Lpm::<u128, Poptrie>::from_routes(entries.clone()).expect("builds");
    let dests = routed(&entries, |k, l, rng| testkit::within(rng, k, l));
    routed_group(c, "ipv6-real-routed", &fib, &dests, |g, addrs| {
        g.bench_function("poptrie-batch", |b| {
            b.iter(|| batched(&pop, black_box(addrs)))
        });
    });
}

criterion_group!(benches, lookups, lookups_v6);
criterion_main!(benches);
