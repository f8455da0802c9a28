//! One router per VM: the guest image (built by `deploy/qemu/build-image`), the guests' own
//! configuration ([`guest_env`], [`config_disk`], the appended initramfs of [`cpio`]) and QEMU
//! ([`qemu`]). The lab places guests: `vrouter vm up` is a lab whose router namespaces run a
//! QEMU guest each instead of a vrouter process, its NICs on taps bridged to the lab's veths
//! inside that namespace (see `lab::plan`), so the generator, sink and measurement are the
//! lab's, outside the guests, on the host's clock.
//!
//! The image (`target/guest/` by default): `vmlinuz`, `initrd.img` (busybox, vrouter, the
//! drivers, `/init`), `disk.raw` (the same, bootable from a FAT16 partition with syslinux) and
//! `manifest.json`. A guest finds its configuration in `/guest` (appended to the initramfs) or
//! on a FAT config disk: `guest.env` (which router, NICs by MAC, the kernel router's
//! addresses), `vr.toml` and `routes.txt` (vrouter), `kernel.batch` (`ip -batch` routes).

pub mod cpio;
pub mod qemu;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub use qemu::{Accel, Boot, NicModel};

/// The packet I/O of vrouter inside a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestIo {
    /// AF_PACKET on the guest's NICs.
    Afpacket,
    /// AF_XDP on the guest's NICs (native on virtio-net with enough queues, else generic).
    Afxdp,
    /// DPDK's virtio (or vmxnet3) driver on the guest's NICs, bound to uio_pci_generic, on
    /// hugepages (an image built from a `--features dpdk` vrouter; at least 512 MiB).
    Dpdk,
}

impl GuestIo {
    pub fn backend(self) -> &'static str {
        match self {
            GuestIo::Afpacket => "afpacket",
            GuestIo::Afxdp => "afxdp",
            GuestIo::Dpdk => "dpdk",
        }
    }
}

/// Guest memory a DPDK guest needs: 128 MiB of hugepages besides the kernel, the initramfs
/// and the router's table.
pub const DPDK_GUEST_MIB: u32 = 512;

/// How a lab's guests are built and booted.
#[derive(Clone, Debug)]
pub struct GuestSpec {
    pub accel: Accel,
    pub nic: NicModel,
    pub boot: Boot,
    pub io: GuestIo,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// The image folder (vmlinuz, initrd.img, disk.raw, manifest.json).
    pub image: PathBuf,
    /// The disk booted with [`Boot::Disk`] (default: the image's `disk.raw`; a converted VMDK
    /// works too).
    pub disk: Option<PathBuf>,
    /// Longest wait for every guest to say ready.
    pub ready_timeout: Duration,
}

impl GuestSpec {
    /// TCG-friendly defaults: auto accelerator, virtio-net, direct kernel boot, AF_PACKET,
    /// 256 MiB, the default image, 180 s to get ready.
    pub fn new() -> Self {
        GuestSpec {
            accel: Accel::Auto,
            nic: NicModel::Virtio,
            boot: Boot::Kernel,
            io: GuestIo::Afpacket,
            memory_mib: 256,
            image: default_image(),
            disk: None,
            ready_timeout: Duration::from_secs(180),
        }
    }

    /// The disk a disk-booted guest boots.
    pub fn disk_path(&self) -> PathBuf {
        self.disk
            .clone()
            .unwrap_or_else(|| self.image.join("disk.raw"))
    }
}

impl Default for GuestSpec {
    fn default() -> Self {
        Self::new()
    }
}

