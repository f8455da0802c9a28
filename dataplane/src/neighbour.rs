//! Next-hop id -> egress port and MAC.
//!
//! An entry is either static (port and MAC from configuration) or dynamic (port and gateway
//! address from configuration, MAC learned by ARP or neighbour discovery). A dynamic entry
//! without a MAC holds up to [`HOLD`] frames while a request (at most one per
//! [`REQUEST_INTERVAL_NS`]) is out; a learned MAC is trusted for [`REACHABLE_NS`], then used
//! while a refresh request goes out. Only configured gateways are ever learned, so an ARP or
//! NA flood, spoofed or not, cannot grow the table.
//!
//! Hosts on a router's own subnets (connected routes) are next hops too: the first frame for a
//! host makes a dynamic entry for it ([`Neighbours::host`]) with an id from [`HOST_BASE`] up,
//! outside the FIB's next-hop ids, and it is resolved like a gateway. Only hosts the router
//! asked about are learned, and at most [`MAX_HOSTS`] are kept (the least recently resolved
//! idle one gives way), so a flood still cannot grow the table past that bound.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::buf::PacketBuf;
use crate::wire::ethernet::Mac;

/// Frames held per unresolved next hop.
pub const HOLD: usize = 4;
/// Minimum time between two requests for one next hop.
pub const REQUEST_INTERVAL_NS: u64 = 1_000_000_000;
/// How long a learned MAC is used without asking again.
pub const REACHABLE_NS: u64 = 300 * 1_000_000_000;
/// Held frames are dropped when a request stays unanswered this long.
pub const GIVE_UP_NS: u64 = 3 * 1_000_000_000;
/// Ids of hosts on connected subnets start here (above every FIB next hop).
pub const HOST_BASE: u32 = 0x8000;
/// Hosts on connected subnets kept at most.
pub const MAX_HOSTS: usize = 4096;

/// Where a next hop is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub port: u16,
    pub mac: Mac,
}

/// A next hop whose MAC is learned.
#[derive(Clone, Debug)]
pub struct Dynamic {
    pub port: u16,
    pub gateway: IpAddr,
    pub mac: Option<Mac>,
    /// Learned MAC trusted until then.
    pub expires_ns: u64,
    pub last_request_ns: Option<u64>,
    /// When the current unanswered run of requests began.
    pub first_request_ns: Option<u64>,
    pub held: Vec<PacketBuf>,
    /// Last time forwarding asked for it (hosts: the least recent idle one is replaced).
    pub used_ns: u64,
}

#[derive(Clone, Debug)]
enum Entry {
    Static(Neighbour),
    Dynamic(Dynamic),
}

/// What forwarding should do for a next hop.
#[derive(Debug)]
pub enum Resolution {
    /// Send to this neighbour.
    Ready(Neighbour),
    /// Send to this neighbour, and ask again (the MAC is stale): request on `port` for `gateway`.
    Refresh(Neighbour, IpAddr),
    /// No MAC yet: hold the frame; `request` says whether to send a request now.
    Pending {
        port: u16,
        gateway: IpAddr,
        request: bool,
    },
    /// No such next hop.
    Unknown,
}

/// Counters of the resolution machinery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NeighbourStats {
    pub requests: u64,
    pub learned: u64,
    pub held: u64,
    pub released: u64,
    pub hold_dropped: u64,
}

/// The table, indexed by next-hop id (FIB next hops are small dense ids).
#[derive(Clone, Debug, Default)]
pub struct Neighbours {
    by_id: Vec<Option<Entry>>,
    /// Hosts on connected subnets: id `HOST_BASE + i` is `hosts[i]`.
    hosts: Vec<Option<Entry>>,
    by_gateway: HashMap<IpAddr, u32>,
    pub stats: NeighbourStats,
}

