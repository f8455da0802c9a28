//! IPv4 options in transit (RFC 791; RFC 1812 §4.2.2.1, §5.2.4, §5.3.13): validated when a
//! datagram arrives (a malformed option is answered with Parameter Problem pointing at the bad
//! octet), and Record Route and Timestamp filled in when it leaves, with the egress port's
//! address. Source-routed datagrams are refused unless the router accepts them (RFC 7126; Linux
//! refuses them too); accepted, they are forwarded without acting on the route.
//!
//! Offsets here are within the options (the IP header's byte 20 is option byte 0); pointers
//! reported in Parameter Problem messages are relative to the IP header, as RFC 792 defines.

use std::net::Ipv4Addr;

use super::{DropReason, Interface, PacketBuf, Verdict};
use crate::wire::{icmp, ipv4, put16};

/// End of option list, no operation, record route, timestamp, loose and strict source route.
const EOL: u8 = 0;
const NOP: u8 = 1;
const RR: u8 = 7;
const TS: u8 = 68;
const LSRR: u8 = 131;
const SSRR: u8 = 137;

/// Where the options start in the IP header.
const BASE: usize = 20;

/// What the options of an arriving datagram ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Well formed; `record` says whether Record Route or Timestamp wait to be filled in.
    Ok { record: bool },
    /// Malformed: Parameter Problem with this pointer (from the IP header's start).
    Bad { pointer: u8 },
    /// Loose or strict source routing.
    SourceRoute,
}

/// Validates `opts` (the bytes after the 20-byte base header).
pub fn check(opts: &[u8]) -> Check {
    let (mut at, mut record, mut routed) = (0, false, false);
    let bad = |i: usize| Check::Bad {
        pointer: (BASE + i) as u8,
    };
    while at < opts.len() {
        let kind = opts[at];
        if kind == EOL {
            break;
        }
        if kind == NOP {
            at += 1;
            continue;
        }
        // A missing, short or overlong length: the pointer names the option itself (as
        // Linux's does).
        let Some(&len) = opts.get(at + 1) else {
            return bad(at);
        };
        let len = usize::from(len);
        if len < 2 || at + len > opts.len() {
            return bad(at);
        }
        match kind {
            RR | LSRR | SSRR => {
                if len < 3 || opts[at + 2] < 4 {
                    return bad(at + 2);
                }
                if kind == RR {
                    record = true;
                } else {
                    routed = true;
                }
            }
            TS => {
                if len < 4 || opts[at + 2] < 5 {
                    return bad(at + 2);
                }
                if !matches!(opts[at + 3] & 0x0f, 0 | 1 | 3) {
                    return bad(at + 3);
                }
                record = true;
            }
            _ => {}
        }
        at += len;
    }
    if routed {
        Check::SourceRoute
    } else {
        Check::Ok { record }
    }
}

/// Fills in Record Route and Timestamp options of a leaving datagram: Record Route takes
/// `egress` (the leaving port's address, RFC 791), Timestamp `arrived` (the address the
/// datagram arrived at, as Linux records it) and `ts`. A full Record Route is left as it is; a
/// full Timestamp counts the router in its overflow field. `Err(pointer)` when that count
/// itself overflows (Parameter Problem, RFC 791).
pub fn record(opts: &mut [u8], egress: Ipv4Addr, arrived: Ipv4Addr, ts: u32) -> Result<(), u8> {
    let mut at = 0;
    while at < opts.len() {
        let kind = opts[at];
        if kind == EOL {
            break;
        }
        if kind == NOP {
            at += 1;
            continue;
        }
        let len = opts.get(at + 1).map_or(0, |&l| usize::from(l));
        if len < 2 || at + len > opts.len() {
            return Ok(()); // validated on arrival: cannot happen
        }
        let ptr = usize::from(opts[at + 2]);
        match kind {
            RR if ptr + 3 <= len => {
                opts[at + ptr - 1..at + ptr + 3].copy_from_slice(&egress.octets());
                opts[at + 2] += 4;
            }
            TS => {
                let flag = opts[at + 3] & 0x0f;
                let entry = if flag == 0 { 4 } else { 8 };
                if ptr + entry - 1 > len {
                    let overflow = opts[at + 3] >> 4;
                    if overflow == 15 {
                        return Err((BASE + at + 3) as u8);
                    }
                    opts[at + 3] = ((overflow + 1) << 4) | flag;
                } else {
                    let slot = at + ptr - 1;
                    let write = match flag {
                        0 => {
                            opts[slot..slot + 4].copy_from_slice(&ts.to_be_bytes());
                            true
                        }
                        1 => {
                            opts[slot..slot + 4].copy_from_slice(&arrived.octets());
                            opts[slot + 4..slot + 8].copy_from_slice(&ts.to_be_bytes());
                            true
                        }
                        // Prespecified addresses: only the router whose address is next.
                        _ if opts[slot..slot + 4] == arrived.octets()
                            || opts[slot..slot + 4] == egress.octets() =>
                        {
                            opts[slot + 4..slot + 8].copy_from_slice(&ts.to_be_bytes());
                            true
                        }
                        _ => false,
                    };
                    if write {
                        opts[at + 2] += entry as u8;
                    }
                }
            }
            _ => {}
        }
        at += len;
    }
    Ok(())
}

