//! MRT (RFC 6396) reader: TABLE_DUMP_V2 (PEER_INDEX_TABLE, RIB_IPV4_UNICAST,
//! RIB_IPV6_UNICAST), legacy TABLE_DUMP (AFI IPv4 and IPv6), and BGP4MP / BGP4MP_ET update
//! messages (IPv4 NLRI, MP_REACH_NLRI / MP_UNREACH_NLRI, 2- and 4-byte AS numbers).
//!
//! Every read is bounds-checked through [`Cur`], so malformed input yields a [`Bad`] naming the
//! byte offset (in the decompressed stream) and the field, never a panic.
//!
//! Longer than 700 lines: MRT's record types (TABLE_DUMP, TABLE_DUMP_V2, BGP4MP and their
//! attributes) share one cursor and one error type; splitting them would scatter the format.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::text::{Candidate, Selector};
use super::{
    Bad, Change, Event, LoadOptions, LoadStats, Location, Route, RouteSet, RouteValue, SourceError,
};

pub const TABLE_DUMP: u16 = 12;
pub const TABLE_DUMP_V2: u16 = 13;
pub const BGP4MP: u16 = 16;
pub const BGP4MP_ET: u16 = 17;

/// A bounds-checked reader over one slice; `base` is the slice's offset in the whole input.
#[derive(Clone, Copy)]
pub struct Cur<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cur<'a> {
    pub fn new(data: &'a [u8], base: usize) -> Self {
        Cur { data, pos: 0, base }
    }
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], Bad> {
        if self.remaining() < n {
            return Err(Bad::offset(
                self.offset(),
                format!(
                    "truncated {what}: needs {n} bytes, {} left",
                    self.remaining()
                ),
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Splits off the next `n` bytes as their own cursor.
    pub fn sub(&mut self, n: usize, what: &str) -> Result<Cur<'a>, Bad> {
        let base = self.offset();
        Ok(Cur::new(self.bytes(n, what)?, base))
    }
    pub fn u8(&mut self, what: &str) -> Result<u8, Bad> {
        Ok(self.bytes(1, what)?[0])
    }
    pub fn u16(&mut self, what: &str) -> Result<u16, Bad> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self, what: &str) -> Result<u32, Bad> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn ip(&mut self, v6: bool, what: &str) -> Result<IpAddr, Bad> {
        if v6 {
            let b = self.bytes(16, what)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Ok(IpAddr::V6(Ipv6Addr::from(a)))
        } else {
            let b = self.bytes(4, what)?;
            Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
        }
    }
    fn bad(&self, what: impl Into<String>) -> Bad {
        Bad::offset(self.offset(), what)
    }
    /// An NLRI prefix: length byte then the minimum bytes; host bits are cleared.
    pub fn prefix(&mut self, v6: bool) -> Result<IpNet, Bad> {
        let at = self.offset();
        let len = self.u8("prefix length")?;
        let max = if v6 { 128 } else { 32 };
        if len > max {
            return Err(Bad::offset(
                at,
                format!("prefix length {len} exceeds {max}"),
            ));
        }
        let b = self.bytes(usize::from(len).div_ceil(8), "prefix bytes")?;
        let mut a = [0u8; 16];
        a[..b.len()].copy_from_slice(b);
        let net = if v6 {
            IpNet::V6(
                Ipv6Net::new(Ipv6Addr::from(a), len).map_err(|e| Bad::offset(at, e.to_string()))?,
            )
        } else {
            IpNet::V4(
                Ipv4Net::new(Ipv4Addr::new(a[0], a[1], a[2], a[3]), len)
                    .map_err(|e| Bad::offset(at, e.to_string()))?,
            )
        };
        Ok(net.trunc())
    }
}

/// An MRT record.
pub struct Record<'a> {
    /// Offset of the record header in the input.
    pub offset: usize,
    pub time: u32,
    pub kind: u16,
    pub subtype: u16,
    /// The message, after the ET microsecond field for `_ET` types.
    pub body: Cur<'a>,
}

