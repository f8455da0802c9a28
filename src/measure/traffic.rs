//! The measurement side's engine: stamped test frames, a pacer, and a sink that accounts for
//! every frame per flow. Rates are taken on the sink's clock, outside the routers, as the paper
//! measured them; nothing here trusts a router's own counters.
//!
//! A stamp is 16 bytes at the start of the UDP payload, so a minimum 64-byte frame (60 without
//! FCS: 14 Ethernet + 20 IPv4 + 8 UDP + 18) carries it:
//!
//! ```text
//! magic u16 = 0x7672 ("vr") | flow u16 | sequence u32 | send time u64 (ns, generator clock)
//! ```
//!
//! IPv6 test frames carry the same stamp after a 40-byte header, so their smallest size is 78
//! bytes without FCS (82 on the wire; RFC 5180 §5.1.1 raises IPv6's minimum test frame above
//! 64 bytes for the same reason). UDP over IPv6 must carry a checksum: their payload past the
//! stamp is zero and stamping updates the checksum (RFC 1624), so every frame is valid.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hdrhistogram::Histogram;

use dataplane::wire::ethernet::{self, Mac};
use dataplane::wire::{checksum, ipv4, ipv6, udp};

pub const MAGIC: u16 = 0x7672;
pub const STAMP_LEN: usize = 16;
/// Smallest frame (without FCS) that carries a stamp: the 64-byte Ethernet minimum.
pub const MIN_FRAME: usize = 60;
/// Smallest IPv6 frame (without FCS) that carries a stamp: 14 + 40 + 8 + 16.
pub const MIN_FRAME_V6: usize = PAYLOAD_AT_V6 + STAMP_LEN;
/// Largest untagged frame without FCS.
pub const MAX_FRAME: usize = 1514;
const PAYLOAD_AT: usize = 14 + 20 + 8;
const PAYLOAD_AT_V6: usize = 14 + 40 + 8;
/// Where an IPv6 test frame's UDP checksum sits.
const UDP_CHECKSUM_V6: usize = 14 + 40 + 6;

/// Whether a test frame (from a [`FrameSpec::template`]) is IPv6.
#[inline]
pub fn is_v6(frame: &[u8]) -> bool {
    frame[12..14] == ethernet::TYPE_IPV6.to_be_bytes()
}

/// Bytes of a test frame's headers and stamp: what a generator writes of each frame.
pub fn head_len(frame: &[u8]) -> usize {
    STAMP_LEN
        + if is_v6(frame) {
            PAYLOAD_AT_V6
        } else {
            PAYLOAD_AT
        }
}

/// UDP ports of test traffic (RFC 2544 suggests the discard service).
pub const SRC_PORT: u16 = 49184;
pub const DST_PORT: u16 = 9;

/// What a test frame says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub flow: u16,
    pub seq: u32,
    pub sent_ns: u64,
}

impl Stamp {
    pub fn write(&self, payload: &mut [u8]) {
        payload[0..2].copy_from_slice(&MAGIC.to_be_bytes());
        payload[2..4].copy_from_slice(&self.flow.to_be_bytes());
        payload[4..8].copy_from_slice(&self.seq.to_be_bytes());
        payload[8..16].copy_from_slice(&self.sent_ns.to_be_bytes());
    }

