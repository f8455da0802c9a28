//! IPv6 headers (RFC 8200), with extension-header skipping to find the upper layer.

use std::net::Ipv6Addr;

use super::{get16, Error, Result};

pub mod field {
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: core::ops::Range<usize> = 8..24;
    pub const DST: core::ops::Range<usize> = 24..40;
    pub const HEADER_LEN: usize = 40;
}

pub const NEXT_ICMPV6: u8 = 58;
pub const NEXT_UDP: u8 = 17;
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DEST_OPTS: u8 = 60;

/// A checked view of an IPv6 packet: version 6, payload length within the buffer.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < field::HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(Error::BadVersion);
        }
        if field::HEADER_LEN + usize::from(get16(b, field::PAYLOAD_LEN)) > b.len() {
            return Err(Error::BadLength);
        }
        Ok(Packet { buf })
    }
    pub fn payload_len(&self) -> usize {
        usize::from(get16(self.buf.as_ref(), field::PAYLOAD_LEN))
    }
    pub fn next_header(&self) -> u8 {
        self.buf.as_ref()[field::NEXT_HEADER]
    }
    pub fn hop_limit(&self) -> u8 {
        self.buf.as_ref()[field::HOP_LIMIT]
    }
    pub fn src(&self) -> Ipv6Addr {
        addr(&self.buf.as_ref()[field::SRC])
    }
    pub fn dst(&self) -> Ipv6Addr {
        addr(&self.buf.as_ref()[field::DST])
    }
    /// The packet up to the end of its payload (header included).
    pub fn packet(&self) -> &[u8] {
        &self.buf.as_ref()[..field::HEADER_LEN + self.payload_len()]
    }
    /// The upper-layer protocol and its offset from the start of the IPv6 header, skipping
    /// hop-by-hop, routing, destination-options and (first) fragment headers.
    pub fn upper_layer(&self) -> Result<(u8, usize)> {
        let b = self.packet();
        let mut next = self.next_header();
        let mut at = field::HEADER_LEN;
        for _ in 0..8 {
            match next {
                HOP_BY_HOP | ROUTING | DEST_OPTS => {
                    if at + 2 > b.len() {
                        return Err(Error::Truncated);
                    }
                    let len = (usize::from(b[at + 1]) + 1) * 8;
                    next = b[at];
                    at += len;
                }
                FRAGMENT => {
                    if at + 8 > b.len() {
                        return Err(Error::Truncated);
                    }
                    next = b[at];
                    at += 8;
                }
                _ => {
                    return if at <= b.len() {
                        Ok((next, at))
                    } else {
                        Err(Error::Truncated)
                    };
                }
            }
        }
        Err(Error::Unsupported)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn decrement_hop_limit(&mut self) {
        let b = self.buf.as_mut();
        b[field::HOP_LIMIT] = b[field::HOP_LIMIT].wrapping_sub(1);
    }
}

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ipv6Addr::from(a)
}

/// Writes a 40-byte header into `b[..40]`.
pub fn write_header(
    b: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop_limit: u8,
    payload_len: usize,
) {
    b[..field::HEADER_LEN].fill(0);
    b[0] = 0x60;
    b[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2]
        .copy_from_slice(&(payload_len as u16).to_be_bytes());
    b[field::NEXT_HEADER] = next;
    b[field::HOP_LIMIT] = hop_limit;
    b[field::SRC].copy_from_slice(&src.octets());
    b[field::DST].copy_from_slice(&dst.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_extension_skipping() {
        let mut b = [0u8; 40 + 8 + 8 + 4];
        let src: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let dst: Ipv6Addr = "3fff::1".parse().unwrap();
        write_header(&mut b, src, dst, HOP_BY_HOP, 64, 20);
        b[40] = FRAGMENT; // hop-by-hop (8 bytes) -> fragment (8 bytes) -> ICMPv6
        b[41] = 0;
        b[48] = NEXT_ICMPV6;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.src(), p.dst(), p.hop_limit(), p.payload_len()),
            (src, dst, 64, 20)
        );
        assert_eq!(p.upper_layer().unwrap(), (NEXT_ICMPV6, 56));
        assert_eq!(Packet::new_checked(&b[..39]).unwrap_err(), Error::Truncated);
        let mut v = b;
        v[5] = 21;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::BadLength);
        let mut v = b;
        v[0] = 0x40;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::BadVersion);
        // A hop-by-hop header claiming more than the payload.
        let mut v = b;
        v[41] = 9;
        assert_eq!(
            Packet::new_checked(&v[..])
                .unwrap()
                .upper_layer()
                .unwrap_err(),
            Error::Truncated
        );
    }
}