/// Iterates records. A header or body running past the end is an error at its offset; after an
/// error the iterator stops (framing is lost).
pub struct Records<'a> {
    cur: Cur<'a>,
    failed: bool,
}

impl<'a> Records<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Records {
            cur: Cur::new(data, 0),
            failed: false,
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Bad>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.cur.is_empty() {
            return None;
        }
        let res = (|| {
            let offset = self.cur.offset();
            let mut h = self
                .cur
                .sub(12, "MRT record header")
                .map_err(|b| Bad::offset(offset, b.what))?;
            let time = h.u32("timestamp")?;
            let kind = h.u16("type")?;
            let subtype = h.u16("subtype")?;
            let len = h.u32("length")? as usize;
            let mut body = self.cur.sub(len, "MRT record body").map_err(|b| {
                Bad::offset(
                    offset,
                    format!(
                        "record (type {kind}, subtype {subtype}) is truncated: {}",
                        b.what
                    ),
                )
            })?;
            if kind == BGP4MP_ET || kind == 15 || kind == 11 {
                body.u32("ET microseconds")?;
            }
            Ok(Record {
                offset,
                time,
                kind,
                subtype,
                body,
            })
        })();
        self.failed = res.is_err();
        Some(res)
    }
}

/// True when `data` starts with a plausible MRT header of a type we read.
pub fn looks_like_mrt(data: &[u8]) -> bool {
    if data.len() < 12 {
        return false;
    }
    let kind = u16::from_be_bytes([data[4], data[5]]);
    let sub = u16::from_be_bytes([data[6], data[7]]);
    let len = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
    matches!(kind, TABLE_DUMP | TABLE_DUMP_V2 | BGP4MP | BGP4MP_ET) && sub < 64 && len < (1 << 24)
}

/// An AS path: segments of (type, ASNs). Types: 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE,
/// 4 AS_CONFED_SET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AsPath(pub Vec<(u8, Vec<u32>)>);

impl AsPath {
    /// Hops for path comparison: a set counts as one.
    pub fn hops(&self) -> u32 {
        self.0
            .iter()
            .map(|(t, v)| {
                if *t == 2 || *t == 3 {
                    v.len() as u32
                } else {
                    1
                }
            })
            .sum()
    }

    /// The origin AS (last AS of the last sequence).
    pub fn origin(&self) -> Option<u32> {
        self.0.last().and_then(|(_, v)| v.last().copied())
    }

    /// RFC 6793 §4.2.3: rebuilds the path from AS_PATH (with AS_TRANS) and AS4_PATH.
    fn merge_as4(self, as4: AsPath) -> AsPath {
        let (n, n4) = (self.hops(), as4.hops());
        if n < n4 {
            return self;
        }
        let mut keep = n - n4;
        let mut out = Vec::new();
        for (t, v) in self.0 {
            if keep == 0 {
                break;
            }
            if t == 2 || t == 3 {
                let take = (keep as usize).min(v.len());
                out.push((t, v[..take].to_vec()));
                keep -= take as u32;
            } else {
                out.push((t, v));
                keep -= 1;
            }
        }
        out.extend(as4.0);
        AsPath(out)
    }
}

/// Prints like `bgpdump -m`: sequences space-separated, `{a,b}` sets, `(a b)` confederation
/// sequences, `[a,b]` confederation sets.
impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (t, v) in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let join = |sep: &str| v.iter().map(u32::to_string).collect::<Vec<_>>().join(sep);
            match t {
                1 => write!(f, "{{{}}}", join(","))?,
                3 => write!(f, "({})", join(" "))?,
                4 => write!(f, "[{}]", join(","))?,
                _ => f.write_str(&join(" "))?,
            }
        }
        Ok(())
    }
}

