//! `vrouter routes ...`: flags and dispatch; the tools are in [`crate::routes`].

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use fib::source::PeerChoice;

use crate::routes::{self, Family, LoadSpec, OutFormat};

#[derive(Subcommand)]
pub enum RoutesCmd {
    /// Counts (IPv4, IPv6, per prefix length), load and build time, memory.
    Stats {
        /// Route file (MRT, bgpdump -m text, ipasn/prefix list, ip route text, snapshot;
        /// gzip/bzip2 or plain).
        file: PathBuf,
        #[command(flatten)]
        load: LoadArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Longest-prefix match: `ADDR<TAB>PREFIX<TAB>NEXTHOP`, or `ADDR<TAB>-` with no route.
    Lookup {
        file: PathBuf,
        /// Addresses to look up.
        addrs: Vec<String>,
        /// Also read addresses from standard input, one per line.
        #[arg(long)]
        stdin: bool,
        #[command(flatten)]
        load: LoadArgs,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Writes a table as a binary snapshot or as `PREFIX<TAB>NEXTHOP` text.
    Convert {
        file: PathBuf,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, value_enum, default_value_t = OutFormat::Snapshot)]
        format: OutFormat,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Generates a seeded synthetic BGP-like table.
    Synth {
        /// Number of routes.
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Address family.
        #[arg(long, value_enum, default_value_t = Family::V4)]
        family: Family,
        /// Output file (default: text on standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
        /// Next hops to map routes onto.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=32_767))]
        nexthops: u32,
    },
    /// Moves a table into reserved lab space (IPv4 240.0.0.0/4, IPv6 3fff::/20), keeping its
    /// nesting, for runs whose frames go on kernel interfaces.
    Relocate {
        file: PathBuf,
        /// Output file (default: text on standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Route changes of an update file (MRT BGP4MP or bgpdump text), one per line in file
    /// order: `announce<TAB>PREFIX<TAB>NEXTHOP` or `withdraw<TAB>PREFIX`.
    Events {
        file: PathBuf,
        /// Print the BGP next-hop address instead of the mapped next-hop id.
        #[arg(long)]
        bgp: bool,
        /// Only changes from this peer address.
        #[arg(long)]
        peer: Option<IpAddr>,
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=32_767))]
        nexthops: u32,
        /// Skip malformed records (counted) instead of failing.
        #[arg(long)]
        lenient: bool,
    },
}

/// Options shared by every command that loads a table.
#[derive(Args, Clone)]
pub struct LoadArgs {
    /// Skip malformed records (counted) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// RIB dumps: which peer's route to take per prefix: `best` (shortest AS path, then lowest
    /// peer index), a peer index, or a peer address.
    #[arg(long, default_value = "best")]
    pub peer: PeerChoice,
    /// Number of next hops the router has; routes map onto ids 0..N deterministically.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=32_767))]
    pub nexthops: u32,
    /// Accept a table with no routes (otherwise an error: an empty or cut file).
    #[arg(long)]
    pub allow_empty: bool,
}

impl LoadArgs {
    pub fn spec(&self) -> LoadSpec {
        LoadSpec {
            lenient: self.lenient,
            peer: self.peer.clone(),
            nexthops: self.nexthops,
            allow_empty: self.allow_empty,
        }
    }
}

pub fn run(cmd: RoutesCmd) -> Result<()> {
    match cmd {
        RoutesCmd::Stats { file, load, json } => routes::stats(&file, &load.spec(), json),
        RoutesCmd::Lookup {
            file,
            addrs,
            stdin,
            load,
            json,
        } => routes::lookup(&file, &addrs, stdin, &load.spec(), json),
        RoutesCmd::Convert {
            file,
            output,
            format,
            load,
        } => routes::convert(&file, &output, format, &load.spec()),
        RoutesCmd::Synth {
            count,
            seed,
            family,
            output,
            format,
            nexthops,
        } => routes::synth(count, seed, family, output.as_deref(), format, nexthops),
        RoutesCmd::Relocate {
            file,
            output,
            format,
            load,
        } => routes::relocate(&file, output.as_deref(), format, &load.spec()),
        RoutesCmd::Events {
            file,
            bgp,
            peer,
            nexthops,
            lenient,
        } => routes::events(&file, bgp, peer, nexthops, lenient),
    }
}
