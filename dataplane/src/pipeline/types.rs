//! The pipeline's vocabulary: verdicts, drop reasons, counters, interfaces,
//! the ICMP token bucket, and the [`Io`] through which frames leave outside a burst.

use ipnet::{Ipv4Net, Ipv6Net};

pub use crate::buf::PacketBuf;
use crate::wire::ethernet::Mac;

/// Declares [`DropReason`], its list and its names from one table: a reason is added in one
/// place, and the list, the counters and the names follow.
macro_rules! drop_reasons {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// Why a frame was dropped. The names are what operators read in `stats`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DropReason {
            $($(#[$doc])* $variant,)*
        }

        impl DropReason {
            /// Every reason, in counter order (`reason as usize` indexes the counters).
            pub const ALL: [DropReason; [$(DropReason::$variant),*].len()] =
                [$(DropReason::$variant),*];

            /// The reason's name in counters and logs (`too-short`, `no-route`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $name,)*
                }
            }
        }
    };
}

drop_reasons! {
    /// Shorter than an Ethernet header plus the network header it announces.
    TooShort => "too-short",
    /// Not addressed to this router: a unicast destination MAC that is not the ingress
    /// port's, or a frame with nothing for the router to do (an unknown port).
    NotForUs => "not-for-us",
    /// 802.1Q-tagged (no VLANs configured).
    Vlan => "vlan-tagged",
    /// Neither IPv4, IPv6 nor ARP.
    UnsupportedEthertype => "unsupported-ethertype",
    /// A malformed ARP packet.
    BadArp => "bad-arp",
    /// An IP version field that does not match the ethertype.
    BadVersion => "bad-version",
    /// An IPv4 header length below 5 words or past the frame.
    BadHeaderLength => "bad-header-length",
    /// A total or payload length that disagrees with the frame.
    BadLength => "bad-length",
    /// A wrong IPv4 header checksum.
    BadChecksum => "bad-checksum",
    /// A source or destination no router forwards (RFC 1812 §5.3.7, RFC 4291).
    Martian => "martian",
    /// Multicast or broadcast (IP or link layer) that a router does not forward.
    NotForwarded => "not-forwarded",
    /// Addressed to the router, but nothing it answers (only ARP, echo and neighbour
    /// discovery are).
    LocalUnsupported => "local-unsupported",
    /// TTL or hop limit reached zero.
    TtlExpired => "ttl-expired",
    /// No route to the destination.
    NoRoute => "no-route",
    /// The next hop has no MAC and cannot be resolved here.
    NoNeighbour => "no-neighbour",
    /// Larger than the egress MTU (with DF set, or no buffers to fragment it).
    TooBig => "too-big",
    /// A directed broadcast (to a connected subnet's broadcast address), not forwarded unless
    /// configured (RFC 1812 §5.3.5.2, RFC 2644).
    DirectedBroadcast => "directed-broadcast",
    /// An IPv6 link-local source leaving its link (RFC 4291 §2.5.6; answered with ICMPv6
    /// "beyond scope of source address").
    BeyondScope => "beyond-scope",
    /// A malformed IPv4 option (answered with Parameter Problem, RFC 1812 §5.2.5).
    BadOption => "bad-ip-option",
    /// Loose or strict source routing, not forwarded unless configured (RFC 7126; Linux
    /// likewise).
    SourceRouted => "source-routed",
}

#[cfg(test)]
mod drop_reason_tests {
    use super::DropReason;

    #[test]
    fn every_reason_has_its_index_and_a_distinct_name() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        let mut names: Vec<&str> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
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
    /// IPv4 datagrams fragmented to fit their egress MTU, and the fragments sent for them.
    pub fragmented: u64,
    pub fragments: u64,
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

impl Interface {
    /// The port's IPv6 link-local address, made from its MAC as Linux makes it (modified
    /// EUI-64, RFC 4291 §2.5.1): the source of its neighbour solicitations and of ICMPv6
    /// errors to link-local addresses, and an address the router answers on that link.
    pub fn link_local(&self) -> std::net::Ipv6Addr {
        let m = self.mac.0;
        std::net::Ipv6Addr::from([
            0xfe,
            0x80,
            0,
            0,
            0,
            0,
            0,
            0,
            m[0] ^ 0x02,
            m[1],
            m[2],
            0xff,
            0xfe,
            m[3],
            m[4],
            m[5],
        ])
    }
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
