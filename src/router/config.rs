//! `vr.toml`: one or more virtual routers, their ports, routes, neighbours and workers. The
//! one example with every field commented is `examples/vr.toml` (a test parses it). Every
//! error names the file, the line and the field, and says why.
//!
//! Longer than 700 lines: a third is the file types and their checks section by section
//! (router, port, backend with its DPDK devices and the `[dpdk]` section, neighbour), the rest
//! the tests of every error message.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use dataplane::port::afxdp::XdpMode;
use dataplane::wire::ethernet::Mac;
use dataplane::worker::PollMode;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use toml::Spanned;

// The file as written: every field with its place in the text, so that errors can name the
// line. `Serialize` too: the lab writes its routers' configs through these types, and
// [`spanned`] wraps a value for them.

fn is_false(b: &bool) -> bool {
    !*b
}

/// A value for the file types, with no place in any text (for configs that are written).
pub fn spanned<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}

#[derive(Deserialize, Serialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub router: Vec<RouterToml>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpdk: Option<DpdkToml>,
}

/// The `[dpdk]` section: the process's DPDK EAL (one per process, for all its dpdk ports).
#[derive(Deserialize, Serialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct DpdkToml {
    /// More EAL arguments, after vrouter's own (which they may override).
    #[serde(default)]
    pub eal: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<Spanned<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mbufs: Option<Spanned<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hugepages: Option<Spanned<bool>>,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RouterToml {
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nexthops: Option<Spanned<u32>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub lenient: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub class_e_unicast: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub forward_directed_broadcast: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub accept_source_route: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Spanned<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<Spanned<usize>>,
    #[serde(default)]
    pub port: Vec<PortToml>,
    #[serde(default)]
    pub neighbour: Vec<NeighbourToml>,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct PortToml {
    pub backend: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<Spanned<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qdisc_bypass: Option<Spanned<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xdp_mode: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<Spanned<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmd: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdev: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci: Option<Spanned<String>>,
    pub mac: Spanned<String>,
    #[serde(default)]
    pub addresses: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<Spanned<u16>>,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct NeighbourToml {
    pub nexthop: Spanned<u32>,
    pub port: Spanned<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Spanned<String>>,
}

/// A validated router.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    pub name: String,
    pub routes: Option<PathBuf>,
    pub nexthops: u32,
    pub lenient: bool,
    /// 240.0.0.0/4 sources are unicast, not martians (labs relocated there).
    pub class_e_unicast: bool,
    /// Forward directed broadcasts of connected subnets (RFC 2644 says not to, by default).
    pub forward_directed_broadcast: bool,
    /// Forward source-routed IPv4 (RFC 7126 says not to, by default).
    pub accept_source_route: bool,
    /// The router spreads over this many workers, each with its own queue of every port.
    pub queues: usize,
    pub mode: PollMode,
    pub worker: String,
    pub core: Option<usize>,
    pub ports: Vec<PortConfig>,
    pub neighbours: Vec<NeighbourConfig>,
}

#[derive(Debug, Clone)]
pub struct PortConfig {
    pub backend: Backend,
    pub mac: Mac,
    pub addresses: Vec<IpNet>,
    pub mtu: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Memory {
        link: String,
    },
    /// A Linux interface through AF_PACKET rings; `fanout` joins a PACKET_FANOUT group;
    /// `qdisc_bypass` transmits past the interface's queueing discipline.
    AfPacket {
        iface: String,
        fanout: Option<u16>,
        qdisc_bypass: bool,
        /// Transmit ring slots (2 KiB each).
        tx_ring: u32,
    },
    /// A Linux interface through an AF_XDP socket (queue 0); `xdp_mode` auto|native|generic;
    /// `ring` descriptors per ring (the UMEM holds twice as many 2 KiB frames).
    AfXdp {
        iface: String,
        xdp_mode: XdpMode,
        ring: u32,
    },
    /// A DPDK device: a Linux interface through DPDK's `net_af_packet` or `net_af_xdp` driver,
    /// or any virtual device's arguments (`net_memif0,role=server,socket=...`); `ring`
    /// descriptors per queue.
    Dpdk {
        device: DpdkDevice,
        ring: u16,
    },
}

/// What a dpdk port drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpdkDevice {
    /// A Linux interface through the poll-mode driver `pmd` (`af_packet` or `af_xdp`).
    Iface { iface: String, pmd: String },
    /// A virtual device as given to the EAL's `--vdev` (its name is before the first comma).
    Vdev(String),
    /// A PCI device bound to a DPDK-capable kernel driver (vfio-pci, uio_pci_generic), by its
    /// full address `0000:00:04.0`.
    Pci(String),
}

/// Descriptors per queue of a dpdk port unless configured otherwise.
pub const DPDK_DEFAULT_RING: u16 = 1024;

/// The validated `[dpdk]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkOptions {
    pub eal: Vec<String>,
    /// Memory the EAL takes, MiB.
    pub memory_mb: u32,
    /// Mbufs in the process's pool (0: sized from the ports' rings).
    pub mbufs: u32,
    /// Hugepages for the EAL's memory (`None`: when a port is a PCI device).
    pub hugepages: Option<bool>,
}

impl Default for DpdkOptions {
    fn default() -> Self {
        DpdkOptions {
            eal: Vec::new(),
            memory_mb: 256,
            mbufs: 0,
            hugepages: None,
        }
    }
}

/// A whole configuration file: its routers and the process's DPDK options.
#[derive(Debug, Clone)]
pub struct Config {
    pub routers: Vec<RouterConfig>,
    pub dpdk: DpdkOptions,
}

