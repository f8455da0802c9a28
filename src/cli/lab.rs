//! `vrouter lab ...`: flags and dispatch; the labs are [`crate::lab`].

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;

use crate::dut::Dut;
use crate::lab::{self, LabSpec, PortIo, RouterKind, Topology};

#[derive(Subcommand)]
pub enum LabCmd {
    /// Builds a lab: generator, N routers in a chain, sink.
    Up(UpArgs),
    /// Stops a lab's routers and deletes its namespaces.
    Down(NameArg),
    /// Removes every lab (namespaces named vrl-*, their processes, their state).
    Clean,
    /// Lists labs, their namespaces and router processes (running or dead).
    Status,
    /// Starts a lab's router again from its saved configuration after its process died
    /// (same namespace, ports, table and control socket); a running router is left alone.
    Restart(RestartArgs),
}

#[derive(clap::Args, Debug)]
pub struct RestartArgs {
    #[arg(long, default_value = "lab")]
    pub name: String,
    /// The router to restart: 1 for r1, ...
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16))]
    pub router: usize,
}

#[derive(clap::Args, Debug, Clone)]
pub struct UpArgs {
    /// Lab name (namespaces are vrl-<name>-gen, -r1.., -sink).
    #[arg(long, default_value = "lab")]
    pub name: String,
    /// Routers in the chain.
    #[arg(long, default_value_t = 1)]
    pub routers: usize,
    /// Route table, relocated into 240.0.0.0/4 and 3fff::/20 before loading (default: only the
    /// two covering routes).
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// Skip malformed records of the table (counted) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// What forwards in the router namespaces.
    #[arg(long, value_enum, default_value_t = RouterKind::Vrouter)]
    pub router: RouterKind,
    /// vrouter's polling mode (busy, adaptive, interrupt).
    #[arg(long, default_value = "adaptive")]
    pub mode: String,
    /// Queues per vrouter: the router spreads over this many workers (AF_PACKET fanout).
    #[arg(long, default_value_t = 1)]
    pub queues: usize,
    /// Pin each vrouter's worker to this core.
    #[arg(long)]
    pub core: Option<usize>,
    /// vrouter's packet I/O on the veths.
    #[arg(long, value_enum, default_value_t = PortIo::Afpacket)]
    pub io: PortIo,
    /// With `--io afxdp`: descriptors per AF_XDP ring (the ports' `ring`; default 16384).
    #[arg(long)]
    pub xdp_ring: Option<u32>,
    /// `chain`: gen - r1 - ... - rN - sink; `parallel`: N routers side by side, each on its own
    /// pair of links from the generator and to the sink (router k on links 2k and 2k+1).
    #[arg(long, value_enum, default_value_t = Topology::Chain)]
    pub topology: Topology,
}

#[derive(clap::Args, Debug)]
pub struct NameArg {
    #[arg(long, default_value = "lab")]
    pub name: String,
}

impl UpArgs {
    fn spec(&self) -> Result<LabSpec> {
        let dut = match (self.router, self.io) {
            (RouterKind::Kernel, _) => Dut::Kernel,
            (RouterKind::Container, _) => Dut::Container,
            (RouterKind::Vrouter, PortIo::Afpacket) => Dut::Afpacket,
            (RouterKind::Vrouter, PortIo::Afxdp) => Dut::Afxdp,
            (RouterKind::Vrouter, PortIo::Dpdk) => Dut::Dpdk,
            (RouterKind::Vrouter, PortIo::DpdkXdp) => Dut::DpdkXdp,
        };
        if dut.is_dpdk() && !cfg!(feature = "dpdk") {
            bail!("--io {}: {}", self.io.name(), crate::router::run::NO_DPDK);
        }
        Ok(LabSpec {
            name: self.name.clone(),
            routers: self.routers,
            table: self.table.clone(),
            lenient: self.lenient,
            dut,
            mode: self.mode.parse().map_err(|e| anyhow!("--mode: {e}"))?,
            queues: self.queues,
            core: self.core,
            xdp_ring: self.xdp_ring,
            topology: self.topology,
            guest: crate::vm::GuestSpec::new(),
        })
    }
}

pub fn cmd(c: LabCmd) -> Result<()> {
    match c {
        LabCmd::Up(a) => lab::up(&a.spec()?).map(|_| ()),
        LabCmd::Down(n) => lab::down(&n.name),
        LabCmd::Clean => lab::clean(),
        LabCmd::Status => lab::status(),
        LabCmd::Restart(a) => {
            let pid = lab::restart(&a.name, a.router)?;
            println!("lab {}: r{} running again (pid {pid})", a.name, a.router);
            Ok(())
        }
    }
}
