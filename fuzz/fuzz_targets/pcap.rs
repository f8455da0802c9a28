//! Capture reading (pcap and pcapng): an error or records, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dataplane::pcap::read(data);
});
