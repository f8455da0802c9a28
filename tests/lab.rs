//! The namespace lab end to end, with ordinary tools talking through vrouter: ping and
//! traceroute (IPv4 and IPv6) through one and two chained vrouters, iperf3 UDP (1472-byte
//! payloads) and TCP through vrouter and through the kernel baseline.
//!
//! Needs root and iproute2, ethtool, ping, traceroute and iperf3 (`scripts/setup` installs
//! them). Where they are missing the tests say why; under CI (`CI` set) they fail instead of
//! passing silently. Every lab is torn down by a guard, also when a test fails; every tool
//! runs bounded in packets and seconds.
//!
//! Longer than 600 lines: every lab scenario (chain, parallel, kernel, AF_XDP, queues,
//! teardown) shares the guards and helpers at the top.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn vrouter<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("vrouter runs")
}

/// Whether the lab can run here; under CI a missing prerequisite is a failure.
fn can_run() -> bool {
    testkit::require(
        "lab tests",
        true,
        &["ip", "ethtool", "ping", "traceroute", "iperf3"],
        "scripts/setup installs the tools; run as root",
    )
}

/// Tests that load the cores with traffic take turns (the other tests run beside them):
/// what they measure is the routers, not each other's floods.
fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// A lab that is torn down when dropped.
struct Lab {
    name: String,
}

