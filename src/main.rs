//! `vrouter`: the command line. Orchestration only; forwarding logic lives in the `fib` and
//! `dataplane` crates.

mod bench;
mod benchlab;
mod config;
mod ctl;
mod gensink;
mod lab;
mod labbed;
mod plot;
mod progress;
mod replay;
mod routes;
mod run;
mod stats;
mod sweep;
mod testbed;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A software-router data plane for virtual routers.
#[derive(Parser)]
#[command(name = "vrouter", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load, inspect, convert and generate route tables.
    #[command(subcommand)]
    Routes(routes::RoutesCmd),
    /// Runs the routers of a configuration file until SIGINT/SIGTERM.
    Run(run::RunArgs),
    /// Talks to a running router: stats, route add/del, routes load, lookup, shutdown.
    Ctl(ctl::CtlArgs),
    /// Runs the forwarding pipeline over a capture and writes what the router sends.
    Replay(replay::ReplayArgs),
    /// The paper's experiments on an external generator and sink: routers, table-size,
    /// fairness, rfc2544, polling modes; CSV, JSON and SVG under results/<timestamp>/.
    Sweep(sweep::SweepArgs),
    /// Paced generator of stamped UDP frames on an interface (AF_PACKET; 240.0.0.0/4 only).
    Gen(gensink::GenArgs),
    /// Counts stamped frames on an interface: per flow received, lost, reordered, duplicated,
    /// one-way latency.
    Sink(gensink::SinkArgs),
    /// Network-namespace test topologies: generator, routers (vrouter or kernel), sink.
    #[command(subcommand)]
    Lab(lab::LabCmd),
    /// Benchmarks (figures quoted in README).
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

/// The real IPv4 table shipped in the repository (RouteViews 2014-05-13, 512,621 prefixes).
pub fn default_table() -> PathBuf {
    data_file("routeviews-2014-05-13.ipv4.ipasn.gz")
}

/// A file under the repository's `data/` folder: next to the working directory if run from a
/// checkout, else where the binary was built from.
pub fn data_file(name: &str) -> PathBuf {
    let local = PathBuf::from("data").join(name);
    if local.exists() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Routes(c) => routes::run(c),
        Command::Bench(c) => bench::run(c),
        Command::Replay(a) => replay::run(a),
        Command::Run(a) => run::run(a),
        Command::Ctl(a) => ctl::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Lab(c) => lab::cmd(c),
        Command::Gen(a) => gensink::gen(&a),
        Command::Sink(a) => gensink::sink(&a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed stdout (`| head`) is not an error worth a message.
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("vrouter: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
