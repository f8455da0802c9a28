//! Snapshot decoding: rejects or decodes, and what decodes builds.
#![no_main]
use fib::source::snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = snapshot::decode(data) {
        let _ = set.tables(16).expect("decoded routes build");
    }
});
