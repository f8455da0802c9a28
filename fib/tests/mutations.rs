//! A stable, seeded stand-in for the fuzzers in the test suite: thousands of mutated inputs
//! (bit flips, byte overwrites, insertions, deletions, truncations, splices) fed to every parser,
//! strict and lenient, then to table building. Nothing may panic; lenient loads of line- and
//! record-based formats must always succeed.

use std::path::Path;

use fib::source::{self, load_bytes, read_input, Format, LoadOptions};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn data(name: &str) -> Vec<u8> {
    let input = read_input(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data")
            .join(name),
        &mut |_, _| {},
    )
    .unwrap();
    // The first ~64 KiB: many records, quick to mutate.
    input.data[..input.data.len().min(64 * 1024)].to_vec()
}

fn mutate(rng: &mut impl Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        if v.is_empty() {
            v.push(rng.gen());
            continue;
        }
        let i = rng.gen_range(0..v.len());
        match rng.gen_range(0..6) {
            0 => v[i] ^= 1 << rng.gen_range(0..8),
            1 => {
                v[i] = *[0u8, 0xff, 0x7f, 0x80, b'|', b'/', b'\n', b'\t']
                    .get(rng.gen_range(0..8))
                    .unwrap_or(&0)
            }
            2 => v.insert(i, rng.gen()),
            3 => {
                v.remove(i);
            }
            4 => v.truncate(i),
            _ => {
                let j = rng.gen_range(0..v.len());
                let n = rng.gen_range(1..=16).min(v.len() - i.max(j));
                let chunk = v[j..j + n].to_vec();
                v.splice(i..i, chunk);
            }
        }
    }
    v
}

fn exercise(bytes: &[u8], format: Format) {
    for lenient in [false, true] {
        let opts = LoadOptions {
            lenient,
            format: Some(format),
            ..LoadOptions::default()
        };
        let res = load_bytes(Path::new("mutant"), bytes, &opts);
        if lenient && format != Format::Snapshot {
            assert!(
                res.is_ok(),
                "lenient {format:?} load failed: {:?}",
                res.err()
            );
        }
        if let Ok(set) = res {
            let (v4, v6) = set.tables(16).expect("parsed routes must always build");
            assert_eq!(v4.len() + v6.len(), set.routes.len());
        }
        if format == Format::Mrt {
            let _ = source::mrt::load_events(Path::new("mutant"), bytes, &opts);
            let _ = source::mrt::rib_entries(Path::new("mutant"), bytes, &opts);
        }
        if format == Format::Bgpdump {
            let _ = source::text::parse_bgpdump_events(Path::new("mutant"), bytes, &opts);
        }
    }
    // Auto-detection must cope too.
    let _ = load_bytes(Path::new("mutant"), bytes, &LoadOptions::default());
}

#[test]
fn mutated_inputs_never_panic() {
    let snapshot = {
        let mut s = source::synth::ipv4(300, 9);
        s.routes.extend(source::synth::ipv6(100, 9).routes);
        source::snapshot::encode(&s, 16)
    };
    let bgpdump = b"TABLE_DUMP2|1400824800|B|196.7.106.245|2905|1.0.0.0/24|2905 15169|IGP|196.7.106.245|0|0||NAG||\n\
BGP4MP|1267286400|A|200.160.0.137|22548|199.60.22.0/24|22548 16735 {8167,6453}|IGP|200.160.0.137|0|0||NAG||\n\
BGP4MP|1267286400|W|200.160.0.137|22548|2001:db8::/32\n"
        .to_vec();
    let iproute = b"default via 198.18.0.1 dev eth0\n198.18.4.0/22 dev eth1 scope link\n2001:db8::/32 via fe80::1 dev eth0 metric 1024\nunreachable 198.19.0.0/16\n".to_vec();
    let corpora: Vec<(Format, Vec<u8>)> = vec![
        (
            Format::Mrt,
            data("routeviews-rib-2014-05-23.first1MB.mrt.bz2"),
        ),
        (
            Format::Mrt,
            data("routeviews-rib6-2015-11-01.first1MB.mrt.bz2"),
        ),
        (
            Format::Mrt,
            data("ripe-rrc15-updates-2010-02-27-1600.mrt.gz"),
        ),
        (
            Format::PrefixList,
            data("routeviews-2014-05-13.ipv4.ipasn.gz")[..4096].to_vec(),
        ),
        (Format::Bgpdump, bgpdump),
        (Format::IpRoute, iproute),
        (Format::Snapshot, snapshot),
    ];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);
    let rounds = if cfg!(debug_assertions) { 150 } else { 1500 };
    for (format, base) in &corpora {
        // MRT samples are large: mutate a window of whole-ish records so runs stay quick.
        let base: &[u8] = if *format == Format::Mrt {
            &base[..base.len().min(8192)]
        } else {
            base
        };
        for _ in 0..rounds {
            let m = mutate(&mut rng, base);
            exercise(&m, *format);
        }
    }
}
