//! Starting a lab's guests: per guest, its router namespace's taps and bridges, its
//! configuration (an initramfs appended to the image's, or a FAT config disk), its QEMU
//! process; then one wait for all of them, since guests boot in parallel (4 at once took
//! 13-19 s under TCG here, one 6-9 s). With `--accel auto`, guests that do not start their init
//! under KVM are restarted under TCG, and the verdict is remembered until the host reboots.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::netns::{in_ns, ip, spawn_in, tap_bridge};
use super::plan::RouterPlan;
use super::{save, State};
use crate::vm::qemu::{self, Accel, Boot, GuestFiles, Wait};
use crate::vm::{self, GuestSpec};

/// Frames a tap queues towards its guest (its `txqueuelen`): the guest's receive ring, in
/// effect. QEMU without vhost-net reads taps from its main loop, so a guest whose vCPU is
/// descheduled leaves frames here; the default 1000 overflowed in 3-s trials at 20 kp/s.
pub const TAP_QUEUE: u32 = 4096;

/// How long a KVM guest may take to print its first init line before `auto` gives up on KVM
/// (a KVM guest gets there in 1-3 s; on the paravirtual KVM here it never does).
const KVM_START: Duration = Duration::from_secs(25);
/// The same under TCG (6-9 s for one guest, 13-19 s for four at once, slower on a loaded host).
const TCG_START: Duration = Duration::from_secs(150);

/// One guest on its way up.
struct Started<'a> {
    plan: &'a RouterPlan,
    files: GuestFiles,
}

/// Builds the namespace side and the configuration of every guest in `guests`, starts them,
/// and waits until all say ready.
pub fn start(guests: &[&RouterPlan], dir: &Path, st: &mut State, spec: &GuestSpec) -> Result<()> {
    let base_initrd = match spec.boot {
        Boot::Kernel => Some(
            std::fs::read(spec.image.join("initrd.img"))
                .with_context(|| format!("reading {}", spec.image.join("initrd.img").display()))?,
        ),
        Boot::Disk => None,
    };
    let mut started = Vec::new();
    for &p in guests {
        let RouterPlan::Guest {
            k,
            ns,
            sysctls,
            bridges,
            files,
            ..
        } = p
        else {
            continue;
        };
        for s in sysctls {
            in_ns(ns, &["sysctl", "-qw", s])?;
        }
        for b in bridges {
            let mac = b.veth_mac.to_string();
            ip(&["-n", ns, "link", "set", &b.veth, "address", &mac])?;
            tap_bridge(ns, &b.veth, &b.tap, &b.name, TAP_QUEUE)?;
        }
        let gf = GuestFiles {
            kernel: spec.image.join("vmlinuz"),
            initrd: dir.join(format!("r{k}.initrd")),
            disk: spec.disk_path(),
            config_disk: dir.join(format!("r{k}.config.img")),
            console: dir.join(format!("r{k}.console")),
            control: dir.join(format!("r{k}.sock")),
        };
        match &base_initrd {
            Some(base) => {
                let entries: Vec<(String, &[u8])> = files
                    .iter()
                    .map(|(n, d)| (format!("guest/{n}"), d.as_slice()))
                    .collect();
                let entries: Vec<vm::cpio::Entry> = entries
                    .iter()
                    .map(|(path, data)| vm::cpio::Entry { path, data })
                    .collect();
                let mut img = base.clone();
                img.extend_from_slice(&vm::cpio::archive_gz(&entries)?);
                std::fs::write(&gf.initrd, img)
                    .with_context(|| format!("writing {}", gf.initrd.display()))?;
            }
            None => vm::config_disk(&gf.config_disk, &dir.join(format!("r{k}.config")), files)
                .context("making the guest's config disk")?,
        }
        started.push(Started { plan: p, files: gf });
    }

    let mut accel = qemu::first_choice(spec.accel);
    if spec.accel == Accel::Auto && accel == Accel::Tcg && qemu::kvm_known_to_hang() {
        tracing::info!("vm: TCG (KVM hung a guest earlier since this host booted)");
    }
    loop {
        let pids = spawn_all(&started, dir, st, spec, accel)?;
        let consoles: Vec<PathBuf> = started.iter().map(|s| s.files.console.clone()).collect();
        let start_limit = if accel == Accel::Kvm {
            KVM_START
        } else {
            TCG_START
        };
        let t0 = std::time::Instant::now();
        let res = qemu::wait_ready(
            &pids,
            &consoles,
            start_limit,
            spec.ready_timeout,
            &super::interrupted,
        );
        let name = |i: usize| format!("r{}", i + 1);
        match res {
            Wait::Ready => {
                tracing::info!(
                    "vm: {} guest{} ready in {:.1} s on {}",
                    pids.len(),
                    if pids.len() == 1 { "" } else { "s" },
                    t0.elapsed().as_secs_f64(),
                    accel.name()
                );
                st.accel = Some(accel.name().to_string());
                save(dir, st)?;
                return Ok(());
            }
            Wait::NoStart(i) | Wait::Failed(i, _)
                if accel == Accel::Kvm
                    && spec.accel == Accel::Auto
                    && !started_init(&consoles[i]) =>
            {
                let why = match &res {
                    Wait::NoStart(_) => format!(
                        "printed nothing from its init within {} s",
                        KVM_START.as_secs()
                    ),
                    _ => format!(
                        "stopped before its init ({})",
                        qemu::console_tail(&dir.join(format!("{}.qemu.log", name(i))), 1)
                    ),
                };
                tracing::warn!(
                    "vm: guest {} {why} under KVM (a paravirtual or nested KVM that does not run a stock guest?); restarting the guests under TCG, and using TCG until this host reboots",
                    name(i),
                );
                qemu::remember_kvm_hangs();
                stop(&pids, st);
                save(dir, st)?;
                for s in &started {
                    let _ = std::fs::remove_file(&s.files.console);
                    let _ = std::fs::remove_file(&s.files.control);
                }
                accel = Accel::Tcg;
            }
            Wait::NoStart(i) => bail!(
                "guest {} printed nothing from its init within {} s on {}{}; its console:\n    {}",
                name(i),
                start_limit.as_secs(),
                accel.name(),
                if accel == Accel::Kvm {
                    " (try --accel tcg: a paravirtual or nested KVM may hang a stock kernel)"
                } else {
                    ""
                },
                qemu::console_tail(&consoles[i], 12)
            ),
            Wait::Stopped => bail!("interrupted by a signal while the guests booted"),
            Wait::Timeout(i) => bail!(
                "guest {} was not ready within {} s; its console:\n    {}",
                name(i),
                spec.ready_timeout.as_secs(),
                qemu::console_tail(&consoles[i], 12)
            ),
            Wait::Failed(i, why) => {
                let qlog = dir.join(format!("{}.qemu.log", name(i)));
                bail!(
                    "guest {} failed: {why}; its console:\n    {}{}",
                    name(i),
                    qemu::console_tail(&consoles[i], 12),
                    match std::fs::read_to_string(&qlog) {
                        Ok(t) if !t.trim().is_empty() =>
                            format!("\n  QEMU said:\n    {}", qemu::console_tail(&qlog, 6)),
                        _ => String::new(),
                    }
                )
            }
        }
    }
}

