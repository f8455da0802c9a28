//! One router per VM, end to end: the guest image is built from Debian packages, guests boot
//! under QEMU (TCG where KVM does not work, as on CI's host) inside lab namespaces, and
//! ordinary tools and vrouter's own generator talk through them: vrouter and the kernel
//! router in guests, two guests at once, the VMware disk with vmxnet3 NICs, the DPDK router
//! on the guest's virtio NICs, the Xen domain files, the container path, a guest that never
//! comes up, and a short sweep through guests.
//!
//! Needs root, qemu-system-x86_64 (`scripts/setup` installs it) and apt (the image's packages
//! are downloaded by `deploy/qemu/build-image`). Where they are missing the tests say why;
//! under CI they fail instead of passing silently. Every lab is torn down by a guard, also
//! when a test fails; every tool runs bounded in packets and seconds.
//!
//! Longer than 700 lines: every guest scenario (each router kind, NIC model, boot path, DPDK,
//! deployment and failure) shares the one image built per run and the guards at the top.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn vrouter<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(args)
        .current_dir(repo())
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

/// Whether guests can run here; under CI a missing prerequisite is a failure.
fn can_run() -> bool {
    testkit::require(
        "guest tests",
        true,
        &[
            "ip",
            "ping",
            "traceroute",
            "qemu-system-x86_64",
            "apt-get",
            "dpkg-deb",
        ],
        "scripts/setup installs qemu-system-x86; run as root",
    )
}

/// The guest image, built once per test run from this build's vrouter (in its own folder,
/// so a developer's target/guest is left alone).
fn image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let out = repo().join("target/guest-test");
        let o = Command::new(repo().join("deploy/qemu/build-image"))
            .arg("--out")
            .arg(&out)
            .arg("--vrouter")
            .arg(env!("CARGO_BIN_EXE_vrouter"))
            .output()
            .expect("build-image runs");
        assert!(o.status.success(), "build-image failed:\n{}", text(&o));
        out
    })
}

/// A vm (a lab of guests) that is torn down when dropped.
struct Vm {
    name: String,
}

impl Vm {
    fn up(name: &str, extra: &[&str]) -> Vm {
        let name = format!("{name}{}", std::process::id() % 10_000);
        let _ = vrouter(&["vm", "down", "--name", &name]);
        let img = image().to_string_lossy().to_string();
        let mut args = vec!["vm", "up", "--name", &name, "--image", &img];
        args.extend_from_slice(extra);
        let o = vrouter(&args);
        let vm = Vm { name };
        assert!(o.status.success(), "vm up {extra:?}:\n{}", text(&o));
        vm
    }

    fn ns(&self, node: &str) -> String {
        format!("vrl-{}-{node}", self.name)
    }

