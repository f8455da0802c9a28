//! The command line: the clap command tree and dispatch, one file per subcommand. Command
//! results go to stdout; diagnostics go through `tracing` to stderr (`RUST_LOG`).

mod bench;
mod ctl;
mod gensink;
mod hvbench;
mod lab;
pub mod num;
mod replay;
mod routes;
mod run;
mod sweep;
mod vm;

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
    /// One router per QEMU guest (vrouter or Linux inside), in a lab: up, status, console,
    /// down.
    #[command(subcommand)]
    Vm(vm::VmCmd),
    /// Benchmarks, side by side in one run (figures: README and docs/results/).
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// The paper's hypervisor-overhead suite (CPU, memory, disk, network) natively, in a
    /// container and in a guest, timed by marker packets on an outside clock.
    #[command(subcommand)]
    Hvbench(hvbench::HvbenchCmd),
}

/// Parses the command line, runs the command, prints an error the way people read it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = matches!(&cli.command, Command::Run(a) if a.log_format == run::LogFormat::Json);
    init_logging(json);
    let res = match cli.command {
        Command::Routes(c) => routes::run(c),
        Command::Bench(c) => bench::run(c),
        Command::Replay(a) => replay::run(a),
        Command::Run(a) => run::run(a),
        Command::Ctl(a) => ctl::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Lab(c) => lab::cmd(c),
        Command::Vm(c) => vm::cmd(c),
        Command::Gen(a) => gensink::gen(&a),
        Command::Sink(a) => gensink::sink(&a),
        Command::Hvbench(c) => hvbench::run(c),
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

/// Diagnostics to stderr through `tracing`: `RUST_LOG` filters (default `info`); JSON lines
/// for `vrouter run --log-format json`, else plain lines without timestamps.
fn init_logging(json: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let base = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if json {
        base.json().try_init()
    } else {
        base.without_time()
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}
