//! `vrouter run` and `vrouter ctl` end to end: a configuration of two routers on memory links
//! (sharing one worker), the control socket, live route changes, a table swap, clean shutdown.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
[[router]]
name = "vr0"
routes = "DATA/routeviews-2014-05-13.ipv4.ipasn.gz"
worker = "shared"
[[router.port]]
backend = "memory"
link = "a"
mac = "02:00:00:00:00:01"
addresses = ["198.18.0.1/24"]
[[router.port]]
backend = "memory"
link = "b"
mac = "02:00:00:00:00:02"
[[router.neighbour]]
nexthop = 0
port = 1
gateway = "198.18.1.2"

[[router]]
name = "vr1"
worker = "shared"
[[router.port]]
backend = "memory"
link = "b"
mac = "02:00:00:00:01:01"
[[router.port]]
backend = "memory"
link = "a"
mac = "02:00:00:00:01:02"
"#;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vrouter")
}

fn ctl(sock: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("ctl")
        .arg("--socket")
        .arg(sock)
        .args(args)
        .output()
        .unwrap()
}

fn ok(sock: &Path, args: &[&str]) -> String {
    let o = ctl(sock, args);
    assert!(
        o.status.success(),
        "ctl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

struct Running(Child, PathBuf);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

/// `config` written to `dir/vr.toml`, its `DATA` standing for the repository's data folder.
fn write_config(dir: &Path, config: &str) -> PathBuf {
    let cfg = dir.join("vr.toml");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    std::fs::write(&cfg, config.replace("DATA", data.to_str().unwrap())).unwrap();
    cfg
}

fn start(dir: &Path, config: &str) -> Running {
    let cfg = write_config(dir, config);
    let sock = dir.join("ctl.sock");
    let child = Command::new(bin())
        .args([
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
            "--duration",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        assert!(Instant::now() < until, "control socket never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    Running(child, sock)
}

#[test]
fn run_serves_the_control_socket_and_stops_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("vrouter-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = start(&dir, CONFIG);
    let sock = r.1.clone();
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let v: serde_json::Value = serde_json::from_str(&ok(&sock, &["stats", "--json"])).unwrap();
    assert_eq!(v["routers"].as_array().unwrap().len(), 2);
    // The table's routes and the connected route of port 0's 198.18.0.1/24.
    assert_eq!(v["routers"][0]["routes_v4"], 512_621 + 1);
    assert_eq!(v["routers"][0]["connected"][0], "198.18.0.0/24 port 0");
    let l = ok(&sock, &["lookup", "198.18.0.77"]);
    assert_eq!(l.trim(), "198.18.0.77\t198.18.0.0/24\tconnected port 0");
    // The live table, dumped as text that loads back: every route, the connected one as a
    // comment.
    let dump = ok(&sock, &["routes", "dump"]);
    let mut lines = dump.lines();
    assert_eq!(lines.next(), Some("# vrouter routes: PREFIX<TAB>NEXTHOP"));
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), 512_621 + 1);
    assert!(body.contains(&"# 198.18.0.0/24 connected port 0"));
    assert!(body
        .iter()
        .filter(|l| !l.starts_with('#'))
        .all(|l| l.contains('\t')));
    // A connected route goes with its port's address: not deleted, not replaced.
    let d = ctl(&sock, &["route", "del", "198.18.0.0/24"]);
    assert!(!d.status.success());
    assert!(String::from_utf8_lossy(&d.stderr).contains("connected route of port 0"));
    assert_eq!(v["routers"][1]["ports"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["workers"].as_array().unwrap().len(),
        1,
        "both routers share one worker"
    );
    // Per worker, live: busy vs idle polls and the cost of a packet (ns, and cycles where the
    // kernel reports the clock).
    let w = &v["workers"][0];
    for k in [
        "busy_polls",
        "idle_polls",
        "sleeps",
        "ns_per_packet",
        "cycles_per_packet",
    ] {
        assert!(w.get(k).is_some(), "no {k}: {w}");
    }
    assert!(ok(&sock, &["stats"]).contains("router vr1:"));

    assert!(ok(&sock, &["lookup", "8.8.8.8"]).starts_with("8.8.8.8\t8.8.8.0/24\t"));
    ok(
        &sock,
        &["--router", "vr1", "route", "add", "198.51.100.0/24", "3"],
    );
    assert_eq!(
        ok(&sock, &["--router", "vr1", "lookup", "198.51.100.7"]),
        "198.51.100.7\t198.51.100.0/24\t3\n"
    );
    ok(
        &sock,
        &["--router", "vr1", "route", "del", "198.51.100.0/24"],
    );
    assert_eq!(
        ok(&sock, &["--router", "vr1", "lookup", "198.51.100.7"]),
        "198.51.100.7\t-\n"
    );
    let e = ctl(
        &sock,
        &["--router", "vr1", "route", "add", "198.51.100.0/24", "99"],
    );
    assert!(String::from_utf8_lossy(&e.stderr).contains("not below nexthops = 16"));
    let e = ctl(&sock, &["--router", "nope", "lookup", "1.1.1.1"]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("no router named `nope`"));

    let rib = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/routeviews-rib-2014-05-23.first1MB.mrt.bz2");
    let e = ctl(
        &sock,
        &["--router", "vr1", "routes", "load", rib.to_str().unwrap()],
    );
    assert!(String::from_utf8_lossy(&e.stderr).contains("--lenient"));
    let out = ok(
        &sock,
        &[
            "--router",
            "vr1",
            "routes",
            "load",
            rib.to_str().unwrap(),
            "--lenient",
        ],
    );
    assert!(out.contains("\"routes_v4\":9072"), "{out}");
    assert!(
        ok(&sock, &["--router", "vr1", "lookup", "1.0.0.7"]).starts_with("1.0.0.7\t1.0.0.0/24\t")
    );

    // A second instance on the same socket is refused.
    let second = Command::new(bin())
        .args([
            "run",
            "--config",
            dir.join("vr.toml").to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
            "--duration",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another vrouter is running"));

    // SIGTERM: clean exit, final stats, socket removed.
    let mut r = r;
    let pid = r.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = r.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < until, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(!sock.exists());
    let mut out = String::new();
    std::io::Read::read_to_string(r.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(out.contains("\"routers\""), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_configs_name_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("vrouter-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("vr.toml");
    std::fs::write(
        &cfg,
        CONFIG.replacen("mac = \"02:00:00:00:00:02\"", "mac = \"02:00:00:00:00\"", 1),
    )
    .unwrap();
    let o = Command::new(bin())
        .args(["run", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("vr.toml:14: mac: `02:00:00:00:00` is not a unicast MAC"),
        "{err}"
    );
    let o = ctl(&dir.join("nothing.sock"), &["stats"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot reach a running vrouter"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_at_the_socket_path_is_never_deleted() {
    let dir = std::env::temp_dir().join(format!("vrouter-sockfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = write_config(dir.as_path(), CONFIG);
    // The router's own config given as the socket path: refused, and the file is kept.
    let o = Command::new(bin())
        .args(["run", "--config", cfg.to_str().unwrap()])
        .args(["--socket", cfg.to_str().unwrap(), "--duration", "1"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("exists and is not a socket"), "{err}");
    assert!(std::fs::read_to_string(&cfg)
        .unwrap()
        .contains("[[router]]"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_or_much_smaller_loads_never_replace_a_live_table() {
    let dir = std::env::temp_dir().join(format!("vrouter-emptyload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = start(&dir, CONFIG);
    let sock = r.1.clone();
    let routes = |router: &str| -> u64 {
        let v: serde_json::Value =
            serde_json::from_str(&ok(&sock, &["--router", router, "stats", "--json"])).unwrap();
        let r = v["routers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == router)
            .unwrap()
            .clone();
        r["routes_v4"].as_u64().unwrap()
    };
    assert_eq!(
        routes("vr0"),
        512_621 + 1,
        "the table and one connected route"
    );
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let e = ctl(&sock, &["routes", "load", empty.to_str().unwrap()]);
    assert!(!e.status.success());
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(
        err.contains("no routes") && err.contains("--allow-empty"),
        "{err}"
    );
    assert_eq!(routes("vr0"), 512_621 + 1, "the live table is kept");
    // A table of one route would drop nearly all of it: refused without --force.
    let one = dir.join("one.txt");
    std::fs::write(&one, "198.51.100.0/24\t1\n").unwrap();
    let e = ctl(&sock, &["routes", "load", one.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && err.contains("--force"), "{err}");
    assert_eq!(routes("vr0"), 512_621 + 1);
    ok(&sock, &["routes", "load", one.to_str().unwrap(), "--force"]);
    assert_eq!(
        routes("vr0"),
        1 + 1,
        "the one route and the connected route"
    );
    ok(
        &sock,
        &["routes", "load", empty.to_str().unwrap(), "--allow-empty"],
    );
    assert_eq!(
        routes("vr0"),
        1,
        "emptied: only the connected route is left"
    );
    // The same file is no table for the offline commands either.
    let o = Command::new(bin())
        .args(["routes", "stats", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no routes"));
    drop(r);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn idle_clients_do_not_hold_up_others_and_ctl_gives_up_on_silence() {
    use std::os::unix::net::{UnixListener, UnixStream};
    let dir = std::env::temp_dir().join(format!("vrouter-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = start(&dir, CONFIG);
    let sock = r.1.clone();
    // Six connections that never send a request. Served one at a time with a 5-s read
    // timeout each, they made a lookup wait 30 s; served side by side it answers at once, and
    // well within ctl's own 4-s limit.
    let idle: Vec<UnixStream> = (0..6)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let out = ok(&sock, &["--timeout", "4", "lookup", "8.8.8.8"]);
    assert!(out.starts_with("8.8.8.8\t8.8.8.0/24\t"), "{out}");
    drop(idle);
    drop(r);
    // A server that accepts and never answers: ctl gives up with a clear message.
    let mute = dir.join("mute.sock");
    let _listener = UnixListener::bind(&mute).unwrap();
    let o = ctl(&mute, &["--timeout", "0.5", "stats"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no answer within 0.5 s"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn out_of_range_numbers_are_refused_and_leave_nothing_behind() {
    let dir = std::env::temp_dir().join(format!("vrouter-numbers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = write_config(dir.as_path(), CONFIG);
    let sock = dir.join("ctl.sock");
    for d in ["-1", "inf", "nan", "1e30", "0"] {
        let o = Command::new(bin())
            .args(["run", "--config", cfg.to_str().unwrap()])
            .args([
                "--socket",
                sock.to_str().unwrap(),
                &format!("--duration={d}"),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("--duration"),
            "{d}: {err}"
        );
        assert!(!err.contains("panicked"), "{d}: {err}");
        assert!(!sock.exists(), "{d}: socket left behind");
    }
    for (args, want) in [
        (
            &["routes", "synth", "--count", "100000000000"][..],
            "--count",
        ),
        (&["ctl", "--timeout=-3", "stats"], "--timeout"),
    ] {
        let o = Command::new(bin()).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(want), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What the control socket used to accept and get wrong (issue 19, item 7): a prefix with
/// host bits silently truncated, removing a route that is not there answered "ok", an unknown
/// router answered with all of them, a wrongly typed field not named.
#[test]
fn ctl_refuses_what_it_would_get_wrong() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    let dir = std::env::temp_dir().join(format!("vrouter-ctlwrong-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = start(&dir, CONFIG);
    let sock = r.1.clone();
    let fails = |args: &[&str], want: &str| {
        let o = ctl(&sock, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success(),
            "ctl {args:?} succeeded: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(err.contains(want), "ctl {args:?}: {err} (want {want})");
    };
    fails(
        &["route", "add", "198.19.0.0/15", "1"],
        "198.19.0.0/15 has bits set past its length /15: did you mean 198.18.0.0/15?",
    );
    fails(
        &["route", "del", "203.0.113.0/24"],
        "203.0.113.0/24 is not in router vr0's table",
    );
    ok(&sock, &["route", "add", "203.0.113.0/24", "1"]);
    ok(&sock, &["route", "del", "203.0.113.0/24"]);
    fails(
        &["route", "del", "203.0.113.0/24"],
        "is not in router vr0's table",
    );
    fails(
        &["--router", "nosuch", "stats"],
        "--router nosuch: no such router (routers: vr0, vr1)",
    );
    fails(
        &["--router", "nosuch", "lookup", "1.1.1.1"],
        "no router named `nosuch` (routers: vr0, vr1)",
    );
    fails(
        &["--router", "vr1", "shutdown"],
        "shutdown stops the whole instance",
    );
    let one: serde_json::Value =
        serde_json::from_str(&ok(&sock, &["--router", "vr1", "stats", "--json"])).unwrap();
    let names: Vec<&str> = one["routers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["vr1"]);
    // Wrongly typed fields on the socket are named, never read as missing or as the default.
    let raw = |line: &str| {
        let mut s = UnixStream::connect(&sock).unwrap();
        writeln!(s, "{line}").unwrap();
        let mut answer = String::new();
        BufReader::new(&s).read_line(&mut answer).unwrap();
        serde_json::from_str::<serde_json::Value>(&answer).unwrap()
    };
    for (line, want) in [
        (
            r#"{"cmd":"route-add","prefix":"198.51.100.0/24","nexthop":-1}"#,
            "field `nexthop`: invalid value: integer `-1`, expected u32",
        ),
        (
            r#"{"cmd":"route-add","router":5,"prefix":"198.51.100.0/24","nexthop":1}"#,
            "field `router`: invalid type: integer `5`, expected a string",
        ),
        (
            r#"{"cmd":"lookup","addr":"1.1.1.1","colour":"red"}"#,
            "field `colour`: unknown field `colour`",
        ),
        (
            r#"{"cmd":"route-add","prefix":"198.51.100.0/24"}"#,
            "missing field `nexthop`",
        ),
        (r#"{"cmd":"route-add""#, "not JSON"),
    ] {
        let a = raw(line);
        assert_eq!(a["ok"], false, "{line}: {a}");
        let err = a["error"].as_str().unwrap();
        assert!(err.contains(want), "{line}: {err} (want {want})");
    }
    // Nothing of it reached the table.
    let out = ok(&sock, &["lookup", "198.51.100.1"]);
    assert!(!out.contains("198.51.100.0/24"), "{out}");
    drop(r);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An update stream replayed into the running router as route churn: its announcements and
/// withdrawals reach the live table, withdrawals of prefixes it does not hold are counted
/// apart, and bad input is refused before anything is sent.
#[test]
fn an_update_stream_churns_the_live_table() {
    let dir = std::env::temp_dir().join(format!("vrouter-churn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = start(&dir, CONFIG);
    let sock = r.1.clone();
    let routes = |sock: &Path| -> u64 {
        let j: serde_json::Value = serde_json::from_str(&ok(sock, &["stats", "--json"])).unwrap();
        j["routers"][0]["routes_v4"].as_u64().unwrap()
    };
    let before = routes(&sock);
    let updates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/ripe-rrc15-updates-2010-02-27-1600.mrt.gz");
    let out = ok(
        &sock,
        &[
            "routes",
            "replay",
            updates.to_str().unwrap(),
            "--rate",
            "2000",
            "--duration",
            "2",
            "--json",
        ],
    );
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    let announced = c["announced"].as_u64().unwrap();
    assert!(announced > 100, "{c}");
    assert!(c["seconds"].as_f64().unwrap() < 4.0, "{c}");
    // Announcements of prefixes the RouteViews table lacked grew it; none shrank it below.
    let after = routes(&sock);
    assert!(after > before, "{before} -> {after} routes after {c}");
    assert!(
        after <= before + announced,
        "{before} -> {after} routes after {c}"
    );
    for (args, want) in [
        (
            vec!["routes", "replay", "/nonexistent.mrt"],
            "/nonexistent.mrt",
        ),
        (
            vec!["routes", "replay", updates.to_str().unwrap(), "--rate", "0"],
            "--rate: 0 must be changes per second",
        ),
    ] {
        let o = ctl(&sock, &args);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    drop(r);
    std::fs::remove_dir_all(&dir).unwrap();
}