/// Whether a guest's console shows its init running.
fn started_init(console: &Path) -> bool {
    let text = std::fs::read(console).unwrap_or_default();
    qemu::console_state(&String::from_utf8_lossy(&text)) != qemu::Console::Booting
}

/// Starts one QEMU per guest inside its router namespace; their PIDs are saved first.
fn spawn_all(
    started: &[Started],
    dir: &Path,
    st: &mut State,
    spec: &GuestSpec,
    accel: Accel,
) -> Result<Vec<u32>> {
    let qemu_bin = qemu::qemu_binary()?;
    let mut pids = Vec::new();
    for s in started {
        let RouterPlan::Guest {
            k,
            ns,
            guest,
            router,
            routes,
            ..
        } = s.plan
        else {
            continue;
        };
        let log = std::fs::File::create(dir.join(format!("r{k}.qemu.log")))?;
        let child = spawn_in(ns, &qemu_bin, &qemu::argv(guest, &s.files, accel), log)?;
        st.pids.push(child.id());
        save(dir, st)?;
        tracing::info!(
            "vm: r{k}: guest ({router:?}, {routes} routes, {} MiB, {:?} NICs, {:?} boot) starting on {}",
            spec.memory_mib,
            guest.nic_model,
            guest.boot,
            accel.name()
        );
        pids.push(child.id());
    }
    Ok(pids)
}

/// Stops guests (SIGKILL: nothing in them needs saving) and forgets their PIDs.
fn stop(pids: &[u32], st: &mut State) {
    for &p in pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| crate::host::alive(p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    st.pids.retain(|p| !pids.contains(p));
}
