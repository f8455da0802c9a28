//! The pipeline's vocabulary: packet buffers, verdicts, drop reasons, counters, interfaces,
//! the ICMP token bucket, and the [`Io`] through which frames leave outside a burst.

use ipnet::{Ipv4Net, Ipv6Net};

use super::BUF_SIZE;
use crate::wire::ethernet::Mac;

/// Buffer storage, cache-line aligned so that a minimum-size frame occupies one line.
#[derive(Clone)]
#[repr(C, align(64))]
pub(super) struct Storage(pub(super) [u8; BUF_SIZE]);

impl std::ops::Deref for Storage {
    type Target = [u8; BUF_SIZE];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Storage {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// A packet buffer: fixed capacity, current length. The pipeline rewrites frames in place and
/// may replace one by a (possibly longer) reply.
#[derive(Clone)]
pub struct PacketBuf {
    pub(super) data: Box<Storage>,
    pub(super) len: usize,
}

impl Default for PacketBuf {
    fn default() -> Self {
        PacketBuf {
            data: Box::new(Storage([0; BUF_SIZE])),
            len: 0,
        }
    }
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PacketBuf({} bytes)", self.len)
    }
}

impl PacketBuf {
    /// Copies `frame` in; `None` if it does not fit.
    pub fn from_bytes(frame: &[u8]) -> Option<Self> {
        let mut p = PacketBuf::default();
        p.set(frame).then_some(p)
    }
    /// Replaces the content; false (content unchanged) if `frame` does not fit.
    pub fn set(&mut self, frame: &[u8]) -> bool {
        if frame.len() > BUF_SIZE {
            return false;
        }
        self.data[..frame.len()].copy_from_slice(frame);
        self.len = frame.len();
        true
    }
    /// Copies `head` to the front and sets the length to `len` without touching the bytes in
    /// between: how generators build large test frames at the cost of a small one (the payload
    /// past the stamp carries whatever the buffer held, which no test reads). False (unchanged)
    /// if `len` does not fit or is shorter than `head`.
    pub fn set_head(&mut self, head: &[u8], len: usize) -> bool {
        if len > BUF_SIZE || len < head.len() {
            return false;
        }
        self.data[..head.len()].copy_from_slice(head);
        self.len = len;
        true
    }
    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }
    /// The first byte of the buffer (whatever the length): a cheap way to pull the frame's
    /// first cache line in.
    #[inline(always)]
    pub fn first_byte(&self) -> u8 {
        self.data[0]
    }
    /// Where the frame's bytes start in memory: for backends that prefetch (the pointer is
    /// never dereferenced outside this type).
    #[inline(always)]
    pub fn head_ptr(&self) -> *const u8 {
        self.data.0.as_ptr()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Why a frame was dropped. The names are what operators read in `stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    TooShort,
    NotForUs,
    Vlan,
    UnsupportedEthertype,
    BadArp,
    BadVersion,
    BadHeaderLength,
    BadLength,
    BadChecksum,
    Martian,
    NotForwarded,
    LocalUnsupported,
    TtlExpired,
    NoRoute,
    NoNeighbour,
    TooBig,
}

impl DropReason {
    pub const ALL: [DropReason; 16] = [
        DropReason::TooShort,
        DropReason::NotForUs,
        DropReason::Vlan,
        DropReason::UnsupportedEthertype,
        DropReason::BadArp,
        DropReason::BadVersion,
        DropReason::BadHeaderLength,
        DropReason::BadLength,
        DropReason::BadChecksum,
        DropReason::Martian,
        DropReason::NotForwarded,
        DropReason::LocalUnsupported,
        DropReason::TtlExpired,
        DropReason::NoRoute,
        DropReason::NoNeighbour,
        DropReason::TooBig,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DropReason::TooShort => "too-short",
            DropReason::NotForUs => "not-for-us",
            DropReason::Vlan => "vlan-tagged",
            DropReason::UnsupportedEthertype => "unsupported-ethertype",
            DropReason::BadArp => "bad-arp",
            DropReason::BadVersion => "bad-version",
            DropReason::BadHeaderLength => "bad-header-length",
            DropReason::BadLength => "bad-length",
            DropReason::BadChecksum => "bad-checksum",
            DropReason::Martian => "martian",
            DropReason::NotForwarded => "not-forwarded",
            DropReason::LocalUnsupported => "local-unsupported",
            DropReason::TtlExpired => "ttl-expired",
            DropReason::NoRoute => "no-route",
            DropReason::NoNeighbour => "no-neighbour",
            DropReason::TooBig => "too-big",
        }
    }
}

/// What happened to a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Rewritten in place; send it on `port`.
    Forward { port: u16 },
    /// Replaced by the router's answer (ARP reply, echo reply, neighbour advertisement); send it
    /// on `port`.
    Answer { port: u16 },
    /// Dropped. If `icmp` is set, the buffer now holds an ICMP error about it: send on that port.
    Drop {
        reason: DropReason,
        icmp: Option<u16>,
    },
    /// Taken into the hold queue of a next hop being resolved (it leaves later through
    /// [`Io::out`]); the buffer now in its place holds an ARP request or neighbour solicitation to
    /// send on `request`'s port, or nothing (return it to the pool).
    Held { request: Option<u16> },
    /// Control traffic the router learned from (an ARP reply, a neighbour advertisement);
    /// nothing to send.
    Consumed,
}

impl Verdict {
    /// The port the frame's buffer leaves by, if it leaves at all (forwarded, answered, an ICMP
    /// error written over a drop, a neighbour request written in place of a held frame).
    #[inline]
    pub fn egress(&self) -> Option<u16> {
        match *self {
            Verdict::Forward { port } | Verdict::Answer { port } => Some(port),
            Verdict::Drop { icmp, .. } => icmp,
            Verdict::Held { request } => request,
            Verdict::Consumed => None,
        }
    }
}

/// What the pipeline needs beyond the burst to resolve neighbours: spare buffers (to hold a frame
/// and send a request in its place), a queue for frames it sends outside the burst (held frames
/// once their next hop answers, refresh requests), and a list of buffers to free.
pub struct Io<'a> {
    pub spare: &'a mut dyn FnMut() -> Option<PacketBuf>,
    pub out: &'a mut Vec<(u16, PacketBuf)>,
    pub free: &'a mut Vec<PacketBuf>,
}

/// Counters, readable while forwarding runs (the owner copies them out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames_in: u64,
    pub bytes_in: u64,
    pub forwarded: u64,
    pub answered: u64,
    pub icmp_errors: u64,
    pub icmp_rate_limited: u64,
    /// Control frames learned from.
    pub consumed: u64,
    /// Frames taken into neighbour hold queues (they leave as `released`, or are dropped there:
    /// see the neighbour table's counters).
    pub held: u64,
    /// Held frames sent once their next hop was resolved.
    pub released: u64,
    pub drops: [u64; DropReason::ALL.len()],
}

impl Stats {
    pub fn dropped(&self) -> u64 {
        self.drops.iter().sum()
    }
    /// Frames given a verdict: always equals `frames_in`.
    pub fn accounted(&self) -> u64 {
        self.forwarded + self.answered + self.consumed + self.held + self.dropped()
    }
    pub fn drop_count(&self, r: DropReason) -> u64 {
        self.drops[r as usize]
    }
}

/// One router port's addresses.
#[derive(Clone, Debug)]
pub struct Interface {
    pub port: u16,
    pub mac: Mac,
    pub v4: Vec<Ipv4Net>,
    pub v6: Vec<Ipv6Net>,
    /// IP MTU of the link (bytes of IP packet).
    pub mtu: u16,
}

/// Token bucket for ICMP errors.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    per_second: u64,
    burst: u64,
    /// Tokens scaled by 1e9 (token-nanoseconds), to refill exactly at any rate.
    level: u64,
    last_ns: u64,
}

impl TokenBucket {
    pub fn new(per_second: u64, burst: u64) -> Self {
        TokenBucket {
            per_second,
            burst,
            level: burst * 1_000_000_000,
            last_ns: 0,
        }
    }
    /// Takes a token at time `now_ns` (monotonic); false when empty.
    pub fn take(&mut self, now_ns: u64) -> bool {
        let dt = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        let cap = self.burst * 1_000_000_000;
        self.level = self
            .level
            .saturating_add(dt.saturating_mul(self.per_second))
            .min(cap);
        if self.level >= 1_000_000_000 {
            self.level -= 1_000_000_000;
            true
        } else {
            false
        }
    }
}