    /// The stamp of an Ethernet/IPv4/UDP or Ethernet/IPv6/UDP test frame (UDP right after
    /// the IPv6 header), or `None` for anything else.
    pub fn read(frame: &[u8]) -> Option<Stamp> {
        let e = ethernet::Frame::new_checked(frame).ok()?;
        if e.vlan().is_some() {
            return None;
        }
        let udp_bytes = match e.ethertype() {
            ethernet::TYPE_IPV4 => {
                let ip = ipv4::Packet::new_checked(e.payload()).ok()?;
                if ip.protocol() != ipv4::PROTO_UDP {
                    return None;
                }
                e.payload().get(ip.header_len()..ip.total_len())?
            }
            ethernet::TYPE_IPV6 => {
                let ip = ipv6::Packet::new_checked(e.payload()).ok()?;
                if ip.next_header() != ipv6::NEXT_UDP {
                    return None;
                }
                e.payload()
                    .get(ipv6::field::HEADER_LEN..ipv6::field::HEADER_LEN + ip.payload_len())?
            }
            _ => return None,
        };
        let u = udp::Datagram::new_checked(udp_bytes).ok()?;
        let p = u.payload();
        if p.len() < STAMP_LEN || u16::from_be_bytes([p[0], p[1]]) != MAGIC {
            return None;
        }
        Some(Stamp {
            flow: u16::from_be_bytes([p[2], p[3]]),
            seq: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            sent_ns: u64::from_be_bytes(p[8..16].try_into().ok()?),
        })
    }
}

/// Builds test frames of one size from one source towards many destinations.
#[derive(Clone, Debug)]
pub struct FrameSpec {
    pub src_mac: Mac,
    /// The router's MAC on the generator's link.
    pub dst_mac: Mac,
    pub src_ip: Ipv4Addr,
    /// The source of IPv6 frames.
    pub src_ip6: Ipv6Addr,
    /// Frame size without FCS, `MIN_FRAME..=MAX_FRAME` (1514 carries a 1472-byte UDP payload;
    /// IPv6 frames are at least [`MIN_FRAME_V6`]).
    pub size: usize,
}

impl FrameSpec {
    /// A frame to `dst` with headers and checksums, stamp space and payload zeroed. IPv4's UDP
    /// checksum is 0 (allowed), so stamping needs no update; IPv6's is computed over the
    /// zeroed stamp, and [`stamp`] updates it.
    pub fn template(&self, dst: IpAddr) -> Vec<u8> {
        let (size, ethertype, ip_len) = match dst {
            IpAddr::V4(_) => (
                self.size.clamp(MIN_FRAME, MAX_FRAME),
                ethernet::TYPE_IPV4,
                20,
            ),
            IpAddr::V6(_) => (
                self.size.clamp(MIN_FRAME_V6, MAX_FRAME),
                ethernet::TYPE_IPV6,
                ipv6::field::HEADER_LEN,
            ),
        };
        let mut f = vec![0u8; size];
        ethernet::write_header(&mut f, self.dst_mac, self.src_mac, ethertype);
        let udp_len = size - 14 - ip_len;
        match dst {
            IpAddr::V4(d) => {
                ipv4::write_header(&mut f[14..], self.src_ip, d, ipv4::PROTO_UDP, 64, udp_len)
            }
            IpAddr::V6(d) => {
                ipv6::write_header(&mut f[14..], self.src_ip6, d, ipv6::NEXT_UDP, 64, udp_len)
            }
        }
        let at = 14 + ip_len;
        let u = &mut f[at..at + 8];
        u[0..2].copy_from_slice(&SRC_PORT.to_be_bytes());
        u[2..4].copy_from_slice(&DST_PORT.to_be_bytes());
        u[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        if let IpAddr::V6(d) = dst {
            let pseudo = checksum::ipv6_pseudo(
                &self.src_ip6.octets(),
                &d.octets(),
                udp_len as u32,
                ipv6::NEXT_UDP,
            );
            // A computed 0 is sent as 0xffff: 0 would mean "no checksum", not allowed here.
            let c = match checksum::finish(checksum::sum(pseudo, &f[at..])) {
                0 => 0xffff,
                c => c,
            };
            f[UDP_CHECKSUM_V6..UDP_CHECKSUM_V6 + 2].copy_from_slice(&c.to_be_bytes());
        }
        f
    }
}

/// Stamps a frame built from a [`FrameSpec::template`] in place (its headers and stamp space
/// at least: see [`head_len`]); an IPv6 frame's UDP checksum follows the stamp.
#[inline]
pub fn stamp(frame: &mut [u8], s: Stamp) {
    if !is_v6(frame) {
        s.write(&mut frame[PAYLOAD_AT..PAYLOAD_AT + STAMP_LEN]);
        return;
    }
    let at = PAYLOAD_AT_V6..PAYLOAD_AT_V6 + STAMP_LEN;
    // The template's checksum covers a zeroed stamp space; a head may be restamped, so take
    // out what it held before adding the new stamp (RFC 1624: ~(~HC + ~m + m')).
    let ck = u16::from_be_bytes([frame[UDP_CHECKSUM_V6], frame[UDP_CHECKSUM_V6 + 1]]);
    let old = checksum::sum(0, &frame[at.clone()]);
    s.write(&mut frame[at.clone()]);
    let new = checksum::sum(0, &frame[at]);
    // `finish` folds and complements: finish(old) is ~m, the old stamp's sum taken out.
    let c = checksum::finish(u32::from(!ck) + u32::from(checksum::finish(old)) + new);
    let c = if c == 0 { 0xffff } else { c };
    frame[UDP_CHECKSUM_V6..UDP_CHECKSUM_V6 + 2].copy_from_slice(&c.to_be_bytes());
}

/// Paces a generator: how many frames are due by a time, at a constant rate from the first
/// call. Sending in small timed bursts of whatever is due keeps the achieved rate exact over
/// any interval, however irregularly the caller wakes up.
#[derive(Clone, Debug)]
pub struct Pacer {
    per_second: f64,
    start_ns: Option<u64>,
    sent: u64,
}

impl Pacer {
    pub fn new(per_second: f64) -> Self {
        Pacer {
            per_second,
            start_ns: None,
            sent: 0,
        }
    }

