//! MRT records (TABLE_DUMP, TABLE_DUMP_V2, BGP4MP): RIB, entry and update readers, strict and
//! The body is testkit::fuzz::mrt, which the stable suite also runs on fuzz/regressions/mrt/.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::mrt(data));
