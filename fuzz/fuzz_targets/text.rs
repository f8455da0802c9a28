//! Text formats: the first byte picks prefix list, bgpdump -m, or ip route; the rest is input.
//! The body is testkit::fuzz::text, which the stable suite also runs on fuzz/regressions/text/.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::text(data));
