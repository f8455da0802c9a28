//! Carries out a [`Plan`]: creates namespaces and veths, turns offloads off, adds addresses
//! and routes, sets sysctls, loads kernel routes, writes each vrouter's table and config and
//! starts it, waiting until its control socket is up. Every step that creates something is
//! recorded in the lab's [`State`] first, so that a failure part-way can be undone.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::netns::{in_ns, ip, spawn_in};
use super::plan::{config_text, mac, Plan, RouterPlan};
use super::{save, State};

/// Builds what `plan` says; `dir` is the lab's state directory; `guest` says how guests boot.
pub fn apply(
    plan: &Plan,
    lab: &str,
    dir: &Path,
    st: &mut State,
    guest: &crate::vm::GuestSpec,
) -> Result<()> {
    for name in &plan.namespaces {
        ip(&["netns", "add", name])?;
        st.namespaces.push(name.clone());
        save(dir, st)?;
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        // No duplicate address detection on the lab's links: global addresses are added
        // `nodad`, but link-local ones would stay tentative for a second or two after the
        // link comes up, and until then a kernel router cannot resolve its IPv6 next hop (the
        // first IPv6 trial after a lab came up lost every frame). Devices created in the
        // namespace from now on take `default`'s setting. A host without IPv6 has no such key.
        for key in ["default", "all"] {
            let _ = in_ns(
                name,
                &[
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{key}.accept_dad=0"),
                ],
            );
        }
    }
    // Veth ends are created directly inside their namespaces.
    for l in &plan.links {
        let (ld, rd) = (l.left_dev(), l.right_dev());
        let (ml, mr) = (mac(l.index, 1).to_string(), mac(l.index, 2).to_string());
        ip(&[
            "link", "add", "name", &ld, "address", &ml, "netns", &l.left, "type", "veth", "peer",
            "name", &rd, "address", &mr, "netns", &l.right,
        ])?;
        for (nsn, dev) in [(&l.left, &ld), (&l.right, &rd)] {
            // Offloads off: frames on the wire are whole and carry real checksums, as a
            // router (and AF_PACKET) must see them.
            in_ns(
                nsn,
                &[
                    "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off",
                ],
            )
            .context("turning veth offloads off (needs ethtool)")?;
            ip(&["-n", nsn, "link", "set", dev, "up"])?;
        }
    }
    for a in &plan.addresses {
        if a.cidr.contains(':') {
            ip(&[
                "-n", &a.ns, "-6", "addr", "add", &a.cidr, "dev", &a.dev, "nodad",
            ])?;
        } else {
            ip(&["-n", &a.ns, "addr", "add", &a.cidr, "dev", &a.dev])?;
        }
    }
    for r in &plan.routes {
        let mut args = vec!["-n", r.ns.as_str()];
        args.extend(r.args.iter().map(String::as_str));
        ip(&args)?;
    }
    let exe = std::env::current_exe().context("locating the vrouter binary")?;
    let mut guests = Vec::new();
    for r in &plan.routers {
        match r {
            RouterPlan::Guest { .. } => guests.push(r),
            RouterPlan::Kernel {
                k,
                ns,
                sysctls,
                batch,
                routes,
            } => {
                for s in sysctls {
                    in_ns(ns, &["sysctl", "-qw", s])?;
                }
                let f = dir.join(format!("r{k}.batch"));
                std::fs::write(&f, batch)?;
                tracing::info!(
                    "lab: r{k}: loading {routes} routes into the kernel (ip -batch; ~30k routes/s)"
                );
                ip(&["-n", ns, "-batch", &f.to_string_lossy()])
                    .context("loading the routes into the kernel")?;
            }
            RouterPlan::Vrouter {
                k,
                ns,
                sysctls,
                table,
                config,
                routes,
                backend,
                devs,
                container,
            } => {
                for s in sysctls {
                    in_ns(ns, &["sysctl", "-qw", s])?;
                }
                let rf = dir.join(format!("r{k}.routes"));
                std::fs::write(&rf, table)?;
                let cf = dir.join(format!("r{k}.toml"));
                std::fs::write(
                    &cf,
                    config_text(lab, (**config).clone(), &rf.to_string_lossy()),
                )?;
                let log_path = dir.join(format!("r{k}.log"));
                let log = std::fs::File::create(&log_path)?;
                let sock = dir.join(format!("r{k}.sock"));
                let (program, args) = router_command(&exe, *container, &cf, &sock);
                let child = spawn_in(ns, &program, &args, log)
                    .context("starting vrouter in the router namespace")?;
                st.pids.push(child.id());
                save(dir, st)?;
                tracing::info!(
                    "lab: r{k}: vrouter ({routes} routes, {backend} on {}/{}) starting",
                    devs.0,
                    devs.1
                );
                wait_ready(&sock, child.id(), &log_path)?;
            }
        }
    }
    if !guests.is_empty() {
        super::guests::start(&guests, dir, st, guest)?;
    }
    Ok(())
}

/// The command that runs router `cf` on control socket `sock`: vrouter itself, or in a
/// container of its own inside the router's network namespace (new PID namespace with vrouter
/// as its PID 1, mount namespace with a private /proc, UTS and IPC namespaces).
pub(super) fn router_command(
    exe: &Path,
    container: bool,
    cf: &Path,
    sock: &Path,
) -> (std::path::PathBuf, Vec<String>) {
    let mut args: Vec<String> = Vec::new();
    let program = if container {
        args.extend(super::netns::CONTAINER.map(String::from));
        args.push(exe.to_string_lossy().to_string());
        std::path::PathBuf::from("unshare")
    } else {
        exe.to_path_buf()
    };
    args.extend(["run", "--config"].map(String::from));
    args.push(cf.to_string_lossy().to_string());
    args.push("--socket".into());
    args.push(sock.to_string_lossy().to_string());
    (program, args)
}

/// Waits for a router's control socket to answer (its tables are loaded and workers run), or
/// fails with the end of its log if it exits first. A socket file left by a killed router
/// does not count: only an answer does.
pub(super) fn wait_ready(sock: &Path, pid: u32, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::os::unix::net::UnixStream::connect(sock).is_ok() {
            return Ok(());
        }
        if super::interrupted() {
            bail!("interrupted by a signal");
        }
        if !crate::host::alive(pid) {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            bail!(
                "vrouter in the router namespace exited: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("vrouter did not open {} within 60 s", sock.display())
}
