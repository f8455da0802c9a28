//! Quick lookup-speed probe on one table: `cargo run --release -p fib --example lpm_probe [FILE]`.
use std::time::Instant;

use fib::source::{load, LoadOptions};
use fib::{Key, Lpm};
use rand::{Rng, SeedableRng};

#[inline(never)]
fn batch(t: &Lpm<u32>, a: &[u32], o: &mut [u32]) {
    t.lookup_batch(a, o)
}

#[inline(never)]
fn single(t: &Lpm<u32>, a: &[u32]) -> u64 {
    a.iter().map(|&x| u64::from(t.lookup(x).unwrap_or(0))).sum()
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or("data/routeviews-2014-05-13.ipv4.ipasn.gz".into());
    let set = load(path.as_ref(), &LoadOptions::default(), &mut |_, _| {}).unwrap();
    let e = set.v4_entries(16);
    let t = Lpm::<u32>::from_routes(e.clone()).unwrap();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let addrs: Vec<u32> = (0..16 << 20)
        .map(|_| {
            let (k, l, _) = e[rng.gen_range(0..e.len())];
            k | if l >= 32 { 0 } else { rng.gen::<u32>() >> l }
        })
        .collect();
    let mut out = vec![0u32; addrs.len()];
    for _ in 0..3 {
        let s = Instant::now();
        batch(&t, &addrs, &mut out);
        let b = addrs.len() as f64 / s.elapsed().as_secs_f64() / 1e6;
        let s = Instant::now();
        let x = single(&t, &addrs);
        let r = addrs.len() as f64 / s.elapsed().as_secs_f64() / 1e6;
        println!("batch {b:.1} Ml/s  single {r:.1} Ml/s  ({x} {})", out[7]);
    }
    let _ = u32::from_addr("1.2.3.4".parse().unwrap());
}
