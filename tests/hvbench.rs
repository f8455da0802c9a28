//! `vrouter hvbench`, end to end: the outside timer against a known sleep, a marker dropped on
//! purpose and reported, `compare --quick` natively and in a container (the guest run is in
//! tests/vm.rs, with the image), the timer and run commands as a user starts them by hand, and
//! bad input refused.
//!
//! Needs root (network namespaces); under CI a missing prerequisite fails instead of passing
//! silently. Marker traffic stays on veths between namespaces the command or test made, on
//! 198.18.250.0/24; each namespace is removed, also on failure.

use std::path::Path;
use std::process::{Command, Output};

fn vrouter<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("vrouter runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn can_run() -> bool {
    testkit::require(
        "hvbench tests",
        true,
        &["ip", "unshare"],
        "run as root; unshare is util-linux",
    )
}

/// `compare --json`, which must succeed; its document.
fn compare(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = dir.join("out");
    let mut a = vec![
        "hvbench",
        "compare",
        "--json",
        "--out",
        out.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ];
    a.extend_from_slice(args);
    let child = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(&a)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("vrouter runs");
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        leftovers(pid),
        Vec::<String>::new(),
        "namespaces left behind"
    );
    serde_json::from_slice(&o.stdout).expect("compare --json prints JSON")
}

/// Namespaces compare process `pid` made and did not remove.
fn leftovers(pid: u32) -> Vec<String> {
    let o = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.starts_with(&format!("vrouter-hb{pid}-")))
        .map(str::to_string)
        .collect()
}

fn task<'a>(doc: &'a serde_json::Value, platform: usize, task: &str) -> &'a serde_json::Value {
    doc["platforms"][platform]["report"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == task)
        .unwrap_or_else(|| panic!("no {task} in {doc:#}"))
}

#[test]
fn the_outside_timer_agrees_with_a_known_sleep() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let doc = compare(
        dir.path(),
        &[
            "--platforms",
            "native",
            "--tasks",
            "sleep",
            "--sleep-ms",
            "250",
            "--rounds",
            "5",
        ],
    );
    let rounds = doc["platforms"][0]["report"]["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 5);
    for r in rounds {
        let s = r["outside_s"].as_f64().unwrap();
        // A sleep is never shorter than asked; a few ms of wake-up and marker latency at most.
        assert!((0.245..0.280).contains(&s), "round timed {s} s: {doc:#}");
    }
    let t = task(&doc, 0, "sleep");
    let mean = t["outside"]["mean"].as_f64().unwrap();
    assert!((mean - 0.25).abs() < 0.015, "mean {mean}");
    assert_eq!(t["outside"]["n"], 5);
    // Natively both clocks are this host's: they agree to well under 1%.
    assert!(t["clock_error_pct"].as_f64().unwrap().abs() < 1.0, "{t}");
}

#[test]
fn a_dropped_marker_is_reported_and_never_paired_with_the_next_round() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let doc = compare(
        dir.path(),
        &[
            "--platforms",
            "native",
            "--tasks",
            "sleep",
            "--sleep-ms",
            "100",
            "--rounds",
            "4",
            "--drop-marker",
            "sleep:2:end",
            "--drop-marker",
            "sleep:4:start",
        ],
    );
    let rep = &doc["platforms"][0]["report"];
    let rounds = rep["rounds"].as_array().unwrap();
    assert_eq!(rounds[1]["lost"], "end marker lost", "{rep:#}");
    assert!(rounds[1]["outside_s"].is_null());
    assert_eq!(rounds[3]["lost"], "start marker lost");
    for i in [0, 2] {
        let s = rounds[i]["outside_s"].as_f64().unwrap();
        assert!((0.095..0.130).contains(&s), "round {} timed {s}", i + 1);
    }
    let lost: Vec<&str> = rep["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        lost,
        [
            "sleep round 2: end marker lost",
            "sleep round 4: start marker lost"
        ]
    );
    let t = task(&doc, 0, "sleep");
    assert_eq!(t["outside"]["n"], 2);
    assert_eq!(t["lost_rounds"], 2);
}