/// The path attributes a router needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    pub origin: Option<u8>,
    pub as_path: AsPath,
    pub next_hop: Option<IpAddr>,
    /// MP_REACH_NLRI next hop (IPv6 routes).
    pub mp_next_hop: Option<IpAddr>,
    /// MP_REACH_NLRI prefixes (update messages).
    pub mp_reach: Vec<IpNet>,
    /// MP_UNREACH_NLRI prefixes (update messages).
    pub mp_unreach: Vec<IpNet>,
}

impl Attrs {
    /// The next hop for a route of this family: MP_REACH for IPv6, NEXT_HOP for IPv4.
    pub fn hop_for(&self, v6: bool) -> Option<IpAddr> {
        if v6 {
            self.mp_next_hop.or(self.next_hop)
        } else {
            self.next_hop.or(self.mp_next_hop)
        }
    }
}

/// Where attributes come from: RIB entries abbreviate MP_REACH_NLRI (RFC 6396 §4.3.4).
#[derive(Clone, Copy, PartialEq, Eq)]
enum AttrContext {
    Rib,
    Update,
}

fn parse_attrs(mut c: Cur<'_>, as4: bool, ctx: AttrContext) -> Result<Attrs, Bad> {
    let mut a = Attrs::default();
    let mut as4_path = None;
    while !c.is_empty() {
        let at = c.offset();
        let flags = c.u8("attribute flags")?;
        let kind = c.u8("attribute type")?;
        let len = if flags & 0x10 != 0 {
            usize::from(c.u16("attribute length")?)
        } else {
            usize::from(c.u8("attribute length")?)
        };
        let mut v = c
            .sub(len, "attribute value")
            .map_err(|b| Bad::offset(at, format!("attribute {kind}: {}", b.what)))?;
        match kind {
            1 => a.origin = Some(v.u8("ORIGIN")?),
            2 => a.as_path = parse_path(v, as4)?,
            3 => a.next_hop = Some(v.ip(false, "NEXT_HOP")?),
            14 => parse_mp_reach(v, ctx, &mut a)?,
            15 => {
                let afi = v.u16("MP_UNREACH AFI")?;
                v.u8("MP_UNREACH SAFI")?;
                let v6 = afi_v6(afi, &v)?;
                while !v.is_empty() {
                    a.mp_unreach.push(v.prefix(v6)?);
                }
            }
            17 => as4_path = Some(parse_path(v, true)?),
            _ => {}
        }
    }
    if let Some(p4) = as4_path {
        if !as4 {
            a.as_path = std::mem::take(&mut a.as_path).merge_as4(p4);
        }
    }
    Ok(a)
}

fn afi_v6(afi: u16, c: &Cur<'_>) -> Result<bool, Bad> {
    match afi {
        1 => Ok(false),
        2 => Ok(true),
        other => Err(c.bad(format!("unsupported AFI {other}"))),
    }
}

fn parse_path(mut v: Cur<'_>, as4: bool) -> Result<AsPath, Bad> {
    let mut segs = Vec::new();
    while !v.is_empty() {
        let at = v.offset();
        let t = v.u8("AS_PATH segment type")?;
        if !(1..=4).contains(&t) {
            return Err(Bad::offset(
                at,
                format!("AS_PATH segment type {t} is not 1-4"),
            ));
        }
        let n = v.u8("AS_PATH segment length")?;
        let mut asns = Vec::with_capacity(n.into());
        for _ in 0..n {
            asns.push(if as4 {
                v.u32("AS number")?
            } else {
                u32::from(v.u16("AS number")?)
            });
        }
        segs.push((t, asns));
    }
    Ok(AsPath(segs))
}