impl Lab {
    fn up(name: &str, extra: &[&str]) -> Lab {
        let name = format!("{name}{}", std::process::id() % 10_000);
        // Remove leftovers of an earlier crashed run with the same name.
        let _ = vrouter(&["lab", "down", "--name", &name]);
        let mut args = vec!["lab", "up", "--name", &name];
        args.extend_from_slice(extra);
        let o = vrouter(&args);
        let lab = Lab { name };
        assert!(
            o.status.success(),
            "lab up {extra:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        lab
    }

    fn ns(&self, node: &str) -> String {
        format!("vrl-{}-{node}", self.name)
    }

    /// Runs a command in a namespace, bounded by `secs`.
    fn exec(&self, node: &str, secs: u32, cmd: &[&str]) -> Output {
        testkit::in_netns(&self.ns(node), secs, cmd)
    }

    fn ok(&self, node: &str, secs: u32, cmd: &[&str]) -> String {
        let o = self.exec(node, secs, cmd);
        assert!(
            o.status.success(),
            "{cmd:?} in {node} failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    /// Hop addresses of a traceroute, in order.
    fn hops(&self, v6: bool, dst: &str) -> Vec<String> {
        let mut cmd = vec!["traceroute", "-n", "-q", "1", "-w", "2", "-m", "6"];
        if v6 {
            cmd.push("-6");
        }
        cmd.push(dst);
        let out = self.ok("gen", 30, &cmd);
        out.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect()
    }

    fn namespaces(&self) -> Vec<String> {
        namespaces(&format!("vrl-{}-", self.name))
    }
}

/// Network namespaces whose names start with `prefix`.
fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Runs vrouter, which must fail with `why` in its error output.
fn refused(args: &[&str], why: &str) {
    let o = vrouter(args);
    assert!(!o.status.success(), "{args:?} succeeded");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(why), "{args:?}: {err}");
}

impl Drop for Lab {
    fn drop(&mut self) {
        let o = vrouter(&["lab", "down", "--name", &self.name]);
        if !o.status.success() {
            eprintln!(
                "lab down {}: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

fn ping(lab: &Lab, v6: bool, dst: &str) {
    let mut cmd = vec!["ping", "-c", "3", "-i", "0.2", "-W", "2"];
    if v6 {
        cmd.push("-6");
    }
    cmd.push(dst);
    let out = lab.ok("gen", 20, &cmd);
    assert!(out.contains("3 received"), "{out}");
}

#[test]
fn ping_and_traceroute_through_one_and_two_vrouters() {
    if !can_run() {
        return;
    }
    // One router, only the covering routes; neighbours resolved by ARP/ND at run time.
    let lab = Lab::up("pa", &["--routers", "1"]);
    ping(&lab, false, "240.0.0.1");
    ping(&lab, true, "3fff::1");
    assert_eq!(lab.hops(false, "240.1.2.3"), ["198.18.0.2", "240.1.2.3"]);
    assert_eq!(lab.hops(true, "3fff::7"), ["2001:2::2", "2001:2:0:1::2"]);
    drop(lab);

    // Two chained routers with the full shipped table relocated into 240/4.
    let lab = Lab::up(
        "pb",
        &[
            "--routers",
            "2",
            "--table",
            "data/routeviews-2014-05-13.ipv4.ipasn.gz",
        ],
    );
    ping(&lab, false, "240.0.0.1");
    ping(&lab, true, "3fff::1");
    // TTL expiry is answered by each router in turn (ICMP Time Exceeded).
    assert_eq!(
        lab.hops(false, "240.1.2.3"),
        ["198.18.0.2", "198.18.1.2", "240.1.2.3"]
    );
    assert_eq!(
        lab.hops(true, "3fff::7"),
        ["2001:2::2", "2001:2:0:1::2", "2001:2:0:2::2"]
    );
    // A destination from the relocated real table (8.8.8.0/24 -> 240.128.128.128/28).
    ping(&lab, false, "240.128.128.129");
    // The routers counted what they did: forwarded frames and answered requests.
    let sock = format!("/run/vrouter-lab/{}/r1.sock", lab.name);
    let stats = vrouter(&["ctl", "--socket", &sock, "stats", "--json"]);
    assert!(stats.status.success());
    let j: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let r = &j["routers"][0];
    assert!(r["forwarded"].as_u64().unwrap() >= 12, "{r}");
    assert!(r["answered"].as_u64().unwrap() >= 1, "{r}");
}

/// iperf3 from the generator to the sink; returns (Mb/s, loss %) for UDP, (Mb/s, 0) for TCP.
fn iperf(lab: &Lab, udp: bool) -> (f64, f64) {
    let ns = lab.ns("sink");
    let mut server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            "timeout",
            "30",
            "iperf3",
            "-s",
            "-1",
            "-B",
            "240.0.0.1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut cmd = vec!["iperf3", "-c", "240.0.0.1", "-t", "2", "-J"];
    if udp {
        cmd.extend_from_slice(&["-u", "-l", "1472", "-b", "300M"]);
    }
    let out = lab.ok("gen", 30, &cmd);
    let _ = server.wait();
    let j: serde_json::Value = serde_json::from_str(&out).expect("iperf3 JSON");
    assert!(j.get("error").is_none(), "{}", j["error"]);
    if udp {
        let s = &j["end"]["sum"];
        (
            s["bits_per_second"].as_f64().unwrap() / 1e6,
            s["lost_percent"].as_f64().unwrap(),
        )
    } else {
        (
            j["end"]["sum_received"]["bits_per_second"]
                .as_f64()
                .unwrap()
                / 1e6,
            0.0,
        )
    }
}

#[test]
fn iperf3_through_vrouter_and_the_kernel_baseline() {
    if !can_run() {
        return;
    }
    let _alone = heavy();
    for kind in ["vrouter", "kernel"] {
        let lab = Lab::up(&format!("i{}", &kind[..1]), &["--router", kind]);
        let (udp, loss) = iperf(&lab, true);
        let (tcp, _) = iperf(&lab, false);
        eprintln!(
            "{kind}: UDP 1472-byte payloads at 300 Mb/s offered: {udp:.0} Mb/s, {loss:.2}% lost; TCP {tcp:.0} Mb/s"
        );
        assert!(
            udp > 100.0 && loss < 20.0,
            "{kind}: UDP {udp} Mb/s, {loss}% lost"
        );
        assert!(tcp > 50.0, "{kind}: TCP {tcp} Mb/s");
    }
}

#[test]
fn lab_up_down_and_cleanup_on_failure() {
    if !can_run() {
        return;
    }
    let lab = Lab::up("ud", &["--routers", "3"]);
    assert_eq!(lab.namespaces().len(), 5, "gen, 3 routers, sink");
    // A second `up` of the same lab is refused and leaves the first alone.
    let again = vrouter(&["lab", "up", "--name", &lab.name]);
    assert!(!again.status.success());
    assert_eq!(lab.namespaces().len(), 5);
    let o = vrouter(&["lab", "down", "--name", &lab.name]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(lab.namespaces().is_empty());

    // A failing `up` (the table does not exist) removes everything it made.
    let name = format!("uf{}", std::process::id() % 10_000);
    let o = vrouter(&["lab", "up", "--name", &name, "--table", "no/such/table"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no/such/table") && err.contains("removed"),
        "{err}"
    );
    let left = Lab { name };
    assert!(left.namespaces().is_empty());

    // Bad arguments say which and why.
    let o = vrouter(&["lab", "up", "--name", "bad/name"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--name"));
    let o = vrouter(&["lab", "up", "--routers", "0"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--routers"));
}

/// Starts `vrouter sink` (JSON) for `secs` on interface `iface` of the lab's sink namespace,
/// on `io` sockets, and lets it settle for `settle_ms`.
fn spawn_sink(lab: &Lab, iface: &str, io: &str, secs: f64, settle_ms: u64) -> Child {
    let sink = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args([
            "sink",
            "--netns",
            &lab.ns("sink"),
            "--iface",
            iface,
            "--io",
            io,
        ])
        .args(["--duration", &secs.to_string(), "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(settle_ms));
    sink
}

/// A 5-s sink on the lab's sink link (router 1 of a chain), on `io` sockets.
fn start_sink(lab: &Lab, io: &str) -> Child {
    spawn_sink(lab, "e1r", io, 5.0, 500)
}

/// The sink's JSON report, once it has finished.
fn sink_report(sink: std::process::Child) -> serde_json::Value {
    let out = sink.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `args` as a generator of 20,000 frames at 20 kp/s, flow `flow`, into a running `sink`: the
/// generator offered them all, and the sink got at least 19,900 of that flow (the first
/// frames may wait for, or be dropped by, neighbour resolution), none twice. Returns both
/// reports.
fn gen_into_sink(
    args: &[String],
    sink: std::process::Child,
    flow: u64,
) -> (serde_json::Value, serde_json::Value) {
    let mut args = args.to_vec();
    let flow_id = flow.to_string();
    args.extend(
        testkit::GEN_RUN
            .iter()
            .chain(&["--flow", flow_id.as_str()])
            .map(|a| a.to_string()),
    );
    let o = vrouter(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(g["offered"], 20_000);
    let s = sink_report(sink);
    let f = &s["flows"][0];
    assert_eq!(f["flow"], flow, "{s}");
    let received = f["received"].as_u64().unwrap();
    assert!(
        received >= 19_900 && received <= g["sent"].as_u64().unwrap(),
        "{s}"
    );
    assert_eq!(f["duplicates"], 0);
    (g, s)
}

/// `vrouter gen` on the lab's generator link, towards router 1 (no source address yet).
fn gen_base(lab: &Lab) -> Vec<String> {
    [
        "gen",
        "--netns",
        &lab.ns("gen"),
        "--iface",
        "e0l",
        "--dst-mac",
        "02:76:72:00:00:02",
    ]
    .map(String::from)
    .to_vec()
}

/// [`gen_base`] on `io` sockets, from the generator host's IPv4 address.
fn gen_command(lab: &Lab, io: &str) -> Vec<String> {
    let mut args = gen_base(lab);
    args.extend(["--io", io, "--src-ip", "198.18.0.1"].map(String::from));
    args
}

#[test]
fn gen_and_sink_commands_measure_through_a_vrouter() {
    if !can_run() {
        return;
    }
    // It counts losses: a router descheduled by another test's load on 2 cores overflows its
    // ring (CI lost 259 of 20,000 at 20 kp/s beside the killed-router test).
    let _alone = heavy();
    let lab = Lab::up("gs", &["--routers", "1"]);
    let mut common = gen_command(&lab, "afpacket");
    common.extend(["--table", "data/routeviews-2014-05-13.ipv4.ipasn.gz"].map(String::from));
    // A real table without relocation is refused: frames go to reserved space only.
    let o = vrouter(&common);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside 240.0.0.0/4"));
    // The sink starts after the refusal, so that its window holds the whole run even on a
    // slow, busy machine (the generator loads and relocates the full table first).
    let sink = start_sink(&lab, "afpacket");
    let mut args = common;
    args.push("--relocate".into());
    let (g, s) = gen_into_sink(&args, sink, 5);
    assert!(s["latency_ns"]["p50"].as_u64().unwrap() > 0);
    // The router accounts for every frame the generator sent: received or dropped by its
    // receive ring (plus the hosts' own ARP/ND frames).
    let sock = format!("/run/vrouter-lab/{}/r1.sock", lab.name);
    let stats = vrouter(&["ctl", "--socket", &sock, "stats", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let p0 = &j["routers"][0]["ports"][0];
    let seen = p0["rx_packets"].as_u64().unwrap() + p0["rx_dropped"].as_u64().unwrap();
    let sent = g["sent"].as_u64().unwrap();
    assert!(seen >= sent && seen <= sent + 50, "{p0} vs {sent} sent");
}

#[test]
fn gen_and_sink_measure_ipv6_through_a_vrouter() {
    if !can_run() {
        return;
    }
    let _alone = heavy();
    let lab = Lab::up("g6", &["--routers", "1"]);
    // IPv6 frames come from RFC 5180 space and go to 3fff::/20 only.
    let with = |extra: &[&str]| -> Vec<String> {
        let mut args = gen_base(&lab);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    refused(
        &with(&["--src-ip6", "2001:db8::1"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "not in 2001:2::/48",
    );
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("v6.txt");
    std::fs::write(&table, "2001:db8::/32\t0\n").unwrap();
    let t = table.to_str().unwrap();
    refused(
        &with(&["--src-ip6", "2001:2::1", "--table", t])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "outside 3fff::/20",
    );
    let sink = start_sink(&lab, "afpacket");
    let args = with(&["--src-ip6", "2001:2::1", "--table", t, "--relocate"]);
    let (_, s) = gen_into_sink(&args, sink, 6);
    // Every frame counted is an 82-byte IPv6 frame (78 without FCS).
    assert_eq!(
        s["bytes"].as_u64(),
        Some(78 * s["received"].as_u64().unwrap()),
        "{s}"
    );
}

#[test]
fn gen_and_sink_on_af_xdp_sockets_with_imix() {
    if !can_run() {
        return;
    }
    let _alone = heavy();
    let lab = Lab::up("gx", &["--routers", "1"]);
    // The router learns the sink's MAC now: once the AF_XDP sink holds the interface, the sink
    // namespace's kernel no longer sees (or answers) anything on it.
    ping(&lab, false, "240.0.0.1");
    let sink = start_sink(&lab, "afxdp");
    // A second AF_XDP user of the same interface is refused, saying why.
    let sink_ns = lab.ns("sink");
    refused(
        &[
            "sink",
            "--netns",
            &sink_ns,
            "--iface",
            "e1r",
            "--io",
            "afxdp",
            "--duration",
            "1",
        ],
        "is already attached",
    );
    let mut args = gen_command(&lab, "afxdp");
    args.extend(
        [
            "--frame",
            "imix",
            "--rate",
            "20000",
            "--count",
            "12000",
            "--duration",
            "2",
            "--flow",
            "7",
            "--json",
        ]
        .map(String::from),
    );
    let o = vrouter(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(g["offered"], 12_000, "{g}");
    assert_eq!(g["frame_bytes"], "imix", "{g}");
    let s = sink_report(sink);
    let f = &s["flows"][0];
    assert_eq!(f["flow"], 7, "{s}");
    let received = f["received"].as_u64().unwrap();
    assert!(
        received >= 11_900 && received <= g["sent"].as_u64().unwrap(),
        "{s}"
    );
    assert_eq!(f["duplicates"], 0, "{s}");
    // The simple IMIX: 7 x 60, 4 x 590, 1 x 1514 bytes (without FCS) in every 12 frames.
    let mean = s["bytes"].as_f64().unwrap() / s["received"].as_f64().unwrap();
    let want = (7.0 * 60.0 + 4.0 * 590.0 + 1514.0) / 12.0;
    assert!(
        (mean - want).abs() < 0.02 * want,
        "mean {mean} bytes, want {want}: {s}"
    );
    // Sockets that leave take their XDP program with them (libxdp leaves it behind where there
    // is no bpffs), so the interfaces are free for the next AF_XDP user: a second run works.
    for (node, dev) in [("gen", "e0l"), ("sink", "e1r")] {
        let o = Command::new("ip")
            .args(["-n", &lab.ns(node), "link", "show", dev])
            .output()
            .unwrap();
        let link = String::from_utf8_lossy(&o.stdout);
        assert!(!link.contains("prog/xdp"), "{node}: {link}");
    }
    let mut again = gen_command(&lab, "afxdp");
    again.extend(["--rate", "1000", "--count", "100", "--json"].map(String::from));
    let o = vrouter(&again);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn tools_through_a_vrouter_on_af_xdp() {
    if !can_run() {
        return;
    }
    // Small rings (the `ring` key of afxdp ports, through `lab up --xdp-ring`): 8 MiB pinned
    // per port instead of 64.
    let lab = Lab::up(
        "xd",
        &["--routers", "1", "--io", "afxdp", "--xdp-ring", "1024"],
    );
    ping(&lab, false, "240.0.0.1");
    ping(&lab, true, "3fff::1");
    assert_eq!(lab.hops(false, "240.1.2.3"), ["198.18.0.2", "240.1.2.3"]);
    let (udp, loss) = iperf(&lab, true);
    let (tcp, _) = iperf(&lab, false);
    eprintln!("vrouter-afxdp: UDP {udp:.0} Mb/s, {loss:.2}% lost; TCP {tcp:.0} Mb/s");
    assert!(udp > 100.0 && loss < 20.0, "UDP {udp} Mb/s, {loss}% lost");
    assert!(tcp > 50.0, "TCP {tcp} Mb/s");
    // The router really runs on AF_XDP (its log says in which XDP mode), with those rings.
    let log = std::fs::read_to_string(format!("/run/vrouter-lab/{}/r1.log", lab.name)).unwrap();
    assert!(
        log.contains("AF_XDP in") && log.contains("rings of 1024"),
        "{log}"
    );
    // A ring size AF_XDP cannot take is refused with the reason, and nothing is left.
    let name = format!("xr{}", std::process::id() % 10_000);
    refused(
        &[
            "lab",
            "up",
            "--name",
            &name,
            "--io",
            "afxdp",
            "--xdp-ring",
            "1000",
        ],
        "must be a power of two",
    );
    assert!(Lab { name }.namespaces().is_empty());
}

#[test]
fn sweep_runs_on_the_lab_backends() {
    if !can_run() {
        return;
    }
    let _alone = heavy();
    // Every experiment on AF_XDP; the routers experiment on AF_PACKET and the kernel, and
    // table sizes on the kernel too (IPv6 through a kernel router right after its lab came up
    // once lost every frame: its link-local addresses were still tentative).
    for (backend, experiments) in [
        ("afxdp", "routers,table-size,fairness,rfc2544,modes"),
        ("afpacket", "routers"),
        ("kernel", "routers,table-size"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("r");
        let o = vrouter(&[
            "sweep",
            "--backend",
            backend,
            "--experiments",
            experiments,
            "--quick",
            "--trials",
            "1",
            "--max-routers",
            "2",
            "--routes",
            "10000",
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{backend}: {stderr}");
        // The sink's ingress drop is in place (else every frame also costs the sink's IP stack,
        // on the sending core, and the figures understate what routers forward).
        assert!(
            !stderr.contains("the sink's IP stack will see every frame"),
            "{backend}: {stderr}"
        );
        let summary = std::fs::read_to_string(out.join("latest").join("summary.csv")).unwrap();
        for e in experiments.split(',') {
            assert!(
                summary.lines().any(|l| l.starts_with(&format!("{e},"))),
                "{backend}: no {e} rows"
            );
        }
        // A point's mean forwarded rate, from summary.csv.
        let forwarded = |experiment: &str, point: &str| -> f64 {
            summary
                .lines()
                .find(|l| {
                    l.starts_with(&format!("{experiment},{point},"))
                        && l.contains(",all,forwarded_kpps,")
                })
                .unwrap_or_else(|| panic!("{backend}: no {point} row:\n{summary}"))
                .split(',')
                .nth(7)
                .unwrap()
                .parse()
                .unwrap()
        };
        // At 2 x 130 kp/s every backend forwards (nearly) all.
        for point in ["1 routers", "2 routers"] {
            let fwd = forwarded("routers", point);
            let n: f64 = point[..1].parse().unwrap();
            assert!(fwd > 100.0 * n, "{backend} {point}: {fwd} kp/s");
        }
        // Table sizes in both families: IPv6 frames (to 3fff::/20) cross the lab too. What is
        // checked is that they cross, not how fast (benchmarks measure that): the kernel row
        // once forwarded 72 of the 130 kp/s offered at 200k IPv6 routes while the shared host
        // was busy, and 130 in the runs before and after.
        if experiments.contains("table-size") {
            for point in ["1M routes", "v6 full 6870 routes", "v6 200k routes"] {
                let fwd = forwarded("table-size", point);
                assert!(fwd > 40.0, "{backend} {point}: {fwd} kp/s");
            }
        }
    }
    // Lab routers are one process each: no shared-core placement there.
    refused(
        &["sweep", "--backend", "afxdp", "--mode", "shared-core"],
        "shared-core",
    );
    // Nothing is left behind (sweep labs are named vrl-sw<pid>; no other test makes them).
    let left = namespaces("vrl-sw");
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn bench_lab_reports_rates_ratios_and_what_limits_each_router() {
    if !can_run() {
        return;
    }
    let _alone = heavy();
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t.routes");
    let o = vrouter(&[
        "routes",
        "synth",
        "--count",
        "10000",
        "-o",
        table.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = vrouter(&[
        "bench",
        "lab",
        "--table",
        table.to_str().unwrap(),
        "--routers",
        "vrouter-afxdp,kernel",
        "--steps",
        "1",
        "--seconds",
        "0.3",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rs = v["results"].as_array().unwrap();
    assert_eq!(rs.len(), 2, "{v}");
    for r in rs {
        let name = r["router"].as_str().unwrap();
        // Both forward a good share of what a single veth generator offers.
        assert!(r["zero_loss_pps"].as_f64().unwrap() > 50_000.0, "{r}");
        assert!(r["max_forwarded_pps"].as_f64().unwrap() > 50_000.0, "{r}");
        assert!(r["sink_drops"].is_u64(), "{r}");
        assert!(r["recheck_loss"].as_f64().unwrap() <= 1.0, "{r}");
        assert!(r["cpu_ns_per_packet"].as_f64().unwrap() > 0.0, "{r}");
        if name.starts_with("vrouter") {
            // Counted by the router itself, through its control socket.
            assert!(r["router_drops"].is_u64(), "{r}");
            assert!(r["ratio_vs_kernel"].as_f64().unwrap() > 0.0, "{r}");
            // Measured again at the kernel's zero-loss rate (the kernel runs first).
            assert!(
                r["cpu_ns_per_packet_at_kernel_rate"].as_f64().unwrap() > 0.0,
                "{r}"
            );
        } else {
            assert!(r["router_drops"].is_null(), "{r}");
            assert!(
                r["limit"].as_str().unwrap().starts_with("generator core"),
                "{r}"
            );
        }
        assert!(!r["limit"].as_str().unwrap().is_empty(), "{r}");
    }
    let left = namespaces("vrl-bl");
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn one_router_spread_over_two_workers() {
    if !can_run() {
        return;
    }
    let _alone = heavy();
    let lab = Lab::up("mq", &["--routers", "1", "--queues", "2"]);
    let gen_ns = lab.ns("gen");
    let o = vrouter(&[
        "gen",
        "--netns",
        &gen_ns,
        "--iface",
        "e0l",
        "--dst-mac",
        "02:76:72:00:00:02",
        "--src-ip",
        "198.18.0.1",
        "--rate",
        "50000",
        "--count",
        "20000",
        "--duration",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sent = g["sent"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let sock = format!("/run/vrouter-lab/{}/r1.sock", lab.name);
    let stats = vrouter(&["ctl", "--socket", &sock, "stats", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let r = &j["routers"][0];
    assert_eq!(r["queues"], 2, "{r}");
    // Every generated frame was forwarded (destinations all over 240/4, next hops static).
    let fwd = r["forwarded"].as_u64().unwrap();
    assert!(fwd >= sent, "{fwd} forwarded of {sent}: {r}");
    // Both workers carried a share (the fanout hashes flows over the two sockets).
    let ws = j["workers"].as_array().unwrap();
    assert_eq!(ws.len(), 2, "{ws:?}");
    for w in ws {
        let p = w["packets"].as_u64().unwrap();
        assert!(p > sent / 5, "{w}");
    }
    ping(&lab, false, "240.0.0.1");
}

/// Router `k` (from 1) of a parallel lab: a sink on its outgoing link and a generator on its
/// incoming one, `rate` frames/s for `secs` seconds with flow id `k`, both started now.
fn parallel_load(lab: &Lab, k: usize, rate: u32, secs: f64) -> (Child, Child) {
    let (inl, outl) = (2 * k, 2 * k + 1);
    let sink = spawn_sink(lab, &format!("e{outl}r"), "afpacket", secs + 2.5, 300);
    let gen = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args([
            "gen",
            "--netns",
            &lab.ns("gen"),
            "--iface",
            &format!("e{inl}l"),
        ])
        .args(["--dst-mac", &format!("02:76:72:00:{inl:02x}:02")])
        .args(["--src-ip", &format!("198.18.{inl}.1")])
        .args(["--rate", &rate.to_string(), "--duration", &secs.to_string()])
        .args(["--flow", &k.to_string(), "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    (gen, sink)
}

/// What one router's sink received of its generator's flow: (sent, received, frames of other
/// flows), once both have finished.
fn parallel_result(k: usize, (gen, sink): (Child, Child)) -> (u64, u64, u64) {
    let g: serde_json::Value =
        serde_json::from_slice(&gen.wait_with_output().unwrap().stdout).unwrap();
    let s = sink_report(sink);
    let flows = s["flows"].as_array().cloned().unwrap_or_default();
    let mine = flows.iter().find(|f| f["flow"] == k as u64);
    let others: u64 = flows
        .iter()
        .filter(|f| f["flow"] != k as u64)
        .map(|f| f["received"].as_u64().unwrap())
        .sum();
    (
        g["sent"].as_u64().unwrap(),
        mine.map_or(0, |f| f["received"].as_u64().unwrap()),
        others,
    )
}

/// Four routers side by side on AF_XDP, each with its own traffic: one is killed with SIGKILL
/// mid-run. The other three lose nothing, `lab status` names the dead one, `lab restart` brings
/// it back (its AF_XDP program and sockets reclaimed) and it forwards again without loss; a
/// full-table swap on a live router under load loses and misroutes nothing.
#[test]
fn a_killed_router_leaves_the_others_forwarding_and_restarts() {
    if !can_run() {
        return;
    }
    let _alone = heavy();
    let lab = Lab::up(
        "ft",
        &["--routers", "4", "--topology", "parallel", "--io", "afxdp"],
    );
    // Each router learns its neighbours first (a router that starts cold holds 8 frames per
    // next hop while ARP asks, and drops the rest: not what this test is about).
    let warm: Vec<_> = (1..=4).map(|k| parallel_load(&lab, k, 200, 0.3)).collect();
    for (i, w) in warm.into_iter().enumerate() {
        let (sent, received, _) = parallel_result(i + 1, w);
        eprintln!("r{}: warm-up {received} of {sent}", i + 1);
        assert!(received > 0 && sent > 0, "r{} forwards nothing", i + 1);
    }
    let held_before: Vec<u64> = (1..=4).map(|k| hold_dropped(&lab, k)).collect();
    let loads: Vec<_> = (1..=4)
        .map(|k| parallel_load(&lab, k, 10_000, 3.0))
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let pids = lab_pids(&lab);
    assert_eq!(pids.len(), 4, "{pids:?}");
    assert!(Command::new("kill")
        .args(["-KILL", &pids[1].to_string()])
        .status()
        .unwrap()
        .success());
    // Every generator and sink is waited for before anything is asserted, so that a failure
    // leaves no load running into the next test.
    let results: Vec<(u64, u64, u64)> = loads
        .into_iter()
        .enumerate()
        .map(|(i, load)| parallel_result(i + 1, load))
        .collect();
    for (i, &(sent, received, others)) in results.iter().enumerate() {
        let k = i + 1;
        eprintln!("r{k}: {received} of {sent} received while r2 was killed");
        assert_eq!(others, 0, "r{k}'s sink got other routers' frames");
        if k == 2 {
            // Killed 1.5 s into a 3-s run: half of it, or up to 0.8 s more on a loaded CI
            // machine (76% was seen there), but not the whole run.
            assert!(
                received < sent * 9 / 10,
                "r2 was killed mid-run: {received} of {sent}"
            );
        } else {
            // Zero in a run of its own (docs/results). On a shared 2-core CI machine a
            // router has lost frames only while it asked ARP for its next hop (its hold
            // queue keeps 8), which is not what this test is about: loss beyond those, or
            // beyond 0.1% in all, fails.
            let held = hold_dropped(&lab, k) - held_before[i];
            let sock = format!("/run/vrouter-lab/{}/r{k}.sock", lab.name);
            let stats = text(&vrouter(&["ctl", "--socket", &sock, "stats"]));
            let lost = sent - received.min(sent);
            assert!(
                received <= sent && lost <= held + sent / 1000,
                "r{k} lost {lost} of {sent} frames while r2 died ({held} at ARP):\n{stats}"
            );
        }
    }
    let status = text(&vrouter(&["lab", "status"]));
    let mine = |k: usize| {
        status
            .lines()
            .find(|l| l.starts_with(&format!("lab {}: r{k} ", lab.name)))
            .unwrap_or_else(|| panic!("r{k} missing from lab status:\n{status}"))
            .to_string()
    };
    assert!(mine(2).contains("DEAD"), "{status}");
    for k in [1, 3, 4] {
        assert!(mine(k).contains("running"), "{status}");
    }
    // A running router is not restarted over itself.
    refused(
        &["lab", "restart", "--name", &lab.name, "--router", "1"],
        "is running",
    );
    let o = vrouter(&["lab", "restart", "--name", &lab.name, "--router", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    parallel_result(2, parallel_load(&lab, 2, 200, 0.3));
    let (sent, received, others) = parallel_result(2, parallel_load(&lab, 2, 10_000, 1.0));
    eprintln!("r2 restarted: {received} of {sent} received");
    assert_eq!(others, 0);
    assert!(
        received <= sent && sent - received <= sent / 1000,
        "r2 after its restart: {received} of {sent}"
    );
    // A full table (512k routes, relocated) swapped into r1 while it forwards.
    let table = format!("/run/vrouter-lab/{}/full.txt", lab.name);
    let o = vrouter(&[
        "routes",
        "relocate",
        "data/routeviews-2014-05-13.ipv4.ipasn.gz",
        "--nexthops",
        "1",
        "-o",
        &table,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // The generator draws from all of 240.0.0.0/4: a covering route keeps every destination
    // routed (to the sink, next hop 0) through the swap, the table's 512k routes inside it.
    let mut t = std::fs::read_to_string(&table).unwrap();
    t.push_str("240.0.0.0/4\t0\n");
    std::fs::write(&table, t).unwrap();
    let load = parallel_load(&lab, 1, 10_000, 3.0);
    std::thread::sleep(Duration::from_millis(1000));
    let sock = format!("/run/vrouter-lab/{}/r1.sock", lab.name);
    let o = vrouter(&["ctl", "--socket", &sock, "routes", "load", &table]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("\"routes_v4\":"), "{}", text(&o));
    let (sent, received, others) = parallel_result(1, load);
    eprintln!("r1 across a 512k-route swap: {received} of {sent} received");
    assert_eq!(others, 0);
    assert!(
        received <= sent && sent - received <= sent / 1000,
        "r1 across a full-table swap: {received} of {sent}"
    );
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The PIDs of a lab's routers, router 1 first, as `lab status` prints them.
fn lab_pids(lab: &Lab) -> Vec<u32> {
    let status = text(&vrouter(&["lab", "status"]));
    let prefix = format!("lab {}: r", lab.name);
    status
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.split("(pid ").nth(1)?.split(')').next()?.parse().ok())
        .collect()
}

/// Frames router `k` of a lab dropped while waiting for a neighbour's ARP/ND answer.
fn hold_dropped(lab: &Lab, k: usize) -> u64 {
    let sock = format!("/run/vrouter-lab/{}/r{k}.sock", lab.name);
    let o = vrouter(&["ctl", "--socket", &sock, "stats", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    j["routers"][0]["hold_dropped"].as_u64().unwrap()
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// Soak: a router forwards a steady load while a real update stream (RIPE rrc15, relocated
/// into the lab's space, looped) churns its table through the control socket. Nothing is
/// lost, memory stays flat, and the counters add up. CI runs 30 s at 50 kp/s;
/// `VROUTER_SOAK_SECONDS=600 VROUTER_SOAK_RATE=130000` is the 10-minute run at the paper's rate.
#[test]
fn soak_forwarding_under_route_churn() {
    if !can_run() {
        return;
    }
    let _alone = heavy();
    let env = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (secs, rate) = (
        env("VROUTER_SOAK_SECONDS", 30.0),
        env("VROUTER_SOAK_RATE", 50_000.0),
    );
    let lab = Lab::up("soak", &["--routers", "1", "--io", "afxdp"]);
    let sock = format!("/run/vrouter-lab/{}/r1.sock", lab.name);
    let pid = lab_pids(&lab)[0];
    // Learn the neighbours, then measure.
    parallel_result(0, chain_load(&lab, 200, 0.3));
    let load = chain_load(&lab, rate as u32, secs);
    std::thread::sleep(Duration::from_millis(1000));
    let rss_start = rss_kib(pid);
    let churn = vrouter(&[
        "ctl",
        "--socket",
        &sock,
        "routes",
        "replay",
        "data/ripe-rrc15-updates-2010-02-27-1600.mrt.gz",
        "--relocate",
        "--loop",
        "--rate",
        "2000",
        "--duration",
        &format!("{}", secs - 2.0),
        "--json",
    ]);
    assert!(churn.status.success(), "{}", text(&churn));
    let c: serde_json::Value = serde_json::from_slice(&churn.stdout).unwrap();
    let (sent, received, others) = parallel_result(0, load);
    let rss_end = rss_kib(pid);
    let changes = c["announced"].as_u64().unwrap() + c["withdrawn"].as_u64().unwrap();
    eprintln!(
        "soak {secs} s at {rate} p/s: {received} of {sent} received; churn {c}; \
         RSS {rss_start} -> {rss_end} KiB"
    );
    assert!(changes > 1000, "{c}");
    assert_eq!(others, 0);
    assert!(
        received <= sent && sent - received <= sent / 1000,
        "{received} of {sent} received under churn"
    );
    // Flat: the table's churn reuses its arena; growth beyond 10% (and 16 MiB) is a leak.
    assert!(
        rss_end <= rss_start + (rss_start / 10).max(16 << 10),
        "RSS {rss_start} -> {rss_end} KiB"
    );
    // Counters add up: what the sink got left port 1, what the generator sent reached port 0.
    let j: serde_json::Value =
        serde_json::from_slice(&vrouter(&["ctl", "--socket", &sock, "stats", "--json"]).stdout)
            .unwrap();
    let r = &j["routers"][0];
    let (rx0, tx1) = (
        r["ports"][0]["rx_packets"].as_u64().unwrap(),
        r["ports"][1]["tx_packets"].as_u64().unwrap(),
    );
    assert!(rx0 >= sent && tx1 >= received, "{r}");
    assert!(r["forwarded"].as_u64().unwrap() >= received, "{r}");
}

/// Load through the first router of a chain lab: gen on link 0, sink on link 1, flow 0.
fn chain_load(lab: &Lab, rate: u32, secs: f64) -> (Child, Child) {
    let sink = spawn_sink(lab, "e1r", "afpacket", secs + 2.5, 300);
    let mut args = gen_command(lab, "afpacket");
    args.extend(["--rate", &rate.to_string(), "--duration", &secs.to_string()].map(String::from));
    args.extend(["--flow", "0", "--json"].map(String::from));
    let gen = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(&args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    (gen, sink)
}
