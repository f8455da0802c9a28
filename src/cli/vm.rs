//! `vrouter vm ...`: one router per QEMU guest. `up` is a lab (see [`crate::lab`]) whose
//! router namespaces each run a guest; `status`, `console` and `down` read and remove it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;

use crate::dut::Dut;
use crate::lab::{self, LabSpec, Topology};
use crate::vm::qemu::{self, Console};
use crate::vm::GuestArgs;

#[derive(Subcommand)]
pub enum VmCmd {
    /// Boots N guests, one router each, between the lab's generator and sink namespaces.
    Up(VmUpArgs),
    /// Per guest: QEMU process, accelerator, readiness, the router's counters.
    Status(VmNameArg),
    /// Prints a guest's serial console.
    Console(VmConsoleArgs),
    /// Stops the guests and deletes the lab's namespaces.
    Down(VmNameArg),
    /// Writes the configuration `up` would give each guest (guest.env, vr.toml and routes.txt,
    /// or kernel.batch) into DIR/r1, DIR/r2, ...: the starting point of a Xen, VMware or
    /// OpenVZ deployment (see deploy/).
    Config(VmConfigArgs),
}

#[derive(clap::Args, Debug)]
pub struct VmConfigArgs {
    #[command(flatten)]
    pub up: VmUpArgs,
    /// Where the guests' folders go (created; existing files are not overwritten).
    #[arg(long)]
    pub out: PathBuf,
}

/// Which router a guest runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GuestRouterArg {
    /// vrouter on the guest's NICs.
    Vrouter,
    /// Linux forwarding in the same image (the paper's router).
    Kernel,
}

#[derive(clap::Args, Debug, Clone)]
pub struct VmUpArgs {
    /// Lab name (namespaces vrl-<name>-gen, -r1.., -sink).
    #[arg(long, default_value = "vm")]
    pub name: String,
    /// Guests, one router each.
    #[arg(long, default_value_t = 1)]
    pub routers: usize,
    /// What forwards inside the guests.
    #[arg(long, value_enum, default_value_t = GuestRouterArg::Vrouter)]
    pub router: GuestRouterArg,
    /// vrouter's polling mode inside the guest (busy, adaptive, interrupt).
    #[arg(long, default_value = "adaptive")]
    pub mode: String,
    #[command(flatten)]
    pub guest: GuestArgs,
    /// Route table, relocated into 240.0.0.0/4 and 3fff::/20 (default: the covering routes).
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// Skip malformed records of the table (counted) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// parallel: each guest on its own links from the generator and to the sink; chain:
    /// gen - r1 - ... - rN - sink.
    #[arg(long, value_enum, default_value_t = Topology::Parallel)]
    pub topology: Topology,
}

#[derive(clap::Args, Debug)]
pub struct VmNameArg {
    #[arg(long, default_value = "vm")]
    pub name: String,
    /// `status`: as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct VmConsoleArgs {
    #[arg(long, default_value = "vm")]
    pub name: String,
    /// The guest (router number, from 1).
    #[arg(long, default_value_t = 1)]
    pub router: usize,
}

impl VmUpArgs {
    pub fn spec(&self) -> Result<LabSpec> {
        if !(1..=16).contains(&self.routers) {
            bail!("--routers: {} must be 1..=16", self.routers);
        }
        let guest = self.guest.spec()?;
        Ok(LabSpec {
            routers: self.routers,
            table: self.table.clone(),
            lenient: self.lenient,
            mode: self.mode.parse().map_err(|e| anyhow!("--mode: {e}"))?,
            topology: self.topology,
            guest,
            ..LabSpec::new(
                &self.name,
                match self.router {
                    GuestRouterArg::Vrouter => Dut::Vm,
                    GuestRouterArg::Kernel => Dut::VmKernel,
                },
            )
        })
    }
}

