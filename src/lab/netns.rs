//! Working inside network namespaces: running commands (`ip`, `ip netns exec`), opening
//! sockets in a namespace, the sink's ingress drop, and a guard that tears a lab down when
//! dropped. Every command's error carries its stderr.

use std::process::{Command, Stdio};

use anyhow::{anyhow, Context, Result};
use dataplane::pool::Pool;
use dataplane::port::afpacket::{AfPacket, AfPacketConfig};
use dataplane::port::afxdp::{AfXdp, XdpMode};
use dataplane::port::Port;

/// Runs a command; an error carries its stderr.
pub fn run(cmd: &str, args: &[&str]) -> Result<String> {
    crate::host::run_command(Command::new(cmd).args(args), "is it installed?")
}

/// Starts `program` inside network namespace `ns` (`ip netns exec`, which execs it: the PID is
/// the program's), in a process group of its own, output to `log`.
pub fn spawn_in(
    ns: &str,
    program: &std::path::Path,
    args: &[String],
    log: std::fs::File,
) -> Result<std::process::Child> {
    use std::os::unix::process::CommandExt as _;
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {} in {ns}", program.display()))
}

/// `ip ARGS...`.
pub fn ip(args: &[&str]) -> Result<String> {
    run("ip", args)
}

/// `unshare`'s arguments before the program for a container of one's own inside a network
/// namespace: new PID namespace (the program is its PID 1, killed with `unshare`), mount
/// namespace with a private /proc, UTS and IPC namespaces: an OpenVZ-style container on the
/// namespace's veths.
pub const CONTAINER: [&str; 8] = [
    "--pid",
    "--fork",
    "--kill-child",
    "--mount",
    "--mount-proc",
    "--uts",
    "--ipc",
    "--",
];

/// In namespace `ns`: tap `tap` (queue `txqueuelen` frames) and veth `veth` joined by a new
/// bridge `bridge` (no STP, no forwarding delay, no multicast snooping), all up: a guest's NIC
/// on the namespace's veth.
pub fn tap_bridge(ns: &str, veth: &str, tap: &str, bridge: &str, txqueuelen: u32) -> Result<()> {
    ip(&["-n", ns, "tuntap", "add", "dev", tap, "mode", "tap"])?;
    let q = txqueuelen.to_string();
    ip(&["-n", ns, "link", "set", tap, "txqueuelen", &q])?;
    ip(&[
        "-n",
        ns,
        "link",
        "add",
        bridge,
        "type",
        "bridge",
        "stp_state",
        "0",
        "forward_delay",
        "0",
        "mcast_snooping",
        "0",
    ])?;
    for dev in [veth, tap] {
        ip(&["-n", ns, "link", "set", dev, "master", bridge])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
    }
    ip(&["-n", ns, "link", "set", bridge, "up"])?;
    Ok(())
}

/// `ip netns exec NS CMD...`.
pub fn in_ns(n: &str, cmd: &[&str]) -> Result<String> {
    let mut a = vec!["netns", "exec", n];
    a.extend_from_slice(cmd);
    ip(&a)
}

/// Runs `f` on a thread inside network namespace `ns` (the current one if `None`): a socket
/// stays in the namespace it was made in, whichever thread uses it later.
pub fn in_netns<T: Send + 'static>(
    ns: Option<&str>,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let path = ns.map(|ns| format!("/run/netns/{ns}"));
    std::thread::spawn(move || -> Result<T> {
        if let Some(path) = path {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("entering {path}"))?;
        }
        f()
    })
    .join()
    .map_err(|_| anyhow!("the namespace thread failed"))?
}

/// Opens an AF_PACKET port on `iface` in network namespace `ns`.
pub fn open_in(ns: &str, iface: &str, pool: &Pool) -> Result<AfPacket> {
    let (iface, pool) = (iface.to_string(), pool.clone());
    in_netns(Some(ns), move || {
        let mut cfg = AfPacketConfig::new(&iface);
        cfg.rx_blocks = 128;
        Ok(AfPacket::open(&cfg, &pool)?)
    })
}

