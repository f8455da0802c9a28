//! Text route formats: prefix lists (ipasn files and vrouter's own `PREFIX<TAB>NEXTHOP` output),
//! `bgpdump -m` lines, and `ip route show` output.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::{
    dedup_last, excerpt, Bad, Change, Event, LoadOptions, LoadStats, PeerChoice, Route, RouteSet,
    RouteValue, SourceError,
};

/// The header line vrouter writes on its text output: values after it are next-hop ids.
pub const TEXT_HEADER: &str = "# vrouter routes: PREFIX<TAB>NEXTHOP";

/// Lines of `data` with their 1-based numbers, without the line ending.
fn lines(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    data.split(|&b| b == b'\n').enumerate().map(|(i, l)| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        (i + 1, l)
    })
}

fn utf8(n: usize, line: &[u8]) -> Result<&str, Bad> {
    std::str::from_utf8(line).map_err(|e| Bad::line(n, format!("not UTF-8 text ({e})")))
}

/// Parses `a.b.c.d/len`, `x::/len`, or a bare address (a host route). Host bits must be clear.
pub fn parse_prefix(s: &str) -> Result<IpNet, String> {
    let net: IpNet = if s.contains('/') {
        s.parse()
            .map_err(|_| format!("`{}` is not a prefix", excerpt(s)))?
    } else {
        let a: IpAddr = s
            .parse()
            .map_err(|_| format!("`{}` is not a prefix or address", excerpt(s)))?;
        IpNet::from(a)
    };
    if net.trunc() != net {
        return Err(format!(
            "`{}` has host bits set (network is {})",
            excerpt(s),
            net.trunc()
        ));
    }
    Ok(net)
}

/// `PREFIX[<whitespace>VALUE]` per line; `;` and `#` start comments. VALUE is an origin AS (or
/// any numeric tag), or a next-hop id after vrouter's [`TEXT_HEADER`].
pub fn parse_prefix_list(
    path: &Path,
    data: &[u8],
    opts: &LoadOptions,
) -> Result<RouteSet, SourceError> {
    let mut stats = LoadStats::default();
    let mut routes = Vec::new();
    let mut ids = false;
    for (n, raw) in lines(data) {
        let line = match utf8(n, raw) {
            Ok(l) => l.trim(),
            Err(b) => {
                stats.bad(opts.lenient, b, path)?;
                continue;
            }
        };
        if line.starts_with(';') || line.starts_with('#') {
            ids |= line == TEXT_HEADER;
            continue;
        }
        if line.is_empty() {
            continue;
        }
        stats.records += 1;
        match prefix_line(n, line, ids) {
            Ok(r) => routes.push(r),
            Err(b) => stats.bad(opts.lenient, b, path)?,
        }
    }
    Ok(RouteSet {
        routes: dedup_last(routes),
        format: None,
        stats,
    })
}

fn prefix_line(n: usize, line: &str, ids: bool) -> Result<Route, Bad> {
    let line = line.split(['#', ';']).next().unwrap_or("");
    let mut f = line.split_whitespace();
    let p = f.next().ok_or_else(|| Bad::line(n, "empty route line"))?;
    // A prefix list names its lengths: a bare address is more often a line cut short than a
    // host route, so it is refused rather than read as a /32 or /128.
    if !p.contains('/') && p.parse::<IpAddr>().is_ok() {
        return Err(Bad::line(
            n,
            format!(
                "`{}` has no /length (a line cut short? write {}/{} for a host route)",
                excerpt(p),
                excerpt(p),
                if p.contains(':') { 128 } else { 32 }
            ),
        ));
    }
    let prefix = parse_prefix(p).map_err(|e| Bad::line(n, e))?;
    let value = match f.next() {
        None => RouteValue::None,
        Some(v) => {
            let v = v.strip_prefix("AS").unwrap_or(v);
            let num: u32 = v.parse().map_err(|_| {
                Bad::line(
                    n,
                    format!(
                        "value `{}` is not a number (expected PREFIX<TAB>NUMBER)",
                        excerpt(v)
                    ),
                )
            })?;
            if ids {
                RouteValue::NextHop(num)
            } else {
                RouteValue::Asn(num)
            }
        }
    };
    if let Some(extra) = f.next() {
        return Err(Bad::line(
            n,
            format!("unexpected third field `{}`", excerpt(extra)),
        ));
    }
    Ok(Route { prefix, value })
}

