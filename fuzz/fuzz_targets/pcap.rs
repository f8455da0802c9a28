//! Capture reading (pcap and pcapng): an error or records, never a panic.
//! The body is testkit::fuzz::pcap, which the stable suite also runs on fuzz/regressions/pcap/.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::pcap(data));
