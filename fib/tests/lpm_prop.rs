//! Property tests: random insert/remove/lookup sequences against a deliberately naive oracle
//! (a hash map per prefix length, searched longest first), IPv4 and IPv6, including /0, full
//! length host routes and overlapping prefixes; and whole tables against the treebitmap crate.

use std::net::{Ipv4Addr, Ipv6Addr};

use fib::lpm::{multibit::Multibit, poptrie::Poptrie, stree::Stree, Arena};
use fib::{Key, Lpm, Update, NO_ROUTE};
use ip_network_table_deps_treebitmap::IpLookupTable;
use proptest::prelude::*;

/// The oracle: exact-match maps per length.
type Naive<K> = testkit::NaiveLpm<K>;

#[derive(Clone, Debug)]
enum Op<K> {
    Insert(K, u8, u32),
    Remove(K, u8),
    Lookup(K),
}

/// Keys clustered in a few /8-like regions so that prefixes overlap and nest often.
fn key_v4() -> impl Strategy<Value = u32> + Clone {
    (0u32..4, any::<u32>())
        .prop_map(|(region, low)| (region << 30) | (low >> 2) & 0x00ff_ffff | (region << 24))
}

/// Keys in a few regions of a few /24s of one /18 (the range trees split a crowded /18 into
/// blocks by bits 18..24), with host bits that reach deep.
fn key_v6() -> impl Strategy<Value = u128> + Clone {
    (0u128..4, 0u128..4, any::<u64>(), any::<u64>()).prop_map(|(block, region, hi, lo)| {
        (0x2001u128 << 112)
            | (block << 104)
            | (region << 100)
            | (u128::from(hi & 0xffff) << 64)
            | u128::from(lo)
    })
}

/// Lengths biased to the interesting ones: /0, around the 18-bit direct array edge, common
/// lengths, and full length.
fn len_v4() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![
        Just(0u8),
        Just(32u8),
        0u8..=32,
        16u8..=26,
        Just(18u8),
        Just(24u8)
    ]
}

fn len_v6() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![
        Just(0u8),
        Just(128u8),
        0u8..=128,
        16u8..=64,
        Just(48u8),
        Just(18u8)
    ]
}

fn ops<K: Key + 'static>(
    key: impl Strategy<Value = K> + Clone + 'static,
    len: impl Strategy<Value = u8> + Clone + 'static,
) -> impl Strategy<Value = Vec<Op<K>>> {
    let op = prop_oneof![
        4 => (key.clone(), len.clone(), 0u32..8).prop_map(|(k, l, n)| Op::Insert(k, l, n)),
        2 => (key.clone(), len).prop_map(|(k, l)| Op::Remove(k, l)),
        4 => key.prop_map(Op::Lookup),
    ];
    prop::collection::vec(op, 1..400)
}

