//! Criterion: load time per route format (read + decompress + parse), and snapshot reload into
//! a ready table. `cargo bench --bench load`.
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use fib::source::{load, snapshot, LoadOptions};
use fib::Lpm;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

fn loads(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    let lenient = LoadOptions {
        lenient: true,
        ..LoadOptions::default()
    };
    for (name, file) in [
        ("ipasn-gz-512k", "routeviews-2014-05-13.ipv4.ipasn.gz"),
        ("mrt-rib-bz2", "routeviews-rib-2014-05-23.first1MB.mrt.bz2"),
        (
            "mrt-rib6-bz2",
            "routeviews-rib6-2015-11-01.first1MB.mrt.bz2",
        ),
        (
            "mrt-updates-gz",
            "ripe-rrc15-updates-2010-02-27-1600.mrt.gz",
        ),
    ] {
        let path = data(file);
        g.bench_function(name, |b| {
            b.iter(|| load(&path, &lenient, &mut |_, _| {}).map(|s| s.routes.len()))
        });
    }
    let set = load(
        &data("routeviews-2014-05-13.ipv4.ipasn.gz"),
        &LoadOptions::default(),
        &mut |_, _| {},
    )
    .expect("shipped table loads");
    let snap = std::env::temp_dir().join(format!("vrouter-bench-load-{}.snap", std::process::id()));
    std::fs::write(&snap, snapshot::encode(&set, 16)).expect("temp file");
    g.bench_function("snapshot-512k-reload-and-build", |b| {
        b.iter(|| {
            let bytes = std::fs::read(&snap).expect("read");
            let (v4, _) = snapshot::decode_entries(&bytes).expect("decodes");
            Lpm::<u32>::from_routes(v4).map(|t| t.len())
        })
    });
    g.finish();
    let _ = std::fs::remove_file(&snap);
}

criterion_group!(benches, loads);
criterion_main!(benches);