#[derive(Debug, Clone)]
pub struct NeighbourConfig {
    pub nexthop: u32,
    pub port: u16,
    pub target: NeighbourTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighbourTarget {
    Static(Mac),
    Gateway(IpAddr),
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        self.text[..span.start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }
    fn err(&self, span: Range<usize>, field: &str, why: impl std::fmt::Display) -> anyhow::Error {
        anyhow!(
            "{}:{}: {field}: {why}",
            self.path.display(),
            self.line(span)
        )
    }
}

/// Reads and validates a configuration file's routers.
pub fn load(path: &Path) -> Result<Vec<RouterConfig>> {
    Ok(load_all(path)?.routers)
}

/// Reads and validates a configuration file.
pub fn load_all(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    parse_all(path, &text)
}

/// Validates configuration text's routers (`path` names it in errors and anchors relative
/// paths).
pub fn parse(path: &Path, text: &str) -> Result<Vec<RouterConfig>> {
    Ok(parse_all(path, text)?.routers)
}

/// Validates configuration text.
pub fn parse_all(path: &Path, text: &str) -> Result<Config> {
    let cx = Ctx { path, text };
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| cx.line(s));
        // A wrongly typed value: name the key written on its line (`lenient = "yes"`).
        let key = e
            .span()
            .filter(|_| e.message().starts_with("invalid "))
            .and_then(|s| {
                let start = text[..s.start.min(text.len())]
                    .rfind('\n')
                    .map_or(0, |i| i + 1);
                let (key, _) = text[start..].split_once('=')?;
                let key = key.trim();
                (!key.is_empty() && key.len() <= 40 && !key.contains(['[', '\n', '"']))
                    .then(|| format!("{key}: "))
            })
            .unwrap_or_default();
        anyhow!("{}:{line}: {key}{}", path.display(), e.message())
    })?;
    if file.router.is_empty() {
        return Err(anyhow!("{}: no [[router]] defined", path.display()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut names = HashMap::new();
    let mut links = Links::new();
    let mut routers = Vec::new();
    for r in &file.router {
        let name = r.name.get_ref();
        if name.is_empty()
            || name.len() > 32
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(cx.err(
                r.name.span(),
                "name",
                format!(
                    "`{}` is not a router name (1-32 letters, digits, `-`, `_` or `.`)",
                    fib::source::excerpt(name)
                ),
            ));
        }
        if names.insert(name.clone(), ()).is_some() {
            return Err(cx.err(
                r.name.span(),
                "name",
                format!("router `{name}` is defined twice"),
            ));
        }
        routers.push(cx.router(r, base, &mut links)?);
    }
    cx.shared_workers(&file.router, &mut routers)?;
    cx.unique_macs(&file.router)?;
    if let Some((link, (_, span))) = links.iter().find(|(_, (n, _))| *n == 1) {
        return Err(cx.err(
            span.clone(),
            "link",
            format!("memory link `{link}` has one end; memory ports connect in pairs"),
        ));
    }
    let dpdk = cx.dpdk(file.dpdk.as_ref(), &routers)?;
    Ok(Config { routers, dpdk })
}

/// A PCI address `[DDDD:]BB:DD.F` in full form (`0000:00:04.0`), or `None`.
fn pci_address(s: &str) -> Option<String> {
    let (rest, func) = s.rsplit_once('.')?;
    let parts: Vec<&str> = rest.split(':').collect();
    let (dom, bus, dev) = match parts[..] {
        [b, d] => ("0000", b, d),
        [dom, b, d] => (dom, b, d),
        _ => return None,
    };
    let hex = |x: &str, n: usize, max: u32| {
        (x.len() == n && x.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(x, 16).ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    let (dom, bus, dev, func) = (
        hex(dom, 4, 0xffff)?,
        hex(bus, 2, 0xff)?,
        hex(dev, 2, 0x1f)?,
        hex(func, 1, 7)?,
    );
    Some(format!("{dom:04x}:{bus:02x}:{dev:02x}.{func:x}"))
}

/// Memory links seen so far: ends counted, and where the first was named.
type Links = HashMap<String, (usize, Range<usize>)>;

/// A field's value or its default, or an error if it is outside `range`.
fn ranged<T: Copy + PartialOrd>(
    cx: &Ctx,
    v: &Option<Spanned<T>>,
    field: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
    why: &str,
) -> Result<T> {
    match v {
        None => Ok(default),
        Some(x) if range.contains(x.get_ref()) => Ok(*x.get_ref()),
        Some(x) => Err(cx.err(x.span(), field, why)),
    }
}

impl Ctx<'_> {
    /// The `[dpdk]` section, checked: only with dpdk ports, sizes in range; and no two dpdk
    /// ports on one device.
    fn dpdk(&self, d: Option<&DpdkToml>, routers: &[RouterConfig]) -> Result<DpdkOptions> {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for r in routers {
            for p in &r.ports {
                if let Backend::Dpdk { device, .. } = &p.backend {
                    let key = match device {
                        DpdkDevice::Iface { iface, .. } => format!("interface {iface}"),
                        DpdkDevice::Pci(a) => format!("PCI device {a}"),
                        DpdkDevice::Vdev(v) => {
                            format!("device {}", v.split(',').next().unwrap_or(v))
                        }
                    };
                    if let Some(other) = seen.insert(key.clone(), &r.name) {
                        return Err(anyhow!(
                            "{}: dpdk ports of routers `{other}` and `{}` both use {key}",
                            self.path.display(),
                            r.name
                        ));
                    }
                }
            }
        }
        let Some(d) = d else {
            return Ok(DpdkOptions::default());
        };
        if seen.is_empty() {
            return Err(anyhow!(
                "{}: [dpdk]: no port has backend = \"dpdk\"; the section sets up DPDK for them",
                self.path.display()
            ));
        }
        let memory_mb = ranged(
            self,
            &d.memory_mb,
            "memory_mb",
            256,
            64..=65_536,
            "must be 64..=65536 (MiB)",
        )?;
        let mbufs = ranged(
            self,
            &d.mbufs,
            "mbufs",
            0,
            0..=4_194_304,
            "must be 0 (sized from the rings) ..=4194304",
        )?;
        let mut eal = Vec::new();
        for a in &d.eal {
            if !a.get_ref().starts_with('-') {
                return Err(self.err(
                    a.span(),
                    "eal",
                    format!(
                        "`{}`: EAL arguments are options (`--vdev=...`, `-l2`), one per string",
                        fib::source::excerpt(a.get_ref())
                    ),
                ));
            }
            eal.push(a.get_ref().clone());
        }
        Ok(DpdkOptions {
            eal,
            memory_mb,
            mbufs,
            hugepages: d.hugepages.as_ref().map(|h| *h.get_ref()),
        })
    }

    /// Routers that name one worker run on one thread: what one of them writes of its
    /// polling mode and core holds for all (one may set them for the group); two different
    /// values are refused, as one of them would silently lose.
    fn shared_workers(&self, file: &[RouterToml], routers: &mut [RouterConfig]) -> Result<()> {
        // Per worker: the first router that wrote a mode, and one that wrote a core.
        let mut modes: HashMap<String, usize> = HashMap::new();
        let mut cores: HashMap<String, usize> = HashMap::new();
        for (i, r) in file.iter().enumerate() {
            let w = routers[i].worker.clone();
            let span = r.worker.as_ref().map_or(r.name.span(), |w| w.span());
            let clash = |j: usize, what: &str, a: String, b: String| {
                self.err(
                    span.clone(),
                    "worker",
                    format!(
                        "routers `{}` ({what} {a}) and `{}` ({what} {b}) share worker `{w}`, which \
                         has one {what}: give one of them the {what}, or both the same",
                        routers[j].name, routers[i].name
                    ),
                )
            };
            if r.mode.is_some() {
                match modes.get(&w) {
                    Some(&j) if routers[j].mode != routers[i].mode => {
                        return Err(clash(
                            j,
                            "mode",
                            routers[j].mode.to_string(),
                            routers[i].mode.to_string(),
                        ))
                    }
                    Some(_) => {}
                    None => {
                        modes.insert(w.clone(), i);
                    }
                }
            }
            if let Some(c) = routers[i].core {
                match cores.get(&w) {
                    Some(&j) if routers[j].core != Some(c) => {
                        let was = routers[j].core.unwrap_or_default().to_string();
                        return Err(clash(j, "core", was, c.to_string()));
                    }
                    Some(_) => {}
                    None => {
                        cores.insert(w.clone(), i);
                    }
                }
            }
        }
        for i in 0..routers.len() {
            let w = routers[i].worker.clone();
            if let Some(&j) = modes.get(&w) {
                routers[i].mode = routers[j].mode;
            }
            if let Some(&j) = cores.get(&w) {
                routers[i].core = routers[j].core;
            }
        }
        Ok(())
    }

    /// Every port's MAC is its own: two ports with one MAC would answer for each other.
    fn unique_macs(&self, file: &[RouterToml]) -> Result<()> {
        let mut seen: HashMap<Mac, (String, usize)> = HashMap::new();
        for r in file {
            for (k, p) in r.port.iter().enumerate() {
                let Ok(mac) = p.mac.get_ref().parse::<Mac>() else {
                    continue;
                };
                let here = (r.name.get_ref().clone(), k);
                if let Some((rn, pk)) = seen.insert(mac, here) {
                    return Err(self.err(
                        p.mac.span(),
                        "mac",
                        format!(
                            "{mac} is already port {pk}'s of router `{rn}`: MACs must be unique"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// One `[[router]]` section, its ports and neighbours.
    fn router(&self, r: &RouterToml, base: &Path, links: &mut Links) -> Result<RouterConfig> {
        let name = r.name.get_ref().clone();
        let mode = match &r.mode {
            None => PollMode::Adaptive,
            Some(m) => m
                .get_ref()
                .parse()
                .map_err(|e| self.err(m.span(), "mode", e))?,
        };
        // Ids from CONNECTED_BASE up are the router's connected routes.
        let most = dataplane::pipeline::CONNECTED_BASE;
        let nexthops = ranged(
            self,
            &r.nexthops,
            "nexthops",
            16,
            1..=most,
            &format!("must be 1..={most}"),
        )?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if let Some(c) = &r.core {
            if *c.get_ref() >= cores {
                return Err(self.err(
                    c.span(),
                    "core",
                    format!("this machine has cores 0..{}", cores - 1),
                ));
            }
        }
        if r.port.is_empty() {
            return Err(self.err(
                r.name.span(),
                "port",
                format!("router `{name}` has no [[router.port]]"),
            ));
        }
        let queues = ranged(self, &r.queues, "queues", 1, 1..=16, "must be 1..=16")?;
        if queues > 1 {
            if let Some(p) = r
                .port
                .iter()
                .find(|p| ["afxdp", "dpdk"].contains(&p.backend.get_ref().as_str()))
            {
                return Err(self.err(
                    p.backend.span(),
                    "queues",
                    format!(
                        "{} ports have one queue so far; use queues = 1 or afpacket/memory ports",
                        p.backend.get_ref()
                    ),
                ));
            }
        }
        let ports = r
            .port
            .iter()
            .map(|p| self.port(p, links))
            .collect::<Result<Vec<_>>>()?;
        let neighbours = r
            .neighbour
            .iter()
            .map(|n| self.neighbour(n, &name, &ports, nexthops, queues))
            .collect::<Result<Vec<_>>>()?;
        for (i, n) in neighbours.iter().enumerate() {
            if let Some(j) = neighbours[..i].iter().position(|m| m.nexthop == n.nexthop) {
                let at = self.line(r.neighbour[j].nexthop.span());
                return Err(self.err(
                    r.neighbour[i].nexthop.span(),
                    "nexthop",
                    format!(
                        "next hop {} already has a neighbour (line {at}): one neighbour per next hop",
                        n.nexthop
                    ),
                ));
            }
        }
        Ok(RouterConfig {
            routes: r.routes.as_ref().map(|p| base.join(p.get_ref())),
            nexthops,
            lenient: r.lenient,
            class_e_unicast: r.class_e_unicast,
            forward_directed_broadcast: r.forward_directed_broadcast,
            accept_source_route: r.accept_source_route,
            queues,
            mode,
            worker: r
                .worker
                .as_ref()
                .map_or_else(|| format!("worker-{name}"), |w| w.get_ref().clone()),
            core: r.core.as_ref().map(|c| *c.get_ref()),
            ports,
            neighbours,
            name,
        })
    }

    /// One `[[router.port]]` section.
    fn port(&self, p: &PortToml, links: &mut Links) -> Result<PortConfig> {
        if let Some(r) = p.ring.as_ref().filter(|_| p.backend.get_ref() == "memory") {
            return Err(self.err(
                r.span(),
                "ring",
                format!(
                    "sizes AF_XDP, AF_PACKET and DPDK rings; `{}` ports have none to size",
                    p.backend.get_ref()
                ),
            ));
        }
        let backend = self.backend(p, links)?;
        let mac = p
            .mac
            .get_ref()
            .parse::<Mac>()
            .ok()
            .filter(|m| !m.is_multicast() && *m != Mac::ZERO)
            .ok_or_else(|| {
                self.err(
                    p.mac.span(),
                    "mac",
                    format!(
                        "`{}` is not a unicast MAC like 02:00:00:00:00:01",
                        p.mac.get_ref()
                    ),
                )
            })?;
        let addresses = p
            .addresses
            .iter()
            .map(|a| {
                a.get_ref().parse::<IpNet>().map_err(|_| {
                    self.err(
                        a.span(),
                        "addresses",
                        format!("`{}` is not ADDRESS/LENGTH", a.get_ref()),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mtu = ranged(self, &p.mtu, "mtu", 1500, 576..=9000, "must be 576..=9000")?;
        Ok(PortConfig {
            backend,
            mac,
            addresses,
            mtu,
        })
    }

    /// A port's backend and its own fields.
    fn backend(&self, p: &PortToml, links: &mut Links) -> Result<Backend> {
        let b = p.backend.get_ref().as_str();
        // A field of another backend is a mistake, not something to ignore.
        type Owned<'a> = (&'a str, Option<Range<usize>>, &'a [&'a str]);
        let foreign: [Owned; 7] = [
            ("link", p.link.as_ref().map(|x| x.span()), &["memory"]),
            (
                "iface",
                p.iface.as_ref().map(|x| x.span()),
                &["afpacket", "afxdp", "dpdk"],
            ),
            ("fanout", p.fanout.as_ref().map(|x| x.span()), &["afpacket"]),
            (
                "xdp_mode",
                p.xdp_mode.as_ref().map(|x| x.span()),
                &["afxdp"],
            ),
            ("pmd", p.pmd.as_ref().map(|x| x.span()), &["dpdk"]),
            ("vdev", p.vdev.as_ref().map(|x| x.span()), &["dpdk"]),
            ("pci", p.pci.as_ref().map(|x| x.span()), &["dpdk"]),
        ];
        let known = ["memory", "afpacket", "afxdp", "dpdk"].contains(&b);
        for (field, span, owners) in foreign {
            if let Some(span) = span.filter(|_| known && !owners.contains(&b)) {
                return Err(self.err(
                    span,
                    field,
                    format!("belongs to {} ports, not `{b}` ones", owners.join("/")),
                ));
            }
        }
        match b {
            "memory" => {
                let Some(link) = &p.link else {
                    return Err(self.err(
                        p.backend.span(),
                        "link",
                        "memory ports need `link = \"NAME\"`",
                    ));
                };
                let e = links
                    .entry(link.get_ref().clone())
                    .or_insert((0, link.span()));
                e.0 += 1;
                if e.0 > 2 {
                    return Err(self.err(
                        link.span(),
                        "link",
                        format!("memory link `{}` has more than two ends", link.get_ref()),
                    ));
                }
                Ok(Backend::Memory {
                    link: link.get_ref().clone(),
                })
            }
            b @ ("afpacket" | "afxdp") => {
                let Some(iface) = &p.iface else {
                    return Err(self.err(
                        p.backend.span(),
                        "iface",
                        format!("{b} ports need `iface = \"NAME\"` (a Linux interface)"),
                    ));
                };
                let name = iface.get_ref();
                if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                    return Err(self.err(
                        iface.span(),
                        "iface",
                        format!(
                            "`{name}` is not an interface name (1-15 characters, no `/` or spaces)"
                        ),
                    ));
                }
                if b == "afpacket" {
                    return Ok(Backend::AfPacket {
                        iface: name.clone(),
                        fanout: p.fanout.as_ref().map(|f| *f.get_ref()),
                        qdisc_bypass: p.qdisc_bypass.as_ref().is_none_or(|q| *q.get_ref()),
                        tx_ring: match &p.ring {
                            None => dataplane::port::afpacket::DEFAULT_TX_RING,
                            Some(r) => {
                                dataplane::port::afpacket::check_tx_ring(*r.get_ref())
                                    .map_err(|e| self.err(r.span(), "ring", e))?;
                                *r.get_ref()
                            }
                        },
                    });
                }
                if let Some(q) = &p.qdisc_bypass {
                    return Err(self.err(
                        q.span(),
                        "qdisc_bypass",
                        "only afpacket ports have a qdisc to bypass".to_string(),
                    ));
                }
                let xdp_mode = match &p.xdp_mode {
                    None => XdpMode::Auto,
                    Some(m) => m.get_ref().parse().map_err(|_| {
                        self.err(
                            m.span(),
                            "xdp_mode",
                            format!("`{}`: must be auto, native or generic", m.get_ref()),
                        )
                    })?,
                };
                let ring = match &p.ring {
                    None => dataplane::port::afxdp::DEFAULT_RING,
                    Some(r) => {
                        dataplane::port::afxdp::check_ring(*r.get_ref())
                            .map_err(|e| self.err(r.span(), "ring", e))?;
                        *r.get_ref()
                    }
                };
                Ok(Backend::AfXdp {
                    iface: name.clone(),
                    xdp_mode,
                    ring,
                })
            }
            "dpdk" => self.dpdk_port(p),
            other => Err(self.err(
                p.backend.span(),
                "backend",
                format!("unknown backend `{other}` (memory, afpacket, afxdp, dpdk)"),
            )),
        }
    }

    /// A dpdk port's device: `iface` (with `pmd`) or `vdev`, one of them.
    fn dpdk_port(&self, p: &PortToml) -> Result<Backend> {
        if let Some(q) = &p.qdisc_bypass {
            return Err(self.err(
                q.span(),
                "qdisc_bypass",
                "only afpacket ports have a qdisc to bypass".to_string(),
            ));
        }
        let ring = match &p.ring {
            None => DPDK_DEFAULT_RING,
            Some(r) if r.get_ref().is_power_of_two() && (64..=16_384).contains(r.get_ref()) => {
                *r.get_ref() as u16
            }
            Some(r) => {
                return Err(self.err(
                    r.span(),
                    "ring",
                    format!(
                        "{}: must be a power of two from 64 to 16384 (descriptors per queue)",
                        r.get_ref()
                    ),
                ))
            }
        };
        if let Some(a) = &p.pci {
            if let Some((field, span)) = p
                .iface
                .as_ref()
                .map(|x| ("iface", x.span()))
                .or_else(|| p.vdev.as_ref().map(|x| ("vdev", x.span())))
                .or_else(|| p.pmd.as_ref().map(|x| ("pmd", x.span())))
            {
                return Err(self.err(
                    span,
                    field,
                    "a dpdk port has one of `iface`, `vdev` or `pci`",
                ));
            }
            return match pci_address(a.get_ref()) {
                Some(addr) => Ok(Backend::Dpdk {
                    device: DpdkDevice::Pci(addr),
                    ring,
                }),
                None => Err(self.err(
                    a.span(),
                    "pci",
                    format!(
                        "`{}` is not a PCI address like 0000:00:04.0 (domain:bus:device.function)",
                        fib::source::excerpt(a.get_ref())
                    ),
                )),
            };
        }
        let device = match (&p.iface, &p.vdev) {
            (Some(i), Some(v)) => {
                return Err(self.err(
                    v.span(),
                    "vdev",
                    format!(
                        "a dpdk port has `iface` (a Linux interface, `{}`) or `vdev` (a DPDK device), not both",
                        i.get_ref()
                    ),
                ))
            }
            (None, None) => {
                return Err(self.err(
                    p.backend.span(),
                    "iface",
                    "dpdk ports need `iface = \"NAME\"` (a Linux interface), `vdev = \"net_memif0,...\"` or `pci = \"0000:00:04.0\"`",
                ))
            }
            (Some(i), None) => {
                let name = i.get_ref();
                if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', ',', '=']) {
                    return Err(self.err(
                        i.span(),
                        "iface",
                        format!("`{name}` is not an interface name (1-15 characters, no `/`, `,`, `=` or spaces)"),
                    ));
                }
                let pmd = match &p.pmd {
                    None => "af_packet".to_string(),
                    Some(m) if ["af_packet", "af_xdp"].contains(&m.get_ref().as_str()) => {
                        m.get_ref().clone()
                    }
                    Some(m) => {
                        return Err(self.err(
                            m.span(),
                            "pmd",
                            format!(
                                "`{}`: must be af_packet or af_xdp (other drivers: `vdev = \"...\"`)",
                                fib::source::excerpt(m.get_ref())
                            ),
                        ))
                    }
                };
                DpdkDevice::Iface {
                    iface: name.clone(),
                    pmd,
                }
            }
            (None, Some(v)) => {
                if let Some(m) = &p.pmd {
                    return Err(self.err(
                        m.span(),
                        "pmd",
                        "goes with `iface`; a `vdev` names its driver itself",
                    ));
                }
                let text = v.get_ref();
                let name = text.split(',').next().unwrap_or("");
                if !name.starts_with("net_")
                    || name.len() < 5
                    || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    || text.contains(char::is_whitespace)
                {
                    return Err(self.err(
                        v.span(),
                        "vdev",
                        format!(
                            "`{}` is not a DPDK virtual device like `net_memif0,role=server,socket=/run/vr.sock`",
                            fib::source::excerpt(text)
                        ),
                    ));
                }
                DpdkDevice::Vdev(text.clone())
            }
        };
        Ok(Backend::Dpdk { device, ring })
    }

    /// One `[[router.neighbour]]` section of router `router`.
    fn neighbour(
        &self,
        n: &NeighbourToml,
        router: &str,
        ports: &[PortConfig],
        nexthops: u32,
        queues: usize,
    ) -> Result<NeighbourConfig> {
        let Some(port) = ports.get(usize::from(*n.port.get_ref())) else {
            return Err(self.err(
                n.port.span(),
                "port",
                format!("router `{router}` has ports 0..{}", ports.len() - 1),
            ));
        };
        if *n.nexthop.get_ref() >= nexthops {
            return Err(self.err(
                n.nexthop.span(),
                "nexthop",
                format!("must be below nexthops = {nexthops}"),
            ));
        }
        let target = match (&n.mac, &n.gateway) {
            (Some(m), None) => NeighbourTarget::Static(
                m.get_ref()
                    .parse::<Mac>()
                    .ok()
                    .filter(|m| !m.is_multicast() && *m != Mac::ZERO)
                    .ok_or_else(|| {
                        self.err(
                            m.span(),
                            "mac",
                            format!("`{}` is not a unicast MAC", m.get_ref()),
                        )
                    })?,
            ),
            (None, Some(g)) if queues > 1 => {
                return Err(self.err(
                    g.span(),
                    "gateway",
                    "a router with queues > 1 needs static neighbours (`mac = ...`): \
                     ARP/ND answers reach only one of its queues",
                ))
            }
            (None, Some(g)) => {
                let gw: IpAddr = g.get_ref().parse().map_err(|_| {
                    self.err(
                        g.span(),
                        "gateway",
                        format!("`{}` is not an address", g.get_ref()),
                    )
                })?;
                // A gateway is asked for by ARP/ND from the port's address of its family (from
                // 0.0.0.0 or link-local on a port with none, an unnumbered link): it must be
                // on one of those subnets, or IPv6 link-local, which every port has.
                let family: Vec<&IpNet> = port
                    .addresses
                    .iter()
                    .filter(|a| a.addr().is_ipv4() == gw.is_ipv4())
                    .collect();
                let link_local = matches!(gw, IpAddr::V6(a) if a.is_unicast_link_local());
                if !family.is_empty() && !link_local && !family.iter().any(|a| a.contains(&gw)) {
                    let nets: Vec<String> = family.iter().map(|a| a.trunc().to_string()).collect();
                    return Err(self.err(
                        g.span(),
                        "gateway",
                        format!(
                            "{gw} is on none of port {}'s subnets ({}): it could not be resolved",
                            n.port.get_ref(),
                            nets.join(", ")
                        ),
                    ));
                }
                NeighbourTarget::Gateway(gw)
            }
            _ => {
                return Err(self.err(
                    n.nexthop.span(),
                    "neighbour",
                    "give exactly one of `mac` (static) or `gateway` (resolved)",
                ))
            }
        };
        Ok(NeighbourConfig {
            nexthop: *n.nexthop.get_ref(),
            port: *n.port.get_ref(),
            target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[router]]
name = "vr0"
mode = "busy"
nexthops = 4

[[router.port]]
backend = "memory"
link = "a"
mac = "02:00:00:00:00:01"
addresses = ["198.18.0.1/24", "2001:2::1/64"]

[[router.port]]
backend = "memory"
link = "b"
mac = "02:00:00:00:00:02"
addresses = ["198.18.1.1/24"]

[[router.neighbour]]
nexthop = 0
port = 1
gateway = "198.18.1.2"

[[router]]
name = "vr1"
[[router.port]]
backend = "memory"
link = "b"
mac = "02:00:00:00:01:01"
[[router.port]]
backend = "memory"
link = "a"
mac = "02:00:00:00:01:02"
"#;

    #[test]
    fn the_shipped_example_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vr.toml");
        let routers = load(&path).unwrap();
        assert_eq!(routers.len(), 2);
        assert_eq!(routers[0].worker, routers[1].worker);
        assert!(routers[0].routes.as_ref().unwrap().exists());
        assert_eq!(
            routers[1].neighbours[0].target,
            NeighbourTarget::Static(Mac([2, 0, 0, 0, 0, 2]))
        );
    }

    #[test]
    fn parses_a_good_file() {
        let r = parse(Path::new("vr.toml"), GOOD).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].mode, r[0].nexthops, r[0].ports.len()),
            (PollMode::Busy, 4, 2)
        );
        assert_eq!(r[0].ports[0].addresses.len(), 2);
        assert_eq!(
            r[0].neighbours[0].target,
            NeighbourTarget::Gateway("198.18.1.2".parse().unwrap())
        );
        assert_eq!(r[1].mode, PollMode::Adaptive);
        assert_eq!(r[1].worker, "worker-vr1");
    }

    /// Dpdk ports: `iface` (with `pmd`) or `vdev`, the `[dpdk]` section, and their errors.
    #[test]
    fn dpdk_ports_and_their_errors() {
        let good = r#"[dpdk]
memory_mb = 128
eal = ["--log-level=*:info"]
[[router]]
name = "d"
[[router.port]]
backend = "dpdk"
iface = "veth0"
mac = "02:00:00:00:00:01"
[[router.port]]
backend = "dpdk"
vdev = "net_memif0,role=server,socket=/run/m.sock"
ring = 512
mac = "02:00:00:00:00:02"
"#;
        let c = parse_all(Path::new("vr.toml"), good).unwrap();
        assert_eq!(
            c.routers[0].ports[0].backend,
            Backend::Dpdk {
                device: DpdkDevice::Iface {
                    iface: "veth0".into(),
                    pmd: "af_packet".into()
                },
                ring: DPDK_DEFAULT_RING
            }
        );
        assert_eq!(
            c.routers[0].ports[1].backend,
            Backend::Dpdk {
                device: DpdkDevice::Vdev("net_memif0,role=server,socket=/run/m.sock".into()),
                ring: 512
            }
        );
        assert_eq!(
            c.dpdk,
            DpdkOptions {
                eal: vec!["--log-level=*:info".into()],
                memory_mb: 128,
                mbufs: 0,
                hugepages: None,
            }
        );
        let cases = [
            (
                "iface = \"veth0\"",
                "iface = \"veth0\"\nvdev = \"net_null0\"",
                "vr.toml:9: vdev: a dpdk port has `iface`",
            ),
            ("iface = \"veth0\"", "", "vr.toml:7: iface: dpdk ports need"),
            (
                "iface = \"veth0\"",
                "iface = \"veth0\"\npmd = \"e1000\"",
                "vr.toml:9: pmd: `e1000`: must be af_packet or af_xdp",
            ),
            (
                "ring = 512",
                "ring = 500",
                "vr.toml:13: ring: 500: must be a power of two from 64 to 16384",
            ),
            (
                "vdev = \"net_memif0",
                "vdev = \"memif0",
                "vr.toml:12: vdev: `memif0,role=server",
            ),
            (
                "vdev = \"net_memif0",
                "pmd = \"af_xdp\"\nvdev = \"net_memif0",
                "vr.toml:12: pmd: goes with `iface`",
            ),
            (
                "memory_mb = 128",
                "memory_mb = 16",
                "vr.toml:2: memory_mb: must be 64..=65536",
            ),
            (
                "eal = [\"--log",
                "eal = [\"log",
                "vr.toml:3: eal: `log-level=*:info`: EAL arguments are options",
            ),
            (
                "name = \"d\"",
                "name = \"d\"\nqueues = 2",
                "vr.toml:8: queues: dpdk ports have one queue",
            ),
            (
                "backend = \"dpdk\"\niface",
                "backend = \"afpacket\"\npmd = \"af_xdp\"\niface",
                "vr.toml:8: pmd: belongs to dpdk ports, not `afpacket` ones",
            ),
            (
                "vdev = \"net_memif0,role=server,socket=/run/m.sock\"",
                "iface = \"veth0\"",
                "vr.toml: dpdk ports of routers `d` and `d` both use interface veth0",
            ),
        ];
        for (from, to, want) in cases {
            assert!(good.contains(from), "{from}");
            let text = good.replacen(from, to, 1);
            let err = parse_all(Path::new("vr.toml"), &text)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(want), "got `{err}`, want `{want}`");
        }
        // PCI devices: the address in full form; hugepages unless the section says otherwise.
        let pci = good.replace("iface = \"veth0\"", "pci = \"00:04.0\"");
        let c = parse_all(Path::new("vr.toml"), &pci).unwrap();
        assert_eq!(
            c.routers[0].ports[0].backend,
            Backend::Dpdk {
                device: DpdkDevice::Pci("0000:00:04.0".into()),
                ring: DPDK_DEFAULT_RING
            }
        );
        assert_eq!(c.dpdk.hugepages, None);
        for (bad, want) in [
            ("00:04", "vr.toml:8: pci: `00:04` is not a PCI address"),
            ("00:20.0", "vr.toml:8: pci: `00:20.0` is not a PCI address"),
            (
                "0:00:04.0",
                "vr.toml:8: pci: `0:00:04.0` is not a PCI address",
            ),
        ] {
            let text = good.replace("iface = \"veth0\"", &format!("pci = \"{bad}\""));
            let err = parse_all(Path::new("vr.toml"), &text)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(want), "{err}");
        }
        let both = good.replace(
            "iface = \"veth0\"",
            "iface = \"veth0\"\npci = \"0000:00:04.0\"",
        );
        let err = parse_all(Path::new("vr.toml"), &both)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("vr.toml:8: iface: a dpdk port has one of"),
            "{err}"
        );
        let text = good.replace("memory_mb = 128", "memory_mb = 128\nhugepages = true");
        assert_eq!(
            parse_all(Path::new("vr.toml"), &text)
                .unwrap()
                .dpdk
                .hugepages,
            Some(true)
        );
        // A [dpdk] section needs dpdk ports.
        let text = format!("[dpdk]\nmemory_mb = 128\n{GOOD}");
        let err = parse_all(Path::new("vr.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[dpdk]: no port has backend = \"dpdk\""),
            "{err}"
        );
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases: [(&str, &str, &str); 19] = [
            // Accepted but wrong before (issue 19): each was taken and one value silently won.
            ("name = \"vr0\"", "name = \"\"", "vr.toml:3: name: `` is not a router name"),
            (
                "nexthops = 4",
                "nexthops = 4\nlenient = \"yes\"",
                "vr.toml:6: lenient: invalid type: string \"yes\", expected a boolean",
            ),
            (
                "gateway = \"198.18.1.2\"",
                "gateway = \"198.18.0.2\"",
                "vr.toml:22: gateway: 198.18.0.2 is on none of port 1's subnets (198.18.1.0/24)",
            ),
            (
                "gateway = \"198.18.1.2\"",
                "gateway = \"198.18.1.2\"\n[[router.neighbour]]\nnexthop = 0\nport = 0\nmac = \"02:00:00:00:00:07\"",
                "vr.toml:24: nexthop: next hop 0 already has a neighbour (line 20)",
            ),
            (
                "link = \"a\"",
                "link = \"a\"\niface = \"eth0\"",
                "vr.toml:10: iface: belongs to afpacket/afxdp/dpdk ports, not `memory` ones",
            ),
            (
                "mac = \"02:00:00:00:00:01\"",
                "mac = \"00:00:00:00:00:00\"",
                "vr.toml:10: mac: `00:00:00:00:00:00` is not a unicast MAC",
            ),
            (
                "mac = \"02:00:00:00:01:01\"",
                "mac = \"02:00:00:00:00:01\"",
                "vr.toml:29: mac: 02:00:00:00:00:01 is already port 0's of router `vr0`",
            ),
            (
                "name = \"vr1\"",
                "name = \"vr1\"\nworker = \"worker-vr0\"\nmode = \"adaptive\"",
                "vr.toml:26: worker: routers `vr0` (mode busy) and `vr1` (mode adaptive) share worker `worker-vr0`",
            ),
            (
                "mode = \"busy\"",
                "mode = \"busy\"\ncore = 0\nworker = \"w\"",
                "",
            ),
            (
                "mac = \"02:00:00:00:00:01\"",
                "mac = \"zz\"",
                "vr.toml:10: mac: `zz` is not a unicast MAC",
            ),
            (
                "mode = \"busy\"",
                "mode = \"spin\"",
                "vr.toml:4: mode: polling mode must be busy, adaptive or interrupt",
            ),
            (
                "nexthops = 4",
                "nexthops = 0",
                "vr.toml:5: nexthops: must be",
            ),
            (
                "addresses = [\"198.18.0.1/24\"",
                "addresses = [\"198.18.0.1/33\"",
                "vr.toml:11: addresses: `198.18.0.1/33` is not ADDRESS/LENGTH",
            ),
            (
                "backend = \"memory\"\nlink = \"a\"\nmac = \"02:00:00:00:00:01\"",
                "backend = \"dpdk\"\nlink = \"a\"\nmac = \"02:00:00:00:00:01\"",
                "vr.toml:9: link: belongs to memory ports, not `dpdk` ones",
            ),
            (
                "port = 1\n",
                "port = 7\n",
                "vr.toml:21: port: router `vr0` has ports 0..1",
            ),
            (
                "gateway = \"198.18.1.2\"",
                "gateway = \"198.18.1.2\"\nmac = \"02:00:00:00:00:09\"",
                "vr.toml:20: neighbour: give exactly one",
            ),
            (
                "nexthops = 4",
                "nexthops = 4\ncolour = \"red\"",
                "vr.toml:6: unknown field `colour`",
            ),
            (
                "nexthops = 4",
                "nexthops = 4\nqueues = 2",
                "vr.toml:23: gateway: a router with queues > 1 needs static neighbours",
            ),
            (
                "nexthops = 4",
                "nexthops = 4\nqueues = 40",
                "vr.toml:6: queues: must be 1..=16",
            ),
        ];
        for (from, to, want) in cases {
            assert!(GOOD.contains(from), "{from}");
            let text = GOOD.replacen(from, to, 1);
            if want.is_empty() {
                // Valid: one router sets the shared worker's mode and core for both.
                let text = text.replacen("name = \"vr1\"", "name = \"vr1\"\nworker = \"w\"", 1);
                let r = parse(Path::new("vr.toml"), &text).unwrap();
                assert_eq!((r[1].mode, r[1].core), (PollMode::Busy, Some(0)));
                let at = text.rfind("worker = \"w\"").unwrap();
                let clash = format!("{}core = 1\n{}", &text[..at], &text[at..]);
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                if cores > 1 {
                    let err = parse(Path::new("vr.toml"), &clash).unwrap_err().to_string();
                    assert!(
                        err.contains("(core 0) and `vr1` (core 1) share worker `w`"),
                        "{err}"
                    );
                }
                continue;
            }
            let err = parse(Path::new("vr.toml"), &text).unwrap_err().to_string();
            assert!(err.starts_with(want), "got `{err}`, want `{want}`");
        }
        // AF_XDP ring sizes: checked on afxdp ports, refused elsewhere.
        let xdp = GOOD.replace(
            "backend = \"memory\"\nlink = \"a\"",
            "backend = \"afxdp\"\niface = \"veth0\"\nring = 1024",
        );
        let r = parse(Path::new("vr.toml"), &xdp).unwrap();
        assert!(matches!(
            r[0].ports[0].backend,
            Backend::AfXdp { ring: 1024, .. }
        ));
        let r = parse(Path::new("vr.toml"), &xdp.replace("\nring = 1024", "")).unwrap();
        assert!(matches!(
            r[0].ports[0].backend,
            Backend::AfXdp {
                ring: dataplane::port::afxdp::DEFAULT_RING,
                ..
            }
        ));
        for bad in ["1000", "128", "65536"] {
            let text = xdp.replace("ring = 1024", &format!("ring = {bad}"));
            let err = parse(Path::new("vr.toml"), &text).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("vr.toml:10: ring: {bad}: must be a power of two")),
                "{err}"
            );
        }
        let text = GOOD.replacen("link = \"a\"", "link = \"a\"\nring = 1024", 1);
        let err = parse(Path::new("vr.toml"), &text).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "vr.toml:10: ring: sizes AF_XDP, AF_PACKET and DPDK rings; `memory` ports"
            ),
            "{err}"
        );
        let one_end = GOOD.replacen(
            "link = \"b\"\nmac = \"02:00:00:00:01:01\"",
            "link = \"c\"\nmac = \"02:00:00:00:01:01\"",
            1,
        );
        let err = parse(Path::new("vr.toml"), &one_end)
            .unwrap_err()
            .to_string();
        assert!(err.contains("has one end"), "{err}");
    }
}