/// The flags that say how guests boot, shared by `vm up`, `sweep` and `bench lab`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Guests (vm, vm-kernel)")]
pub struct GuestArgs {
    /// QEMU's accelerator: kvm, tcg, or auto (KVM if it boots a guest here, else TCG).
    #[arg(long, value_enum, default_value_t = Accel::Auto)]
    pub accel: Accel,
    /// The guests' NIC model.
    #[arg(long, value_enum, default_value_t = NicModel::Virtio)]
    pub nic: NicModel,
    /// kernel: direct boot of the image's kernel, the configuration appended to its
    /// initramfs; disk: BIOS boot of the image's disk (or --disk), the configuration on a FAT
    /// config disk.
    #[arg(long, value_enum, default_value_t = Boot::Kernel)]
    pub boot: Boot,
    /// The disk to boot with --boot disk (default: the image's disk.raw; a VMDK works).
    #[arg(long)]
    pub disk: Option<PathBuf>,
    /// vrouter's packet I/O inside the guest.
    #[arg(long, value_enum, default_value_t = GuestIo::Afpacket)]
    pub guest_io: GuestIo,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 256)]
    pub memory: u32,
    /// The guest image folder (default: $VROUTER_GUEST_IMAGE or target/guest;
    /// deploy/qemu/build-image builds it).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Seconds to wait for every guest to be ready.
    #[arg(long, default_value_t = 180)]
    pub ready_timeout: u64,
}

impl GuestArgs {
    /// The flags, checked.
    pub fn spec(&self) -> Result<GuestSpec> {
        if !(5..=3600).contains(&self.ready_timeout) {
            bail!("--ready-timeout: {} s must be 5..=3600", self.ready_timeout);
        }
        if !(128..=65_536).contains(&self.memory) {
            bail!("--memory: {} MiB must be 128..=65536", self.memory);
        }
        if self.disk.is_some() && self.boot != Boot::Disk {
            bail!("--disk needs --boot disk");
        }
        if self.guest_io == GuestIo::Dpdk && self.memory < DPDK_GUEST_MIB {
            bail!(
                "--guest-io dpdk: the guest needs --memory {DPDK_GUEST_MIB} or more (128 MiB of \
                 it are hugepages for DPDK), not {}",
                self.memory
            );
        }
        Ok(GuestSpec {
            accel: self.accel,
            nic: self.nic,
            boot: self.boot,
            io: self.guest_io,
            memory_mib: self.memory,
            image: self.image.clone().unwrap_or_else(default_image),
            disk: self.disk.clone(),
            ready_timeout: Duration::from_secs(self.ready_timeout),
        })
    }
}

/// `$VROUTER_GUEST_IMAGE`, else `target/guest` of the checkout the command runs in (or was
/// built from).
pub fn default_image() -> PathBuf {
    if let Some(p) = std::env::var_os("VROUTER_GUEST_IMAGE") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("target/guest");
    if local.join("manifest.json").exists() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/guest")
}

/// What `build-image` recorded.
#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    pub kernel: String,
    pub vrouter_sha256: String,
    #[serde(default)]
    pub disk: bool,
}

/// Checks that `spec`'s image has what its boot needs; warns when the image's vrouter is not
/// the binary running now (rebuild the image to put a changed vrouter in the guests).
pub fn check_image(spec: &GuestSpec) -> Result<Manifest> {
    let dir = &spec.image;
    let m = dir.join("manifest.json");
    let text = std::fs::read_to_string(&m).with_context(|| {
        format!(
            "no guest image in {} (build it: deploy/qemu/build-image --out {})",
            dir.display(),
            dir.display()
        )
    })?;
    let manifest: Manifest =
        serde_json::from_str(&text).with_context(|| format!("{}: unreadable", m.display()))?;
    let need: Vec<PathBuf> = match spec.boot {
        Boot::Kernel => vec![dir.join("vmlinuz"), dir.join("initrd.img")],
        Boot::Disk => vec![spec.disk_path()],
    };
    for f in need {
        if !f.is_file() {
            bail!(
                "{} is missing (deploy/qemu/build-image{} builds it)",
                f.display(),
                if spec.disk.is_some() {
                    "; deploy/vmware/make-vmware converts the disk"
                } else {
                    ""
                }
            );
        }
    }
    if let Some(own) = own_sha256() {
        if own != manifest.vrouter_sha256 {
            tracing::warn!(
                "vm: the guest image's vrouter is not this binary (rebuild the image with deploy/qemu/build-image to put this one in the guests)"
            );
        }
    }
    Ok(manifest)
}

