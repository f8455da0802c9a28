//! The DPDK backend end to end (a `--features dpdk` build; scripts/test builds it): vrouter
//! processes on DPDK's net_af_packet driver in the namespace lab, each its own EAL; two of
//! them chained, then joined by net_memif between the two processes; ping, traceroute and
//! the generator and sink through them; every mbuf back in its pool after each stop; and the
//! errors of a bad EAL argument or a device DPDK does not have, with nothing left behind.
//!
//! Needs root, iproute2, ping and traceroute. Where they are missing the tests say why; under
//! CI (`CI` set) they fail instead of passing silently.
#![cfg(feature = "dpdk")]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn vrouter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("vrouter runs")
}

fn can_run() -> bool {
    testkit::require(
        "DPDK lab tests",
        true,
        &["ip", "ping", "traceroute"],
        "scripts/setup installs the tools; run as root",
    )
}

/// A lab of DPDK routers, torn down when dropped.
struct Lab(String);

impl Lab {
    fn up(name: &str, routers: usize, io: &str) -> Lab {
        let name = format!("{name}{}", std::process::id() % 10_000);
        let _ = vrouter(&["lab", "down", "--name", &name]);
        let n = routers.to_string();
        let o = vrouter(&["lab", "up", "--name", &name, "--routers", &n, "--io", io]);
        let lab = Lab(name);
        assert!(o.status.success(), "lab up: {}", text(&o));
        lab
    }
    fn dir(&self) -> String {
        format!("/run/vrouter-lab/{}", self.0)
    }
    fn run(&self, node: &str, secs: u32, cmd: &[&str]) -> String {
        let o = testkit::in_netns(&format!("vrl-{}-{node}", self.0), secs, cmd);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    fn ping(&self, dst: &str) -> String {
        let v6 = if dst.contains(':') { "-6" } else { "-4" };
        self.run(
            "gen",
            20,
            &["ping", v6, "-c", "3", "-i", "0.2", "-W", "2", dst],
        )
    }
    fn hops(&self, dst: &str) -> Vec<String> {
        let out = self.run(
            "gen",
            30,
            &["traceroute", "-n", "-q", "1", "-w", "2", "-m", "6", dst],
        );
        out.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect()
    }
    fn stats(&self, k: usize) -> serde_json::Value {
        let sock = format!("{}/r{k}.sock", self.dir());
        let o = vrouter(&["ctl", "--socket", &sock, "stats", "--json"]);
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }
    /// Stops router `k` and checks what its log says of its mbuf pool after the stop: none
    /// out for net_af_packet; for net_af_xdp (`driver_held`) what its driver took; no received
    /// frame still held, and every one received in place.
    /// `forwarded`: the router carried traffic since it started (then some was received).
    fn stop(&self, k: usize, driver_held: bool, forwarded: bool) {
        let line = self.stop_log(k);
        let num = |after: &str| -> u32 {
            let at = line.find(after).unwrap_or_else(|| panic!("{line}")) + after.len();
            line[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{line}"))
        };
        let (out, held) = (num("`: "), num("stop ("));
        // Received frames are mbufs all through the router (no copy): none may be left held.
        assert!(
            line.contains("; 0 received frames still held"),
            "r{k}: {line}"
        );
        // ... and on every driver they were received in place, none copied.
        assert!(line.ends_with(", copied 0"), "r{k}: {line}");
        assert!(!forwarded || num("in place ") > 0, "r{k}: {line}");
        if driver_held {
            // net_af_xdp hands pool mbufs to its sockets' fill and transmit rings and does not
            // take back what is in them when it closes: its count at the stop can exceed the
            // one at the start by what its last burst left there (2 seen), never by more than
            // a burst. (The burst calls themselves keep nothing: net_af_packet ends at 0.)
            assert!(out <= held + 64, "r{k} kept mbufs: {line}");
        } else {
            assert!(out == 0 && held == 0, "r{k}: {line}");
        }
    }

    /// Starts router `k` again from its (edited) config. Its last process logs its pool a
    /// moment before it exits: `lab restart` refuses while it still runs, so ask again.
    fn restart(&self, k: usize) {
        let k = k.to_string();
        for _ in 0..50 {
            let o = vrouter(&["lab", "restart", "--name", &self.0, "--router", &k]);
            if o.status.success() {
                return;
            }
            assert!(text(&o).contains("is running"), "r{k}: {}", text(&o));
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("r{k} did not exit after its shutdown");
    }

    fn stop_log(&self, k: usize) -> String {
        let sock = format!("{}/r{k}.sock", self.dir());
        assert!(vrouter(&["ctl", "--socket", &sock, "shutdown"])
            .status
            .success());
        let log = format!("{}/r{k}.log", self.dir());
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(100));
            let t = std::fs::read_to_string(&log).unwrap_or_default();
            let stops: Vec<&str> = t
                .lines()
                .filter(|l| l.contains("mbufs in use after stop"))
                .collect();
            let restarts = t.matches("--- restarted").count();
            if stops.len() > restarts {
                return stops.last().unwrap().to_string();
            }
        }
        panic!("r{k} did not report its mbuf pool after stopping");
    }
    /// Frames through the chain: 20,000 at 20 kp/s from the generator (on the lab's first
    /// link, or on `memif`); what the sink got.
    fn load(&self, sink_iface: &str, memif: Option<&str>) -> (u64, serde_json::Value) {
        let ns = |n: &str| format!("vrl-{}-{n}", self.0);
        let sink = Command::new(env!("CARGO_BIN_EXE_vrouter"))
            .args(["sink", "--netns", &ns("sink"), "--iface", sink_iface])
            .args(["--duration", "5", "--json"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let gen_ns = ns("gen");
        let at = match memif {
            Some(sock) => vec!["--memif", sock],
            None => vec!["--netns", &gen_ns, "--iface", "e0l"],
        };
        let mut args = vec!["gen"];
        args.extend(at);
        args.extend(["--dst-mac", "02:76:72:00:00:02", "--src-ip", "198.18.0.1"]);
        args.extend(testkit::GEN_RUN);
        let g = vrouter(&args);
        assert!(g.status.success(), "{}", text(&g));
        let g: serde_json::Value = serde_json::from_slice(&g.stdout).unwrap();
        let out = sink.wait_with_output().unwrap();
        (
            g["sent"].as_u64().unwrap(),
            serde_json::from_slice(&out.stdout).unwrap(),
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = vrouter(&["lab", "down", "--name", &self.0]);
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The sink got the generator's frames, rewritten by every router on the way (tcpdump on
/// the sink's link: the last router's MAC as source, TTL 64 less one per router), and each
/// router counted them as forwarded.
fn check_load(lab: &Lab, routers: usize, sink_iface: &str, last_mac: &str, memif: Option<&str>) {
    // Loads take turns: two at once on 2 cores would measure each other.
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = HEAVY.lock().unwrap_or_else(|p| p.into_inner());
    let ns = format!("vrl-{}-sink", lab.0);
    let dump = Command::new("ip")
        .args([
            "netns", "exec", &ns, "timeout", "8", "tcpdump", "-c", "20", "-e", "-n",
        ])
        .args(["-v", "-l", "-i", sink_iface, "udp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (sent, s) = lab.load(sink_iface, memif);
    let frames = String::from_utf8_lossy(&dump.wait_with_output().unwrap().stdout).into_owned();
    let ttl = format!("ttl {}", 64 - routers);
    let heads: Vec<&str> = frames.lines().filter(|l| l.contains(" > ")).collect();
    assert!(heads.len() >= 10, "tcpdump saw too little:\n{frames}");
    for h in heads.iter().filter(|h| h.contains("ethertype IPv4")) {
        assert!(
            h.starts_with(&format!("{last_mac} >")) || h.contains(&format!(" {last_mac} >")),
            "{h}"
        );
        assert!(h.contains(&ttl), "{h} (want {ttl})");
    }
    let got = s["received"].as_u64().unwrap();
    // The first frames may wait for (or be dropped by) neighbour resolution.
    assert!(got >= sent - 100 && got <= sent, "{got} of {sent}: {s}");
    assert_eq!(s["duplicates"], 0, "{s}");
    for k in 1..=routers {
        // (frames held for a neighbour and sent once it answered count as released)
        let r = &lab.stats(k)["routers"][0];
        let out = r["forwarded"].as_u64().unwrap() + r["released"].as_u64().unwrap();
        assert!(out >= got, "r{k}: {r}");
    }
}

#[test]
fn dpdk_routers_forward_answer_and_return_every_mbuf() {
    if !can_run() {
        return;
    }
    let lab = Lab::up("dk", 2, "dpdk");
    // Each router process runs its own EAL, on its own devices.
    for k in 1..=2 {
        let log = std::fs::read_to_string(format!("{}/r{k}.log", lab.dir())).unwrap();
        assert!(
            log.contains("EAL: --no-huge") && log.contains("net_af_packet0,iface="),
            "{log}"
        );
    }
    assert!(lab.ping("240.0.0.1").contains("3 received"));
    assert!(lab.ping("3fff::1").contains("3 received"));
    // TTL expiry answered by each router in turn (ICMP built in an mbuf-backed port's buffer).
    assert_eq!(
        lab.hops("240.1.2.3"),
        ["198.18.0.2", "198.18.1.2", "240.1.2.3"]
    );
    // No route: answered with Destination Unreachable, the request dropped.
    let out = lab.ping("198.18.77.1");
    assert!(out.contains("0 received"), "{out}");
    check_load(&lab, 2, "e2r", "02:76:72:00:02:01", None);
    let r1 = &lab.stats(1)["routers"][0];
    assert!(r1["answered"].as_u64().unwrap() >= 1, "{r1}");
    // After drops, ICMP answers and neighbour holds, every mbuf went back to its pool.
    for k in 1..=2 {
        lab.stop(k, false, true);
    }
    // The EALs left no runtime files behind.
    no_runtime_left();

    // The link between the two processes moves to net_memif (a Unix socket in the lab's
    // folder, not in the abstract namespace, which is per network namespace).
    let sock = format!("{}/r1-r2.memif", lab.dir());
    for (k, from, role) in [
        (1, "iface = \"e1l\"", "server"),
        (2, "iface = \"e1r\"", "client"),
    ] {
        let cf = format!("{}/r{k}.toml", lab.dir());
        let t = std::fs::read_to_string(&cf).unwrap();
        assert!(t.contains(from), "{t}");
        let t = t.replace(
            from,
            &format!("vdev = \"net_memif0,role={role},id=0,socket-abstract=no,socket={sock}\""),
        );
        std::fs::write(&cf, t).unwrap();
        lab.restart(k);
    }
    assert!(lab.ping("240.0.0.1").contains("3 received"));
    assert_eq!(
        lab.hops("240.1.2.3"),
        ["198.18.0.2", "198.18.1.2", "240.1.2.3"]
    );
    check_load(&lab, 2, "e2r", "02:76:72:00:02:01", None);
    let log = std::fs::read_to_string(format!("{}/r2.log", lab.dir())).unwrap();
    assert!(log.contains("DPDK device net_memif0"), "{log}");
    for k in 1..=2 {
        lab.stop(k, false, true);
    }
    assert!(!Path::new(&sock).exists(), "the memif socket is left");
}

#[test]
fn a_router_on_dpdks_af_xdp_driver_forwards() {
    if !can_run() {
        return;
    }
    let lab = Lab::up("dx", 1, "dpdk-xdp");
    let log = std::fs::read_to_string(format!("{}/r1.log", lab.dir())).unwrap();
    assert!(log.contains("DPDK device net_af_xdp0"), "{log}");
    assert!(lab.ping("240.0.0.1").contains("3 received"));
    assert_eq!(lab.hops("240.1.2.3"), ["198.18.0.2", "240.1.2.3"]);
    check_load(&lab, 1, "e1r", "02:76:72:00:01:01", None);
    // net_af_xdp fills its sockets' rings from the pool and keeps those mbufs when it closes.
    lab.stop(1, true, true);
}

/// The generator on net_memif (`vrouter gen --memif`), straight into a DPDK router's port:
/// no kernel interface between them.
#[test]
fn the_generator_feeds_a_router_over_memif() {
    if !can_run() {
        return;
    }
    let lab = Lab::up("dm", 1, "dpdk");
    lab.stop(1, false, false);
    let sock = format!("{}/gen.memif", lab.dir());
    let cf = format!("{}/r1.toml", lab.dir());
    let t = std::fs::read_to_string(&cf).unwrap();
    assert!(t.contains("iface = \"e0r\""), "{t}");
    let t = t.replace(
        "iface = \"e0r\"",
        &format!("vdev = \"net_memif0,role=server,id=0,socket-abstract=no,socket={sock}\""),
    );
    std::fs::write(&cf, t).unwrap();
    lab.restart(1);
    check_load(&lab, 1, "e1r", "02:76:72:00:01:01", Some(&sock));
    lab.stop(1, false, true);
    assert!(!Path::new(&sock).exists(), "the memif socket is left");
    no_runtime_left();
    // No router on the socket: the generator says so instead of sending into nothing.
    let o = vrouter(&[
        "gen",
        "--memif",
        &sock,
        "--dst-mac",
        "02:76:72:00:00:02",
        "--src-ip",
        "198.18.0.1",
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no router listens there"), "{}", text(&o));
    no_runtime_left();
}

/// No EAL runtime folder (`/var/run/dpdk/vrouter-<pid>`) of a vrouter process that has
/// ended (routers of the other test may be running).
fn no_runtime_left() {
    let left: Vec<String> = std::fs::read_dir("/var/run/dpdk")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for n in left {
        if let Some(pid) = n
            .strip_prefix("vrouter-")
            .and_then(|p| p.parse::<u32>().ok())
        {
            assert!(
                Path::new(&format!("/proc/{pid}")).exists(),
                "/var/run/dpdk/{n} left by an ended process"
            );
        }
    }
}

/// `vrouter run` on a config in a temporary folder; its output.
fn run_config(dir: &Path, name: &str, config: &str) -> Output {
    let cf = dir.join(name);
    std::fs::write(&cf, config).unwrap();
    let sock = dir.join(format!("{name}.sock"));
    let cf = cf.to_str().unwrap();
    let sock = sock.to_str().unwrap();
    vrouter(&["run", "--config", cf, "--socket", sock, "--duration", "1"])
}

const NULL_ROUTER: &str = r#"
[[router]]
name = "n"
[[router.port]]
backend = "dpdk"
vdev = "net_null0"
mac = "02:00:00:00:00:01"
addresses = ["198.18.0.1/24"]
"#;

#[test]
fn eal_and_device_errors_are_clear_and_leave_nothing() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A null device: the EAL starts, the router runs a second and stops cleanly.
    let o = run_config(dir.path(), "ok.toml", NULL_ROUTER);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("0 of "), "{}", text(&o));

    // Two processes with the same file prefix run side by side: neither shares its EAL
    // configuration (`--no-shconf`), so there is no lock to collide on.
    let same = format!("[dpdk]\neal = [\"--file-prefix=vrouter-same\"]\n{NULL_ROUTER}");
    let first = {
        let cf = dir.path().join("same1.toml");
        std::fs::write(&cf, &same).unwrap();
        Command::new(env!("CARGO_BIN_EXE_vrouter"))
            .args(["run", "--config", cf.to_str().unwrap(), "--duration", "3"])
            .args(["--socket", dir.path().join("same1.sock").to_str().unwrap()])
            .output()
    };
    let second = std::thread::spawn({
        let dir = dir.path().to_path_buf();
        let same = same.replace("02:00:00:00:00:01", "02:00:00:00:00:02");
        move || {
            std::thread::sleep(Duration::from_millis(800));
            run_config(&dir, "same2.toml", &same)
        }
    });
    let (a, b) = (first.unwrap(), second.join().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}\n{}",
        text(&a),
        text(&b)
    );

    // An EAL argument DPDK does not know.
    let bad = format!("[dpdk]\neal = [\"--no-such-option\"]\n{NULL_ROUTER}");
    let o = run_config(dir.path(), "bad-eal.toml", &bad);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("rte_eal_init") && t.contains("--no-such-option"),
        "{t}"
    );

    // A virtual device whose driver does not exist.
    let bad = NULL_ROUTER.replace("net_null0", "net_nosuchdriver0");
    let o = run_config(dir.path(), "bad-vdev.toml", &bad);
    assert!(!o.status.success());
    assert!(text(&o).contains("rte_eal_init"), "{}", text(&o));

    // A [dpdk] section without dpdk ports, and an argument that is not an option: refused
    // while the file is read, with its line.
    let o = run_config(
        dir.path(),
        "eal-word.toml",
        &format!("[dpdk]\neal = [\"no-dash\"]\n{NULL_ROUTER}"),
    );
    assert!(text(&o).contains("eal-word.toml:2: eal:"), "{}", text(&o));

    // Nothing left: no runtime folders, no sockets besides the ones we made.
    no_runtime_left();
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".toml"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
}