fn run<K: Key, A: Arena<K>>(ops: &[Op<K>], batched: bool) -> Result<(), TestCaseError> {
    let mut t = Lpm::<K, A>::new();
    let mut n = Naive::<K>::new();
    let mut batch = Vec::new();
    let mut probes = Vec::new();
    for op in ops {
        match *op {
            Op::Insert(k, l, nh) => {
                let want = n.insert(k, l, nh);
                if batched {
                    batch.push(Update::Insert { key: k, len: l, nh });
                } else {
                    prop_assert_eq!(t.insert(k, l, nh).unwrap(), want);
                }
                probes.push(k);
            }
            Op::Remove(k, l) => {
                let want = n.remove(k, l);
                if batched {
                    batch.push(Update::Remove { key: k, len: l });
                } else {
                    prop_assert_eq!(t.remove(k, l).unwrap(), want);
                }
            }
            Op::Lookup(a) => {
                if batched {
                    t.apply(&batch).unwrap();
                    batch.clear();
                }
                prop_assert_eq!(t.lookup(a), n.lookup(a), "lookup {:?}", a);
                probes.push(a);
            }
        }
    }
    t.apply(&batch).unwrap();
    prop_assert_eq!(t.len(), n.len());
    // Every probed address, plus addresses sharing only its first bits (they leave compressed
    // paths at every depth), single and batched.
    let mut addrs = Vec::new();
    for &p in &probes {
        addrs.push(p);
        for len in [20, 24, 28, 30, 36, 44, 52, 64, 100] {
            addrs.push(p.mask(len));
        }
    }
    let mut out = vec![0; addrs.len()];
    t.lookup_batch(&addrs, &mut out);
    for (a, got) in addrs.iter().zip(out) {
        let want = n.lookup(*a).unwrap_or(NO_ROUTE);
        prop_assert_eq!(got, want, "batch lookup {:?}", a);
    }
    // The route store agrees with the oracle.
    let mut routes = t.routes();
    routes.sort_unstable_by_key(|&(k, l, _)| (k, l));
    let mut want = n.routes();
    want.sort_unstable_by_key(|&(k, l, _)| (k, l));
    prop_assert_eq!(routes, want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn v4_sequences_match_oracle(ops in ops(key_v4(), len_v4())) {
        run::<u32, Multibit>(&ops, false)?;
    }

    #[test]
    fn v4_batches_match_oracle(ops in ops(key_v4(), len_v4())) {
        run::<u32, Multibit>(&ops, true)?;
    }

    #[test]
    fn v6_sequences_match_oracle(ops in ops(key_v6(), len_v6())) {
        run::<u128, Stree>(&ops, false)?;
    }

    /// The poptrie, kept for side-by-side measurement, must answer the same.
    #[test]
    fn poptrie_sequences_match_oracle(ops in ops(key_v6(), len_v6())) {
        run::<u128, Poptrie>(&ops, false)?;
    }

    #[test]
    fn v6_batches_match_oracle(ops in ops(key_v6(), len_v6())) {
        run::<u128, Stree>(&ops, true)?;
    }

    /// A table built in one go answers like treebitmap for any address.
    #[test]
    fn v4_bulk_build_matches_treebitmap(
        routes in prop::collection::vec((key_v4(), len_v4(), 0u32..1000), 0..2000),
        probes in prop::collection::vec(any::<u32>(), 200),
    ) {
        let t = Lpm::<u32>::from_routes(routes.clone()).unwrap();
        let mut tb = IpLookupTable::<Ipv4Addr, u32>::new();
        for &(k, l, nh) in &routes {
            tb.insert(Ipv4Addr::from(k.mask(l)), u32::from(l), nh);
        }
        for p in probes.iter().copied().chain(routes.iter().map(|r| r.0)) {
            let want = tb.longest_match(Ipv4Addr::from(p)).map(|(_, _, &v)| v);
            prop_assert_eq!(t.lookup(p), want, "{}", Ipv4Addr::from(p));
        }
    }

    #[test]
    fn v6_bulk_build_matches_treebitmap(
        routes in prop::collection::vec((key_v6(), len_v6(), 0u32..1000), 0..1000),
        probes in prop::collection::vec(key_v6(), 200),
    ) {
        let t = Lpm::<u128>::from_routes(routes.clone()).unwrap();
        let mut tb = IpLookupTable::<Ipv6Addr, u32>::new();
        for &(k, l, nh) in &routes {
            tb.insert(Ipv6Addr::from(k.mask(l)), u32::from(l), nh);
        }
        for p in probes.iter().copied().chain(routes.iter().map(|r| r.0)) {
            let want = tb.longest_match(Ipv6Addr::from(p)).map(|(_, _, &v)| v);
            prop_assert_eq!(t.lookup(p), want, "{}", Ipv6Addr::from(p));
        }
    }
}

#[test]
fn edge_lengths_and_overlaps() {
    let mut t = Lpm::<u32>::new();
    assert_eq!(t.lookup(0x0102_0304), None);
    t.insert(0, 0, 1).unwrap();
    t.insert(0x0a00_0000, 8, 2).unwrap();
    t.insert(0x0a01_0203, 32, 3).unwrap();
    t.insert(0x0a01_0202, 31, 4).unwrap();
    assert_eq!(t.lookup(0x0a01_0203), Some(3));
    assert_eq!(t.lookup(0x0a01_0202), Some(4));
    assert_eq!(t.lookup(0x0a01_0201), Some(2));
    assert_eq!(t.lookup(0x0a01_0204), Some(2));
    assert_eq!(t.lookup(0xc000_0201), Some(1));
    assert_eq!(t.remove(0, 0).unwrap(), Some(1));
    assert_eq!(t.lookup(0xc000_0201), None);
    assert_eq!(t.remove(0x0a01_0202, 31).unwrap(), Some(4));
    assert_eq!(t.lookup(0x0a01_0202), Some(2));
    assert!(t.insert(0, 33, 1).is_err());
    assert!(t.insert(0, 8, u32::MAX).is_err());

    let mut t6 = Lpm::<u128>::new();
    t6.insert(u128::MAX, 128, 7).unwrap();
    t6.insert(0, 0, 1).unwrap();
    assert_eq!(t6.lookup(u128::MAX), Some(7));
    assert_eq!(t6.lookup(u128::MAX - 1), Some(1));
}

#[test]
fn garbage_is_compacted_without_changing_answers() {
    let mut t = Lpm::<u32>::new();
    let mut n = Naive::<u32>::new();
    // Short routes give the /18s without long routes different next hops: compaction must
    // point each of them at a hop block of the fresh arena.
    for (key, len, nh) in [(0, 0, 9), (0x0a80_0000, 9, 8), (0x0a40_0000, 12, 11)] {
        t.insert(key, len, nh).unwrap();
        n.insert(key, len, nh);
    }
    let mut x = 0x1234_5678u32;
    for i in 0..200_000u32 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let key = x & 0x00ff_ff00 | 0x0a00_0000; // 10.x.y.0/24 and longer
        let len = 24 + (i % 5) as u8;
        if i % 3 == 0 {
            assert_eq!(t.remove(key, len).unwrap(), n.remove(key, len));
        } else {
            assert_eq!(
                t.insert(key, len, i % 7).unwrap(),
                n.insert(key, len, i % 7)
            );
        }
    }
    let mem = t.memory();
    assert!(mem.lookup_allocated < 4 * mem.lookup, "{mem:?}");
    for i in 0..50_000u32 {
        let a = 0x0a00_0000 | (i.wrapping_mul(2_654_435_761) & 0x00ff_ffff);
        assert_eq!(t.lookup(a), n.lookup(a));
        let b = i.wrapping_mul(2_654_435_761);
        assert_eq!(t.lookup(b), n.lookup(b));
    }
}

