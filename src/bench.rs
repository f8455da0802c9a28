//! `vrouter bench ...`
use anyhow::Result;
use clap::Subcommand;
#[derive(Subcommand)]
pub enum BenchCmd {
    /// LPM lookups/s.
    Lpm,
}
pub fn run(_c: BenchCmd) -> Result<()> { Ok(()) }
