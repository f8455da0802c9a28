//! `vrouter bench ...`: the benchmarks' subcommands; each is in [`crate::measure::bench`].

use anyhow::Result;
use clap::Subcommand;

use crate::measure::bench::{lab, lpm, pipeline};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// LPM lookups/s of vrouter's FIB vs the treebitmap crate (single and batched; routed and
    /// uniform random destinations; 1k/10k/100k/full tables; IPv4 and IPv6), build/load times,
    /// and route updates/s with concurrent lookups.
    Lpm(lpm::LpmArgs),
    /// Packets/s per core through the forwarding pipeline (no port I/O yet): 64-byte frames to
    /// destinations spread over the table, copied into the burst buffers as a NIC would, then
    /// parsed, validated, looked up, rewritten.
    Pipeline(pipeline::PipelineArgs),
    /// One router on veth in a namespace lab (root): vrouter on AF_XDP and on AF_PACKET vs the
    /// Linux kernel; 64-byte zero-loss rate, CPU per packet and what limits each; full
    /// relocated table.
    Lab(lab::LabBenchArgs),
}

pub fn run(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Lpm(a) => lpm::run(a),
        BenchCmd::Pipeline(a) => pipeline::run(&a),
        BenchCmd::Lab(a) => lab::run(&a),
    }
}