#[test]
fn compare_quick_runs_natively_and_in_a_container_and_draws_its_chart() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let doc = compare(dir.path(), &["--quick", "--platforms", "native,container"]);
    let labels: Vec<&str> = doc["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["native", "container"]);
    for p in 0..2 {
        assert!(doc["platforms"][p]["error"].is_null(), "{doc:#}");
        for t in ["cpu", "mem", "disk", "net"] {
            let s = task(&doc, p, t);
            assert_eq!(s["outside"]["n"], 3, "{t} on {}: {s}", labels[p]);
            assert_eq!(s["failed_rounds"], 0);
            assert!(s["outside"]["mean"].as_f64().unwrap() > 0.0);
        }
        let net = task(&doc, p, "net");
        assert!(net["mbps"]["mean"].as_f64().unwrap() > 1.0, "{net}");
        for r in doc["platforms"][p]["report"]["rounds"].as_array().unwrap() {
            if r["task"] == "net" {
                // 4 MiB in 1472-byte datagrams: every one seen outside and echoed back.
                assert_eq!(r["seen"], 2850, "{r}");
                assert_eq!(r["echoed"], 2850, "{r}");
            }
            if r["task"] == "cpu" {
                assert!(r["detail"]
                    .as_str()
                    .unwrap()
                    .contains("first 1000 decimals checked"));
            }
        }
    }
    let out = dir.path().join("out");
    let svg = std::fs::read_to_string(out.join("hvbench.svg")).unwrap();
    for want in ["native", "container", "cpu", "net", "Mb/s each way"] {
        assert!(svg.contains(want), "the chart lacks {want}");
    }
    let csv = std::fs::read_to_string(out.join("rounds.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 4 * 3);
    // Nothing left behind in the disk task's folder (namespaces: checked by compare()).
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["out"]);
}

/// Two namespaces joined by a veth, removed when dropped.
struct Pair(String, String);

impl Pair {
    fn new() -> Pair {
        let base = format!("vrhbtest{}", std::process::id());
        let p = Pair(format!("{base}-t"), format!("{base}-s"));
        let ip = |a: &[&str]| {
            let o = Command::new("ip").args(a).output().unwrap();
            assert!(o.status.success(), "ip {a:?}: {}", text(&o));
        };
        ip(&["netns", "add", &p.0]);
        ip(&["netns", "add", &p.1]);
        ip(&[
            "-n", &p.0, "link", "add", "t0", "type", "veth", "peer", "name", "s0", "netns", &p.1,
        ]);
        ip(&["-n", &p.0, "addr", "add", "198.18.250.1/24", "dev", "t0"]);
        ip(&["-n", &p.1, "addr", "add", "198.18.250.2/24", "dev", "s0"]);
        for (ns, dev) in [(&p.0, "t0"), (&p.1, "s0"), (&p.0, "lo"), (&p.1, "lo")] {
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        p
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.0, &self.1] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

#[test]
fn timer_and_run_work_as_separate_commands() {
    if !can_run() {
        return;
    }
    let pair = Pair::new();
    let exe = env!("CARGO_BIN_EXE_vrouter");
    let timer = Command::new("ip")
        .args(["netns", "exec", &pair.0, exe, "hvbench", "timer"])
        .args(["--listen", "198.18.250.1:7391", "--json", "--timeout", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The timer says when it listens; give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let run = Command::new("ip")
        .args(["netns", "exec", &pair.1, exe, "hvbench", "run", "cpu,disk"])
        .args([
            "--marker",
            "198.18.250.1:7391",
            "--platform",
            "by-hand",
            "--rounds",
            "2",
        ])
        .args(["--pi-digits", "2000", "--disk-mib", "2", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let out = text(&run);
    assert!(out.contains("cpu   round   1/2"), "{out}");
    let t = timer.wait_with_output().unwrap();
    assert!(t.status.success(), "{}", text(&t));
    let doc: serde_json::Value = serde_json::from_slice(&t.stdout).unwrap();
    assert_eq!(doc["ended"], "done");
    let r = &doc["runs"][0];
    assert_eq!(r["platform"], "by-hand");
    assert_eq!(r["rounds"].as_array().unwrap().len(), 4);
    assert_eq!(r["lost"].as_array().unwrap().len(), 0, "{r:#}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    for (args, want) in [
        (
            vec![
                "hvbench",
                "run",
                "cpu",
                "--marker",
                "198.18.250.1:7390",
                "--drop-marker",
                "cpu:x:end",
            ],
            "not a round number",
        ),
        (
            vec!["hvbench", "run", "gpu", "--marker", "198.18.250.1:7390"],
            "invalid value 'gpu'",
        ),
        (vec!["hvbench", "run", "cpu"], "--marker"),
        (
            vec![
                "hvbench",
                "run",
                "cpu",
                "--marker",
                "198.18.250.1:7390",
                "--pi-digits",
                "0",
            ],
            "--pi-digits",
        ),
        (
            vec!["hvbench", "compare", "--platforms", "xen"],
            "invalid value 'xen'",
        ),
        (
            vec![
                "hvbench",
                "compare",
                "--dir",
                "/nonexistent/x",
                "--platforms",
                "native",
            ],
            "/nonexistent/x",
        ),
    ] {
        let o = vrouter(&args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(text(&o).contains(want), "{args:?}: {}", text(&o));
    }
    if can_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("never");
        let o = vrouter(&[
            "hvbench",
            "compare",
            "--platforms",
            "qemu",
            "--image",
            "/nonexistent",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        assert!(text(&o).contains("build-image"), "{}", text(&o));
        assert!(!out.exists(), "a failed compare leaves no result folder");
    }
}
