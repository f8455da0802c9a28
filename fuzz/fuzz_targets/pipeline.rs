//! Arbitrary frames through the forwarding pipeline: no panic, one verdict each, counters add up.
#![no_main]
use dataplane::pipeline::{PacketBuf, Verdict};
use fib::Lpm;
use libfuzzer_sys::fuzz_target;

static TABLES: std::sync::OnceLock<(Lpm<u32>, Lpm<u128>)> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let (f4, f6) = TABLES.get_or_init(|| {
        (
            Lpm::from_routes(vec![(0, 0, 0), (0x0808_0800, 24, 1)]).expect("table"),
            Lpm::from_routes(vec![(0, 0, 0)]).expect("table"),
        )
    });
    let mut p = testkit::default_router(2);
    // Frames are separated by their first byte's length prefix.
    let mut bufs = Vec::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        bufs.extend(PacketBuf::from_bytes(&tail[..n]));
        rest = &tail[n..];
    }
    let mut v = vec![Verdict::Forward { port: 0 }; bufs.len()];
    p.process(f4, f6, 1, 0, &mut bufs, &mut v);
    let s = &p.stats;
    assert_eq!(s.accounted(), bufs.len() as u64);
});