/// One RIB entry competing for its prefix.
pub(crate) struct Candidate {
    pub prefix: IpNet,
    pub peer_index: u16,
    pub peer_addr: IpAddr,
    pub path_len: u32,
    pub value: RouteValue,
}

/// Picks one entry per prefix according to `choice`, in order of first appearance.
#[derive(Default)]
pub(crate) struct Selector {
    at: HashMap<IpNet, (usize, u32, u16)>,
    routes: Vec<Route>,
    /// Every peer that offered an entry (index, address), to name them when the chosen one
    /// offered none.
    peers: std::collections::BTreeMap<u16, IpAddr>,
    matched: bool,
}

impl Selector {
    pub fn offer(&mut self, c: Candidate, choice: &PeerChoice) {
        if self.peers.len() < 4096 {
            self.peers.entry(c.peer_index).or_insert(c.peer_addr);
        }
        match choice {
            PeerChoice::Index(i) if c.peer_index != *i => return,
            PeerChoice::Addr(a) if c.peer_addr != *a => return,
            _ => {}
        }
        self.matched = true;
        let rank = (c.path_len, c.peer_index);
        match self.at.get_mut(&c.prefix) {
            Some((i, len, peer)) => {
                if rank < (*len, *peer) {
                    (*len, *peer) = rank;
                    self.routes[*i].value = c.value;
                }
            }
            None => {
                self.at
                    .insert(c.prefix, (self.routes.len(), rank.0, rank.1));
                self.routes.push(Route {
                    prefix: c.prefix,
                    value: c.value,
                });
            }
        }
    }
    /// The chosen routes; a chosen peer that offered nothing while others did is an error
    /// naming the peers there are (`--peer 999` loads no table, not an empty one).
    pub fn finish(self, path: &Path, choice: &PeerChoice) -> Result<Vec<Route>, SourceError> {
        if !self.matched && !self.peers.is_empty() && *choice != PeerChoice::Best {
            let listed: Vec<String> = self
                .peers
                .iter()
                .take(12)
                .map(|(i, a)| format!("{i} ({a})"))
                .collect();
            let more = if self.peers.len() > 12 { ", ..." } else { "" };
            return Err(SourceError::Parse {
                file: path.to_path_buf(),
                at: super::Location::Whole,
                what: format!(
                    "no entry from peer {choice}; the dump's peers are {}{more}",
                    listed.join(", ")
                ),
            });
        }
        Ok(self.routes)
    }
}

/// AS path length for best-path selection: an AS_SET `{a,b}` counts as one hop.
pub(crate) fn path_len_text(path: &str) -> u32 {
    let mut n = 0;
    let mut in_set = false;
    for tok in path.split_whitespace() {
        if !in_set {
            n += 1;
        }
        if tok.starts_with('{') && !tok.ends_with('}') {
            in_set = true;
        } else if tok.ends_with('}') {
            in_set = false;
        }
    }
    n
}

