//! Route sources: reading route dumps into a [`RouteSet`], and turning a route set into
//! forwarding tables.
//!
//! Every loader takes the whole (decompressed) input as bytes and reports errors with the file
//! and the line or byte offset. Inputs may be gzip, bzip2 or plain; the format is sniffed from
//! the content ([`Format::detect`]). With [`LoadOptions::lenient`], bad records are skipped and
//! counted instead of failing the load.
//!
//! From dump to table: a RIB dump holds one entry per peer per prefix; [`PeerChoice`] picks one
//! (default: shortest AS path, then lowest peer index). Each chosen route carries a
//! [`RouteValue`] (a next-hop id, an origin AS, a BGP next-hop address, an interface name) that
//! [`RouteValue::next_hop`] maps deterministically onto the router's `n` configured next hops.

pub mod mrt;
pub mod relocate;
pub mod snapshot;
pub mod synth;
pub mod text;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::lpm::{Key, Lpm, LpmError, NextHop};

/// Where in an input an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of a text input.
    Line(usize),
    /// Byte offset into the decompressed input of a binary format.
    Offset(usize),
    /// The input as a whole.
    Whole,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Offset(n) => write!(f, "byte offset {n}"),
            Location::Whole => write!(f, "input"),
        }
    }
}

/// A loader error.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {at}: {what}", file.display())]
    Parse {
        file: PathBuf,
        at: Location,
        what: String,
    },
    #[error(transparent)]
    Table(#[from] LpmError),
}

/// A parse error before the file name is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bad {
    pub at: Location,
    pub what: String,
}

impl Bad {
    pub fn line(n: usize, what: impl Into<String>) -> Self {
        Bad {
            at: Location::Line(n),
            what: what.into(),
        }
    }
    pub fn offset(n: usize, what: impl Into<String>) -> Self {
        Bad {
            at: Location::Offset(n),
            what: what.into(),
        }
    }
    pub fn in_file(self, file: &Path) -> SourceError {
        SourceError::Parse {
            file: file.to_path_buf(),
            at: self.at,
            what: self.what,
        }
    }
}

/// What a route says about where it goes, before mapping to a next-hop id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteValue {
    /// Already a next-hop id (vrouter's own text and snapshot formats).
    NextHop(u32),
    /// Origin AS (ipasn lists) or another numeric tag.
    Asn(u32),
    /// A BGP next hop or gateway address.
    Addr(IpAddr),
    /// An interface name (`ip route` lines without a gateway).
    Name(String),
    /// Nothing: the prefix itself decides.
    None,
}

/// FNV-1a, 64-bit: small, stable across versions and platforms (the mapping must not change).
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl RouteValue {
    /// The next-hop id among `n` configured next hops (`n >= 1`): ids are kept modulo `n`; every
    /// other value is hashed (FNV-1a of its bytes) modulo `n`, so the same table always maps the
    /// same way.
    pub fn next_hop(&self, prefix: &IpNet, n: u32) -> NextHop {
        let n = u64::from(n.max(1));
        let h = match self {
            RouteValue::NextHop(id) => return (u64::from(*id) % n) as NextHop,
            RouteValue::Asn(a) => fnv(&a.to_be_bytes()),
            RouteValue::Addr(IpAddr::V4(a)) => fnv(&a.octets()),
            RouteValue::Addr(IpAddr::V6(a)) => fnv(&a.octets()),
            RouteValue::Name(s) => fnv(s.as_bytes()),
            RouteValue::None => match prefix {
                IpNet::V4(p) => fnv(&[&p.network().octets()[..], &[p.prefix_len()]].concat()),
                IpNet::V6(p) => fnv(&[&p.network().octets()[..], &[p.prefix_len()]].concat()),
            },
        };
        (h % n) as NextHop
    }
}

impl fmt::Display for RouteValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteValue::NextHop(n) => write!(f, "{n}"),
            RouteValue::Asn(a) => write!(f, "AS{a}"),
            RouteValue::Addr(a) => write!(f, "{a}"),
            RouteValue::Name(s) => f.write_str(s),
            RouteValue::None => f.write_str("-"),
        }
    }
}

/// A route change from an update stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Announce(Route),
    Withdraw(IpNet),
}

/// A change with its time and the peer that sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub time: u32,
    pub peer: Option<IpAddr>,
    pub change: Change,
}

