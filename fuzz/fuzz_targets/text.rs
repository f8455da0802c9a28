//! Text formats: the first byte picks prefix list, bgpdump -m, or ip route; the rest is input.
#![no_main]
use std::path::Path;

use fib::source::{load_bytes, text, Format, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let format = match pick % 3 {
        0 => Format::PrefixList,
        1 => Format::Bgpdump,
        _ => Format::IpRoute,
    };
    for lenient in [false, true] {
        let o = LoadOptions { lenient, format: Some(format), ..LoadOptions::default() };
        match load_bytes(Path::new("fuzz"), body, &o) {
            Ok(set) => {
                let _ = set.tables(16).expect("parsed routes build");
            }
            Err(_) => assert!(!lenient, "lenient text loads never fail"),
        }
        let _ = text::parse_bgpdump_events(Path::new("fuzz"), body, &o);
    }
    let _ = Format::detect(body);
});