/// The options a fragment after the first carries (RFC 791: those with the copied flag),
/// padded to a multiple of 4 bytes; returns their length.
pub fn copied(opts: &[u8], out: &mut [u8; 40]) -> usize {
    let (mut at, mut n) = (0, 0);
    while at < opts.len() {
        let kind = opts[at];
        if kind == EOL {
            break;
        }
        if kind == NOP {
            at += 1;
            continue;
        }
        let len = opts.get(at + 1).map_or(0, |&l| usize::from(l));
        if len < 2 || at + len > opts.len() {
            break;
        }
        if kind & 0x80 != 0 && n + len <= out.len() {
            out[n..n + len].copy_from_slice(&opts[at..at + len]);
            n += len;
        }
        at += len;
    }
    let padded = n.next_multiple_of(4);
    out[n..padded].fill(EOL);
    padded
}

/// A timestamp for the Timestamp option: RFC 791 asks milliseconds since midnight UT, "or any
/// time, with the high-order bit set" when that is not available. The pipeline has no wall
/// clock, so it writes milliseconds of its monotonic clock with that bit set.
pub fn timestamp(now_ns: u64) -> u32 {
    ((now_ns / 1_000_000) as u32 & 0x7fff_ffff) | 0x8000_0000
}

/// The pipeline's hooks: options checked as a datagram arrives, recorded as it leaves.
impl super::Pipeline {
    /// Validates an arriving IPv4 datagram's options ([`options::check`]).
    #[cold]
    #[inline(never)]
    pub(super) fn check_options(
        &mut self,
        now_ns: u64,
        ingress: u16,
        f: &mut PacketBuf,
        l2: usize,
        ihl: usize,
    ) -> Result<(), Verdict> {
        match check(&f.data[l2 + 20..l2 + ihl]) {
            Check::Ok { .. } => Ok(()),
            Check::Bad { pointer } => Err(self.icmp4_error(
                now_ns,
                ingress,
                f,
                l2,
                DropReason::BadOption,
                icmp::V4_PARAMETER_PROBLEM,
                0,
                u32::from(pointer) << 24,
            )),
            Check::SourceRoute if !self.accept_source_route => {
                Err(Self::drop(DropReason::SourceRouted))
            }
            Check::SourceRoute => Ok(()),
        }
    }