/// Opens an AF_XDP port on `iface` in network namespace `ns` (libxdp's program is loaded
/// there too).
pub fn open_xdp_in(ns: Option<&str>, iface: &str, pool: &Pool) -> Result<AfXdp> {
    let (iface, pool) = (iface.to_string(), pool.clone());
    in_netns(ns, move || Ok(AfXdp::open(&iface, XdpMode::Auto, &pool)?))
}

/// The generator's port: an AF_XDP socket in `ns` (in copy mode its transmit path costs the
/// sending core about 30% less per frame than AF_PACKET's on veth: measured with `vrouter bench
/// lab`, kernel router 0.43 -> 0.54 Mp/s, vrouter-afxdp 0.75 -> 1.0+ Mp/s), else AF_PACKET, saying
/// why. Frames arriving on the generator's interface (ARP, ICMP errors) go to the socket and
/// are not read; the generator needs none of them.
pub fn open_gen(ns: &str, iface: &str, pool: &Pool) -> Result<Box<dyn Port>> {
    match open_xdp_in(Some(ns), iface, pool) {
        Ok(p) => Ok(Box::new(p)),
        Err(e) => {
            tracing::warn!("lab: generator on AF_PACKET: AF_XDP on {iface} failed: {e:#}");
            Ok(Box::new(open_in(ns, iface, pool)?))
        }
    }
}

/// Drops the measured frames (to 240.0.0.0/4 and 3fff::/20) at the sink interface's ingress hook,
/// after the sink's AF_PACKET socket has seen them (taps run first) and before the sink
/// namespace's IP stack, which would otherwise deliver each one locally, find no UDP socket
/// and consult the ICMP rate limiter, per frame, on whichever core sent it (the router's, or
/// for a kernel router the generator's). Without `nft` the lab still works, only slower.
pub fn quiet_sink(ns: &str, iface: &str) {
    let rules = format!(
        "table netdev vrouter_sink {{\n chain in_{iface} {{\n  type filter hook ingress device \"{iface}\" priority 0;\n  ip daddr 240.0.0.0/4 drop\n  ip6 daddr 3fff::/20 drop\n }}\n}}\n"
    );
    let res = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            if let Some(mut i) = c.stdin.take() {
                i.write_all(rules.as_bytes())?;
            }
            c.wait_with_output()
        });
    match res {
        Ok(o) if o.status.success() => {}
        Ok(o) => tracing::warn!(
            "lab: nft could not add the sink's ingress drop on {iface} ({}); the sink's IP stack will see every frame",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => tracing::warn!(
            "lab: nft not available ({e}); the sink's IP stack will see every frame"
        ),
    }
}

/// An interface's packet counters (`ip -s link`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    pub rx_packets: u64,
    pub rx_dropped: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
}

/// The counters of `dev` in namespace `ns`, or `None` if it cannot be read.
pub fn link_counters(ns: &str, dev: &str) -> Option<LinkCounters> {
    let out = ip(&["-n", ns, "-j", "-s", "link", "show", "dev", dev]).ok()?;
    parse_link_counters(&out)
}

fn parse_link_counters(json: &str) -> Option<LinkCounters> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let s = v.get(0)?.get("stats64")?;
    let n = |dir: &str, k: &str| s.get(dir)?.get(k)?.as_u64();
    Some(LinkCounters {
        rx_packets: n("rx", "packets")?,
        rx_dropped: n("rx", "dropped")?,
        tx_packets: n("tx", "packets")?,
        tx_dropped: n("tx", "dropped")?,
    })
}

/// Tears a lab down when dropped (also when the work using it fails).
pub struct LabGuard(pub String);

impl Drop for LabGuard {
    fn drop(&mut self) {
        if let Err(e) = super::down(&self.0) {
            tracing::error!("vrouter: tearing down lab {}: {e:#}", self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_counters_come_from_ip_s_json() {
        let j = r#"[{"ifname":"t0","stats64":{"rx":{"bytes":1,"packets":12,"errors":0,"dropped":3},"tx":{"bytes":9,"packets":273180,"errors":0,"dropped":1471}}}]"#;
        assert_eq!(
            parse_link_counters(j),
            Some(LinkCounters {
                rx_packets: 12,
                rx_dropped: 3,
                tx_packets: 273_180,
                tx_dropped: 1471
            })
        );
        assert_eq!(parse_link_counters("[]"), None);
        assert_eq!(parse_link_counters("not json"), None);
    }
}