fn own_sha256() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new("sha256sum").arg(exe).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.split_whitespace().next()?.to_string())
}

/// Which router a guest runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestRouter {
    Vrouter,
    Kernel,
}

/// A guest's `guest.env`: the router, its name, each port's MAC and (kernel router) addresses.
pub fn guest_env(
    router: GuestRouter,
    name: &str,
    macs: &[String],
    addresses: &[Vec<String>],
) -> String {
    let mut s = String::from("# written by vrouter (see deploy/qemu/README.md)\n");
    let _ = writeln!(
        s,
        "ROUTER={}",
        match router {
            GuestRouter::Vrouter => "vrouter",
            GuestRouter::Kernel => "kernel",
        }
    );
    let _ = writeln!(s, "NAME={name}");
    for (i, m) in macs.iter().enumerate() {
        let _ = writeln!(s, "PORT{i}_MAC={m}");
    }
    for (i, a) in addresses.iter().enumerate() {
        let _ = writeln!(s, "PORT{i}_ADDR=\"{}\"", a.join(" "));
    }
    s
}

/// A FAT configuration disk holding `files` under `vrouter/` (what a guest booted from its
/// disk reads; deploy/vmware makes the same for VMware): `mkfs.vfat` and `mcopy` (dosfstools,
/// mtools), no root, no mount. `work` is a folder for the files on their way in.
pub fn config_disk(out: &Path, work: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    std::fs::create_dir_all(work)?;
    let bytes: usize = files.iter().map(|(_, d)| d.len()).sum();
    let kib = ((bytes * 2 / 1024) + 2048).next_multiple_of(1024);
    let _ = std::fs::remove_file(out);
    run_tool(
        "mkfs.vfat",
        &[
            "-C",
            "-n",
            "VRCONFIG",
            &out.to_string_lossy(),
            &kib.to_string(),
        ],
        "dosfstools",
    )?;
    let img = out.to_string_lossy().to_string();
    run_tool("mmd", &["-i", &img, "::/vrouter"], "mtools")?;
    for (name, data) in files {
        let f = work.join(name);
        std::fs::write(&f, data)?;
        run_tool(
            "mcopy",
            &["-i", &img, &f.to_string_lossy(), "::/vrouter/"],
            "mtools",
        )?;
    }
    Ok(())
}

fn run_tool(cmd: &str, args: &[&str], package: &str) -> Result<()> {
    crate::host::run_command(
        Command::new(cmd).args(args).env("MTOOLS_SKIP_CHECK", "1"),
        &format!("apt-get install {package}"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_env_names_the_router_its_nics_and_addresses() {
        let e = guest_env(
            GuestRouter::Kernel,
            "r2",
            &["02:76:72:00:04:02".into(), "02:76:72:00:05:01".into()],
            &[
                vec!["198.18.4.2/24".into(), "2001:2:0:4::2/64".into()],
                vec!["198.18.5.1/24".into()],
            ],
        );
        assert!(e.contains("\nROUTER=kernel\n"));
        assert!(e.contains("\nNAME=r2\n"));
        assert!(e.contains("\nPORT0_MAC=02:76:72:00:04:02\n"));
        assert!(e.contains("\nPORT1_MAC=02:76:72:00:05:01\n"));
        assert!(e.contains("\nPORT0_ADDR=\"198.18.4.2/24 2001:2:0:4::2/64\"\n"));
        let v = guest_env(
            GuestRouter::Vrouter,
            "r1",
            &["02:00:00:00:00:01".into()],
            &[],
        );
        assert!(v.contains("ROUTER=vrouter") && !v.contains("ADDR"));
    }
}
