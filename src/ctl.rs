//! `vrouter ctl`: talks to a running `vrouter run` over its control socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Args)]
pub struct CtlArgs {
    /// Control socket of the running router.
    #[arg(long, global = true, default_value_os_t = crate::run::default_socket())]
    socket: PathBuf,
    /// Router to address (default: the first one in the configuration).
    #[arg(long, global = true)]
    router: Option<String>,
    #[command(subcommand)]
    cmd: CtlCmd,
}

#[derive(Subcommand)]
enum CtlCmd {
    /// Per-router, per-port and per-worker counters (like VPP's show interface / errors / runtime).
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Add or remove one route while forwarding.
    #[command(subcommand)]
    Route(RouteCmd),
    /// Replace a router's whole table from a route file, atomically, while forwarding.
    #[command(subcommand)]
    Routes(RoutesCmd),
    /// Longest-prefix match in a router's live table.
    Lookup { addr: String },
    /// Stop the router (as SIGTERM would).
    Shutdown,
}

#[derive(Subcommand)]
enum RouteCmd {
    Add { prefix: String, nexthop: u32 },
    Del { prefix: String },
}

#[derive(Subcommand)]
enum RoutesCmd {
    Load {
        file: PathBuf,
        /// Skip malformed records (counted) instead of failing.
        #[arg(long)]
        lenient: bool,
    },
}

/// Sends one request to a running router's control socket and returns its answer.
pub(crate) fn request(socket: &Path, req: Value) -> Result<Value> {
    let s = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot reach a running vrouter at {} (start `vrouter run`, or give --socket)",
            socket.display()
        )
    })?;
    let mut w = &s;
    writeln!(w, "{req}")?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line)?;
    let v: Value = serde_json::from_str(&line).context("bad answer from vrouter")?;
    if v["ok"] != json!(true) {
        bail!("{}", v["error"].as_str().unwrap_or("request failed"));
    }
    Ok(v)
}

pub fn run(a: CtlArgs) -> Result<()> {
    let mut req = match &a.cmd {
        CtlCmd::Stats { .. } => json!({"cmd": "stats"}),
        CtlCmd::Route(RouteCmd::Add { prefix, nexthop }) => {
            json!({"cmd": "route-add", "prefix": prefix, "nexthop": nexthop})
        }
        CtlCmd::Route(RouteCmd::Del { prefix }) => json!({"cmd": "route-del", "prefix": prefix}),
        CtlCmd::Routes(RoutesCmd::Load { file, lenient }) => {
            let abs = std::fs::canonicalize(file).with_context(|| format!("{}", file.display()))?;
            json!({"cmd": "routes-load", "file": abs, "lenient": lenient})
        }
        CtlCmd::Lookup { addr } => json!({"cmd": "lookup", "addr": addr}),
        CtlCmd::Shutdown => json!({"cmd": "shutdown"}),
    };
    if let Some(r) = &a.router {
        req["router"] = json!(r);
    }
    let v = request(&a.socket, req)?;
    match a.cmd {
        CtlCmd::Stats { json: false } => print_stats(&v),
        CtlCmd::Lookup { .. } => match v["prefix"].as_str() {
            Some(p) => println!(
                "{}\t{p}\t{}",
                v["addr"].as_str().unwrap_or(""),
                v["nexthop"]
            ),
            None => println!("{}\t-", v["addr"].as_str().unwrap_or("")),
        },
        _ => println!("{v}"),
    }
    Ok(())
}

fn print_stats(v: &Value) {
    for r in v["routers"].as_array().into_iter().flatten() {
        println!(
            "router {}: {} in, {} forwarded, {} answered, {} ICMP errors; \
             {} held for a neighbour ({} released, {} dropped there); {} IPv4 + {} IPv6 routes; \
             {} queue(s)",
            r["name"].as_str().unwrap_or("?"),
            r["frames_in"],
            r["forwarded"],
            r["answered"],
            r["icmp_errors"],
            r["held"],
            r["released"],
            r["hold_dropped"],
            r["routes_v4"],
            r["routes_v6"],
            r["queues"]
        );
        for (i, p) in r["ports"].as_array().into_iter().flatten().enumerate() {
            println!(
                "  port {i}: rx {} pkts {} B, rx dropped {}, tx {} pkts {} B, tx dropped {}",
                p["rx_packets"],
                p["rx_bytes"],
                p["rx_dropped"],
                p["tx_packets"],
                p["tx_bytes"],
                p["tx_dropped"]
            );
        }
        for (reason, n) in r["dropped"].as_object().into_iter().flatten() {
            println!("  drop {reason:<22} {n}");
        }
    }
    for w in v["workers"].as_array().into_iter().flatten() {
        println!(
            "worker {}: {} packets, {} busy / {} idle polls, {} sleeps, {:.1} ns/packet{}, pinned {}",
            w["name"].as_str().unwrap_or("?"),
            w["packets"],
            w["busy_polls"],
            w["idle_polls"],
            w["sleeps"],
            w["ns_per_packet"].as_f64().unwrap_or(0.0),
            w["cycles_per_packet"]
                .as_f64()
                .map_or(String::new(), |c| format!(" (~{c:.0} cycles)")),
            w["pinned"]
        );
    }
}