pub fn cmd(c: VmCmd) -> Result<()> {
    match c {
        VmCmd::Up(a) => {
            let spec = a.spec()?;
            let dir = lab::up(&spec)?;
            let st = lab::state(&spec.name)?;
            println!(
                "vm `{}`: {} guest{} ready on {} (state in {}); `vrouter vm status --name {}`, `vrouter vm down --name {}`",
                spec.name,
                spec.routers,
                if spec.routers == 1 { "" } else { "s" },
                st.accel.as_deref().unwrap_or("?"),
                dir.display(),
                spec.name,
                spec.name
            );
            Ok(())
        }
        VmCmd::Status(n) => status(&n.name, n.json),
        VmCmd::Console(c) => {
            let f = lab::state_dir(&c.name).join(format!("r{}.console", c.router));
            let text = std::fs::read(&f)
                .with_context(|| format!("no console for router {} of `{}`", c.router, c.name))?;
            print!("{}", String::from_utf8_lossy(&text));
            Ok(())
        }
        VmCmd::Down(n) => lab::down(&n.name),
        VmCmd::Config(c) => config(&c),
    }
}

/// `vm config`: each guest's files, from the same plan `up` uses.
fn config(c: &VmConfigArgs) -> Result<()> {
    let spec = c.up.spec()?;
    let table = lab::relocated_table(&spec)?;
    let plan = lab::plan::plan(&spec, &table);
    for r in &plan.routers {
        let lab::plan::RouterPlan::Guest { k, files, .. } = r else {
            continue;
        };
        let dir = c.out.join(format!("r{k}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, data) in files {
            let f = dir.join(name);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&f)
                .with_context(|| format!("{} (not overwritten)", f.display()))?;
            std::io::Write::write_all(&mut file, data)?;
        }
        println!("{}", dir.display());
    }
    Ok(())
}

/// One guest's line of `vm status`.
#[derive(serde::Serialize)]
struct GuestStatus {
    router: usize,
    namespace: String,
    pid: Option<u32>,
    running: bool,
    state: String,
    console: String,
    forwarded: Option<u64>,
    dropped: Option<u64>,
}

fn status(name: &str, json: bool) -> Result<()> {
    let st = lab::state(name)?;
    if !st.dut.is_some_and(Dut::is_guest) {
        bail!("lab `{name}` has no guests (`vrouter lab status` lists labs)");
    }
    let dir = lab::state_dir(name);
    let mut rows = Vec::new();
    for k in 1..=st.routers {
        let console = dir.join(format!("r{k}.console"));
        let text =
            String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).to_string();
        let state = match qemu::console_state(&text) {
            Console::Booting => "booting".to_string(),
            Console::Started => "starting".to_string(),
            Console::Ready => "ready".to_string(),
            Console::Failed(why) => format!("failed: {why}"),
        };
        let pid = st.pids.get(k - 1).copied();
        let stats = crate::router::client::stats_within(
            &lab::router_socket(name, k),
            Duration::from_secs(2),
        )
        .ok();
        let r = stats.as_ref().and_then(|s| s.routers.first());
        rows.push(GuestStatus {
            router: k,
            namespace: lab::plan::ns(name, &format!("r{k}")),
            pid,
            running: pid.is_some_and(crate::host::alive),
            state,
            console: qemu::console_tail(&console, 1),
            forwarded: r.map(|r| r.forwarded),
            dropped: r.map(|r| {
                r.dropped.values().sum::<u64>() + r.ports.iter().map(|p| p.dropped()).sum::<u64>()
            }),
        });
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "name": name,
                "router": st.dut,
                "accel": st.accel,
                "guests": rows,
            }))?
        );
        return Ok(());
    }
    println!(
        "vm `{name}`: {} guest{} ({}), accelerator {}",
        st.routers,
        if st.routers == 1 { "" } else { "s" },
        st.dut.map_or("?", Dut::label),
        st.accel.as_deref().unwrap_or("?")
    );
    println!("router\tpid\trunning\tstate\tforwarded\tdropped\tconsole");
    for r in rows {
        let n = |x: Option<u64>| x.map_or("-".to_string(), |v| v.to_string());
        println!(
            "r{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.router,
            r.pid.map_or("-".to_string(), |p| p.to_string()),
            if r.running { "yes" } else { "no" },
            r.state,
            n(r.forwarded),
            n(r.dropped),
            r.console
        );
    }
    Ok(())
}