    /// Frames due now that have not been sent yet.
    pub fn due(&mut self, now_ns: u64) -> u64 {
        let start = *self.start_ns.get_or_insert(now_ns);
        let target = ((now_ns - start.min(now_ns)) as f64 * self.per_second / 1e9) as u64 + 1;
        target.saturating_sub(self.sent)
    }

    /// Records frames sent.
    pub fn sent(&mut self, n: u64) {
        self.sent += n;
    }

    pub fn total(&self) -> u64 {
        self.sent
    }

    /// When (on the caller's clock) `k` more frames will be due: `None` before the first
    /// [`Pacer::due`] call (the pacer starts then).
    pub fn due_at(&self, k: u64) -> Option<u64> {
        let start = self.start_ns?;
        let n = (self.sent + k.max(1) - 1) as f64;
        Some(start + (n * 1e9 / self.per_second) as u64)
    }
}

/// Sequence window for duplicate detection.
const WINDOW: u32 = 1 << 16;

/// One flow's accounting at the sink.
#[derive(Clone, Debug, Default)]
pub struct FlowCounter {
    pub received: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Highest sequence seen, if any.
    pub max_seq: Option<u32>,
    seen: Vec<u64>,
}

impl FlowCounter {
    fn bit(&mut self, seq: u32) -> (usize, u64) {
        if self.seen.is_empty() {
            self.seen = vec![0; (WINDOW / 64) as usize];
        }
        let i = (seq % WINDOW) as usize;
        (i / 64, 1u64 << (i % 64))
    }

    /// Accounts for one frame with sequence `seq`.
    pub fn record(&mut self, seq: u32) {
        match self.max_seq {
            Some(m) if seq <= m => {
                if m - seq >= WINDOW {
                    // Too old to tell: count it as a late arrival.
                    self.received += 1;
                    self.reordered += 1;
                    return;
                }
                let (w, b) = self.bit(seq);
                if self.seen[w] & b != 0 {
                    self.duplicates += 1;
                } else {
                    self.seen[w] |= b;
                    self.received += 1;
                    self.reordered += 1;
                }
            }
            m => {
                // New highest: clear the window slots skipped since the last highest.
                let from = m.map_or(0, |m| m.wrapping_add(1));
                let gap = seq.wrapping_sub(from).min(WINDOW);
                for k in 0..gap {
                    let (w, b) = self.bit(from.wrapping_add(k));
                    self.seen[w] &= !b;
                }
                let (w, b) = self.bit(seq);
                self.seen[w] |= b;
                self.max_seq = Some(seq);
                self.received += 1;
            }
        }
    }

