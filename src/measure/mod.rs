//! Measurement from outside the routers, as the paper did: the traffic engine ([`traffic`]:
//! stamps, frame templates, pacer, per-flow sink), the generator loop and its lanes
//! ([`generator`]), the test beds behind one trait ([`bed`]; in process on memory ports,
//! [`memory`], or in a namespace lab, [`labbed`]), the RFC 2544 search ([`search`]), the
//! sweep of the paper's experiments ([`sweep`]), statistics ([`stats`]), plots ([`plot`]),
//! the benchmarks ([`bench`]) and the standalone generator and sink ([`gensink`]). [`open_bed`]
//! is where a router kind gets its bed.

pub mod bed;
pub mod bench;
pub mod generator;
pub mod gensink;
pub mod labbed;
pub mod memory;
pub mod plot;
pub mod search;
pub mod stats;
pub mod sweep;
pub mod traffic;

use anyhow::{anyhow, bail, Result};

use bed::{BedOptions, Dut, RouterSetup, TestBed};

/// A bed for `routers` with `dut` forwarding.
pub fn open_bed(dut: Dut, o: &BedOptions, routers: Vec<RouterSetup>) -> Result<Box<dyn TestBed>> {
    if routers.is_empty() {
        bail!("a test bed needs at least one router");
    }
    match dut {
        Dut::Memory => Ok(Box::new(memory::MemoryBed {
            routers,
            placement: o.placement,
            ring: o.ring,
            sleep: o.sleep,
            dropped: Default::default(),
            generator_cpu: Default::default(),
        })),
        Dut::Afpacket
        | Dut::Afxdp
        | Dut::Dpdk
        | Dut::DpdkXdp
        | Dut::Kernel
        | Dut::Vm
        | Dut::VmKernel
        | Dut::Container => {
            crate::host::need_root().map_err(|e| anyhow!("{}: {e}", dut.label()))?;
            if dut.is_dpdk() && !cfg!(feature = "dpdk") {
                bail!("{}: {}", dut.label(), crate::router::run::NO_DPDK);
            }
            Ok(Box::new(labbed::LabBed::up(dut, o, &routers)?))
        }
    }
}