/// Applies events in order to a route list (announce adds or replaces, withdraw removes).
pub fn apply_events(routes: Vec<Route>, events: &[Event]) -> Vec<Route> {
    let mut map: std::collections::HashMap<IpNet, (usize, RouteValue)> = routes
        .into_iter()
        .enumerate()
        .map(|(i, r)| (r.prefix, (i, r.value)))
        .collect();
    let mut next = map.len();
    for e in events {
        match &e.change {
            Change::Announce(r) => {
                let order = map.get(&r.prefix).map_or(next, |(i, _)| *i);
                next += 1;
                map.insert(r.prefix, (order, r.value.clone()));
            }
            Change::Withdraw(p) => {
                map.remove(p);
            }
        }
    }
    let mut out: Vec<(usize, Route)> = map
        .into_iter()
        .map(|(prefix, (i, value))| (i, Route { prefix, value }))
        .collect();
    out.sort_unstable_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Loads the route changes of an update file (MRT BGP4MP or `bgpdump -m` text), in file order.
pub fn load_events(
    path: &Path,
    opts: &LoadOptions,
    progress: Progress<'_>,
) -> Result<(Vec<Event>, LoadStats), SourceError> {
    let input = read_input(path, progress)?;
    if input.truncated && !opts.lenient {
        return Err(truncated_error(path, &input));
    }
    let format = opts.format.unwrap_or_else(|| Format::detect(&input.data));
    let (events, mut stats) = match format {
        Format::Mrt => mrt::load_events(path, &input.data, opts)?,
        Format::Bgpdump => text::parse_bgpdump_events(path, &input.data, opts)?,
        other => {
            return Err(SourceError::Parse {
                file: path.to_path_buf(),
                at: Location::Whole,
                what: format!(
                    "{} input holds no route changes (expected MRT BGP4MP or bgpdump text)",
                    other.name()
                ),
            })
        }
    };
    if input.truncated {
        stats.skip("truncated compressed stream");
    }
    Ok((events, stats))
}

fn truncated_error(path: &Path, input: &Input) -> SourceError {
    SourceError::Parse {
        file: path.to_path_buf(),
        at: Location::Offset(input.data.len()),
        what: "compressed stream ends early (truncated file); --lenient loads what is there".into(),
    }
}

/// One route: a prefix and what it points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpNet,
    pub value: RouteValue,
}

/// Input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `PREFIX<TAB>VALUE` lines (ipasn files, vrouter's text output, plain prefix lists).
    PrefixList,
    /// MRT (RFC 6396): TABLE_DUMP, TABLE_DUMP_V2, BGP4MP, BGP4MP_ET.
    Mrt,
    /// `bgpdump -m` text.
    Bgpdump,
    /// `ip route show` / `ip -6 route show` text.
    IpRoute,
    /// vrouter's binary snapshot.
    Snapshot,
}

impl Format {
    /// Guesses the format of decompressed input from its first bytes.
    pub fn detect(data: &[u8]) -> Format {
        if data.starts_with(snapshot::MAGIC) {
            return Format::Snapshot;
        }
        if mrt::looks_like_mrt(data) {
            return Format::Mrt;
        }
        let head = &data[..data.len().min(64 * 1024)];
        let text = String::from_utf8_lossy(head);
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            if line.starts_with("TABLE_DUMP") || line.starts_with("BGP4MP") {
                return Format::Bgpdump;
            }
            if text::looks_like_ip_route(line) {
                return Format::IpRoute;
            }
            return Format::PrefixList;
        }
        Format::PrefixList
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::PrefixList => "prefix-list",
            Format::Mrt => "mrt",
            Format::Bgpdump => "bgpdump",
            Format::IpRoute => "ip-route",
            Format::Snapshot => "snapshot",
        }
    }
}

/// Which RIB entry of a prefix becomes the route when a dump holds several peers' paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PeerChoice {
    /// Shortest AS path (an AS_SET counts as one), ties to the lowest peer index: a simplified
    /// BGP decision process, deterministic for a given dump.
    #[default]
    Best,
    /// Only entries from this peer index (MRT PEER_INDEX_TABLE order, from 0).
    Index(u16),
    /// Only entries from the peer with this address.
    Addr(IpAddr),
}

impl fmt::Display for PeerChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerChoice::Best => write!(f, "best"),
            PeerChoice::Index(i) => write!(f, "{i}"),
            PeerChoice::Addr(a) => write!(f, "{a}"),
        }
    }
}

