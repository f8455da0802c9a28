//! `vrouter replay`: flags and dispatch; the replay is [`crate::router::replay`].

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::routes::LoadArgs;
use crate::router::replay::{self, ReplayOptions};

#[derive(Args)]
pub struct ReplayArgs {
    /// Input capture (pcap or pcapng, Ethernet). Frames arrive on port 0.
    input: PathBuf,
    /// Route table (default: the configuration's, else the shipped RouteViews IPv4 table).
    #[arg(long)]
    table: Option<PathBuf>,
    /// Router configuration (its first router is replayed); default: the documented lab router.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output capture (pcapng, one interface per port) of every frame the router sends.
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    load: LoadArgs,
    /// Print JSON: frames_in, forwarded, answered, dropped (reason -> count), icmp_errors.
    #[arg(long)]
    json: bool,
}

pub fn run(a: ReplayArgs) -> Result<()> {
    replay::run(ReplayOptions {
        input: a.input,
        table: a.table,
        config: a.config,
        output: a.output,
        load: a.load.spec(),
        json: a.json,
    })
}
