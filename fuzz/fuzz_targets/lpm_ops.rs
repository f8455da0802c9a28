//! LPM insert/remove/lookup sequences decoded from bytes, checked against a naive oracle: IPv4
//! The body is testkit::fuzz::lpm_ops, which the stable suite also runs on fuzz/regressions/lpm_ops/.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::lpm_ops(data));
