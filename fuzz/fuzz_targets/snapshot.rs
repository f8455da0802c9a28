//! Snapshot decoding: rejects or decodes, and what decodes builds.
//! The body is testkit::fuzz::snapshot, which the stable suite also runs on fuzz/regressions/snapshot/.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::snapshot(data));
