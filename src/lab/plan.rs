//! The plan of a lab: namespaces, veth links, addresses, kernel routes and each router's
//! setup, computed from a [`LabSpec`] and the (already relocated) table without touching the
//! system. [`super::apply`] carries it out. Being pure, the plan is unit-tested: which
//! addresses where, which routes, and the configs the vrouters get.
//!
//! Addressing: link `i` is 198.18.i.0/24 (left end `.1`, right end `.2`) and 2001:2:0:i::/64
//! (RFC 2544 and RFC 5180 benchmarking space); ends are `e<i>l` and `e<i>r`, with MACs
//! `02:76:72:<i>:<side>`. Destinations are in 240.0.0.0/4 and 3fff::/20, which the sink owns.

use std::fmt::Write as _;

use dataplane::wire::ethernet::Mac;
use ipnet::IpNet;

use super::{LabSpec, Topology, NS_PREFIX};
use crate::dut::Dut;
use crate::router::config::{self, spanned, NeighbourToml, PortToml, RouterToml};
use crate::vm::{self, GuestRouter};

/// The namespace of `node` (`gen`, `r1`, `sink`) in lab `lab`.
pub fn ns(lab: &str, node: &str) -> String {
    format!("{NS_PREFIX}{lab}-{node}")
}

/// Locally administered MAC of the end of link `link` on side 1 (left) or 2 (right).
pub fn mac(link: usize, side: u8) -> Mac {
    Mac([2, 0x76, 0x72, (link >> 8) as u8, link as u8, side])
}

/// The IPv4 address of link `link`'s end on `side`.
pub fn v4(link: usize, side: u8) -> String {
    format!("198.18.{link}.{side}")
}

/// The IPv6 address of link `link`'s end on `side`.
pub fn v6(link: usize, side: u8) -> String {
    format!("2001:2:0:{link:x}::{side}")
}

/// Router `k`'s input and output links (1-based `k`).
pub fn router_links(t: Topology, k: usize) -> (usize, usize) {
    match t {
        Topology::Chain => (k - 1, k),
        Topology::Parallel => (2 * k, 2 * k + 1),
    }
}

/// A veth pair: link `index` from `left` (end `e<i>l`) to `right` (end `e<i>r`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: usize,
    pub left: String,
    pub right: String,
}

impl Link {
    pub fn left_dev(&self) -> String {
        format!("e{}l", self.index)
    }
    pub fn right_dev(&self) -> String {
        format!("e{}r", self.index)
    }
}

/// An address on an interface: `ip -n NS addr add CIDR dev DEV` (IPv6 without DAD).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub ns: String,
    pub dev: String,
    pub cidr: String,
}

/// A kernel route: `ip -n NS ARGS...` (`-4 route add DST via GW`, `route add local ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub ns: String,
    pub args: Vec<String>,
}

/// What runs in router namespace `r<k>`.
#[derive(Clone, Debug)]
pub enum RouterPlan {
    /// The Linux kernel: forwarding on, routes loaded with `ip -batch`.
    Kernel {
        k: usize,
        ns: String,
        sysctls: Vec<String>,
        /// `ip -batch` lines.
        batch: String,
        routes: usize,
    },
    /// A vrouter process with this config and route table (written to files named after `k`).
    Vrouter {
        k: usize,
        ns: String,
        sysctls: Vec<String>,
        /// The route table as vrouter text.
        table: String,
        /// The router's configuration; its `routes` is filled in with the table's path.
        config: Box<RouterToml>,
        routes: usize,
        backend: &'static str,
        devs: (String, String),
        /// Run it in a container of its own: new PID, mount, UTS and IPC namespaces inside
        /// the router's network namespace (`unshare`), as an OpenVZ-style container would.
        container: bool,
    },
    /// A QEMU guest running vrouter or the kernel, its NICs on taps bridged to the router
    /// namespace's veth ends.
    Guest {
        k: usize,
        ns: String,
        /// The router namespace's own stack stays out of the way (no IPv6, no forwarding).
        sysctls: Vec<String>,
        bridges: Vec<Bridge>,
        guest: vm::qemu::Guest,
        /// The guest's configuration files (`guest.env`, `vr.toml`, `routes.txt`,
        /// `kernel.batch`), appended to its initramfs or written to its config disk.
        files: Vec<(String, Vec<u8>)>,
        router: GuestRouter,
        routes: usize,
    },
}

