//! MRT records (TABLE_DUMP, TABLE_DUMP_V2, BGP4MP): RIB, entry and update readers, strict and
//! lenient, then table building. Any panic is a bug.
#![no_main]
use std::path::Path;

use fib::source::{load_bytes, mrt, Format, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz");
    for lenient in [false, true] {
        let o = LoadOptions { lenient, format: Some(Format::Mrt), ..LoadOptions::default() };
        if let Ok(set) = load_bytes(p, data, &o) {
            let _ = set.tables(16).expect("parsed routes build");
        }
        let _ = mrt::rib_entries(p, data, &o);
        let _ = mrt::load_events(p, data, &o);
    }
});
