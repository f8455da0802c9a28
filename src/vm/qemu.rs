//! Guests under QEMU: the command line of one guest ([`argv`], pure and unit-tested), the
//! accelerator choice, and the wait for a guest's readiness on its serial console.
//!
//! A guest gets 1 vCPU, its memory, two or more NICs on tap devices that the lab created inside
//! the guest's router namespace (`-netdev tap,ifname=...,script=no`: QEMU opens them, it
//! creates and configures nothing), no user-mode network, no display, no default devices, its
//! serial console in a file, and, for a vrouter guest, a virtio-serial port named
//! `vrouter.ctl` whose host end is a Unix socket: the host's `vrouter ctl --socket` reaches the
//! guest's router through it (the guest's `vrouter ctl relay`).
//!
//! KVM: `auto` boots with KVM where `/dev/kvm` opens, and falls back to TCG when a KVM guest
//! does not reach its first console line in time: on a paravirtual or nested KVM (this
//! project's CI host: `kvm_pvm`) QEMU's KVM accelerator initialises and a stock kernel then
//! hangs early, so QEMU's own `accel=kvm:tcg` fallback never triggers.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// QEMU's accelerator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Accel {
    /// Hardware virtualisation (`-accel kvm -cpu host`).
    Kvm,
    /// QEMU's binary translator (`-accel tcg -cpu max`): slow, works everywhere.
    Tcg,
    /// KVM if it boots a guest here, else TCG (says which and why).
    Auto,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
            Accel::Auto => "auto",
        }
    }
}

/// The NIC model guests see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NicModel {
    /// virtio-net (KVM, Xen HVM with virtio, most clouds).
    Virtio,
    /// VMware's vmxnet3 (what an ESXi guest gets; QEMU emulates it).
    Vmxnet3,
    /// Intel e1000 (every hypervisor's fallback).
    E1000,
}

impl NicModel {
    fn device(self) -> &'static str {
        match self {
            NicModel::Virtio => "virtio-net-pci",
            NicModel::Vmxnet3 => "vmxnet3",
            NicModel::E1000 => "e1000",
        }
    }
}

/// How a guest boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Boot {
    /// Direct kernel boot: the image's kernel and its initramfs with the guest's configuration
    /// appended (as Xen PVH boots it).
    Kernel,
    /// BIOS boot of the image's disk (syslinux), the configuration on a second, FAT, disk (as
    /// VMware or any disk-booting hypervisor boots it).
    Disk,
}

/// One guest, as the lab plans it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guest {
    /// Router name (`r1`): the QEMU process's `-name`.
    pub name: String,
    pub memory_mib: u32,
    /// NICs in port order: tap device (inside the router namespace) and MAC.
    pub nics: Vec<(String, String)>,
    pub nic_model: NicModel,
    pub boot: Boot,
    /// Whether the guest gets the `vrouter.ctl` port (vrouter guests).
    pub control_port: bool,
}

/// Where a guest's files are.
#[derive(Clone, Debug)]
pub struct GuestFiles {
    /// The image's kernel (direct boot).
    pub kernel: PathBuf,
    /// Base initramfs with the guest's configuration appended (direct boot).
    pub initrd: PathBuf,
    /// The image's disk (disk boot; opened read-only with `snapshot=on`).
    pub disk: PathBuf,
    /// The guest's FAT configuration disk (disk boot).
    pub config_disk: PathBuf,
    /// Serial console log.
    pub console: PathBuf,
    /// Host end of the `vrouter.ctl` port.
    pub control: PathBuf,
}