#[test]
fn compaction_keeps_chunks_that_compile_to_one_next_hop() {
    // Two /19s with one next hop cover 2001::/18: the range trees compile that chunk to a leaf
    // answering 5, not the chunk's default (no route). Churn in another chunk then makes
    // enough garbage to compact the arena, which must keep that leaf.
    let v6 = |s: &str| u128::from(s.parse::<Ipv6Addr>().unwrap());
    let mut t = Lpm::<u128>::new();
    let mut n = Naive::<u128>::new();
    for (key, len, nh) in [(v6("2001::"), 19, 5), (v6("2001:2000::"), 19, 5)] {
        t.insert(key, len, nh).unwrap();
        n.insert(key, len, nh);
    }
    let before = t.memory().lookup_allocated;
    let base = v6("2a00::");
    let next = |x: &mut u64| {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    };
    let mut x = 0x1234_5678u64;
    for i in 0..40_000u32 {
        let key = base | u128::from(next(&mut x) & 0xffff_fff0) << 80;
        if i % 3 == 0 {
            assert_eq!(t.remove(key, 48).unwrap(), n.remove(key, 48));
        } else {
            assert_eq!(t.insert(key, 48, i % 7).unwrap(), n.insert(key, 48, i % 7));
        }
    }
    assert!(
        t.memory().lookup_allocated > before,
        "the churn built chunks"
    );
    for a in ["2001::1", "2001:1fff::", "2001:2abc::9", "2001:3fff:ffff::"] {
        assert_eq!(t.lookup(v6(a)), Some(5), "{a}");
    }
    let mut y = 7u64;
    for _ in 0..20_000 {
        let a = base | u128::from(next(&mut y)) << 64;
        assert_eq!(t.lookup(a), n.lookup(a));
    }
}