/// A bridge in a guest's router namespace joining a tap (the guest's NIC) to a veth end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bridge {
    pub name: String,
    pub tap: String,
    pub veth: String,
    /// The veth end's new MAC: the guest's NIC carries the router's MAC, and a bridge port
    /// with that MAC would keep the guest's frames for the bridge itself.
    pub veth_mac: Mac,
}

/// Everything a lab is made of, in the order it is built.
#[derive(Clone, Debug)]
pub struct Plan {
    /// gen, r1..rN, sink.
    pub namespaces: Vec<String>,
    pub links: Vec<Link>,
    /// Addresses of the generator, the sink and kernel routers.
    pub addresses: Vec<Address>,
    /// Routes of the generator and the sink.
    pub routes: Vec<Route>,
    pub routers: Vec<RouterPlan>,
}

fn route(ns: &str, args: &[&str]) -> Route {
    Route {
        ns: ns.to_string(),
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// The both-family addresses of one end of a link.
fn host(ns: &str, dev: &str, link: usize, side: u8) -> [Address; 2] {
    [
        Address {
            ns: ns.into(),
            dev: dev.into(),
            cidr: format!("{}/24", v4(link, side)),
        },
        Address {
            ns: ns.into(),
            dev: dev.into(),
            cidr: format!("{}/64", v6(link, side)),
        },
    ]
}

/// The plan of the lab `spec` asks for, with `table` (prefixes already in lab space) loaded
/// into every router.
pub fn plan(spec: &LabSpec, table: &[IpNet]) -> Plan {
    let n = spec.routers;
    let name = &spec.name;
    let gen = ns(name, "gen");
    let sink = ns(name, "sink");
    let routers: Vec<String> = (1..=n).map(|k| ns(name, &format!("r{k}"))).collect();
    let mut namespaces = vec![gen.clone()];
    namespaces.extend(routers.iter().cloned());
    namespaces.push(sink.clone());

    // Chain: link i joins node i (gen = 0) to node i+1 (sink = n+1). Parallel: link 2k joins
    // gen to router k, link 2k+1 router k to sink.
    let links: Vec<Link> = match spec.topology {
        Topology::Chain => (0..=n)
            .map(|i| Link {
                index: i,
                left: if i == 0 {
                    gen.clone()
                } else {
                    routers[i - 1].clone()
                },
                right: if i == n {
                    sink.clone()
                } else {
                    routers[i].clone()
                },
            })
            .collect(),
        Topology::Parallel => (1..=n)
            .flat_map(|k| {
                [
                    Link {
                        index: 2 * k,
                        left: gen.clone(),
                        right: routers[k - 1].clone(),
                    },
                    Link {
                        index: 2 * k + 1,
                        left: routers[k - 1].clone(),
                        right: sink.clone(),
                    },
                ]
            })
            .collect(),
    };

    // The generator's and the sink's links (chain: one each; parallel: one per router). The
    // generator routes lab space through router 1; the sink answers each generator link back
    // through the router that serves it.
    let mut addresses = Vec::new();
    let mut routes = Vec::new();
    let parallel = spec.topology == Topology::Parallel;
    for k in 1..=n {
        let (inl, outl) = router_links(spec.topology, k);
        if parallel || k == 1 {
            addresses.extend(host(&gen, &format!("e{inl}l"), inl, 1));
        }
        if parallel || k == n {
            addresses.extend(host(&sink, &format!("e{outl}r"), outl, 2));
        }
        if parallel {
            let net4 = format!("198.18.{inl}.0/24");
            let net6 = format!("2001:2:0:{inl:x}::/64");
            routes.push(route(&sink, &["route", "add", &net4, "via", &v4(outl, 1)]));
            routes.push(route(
                &sink,
                &["-6", "route", "add", &net6, "via", &v6(outl, 1)],
            ));
        }
    }
    let (first_in, _) = router_links(spec.topology, 1);
    let (via4, via6) = (v4(first_in, 2), v6(first_in, 2));
    for (fam, dst, via) in [
        ("-4", "240.0.0.0/4", &via4),
        ("-4", "198.18.0.0/15", &via4),
        ("-6", "3fff::/20", &via6),
        ("-6", "2001:2::/48", &via6),
    ] {
        routes.push(route(&gen, &[fam, "route", "add", dst, "via", via]));
    }
    routes.push(route(
        &sink,
        &["route", "add", "local", "240.0.0.0/4", "dev", "lo"],
    ));
    routes.push(route(
        &sink,
        &["-6", "route", "add", "local", "3fff::/20", "dev", "lo"],
    ));
    if !parallel {
        routes.push(route(
            &sink,
            &["route", "add", "198.18.0.0/15", "via", &v4(n, 1)],
        ));
        routes.push(route(
            &sink,
            &["-6", "route", "add", "2001:2::/48", "via", &v6(n, 1)],
        ));
    }

    let routers = (1..=n)
        .map(|k| router_plan(spec, k, &routers[k - 1], table, &mut addresses))
        .collect();
    Plan {
        namespaces,
        links,
        addresses,
        routes,
        routers,
    }
}

/// Router `k`'s setup; a kernel router's own addresses go to `addresses`.
fn router_plan(
    spec: &LabSpec,
    k: usize,
    r: &str,
    table: &[IpNet],
    addresses: &mut Vec<Address>,
) -> RouterPlan {
    let n = spec.routers;
    let (inl, outl) = router_links(spec.topology, k);
    let (indev, outdev) = (format!("e{inl}r"), format!("e{outl}l"));
    let kernel = spec.dut.is_kernel();
    if spec.dut.is_guest() {
        return guest_plan(spec, k, r, table);
    }
    // Link routes: the input link and links left of it go left, the output link and links
    // right of it go right (the hosts on a router's own links are its two neighbours).
    let span = match spec.topology {
        Topology::Chain => 0..=n,
        Topology::Parallel => inl..=outl,
    };
    let mut links: Vec<(String, String, bool)> = Vec::new();
    for j in span {
        if kernel && (j == inl || j == outl) {
            continue; // the kernel has connected routes for its own links
        }
        links.push((
            format!("198.18.{j}.0/24"),
            format!("2001:2:0:{j:x}::/64"),
            j >= outl,
        ));
    }
    let routes = table.len() + 2 + 2 * links.len();
    if kernel {
        addresses.extend(host(r, &indev, inl, 2));
        addresses.extend(host(r, &outdev, outl, 1));
        let (right4, right6) = (v4(outl, 2), v6(outl, 2));
        let (left4, left6) = (v4(inl, 1), v6(inl, 1));
        let mut batch = String::new();
        let _ = writeln!(batch, "route add 240.0.0.0/4 via {right4}");
        let _ = writeln!(batch, "route add 3fff::/20 via {right6}");
        for (p4, p6, right) in &links {
            let (g4, g6) = if *right {
                (&right4, &right6)
            } else {
                (&left4, &left6)
            };
            let _ = writeln!(batch, "route add {p4} via {g4}");
            let _ = writeln!(batch, "route add {p6} via {g6}");
        }
        for p in table {
            let via = match p {
                IpNet::V4(_) => &right4,
                IpNet::V6(_) => &right6,
            };
            let _ = writeln!(batch, "route replace {p} via {via}");
        }
        return RouterPlan::Kernel {
            k,
            ns: r.to_string(),
            sysctls: vec![
                "net.ipv4.ip_forward=1".into(),
                "net.ipv6.conf.all.forwarding=1".into(),
            ],
            batch,
            routes,
        };
    }
    // A vrouter namespace's kernel stays out of the way: no addresses, no forwarding, IPv6
    // off (AF_PACKET and AF_XDP still see every frame).
    let mut sysctls = vec!["net.ipv4.ip_forward=0".to_string()];
    for dev in ["all", "default", &indev, &outdev] {
        sysctls.push(format!("net.ipv6.conf.{dev}.disable_ipv6=1"));
    }
    // Next hop 0: right neighbour; 1: left neighbour.
    let mut text = format!(
        "{}\n240.0.0.0/4\t0\n3fff::/20\t0\n",
        fib::source::text::TEXT_HEADER
    );
    for (p4, p6, right) in &links {
        let nh = if *right { 0 } else { 1 };
        let _ = writeln!(text, "{p4}\t{nh}\n{p6}\t{nh}");
    }
    for p in table {
        let _ = writeln!(text, "{p}\t0");
    }
    let backend = spec.dut.lab_backend().unwrap_or("afpacket");
    let port = |dev: &str, link: usize, side: u8| PortToml {
        backend: spanned(backend.to_string()),
        link: None,
        iface: Some(spanned(dev.to_string())),
        fanout: None,
        qdisc_bypass: None,
        xdp_mode: None,
        ring: match spec.dut {
            Dut::Afxdp => spec.xdp_ring.map(spanned),
            _ => None,
        },
        pmd: (spec.dut == Dut::DpdkXdp).then(|| spanned("af_xdp".to_string())),
        vdev: None,
        pci: None,
        mac: spanned(mac(link, side).to_string()),
        addresses: vec![
            spanned(format!("{}/24", v4(link, side))),
            spanned(format!("{}/64", v6(link, side))),
        ],
        mtu: None,
    };
    // Resolved by ARP at run time; static with several queues (answers would reach one
    // queue only).
    let neighbour = |nexthop: u32, port: u16, link: usize, side: u8| NeighbourToml {
        nexthop: spanned(nexthop),
        port: spanned(port),
        mac: (spec.queues > 1).then(|| spanned(mac(link, side).to_string())),
        gateway: (spec.queues <= 1).then(|| spanned(v4(link, side))),
    };
    let config = RouterToml {
        name: spanned(format!("r{k}")),
        routes: None,
        nexthops: Some(spanned(2)),
        lenient: false,
        class_e_unicast: true,
        forward_directed_broadcast: false,
        accept_source_route: false,
        queues: Some(spanned(spec.queues)),
        mode: Some(spanned(spec.mode.name().to_string())),
        worker: None,
        core: spec.core.map(spanned),
        port: vec![port(&indev, inl, 2), port(&outdev, outl, 1)],
        neighbour: vec![neighbour(0, 1, outl, 2), neighbour(1, 0, inl, 1)],
    };
    RouterPlan::Vrouter {
        k,
        ns: r.to_string(),
        sysctls,
        table: text,
        config: Box::new(config),
        routes,
        backend,
        devs: (indev, outdev),
        container: spec.dut == Dut::Container,
    }
}

/// Router `k` as a QEMU guest: the plan vrouter (or the kernel) would get in the namespace,
/// moved into the guest (its ports on the guest's NICs `p0`, `p1`), and the namespace's side:
/// a tap per NIC bridged to the veth end the router would have used.
fn guest_plan(spec: &LabSpec, k: usize, r: &str, table: &[IpNet]) -> RouterPlan {
    let (inl, outl) = router_links(spec.topology, k);
    let (indev, outdev) = (format!("e{inl}r"), format!("e{outl}l"));
    let router = if spec.dut == Dut::VmKernel {
        GuestRouter::Kernel
    } else {
        GuestRouter::Vrouter
    };
    let inner_dut = match (router, spec.guest.io) {
        (GuestRouter::Kernel, _) => Dut::Kernel,
        (GuestRouter::Vrouter, vm::GuestIo::Afpacket) => Dut::Afpacket,
        (GuestRouter::Vrouter, vm::GuestIo::Afxdp) => Dut::Afxdp,
        (GuestRouter::Vrouter, vm::GuestIo::Dpdk) => Dut::Dpdk,
    };
    let inner_spec = LabSpec {
        dut: inner_dut,
        // AF_XDP pins 4 KiB per descriptor: 1024 per ring (4 MiB a port) fits a small guest.
        xdp_ring: spec.xdp_ring.or(Some(1024)),
        // The guest has one vCPU: its router has one worker, unpinned.
        queues: 1,
        core: None,
        ..spec.clone()
    };
    let mut addrs = Vec::new();
    let inner = router_plan(&inner_spec, k, r, table, &mut addrs);
    let macs = vec![mac(inl, 2).to_string(), mac(outl, 1).to_string()];
    let name = format!("r{k}");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let routes = match inner {
        RouterPlan::Kernel { batch, routes, .. } => {
            let port_addrs: Vec<Vec<String>> = [&indev, &outdev]
                .iter()
                .map(|d| {
                    addrs
                        .iter()
                        .filter(|a| &a.dev == *d)
                        .map(|a| a.cidr.clone())
                        .collect()
                })
                .collect();
            files.push((
                "guest.env".into(),
                vm::guest_env(router, &name, &macs, &port_addrs).into_bytes(),
            ));
            files.push(("kernel.batch".into(), batch.into_bytes()));
            routes
        }
        RouterPlan::Vrouter {
            table: text,
            mut config,
            routes,
            ..
        } => {
            for (i, p) in config.port.iter_mut().enumerate() {
                p.iface = Some(spanned(format!("p{i}")));
                if spec.guest.io == vm::GuestIo::Afpacket {
                    // A virtual NIC's transmit ring (256 frames on virtio-net) fills in bursts
                    // when QEMU is late to read it; past the qdisc those frames were lost
                    // (0.6% at 30 kp/s under TCG), through it they wait.
                    p.qdisc_bypass = Some(spanned(false));
                    // Frames stay in the transmit ring until the virtual NIC has sent them:
                    // through the qdisc that is up to its 1000 frames plus the NIC's ring.
                    p.ring = Some(spanned(4096));
                }
            }
            let mut env = vm::guest_env(router, &name, &macs, &[]);
            if spec.guest.io == vm::GuestIo::Dpdk {
                // The guest's /init hands each NIC to DPDK and names it by PCI address.
                env.push_str("PORT_IO=dpdk\n");
            }
            files.push(("guest.env".into(), env.into_bytes()));
            let lab = &spec.name;
            files.push((
                "vr.toml".into(),
                config_text(lab, *config, "routes.txt").into_bytes(),
            ));
            files.push(("routes.txt".into(), text.into_bytes()));
            routes
        }
        RouterPlan::Guest { .. } => unreachable!("the inner plan is a kernel or a vrouter"),
    };
    let mut sysctls = vec!["net.ipv4.ip_forward=0".to_string()];
    for dev in ["all", "default"] {
        sysctls.push(format!("net.ipv6.conf.{dev}.disable_ipv6=1"));
    }
    let bridges = vec![
        Bridge {
            name: "b0".into(),
            tap: "t0".into(),
            veth: indev,
            veth_mac: Mac([2, 0x76, 0x72, (inl >> 8) as u8, inl as u8, 0x22]),
        },
        Bridge {
            name: "b1".into(),
            tap: "t1".into(),
            veth: outdev,
            veth_mac: Mac([2, 0x76, 0x72, (outl >> 8) as u8, outl as u8, 0x21]),
        },
    ];
    let guest = vm::qemu::Guest {
        name,
        memory_mib: spec.guest.memory_mib,
        nics: bridges
            .iter()
            .map(|b| b.tap.clone())
            .zip(macs.iter().cloned())
            .collect(),
        nic_model: spec.guest.nic,
        boot: spec.guest.boot,
        control_port: router == GuestRouter::Vrouter,
    };
    RouterPlan::Guest {
        k,
        ns: r.to_string(),
        sysctls,
        bridges,
        guest,
        files,
        router,
        routes,
    }
}

/// A router's configuration file, with its table at `routes`.
pub fn config_text(lab: &str, mut config: RouterToml, routes: &str) -> String {
    let k = config.name.get_ref().clone();
    config.routes = Some(spanned(routes.to_string()));
    let file = config::File {
        router: vec![config],
        dpdk: None,
    };
    let body = toml::to_string(&file).unwrap_or_default();
    format!("# vrouter lab `{lab}`, router {k}\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::worker::PollMode;

    fn spec(dut: Dut, topology: Topology, routers: usize) -> LabSpec {
        LabSpec {
            routers,
            topology,
            ..LabSpec::new("t", dut)
        }
    }

    #[test]
    fn a_chain_links_neighbours_and_routes_lab_space_to_the_sink() {
        let p = plan(&spec(Dut::Afpacket, Topology::Chain, 2), &[]);
        assert_eq!(
            p.namespaces,
            ["vrl-t-gen", "vrl-t-r1", "vrl-t-r2", "vrl-t-sink"]
        );
        let ends: Vec<(usize, &str, &str)> = p
            .links
            .iter()
            .map(|l| (l.index, l.left.as_str(), l.right.as_str()))
            .collect();
        assert_eq!(
            ends,
            [
                (0, "vrl-t-gen", "vrl-t-r1"),
                (1, "vrl-t-r1", "vrl-t-r2"),
                (2, "vrl-t-r2", "vrl-t-sink")
            ]
        );
        // Only the hosts have kernel addresses when vrouter forwards.
        let cidrs: Vec<(&str, &str)> = p
            .addresses
            .iter()
            .map(|a| (a.ns.as_str(), a.cidr.as_str()))
            .collect();
        assert_eq!(
            cidrs,
            [
                ("vrl-t-gen", "198.18.0.1/24"),
                ("vrl-t-gen", "2001:2:0:0::1/64"),
                ("vrl-t-sink", "198.18.2.2/24"),
                ("vrl-t-sink", "2001:2:0:2::2/64")
            ]
        );
        assert!(p.routes.contains(&route(
            "vrl-t-gen",
            &["-4", "route", "add", "240.0.0.0/4", "via", "198.18.0.2"]
        )));
        assert!(p.routes.contains(&route(
            "vrl-t-sink",
            &["route", "add", "local", "240.0.0.0/4", "dev", "lo"]
        )));
        // Every destination of the generator's routes is reserved or benchmarking space.
        for r in p.routes.iter().filter(|r| r.ns == "vrl-t-gen") {
            let dst: IpNet = r.args[3].parse().unwrap();
            let ok = ["240.0.0.0/4", "198.18.0.0/15", "3fff::/20", "2001:2::/48"]
                .iter()
                .any(|s| s.parse::<IpNet>().unwrap().contains(&dst));
            assert!(ok, "{r:?}");
        }
    }

    #[test]
    fn a_vrouter_gets_a_config_the_parser_accepts() {
        let table: Vec<IpNet> = vec!["240.1.0.0/16".parse().unwrap()];
        let mut s = spec(Dut::Afxdp, Topology::Parallel, 1);
        s.xdp_ring = Some(1024);
        s.mode = PollMode::Busy;
        let p = plan(&s, &table);
        let RouterPlan::Vrouter {
            config,
            table: text,
            routes,
            ..
        } = &p.routers[0]
        else {
            panic!("not a vrouter: {:?}", p.routers[0]);
        };
        // Two covering routes, the router's own two links, the table.
        assert_eq!(*routes, 1 + 2 + 2 * 2);
        assert!(text.contains("240.1.0.0/16\t0\n"));
        assert!(text.contains("198.18.2.0/24\t1\n") && text.contains("198.18.3.0/24\t0\n"));
        let dir = tempfile::tempdir().unwrap();
        let rf = dir.path().join("r1.routes");
        std::fs::write(&rf, text).unwrap();
        let cfg = config_text("t", (**config).clone(), &rf.to_string_lossy());
        let parsed = config::parse(&dir.path().join("r1.toml"), &cfg).unwrap();
        let r = &parsed[0];
        assert_eq!(r.name, "r1");
        assert_eq!(r.mode, PollMode::Busy);
        assert!(r.class_e_unicast);
        assert_eq!(r.ports.len(), 2);
        assert_eq!(
            r.ports[0].backend,
            config::Backend::AfXdp {
                iface: "e2r".into(),
                xdp_mode: dataplane::port::afxdp::XdpMode::Auto,
                ring: 1024
            }
        );
        assert_eq!(r.ports[0].mac, mac(2, 2));
        assert_eq!(
            r.neighbours[0].target,
            config::NeighbourTarget::Gateway("198.18.3.2".parse().unwrap())
        );
    }

    #[test]
    fn a_kernel_router_has_addresses_forwarding_and_a_route_batch() {
        let table: Vec<IpNet> = vec![
            "240.1.0.0/16".parse().unwrap(),
            "3fff:1::/32".parse().unwrap(),
        ];
        let p = plan(&spec(Dut::Kernel, Topology::Chain, 1), &table);
        let RouterPlan::Kernel { sysctls, batch, .. } = &p.routers[0] else {
            panic!("not the kernel");
        };
        assert!(sysctls.contains(&"net.ipv4.ip_forward=1".to_string()));
        assert!(batch.contains("route replace 240.1.0.0/16 via 198.18.1.2\n"));
        assert!(batch.contains("route replace 3fff:1::/32 via 2001:2:0:1::2\n"));
        assert!(p
            .addresses
            .iter()
            .any(|a| a.ns == "vrl-t-r1" && a.cidr == "198.18.0.2/24"));
    }
}
