//! `vrouter ctl`: flags, the request each one sends (typed: [`crate::router::proto`]) and how
//! its answer is printed.

use std::path::PathBuf;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::router::client::{self, default_socket};
use crate::router::proto::{Lookup, Request, Stats};

#[derive(Args)]
pub struct CtlArgs {
    /// Control socket of the running router.
    #[arg(long, global = true, default_value_os_t = default_socket())]
    socket: PathBuf,
    /// Router to address (default: the first one in the configuration).
    #[arg(long, global = true)]
    router: Option<String>,
    /// Seconds to wait for the router's answer.
    #[arg(long, global = true, default_value_t = 10.0)]
    timeout: f64,
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
    /// Inside a guest: carry requests from a virtio-serial port (the host's end is a socket
    /// beside QEMU) to the router at --socket, and the answers back. The guest's /init runs it.
    Relay {
        /// The port's device (/dev/vportNpM).
        #[arg(long)]
        device: PathBuf,
    },
}

#[derive(Subcommand)]
enum RouteCmd {
    Add { prefix: String, nexthop: u32 },
    Del { prefix: String },
}

#[derive(Subcommand)]
enum RoutesCmd {
    /// Prints the live table as vrouter text (PREFIX<TAB>NEXTHOP; connected routes as
    /// `# PREFIX connected port N` comments, so that the dump loads back).
    Dump,
    Load {
        file: PathBuf,
        /// Skip malformed records (counted) instead of failing.
        #[arg(long)]
        lenient: bool,
        /// Accept a file with no routes (it empties the table).
        #[arg(long)]
        allow_empty: bool,
        /// Accept a table with fewer than half the live table's routes.
        #[arg(long)]
        force: bool,
    },
    /// Replay the route changes of an update file (MRT BGP4MP or bgpdump text) into the
    /// running router, paced, while it forwards: route churn as a BGP speaker would cause it.
    Replay(ReplayArgs),
}

#[derive(Args)]
struct ReplayArgs {
    file: PathBuf,
    /// Move prefixes into 240.0.0.0/4 and 3fff::/20 first (for lab routers, whose traffic
    /// goes there).
    #[arg(long)]
    relocate: bool,
    /// Announced next hops map onto ids 0..N (default 1: all to next hop 0).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=32_767))]
    nexthops: u32,
    /// Changes per second at most.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Seconds to replay at most.
    #[arg(long, default_value_t = 60.0, value_parser = super::num::seconds)]
    duration: f64,
    /// Start the stream again when it ends (until --duration).
    #[arg(long = "loop")]
    repeat: bool,
    /// Skip malformed records of the file (counted) instead of failing.
    #[arg(long)]
    lenient: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(a: CtlArgs) -> Result<()> {
    if !(a.timeout >= 0.1 && a.timeout <= 3600.0) {
        bail!(
            "--timeout: {} must be a number of seconds in [0.1, 3600]",
            a.timeout
        );
    }
    let timeout = Duration::from_secs_f64(a.timeout);
    if let CtlCmd::Relay { device } = &a.cmd {
        return crate::router::relay::relay(device, &a.socket);
    }
    if let CtlCmd::Routes(RoutesCmd::Dump) = &a.cmd {
        return dump(&a.socket, a.router.clone(), timeout);
    }
    if let CtlCmd::Routes(RoutesCmd::Replay(r)) = &a.cmd {
        return replay(&a.socket, a.router.clone(), timeout, r);
    }
    if let (CtlCmd::Shutdown, Some(r)) = (&a.cmd, &a.router) {
        bail!(
            "--router {r}: shutdown stops the whole instance, not one router (leave --router out)"
        );
    }
    if let CtlCmd::Stats { json } = &a.cmd {
        let mut stats = client::stats_within(&a.socket, timeout)?;
        if let Some(name) = &a.router {
            let names: Vec<&str> = stats.routers.iter().map(|r| r.name.as_str()).collect();
            if !names.contains(&name.as_str()) {
                bail!(
                    "--router {name}: no such router (routers: {})",
                    names.join(", ")
                );
            }
            stats.routers.retain(|r| &r.name == name);
        }
        if *json {
            let mut v = serde_json::to_value(&stats)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("ok".into(), serde_json::Value::Bool(true));
            }
            println!("{v}");
        } else {
            print_stats(&stats);
        }
        return Ok(());
    }
    let req = match &a.cmd {
        CtlCmd::Route(RouteCmd::Add { prefix, nexthop }) => Request::RouteAdd {
            router: None,
            prefix: prefix.clone(),
            nexthop: *nexthop,
        },
        CtlCmd::Route(RouteCmd::Del { prefix }) => Request::RouteDel {
            router: None,
            prefix: prefix.clone(),
        },
        CtlCmd::Routes(RoutesCmd::Load {
            file,
            lenient,
            allow_empty,
            force,
        }) => {
            let abs = std::fs::canonicalize(file).with_context(|| format!("{}", file.display()))?;
            Request::RoutesLoad {
                router: None,
                file: abs,
                lenient: *lenient,
                allow_empty: *allow_empty,
                force: *force,
            }
        }
        CtlCmd::Lookup { addr } => Request::Lookup {
            router: None,
            addr: addr.clone(),
        },
        CtlCmd::Shutdown => Request::Shutdown,
        CtlCmd::Relay { .. }
        | CtlCmd::Routes(RoutesCmd::Dump | RoutesCmd::Replay(_))
        | CtlCmd::Stats { .. } => {
            unreachable!("relayed, dumped, replayed and counted above")
        }
    }
    .to_router(a.router.clone());
    match a.cmd {
        CtlCmd::Lookup { .. } => {
            let l: Lookup = client::call_within(&a.socket, &req, timeout)?;
            match (l.prefix, l.nexthop, l.connected_port) {
                (Some(p), _, Some(port)) => println!("{}\t{p}\tconnected port {port}", l.addr),
                (Some(p), Some(nh), None) => println!("{}\t{p}\t{nh}", l.addr),
                _ => println!("{}\t-", l.addr),
            }
        }
        _ => {
            let mut body = client::call_raw_within(&a.socket, &req, timeout)?;
            body.insert("ok".into(), serde_json::Value::Bool(true));
            println!("{}", serde_json::Value::Object(body));
        }
    }
    Ok(())
}

