//! The `vrouter routes` and `vrouter bench` commands end to end, run as a user would.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn vrouter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("vrouter runs")
}

fn ok(args: &[&str]) -> String {
    let out = vrouter(args);
    assert!(
        out.status.success(),
        "vrouter {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn fails(args: &[&str]) -> String {
    let out = vrouter(args);
    assert!(!out.status.success(), "vrouter {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

const TABLE: &str = "data/routeviews-2014-05-13.ipv4.ipasn.gz";
const UPDATES: &str = "data/ripe-rrc15-updates-2010-02-27-1600.mrt.gz";
const RIB6: &str = "data/routeviews-rib6-2015-11-01.first1MB.mrt.bz2";

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vrouter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn stats_json_counts_the_shipped_table() {
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["routes", "stats", TABLE, "--json"])).unwrap();
    assert_eq!(v["ipv4"], 512_621);
    assert_eq!(v["ipv6"], 0);
    assert_eq!(v["format"], "prefix-list");
    assert_eq!(v["ipv4_lengths"]["24"], 270_023);
    assert!(v["ipv4_fib_bytes"].as_u64().unwrap() < 16 << 20);
    assert!(v["load_seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn lookup_prints_matches_and_misses() {
    let out = ok(&[
        "routes",
        "lookup",
        TABLE,
        "8.8.8.8",
        "1.0.4.7",
        "0.0.0.1",
        "2001:db8::1",
    ]);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines[0][..2], ["8.8.8.8", "8.8.8.0/24"]);
    assert_eq!(lines[1][..2], ["1.0.4.7", "1.0.4.0/24"]);
    assert!(lines[0][2].parse::<u32>().unwrap() < 16);
    assert_eq!(lines[2], ["0.0.0.1", "-"]);
    assert_eq!(lines[3], ["2001:db8::1", "-"]);
    let err = fails(&["routes", "lookup", TABLE, "not-an-ip"]);
    assert!(
        err.contains("`not-an-ip` is not an IPv4 or IPv6 address"),
        "{err}"
    );
}

#[test]
fn lookup_stdin_handles_many_addresses_and_agrees_with_args() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(["routes", "lookup", TABLE, "--stdin"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let n = 300_000u32;
    let mut input = String::new();
    for i in 0..n {
        let a = i.wrapping_mul(2_654_435_761);
        input.push_str(&std::net::Ipv4Addr::from(a).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), n as usize);
    // Spot-check a few against the one-shot form.
    for &i in &[0usize, 1234, 299_999] {
        let addr = lines[i].split('\t').next().unwrap();
        assert_eq!(ok(&["routes", "lookup", TABLE, addr]).trim_end(), lines[i]);
    }
}

#[test]
fn convert_round_trips_through_snapshot_and_text() {
    let snap = tmp("t.snap");
    let text = tmp("t.txt");
    ok(&[
        "routes",
        "convert",
        RIB6,
        "--lenient",
        "-o",
        snap.to_str().unwrap(),
    ]);
    ok(&[
        "routes",
        "convert",
        snap.to_str().unwrap(),
        "--format",
        "text",
        "-o",
        text.to_str().unwrap(),
    ]);
    let body = std::fs::read_to_string(&text).unwrap();
    assert!(body.starts_with("# vrouter routes: PREFIX<TAB>NEXTHOP\n"));
    assert_eq!(body.lines().count(), 1 + 6870);
    let a: serde_json::Value =
        serde_json::from_str(&ok(&["routes", "stats", snap.to_str().unwrap(), "--json"])).unwrap();
    let b: serde_json::Value =
        serde_json::from_str(&ok(&["routes", "stats", text.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(a["format"], "snapshot");
    assert_eq!(a["ipv6"], 6870);
    assert_eq!(a["ipv6_lengths"], b["ipv6_lengths"]);
    // Same answers from both files.
    let probe = ["2001:db8::1", "2001:4860:4860::8888", "2a00:1450::1"];
    let mut args = vec!["routes", "lookup", snap.to_str().unwrap()];
    args.extend(probe);
    let from_snap = ok(&args);
    args[2] = text.to_str().unwrap();
    assert_eq!(from_snap, ok(&args));
}

#[test]
fn strict_loads_of_truncated_dumps_explain_themselves() {
    let err = fails(&["routes", "stats", RIB6]);
    assert!(
        err.contains(RIB6) && err.contains("byte offset") && err.contains("--lenient"),
        "{err}"
    );
    let bad = tmp("bad.txt");
    std::fs::write(&bad, "1.0.0.0/24\t1\n1.2.3.0/33\t2\n").unwrap();
    let err = fails(&["routes", "stats", bad.to_str().unwrap()]);
    assert!(
        err.contains("bad.txt: line 2: `1.2.3.0/33` is not a prefix"),
        "{err}"
    );
    let err = fails(&["routes", "stats", TABLE, "--nexthops", "0"]);
    assert!(err.contains("--nexthops"), "{err}");
    let err = fails(&["routes", "stats", TABLE, "--peer", "nobody"]);
    assert!(
        err.contains("--peer") && err.contains("peer index"),
        "{err}"
    );
}

#[test]
fn synth_is_seeded_and_relocate_stays_in_reserved_space() {
    let a = ok(&["routes", "synth", "--count", "1000", "--seed", "9"]);
    assert_eq!(
        a,
        ok(&["routes", "synth", "--count", "1000", "--seed", "9"])
    );
    assert_ne!(
        a,
        ok(&["routes", "synth", "--count", "1000", "--seed", "10"])
    );
    assert_eq!(a.lines().count(), 1001);
    let synth = tmp("synth.txt");
    std::fs::write(&synth, &a).unwrap();
    let moved = ok(&["routes", "relocate", synth.to_str().unwrap()]);
    let space: ipnet::Ipv4Net = "240.0.0.0/4".parse().unwrap();
    let mut n = 0;
    for line in moved.lines().skip(1) {
        let p: ipnet::Ipv4Net = line.split('\t').next().unwrap().parse().unwrap();
        assert!(space.contains(&p), "{p} outside 240.0.0.0/4");
        n += 1;
    }
    // /29 and longer do not fit and are dropped (and said so on stderr).
    let long = a
        .lines()
        .skip(1)
        .filter(|l| {
            l.split('/')
                .nth(1)
                .unwrap()
                .split('\t')
                .next()
                .unwrap()
                .parse::<u8>()
                .unwrap()
                > 28
        })
        .count();
    assert_eq!(n, 1000 - long);
    let v6 = ok(&["routes", "synth", "--count", "500", "--family", "v6"]);
    std::fs::write(&synth, &v6).unwrap();
    for line in ok(&["routes", "relocate", synth.to_str().unwrap()])
        .lines()
        .skip(1)
    {
        assert!(line.starts_with("3fff:"), "{line}");
    }
}

#[test]
fn events_list_the_update_stream_in_order() {
    let out = ok(&["routes", "events", UPDATES]);
    let a = out.lines().filter(|l| l.starts_with("announce\t")).count();
    let w = out.lines().filter(|l| l.starts_with("withdraw\t")).count();
    assert_eq!((a, w), (52_468, 1_318));
    // The file opens with a withdrawal, then the announcement of the same prefix (as bgpdump).
    let first: Vec<&str> = out.lines().take(2).collect();
    assert_eq!(first[0], "withdraw\t199.60.22.0/24");
    assert!(
        first[1].starts_with("announce\t199.60.22.0/24\t"),
        "{}",
        first[1]
    );
    let bgp = ok(&[
        "routes",
        "events",
        UPDATES,
        "--bgp",
        "--peer",
        "200.160.0.137",
    ]);
    assert!(
        bgp.lines().next().unwrap().ends_with("\t200.160.0.137"),
        "{bgp:.200}"
    );
    assert!(bgp.lines().count() < out.lines().count());
}

#[test]
fn bench_lpm_json_has_the_headline_fields() {
    let out = ok(&[
        "bench",
        "lpm",
        "--quick",
        "--json",
        "--lookups",
        "65536",
        "--updates",
        "20000",
        "--batch",
        "1000",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["ratio_vs_treebitmap"].as_f64().unwrap() > 0.0);
    assert!(v["fib_bytes"].as_u64().unwrap() > 1 << 20);
    let rows = v["results"].as_array().unwrap();
    assert!(rows
        .iter()
        .any(|r| r["family"] == "ipv6" && r["table"] == "synthetic 200k"));
    assert!(rows
        .iter()
        .all(|r| r["vrouter_batch_mlps"].as_f64().unwrap() > 0.0));
    // The headline is the full IPv4 table's routed, batched ratio (a median of per-round
    // ratios, so not recomputed from the median rates).
    let full = rows
        .iter()
        .find(|r| r["family"] == "ipv4" && r["routes"] == 512_621 && r["destinations"] == "routed")
        .unwrap();
    assert_eq!(full["ratio_batch"], v["ratio_vs_treebitmap"]);
    // Whole batches: at least the updates asked for, less than one batch more.
    let done = v["updates"]["updates"].as_u64().unwrap();
    assert!((20_000..21_000).contains(&done), "{done}");
    let _ = Path::new(TABLE);
}

#[test]
fn bench_pipeline_reports_rate_and_accounts_for_every_frame() {
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "bench",
        "pipeline",
        "--frames",
        "200000",
        "--seconds",
        "0.5",
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["frames"], 200_000);
    assert_eq!(v["routes"], 512_621);
    assert_eq!(
        v["forwarded"].as_u64().unwrap() + v["dropped"].as_u64().unwrap(),
        200_000
    );
    assert!(v["mpps"].as_f64().unwrap() > 0.0);
    let m = &v["memory_ports"];
    assert!(m["max_rate"]["mpps"].as_f64().unwrap() > 0.1);
    for run in ["offered_130kpps_busy", "offered_130kpps_adaptive"] {
        assert!(
            m[run]["received"].as_u64().unwrap() > 30_000,
            "{run}: {}",
            m[run]
        );
    }
}

#[test]
fn unbounded_or_mostly_unreadable_inputs_are_refused_with_short_messages() {
    // /dev/zero is not read without bound: the load stops at the input limit.
    let o = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(["routes", "stats", "/dev/zero"])
        .env("VROUTER_MAX_INPUT_MB", "8")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("larger than 8 MiB"),
        "{err}"
    );
    // An MRT dump whose first record claims 4 GB: --lenient no longer loads 0.5% of it as if
    // that were the table.
    let rib = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/routeviews-rib-2014-05-23.first1MB.mrt.bz2");
    let mut raw = fib::source::read_input(&rib, &mut |_, _| {}).unwrap().data;
    // The second record (the first after the peer table) gets the bad length.
    let first = u32::from_be_bytes(raw[8..12].try_into().unwrap()) as usize;
    let second = 12 + first;
    raw[second + 8..second + 12].copy_from_slice(&[0xff; 4]);
    let bad = tmp("bad-length.mrt");
    std::fs::write(&bad, &raw).unwrap();
    let err = fails(&["routes", "stats", "--lenient", bad.to_str().unwrap()]);
    assert!(
        err.contains(&format!("byte offset {second}"))
            && err.contains("cannot be read; not loaded"),
        "{err}"
    );
    // A 10 MB line on stdin: refused, and quoted in a few bytes at most.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(["routes", "lookup", TABLE, "--stdin"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&vec![b'7'; 10 << 20]);
    });
    let o = child.wait_with_output().unwrap();
    let _ = writer.join();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("longer than 4096 bytes"),
        "{err}"
    );
    assert!(err.len() < 1000, "{} bytes of error", err.len());
    // A long bad token in a table is quoted as an excerpt.
    let long = tmp("long-token.txt");
    std::fs::write(&long, format!("{}/24\t1\n", "9".repeat(1 << 20))).unwrap();
    let err = fails(&["routes", "stats", long.to_str().unwrap()]);
    assert!(err.contains("(1048579 bytes)") && err.len() < 1000, "{err}");
}

/// Numeric flags of the benches are refused outside their ranges while parsing, naming the
/// flag and the range, before any work starts (`--seconds nan` printed NaN rates;
/// `--frames 100000000000` ran for most of an hour).
#[test]
fn bench_numbers_out_of_range_are_refused_by_name() {
    for (args, want) in [
        (
            &["bench", "pipeline", "--seconds", "nan"][..],
            "'--seconds <SECONDS>': nan: must be a number of seconds in (0, 3600]",
        ),
        (
            &["bench", "pipeline", "--seconds=-1"][..],
            "must be a number of seconds in (0, 3600]",
        ),
        (
            &["bench", "pipeline", "--frames", "100000000000"][..],
            "'--frames <FRAMES>': 100000000000 is not in 1..=2000000000",
        ),
        (
            &["bench", "pipeline", "--adaptive-sleep-us", "4294967296"][..],
            "is not in 0..=1000000",
        ),
        (
            &["bench", "lpm", "--lookups", "100000000000"][..],
            "'--lookups <LOOKUPS>': 100000000000 is not in 64..=268435456",
        ),
        (
            &["bench", "lpm", "--batch", "0"][..],
            "'--batch <BATCH>': 0 is not in 1..=10000000",
        ),
        (
            &["bench", "lab", "--seconds", "inf"][..],
            "must be a number of seconds in (0, 3600]",
        ),
        (
            &["bench", "lab", "--steps", "0"][..],
            "'--steps <STEPS>': 0 is not in 1..=30",
        ),
    ] {
        let err = fails(args);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