    /// Fills in Record Route (the egress port's address) and Timestamp (the address it arrived
    /// at, as Linux records it) of a leaving IPv4 datagram with options, and its checksum.
    #[cold]
    #[inline(never)]
    pub(super) fn record_options(
        &mut self,
        now_ns: u64,
        ingress: u16,
        port: u16,
        f: &mut PacketBuf,
        l3: usize,
    ) -> Result<(), Verdict> {
        let ihl = usize::from(f.data[l3] & 0x0f) * 4;
        let addr = |i: u16, ifs: &[Interface]| {
            ifs.get(usize::from(i))
                .and_then(|i| i.v4.first())
                .map_or(Ipv4Addr::UNSPECIFIED, |n| n.addr())
        };
        let (egress, arrived) = (
            addr(port, &self.interfaces),
            addr(ingress, &self.interfaces),
        );
        let ts = timestamp(now_ns);
        let opts = &mut f.data[l3 + 20..l3 + ihl];
        if let Err(pointer) = record(opts, egress, arrived, ts) {
            return Err(self.icmp4_error(
                now_ns,
                ingress,
                f,
                l3,
                DropReason::BadOption,
                icmp::V4_PARAMETER_PROBLEM,
                0,
                u32::from(pointer) << 24,
            ));
        }
        let d = &mut f.data[..];
        put16(d, l3 + ipv4::field::CHECKSUM, 0);
        let c = crate::wire::checksum::of(&d[l3..l3 + ihl]);
        put16(d, l3 + ipv4::field::CHECKSUM, c);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_options_point_at_the_bad_octet() {
        // A length of 0 (the case): pointer at the option (IP header byte 20).
        assert_eq!(check(&[0x44, 0, 0, 0]), Check::Bad { pointer: 20 });
        // A length past the options.
        assert_eq!(check(&[RR, 12, 4, 0]), Check::Bad { pointer: 20 });
        // A Record Route pointer below 4.
        assert_eq!(
            check(&[NOP, RR, 7, 3, 0, 0, 0, 0]),
            Check::Bad { pointer: 23 }
        );
        // A Timestamp flag that does not exist.
        assert_eq!(
            check(&[TS, 8, 5, 2, 0, 0, 0, 0]),
            Check::Bad { pointer: 23 }
        );
        // A type with no room for its length.
        assert_eq!(check(&[NOP, NOP, NOP, 0x94]), Check::Bad { pointer: 23 });
        assert_eq!(check(&[NOP, NOP, NOP, EOL]), Check::Ok { record: false });
        assert_eq!(check(&[0x94, 4, 0, 0]), Check::Ok { record: false });
        assert_eq!(check(&[LSRR, 7, 4, 1, 2, 3, 4, EOL]), Check::SourceRoute);
    }

    #[test]
    fn record_route_takes_the_egress_address_until_it_is_full() {
        let us = Ipv4Addr::new(198, 18, 1, 1);
        let mut o = [RR, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, EOL];
        assert_eq!(check(&o), Check::Ok { record: true });
        record(&mut o, us, Ipv4Addr::UNSPECIFIED, 0).unwrap();
        assert_eq!(&o[..8], &[RR, 11, 8, 198, 18, 1, 1, 0]);
        record(
            &mut o,
            Ipv4Addr::new(198, 18, 2, 1),
            Ipv4Addr::UNSPECIFIED,
            0,
        )
        .unwrap();
        assert_eq!(o[2], 12);
        assert_eq!(&o[7..11], &[198, 18, 2, 1]);
        // Full: left as it is.
        let before = o;
        record(&mut o, us, us, 0).unwrap();
        assert_eq!(o, before);
    }

    #[test]
    fn timestamps_are_recorded_then_counted_as_overflow() {
        let us = Ipv4Addr::new(198, 18, 1, 1);
        let ts = timestamp(5_000_000_000);
        assert_eq!(ts, 0x8000_0000 | 5000);
        // Flag 1 (address and time), room for one entry.
        let egress = Ipv4Addr::new(198, 18, 2, 1);
        let mut o = [TS, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        record(&mut o, egress, us, ts).unwrap();
        assert_eq!(&o[4..8], &[198, 18, 1, 1], "the address it arrived at");
        assert_eq!(&o[8..12], &ts.to_be_bytes());
        assert_eq!(o[2], 13);
        record(&mut o, egress, us, ts).unwrap();
        assert_eq!(o[3], 0x11, "overflow count 1, flag 1");
        // An overflow count at 15 overflows: Parameter Problem at the flags byte.
        o[3] = 0xf1;
        assert_eq!(record(&mut o, egress, us, ts), Err(23));
        // Prespecified (flag 3): only the named router writes.
        let mut p = [TS, 12, 5, 3, 198, 18, 9, 9, 0, 0, 0, 0];
        record(&mut p, egress, us, ts).unwrap();
        assert_eq!(p[2], 5, "not our address: untouched");
        p[4..8].copy_from_slice(&us.octets());
        record(&mut p, egress, us, ts).unwrap();
        assert_eq!((p[2], &p[8..12]), (13, &ts.to_be_bytes()[..]));
    }

    #[test]
    fn later_fragments_carry_only_copied_options() {
        let mut out = [0u8; 40];
        // Record Route (not copied), security (130, copied), NOP.
        let o = [RR, 7, 4, 0, 0, 0, 0, 130, 4, 1, 2, NOP];
        let n = copied(&o, &mut out);
        assert_eq!(n, 4);
        assert_eq!(&out[..4], &[130, 4, 1, 2]);
        assert_eq!(copied(&[RR, 3, 4, EOL], &mut out), 0);
    }
}
