//! IPv4 fragmentation in transit (RFC 791 §3.2, RFC 1812 §4.2.2.7 and §5.2.6): a datagram
//! without DF that is larger than its egress MTU leaves as fragments, each at most the MTU,
//! their payloads multiples of 8 bytes but the last. The first fragment keeps every option
//! and stays in the frame's own buffer; the others take only the options marked "copied" and
//! come from spare buffers. An exception path, run once per such datagram: it allocates a
//! small list, never on the fast path of datagrams that fit.

use std::net::IpAddr;

use super::options;
use super::{DropReason, Io, PacketBuf, Verdict};
use crate::wire::ethernet::{self, Mac};
use crate::wire::{get16, ipv4, put16};

/// Splits the IPv4 datagram at `l3` of `f` (whose link header is already written for its
/// egress port) to fit `mtu`: `f` becomes the first fragment and the others are returned, in
/// order. `None` (and `f` untouched) when the MTU leaves no room for 8 bytes of payload after
/// the header or `spare` runs out of buffers (those taken are handed back through `free`).
pub fn fragment(
    f: &mut PacketBuf,
    l3: usize,
    mtu: usize,
    spare: &mut dyn FnMut() -> Option<PacketBuf>,
    free: &mut Vec<PacketBuf>,
) -> Option<Vec<PacketBuf>> {
    let b = &f.data[..];
    let ihl = usize::from(b[l3] & 0x0f) * 4;
    let total = usize::from(get16(b, l3 + ipv4::field::TOTAL_LEN));
    let frag = get16(b, l3 + ipv4::field::FLAGS_FRAG);
    let (offset, more) = (frag & 0x1fff, frag & 0x2000 != 0);
    let first = (mtu.checked_sub(ihl)? / 8) * 8;
    // Later fragments: the base header and the copied options only.
    let mut opts = [0u8; 40];
    let n_opts = options::copied(&b[l3 + 20..l3 + ihl], &mut opts);
    let ihl2 = 20 + n_opts;
    let rest = (mtu.checked_sub(ihl2)? / 8) * 8;
    if first == 0 || rest == 0 || total <= ihl || f.len < l3 + total {
        return None;
    }
    let payload = total - ihl;
    let mut out = Vec::with_capacity((payload - first.min(payload)).div_ceil(rest));
    let mut at = first;
    while at < payload {
        let len = rest.min(payload - at);
        let Some(mut g) = spare() else {
            free.append(&mut out);
            return None;
        };
        let d = &mut g.data[..];
        d[..l3].copy_from_slice(&f.data[..l3]);
        d[l3..l3 + 20].copy_from_slice(&f.data[l3..l3 + 20]);
        d[l3 + 20..l3 + ihl2].copy_from_slice(&opts[..n_opts]);
        d[l3] = 0x40 | (ihl2 / 4) as u8;
        d[l3 + ihl2..l3 + ihl2 + len].copy_from_slice(&f.data[l3 + ihl + at..l3 + ihl + at + len]);
        let last = at + len == payload;
        let field = (offset + (at / 8) as u16) | if last && !more { 0 } else { 0x2000 };
        finish(d, l3, ihl2, ihl2 + len, field);
        g.len = l3 + ihl2 + len;
        out.push(g);
        at += len;
    }
    // The first fragment: the frame itself, cut to its share, with "more fragments" set.
    let d = &mut f.data[..];
    let field = offset | if out.is_empty() && !more { 0 } else { 0x2000 };
    finish(d, l3, ihl, ihl + first.min(payload), field);
    f.len = l3 + ihl + first.min(payload);
    Some(out)
}

/// Sets a fragment's total length and fragment field (DF clear) and its header checksum.
fn finish(d: &mut [u8], l3: usize, ihl: usize, total: usize, field: u16) {
    put16(d, l3 + ipv4::field::TOTAL_LEN, total as u16);
    put16(d, l3 + ipv4::field::FLAGS_FRAG, field);
    put16(d, l3 + ipv4::field::CHECKSUM, 0);
    let c = crate::wire::checksum::of(&d[l3..l3 + ihl]);
    put16(d, l3 + ipv4::field::CHECKSUM, c);
}
/// The pipeline's hook: a datagram too big for its egress port, without DF.
impl super::Pipeline {
    /// Forwards an IPv4 datagram without DF that is larger than `port`'s MTU: options, TTL
    /// and link header as for any datagram, then fragments, the first in `f` and the others
    /// through `io`. A next hop still being resolved cannot hold the pieces: the datagram is
    /// dropped (`too-big`) while the request goes out; so it is without spare buffers.
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_fragmented(
        &mut self,
        now_ns: u64,
        ingress: u16,
        f: &mut PacketBuf,
        l3: usize,
        port: u16,
        mac: Option<Mac>,
        ask: Option<IpAddr>,
        io: &mut Option<&mut Io<'_>>,
    ) -> Verdict {
        let (Some(mac), true) = (mac, io.is_some()) else {
            if let Some(gateway) = ask {
                self.send_request(port, gateway, io);
            }
            return Self::drop(DropReason::TooBig);
        };
        if f.data[l3] != 0x45 {
            if let Err(v) = self.record_options(now_ns, ingress, port, f, l3) {
                return v;
            }
        }
        let end = f.len;
        if let Ok(mut p) = ipv4::Packet::new_checked(&mut f.data[l3..end]) {
            p.decrement_ttl();
        }
        let (out_mac, mtu) = {
            let out = &self.interfaces[usize::from(port)];
            (out.mac, usize::from(out.mtu))
        };
        ethernet::write_header(&mut f.data[..], mac, out_mac, ethernet::TYPE_IPV4);
        let Some(io) = io.as_deref_mut() else {
            return Self::drop(DropReason::TooBig);
        };
        match fragment(f, l3, mtu, io.spare, io.free) {
            Some(rest) => {
                self.stats.fragmented += 1;
                self.stats.fragments += 1 + rest.len() as u64;
                io.out.extend(rest.into_iter().map(|g| (port, g)));
                Verdict::Forward { port }
            }
            None => Self::drop(DropReason::TooBig),
        }
    }
}
