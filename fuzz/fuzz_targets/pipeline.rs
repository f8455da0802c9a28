//! Arbitrary frames through the forwarding pipeline: no panic, one verdict each, counters add up.
//! The body is testkit::fuzz::pipeline, which the stable suite also runs on fuzz/regressions/pipeline/.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::pipeline(data));