/// QEMU's arguments (without the program name) for `g` on `accel` (`Kvm` or `Tcg`).
pub fn argv(g: &Guest, f: &GuestFiles, accel: Accel) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
    let (acc, cpu) = match accel {
        Accel::Kvm => ("kvm", "host"),
        Accel::Tcg | Accel::Auto => ("tcg", "max"),
    };
    push(&["-name", &format!("vrouter-{}", g.name)]);
    push(&["-machine", "pc", "-accel", acc, "-cpu", cpu, "-smp", "1"]);
    push(&["-m", &g.memory_mib.to_string()]);
    push(&["-nodefaults", "-no-user-config", "-display", "none"]);
    push(&["-no-reboot", "-monitor", "none"]);
    push(&["-serial", &format!("file:{}", f.console.display())]);
    match g.boot {
        Boot::Kernel => {
            push(&["-kernel", &f.kernel.to_string_lossy()]);
            push(&["-initrd", &f.initrd.to_string_lossy()]);
            push(&[
                "-append",
                &format!("console=ttyS0 quiet panic=-1 vrouter.name={}", g.name),
            ]);
        }
        Boot::Disk => {
            // Both disks are opened with `snapshot=on`: the guest's writes go to a temporary
            // overlay, so one image serves every guest and stays as built (IDE refuses
            // read-only drives).
            let format = match f.disk.extension().and_then(|e| e.to_str()) {
                Some("vmdk") => "vmdk",
                Some("qcow2") => "qcow2",
                _ => "raw",
            };
            push(&[
                "-drive",
                &format!(
                    "file={},format={format},if=ide,index=0,media=disk,snapshot=on",
                    f.disk.display()
                ),
            ]);
            push(&[
                "-drive",
                &format!(
                    "file={},format=raw,if=ide,index=1,media=disk,snapshot=on",
                    f.config_disk.display()
                ),
            ]);
        }
    }
    for (i, (tap, mac)) in g.nics.iter().enumerate() {
        push(&[
            "-netdev",
            &format!("tap,id=n{i},ifname={tap},script=no,downscript=no"),
        ]);
        push(&[
            "-device",
            // romfile= (empty): no iPXE option ROM, which would only slow the boot.
            &format!("{},netdev=n{i},mac={mac},romfile=", g.nic_model.device()),
        ]);
    }
    if g.control_port {
        push(&["-device", "virtio-serial-pci"]);
        push(&[
            "-chardev",
            &format!(
                "socket,id=ctl,path={},server=on,wait=off",
                f.control.display()
            ),
        ]);
        push(&["-device", "virtserialport,chardev=ctl,name=vrouter.ctl"]);
    }
    a
}

/// What a guest's console says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Console {
    /// Nothing yet from the guest's init.
    Booting,
    /// `vrouter-guest: booting ...` was seen: the kernel runs our init.
    Started,
    /// `vrouter-guest: ready ...`.
    Ready,
    /// `vrouter-guest: failed: why`, or a kernel panic.
    Failed(String),
}

/// Reads the console log: the guest's state so far.
pub fn console_state(text: &str) -> Console {
    let mut st = Console::Booting;
    for l in text.lines() {
        if let Some(why) = l.split("vrouter-guest: failed: ").nth(1) {
            return Console::Failed(why.trim().to_string());
        }
        if l.contains("Kernel panic") {
            return Console::Failed(l.trim().to_string());
        }
        if l.contains("vrouter-guest: ready") {
            st = Console::Ready;
        } else if l.contains("vrouter-guest: booting") && st == Console::Booting {
            st = Console::Started;
        }
    }
    st
}

/// The last `n` lines of a console log, for error messages.
pub fn console_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let tail = &lines[lines.len().saturating_sub(n)..];
    tail.join("\n    ")
}

/// How a wait for guests ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    /// Every guest said ready.
    Ready,
    /// Guest `i` failed (its console said so, or QEMU exited).
    Failed(usize, String),
    /// Guest `i` did not start its init within the start limit (a hung accelerator).
    NoStart(usize),
    /// Guest `i` started but was not ready within the limit.
    Timeout(usize),
    /// `stop()` said to give up.
    Stopped,
}