/// A parsed `bgpdump -m` line.
enum DumpLine {
    Rib(Candidate),
    Event(Event),
    Other(&'static str),
}

fn dump_line(n: usize, line: &str, peers: &mut HashMap<IpAddr, u16>) -> Result<DumpLine, Bad> {
    let f: Vec<&str> = line.split('|').collect();
    let field = |i: usize, name: &str| -> Result<&str, Bad> {
        f.get(i)
            .copied()
            .ok_or_else(|| Bad::line(n, format!("missing field {} ({name})", i + 1)))
    };
    let kind = field(0, "record type")?;
    if !matches!(kind, "TABLE_DUMP" | "TABLE_DUMP2" | "BGP4MP" | "BGP4MP_ET") {
        return Err(Bad::line(
            n,
            format!("unknown record type `{}`", excerpt(kind)),
        ));
    }
    let time: u32 = field(1, "timestamp")?
        .split('.')
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| Bad::line(n, "timestamp is not a number"))?;
    let sub = field(2, "entry type")?;
    if sub == "STATE" {
        return Ok(DumpLine::Other("state change"));
    }
    let peer_addr: IpAddr = field(3, "peer address")?
        .parse()
        .map_err(|_| Bad::line(n, format!("peer address `{}` is invalid", excerpt(f[3]))))?;
    let prefix = parse_prefix(field(5, "prefix")?).map_err(|e| Bad::line(n, e))?;
    let next = peers.len() as u16;
    let peer_index = *peers.entry(peer_addr).or_insert(next);
    match sub {
        "W" => Ok(DumpLine::Event(Event {
            time,
            peer: Some(peer_addr),
            change: Change::Withdraw(prefix),
        })),
        "A" | "B" => {
            let path = field(6, "AS path")?;
            let nh = field(8, "next hop")?;
            let value = if nh.is_empty() {
                RouteValue::None
            } else {
                RouteValue::Addr(nh.parse().map_err(|_| {
                    Bad::line(n, format!("next hop `{}` is not an address", excerpt(nh)))
                })?)
            };
            if kind.starts_with("TABLE_DUMP") {
                Ok(DumpLine::Rib(Candidate {
                    prefix,
                    peer_index,
                    peer_addr,
                    path_len: path_len_text(path),
                    value,
                }))
            } else {
                Ok(DumpLine::Event(Event {
                    time,
                    peer: Some(peer_addr),
                    change: Change::Announce(Route { prefix, value }),
                }))
            }
        }
        other => Err(Bad::line(
            n,
            format!("unknown entry type `{}`", excerpt(other)),
        )),
    }
}

/// Walks the lines of `bgpdump -m` text, handing each parsed line to `each`; malformed lines
/// fail or are counted per `opts.lenient`.
fn for_each_dump_line(
    path: &Path,
    data: &[u8],
    opts: &LoadOptions,
    stats: &mut LoadStats,
    mut each: impl FnMut(DumpLine, &mut LoadStats),
) -> Result<(), SourceError> {
    let mut peers = HashMap::new();
    for (n, raw) in lines(data) {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        stats.records += 1;
        match utf8(n, raw).and_then(|l| dump_line(n, l, &mut peers)) {
            Ok(DumpLine::Other(why)) => stats.skip(why),
            Ok(line) => each(line, stats),
            Err(b) => stats.bad(opts.lenient, b, path)?,
        }
    }
    Ok(())
}

/// `bgpdump -m` text of a RIB dump (TABLE_DUMP/TABLE_DUMP2 lines); peers are indexed in order
/// of first appearance.
pub fn parse_bgpdump(
    path: &Path,
    data: &[u8],
    opts: &LoadOptions,
) -> Result<RouteSet, SourceError> {
    let mut stats = LoadStats::default();
    let mut sel = Selector::default();
    for_each_dump_line(path, data, opts, &mut stats, |line, stats| match line {
        DumpLine::Rib(c) => sel.offer(c, &opts.peer),
        _ => stats.skip("update line in a RIB load"),
    })?;
    Ok(RouteSet {
        routes: sel.finish(path, &opts.peer)?,
        format: None,
        stats,
    })
}

/// `bgpdump -m` text of an update file: BGP4MP announce and withdraw lines as events.
pub fn parse_bgpdump_events(
    path: &Path,
    data: &[u8],
    opts: &LoadOptions,
) -> Result<(Vec<Event>, LoadStats), SourceError> {
    let mut stats = LoadStats::default();
    let mut events = Vec::new();
    for_each_dump_line(path, data, opts, &mut stats, |line, stats| match line {
        DumpLine::Event(e) => events.push(e),
        _ => stats.skip("RIB line in an update load"),
    })?;
    Ok((events, stats))
}

const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "nat",
    "anycast",
];