impl std::str::FromStr for PeerChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "best" {
            return Ok(PeerChoice::Best);
        }
        if let Ok(i) = s.parse::<u16>() {
            return Ok(PeerChoice::Index(i));
        }
        s.parse::<IpAddr>().map(PeerChoice::Addr).map_err(|_| {
            format!(
                "peer must be `best`, a peer index (0, 1, ...) or a peer address, not `{}`",
                excerpt(s)
            )
        })
    }
}

/// How to load.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Skip and count bad records instead of failing.
    pub lenient: bool,
    /// Peer selection for RIB dumps.
    pub peer: PeerChoice,
    /// Force a format instead of sniffing.
    pub format: Option<Format>,
}

/// Counts gathered while loading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Records read (lines, MRT records, RIB entries).
    pub records: u64,
    /// Records not turned into routes, by reason (unsupported subtypes, comments are not
    /// counted; malformed records only appear here with `lenient`).
    pub skipped: BTreeMap<String, u64>,
    /// The first error skipped in lenient mode, for the log.
    pub first_error: Option<String>,
    /// Bytes never read in lenient mode: everything after a record whose framing was lost.
    pub unread_bytes: u64,
}

impl LoadStats {
    pub fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }
    /// Records a bad record in lenient mode, or returns it as the error.
    pub fn bad(&mut self, lenient: bool, bad: Bad, file: &Path) -> Result<(), SourceError> {
        if !lenient {
            return Err(bad.in_file(file));
        }
        if self.first_error.is_none() {
            self.first_error = Some(format!("{}: {}: {}", file.display(), bad.at, bad.what));
        }
        self.skip("malformed");
        Ok(())
    }
}

/// The routes of one input, one per prefix, in input order of first appearance.
#[derive(Clone, Debug, Default)]
pub struct RouteSet {
    pub routes: Vec<Route>,
    pub format: Option<Format>,
    pub stats: LoadStats,
}

impl RouteSet {
    pub fn v4_count(&self) -> usize {
        self.routes
            .iter()
            .filter(|r| r.prefix.addr().is_ipv4())
            .count()
    }
    pub fn v6_count(&self) -> usize {
        self.routes.len() - self.v4_count()
    }

    /// IPv4 routes mapped onto `nexthops` next-hop ids.
    pub fn v4_entries(&self, nexthops: u32) -> Vec<(u32, u8, NextHop)> {
        self.routes
            .iter()
            .filter_map(|r| match r.prefix {
                IpNet::V4(p) => {
                    let (k, l) = u32::from_net(p);
                    Some((k, l, r.value.next_hop(&r.prefix, nexthops)))
                }
                IpNet::V6(_) => None,
            })
            .collect()
    }

    /// IPv6 routes mapped onto `nexthops` next-hop ids.
    pub fn v6_entries(&self, nexthops: u32) -> Vec<(u128, u8, NextHop)> {
        self.routes
            .iter()
            .filter_map(|r| match r.prefix {
                IpNet::V6(p) => {
                    let (k, l) = u128::from_net(p);
                    Some((k, l, r.value.next_hop(&r.prefix, nexthops)))
                }
                IpNet::V4(_) => None,
            })
            .collect()
    }

    /// Builds both forwarding tables.
    pub fn tables(&self, nexthops: u32) -> Result<(Lpm<u32>, Lpm<u128>), LpmError> {
        Ok((
            Lpm::from_routes(self.v4_entries(nexthops))?,
            Lpm::from_routes(self.v6_entries(nexthops))?,
        ))
    }
}

/// Progress callback: `(bytes done, bytes total)` of the file as stored (compressed or not).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Counts bytes pulled through a reader and reports them.
struct Counting<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    last: u64,
    progress: Progress<'a>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done - self.last >= 256 * 1024 || n == 0 {
            self.last = self.done;
            (self.progress)(self.done, self.total);
        }
        Ok(n)
    }
}

/// A file's decompressed content.
#[derive(Debug)]
pub struct Input {
    pub data: Vec<u8>,
    /// The compressed stream ended early (an interrupted download); `data` holds what came
    /// out before the cut.
    pub truncated: bool,
}