/// `ctl routes replay`: an update file's changes into the running router, until the stream
/// ends or --duration passes (SIGINT stops it too), then what was done.
fn replay(
    socket: &std::path::Path,
    router: Option<String>,
    timeout: Duration,
    r: &ReplayArgs,
) -> Result<()> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let opts = fib::source::LoadOptions {
        lenient: r.lenient,
        ..fib::source::LoadOptions::default()
    };
    let (events, stats) = fib::source::load_events(&r.file, &opts, &mut |_, _| {})?;
    if let Some(e) = &stats.first_error {
        tracing::warn!("skipped malformed record(s); first: {e}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let o = crate::router::churn::ChurnOptions {
        nexthops: r.nexthops,
        relocate: r.relocate,
        rate: r.rate,
        duration: Duration::from_secs_f64(r.duration),
        repeat: r.repeat,
        timeout,
    };
    let rep = crate::router::churn::churn(socket, router, &events, &o, &stop)?;
    if r.json {
        println!("{}", serde_json::to_string(&rep)?);
    } else {
        println!(
            "{} announced, {} withdrawn, {} withdrawals of absent prefixes, {} refused; \
             {} pass(es) in {:.1} s ({:.0} changes/s)",
            rep.announced,
            rep.withdrawn,
            rep.absent,
            rep.refused,
            rep.passes,
            rep.seconds,
            rep.changes_per_second
        );
    }
    Ok(())
}

/// `ctl routes dump`: the live table page by page, as text that `routes load` reads back.
fn dump(socket: &std::path::Path, router: Option<String>, timeout: Duration) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{}", fib::source::text::TEXT_HEADER)?;
    let page = crate::router::control::MAX_DUMP_PAGE;
    let mut offset = 0;
    loop {
        let req = Request::RoutesDump {
            router: router.clone(),
            offset,
            limit: page,
        };
        let p: crate::router::proto::RoutesPage = client::call_within(socket, &req, timeout)?;
        for r in &p.routes {
            match r.split_once("\tconnected ") {
                Some((net, port)) => writeln!(out, "# {net} connected {port}")?,
                None => writeln!(out, "{r}")?,
            }
        }
        offset += p.routes.len();
        if p.routes.is_empty() || offset >= p.total {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

fn print_stats(v: &Stats) {
    for r in &v.routers {
        println!(
            "router {}: {} in, {} forwarded, {} answered, {} ICMP errors; \
             {} held for a neighbour ({} released, {} dropped there); {} IPv4 + {} IPv6 routes; \
             {} queue(s)",
            r.name,
            r.frames_in,
            r.forwarded,
            r.answered,
            r.icmp_errors,
            r.held,
            r.released,
            r.hold_dropped,
            r.routes_v4,
            r.routes_v6,
            r.queues
        );
        for c in &r.connected {
            println!("  connected {c}");
        }
        if r.fragmented > 0 {
            println!(
                "  fragmented {} datagrams into {} fragments",
                r.fragmented, r.fragments
            );
        }
        for (i, p) in r.ports.iter().enumerate() {
            println!(
                "  port {i}: rx {} pkts {} B, rx dropped {}, tx {} pkts {} B, tx dropped {}, \
                 tx held {}",
                p.rx_packets,
                p.rx_bytes,
                p.rx_dropped,
                p.tx_packets,
                p.tx_bytes,
                p.tx_dropped,
                p.tx_held
            );
        }
        for (reason, n) in &r.dropped {
            println!("  drop {reason:<22} {n}");
        }
    }
    for w in &v.workers {
        println!(
            "worker {}: {} packets, {} busy / {} idle polls, {} sleeps, {:.1} ns/packet{}, pinned {}",
            w.name,
            w.packets,
            w.busy_polls,
            w.idle_polls,
            w.sleeps,
            w.ns_per_packet,
            w.cycles_per_packet
                .map_or(String::new(), |c| format!(" (~{c:.0} cycles)")),
            w.pinned
        );
    }
}
