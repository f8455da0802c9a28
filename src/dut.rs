//! The router under test: one type for every test bed (`vrouter sweep --backend`, `vrouter
//! bench lab --routers`, `vrouter lab up --router/--io`). A new kind of router (a guest VM, a
//! DPDK process) is one more variant here, one more arm in `measure::open_bed`, and,
//! if it runs in a lab, one more arm in the lab's plan.

use serde::{Deserialize, Serialize};

/// What forwards the test traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dut {
    /// vrouter in this process on memory links (no privileges, no kernel interfaces).
    Memory,
    /// vrouter processes on AF_PACKET in a parallel namespace lab (root).
    #[value(alias = "vrouter-afpacket")]
    Afpacket,
    /// vrouter processes on AF_XDP in the same lab (root).
    #[value(alias = "vrouter-afxdp")]
    Afxdp,
    /// vrouter processes on DPDK's net_af_packet driver on the same veths, each process its
    /// own EAL (root; a build with `--features dpdk`).
    #[value(alias = "vrouter-dpdk")]
    Dpdk,
    /// The same on DPDK's net_af_xdp driver (root; `--features dpdk`).
    #[value(alias = "vrouter-dpdk-xdp")]
    DpdkXdp,
    /// The Linux kernel forwarding in the same lab (root).
    Kernel,
    /// vrouter inside a QEMU guest, one guest per router, its NICs on taps in the lab
    /// (root, qemu-system-x86, the guest image: `deploy/qemu/build-image`).
    #[value(alias = "vm-vrouter")]
    Vm,
    /// Linux forwarding inside the same guest image: the paper's router (Linux in a Xen domU).
    VmKernel,
    /// vrouter inside a container: its own network, PID, mount, UTS and IPC namespaces, on the
    /// lab's veths (OpenVZ-style, with veth rather than venet) (root).
    Container,
}

impl Dut {
    /// The name people read in tables: `vrouter-afxdp`, `linux kernel`, ...
    pub fn label(self) -> &'static str {
        match self {
            Dut::Memory => "vrouter-memory",
            Dut::Afpacket => "vrouter-afpacket",
            Dut::Afxdp => "vrouter-afxdp",
            Dut::Dpdk => "vrouter-dpdk",
            Dut::DpdkXdp => "vrouter-dpdk-xdp",
            Dut::Kernel => "linux kernel",
            Dut::Vm => "vrouter-in-vm",
            Dut::VmKernel => "linux-in-vm",
            Dut::Container => "vrouter-container",
        }
    }

    /// Whether vrouter runs on DPDK ports (a `--features dpdk` build).
    pub fn is_dpdk(self) -> bool {
        matches!(self, Dut::Dpdk | Dut::DpdkXdp)
    }

    /// Whether it runs in a QEMU guest.
    pub fn is_guest(self) -> bool {
        matches!(self, Dut::Vm | Dut::VmKernel)
    }

    /// Whether the Linux kernel forwards (no vrouter control socket to ask for drops).
    pub fn is_kernel(self) -> bool {
        matches!(self, Dut::Kernel | Dut::VmKernel)
    }

    /// Whether it runs in a namespace lab (and so needs root).
    pub fn in_lab(self) -> bool {
        self != Dut::Memory
    }

    /// The vrouter port backend a lab router uses (`None`: not a vrouter lab router).
    pub fn lab_backend(self) -> Option<&'static str> {
        match self {
            Dut::Afpacket => Some("afpacket"),
            Dut::Afxdp => Some("afxdp"),
            Dut::Dpdk | Dut::DpdkXdp => Some("dpdk"),
            Dut::Container => Some("afpacket"),
            Dut::Memory | Dut::Kernel | Dut::Vm | Dut::VmKernel => None,
        }
    }

    /// A short tag for names (lab names are at most 12 characters).
    pub fn tag(self) -> &'static str {
        match self {
            Dut::Memory => "m",
            Dut::Afpacket => "p",
            Dut::Afxdp => "x",
            Dut::Dpdk => "d",
            Dut::DpdkXdp => "y",
            Dut::Kernel => "k",
            Dut::Vm => "v",
            Dut::VmKernel => "w",
            Dut::Container => "c",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn both_spellings_parse_and_serde_keeps_the_short_one() {
        for (s, d) in [
            ("afxdp", Dut::Afxdp),
            ("vrouter-afxdp", Dut::Afxdp),
            ("vrouter-afpacket", Dut::Afpacket),
            ("kernel", Dut::Kernel),
            ("memory", Dut::Memory),
            ("vm", Dut::Vm),
            ("vm-vrouter", Dut::Vm),
            ("vm-kernel", Dut::VmKernel),
            ("container", Dut::Container),
            ("dpdk", Dut::Dpdk),
            ("vrouter-dpdk", Dut::Dpdk),
            ("vrouter-dpdk-xdp", Dut::DpdkXdp),
        ] {
            assert_eq!(Dut::from_str(s, false), Ok(d), "{s}");
        }
        assert_eq!(
            serde_json::json!(Dut::Afpacket),
            serde_json::json!("afpacket")
        );
        assert!(Dut::Kernel.in_lab() && !Dut::Memory.in_lab());
        assert_eq!(Dut::Afxdp.lab_backend(), Some("afxdp"));
        assert_eq!(Dut::Dpdk.lab_backend(), Some("dpdk"));
        assert!(Dut::Vm.is_guest() && Dut::VmKernel.is_guest() && !Dut::Container.is_guest());
        assert!(Dut::VmKernel.is_kernel() && !Dut::Vm.is_kernel());
        assert_eq!(
            serde_json::json!(Dut::VmKernel),
            serde_json::json!("vm-kernel")
        );
    }
}