/// A piece of bad input fit to quote in an error: whole if short, else its start and its size
/// (a 1.5 GB line must not become a 1.5 GB message).
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 60;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = 48;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// The most a route file may decompress to, in MiB (`VROUTER_MAX_INPUT_MB`, default 2048: the
/// largest real RIB dumps are well under 1 GiB). Past it the load fails instead of exhausting
/// memory (`/dev/zero`, a gzip bomb).
pub fn max_input_bytes() -> u64 {
    std::env::var("VROUTER_MAX_INPUT_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&m| m > 0)
        .unwrap_or(2048)
        .saturating_mul(1 << 20)
}

/// Reads a file whole, decompressing gzip (including multi-member) and bzip2 by magic bytes,
/// up to [`max_input_bytes`].
pub fn read_input(path: &Path, progress: Progress<'_>) -> Result<Input, SourceError> {
    let io = |source| SourceError::Io {
        file: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let total = file.metadata().map_err(io)?.len();
    let mut head = [0u8; 3];
    let mut f = std::io::BufReader::new(file);
    let n = {
        use std::io::BufRead;
        let buf = f.fill_buf().map_err(io)?;
        let n = buf.len().min(3);
        head[..n].copy_from_slice(&buf[..n]);
        n
    };
    let counting = Counting {
        inner: f,
        done: 0,
        total,
        last: 0,
        progress,
    };
    let max = max_input_bytes();
    let mut out = Vec::with_capacity((total as usize).saturating_mul(2).min(256 << 20));
    let res = if n >= 2 && head[..2] == [0x1f, 0x8b] {
        flate2::read::MultiGzDecoder::new(counting)
            .take(max + 1)
            .read_to_end(&mut out)
    } else if n == 3 && &head == b"BZh" {
        bzip2::read::MultiBzDecoder::new(counting)
            .take(max + 1)
            .read_to_end(&mut out)
    } else {
        counting.take(max + 1).read_to_end(&mut out)
    };
    if out.len() as u64 > max {
        return Err(SourceError::Parse {
            file: path.to_path_buf(),
            at: Location::Whole,
            what: format!(
                "larger than {} MiB decompressed; not loaded (VROUTER_MAX_INPUT_MB raises the limit)",
                max >> 20
            ),
        });
    }
    match res {
        Ok(_) => Ok(Input {
            data: out,
            truncated: false,
        }),
        // A cut compressed stream: keep what decompressed so that lenient loads can use it.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => Ok(Input {
            data: out,
            truncated: true,
        }),
        Err(e) => Err(SourceError::Parse {
            file: path.to_path_buf(),
            at: Location::Whole,
            what: format!("cannot decompress: {e}"),
        }),
    }
}

/// Loads a route dump of any supported format.
pub fn load(
    path: &Path,
    opts: &LoadOptions,
    progress: Progress<'_>,
) -> Result<RouteSet, SourceError> {
    let input = read_input(path, progress)?;
    if input.truncated && !opts.lenient {
        return Err(truncated_error(path, &input));
    }
    let mut set = load_bytes(path, &input.data, opts)?;
    if input.truncated {
        set.stats.skip("truncated compressed stream");
    }
    Ok(set)
}

/// Parses decompressed input (`path` only names it in errors).
pub fn load_bytes(path: &Path, data: &[u8], opts: &LoadOptions) -> Result<RouteSet, SourceError> {
    let format = opts.format.unwrap_or_else(|| Format::detect(data));
    let mut set = match format {
        Format::PrefixList => text::parse_prefix_list(path, data, opts)?,
        Format::Bgpdump => text::parse_bgpdump(path, data, opts)?,
        Format::IpRoute => text::parse_ip_route(path, data, opts)?,
        Format::Mrt => mrt::load_rib(path, data, opts)?,
        Format::Snapshot => snapshot::decode(data).map_err(|b| b.in_file(path))?,
    };
    set.format = Some(format);
    Ok(set)
}

/// Keeps one route per prefix (the last seen), in order of first appearance.
pub(crate) fn dedup_last(routes: Vec<Route>) -> Vec<Route> {
    let mut index = std::collections::HashMap::with_capacity(routes.len());
    let mut out: Vec<Route> = Vec::with_capacity(routes.len());
    for r in routes {
        match index.get(&r.prefix) {
            Some(&i) => out[i] = r,
            None => {
                index.insert(r.prefix, out.len());
                out.push(r);
            }
        }
    }
    out
}
