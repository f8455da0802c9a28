//! The process's DPDK, for the dpdk ports of a configuration: one EAL (started before any port
//! opens, with a `--vdev` per port), one mbuf pool, and the device name of each port. Stopped
//! after the workers: the mbufs still out are reported (none should be), then the pool and
//! the EAL are released, also when the router fails to start.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use dataplane::pool::Pool;
use dataplane::port::dpdk::{self, DpdkPort, Mempool};

use super::config::{Backend, DpdkDevice, DpdkOptions, RouterConfig};

/// The running EAL of this process and what its ports are called.
pub struct Dpdk {
    /// (router, port index) → the device name the EAL gave the port.
    devices: HashMap<(String, usize), String>,
    mempool: Option<Arc<Mempool>>,
    /// Mbufs out of the pool once every port had opened, before any traffic: what the drivers
    /// hold for themselves (net_af_xdp fills its socket's ring from the pool; net_af_packet
    /// takes none).
    at_open: Option<u32>,
}

/// One dpdk port's device as the EAL is told of it.
#[derive(Debug, PartialEq, Eq)]
pub struct EalDevice {
    /// (router, port index).
    pub port: (String, usize),
    /// A `--vdev` argument, or a PCI address.
    pub arg: String,
    pub pci: bool,
}

impl EalDevice {
    /// The ethdev's name: a PCI device's address, a vdev's name (before the first comma).
    fn name(&self) -> String {
        self.arg.split(',').next().unwrap_or(&self.arg).to_string()
    }
}

/// The EAL device of each dpdk port, in order.
pub fn vdevs(routers: &[RouterConfig]) -> Vec<EalDevice> {
    let mut out = Vec::new();
    let (mut packet, mut xdp) = (0, 0);
    for r in routers {
        for (i, p) in r.ports.iter().enumerate() {
            let Backend::Dpdk { device, ring } = &p.backend else {
                continue;
            };
            let mut pci = false;
            let arg = match device {
                DpdkDevice::Iface { iface, pmd } if pmd == "af_xdp" => {
                    xdp += 1;
                    format!(
                        "net_af_xdp{},iface={iface},start_queue=0,queue_count=1",
                        xdp - 1
                    )
                }
                DpdkDevice::Iface { iface, .. } => {
                    packet += 1;
                    // The driver's own TPACKET ring: as many frames as the port's descriptors.
                    format!(
                        "net_af_packet{},iface={iface},qpairs=1,framecnt={ring}",
                        packet - 1
                    )
                }
                DpdkDevice::Vdev(v) => v.clone(),
                DpdkDevice::Pci(a) => {
                    pci = true;
                    a.clone()
                }
            };
            out.push(EalDevice {
                port: (r.name.clone(), i),
                arg,
                pci,
            });
        }
    }
    out
}

/// Mbufs for `rings` ports' receive and transmit rings, what each port's router can hold
/// (received frames are mbufs all the way through the pipeline: a burst and a full transmit
/// hold per port), the per-lcore caches and slack, rounded to 2^k - 1 (the size DPDK's
/// mempool uses best).
fn pool_size(rings: &[u16]) -> u32 {
    let held = (dataplane::worker::TX_HOLD + 64) as u32;
    let need: u32 = rings
        .iter()
        .map(|r| 2 * u32::from(*r) + 256 + held)
        .sum::<u32>()
        + 1024;
    need.next_power_of_two() - 1
}

impl Dpdk {
    /// Starts the EAL for the dpdk ports of `routers` with `o`'s options, and its pool.
    pub fn start(routers: &[RouterConfig], o: &DpdkOptions) -> Result<Self> {
        let vdevs = vdevs(routers);
        let args_of = |pci: bool| -> Vec<String> {
            vdevs
                .iter()
                .filter(|d| d.pci == pci)
                .map(|d| d.arg.clone())
                .collect()
        };
        let pci = args_of(true);
        let args = dpdk::eal_args(&dpdk::EalOptions {
            prefix: format!("vrouter-{}", std::process::id()),
            core: routers.iter().find_map(|r| r.core),
            memory_mb: o.memory_mb,
            vdevs: args_of(false),
            hugepages: o.hugepages.unwrap_or(!pci.is_empty()),
            pci,
            extra: o.eal.clone(),
        });
        tracing::info!(
            "vrouter: DPDK {} EAL: {}",
            dpdk::VERSION,
            args[1..].join(" ")
        );
        dpdk::eal_init(&args).map_err(|e| anyhow!("DPDK: {e}"))?;
        let mut d = Dpdk {
            devices: vdevs.iter().map(|d| (d.port.clone(), d.name())).collect(),
            mempool: None,
            at_open: None,
        };
        let rings: Vec<u16> = routers
            .iter()
            .flat_map(|r| &r.ports)
            .filter_map(|p| match p.backend {
                Backend::Dpdk { ring, .. } => Some(ring),
                _ => None,
            })
            .collect();
        let n = if o.mbufs > 0 {
            o.mbufs
        } else {
            pool_size(&rings)
        };
        d.mempool = Some(Mempool::new("vrouter", n).map_err(|e| {
            anyhow!(
                "DPDK: {e} ({n} mbufs of {} KiB in memory_mb = {}: raise [dpdk] memory_mb or \
                 lower mbufs)",
                (dataplane::buf::BUF_SIZE + dpdk::MBUF_HEADROOM + 128) / 1024,
                o.memory_mb
            )
        })?);
        Ok(d)
    }