fn parse_mp_reach(mut v: Cur<'_>, ctx: AttrContext, a: &mut Attrs) -> Result<(), Bad> {
    // RIB entries normally carry only [next hop length, next hop]; some writers keep the full
    // attribute, so take the short form only when the lengths say so.
    if ctx == AttrContext::Rib && v.remaining() > 0 {
        let mut probe = v;
        let nh_len = usize::from(probe.u8("MP_REACH next hop length")?);
        if nh_len == probe.remaining() {
            a.mp_next_hop = Some(next_hop(probe, nh_len)?);
            return Ok(());
        }
    }
    let afi = v.u16("MP_REACH AFI")?;
    v.u8("MP_REACH SAFI")?;
    let v6 = afi_v6(afi, &v)?;
    let nh_len = usize::from(v.u8("MP_REACH next hop length")?);
    let nh = v.sub(nh_len, "MP_REACH next hop")?;
    a.mp_next_hop = Some(next_hop(nh, nh_len)?);
    v.u8("MP_REACH reserved byte")?;
    while !v.is_empty() {
        a.mp_reach.push(v.prefix(v6)?);
    }
    Ok(())
}

/// A next hop of 4 (IPv4), 16 (IPv6 global) or 32 bytes (global + link-local: the global one).
fn next_hop(mut c: Cur<'_>, len: usize) -> Result<IpAddr, Bad> {
    match len {
        4 => c.ip(false, "next hop"),
        16 | 32 => c.ip(true, "next hop"),
        other => Err(c.bad(format!("next hop length {other} is not 4, 16 or 32"))),
    }
}

/// A peer from the PEER_INDEX_TABLE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub addr: IpAddr,
    pub asn: u32,
}

fn parse_peer_table(mut c: Cur<'_>) -> Result<Vec<Peer>, Bad> {
    c.u32("collector BGP ID")?;
    let name_len = usize::from(c.u16("view name length")?);
    c.bytes(name_len, "view name")?;
    let n = c.u16("peer count")?;
    let mut peers = Vec::with_capacity(n.into());
    for _ in 0..n {
        let t = c.u8("peer type")?;
        c.u32("peer BGP ID")?;
        let addr = c.ip(t & 1 != 0, "peer address")?;
        let asn = if t & 2 != 0 {
            c.u32("peer AS")?
        } else {
            u32::from(c.u16("peer AS")?)
        };
        peers.push(Peer { addr, asn });
    }
    Ok(peers)
}

/// One RIB entry, as `bgpdump -m` would print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RibEntry {
    /// When the dump was taken (the MRT record's timestamp).
    pub dumped: u32,
    /// When the route was learned (the entry's originated time).
    pub originated: u32,
    pub prefix: IpNet,
    pub peer_index: u16,
    pub peer: Peer,
    pub attrs: Attrs,
}

impl RibEntry {
    pub fn next_hop(&self) -> Option<IpAddr> {
        self.attrs.hop_for(matches!(self.prefix, IpNet::V6(_)))
    }
}

/// A TABLE_DUMP_V2 RIB record: every entry of one prefix.
fn parse_rib_v2(
    r: &Record<'_>,
    peers: &[Peer],
    v6: bool,
    out: &mut Vec<RibEntry>,
) -> Result<(), Bad> {
    let mut c = r.body;
    c.u32("sequence number")?;
    let prefix = c.prefix(v6)?;
    let n = c.u16("entry count")?;
    for _ in 0..n {
        let at = c.offset();
        let peer_index = c.u16("peer index")?;
        let time = c.u32("originated time")?;
        let len = usize::from(c.u16("attribute length")?);
        let attrs = parse_attrs(c.sub(len, "attributes")?, true, AttrContext::Rib)?;
        let peer = *peers.get(usize::from(peer_index)).ok_or_else(|| {
            Bad::offset(
                at,
                format!(
                    "peer index {peer_index} not in PEER_INDEX_TABLE ({} peers)",
                    peers.len()
                ),
            )
        })?;
        out.push(RibEntry {
            dumped: r.time,
            originated: time,
            prefix,
            peer_index,
            peer,
            attrs,
        });
    }
    if !c.is_empty() {
        return Err(c.bad(format!(
            "{} unexpected bytes after the RIB entries",
            c.remaining()
        )));
    }
    Ok(())
}

