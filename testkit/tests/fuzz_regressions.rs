//! The kept fuzz inputs (`fuzz/regressions/<target>/`: hand-made seeds and every crash a
//! fuzzer found) through the fuzz targets' own checks, in the stable suite: a crash once found
//! stays fixed without nightly or cargo-fuzz. `scripts/test` runs the fuzzers themselves in
//! CI for a bounded time.

use testkit::fuzz::{regressions, TARGETS};

#[test]
fn every_kept_fuzz_input_passes_its_targets_checks() {
    let mut failed = Vec::new();
    for (target, check) in TARGETS {
        let inputs = regressions(target);
        assert!(
            !inputs.is_empty(),
            "fuzz/regressions/{target}/ has no input (fuzz/make-seeds.py writes the seeds)"
        );
        for path in inputs {
            let data = std::fs::read(&path).unwrap();
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failed.push(path.display().to_string());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that fail their checks: {failed:?}"
    );
}