    /// Opens port `port` of router `router` with `ring` descriptors per queue.
    pub fn open(&self, router: &str, port: usize, ring: u16, pool: &Pool) -> Result<DpdkPort> {
        let name = self
            .devices
            .get(&(router.to_string(), port))
            .ok_or_else(|| anyhow!("no DPDK device was set up for this port"))?;
        let mempool = self.mempool.as_ref().expect("pool made at start");
        let p = DpdkPort::open(name, mempool, ring, ring, pool)?;
        let m = p.mac();
        tracing::info!(
            "vrouter: {router} port {port}: DPDK device {name}, MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, {ring} descriptors",
            m[0], m[1], m[2], m[3], m[4], m[5]
        );
        Ok(p)
    }

    /// Notes the mbufs the drivers took while their ports opened (call once all are open).
    pub fn ports_opened(&mut self) {
        self.at_open = self.mempool.as_ref().map(|mp| mp.in_use());
    }
}

/// Dropped after every port has closed (the workers are gone): reports the mbufs still out (no
/// more than the drivers took when they opened: the burst calls keep none) and stops the EAL.
impl Drop for Dpdk {
    fn drop(&mut self) {
        if let Some(mp) = self.mempool.take() {
            tracing::info!(
                "vrouter: DPDK pool `{}`: {} of {} mbufs in use after stop ({} when the ports had \
                 opened, held by their drivers; {} received frames still held by the router); \
                 frames received in place {}, copied {}",
                mp.name(),
                mp.in_use(),
                mp.size(),
                self.at_open.unwrap_or(0),
                dpdk::lent(),
                dpdk::received().0,
                dpdk::received().1
            );
            drop(mp);
        }
        dpdk::eal_cleanup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_get_numbered_devices_and_the_pool_covers_their_rings() {
        let text = r#"
[[router]]
name = "a"
[[router.port]]
backend = "dpdk"
iface = "veth0"
mac = "02:00:00:00:00:01"
[[router.port]]
backend = "dpdk"
iface = "veth1"
pmd = "af_xdp"
ring = 512
mac = "02:00:00:00:00:02"
[[router]]
name = "b"
[[router.port]]
backend = "dpdk"
iface = "veth2"
mac = "02:00:00:00:00:03"
[[router.port]]
backend = "dpdk"
vdev = "net_memif0,role=server,socket=/tmp/m.sock"
mac = "02:00:00:00:00:04"
[[router.port]]
backend = "dpdk"
pci = "00:04.0"
mac = "02:00:00:00:00:05"
"#;
        let c = super::super::config::parse_all(std::path::Path::new("vr.toml"), text).unwrap();
        let v = vdevs(&c.routers);
        let args: Vec<&str> = v.iter().map(|d| d.arg.as_str()).collect();
        assert_eq!(
            args,
            [
                "net_af_packet0,iface=veth0,qpairs=1,framecnt=1024",
                "net_af_xdp0,iface=veth1,start_queue=0,queue_count=1",
                "net_af_packet1,iface=veth2,qpairs=1,framecnt=1024",
                "net_memif0,role=server,socket=/tmp/m.sock",
                "0000:00:04.0",
            ]
        );
        assert_eq!(v[3].port, ("b".to_string(), 1));
        assert_eq!(
            v.iter().map(|d| d.pci).collect::<Vec<_>>(),
            [false, false, false, false, true]
        );
        // Virtual devices only: no hugepages, no PCI scan; a PCI device: probed by address,
        // on hugepages.
        let vdev_only = dpdk::eal_args(&dpdk::EalOptions {
            vdevs: vec!["net_null0".into()],
            ..dpdk::EalOptions::default()
        });
        assert!(vdev_only.contains(&"--no-huge".into()) && vdev_only.contains(&"--no-pci".into()));
        assert!(vdev_only.contains(&"--vdev=net_null0".into()));
        let pci = dpdk::eal_args(&dpdk::EalOptions {
            pci: vec!["0000:00:04.0".into()],
            hugepages: true,
            ..dpdk::EalOptions::default()
        });
        assert!(pci.contains(&"-a0000:00:04.0".into()) && pci.contains(&"--in-memory".into()));
        assert!(!pci.contains(&"--no-pci".into()) && !pci.contains(&"--no-huge".into()));
        let n = pool_size(&[1024, 512, 1024, 1024]);
        assert!(
            n >= 2 * (1024 * 3 + 512) + 4 * 1024 + 1024 && (n + 1).is_power_of_two(),
            "{n}"
        );
        assert_eq!(c.dpdk, DpdkOptions::default());
    }
}