    /// Frames sent (by sequence) but never received, assuming sequences start at 0 and the
    /// last frame sent was `last_sent` (or the highest received, if unknown).
    pub fn lost(&self, last_sent: Option<u32>) -> u64 {
        let top = match (last_sent, self.max_seq) {
            (Some(l), _) => u64::from(l) + 1,
            (None, Some(m)) => u64::from(m) + 1,
            (None, None) => return 0,
        };
        top.saturating_sub(self.received)
    }
}

/// What a sink measured.
#[derive(Clone, Debug, PartialEq)]
pub struct SinkReport {
    pub received: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub foreign: u64,
    /// Stamped frames of another flow than the one expected: late arrivals of an earlier
    /// trial (a router that queued them longer than that trial's drain).
    pub late: u64,
    pub bytes: u64,
    /// Frames per second between the first and the last frame, on the sink's clock.
    pub rate_pps: f64,
    /// Nanoseconds between the first and the last frame.
    pub span_ns: u64,
    pub latency_ns: Option<LatencySummary>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencySummary {
    pub min: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// Counts stamped frames per flow, with one-way latency (valid when generator and sink share a
/// clock, as in-process and on one host).
pub struct Sink {
    pub flows: Vec<FlowCounter>,
    latency: Histogram<u64>,
    first_ns: Option<u64>,
    last_ns: u64,
    foreign: u64,
    /// Only this flow counts (the others are [`SinkReport::late`]); `None`: every flow.
    only: Option<u16>,
    late: u64,
    bytes: u64,
}

impl Default for Sink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink {
    pub fn new() -> Self {
        Sink {
            flows: Vec::new(),
            // 1 ns .. 60 s at 3 significant digits. The bounds are valid constants.
            latency: Histogram::new_with_bounds(1, 60_000_000_000, 3)
                .expect("constant histogram bounds are valid"),
            first_ns: None,
            last_ns: 0,
            foreign: 0,
            only: None,
            late: 0,
            bytes: 0,
        }
    }

    /// A sink that counts only `flow` (a trial's own frames) and counts the others as late.
    pub fn expecting(flow: u16) -> Self {
        Sink {
            only: Some(flow),
            ..Sink::new()
        }
    }

    /// Accounts for a frame received at `now_ns`; false (and counted as foreign) if it carries
    /// no stamp.
    pub fn record(&mut self, frame: &[u8], now_ns: u64) -> bool {
        let Some(s) = Stamp::read(frame) else {
            self.foreign += 1;
            return false;
        };
        if self.only.is_some_and(|o| o != s.flow) {
            self.late += 1;
            return false;
        }
        // An expected flow is counted at index 0 (its id changes every trial).
        let f = if self.only.is_some() {
            0
        } else {
            usize::from(s.flow)
        };
        if self.flows.len() <= f {
            self.flows.resize_with(f + 1, FlowCounter::default);
        }
        self.flows[f].record(s.seq);
        self.first_ns.get_or_insert(now_ns);
        self.last_ns = now_ns;
        self.bytes += frame.len() as u64;
        let _ = self.latency.record(now_ns.saturating_sub(s.sent_ns).max(1));
        true
    }

    pub fn report(&self) -> SinkReport {
        let received: u64 = self.flows.iter().map(|f| f.received).sum();
        let span = self
            .last_ns
            .saturating_sub(self.first_ns.unwrap_or(self.last_ns));
        let h = &self.latency;
        SinkReport {
            received,
            duplicates: self.flows.iter().map(|f| f.duplicates).sum(),
            reordered: self.flows.iter().map(|f| f.reordered).sum(),
            foreign: self.foreign,
            late: self.late,
            bytes: self.bytes,
            span_ns: span,
            rate_pps: if span > 0 && received > 1 {
                (received - 1) as f64 * 1e9 / span as f64
            } else {
                0.0
            },
            latency_ns: (!h.is_empty()).then(|| LatencySummary {
                min: h.min(),
                p50: h.value_at_quantile(0.5),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
                max: h.max(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: usize) -> FrameSpec {
        FrameSpec {
            src_mac: Mac([2, 0, 0, 0, 0, 9]),
            dst_mac: Mac([2, 0, 0, 0, 0, 1]),
            src_ip: Ipv4Addr::new(198, 18, 0, 2),
            src_ip6: "2001:2::2".parse().unwrap(),
            size,
        }
    }

    /// Whether an IPv6/UDP frame's checksum verifies (RFC 8200 §8.1).
    fn udp6_checksum_ok(f: &[u8]) -> bool {
        let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
        let udp = &f[54..54 + ip.payload_len()];
        let pseudo = checksum::ipv6_pseudo(
            &ip.src().octets(),
            &ip.dst().octets(),
            udp.len() as u32,
            ipv6::NEXT_UDP,
        );
        udp[6..8] != [0, 0] && checksum::finish(checksum::sum(pseudo, udp)) == 0
    }

    #[test]
    fn ipv6_frames_carry_their_stamp_and_a_valid_udp_checksum() {
        let dst: IpAddr = "3fff:12::7".parse().unwrap();
        for (size, udp_payload) in [(60, 16), (78, 16), (1514, 1452)] {
            let mut f = spec(size).template(dst);
            assert_eq!(
                f.len(),
                size.max(MIN_FRAME_V6),
                "IPv6 frames are at least 78 bytes"
            );
            assert!(is_v6(&f) && head_len(&f) == 78);
            assert!(udp6_checksum_ok(&f), "template");
            // Stamped, then stamped again (a generator reuses its heads): the checksum follows.
            for s in [
                Stamp {
                    flow: 3,
                    seq: 0xdead_beef,
                    sent_ns: 123_456_789_000,
                },
                Stamp {
                    flow: 0xffff,
                    seq: 1,
                    sent_ns: u64::MAX - 5,
                },
                Stamp {
                    flow: 0,
                    seq: 0,
                    sent_ns: 0,
                },
            ] {
                stamp(&mut f, s);
                assert_eq!(Stamp::read(&f), Some(s));
                assert!(udp6_checksum_ok(&f), "after {s:?}");
            }
            let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
            assert_eq!(ip.payload_len(), 8 + udp_payload);
            assert_eq!(ip.dst(), "3fff:12::7".parse::<Ipv6Addr>().unwrap());
        }
        // Not UDP right after the header: not a test frame.
        let mut f = spec(78).template(dst);
        f[14 + 6] = ipv6::NEXT_ICMPV6;
        assert_eq!(Stamp::read(&f), None);
    }

    #[test]
    fn frames_of_64_and_1518_bytes_carry_their_stamp() {
        for (size, udp_payload) in [(60, 18), (1514, 1472)] {
            let mut f = spec(size).template(Ipv4Addr::new(240, 1, 2, 3).into());
            assert_eq!(f.len(), size);
            let s = Stamp {
                flow: 3,
                seq: 0xdead_beef,
                sent_ns: 123_456_789_000,
            };
            stamp(&mut f, s);
            assert_eq!(Stamp::read(&f), Some(s));
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.checksum_ok());
            assert_eq!(
                udp::Datagram::new_checked(ip.payload())
                    .unwrap()
                    .payload()
                    .len(),
                udp_payload
            );
        }
        assert_eq!(Stamp::read(&[0u8; 60]), None);
        assert_eq!(
            spec(10).template(Ipv4Addr::LOCALHOST.into()).len(),
            MIN_FRAME,
            "sizes are clamped"
        );
    }

    #[test]
    fn pacer_is_exact_whatever_the_wake_up_pattern() {
        // 130 kp/s for one simulated second, woken at irregular intervals of 1..50 µs.
        let mut p = Pacer::new(130_000.0);
        let mut now = 5_000_000_000u64;
        let end = now + 1_000_000_000;
        let mut x = 12345u64;
        while now < end {
            let n = p.due(now);
            p.sent(n);
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            now += 1_000 + (x >> 33) % 49_000;
        }
        let got = p.total() as f64;
        assert!((got - 130_000.0).abs() <= 2.0, "{got}");
        // Late wake-ups catch up (a burst), never overshoot.
        let mut q = Pacer::new(1000.0);
        assert_eq!(q.due(0), 1);
        q.sent(1);
        assert_eq!(q.due(10_000_000), 10);
        q.sent(10);
        assert_eq!(q.due(10_000_000), 0);
    }

    #[test]
    fn loss_reorder_and_duplicates_on_known_sequences() {
        let mut f = FlowCounter::default();
        // 0..10 sent; 6 lost; 3 late; 5 twice; 9 sent but lost at the end.
        for s in [0, 1, 2, 4, 5, 3, 5, 7, 8] {
            f.record(s);
        }
        assert_eq!((f.received, f.duplicates, f.reordered), (8, 1, 1));
        assert_eq!(f.lost(Some(9)), 2, "6 and 9");
        assert_eq!(f.lost(None), 1, "only 6 below the highest seen");
        // A long gap is loss, not reordering, and the window forgets old bits correctly.
        let mut g = FlowCounter::default();
        g.record(0);
        g.record(200_000);
        g.record(200_001);
        g.record(200_000);
        assert_eq!(
            (g.received, g.duplicates, g.lost(Some(200_001))),
            (3, 1, 199_999)
        );
    }

    #[test]
    fn sink_measures_rate_and_latency_on_its_own_clock() {
        let mut sink = Sink::new();
        let mut f = spec(60).template(Ipv4Addr::new(240, 0, 0, 1).into());
        for i in 0..1000u32 {
            let sent = 1_000_000 + u64::from(i) * 10_000; // 100 kp/s
            stamp(
                &mut f,
                Stamp {
                    flow: (i % 2) as u16,
                    seq: i / 2,
                    sent_ns: sent,
                },
            );
            assert!(sink.record(&f, sent + 5_000 + u64::from(i % 10) * 100));
        }
        assert!(!sink.record(&[1, 2, 3], 0));
        let r = sink.report();
        assert_eq!(
            (r.received, r.duplicates, r.reordered, r.foreign),
            (1000, 0, 0, 1)
        );
        assert!(
            (r.rate_pps - 100_000.0).abs() / 100_000.0 < 0.001,
            "{}",
            r.rate_pps
        );
        let l = r.latency_ns.unwrap();
        assert_eq!(l.min, 5_000);
        assert!((5_000..=5_920).contains(&l.p50) && l.max <= 5_910, "{l:?}");
        assert_eq!(sink.flows.len(), 2);
        assert_eq!(sink.flows[1].lost(Some(499)), 0);
    }

    #[test]
    fn a_sink_expecting_one_flow_counts_the_others_as_late() {
        let frame = |flow: u16, seq: u32| {
            let mut f = vec![0u8; 64];
            f.copy_from_slice(&spec(64).template(Ipv4Addr::new(240, 0, 0, 1).into())[..64]);
            stamp(
                &mut f,
                Stamp {
                    flow,
                    seq,
                    sent_ns: 1,
                },
            );
            f
        };
        let mut sink = Sink::expecting(7);
        for seq in 0..10 {
            assert!(sink.record(&frame(7, seq), 10));
        }
        // Three frames of the trial before (flow 6) arrive late.
        for seq in 100..103 {
            assert!(!sink.record(&frame(6, seq), 20));
        }
        let r = sink.report();
        assert_eq!((r.received, r.late, r.duplicates), (10, 3, 0));
    }
}