/// Waits until every guest (QEMU `pids[i]`, console `consoles[i]`) is ready: each must show
/// its first init line within `start` and be ready within `ready` (both from now); `stop`
/// is asked between looks.
pub fn wait_ready(
    pids: &[u32],
    consoles: &[PathBuf],
    start: Duration,
    ready: Duration,
    stop: &dyn Fn() -> bool,
) -> Wait {
    let t0 = Instant::now();
    loop {
        if stop() {
            return Wait::Stopped;
        }
        let mut all = true;
        for (i, (pid, c)) in pids.iter().zip(consoles).enumerate() {
            let text = std::fs::read(c).unwrap_or_default();
            match console_state(&String::from_utf8_lossy(&text)) {
                Console::Ready => continue,
                Console::Failed(why) => return Wait::Failed(i, why),
                st => {
                    all = false;
                    if !crate::host::alive(*pid) {
                        return Wait::Failed(i, "QEMU exited".into());
                    }
                    if st == Console::Booting && t0.elapsed() > start {
                        return Wait::NoStart(i);
                    }
                    if t0.elapsed() > ready {
                        return Wait::Timeout(i);
                    }
                }
            }
        }
        if all {
            return Wait::Ready;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `/dev/kvm` can be opened (KVM is worth trying).
pub fn kvm_present() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Where `auto` remembers, per boot of this host, that KVM did not boot a guest.
fn kvm_verdict_path() -> PathBuf {
    PathBuf::from("/run/vrouter-lab/kvm-hangs")
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Whether an earlier `auto` found, since this host booted, that KVM hangs guests.
pub fn kvm_known_to_hang() -> bool {
    std::fs::read_to_string(kvm_verdict_path()).is_ok_and(|s| s.trim() == boot_id())
}

/// Remembers that KVM hung a guest (until the host reboots).
pub fn remember_kvm_hangs() {
    let p = kvm_verdict_path();
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let _ = std::fs::write(p, boot_id());
}

/// The accelerator to try first for `asked`: `auto` means KVM where it is present and has not
/// hung a guest since the host booted.
pub fn first_choice(asked: Accel) -> Accel {
    match asked {
        Accel::Auto if kvm_present() && !kvm_known_to_hang() => Accel::Kvm,
        Accel::Auto => Accel::Tcg,
        a => a,
    }
}

/// The QEMU binary, or why there is none.
pub fn qemu_binary() -> Result<PathBuf> {
    match crate::host::which("qemu-system-x86_64") {
        Some(p) => Ok(p),
        None => bail!("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(boot: Boot, control: bool) -> (Guest, GuestFiles) {
        let g = Guest {
            name: "r1".into(),
            memory_mib: 256,
            nics: vec![
                ("t0".into(), "02:76:72:00:02:02".into()),
                ("t1".into(), "02:76:72:00:03:01".into()),
            ],
            nic_model: NicModel::Virtio,
            boot,
            control_port: control,
        };
        let d = PathBuf::from("/run/vrouter-lab/x");
        let f = GuestFiles {
            kernel: "/img/vmlinuz".into(),
            initrd: d.join("r1.initrd"),
            disk: "/img/disk.raw".into(),
            config_disk: d.join("r1.config.img"),
            console: d.join("r1.console"),
            control: d.join("r1.sock"),
        };
        (g, f)
    }

    fn has(a: &[String], flag: &str, value: &str) -> bool {
        a.windows(2).any(|w| w[0] == flag && w[1] == value)
    }

    #[test]
    fn a_guest_gets_taps_only_and_no_user_network() {
        let (g, f) = guest(Boot::Kernel, true);
        let a = argv(&g, &f, Accel::Tcg);
        assert!(has(&a, "-accel", "tcg") && has(&a, "-cpu", "max"));
        assert!(has(&a, "-smp", "1") && has(&a, "-m", "256"));
        assert!(a.contains(&"-nodefaults".to_string()));
        assert!(has(
            &a,
            "-netdev",
            "tap,id=n0,ifname=t0,script=no,downscript=no"
        ));
        assert!(has(
            &a,
            "-device",
            "virtio-net-pci,netdev=n1,mac=02:76:72:00:03:01,romfile="
        ));
        // Every network backend is a tap the lab made: no user-mode network, no bridge helper.
        let netdevs: Vec<&String> = a
            .windows(2)
            .filter(|w| w[0] == "-netdev" || w[0] == "-nic" || w[0] == "-net")
            .map(|w| &w[1])
            .collect();
        assert_eq!(netdevs.len(), 2);
        assert!(netdevs
            .iter()
            .all(|n| n.starts_with("tap,") && n.contains("script=no")));
        assert!(has(&a, "-kernel", "/img/vmlinuz"));
        assert!(has(&a, "-initrd", "/run/vrouter-lab/x/r1.initrd"));
        assert!(has(
            &a,
            "-chardev",
            "socket,id=ctl,path=/run/vrouter-lab/x/r1.sock,server=on,wait=off"
        ));
        assert!(has(&a, "-serial", "file:/run/vrouter-lab/x/r1.console"));
        let kvm = argv(&g, &f, Accel::Kvm);
        assert!(has(&kvm, "-accel", "kvm") && has(&kvm, "-cpu", "host"));
    }

    #[test]
    fn a_disk_guest_boots_its_disk_with_a_config_disk_and_vmxnet3() {
        let (mut g, f) = guest(Boot::Disk, false);
        g.nic_model = NicModel::Vmxnet3;
        let a = argv(&g, &f, Accel::Tcg);
        assert!(!a.contains(&"-kernel".to_string()));
        assert!(has(
            &a,
            "-drive",
            "file=/img/disk.raw,format=raw,if=ide,index=0,media=disk,snapshot=on"
        ));
        assert!(a
            .iter()
            .any(|x| x.contains("r1.config.img") && x.contains("snapshot=on")));
        assert!(has(
            &a,
            "-device",
            "vmxnet3,netdev=n0,mac=02:76:72:00:02:02,romfile="
        ));
        assert!(!a.iter().any(|x| x.contains("virtserialport")));
    }

    #[test]
    fn the_console_tells_booting_started_ready_and_failed() {
        assert_eq!(console_state(""), Console::Booting);
        assert_eq!(
            console_state("SeaBIOS\nvrouter-guest: booting 6.1.0, 1 vCPU\n"),
            Console::Started
        );
        assert_eq!(
            console_state("vrouter-guest: booting\nvrouter-guest: ready router=kernel\n"),
            Console::Ready
        );
        assert_eq!(
            console_state("vrouter-guest: booting\nvrouter-guest: failed: vrouter exited\n"),
            Console::Failed("vrouter exited".into())
        );
        assert!(matches!(
            console_state("[ 1.0] Kernel panic - not syncing: VFS"),
            Console::Failed(_)
        ));
    }
}