    /// Runs a command in a namespace, bounded by `secs`.
    fn ok(&self, node: &str, secs: u32, cmd: &[&str]) -> String {
        let o = testkit::in_netns(&self.ns(node), secs, cmd);
        assert!(o.status.success(), "{cmd:?} in {node}:\n{}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    fn ping(&self, dst: &str) {
        let v6 = dst.contains(':');
        let mut cmd = vec!["ping", "-c", "3", "-i", "0.3", "-W", "3"];
        if v6 {
            cmd.push("-6");
        }
        cmd.push(dst);
        let out = self.ok("gen", 30, &cmd);
        assert!(out.contains("3 received"), "{out}");
    }

    /// Hop addresses of a traceroute, in order.
    fn hops(&self, dst: &str) -> Vec<String> {
        let mut cmd = vec!["traceroute", "-n", "-q", "1", "-w", "3", "-m", "5"];
        if dst.contains(':') {
            cmd.push("-6");
        }
        cmd.push(dst);
        self.ok("gen", 60, &cmd)
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect()
    }

    fn socket(&self, k: usize) -> String {
        format!("/run/vrouter-lab/{}/r{k}.sock", self.name)
    }

    fn status(&self) -> serde_json::Value {
        let o = vrouter(&["vm", "status", "--name", &self.name, "--json"]);
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let o = vrouter(&["vm", "down", "--name", &self.name]);
        if !o.status.success() {
            eprintln!("vm down {}: {}", self.name, text(&o));
        }
    }
}

/// `vrouter vm config --out DIR EXTRA...` into a new folder of `work`; returns the folder.
fn vm_config(work: &Path, extra: &[&str]) -> PathBuf {
    let cfg = work.join(format!("cfg{}", extra.len()));
    let mut args = vec!["vm", "config", "--out", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = vrouter(&args);
    assert!(o.status.success(), "vm config {extra:?}: {}", text(&o));
    cfg
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

/// QEMU processes named after lab `name`'s guests.
fn qemus(name: &str) -> Vec<String> {
    let out = Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("qemu-system") && l.contains(&format!("/vrouter-lab/{name}/")))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_guest_boots_and_forwards_ping_and_traceroute_for_vrouter_and_the_kernel() {
    if !can_run() {
        return;
    }
    let vm = Vm::up("vg", &["--routers", "1"]);
    let st = vm.status();
    assert_eq!(st["guests"][0]["state"], "ready", "{st}");
    assert_eq!(st["router"], "vm");
    vm.ping("240.0.0.1");
    vm.ping("3fff::1");
    // The guest's vrouter answers TTL expiry with its own address, then the sink answers.
    assert_eq!(vm.hops("240.1.2.3"), ["198.18.2.2", "240.1.2.3"]);
    assert_eq!(vm.hops("3fff::7"), ["2001:2:0:2::2", "2001:2:0:3::2"]);
    // The host reaches the guest's router through the virtio-serial relay.
    let o = vrouter(&["ctl", "--socket", &vm.socket(1), "stats", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &j["routers"][0];
    assert_eq!(r["name"], "r1");
    assert!(r["forwarded"].as_u64().unwrap() >= 12, "{r}");
    assert!(r["answered"].as_u64().unwrap() >= 1, "{r}");
    let o = vrouter(&["ctl", "--socket", &vm.socket(1), "lookup", "240.9.9.9"]);
    assert!(text(&o).contains("240.0.0.0/4"), "{}", text(&o));
    drop(vm);

    // vrouter on AF_XDP in the guest: its ports hold the NICs promiscuous, or QEMU's virtio-net
    // filter would pass only broadcasts to a router addressed by its own MAC.
    let vm = Vm::up("va", &["--routers", "1", "--guest-io", "afxdp"]);
    let console =
        std::fs::read_to_string(format!("/run/vrouter-lab/{}/r1.console", vm.name)).unwrap();
    assert!(console.contains("AF_XDP in"), "{console}");
    vm.ping("240.0.0.1");
    assert_eq!(vm.hops("240.1.2.3"), ["198.18.2.2", "240.1.2.3"]);
    // A flood fills the guest NIC's transmit queue; the router keeps forwarding after it (it
    // once left its AF_XDP TX ring full and never kicked it again).
    let bin = env!("CARGO_BIN_EXE_vrouter");
    vm.ok(
        "gen",
        30,
        &[
            bin,
            "gen",
            "--iface",
            "e2l",
            "--dst-mac",
            "02:76:72:00:02:02",
            "--src-ip",
            "198.18.2.1",
            "--rate",
            "300000",
            "--duration",
            "1",
        ],
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    vm.ping("240.0.0.1");
    drop(vm);

    // The kernel router in the same image, with a real table relocated into lab space.
    let vm = Vm::up(
        "vk",
        &[
            "--routers",
            "1",
            "--router",
            "kernel",
            "--table",
            "data/routeviews-2014-05-13.ipv4.ipasn.gz",
        ],
    );
    let st = vm.status();
    assert_eq!(st["router"], "vm-kernel");
    let console = st["guests"][0]["console"].as_str().unwrap();
    assert!(console.contains("ready router=kernel"), "{console}");
    vm.ping("240.0.0.1");
    vm.ping("3fff::1");
    // 8.8.8.0/24 relocated: 240.128.128.128/28.
    vm.ping("240.128.128.129");
    assert_eq!(vm.hops("240.1.2.3"), ["198.18.2.2", "240.1.2.3"]);
    // No vrouter in the guest: no control socket answers.
    assert!(
        !vrouter(&["ctl", "--timeout", "2", "--socket", &vm.socket(1), "stats"])
            .status
            .success()
    );
}

/// The DPDK router in a guest: its virtio-net NICs leave the kernel for uio_pci_generic, the
/// EAL takes them by PCI address on hugepages, and DPDK's virtio driver carries the traffic;
/// then the same with vmxnet3 NICs and DPDK's vmxnet3 driver.
#[cfg(feature = "dpdk")]
#[test]
fn a_guest_runs_the_dpdk_router_on_its_virtio_and_vmxnet3_nics() {
    if !can_run() {
        return;
    }
    let vm = Vm::up(
        "vd",
        &["--routers", "1", "--guest-io", "dpdk", "--memory", "512"],
    );
    let console =
        std::fs::read_to_string(format!("/run/vrouter-lab/{}/r1.console", vm.name)).unwrap();
    assert!(
        console.contains("handed to DPDK") && console.contains("DPDK device 0000:"),
        "{console}"
    );
    vm.ping("240.0.0.1");
    vm.ping("3fff::1");
    assert_eq!(vm.hops("240.1.2.3"), ["198.18.2.2", "240.1.2.3"]);
    let o = vrouter(&["ctl", "--socket", &vm.socket(1), "stats", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["routers"][0]["forwarded"].as_u64().unwrap() >= 9, "{j}");
    drop(vm);
    // The same on vmxnet3 NICs (VMware's), whose PCI function is the net device's own parent.
    let vm = Vm::up(
        "vx",
        &[
            "--routers",
            "1",
            "--guest-io",
            "dpdk",
            "--memory",
            "512",
            "--nic",
            "vmxnet3",
        ],
    );
    let console =
        std::fs::read_to_string(format!("/run/vrouter-lab/{}/r1.console", vm.name)).unwrap();
    assert!(console.contains("DPDK device 0000:"), "{console}");
    vm.ping("240.0.0.1");
    assert_eq!(vm.hops("240.1.2.3"), ["198.18.2.2", "240.1.2.3"]);
    drop(vm);
    // Too little memory for its hugepages is refused before anything starts.
    let name = format!("vs{}", std::process::id() % 10_000);
    let o = vrouter(&["vm", "up", "--name", &name, "--guest-io", "dpdk"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--memory 512 or more"), "{}", text(&o));
    assert!(namespaces(&format!("vrl-{name}-")).is_empty());
}

#[test]
fn two_guests_at_once_each_forward_their_own_traffic() {
    if !can_run() {
        return;
    }
    let vm = Vm::up("v2", &["--routers", "2"]);
    let st = vm.status();
    for g in st["guests"].as_array().unwrap() {
        assert_eq!(g["state"], "ready", "{st}");
        assert_eq!(g["running"], true, "{st}");
    }
    // Router 1 carries lab space; a host route sends one destination through router 2 (its
    // links are 4 and 5; the sink answers link 4 back through it).
    vm.ping("240.0.0.1");
    vm.ok(
        "gen",
        5,
        &["ip", "route", "add", "240.2.0.1/32", "via", "198.18.4.2"],
    );
    vm.ping("240.2.0.1");
    assert_eq!(vm.hops("240.2.0.1"), ["198.18.4.2", "240.2.0.1"]);
    // Each guest counted its own frames.
    for k in [1, 2] {
        let o = vrouter(&["ctl", "--socket", &vm.socket(k), "stats", "--json"]);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // Three echo requests and their replies (the first request may be released from
        // the neighbour hold instead).
        assert!(
            j["routers"][0]["forwarded"].as_u64().unwrap() >= 5,
            "r{k}: {j}"
        );
    }
    // vrouter's own generator and sink through guest 2: 10,000 stamped frames, all arrive.
    let sink = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(["sink", "--netns", &vm.ns("sink"), "--iface", "e5r"])
        .args(["--duration", "8", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let g = vrouter(&[
        "gen",
        "--netns",
        &vm.ns("gen"),
        "--iface",
        "e4l",
        "--src-mac",
        "02:76:72:00:04:01",
        "--dst-mac",
        "02:76:72:00:04:02",
        "--src-ip",
        "198.18.4.1",
        "--rate",
        "5000",
        "--count",
        "10000",
        "--duration",
        "3",
        "--json",
    ]);
    assert!(g.status.success(), "{}", text(&g));
    let s: serde_json::Value =
        serde_json::from_slice(&sink.wait_with_output().unwrap().stdout).unwrap();
    let received = s["flows"][0]["received"].as_u64().unwrap_or(0);
    assert!(received >= 9_990, "through guest 2: {s}");
    assert_eq!(s["flows"][0]["duplicates"], 0);
}

#[test]
fn the_vmware_disk_boots_with_vmxnet3_nics_and_forwards() {
    if !can_run() {
        return;
    }
    let img = image();
    let work = tempfile::tempdir().unwrap();
    let cfg = vm_config(work.path(), &["--routers", "1"]);
    for f in ["guest.env", "vr.toml", "routes.txt"] {
        assert!(cfg.join("r1").join(f).is_file(), "{f}");
    }
    // Existing files are never overwritten.
    let again = vrouter(&["vm", "config", "--out", cfg.to_str().unwrap()]);
    assert!(!again.status.success() && text(&again).contains("not overwritten"));

    let out = work.path().join("vmware");
    let o = Command::new(repo().join("deploy/vmware/make-vmware"))
        .arg(cfg.join("r1"))
        .arg("--image")
        .arg(img)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "make-vmware:\n{}", text(&o));
    let ovf = std::fs::read_to_string(out.join("ovf/vrouter.ovf")).unwrap();
    for want in [
        "<rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>",
        "vmdk.html#streamOptimized",
        "02:76:72:00:02:02",
        "<rasd:VirtualQuantity>1</rasd:VirtualQuantity>",
    ] {
        assert!(ovf.contains(want), "OVF lacks {want}");
    }
    // The OVF's file sizes are the files'.
    for (i, f) in ["vrouter-disk1.vmdk", "vrouter-disk2.vmdk"]
        .iter()
        .enumerate()
    {
        let size = std::fs::metadata(out.join("ovf").join(f)).unwrap().len();
        let tag = format!(
            "ovf:href=\"{f}\" ovf:id=\"file{}\" ovf:size=\"{size}\"",
            i + 1
        );
        assert!(ovf.contains(&tag), "OVF: {tag}");
    }
    let vmx = std::fs::read_to_string(out.join("vmx/vrouter.vmx")).unwrap();
    assert!(vmx.contains("ethernet1.virtualDev = \"vmxnet3\""), "{vmx}");
    let mf = std::fs::read_to_string(out.join("ovf/vrouter.mf")).unwrap();
    assert_eq!(mf.lines().count(), 3, "{mf}");

    // Boot the OVF's disk through the BIOS, vmxnet3 NICs, config on a FAT disk.
    let disk = out.join("ovf/vrouter-disk1.vmdk");
    let vm = Vm::up(
        "vw",
        &[
            "--boot",
            "disk",
            "--disk",
            disk.to_str().unwrap(),
            "--nic",
            "vmxnet3",
        ],
    );
    let console = std::fs::read_to_string(format!("/run/vrouter-lab/{}/r1.console", vm.name))
        .unwrap_or_default();
    assert!(
        console.contains("SYSLINUX"),
        "not booted by syslinux:\n{console}"
    );
    assert!(
        console.contains("configuration from the config disk"),
        "{console}"
    );
    vm.ping("240.0.0.1");
    assert_eq!(vm.hops("240.1.2.3"), ["198.18.2.2", "240.1.2.3"]);
}

/// The files of a gzip'd newc archive stream (several members, as an initrd appended to):
/// name and contents.
fn initrd_files(path: &Path) -> Vec<(String, Vec<u8>)> {
    use std::io::Read as _;
    let raw = std::fs::read(path).unwrap();
    let mut all = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut all)
        .unwrap();
    let mut out = Vec::new();
    let mut b = &all[..];
    while b.len() >= 110 && &b[..6] == b"070701" {
        let field = |i: usize| {
            usize::from_str_radix(std::str::from_utf8(&b[6 + 8 * i..14 + 8 * i]).unwrap(), 16)
                .unwrap()
        };
        let (size, namesize) = (field(6), field(11));
        let name = String::from_utf8_lossy(&b[110..110 + namesize - 1]).to_string();
        let data_at = (110 + namesize).div_ceil(4) * 4;
        let next = (data_at + size).div_ceil(4) * 4;
        if name != "TRAILER!!!" {
            out.push((name, b[data_at..data_at + size].to_vec()));
        }
        b = &b[next.min(b.len())..];
        // Archives may be padded between members.
        while b.first() == Some(&0) {
            b = &b[1..];
        }
    }
    out
}

#[test]
fn xen_and_openvz_deployments_are_built_from_a_guest_configuration() {
    if !can_run() {
        return;
    }
    let img = image();
    let work = tempfile::tempdir().unwrap();
    let cfg = vm_config(work.path(), &["--routers", "2", "--router", "kernel"]);
    let out = work.path().join("xen");
    let o = Command::new(repo().join("deploy/xen/create-routers"))
        .arg("2")
        .arg(&cfg)
        .arg("--image")
        .arg(img)
        .arg("--out")
        .arg(work.path().join("xen-all"))
        .arg("--dry-run")
        .output()
        .unwrap();
    // The dry run writes both domains and prints their commands; make-domain's own options
    // are checked directly below.
    assert!(o.status.success(), "{}", text(&o));
    for k in 1..=2 {
        let want = format!(
            "xl create {}",
            work.path()
                .join(format!("xen-all/vrouter-r{k}.cfg"))
                .display()
        );
        assert!(text(&o).contains(&want), "{want} missing:\n{}", text(&o));
    }
    let o = Command::new(repo().join("deploy/xen/make-domain"))
        .args(["vrouter-r1"])
        .arg(cfg.join("r1"))
        .arg("--image")
        .arg(img)
        .arg("--out")
        .arg(&out)
        .args(["--cpus", "1", "--bridges", "xenbr1,xenbr2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "make-domain:\n{}", text(&o));
    let xl = std::fs::read_to_string(out.join("vrouter-r1.cfg")).unwrap();
    for want in [
        "type = \"pvh\"",
        "vcpus = 1",
        "cpus = \"1\"",
        "'mac=02:76:72:00:02:02,bridge=xenbr1'",
        "'mac=02:76:72:00:03:01,bridge=xenbr2'",
        "console=hvc0",
    ] {
        assert!(xl.contains(want), "xl config lacks {want}:\n{xl}");
    }
    // The domain's ramdisk is the shared initramfs with the router's files appended.
    let files = initrd_files(&out.join("vrouter-r1.initrd"));
    let get = |n: &str| files.iter().find(|(f, _)| f == n).map(|(_, d)| d.clone());
    assert!(get("init").is_some() && get("usr/bin/vrouter").is_some());
    assert_eq!(
        get("guest/guest.env").unwrap(),
        std::fs::read(cfg.join("r1/guest.env")).unwrap()
    );
    assert_eq!(
        get("guest/kernel.batch").unwrap(),
        std::fs::read(cfg.join("r1/kernel.batch")).unwrap()
    );

    // OpenVZ: the commands, with veth NICs (not venet) carrying the configuration's MACs.
    let vcfg = vm_config(work.path(), &[]);
    let o = Command::new(repo().join("deploy/openvz/create-container"))
        .arg("101")
        .arg(vcfg.join("r1"))
        .args(["--vrouter", env!("CARGO_BIN_EXE_vrouter"), "--dry-run"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let cmds = text(&o);
    assert!(
        cmds.contains("--netif_add eth0,02:76:72:00:02:02,veth101.0,,vzbr1"),
        "{cmds}"
    );
    assert!(!cmds.contains("venet"), "{cmds}");
}

#[test]
fn a_container_router_forwards_in_its_own_namespaces() {
    if !can_run() {
        return;
    }
    let name = format!("ct{}", std::process::id() % 10_000);
    let _ = vrouter(&["lab", "down", "--name", &name]);
    let o = vrouter(&[
        "lab",
        "up",
        "--name",
        &name,
        "--router",
        "container",
        "--routers",
        "2",
    ]);
    struct Down(String);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = vrouter(&["lab", "down", "--name", &self.0]);
        }
    }
    let _down = Down(name.clone());
    assert!(o.status.success(), "{}", text(&o));
    let gen = format!("vrl-{name}-gen");
    let run = |cmd: &[&str]| {
        let o = testkit::in_netns(&gen, 30, cmd);
        assert!(o.status.success(), "{cmd:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert!(run(&["ping", "-c", "3", "-i", "0.2", "240.0.0.1"]).contains("3 received"));
    let hops: Vec<String> = run(&["traceroute", "-n", "-q", "1", "-w", "2", "240.1.2.3"])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    assert_eq!(hops, ["198.18.0.2", "198.18.1.2", "240.1.2.3"]);
    // Each router is PID 1 of its own PID namespace, with its own mount namespace.
    let pids = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "pids", &format!("vrl-{name}-r1")])
            .output()
            .unwrap()
            .stdout,
    )
    .to_string();
    let me = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let inside: Vec<&str> = pids
        .split_whitespace()
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|ns| ns != me)
                && std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "vrouter")
        })
        .collect();
    assert_eq!(
        inside.len(),
        1,
        "one vrouter in its own PID namespace: {pids}"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", inside[0])).unwrap();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap_or_default();
    assert!(
        nspid.trim_end().ends_with(" 1") || nspid.ends_with("\t1"),
        "{nspid}"
    );
}

#[test]
fn a_guest_that_never_comes_up_fails_with_its_console_and_leaves_nothing() {
    if !can_run() {
        return;
    }
    let img = image().to_string_lossy().to_string();
    let work = tempfile::tempdir().unwrap();
    // A disk with no bootloader: the BIOS finds nothing to boot.
    let blank = work.path().join("blank.raw");
    std::fs::write(&blank, vec![0u8; 1 << 20]).unwrap();
    let name = format!("vf{}", std::process::id() % 10_000);
    let o = vrouter(&[
        "vm",
        "up",
        "--name",
        &name,
        "--image",
        &img,
        "--boot",
        "disk",
        "--disk",
        blank.to_str().unwrap(),
        "--ready-timeout",
        "15",
    ]);
    let err = text(&o);
    assert!(
        !o.status.success(),
        "a guest without a bootable disk came up"
    );
    assert!(err.contains("guest r1"), "{err}");
    assert!(
        err.contains("console") && err.to_lowercase().contains("boot"),
        "the console's last lines: {err}"
    );
    assert!(err.contains("what was built is removed"), "{err}");
    assert!(namespaces(&format!("vrl-{name}-")).is_empty());
    assert!(qemus(&name).is_empty(), "{:?}", qemus(&name));
    assert!(!Path::new(&format!("/run/vrouter-lab/{name}")).exists());
    // SIGINT while guests boot: the command stops, says so, and removes what it built.
    let child = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args([
            "vm",
            "up",
            "--name",
            &name,
            "--routers",
            "2",
            "--image",
            &img,
        ])
        .current_dir(repo())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until its guests exist (their consoles appear), then interrupt.
    let consoles = format!("/run/vrouter-lab/{name}/r2.console");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !Path::new(&consoles).exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(Path::new(&consoles).exists(), "the guests never started");
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success(), "an interrupted vm up exits non-zero");
    assert!(text(&o).contains("interrupted"), "{}", text(&o));
    assert!(namespaces(&format!("vrl-{name}-")).is_empty());
    assert!(qemus(&name).is_empty(), "{:?}", qemus(&name));
    assert!(!Path::new(&format!("/run/vrouter-lab/{name}")).exists());
    // Bad flags say which and why, before anything is built.
    let o = vrouter(&[
        "vm", "up", "--name", &name, "--memory", "64", "--image", &img,
    ]);
    assert!(text(&o).contains("--memory"), "{}", text(&o));
    let o = vrouter(&["vm", "up", "--name", &name, "--disk", "x.vmdk"]);
    assert!(text(&o).contains("--boot disk"), "{}", text(&o));
    let o = vrouter(&["vm", "up", "--name", &name, "--image", "/nonexistent"]);
    assert!(text(&o).contains("build-image"), "{}", text(&o));
    assert!(namespaces(&format!("vrl-{name}-")).is_empty());
}

#[test]
fn a_quick_sweep_runs_through_guests() {
    if !can_run() {
        return;
    }
    let img = image().to_string_lossy().to_string();
    let out = tempfile::tempdir().unwrap();
    let o = vrouter(&[
        "sweep",
        "--backend",
        "vm",
        "--quick",
        "--experiments",
        "routers",
        "--max-routers",
        "2",
        "--image",
        &img,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "sweep --backend vm:\n{}", text(&o));
    let dir = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && !p.ends_with("latest"))
        .unwrap();
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(j["params"]["backend"], "vm");
    let mut seen = std::collections::BTreeMap::new();
    for v in j["trials"].as_array().unwrap() {
        if v["router"].is_null() {
            seen.insert(
                (
                    v["point"].as_str().unwrap().to_string(),
                    v["metric"].as_str().unwrap().to_string(),
                    v["trial"].as_u64().unwrap(),
                ),
                v["value"].as_f64().unwrap(),
            );
        }
    }
    // Rows for vrouter in each polling mode and the kernel, each with its measured total and
    // both readings at 1 and 2 guests.
    for row in ["vrouter adaptive", "vrouter busy", "kernel"] {
        let r1 = seen[&(
            format!("{row}: 1 router, zero-loss rate"),
            "zero_loss_kpps".to_string(),
            0,
        )];
        assert!(r1 > 1.0, "{row}: one guest carried {r1} kp/s");
        for reading in ["per router", "total"] {
            for n in [1, 2] {
                let point = format!("{row}: {reading}, {n} routers");
                for t in 0..2 {
                    let get = |m: &str| {
                        *seen
                            .get(&(point.clone(), m.to_string(), t))
                            .unwrap_or_else(|| panic!("{point} {m} trial {t}"))
                    };
                    // Nothing is duplicated, so nothing is forwarded beyond what was offered.
                    assert!(
                        get("forwarded_kpps") <= get("offered_kpps") * 1.0001,
                        "{point}"
                    );
                    assert!(get("received") > 0.0, "{point}: nothing arrived");
                    assert!(get("generator_cpu_pct") >= 0.0);
                    assert!(get("host_drops") >= 0.0);
                }
            }
        }
    }
    let svg = std::fs::read_to_string(dir.join("routers.svg")).unwrap();
    assert!(svg.contains("vrouter busy") && svg.contains("kernel"));
}

/// The hypervisor-overhead suite in a guest booted here, timed from outside: every task's
/// rounds paired on the host's clock, the guest's own claim beside it, the network task's
/// datagrams all echoed.
#[test]
fn hvbench_times_the_suite_in_a_guest_from_outside() {
    if !can_run() {
        return;
    }
    let img = image().to_string_lossy().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = vrouter(&[
        "hvbench",
        "compare",
        "--quick",
        "--json",
        "--platforms",
        "qemu",
        "--image",
        &img,
        "--dir",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "hvbench compare in a guest:\n{}",
        text(&o)
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &doc["platforms"][0];
    let label = p["label"].as_str().unwrap();
    assert!(label == "qemu-tcg" || label == "qemu-kvm", "{label}");
    let rep = &p["report"];
    assert_eq!(rep["platform"], label);
    assert_eq!(rep["lost"].as_array().unwrap().len(), 0, "{rep:#}");
    for t in rep["tasks"].as_array().unwrap() {
        assert_eq!(t["outside"]["n"], 3, "{t}");
        assert_eq!(t["failed_rounds"], 0, "{t}");
        assert!(t["guest"]["mean"].as_f64().unwrap() > 0.0, "{t}");
    }
    for r in rep["rounds"].as_array().unwrap() {
        if r["task"] == "net" {
            assert_eq!(r["seen"], 2850, "{r}");
            assert!(r["echoed"].as_u64().unwrap() > 2800, "{r}");
        }
    }
    assert!(out.join("hvbench.svg").exists());
    // The scratch disk and the work folder are gone; only the results stay.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["out"]);
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let dir_s = dir.path().to_string_lossy().to_string();
    assert!(
        !String::from_utf8_lossy(&ps.stdout)
            .lines()
            .any(|l| l.contains("qemu-system") && l.contains(&dir_s)),
        "the guest's QEMU is still running"
    );
}
