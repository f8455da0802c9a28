//! The bodies of the cargo-fuzz targets (`fuzz/fuzz_targets/*` call these), so that the
//! stable test suite runs the same checks on the kept inputs of `fuzz/regressions/<target>/`:
//! every crash a fuzzer ever found, and seeds that reach deep into each parser. Each function
//! panics on a bug: a parser that panics, a table that disagrees with its oracle, a counter
//! that does not add up.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dataplane::pipeline::{connected_routes, Io, PacketBuf, Verdict};
use fib::source::{load_bytes, mrt, snapshot, text, Format, LoadOptions};
use fib::{Key, Lpm};

/// A target's check of one input.
pub type Check = fn(&[u8]);

/// The targets, by the names of their folders and cargo-fuzz binaries.
pub const TARGETS: [(&str, Check); 6] = [
    ("mrt", mrt),
    ("text", text),
    ("snapshot", snapshot),
    ("lpm_ops", lpm_ops),
    ("pipeline", pipeline),
    ("pcap", pcap),
];

/// The kept inputs of one target, sorted.
pub fn regressions(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

/// MRT records (TABLE_DUMP, TABLE_DUMP_V2, BGP4MP): RIB, entry and update readers, strict and
/// lenient, then table building.
pub fn mrt(data: &[u8]) {
    let p = Path::new("fuzz");
    for lenient in [false, true] {
        let o = LoadOptions {
            lenient,
            format: Some(Format::Mrt),
            ..LoadOptions::default()
        };
        if let Ok(set) = load_bytes(p, data, &o) {
            let _ = set.tables(16).expect("parsed routes build");
        }
        let _ = mrt::rib_entries(p, data, &o);
        let _ = mrt::load_events(p, data, &o);
    }
}

/// Text formats: the first byte picks prefix list, bgpdump -m, or ip route; the rest is input.
/// Lenient text loads never fail; what parses builds.
pub fn text(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let format = match pick % 3 {
        0 => Format::PrefixList,
        1 => Format::Bgpdump,
        _ => Format::IpRoute,
    };
    for lenient in [false, true] {
        let o = LoadOptions {
            lenient,
            format: Some(format),
            ..LoadOptions::default()
        };
        match load_bytes(Path::new("fuzz"), body, &o) {
            Ok(set) => {
                let _ = set.tables(16).expect("parsed routes build");
            }
            Err(e) => assert!(!lenient, "a lenient text load failed: {e}"),
        }
        let _ = text::parse_bgpdump_events(Path::new("fuzz"), body, &o);
    }
    let _ = Format::detect(body);
}

/// Snapshot decoding: rejects or decodes, and what decodes builds.
pub fn snapshot(data: &[u8]) {
    if let Ok(set) = snapshot::decode(data) {
        let _ = set.tables(16).expect("decoded routes build");
    }
}

/// Capture reading (pcap and pcapng): an error or records.
pub fn pcap(data: &[u8]) {
    let _ = dataplane::pcap::read(data);
}

/// LPM insert/remove/lookup sequences decoded from bytes, checked against per-length maps:
/// IPv4 (the multibit trie) when the first byte is even, IPv6 (the range trees) when odd.
pub fn lpm_ops(data: &[u8]) {
    let Some((&family, data)) = data.split_first() else {
        return;
    };
    if family % 2 == 0 {
        check_lpm(data.chunks_exact(6).map(|op| {
            (
                op[0],
                u32::from_be_bytes([op[1], op[2], op[3], op[4]]),
                op[5],
            )
        }));
    } else {
        // Keys share their first 16 bits (2001::/16) so that routes meet in the same chunks.
        check_lpm(data.chunks_exact(16).map(|op| {
            let mut k = [0u8; 16];
            k[0] = 0x20;
            k[1] = 0x01;
            k[2..16].copy_from_slice(&op[1..15]);
            (op[0], u128::from_be_bytes(k), op[15])
        }));
    }
}

/// Applies `ops` (op byte, key, length byte) to a table and to per-length maps, comparing
/// every answer.
fn check_lpm<K: Key>(ops: impl Iterator<Item = (u8, K, u8)>) {
    let mut t = Lpm::<K>::new();
    let mut oracle: Vec<HashMap<K, u32>> = vec![HashMap::new(); K::BITS as usize + 1];
    for (op, key, len) in ops {
        let len = len % (K::BITS as u8 + 1);
        match op % 3 {
            0 => {
                let nh = u32::from(op / 3);
                assert_eq!(
                    t.insert(key, len, nh).unwrap(),
                    oracle[len as usize].insert(key.mask(len), nh)
                );
            }
            1 => assert_eq!(
                t.remove(key, len).unwrap(),
                oracle[len as usize].remove(&key.mask(len))
            ),
            _ => {
                let want = (0..=K::BITS as u8)
                    .rev()
                    .find_map(|l| oracle[l as usize].get(&key.mask(l)).copied());
                assert_eq!(t.lookup(key), want);
            }
        }
    }
}

/// Arbitrary frames through the forwarding pipeline of the default router (port 1 at MTU
/// 1400, so that fragmentation runs), with an Io so that the exception paths run too (ARP and
/// ND, held frames, fragments, ICMP errors): no panic, one verdict per frame, counters that
/// add up, every frame sent out on a port the router has. Frames are separated by a length
/// byte before each; the first byte picks the ingress port.
pub fn pipeline(data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let mut p = crate::default_router(2);
    p.interfaces[1].mtu = 1400;
    // Built once: a table costs far more than a run.
    static TABLES: std::sync::OnceLock<(Lpm<u32>, Lpm<u128>)> = std::sync::OnceLock::new();
    let (f4, f6) = TABLES.get_or_init(|| {
        let (c4, c6) = connected_routes(&p.interfaces);
        let mut r4 = vec![(0, 0, 0), (0x0808_0800, 24, 1)];
        r4.extend(c4);
        let mut r6 = vec![(0, 0, 0)];
        r6.extend(c6);
        (
            Lpm::from_routes(r4).expect("table"),
            Lpm::from_routes(r6).expect("table"),
        )
    });
    let ports = p.interfaces.len();
    let ingress = u16::from(pick) % ports as u16;
    let mut bufs = Vec::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let n = (usize::from(n) * 8).min(tail.len());
        bufs.extend(PacketBuf::from_bytes(&tail[..n]));
        rest = &tail[n..];
    }
    let mut v = vec![Verdict::Forward { port: 0 }; bufs.len()];
    let (mut out, mut free) = (Vec::new(), Vec::new());
    let mut spares = 64;
    let mut spare = || {
        spares -= 1;
        (spares >= 0).then(PacketBuf::default)
    };
    let mut io = Io {
        spare: &mut spare,
        out: &mut out,
        free: &mut free,
    };
    p.process_io(
        f4,
        f6,
        1_000_000_000,
        ingress,
        &mut bufs,
        &mut v,
        Some(&mut io),
    );
    assert_eq!(p.stats.frames_in, bufs.len() as u64);
    assert_eq!(
        p.stats.accounted(),
        bufs.len() as u64,
        "every frame counted once"
    );
    // Whatever leaves, leaves by a port the router has and is at least an Ethernet header.
    for (verdict, f) in v.iter().zip(&bufs) {
        if let Some(port) = verdict.egress() {
            assert!(usize::from(port) < ports, "{verdict:?}");
            assert!(f.len() >= 14, "{verdict:?} with {} bytes", f.len());
        }
    }
    for (port, f) in &out {
        assert!(usize::from(*port) < ports, "sent on port {port}");
        assert!(f.len() >= 14, "{} bytes sent on port {port}", f.len());
    }
}
