//! Every loader against hand-made malformed input: each valid sample cut at every byte (so at
//! every field), and targeted corruptions. Strict loads must fail with the file and the byte
//! offset or line and what is wrong; lenient loads must succeed and count what they skipped;
//! nothing may panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use fib::source::{self, load_bytes, read_input, Format, LoadOptions, Location, SourceError};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

fn opts(format: Format, lenient: bool) -> LoadOptions {
    LoadOptions {
        lenient,
        format: Some(format),
        ..LoadOptions::default()
    }
}

/// MRT record boundaries of `data` (offsets where a record starts, and the end).
fn boundaries(data: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut out = vec![0];
    while at + 12 <= data.len() {
        let len =
            u32::from_be_bytes([data[at + 8], data[at + 9], data[at + 10], data[at + 11]]) as usize;
        at += 12 + len;
        out.push(at);
    }
    out
}

/// The first `n` whole records of a shipped MRT file.
fn first_records(name: &str, n: usize) -> Vec<u8> {
    let input = read_input(&data(name), &mut |_, _| {}).unwrap();
    let b = boundaries(&input.data);
    input.data[..b[n]].to_vec()
}

fn record(kind: u16, sub: u16, body: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&1_400_000_000u32.to_be_bytes());
    r.extend_from_slice(&kind.to_be_bytes());
    r.extend_from_slice(&sub.to_be_bytes());
    r.extend_from_slice(&(body.len() as u32).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// Attributes: ORIGIN IGP, AS_PATH (2-byte) 65001 65002, NEXT_HOP or full MP_REACH_NLRI.
fn attrs_v1(v6: bool) -> Vec<u8> {
    let mut a = vec![0x40, 1, 1, 0, 0x40, 2, 6, 2, 2, 0xfd, 0xe9, 0xfd, 0xea];
    if v6 {
        let mut mp = vec![0, 2, 1, 16];
        mp.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        mp.extend_from_slice(&[0, 32, 0x20, 0x01, 0x0d, 0xb8]);
        a.extend_from_slice(&[0x80, 14, mp.len() as u8]);
        a.extend_from_slice(&mp);
    } else {
        a.extend_from_slice(&[0x40, 3, 4, 198, 18, 0, 1]);
    }
    a
}

/// A legacy TABLE_DUMP record (RFC 6396 §4.2).
fn table_dump_v1(v6: bool) -> Vec<u8> {
    let mut b = vec![0, 0, 0, 1]; // view, sequence
    if v6 {
        b.extend_from_slice(&"2001:db8::".parse::<std::net::Ipv6Addr>().unwrap().octets());
        b.push(32);
    } else {
        b.extend_from_slice(&[192, 0, 2, 0]);
        b.push(24);
    }
    b.push(1); // status
    b.extend_from_slice(&1_300_000_000u32.to_be_bytes());
    if v6 {
        b.extend_from_slice(
            &"2001:db8::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
    } else {
        b.extend_from_slice(&[198, 18, 0, 2]);
    }
    b.extend_from_slice(&65001u16.to_be_bytes());
    let a = attrs_v1(v6);
    b.extend_from_slice(&(a.len() as u16).to_be_bytes());
    b.extend_from_slice(&a);
    record(12, if v6 { 2 } else { 1 }, &b)
}

#[test]
fn table_dump_v1_records_load() {
    let p = Path::new("v1.mrt");
    let mut both = table_dump_v1(false);
    both.extend(table_dump_v1(true));
    let set = load_bytes(p, &both, &LoadOptions::default()).unwrap();
    let got: Vec<String> = set
        .routes
        .iter()
        .map(|r| format!("{} {}", r.prefix, r.value))
        .collect();
    assert_eq!(
        got,
        ["192.0.2.0/24 198.18.0.1", "2001:db8::/32 2001:db8::1"]
    );
    let (entries, _) = source::mrt::rib_entries(p, &both, &LoadOptions::default()).unwrap();
    assert_eq!(entries[0].attrs.as_path.to_string(), "65001 65002");
    assert_eq!(entries[1].peer.asn, 65001);
}

/// Cuts `valid` at every byte: a cut on a record boundary loads; any other cut fails strictly
/// at an offset no later than the cut, and loads leniently with one skipped record.
fn every_cut_mrt(name: &str, valid: &[u8]) {
    let bounds = boundaries(valid);
    let path = Path::new(name);
    for cut in 1..valid.len() {
        let bytes = &valid[..cut];
        let strict = load_bytes(path, bytes, &opts(Format::Mrt, false));
        if bounds.contains(&cut) {
            assert!(
                strict.is_ok(),
                "{name} cut at record boundary {cut}: {:?}",
                strict.err()
            );
            continue;
        }
        match strict {
            Err(SourceError::Parse {
                file,
                at: Location::Offset(o),
                what,
            }) => {
                assert_eq!(file, path);
                assert!(o <= cut, "{name} cut {cut}: error offset {o} past the cut");
                assert!(what.contains("truncated"), "{name} cut {cut}: {what}");
            }
            other => panic!("{name} cut at {cut}: expected an offset error, got {other:?}"),
        }
        let lenient = load_bytes(path, bytes, &opts(Format::Mrt, true)).unwrap();
        assert_eq!(
            lenient.stats.skipped.get("malformed"),
            Some(&1),
            "{name} cut {cut}"
        );
        // Updates and RIB readers share the framing; events must fail the same way.
        assert!(source::mrt::load_events(path, bytes, &opts(Format::Mrt, false)).is_err());
    }
}

#[test]
fn mrt_truncated_at_every_byte() {
    every_cut_mrt(
        "rib4",
        &first_records("routeviews-rib-2014-05-23.first1MB.mrt.bz2", 3),
    );
    every_cut_mrt(
        "rib6",
        &first_records("routeviews-rib6-2015-11-01.first1MB.mrt.bz2", 3),
    );
    every_cut_mrt(
        "updates",
        &first_records("ripe-rrc15-updates-2010-02-27-1600.mrt.gz", 12),
    );
    let mut v1 = table_dump_v1(false);
    v1.extend(table_dump_v1(true));
    every_cut_mrt("table_dump_v1", &v1);
}

fn strict_error(bytes: &[u8], format: Format) -> (Location, String) {
    match load_bytes(Path::new("x"), bytes, &opts(format, false)) {
        Err(SourceError::Parse { at, what, .. }) => (at, what),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn mrt_field_corruptions_are_named() {
    let rib = first_records("routeviews-rib-2014-05-23.first1MB.mrt.bz2", 2);
    let b = boundaries(&rib);
    // RIB record 2: header(12) + sequence(4), then the prefix length byte.
    let plen = b[1] + 16;
    let mut bad = rib.clone();
    bad[plen] = 33;
    let (at, what) = strict_error(&bad, Format::Mrt);
    assert_eq!(at, Location::Offset(plen));
    assert!(what.contains("prefix length 33 exceeds 32"), "{what}");

    // First entry's peer index beyond the peer table.
    let entry = plen + 1 + usize::from(rib[plen]).div_ceil(8) + 2;
    let mut bad = rib.clone();
    bad[entry] = 0xff;
    let (at, what) = strict_error(&bad, Format::Mrt);
    assert_eq!(at, Location::Offset(entry));
    assert!(what.contains("not in PEER_INDEX_TABLE"), "{what}");

    // A RIB record with no peer table before it.
    let (_, what) = strict_error(&rib[b[1]..], Format::Mrt);
    assert!(what.contains("before any PEER_INDEX_TABLE"), "{what}");

    // Update file: a broken BGP marker in the first message.
    let upd = first_records("ripe-rrc15-updates-2010-02-27-1600.mrt.gz", 1);
    let mut bad = upd.clone();
    let marker = upd.windows(16).position(|w| w == [0xff; 16]).unwrap();
    bad[marker + 3] = 0;
    let (at, what) = strict_error(&bad, Format::Mrt);
    assert_eq!(at, Location::Offset(marker));
    assert!(what.contains("marker"), "{what}");

    // Legacy TABLE_DUMP with an AS_PATH segment type of 9.
    let mut v1 = table_dump_v1(false);
    let seg = v1.windows(4).position(|w| w == [0x40, 2, 6, 2]).unwrap() + 3;
    v1[seg] = 9;
    let (at, what) = strict_error(&v1, Format::Mrt);
    assert_eq!(at, Location::Offset(seg));
    assert!(what.contains("segment type 9"), "{what}");

    // Unknown subtypes are skipped with a count, not errors.
    let mut odd = rib[..b[1]].to_vec();
    odd.extend(record(13, 6, &[0, 0, 0, 0]));
    let set = load_bytes(Path::new("x"), &odd, &LoadOptions::default()).unwrap();
    assert_eq!(set.stats.skipped.get("TABLE_DUMP_V2 subtype 6"), Some(&1));
}

#[test]
fn text_formats_truncated_at_every_byte() {
    let samples: [(Format, &str); 4] = [
        (Format::PrefixList, "; comment\n1.0.0.0/24\t15169\n1.0.4.0/22\t56203\n2001:db8::/32\t64500\n"),
        (
            Format::Bgpdump,
            "TABLE_DUMP2|1400824800|B|196.7.106.245|2905|1.0.0.0/24|2905 15169|IGP|196.7.106.245|0|0||NAG||\n\
             TABLE_DUMP2|1400824800|B|157.130.10.233|701|1.0.4.0/22|701 {1,2}|IGP|157.130.10.233|0|0||NAG||\n",
        ),
        (
            Format::IpRoute,
            "default via 198.18.0.1 dev eth0 proto static\n198.18.4.0/22 dev eth1 proto kernel scope link src 198.18.4.1\n\
             blackhole 198.19.0.0/16\n198.18.8.0/24 proto bird\n\tnexthop via 198.18.0.9 dev eth0 weight 1\n",
        ),
        (Format::PrefixList, "# vrouter routes: PREFIX<TAB>NEXTHOP\n198.18.0.0/15\t3\n"),
    ];
    for (format, text) in samples {
        let full = load_bytes(Path::new("t"), text.as_bytes(), &opts(format, false)).unwrap();
        assert!(!full.routes.is_empty());
        for cut in 1..text.len() {
            let bytes = &text.as_bytes()[..cut];
            match load_bytes(Path::new("t"), bytes, &opts(format, false)) {
                Ok(_) => {}
                Err(SourceError::Parse {
                    at: Location::Line(n),
                    what,
                    ..
                }) => {
                    // Only the last (cut) line can be wrong.
                    let last = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
                    assert_eq!(n, last, "{format:?} cut {cut}: {what}");
                }
                Err(e) => panic!("{format:?} cut {cut}: {e}"),
            }
            let lenient = load_bytes(Path::new("t"), bytes, &opts(format, true)).unwrap();
            assert!(lenient.routes.len() <= full.routes.len());
        }
    }
}

#[test]
fn text_errors_name_the_line_and_problem() {
    let cases: [(Format, &str, usize, &str); 13] = [
        // Accepted but wrong before: a gateway that is no address, a cut prefix read as a
        // host route.
        (
            Format::IpRoute,
            "1.0.0.0/8 via banana dev eth0\n",
            1,
            "`via banana`: not an address",
        ),
        (
            Format::IpRoute,
            "default via 198\n",
            1,
            "`via 198`: not an address",
        ),
        (
            Format::IpRoute,
            "198.18.0.0/15 dev\n",
            1,
            "`dev` without a device",
        ),
        (
            Format::PrefixList,
            "1.0.0.0/8\t1\n200.202.20.0\n",
            2,
            "has no /length",
        ),
        (
            Format::PrefixList,
            "1.0.0.0/24\t1\n1.2.3.0/33\t5\n",
            2,
            "is not a prefix",
        ),
        (Format::PrefixList, "1.2.3.4/24\t5\n", 1, "host bits set"),
        (
            Format::PrefixList,
            "1.2.3.0/24\tAS-x\n",
            1,
            "is not a number",
        ),
        (Format::PrefixList, "1.2.3.0/24\t1\t2\n", 1, "third field"),
        (
            Format::Bgpdump,
            "TABLE_DUMP2|1|B|1.2.3.4\n",
            1,
            "missing field",
        ),
        (
            Format::Bgpdump,
            "TABLE_DUMP2|x|B|1.2.3.4|1|1.0.0.0/8|1|IGP|1.2.3.4\n",
            1,
            "timestamp",
        ),
        (Format::Bgpdump, "FOO|1|B\n", 1, "unknown record type"),
        (
            Format::IpRoute,
            "\n\nnot-a-prefix via 198.18.0.1\n",
            3,
            "not a prefix",
        ),
        (Format::PrefixList, "1.0.0.0/8\t1\n\u{ff}\n", 2, "not UTF-8"),
    ];
    for (format, text, line, what) in cases {
        let bytes: Vec<u8> = if what == "not UTF-8" {
            b"1.0.0.0/8\t1\n\xff\xfe\n".to_vec()
        } else {
            text.as_bytes().to_vec()
        };
        let err = load_bytes(Path::new("routes.txt"), &bytes, &opts(format, false)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("routes.txt: line {line}: ")),
            "{msg}"
        );
        assert!(msg.contains(what), "{msg} (want {what})");
        let lenient = load_bytes(Path::new("routes.txt"), &bytes, &opts(format, true)).unwrap();
        assert_eq!(lenient.stats.skipped.get("malformed"), Some(&1), "{text}");
    }
}

/// A peer that offered no entry is an error naming the dump's peers, not an empty table.
#[test]
fn a_peer_absent_from_the_dump_is_named_not_loaded_as_nothing() {
    let dump = "TABLE_DUMP2|1400824800|B|196.7.106.245|2905|1.0.0.0/24|2905 15169|IGP|196.7.106.245|0|0||NAG||\n\
                TABLE_DUMP2|1400824800|B|157.130.10.233|701|1.0.4.0/22|701 1|IGP|157.130.10.233|0|0||NAG||\n";
    for (peer, ok) in [
        ("999", false),
        ("1", true),
        ("157.130.10.233", true),
        ("192.0.2.1", false),
    ] {
        let o = LoadOptions {
            peer: peer.parse().unwrap(),
            ..opts(Format::Bgpdump, false)
        };
        match load_bytes(Path::new("rib.txt"), dump.as_bytes(), &o) {
            Ok(set) => {
                assert!(ok, "peer {peer} loaded {} routes", set.routes.len());
                assert_eq!(set.routes.len(), 1, "peer {peer}");
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(!ok, "peer {peer}: {msg}");
                assert!(msg.starts_with("rib.txt: "), "{msg}");
                assert!(msg.contains(&format!("no entry from peer {peer}")), "{msg}");
                assert!(
                    msg.contains("0 (196.7.106.245), 1 (157.130.10.233)"),
                    "{msg}"
                );
            }
        }
    }
}

#[test]
fn snapshots_reject_every_truncation_and_corruption() {
    let set = source::synth::ipv4(200, 5);
    let mut v6 = source::synth::ipv6(50, 5);
    let mut all = set.clone();
    all.routes.append(&mut v6.routes);
    let snap = source::snapshot::encode(&all, 16);
    let back = load_bytes(Path::new("s"), &snap, &LoadOptions::default()).unwrap();
    assert_eq!(back.routes.len(), all.routes.len());
    assert_eq!(back.format, Some(Format::Snapshot));
    for cut in 0..snap.len() {
        assert!(
            load_bytes(Path::new("s"), &snap[..cut], &opts(Format::Snapshot, false)).is_err(),
            "cut {cut}"
        );
    }
    for i in (0..snap.len()).step_by(7) {
        let mut bad = snap.clone();
        bad[i] ^= 0x10;
        assert!(
            load_bytes(Path::new("s"), &bad, &opts(Format::Snapshot, true)).is_err(),
            "flip at {i}"
        );
    }
}

#[test]
fn truncated_compressed_files_are_reported() {
    let dir = std::env::temp_dir().join(format!("vrouter-malformed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let full = std::fs::read(data("ripe-rrc15-updates-2010-02-27-1610.mrt.gz")).unwrap();
    let cut = dir.join("cut.mrt.gz");
    std::fs::File::create(&cut)
        .unwrap()
        .write_all(&full[..full.len() / 2])
        .unwrap();
    let err = source::load(&cut, &LoadOptions::default(), &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cut.mrt.gz") && err.contains("compressed stream ends early"),
        "{err}"
    );
    let set = source::load(
        &cut,
        &LoadOptions {
            lenient: true,
            ..LoadOptions::default()
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert!(set
        .stats
        .skipped
        .contains_key("truncated compressed stream"));
    assert!(!set.routes.is_empty());
    let missing =
        source::load(&dir.join("nope"), &LoadOptions::default(), &mut |_, _| {}).unwrap_err();
    assert!(missing.to_string().contains("nope"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}
