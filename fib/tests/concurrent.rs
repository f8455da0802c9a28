//! Route updates while forwarding: one thread looks up continuously while another applies 100k
//! inserts and deletes in atomic batches. Every answer must equal the answer of the table state
//! after some whole batch (the one whose version the reader saw), never a mix.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fib::{share, Lpm, Update, NO_ROUTE};
use ip_network_table_deps_treebitmap::IpLookupTable;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const BATCHES: usize = 100;
const PER_BATCH: usize = 1000;
const PROBES: usize = 4096;

#[test]
fn readers_see_whole_batches_only() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
    let base: Vec<(u32, u8, u32)> = fib::source::synth::ipv4(20_000, 3).v4_entries(16);

    // The oracle, advanced batch by batch to record the expected answer of every probe after
    // every batch.
    let mut oracle = IpLookupTable::<Ipv4Addr, u32>::new();
    for &(k, l, nh) in &base {
        oracle.insert(Ipv4Addr::from(k), u32::from(l), nh);
    }
    let mut live: Vec<(u32, u8)> = base.iter().map(|&(k, l, _)| (k, l)).collect();
    let probes: Vec<u32> = (0..PROBES)
        .map(|i| {
            if i % 4 == 0 {
                rng.gen()
            } else {
                let (k, l) = live[rng.gen_range(0..live.len())];
                testkit::within(&mut rng, k, l)
            }
        })
        .collect();
    let answer = |t: &IpLookupTable<Ipv4Addr, u32>, a: u32| {
        t.longest_match(Ipv4Addr::from(a))
            .map_or(NO_ROUTE, |(_, _, &v)| v)
    };
    let mut expected: Vec<Vec<u32>> = vec![probes.iter().map(|&a| answer(&oracle, a)).collect()];
    let mut batches: Vec<Vec<Update<u32>>> = Vec::new();
    for _ in 0..BATCHES {
        let mut b = Vec::with_capacity(PER_BATCH);
        for _ in 0..PER_BATCH {
            if rng.gen_bool(0.5) && !live.is_empty() {
                let (k, l) = live.swap_remove(rng.gen_range(0..live.len()));
                oracle.remove(Ipv4Addr::from(k), u32::from(l));
                b.push(Update::Remove { key: k, len: l });
            } else {
                // New routes near the probes (covering, more specific, or new) so that the
                // batches change answers.
                let p = probes[rng.gen_range(0..probes.len())];
                let len = rng.gen_range(8..=32u8);
                let key = p & (u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0));
                let nh = rng.gen_range(0..64);
                oracle.insert(Ipv4Addr::from(key), u32::from(len), nh);
                live.push((key, len));
                b.push(Update::Insert { key, len, nh });
            }
        }
        batches.push(b);
        expected.push(probes.iter().map(|&a| answer(&oracle, a)).collect());
    }
    // Consecutive states really differ, so a half-applied batch would be caught.
    let changed = expected.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        changed > BATCHES * 9 / 10,
        "only {changed} batches changed an answer"
    );

    let (mut writer, reader) = share(Lpm::<u32>::from_routes(base.clone()).unwrap());
    let v0 = reader.load().version();
    let done = Arc::new(AtomicBool::new(false));
    let expected = Arc::new(expected);
    let (d2, e2) = (Arc::clone(&done), Arc::clone(&expected));
    let probes = Arc::new(probes);
    let p2 = Arc::clone(&probes);
    let checker = std::thread::spawn(move || {
        let mut out = vec![0u32; PROBES];
        let (mut checks, mut last, mut seen) = (0u64, 0usize, std::collections::BTreeSet::new());
        loop {
            let finished = d2.load(Ordering::Acquire);
            let t = reader.load();
            let v = (t.version() - v0) as usize;
            assert!(v >= last, "version went back from {last} to {v}");
            last = v;
            seen.insert(v);
            t.lookup_batch(&p2, &mut out);
            for (i, (&got, &want)) in out.iter().zip(&e2[v]).enumerate() {
                assert_eq!(
                    got,
                    want,
                    "probe {} at version {v}: {got} != {want}",
                    Ipv4Addr::from(p2[i])
                );
            }
            for (i, &a) in p2.iter().enumerate().step_by(7) {
                assert_eq!(t.lookup(a).unwrap_or(NO_ROUTE), e2[v][i]);
            }
            checks += PROBES as u64;
            if finished {
                return (checks, last, seen.len());
            }
        }
    });
    for b in &batches {
        writer.apply(b).unwrap();
    }
    done.store(true, Ordering::Release);
    let (checks, last, distinct) = checker.join().expect("checker thread failed");
    assert_eq!(last, BATCHES, "the reader must end on the final state");
    assert!(distinct >= 2, "the reader saw only {distinct} table states");
    eprintln!("{checks} answers checked across {distinct} table states");
    // The writer's view and a fresh build of the final routes agree.
    let final_routes = writer.load().routes();
    let rebuilt = Lpm::<u32>::from_routes(final_routes).unwrap();
    let t = writer.load();
    for (i, &a) in probes.iter().enumerate() {
        assert_eq!(rebuilt.lookup(a).unwrap_or(NO_ROUTE), expected[BATCHES][i]);
        assert_eq!(t.lookup(a).unwrap_or(NO_ROUTE), expected[BATCHES][i]);
    }
}