/// A legacy TABLE_DUMP record (one entry).
fn parse_rib_v1(r: &Record<'_>, v6: bool) -> Result<RibEntry, Bad> {
    let mut c = r.body;
    c.u16("view number")?;
    c.u16("sequence number")?;
    let addr = c.ip(v6, "prefix")?;
    let at = c.offset();
    let len = c.u8("prefix length")?;
    let prefix = IpNet::new(addr, len)
        .map_err(|_| Bad::offset(at, format!("prefix length {len} is too long")))?
        .trunc();
    c.u8("status")?;
    let time = c.u32("originated time")?;
    let peer_addr = c.ip(v6, "peer address")?;
    let asn = u32::from(c.u16("peer AS")?);
    let alen = usize::from(c.u16("attribute length")?);
    let attrs = parse_attrs(c.sub(alen, "attributes")?, false, AttrContext::Rib)?;
    Ok(RibEntry {
        dumped: r.time,
        originated: time,
        prefix,
        peer_index: 0,
        peer: Peer {
            addr: peer_addr,
            asn,
        },
        attrs,
    })
}

/// One BGP UPDATE message from a BGP4MP record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateMsg {
    pub time: u32,
    pub peer: Peer,
    /// IPv4 withdrawn routes, then MP_UNREACH_NLRI prefixes.
    pub withdrawn: Vec<IpNet>,
    /// IPv4 NLRI (next hop: NEXT_HOP).
    pub announced: Vec<IpNet>,
    /// Attributes; `attrs.mp_reach` holds the MP_REACH_NLRI announcements.
    pub attrs: Attrs,
}

impl UpdateMsg {
    /// The route changes, withdrawals first, then announcements, as `bgpdump -m` lists them.
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        let peer = Some(self.peer.addr);
        let w = self.withdrawn.iter().map(move |&p| Event {
            time: self.time,
            peer,
            change: Change::Withdraw(p),
        });
        let a4 = self
            .announced
            .iter()
            .map(move |&p| (p, self.attrs.next_hop));
        let a6 = self
            .attrs
            .mp_reach
            .iter()
            .map(move |&p| (p, self.attrs.mp_next_hop));
        w.chain(a4.chain(a6).map(move |(p, hop)| Event {
            time: self.time,
            peer,
            change: Change::Announce(Route {
                prefix: p,
                value: hop.map_or(RouteValue::None, RouteValue::Addr),
            }),
        }))
    }
}

/// What one record held.
pub enum Parsed {
    Peers(Vec<Peer>),
    Rib(Vec<RibEntry>),
    Update(UpdateMsg),
    /// Not a route record; the reason is the skip count's key.
    Skip(String),
}

/// Decodes one record (`peers` from an earlier PEER_INDEX_TABLE).
pub fn parse_record(r: &Record<'_>, peers: &[Peer]) -> Result<Parsed, Bad> {
    match (r.kind, r.subtype) {
        (TABLE_DUMP_V2, 1) => Ok(Parsed::Peers(parse_peer_table(r.body)?)),
        (TABLE_DUMP_V2, 2 | 4) => {
            if peers.is_empty() {
                return Err(Bad::offset(
                    r.offset,
                    "RIB record before any PEER_INDEX_TABLE",
                ));
            }
            let mut out = Vec::new();
            parse_rib_v2(r, peers, r.subtype == 4, &mut out)?;
            Ok(Parsed::Rib(out))
        }
        (TABLE_DUMP_V2, s) => Ok(Parsed::Skip(format!("TABLE_DUMP_V2 subtype {s}"))),
        (TABLE_DUMP, 1 | 2) => Ok(Parsed::Rib(vec![parse_rib_v1(r, r.subtype == 2)?])),
        (TABLE_DUMP, s) => Ok(Parsed::Skip(format!("TABLE_DUMP subtype {s}"))),
        (BGP4MP | BGP4MP_ET, 0 | 5) => Ok(Parsed::Skip("BGP4MP state change".into())),
        (BGP4MP | BGP4MP_ET, s @ (1 | 4 | 6 | 7)) => parse_bgp4mp(r, s == 4 || s == 7),
        (BGP4MP | BGP4MP_ET, s) => Ok(Parsed::Skip(format!("BGP4MP subtype {s}"))),
        (k, _) => Ok(Parsed::Skip(format!("MRT type {k}"))),
    }
}