/// True if a line reads like `ip route show` output.
pub(crate) fn looks_like_ip_route(line: &str) -> bool {
    let mut t = line.split_whitespace();
    let first = t.next().unwrap_or("");
    let first = if ROUTE_TYPES.contains(&first) {
        t.next().unwrap_or("")
    } else {
        first
    };
    (first == "default" || parse_prefix(first).is_ok())
        && line.split_whitespace().any(|w| w == "via" || w == "dev")
}

/// `ip route show` / `ip -6 route show` text. Unicast routes only (other route types are
/// skipped and counted); the value is the gateway (`via`), else the device (`dev`). Multipath
/// routes take their first `nexthop`.
pub fn parse_ip_route(
    path: &Path,
    data: &[u8],
    opts: &LoadOptions,
) -> Result<RouteSet, SourceError> {
    let mut stats = LoadStats::default();
    let mut routes: Vec<Route> = Vec::new();
    let mut last_open = false; // the previous route still waits for a multipath nexthop
    for (n, raw) in lines(data) {
        let line = match utf8(n, raw) {
            Ok(l) => l,
            Err(b) => {
                stats.bad(opts.lenient, b, path)?;
                continue;
            }
        };
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            // Continuation of a multipath route: `nexthop via X dev Y weight 1`.
            if last_open {
                if let Some(r) = routes.last_mut() {
                    match route_value(line) {
                        Ok(Some(v)) => {
                            r.value = v;
                            last_open = false;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            last_open = false;
                            stats.bad(opts.lenient, Bad::line(n, e), path)?;
                        }
                    }
                }
            }
            continue;
        }
        stats.records += 1;
        match ip_route_line(n, line) {
            Ok(Some(r)) => {
                last_open = r.value == RouteValue::None;
                routes.push(r);
            }
            Ok(None) => {
                last_open = false;
                stats.skip("non-unicast route type");
            }
            Err(b) => {
                last_open = false;
                stats.bad(opts.lenient, b, path)?;
            }
        }
    }
    Ok(RouteSet {
        routes: dedup_last(routes),
        format: None,
        stats,
    })
}

/// The gateway (`via ADDR`) or else the device (`dev NAME`) of a route line; a `via` that is
/// not followed by an address is an error, never a route without a gateway.
fn route_value(line: &str) -> Result<Option<RouteValue>, String> {
    let mut t = line.split_whitespace();
    let mut dev = None;
    while let Some(w) = t.next() {
        match w {
            "via" => {
                let mut a = t.next().ok_or("`via` without a gateway")?;
                if a == "inet" || a == "inet6" {
                    a = t.next().ok_or("`via` without a gateway")?;
                }
                return a
                    .parse()
                    .map(|a| Some(RouteValue::Addr(a)))
                    .map_err(|_| format!("`via {}`: not an address", excerpt(a)));
            }
            "dev" => {
                let d = t.next().ok_or("`dev` without a device")?;
                dev = Some(RouteValue::Name(d.to_string()));
            }
            _ => {}
        }
    }
    Ok(dev)
}

fn ip_route_line(n: usize, line: &str) -> Result<Option<Route>, Bad> {
    let mut t = line.split_whitespace().peekable();
    let mut dest = t.next().unwrap_or("");
    if ROUTE_TYPES.contains(&dest) {
        if dest != "unicast" {
            return Ok(None);
        }
        dest = t
            .next()
            .ok_or_else(|| Bad::line(n, "route type without destination"))?;
    }
    let value = route_value(line)
        .map_err(|e| Bad::line(n, e))?
        .unwrap_or(RouteValue::None);
    let prefix = if dest == "default" {
        let v6 = matches!(value, RouteValue::Addr(IpAddr::V6(_))) || line.contains("::");
        if v6 {
            "::/0".parse().map_err(|_| Bad::line(n, "bad default"))?
        } else {
            "0.0.0.0/0"
                .parse()
                .map_err(|_| Bad::line(n, "bad default"))?
        }
    } else {
        parse_prefix(dest).map_err(|e| Bad::line(n, e))?
    };
    Ok(Some(Route { prefix, value }))
}
