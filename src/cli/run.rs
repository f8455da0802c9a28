//! `vrouter run`: flags and dispatch; building and running routers is [`crate::router::run`].

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::router::client::default_socket;
use crate::router::run::{self, RunOptions};

#[derive(Args)]
#[command(after_help = "The configuration format: examples/vr.toml (every field, commented).")]
pub struct RunArgs {
    /// Configuration file (see examples/vr.toml).
    #[arg(long)]
    config: PathBuf,
    /// Control socket path.
    #[arg(long, default_value_os_t = default_socket())]
    socket: PathBuf,
    /// Stop by itself after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Diagnostics on stderr as plain lines or JSON lines (for log shippers); `RUST_LOG`
    /// filters them.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn run(a: RunArgs) -> Result<()> {
    if let Some(d) = a.duration {
        if !(d > 0.0 && d <= 1e9) {
            bail!("--duration: {d} must be a number of seconds in (0, 1e9]");
        }
    }
    run::run(RunOptions {
        config: a.config,
        socket: a.socket,
        duration: a.duration,
    })
}