fn parse_bgp4mp(r: &Record<'_>, as4: bool) -> Result<Parsed, Bad> {
    let mut c = r.body;
    let peer_as = if as4 {
        c.u32("peer AS")?
    } else {
        u32::from(c.u16("peer AS")?)
    };
    if as4 {
        c.u32("local AS")?;
    } else {
        c.u16("local AS")?;
    }
    c.u16("interface index")?;
    let afi = c.u16("AFI")?;
    let v6 = afi_v6(afi, &c)?;
    let peer = c.ip(v6, "peer address")?;
    c.ip(v6, "local address")?;
    let at = c.offset();
    let marker = c.bytes(16, "BGP marker")?;
    if marker.iter().any(|&b| b != 0xff) {
        return Err(Bad::offset(at, "BGP marker is not all ones"));
    }
    let len = usize::from(c.u16("BGP message length")?);
    let kind = c.u8("BGP message type")?;
    if len < 19 {
        return Err(Bad::offset(
            at,
            format!("BGP message length {len} is below the 19-byte header"),
        ));
    }
    let mut m = c
        .sub(len - 19, "BGP message")
        .map_err(|b| Bad::offset(at, b.what))?;
    match kind {
        2 => {}
        1 => return Ok(Parsed::Skip("BGP OPEN".into())),
        3 => return Ok(Parsed::Skip("BGP NOTIFICATION".into())),
        4 => return Ok(Parsed::Skip("BGP KEEPALIVE".into())),
        t => return Ok(Parsed::Skip(format!("BGP message type {t}"))),
    }
    let wlen = usize::from(m.u16("withdrawn routes length")?);
    let mut w = m.sub(wlen, "withdrawn routes")?;
    let mut withdrawn = Vec::new();
    while !w.is_empty() {
        withdrawn.push(w.prefix(false)?);
    }
    let alen = usize::from(m.u16("path attribute length")?);
    let attrs = parse_attrs(m.sub(alen, "path attributes")?, as4, AttrContext::Update)?;
    let mut announced = Vec::new();
    while !m.is_empty() {
        announced.push(m.prefix(false)?);
    }
    withdrawn.extend_from_slice(&attrs.mp_unreach);
    Ok(Parsed::Update(UpdateMsg {
        time: r.time,
        peer: Peer {
            addr: peer,
            asn: peer_as,
        },
        withdrawn,
        announced,
        attrs,
    }))
}

/// More unread bytes than a record could hold are not a cut record but lost framing.
const MAX_RECORD: u64 = 64 << 10;