impl Neighbours {
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&mut self, id: u32) -> &mut Option<Entry> {
        let i = id as usize;
        if self.by_id.len() <= i {
            self.by_id.resize(i + 1, None);
        }
        &mut self.by_id[i]
    }

    /// The entry of `id`, configured or host (a function of the two tables, so that the
    /// counters stay borrowable beside it).
    #[inline]
    fn entry_in<'a>(
        by_id: &'a mut [Option<Entry>],
        hosts: &'a mut [Option<Entry>],
        id: u32,
    ) -> Option<&'a mut Entry> {
        if id < HOST_BASE {
            by_id.get_mut(id as usize)?.as_mut()
        } else {
            hosts.get_mut((id - HOST_BASE) as usize)?.as_mut()
        }
    }

    fn entry_mut(&mut self, id: u32) -> Option<&mut Entry> {
        Self::entry_in(&mut self.by_id, &mut self.hosts, id)
    }

    /// [`Neighbours::get`] for a host of a connected subnet.
    #[cold]
    #[inline(never)]
    pub fn get_host(&self, id: u32) -> Option<Neighbour> {
        // A host that is a configured next hop's gateway has that next hop's id.
        if id < HOST_BASE {
            return self.get(id);
        }
        match self
            .hosts
            .get(id.checked_sub(HOST_BASE)? as usize)?
            .as_ref()?
        {
            Entry::Static(n) => Some(*n),
            Entry::Dynamic(d) => d.mac.map(|mac| Neighbour { port: d.port, mac }),
        }
    }

    /// The next-hop id of `host` on `port` (a host of a connected subnet), made on first use:
    /// a dynamic entry resolved by ARP/ND. `None` when the table holds [`MAX_HOSTS`] hosts
    /// that all have frames waiting. A configured gateway keeps its own id.
    pub fn host(&mut self, port: u16, host: IpAddr, now_ns: u64) -> Option<u32> {
        if let Some(&id) = self.by_gateway.get(&host) {
            if id < HOST_BASE {
                return Some(id);
            }
            if let Some(Entry::Dynamic(d)) = self.entry_mut(id) {
                if d.port == port {
                    d.used_ns = now_ns;
                    return Some(id);
                }
            }
        }
        let fresh = Entry::Dynamic(Dynamic {
            port,
            gateway: host,
            mac: None,
            expires_ns: 0,
            last_request_ns: None,
            first_request_ns: None,
            held: Vec::new(),
            used_ns: now_ns,
        });
        let i = if self.hosts.len() < MAX_HOSTS {
            self.hosts.push(None);
            self.hosts.len() - 1
        } else {
            // The least recently used host with nothing held gives way.
            let (i, old) = self
                .hosts
                .iter()
                .enumerate()
                .filter_map(|(i, e)| match e {
                    Some(Entry::Dynamic(d)) if d.held.is_empty() => Some((i, d)),
                    _ => None,
                })
                .min_by_key(|(_, d)| d.used_ns)?;
            let gone = old.gateway;
            self.by_gateway.remove(&gone);
            i
        };
        self.hosts[i] = Some(fresh);
        let id = HOST_BASE + i as u32;
        self.by_gateway.insert(host, id);
        Some(id)
    }

    /// Hosts of connected subnets known now.
    pub fn hosts(&self) -> usize {
        self.hosts.iter().filter(|h| h.is_some()).count()
    }

    /// Sets next hop `id` statically.
    pub fn set(&mut self, id: u32, n: Neighbour) {
        *self.slot(id) = Some(Entry::Static(n));
    }

    /// Next hop `id` is `gateway` on `port`; its MAC will be learned.
    pub fn set_dynamic(&mut self, id: u32, port: u16, gateway: IpAddr) {
        self.by_gateway.insert(gateway, id);
        *self.slot(id) = Some(Entry::Dynamic(Dynamic {
            port,
            gateway,
            mac: None,
            expires_ns: 0,
            last_request_ns: None,
            first_request_ns: None,
            held: Vec::with_capacity(HOLD),
            used_ns: 0,
        }));
    }

    /// Every id in `0..count` resolves to `n` (the default router's single upstream).
    pub fn fill(&mut self, count: u32, n: Neighbour) {
        self.by_id = vec![Some(Entry::Static(n)); count as usize];
    }

    /// The neighbour of `id` if it is known now (static, or dynamic with a MAC).
    #[inline]
    pub fn get(&self, id: u32) -> Option<Neighbour> {
        match self.by_id.get(id as usize)?.as_ref()? {
            Entry::Static(n) => Some(*n),
            Entry::Dynamic(d) => d.mac.map(|mac| Neighbour { port: d.port, mac }),
        }
    }

    /// Decides how to forward to `id` at `now_ns`, recording any request it asks for.
    pub fn resolve(&mut self, id: u32, now_ns: u64) -> Resolution {
        let Some(Some(e)) = self.by_id.get_mut(id as usize) else {
            return Resolution::Unknown;
        };
        Self::resolve_entry(e, &mut self.stats, now_ns)
    }

    /// [`Neighbours::resolve`] for a host of a connected subnet (an id from
    /// [`Neighbours::host`]).
    #[cold]
    #[inline(never)]
    pub fn resolve_host(&mut self, id: u32, now_ns: u64) -> Resolution {
        // A host that is a configured next hop's gateway has that next hop's id.
        if id < HOST_BASE {
            return self.resolve(id, now_ns);
        }
        let Some(Some(e)) = id
            .checked_sub(HOST_BASE)
            .and_then(|i| self.hosts.get_mut(i as usize))
        else {
            return Resolution::Unknown;
        };
        if let Entry::Dynamic(d) = e {
            d.used_ns = now_ns;
        }
        Self::resolve_entry(e, &mut self.stats, now_ns)
    }

    #[inline(always)]
    fn resolve_entry(e: &mut Entry, stats: &mut NeighbourStats, now_ns: u64) -> Resolution {
        let d = match e {
            Entry::Static(n) => return Resolution::Ready(*n),
            Entry::Dynamic(d) => d,
        };
        let due = d
            .last_request_ns
            .is_none_or(|t| now_ns.saturating_sub(t) >= REQUEST_INTERVAL_NS);
        match d.mac {
            Some(mac) if now_ns < d.expires_ns => {
                Resolution::Ready(Neighbour { port: d.port, mac })
            }
            Some(mac) => {
                let n = Neighbour { port: d.port, mac };
                if due {
                    d.last_request_ns = Some(now_ns);
                    stats.requests += 1;
                    Resolution::Refresh(n, d.gateway)
                } else {
                    Resolution::Ready(n)
                }
            }
            None => {
                if due {
                    d.last_request_ns = Some(now_ns);
                    d.first_request_ns.get_or_insert(now_ns);
                    stats.requests += 1;
                }
                Resolution::Pending {
                    port: d.port,
                    gateway: d.gateway,
                    request: due,
                }
            }
        }
    }

    /// Queues a frame for unresolved `id`; returns frames that no longer fit or waited too
    /// long (to be dropped by the caller).
    pub fn hold(&mut self, id: u32, frame: PacketBuf, now_ns: u64, dropped: &mut Vec<PacketBuf>) {
        let mut given_up = 0;
        let Some(Entry::Dynamic(d)) = self.entry_mut(id) else {
            dropped.push(frame);
            return;
        };
        if d.first_request_ns
            .is_some_and(|t| now_ns.saturating_sub(t) >= GIVE_UP_NS)
        {
            given_up += d.held.len() as u64;
            dropped.append(&mut d.held);
            d.first_request_ns = Some(now_ns);
        }
        if d.held.len() >= HOLD {
            given_up += 1;
            dropped.push(d.held.remove(0));
        }
        d.held.push(frame);
        self.stats.hold_dropped += given_up;
        self.stats.held += 1;
    }

    /// Learns `mac` for `gateway` if it is a configured gateway seen on its own port; returns
    /// the neighbour and the frames that were waiting for it.
    pub fn learn(
        &mut self,
        gateway: IpAddr,
        port: u16,
        mac: Mac,
        now_ns: u64,
    ) -> Option<(Neighbour, Vec<PacketBuf>)> {
        let id = *self.by_gateway.get(&gateway)?;
        let Some(Entry::Dynamic(d)) = Self::entry_in(&mut self.by_id, &mut self.hosts, id) else {
            return None;
        };
        if d.port != port || mac[0] & 1 != 0 {
            return None;
        }
        d.mac = Some(mac);
        d.expires_ns = now_ns.saturating_add(REACHABLE_NS);
        d.first_request_ns = None;
        self.stats.learned += 1;
        self.stats.released += d.held.len() as u64;
        Some((Neighbour { port, mac }, std::mem::take(&mut d.held)))
    }

    /// Configured next hops.
    pub fn len(&self) -> usize {
        self.by_id.iter().filter(|n| n.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frames currently held, all next hops together.
    pub fn held_now(&self) -> usize {
        self.by_id
            .iter()
            .chain(&self.hosts)
            .map(|e| match e {
                Some(Entry::Dynamic(d)) => d.held.len(),
                _ => 0,
            })
            .sum()
    }
}
