//! The MRT reader against Debian's `bgpdump -m` on the shipped dumps and update files: the same
//! entries in the same order, with the same peers, AS paths, origins and next hops; the same
//! announce/withdraw sequence. `bgpdump` is installed by `scripts/test`; without it this test
//! explains why and fails under CI (it passes with a note on a developer machine).

use std::path::{Path, PathBuf};
use std::process::Command;

use fib::source::mrt::{self, Attrs};
use fib::source::{read_input, LoadOptions};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

/// `bgpdump -m FILE` lines, or `None` (with the reason printed) when it cannot run outside CI.
fn bgpdump(file: &Path) -> Option<Vec<String>> {
    match Command::new("bgpdump").arg("-m").arg(file).output() {
        Ok(out) => Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
        ),
        Err(e) => {
            testkit::unavailable(&format!(
                "bgpdump cannot run ({e}); `scripts/test` installs it (apt bgpdump)"
            ));
            None
        }
    }
}

/// The first `n` fields of a bgpdump line, with addresses and prefixes respelled the Rust way
/// (RFC 5952: glibc writes `2001:668::3:...` where Rust writes `2001:668:0:3:...`).
fn normalize(line: &str, n: usize) -> String {
    line.split('|')
        .take(n)
        .enumerate()
        .map(|(i, f)| match i {
            3 | 8 => f
                .parse::<std::net::IpAddr>()
                .map_or(f.to_string(), |a| a.to_string()),
            5 => f
                .parse::<ipnet::IpNet>()
                .map_or(f.to_string(), |p| p.to_string()),
            _ => f.to_string(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

fn origin(a: &Attrs) -> &'static str {
    match a.origin {
        Some(0) => "IGP",
        Some(1) => "EGP",
        Some(2) => "INCOMPLETE",
        _ => "",
    }
}

fn lenient() -> LoadOptions {
    LoadOptions {
        lenient: true,
        ..LoadOptions::default()
    }
}

fn check_rib(name: &str) {
    let path = data(name);
    let Some(want) = bgpdump(&path) else { return };
    let input = read_input(&path, &mut |_, _| {}).unwrap();
    let (entries, stats) = mrt::rib_entries(&path, &input.data, &lenient()).unwrap();
    let got: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "TABLE_DUMP2|{}|B|{}|{}|{}|{}|{}|{}",
                e.dumped,
                e.peer.addr,
                e.peer.asn,
                e.prefix,
                e.attrs.as_path,
                origin(&e.attrs),
                e.next_hop().map_or(String::new(), |h| h.to_string())
            )
        })
        .collect();
    let want: Vec<String> = want.iter().map(|l| normalize(l, 9)).collect();
    assert!(
        want.len() > 100_000,
        "{name}: bgpdump printed only {} lines",
        want.len()
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{name}: entry {i} differs");
    }
    assert_eq!(got.len(), want.len(), "{name}: entry counts differ");
    // The dump is cut mid-record: exactly one bad record, skipped in lenient mode.
    assert_eq!(
        stats.skipped.get("malformed"),
        Some(&1),
        "{name}: {:?}",
        stats.skipped
    );
}

#[test]
fn rib_v4_matches_bgpdump() {
    check_rib("routeviews-rib-2014-05-23.first1MB.mrt.bz2");
}

#[test]
fn rib_v6_matches_bgpdump() {
    check_rib("routeviews-rib6-2015-11-01.first1MB.mrt.bz2");
}

fn check_updates(name: &str) {
    let path = data(name);
    let Some(want) = bgpdump(&path) else { return };
    let input = read_input(&path, &mut |_, _| {}).unwrap();
    let (msgs, stats) = mrt::updates(&path, &input.data, &LoadOptions::default()).unwrap();
    let mut got = Vec::new();
    for m in &msgs {
        let head = format!("BGP4MP|{}", m.time);
        for p in &m.withdrawn {
            got.push(format!("{head}|W|{}|{}|{p}", m.peer.addr, m.peer.asn));
        }
        let tail = |hop: Option<std::net::IpAddr>| {
            format!(
                "{}|{}|{}",
                m.attrs.as_path,
                origin(&m.attrs),
                hop.map_or(String::new(), |h| h.to_string())
            )
        };
        for p in &m.announced {
            got.push(format!(
                "{head}|A|{}|{}|{p}|{}",
                m.peer.addr,
                m.peer.asn,
                tail(m.attrs.next_hop)
            ));
        }
        for p in &m.attrs.mp_reach {
            got.push(format!(
                "{head}|A|{}|{}|{p}|{}",
                m.peer.addr,
                m.peer.asn,
                tail(m.attrs.mp_next_hop)
            ));
        }
    }
    let want: Vec<String> = want
        .iter()
        .filter(|l| !l.contains("|STATE|"))
        .map(|l| normalize(l, if l.contains("|W|") { 6 } else { 9 }))
        .collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{name}: change {i} differs");
    }
    assert_eq!(got.len(), want.len(), "{name}: change counts differ");
    let a = got.iter().filter(|l| l.contains("|A|")).count();
    let w = got.iter().filter(|l| l.contains("|W|")).count();
    eprintln!(
        "{name}: {a} announcements, {w} withdrawals, skipped {:?}",
        stats.skipped
    );
    assert!(stats.skipped.contains_key("BGP4MP state change"));
}

#[test]
fn updates_1600_match_bgpdump() {
    check_updates("ripe-rrc15-updates-2010-02-27-1600.mrt.gz");
}

#[test]
fn updates_1610_match_bgpdump() {
    check_updates("ripe-rrc15-updates-2010-02-27-1610.mrt.gz");
}

/// The data README's figures, independent of bgpdump.
#[test]
fn update_counts_match_the_data_readme() {
    for (name, ann, wd) in [
        ("ripe-rrc15-updates-2010-02-27-1600.mrt.gz", 52_468, 1_318),
        ("ripe-rrc15-updates-2010-02-27-1610.mrt.gz", 5_920, 1_549),
    ] {
        let path = data(name);
        let (ev, _) =
            fib::source::load_events(&path, &LoadOptions::default(), &mut |_, _| {}).unwrap();
        let a = ev
            .iter()
            .filter(|e| matches!(e.change, fib::source::Change::Announce(_)))
            .count();
        assert_eq!((a, ev.len() - a), (ann, wd), "{name}");
    }
}