/// Calls `each` for every record's decoded content, handling errors per `lenient`.
fn for_each(
    path: &Path,
    data: &[u8],
    opts: &LoadOptions,
    stats: &mut LoadStats,
    mut each: impl FnMut(Parsed, &mut LoadStats),
) -> Result<(), SourceError> {
    let mut peers: Vec<Peer> = Vec::new();
    for rec in Records::new(data) {
        let rec = match rec {
            Ok(r) => r,
            Err(b) => {
                // Framing is lost: in lenient mode stop here with what was read, unless most
                // of the file would go unread. A file cut mid-record (the usual case) loses less
                // than one record; a corrupt length early on loses the rest of the file.
                let at = match b.at {
                    Location::Offset(o) => o.min(data.len()),
                    _ => 0,
                };
                stats.bad(opts.lenient, b, path)?;
                stats.unread_bytes += (data.len() - at) as u64;
                if 2 * stats.unread_bytes > data.len() as u64 && stats.unread_bytes > MAX_RECORD {
                    return Err(SourceError::Parse {
                        file: path.to_path_buf(),
                        at: Location::Offset(at),
                        what: format!(
                            "record framing lost here: {} of {} bytes ({:.0}%) cannot be read; \
                             not loaded, even with --lenient",
                            stats.unread_bytes,
                            data.len(),
                            100.0 * stats.unread_bytes as f64 / data.len().max(1) as f64
                        ),
                    });
                }
                break;
            }
        };
        stats.records += 1;
        match parse_record(&rec, &peers) {
            Ok(Parsed::Peers(p)) => peers = p,
            Ok(Parsed::Skip(why)) => stats.skip(&why),
            Ok(other) => each(other, stats),
            Err(b) => stats.bad(opts.lenient, b, path)?,
        }
    }
    Ok(())
}

/// Every RIB entry of a dump, in file order (for inspection and the bgpdump cross-check).
pub fn rib_entries(
    path: &Path,
    data: &[u8],
    opts: &LoadOptions,
) -> Result<(Vec<RibEntry>, LoadStats), SourceError> {
    let mut stats = LoadStats::default();
    let mut out = Vec::new();
    for_each(path, data, opts, &mut stats, |p, stats| match p {
        Parsed::Rib(e) => out.extend(e),
        _ => stats.skip("update record in a RIB read"),
    })?;
    Ok((out, stats))
}

/// Loads a RIB dump as routes, one per prefix ([`super::PeerChoice`]). An update file loads as
/// the table its changes leave behind, applied in order.
pub fn load_rib(path: &Path, data: &[u8], opts: &LoadOptions) -> Result<RouteSet, SourceError> {
    let mut stats = LoadStats::default();
    let mut sel = Selector::default();
    let mut replay: Vec<Event> = Vec::new();
    for_each(path, data, opts, &mut stats, |p, _| match p {
        Parsed::Rib(entries) => {
            for e in entries {
                let v6 = matches!(e.prefix, IpNet::V6(_));
                sel.offer(
                    Candidate {
                        prefix: e.prefix,
                        peer_index: e.peer_index,
                        peer_addr: e.peer.addr,
                        path_len: e.attrs.as_path.hops(),
                        value: e
                            .attrs
                            .hop_for(v6)
                            .map_or(RouteValue::None, RouteValue::Addr),
                    },
                    &opts.peer,
                );
            }
        }
        Parsed::Update(u) => replay.extend(u.events()),
        _ => {}
    })?;
    let mut routes = sel.finish(path, &opts.peer)?;
    if !replay.is_empty() {
        routes = super::apply_events(routes, &replay);
    }
    Ok(RouteSet {
        routes,
        format: None,
        stats,
    })
}

/// The UPDATE messages of an update file, in file order.
pub fn updates(
    path: &Path,
    data: &[u8],
    opts: &LoadOptions,
) -> Result<(Vec<UpdateMsg>, LoadStats), SourceError> {
    let mut stats = LoadStats::default();
    let mut out = Vec::new();
    for_each(path, data, opts, &mut stats, |p, stats| match p {
        Parsed::Update(u) => out.push(u),
        _ => stats.skip("RIB record in an update read"),
    })?;
    Ok((out, stats))
}

/// The announce/withdraw events of an update file, in file order.
pub fn load_events(
    path: &Path,
    data: &[u8],
    opts: &LoadOptions,
) -> Result<(Vec<Event>, LoadStats), SourceError> {
    let (msgs, stats) = updates(path, data, opts)?;
    Ok((msgs.iter().flat_map(UpdateMsg::events).collect(), stats))
}
