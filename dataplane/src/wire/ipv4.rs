//! IPv4 headers (RFC 791), options included (they are carried, never interpreted).

use std::net::Ipv4Addr;

use super::{checksum, get16, Error, Result};

pub mod field {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: core::ops::Range<usize> = 12..16;
    pub const DST: core::ops::Range<usize> = 16..20;
    pub const MIN_HEADER_LEN: usize = 20;
}

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_UDP: u8 = 17;
pub const FLAG_DF: u16 = 0x4000;

/// A checked view of an IPv4 packet: version 4, header length within the buffer, total length
/// at least the header and no longer than the buffer (trailing bytes, such as Ethernet padding,
/// are allowed).
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < field::MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(Error::BadVersion);
        }
        let ihl = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if ihl < field::MIN_HEADER_LEN || ihl > b.len() {
            return Err(Error::BadLength);
        }
        let total = usize::from(get16(b, field::TOTAL_LEN));
        if total < ihl || total > b.len() {
            return Err(Error::BadLength);
        }
        Ok(Packet { buf })
    }
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    pub fn total_len(&self) -> usize {
        usize::from(get16(self.buf.as_ref(), field::TOTAL_LEN))
    }
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[field::PROTOCOL]
    }
    pub fn dont_fragment(&self) -> bool {
        get16(self.buf.as_ref(), field::FLAGS_FRAG) & FLAG_DF != 0
    }
    pub fn src(&self) -> Ipv4Addr {
        addr(&self.buf.as_ref()[field::SRC])
    }
    pub fn dst(&self) -> Ipv4Addr {
        addr(&self.buf.as_ref()[field::DST])
    }
    pub fn checksum_ok(&self) -> bool {
        checksum::of(&self.buf.as_ref()[..self.header_len()]) == 0
    }
    /// The payload (up to the total length).
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Decrements the TTL, updating the checksum incrementally (RFC 1624). Always inlined:
    /// it is on every forwarded frame's path, and a call costs as much as its work.
    #[inline(always)]
    pub fn decrement_ttl(&mut self) {
        let b = self.buf.as_mut();
        let old = get16(b, field::TTL);
        b[field::TTL] = b[field::TTL].wrapping_sub(1);
        let new = get16(b, field::TTL);
        let c = checksum::update(get16(b, field::CHECKSUM), old, new);
        b[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
    }
}

fn addr(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// Writes a 20-byte header (no options, DF clear, id 0) with its checksum into `b[..20]`.
pub fn write_header(
    b: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    ttl: u8,
    payload_len: usize,
) {
    let total = (field::MIN_HEADER_LEN + payload_len) as u16;
    b[..field::MIN_HEADER_LEN].fill(0);
    b[field::VER_IHL] = 0x45;
    b[field::TOTAL_LEN..field::TOTAL_LEN + 2].copy_from_slice(&total.to_be_bytes());
    b[field::TTL] = ttl;
    b[field::PROTOCOL] = protocol;
    b[field::SRC].copy_from_slice(&src.octets());
    b[field::DST].copy_from_slice(&dst.octets());
    let c = checksum::of(&b[..field::MIN_HEADER_LEN]);
    b[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ICMP echo request 198.18.0.2 -> 240.1.2.3, TTL 64 (bytes as on the wire).
    const PKT: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 198, 18, 0, 2, 240,
        1, 2, 3, 0x08, 0x00, 0xf7, 0xff, 0x00, 0x00, 0x00, 0x00,
    ];

    fn pkt() -> [u8; 28] {
        let mut p = PKT;
        let c = checksum::of(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn fields_checksum_and_ttl() {
        let mut b = pkt();
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        assert_eq!(
            (p.header_len(), p.total_len(), p.ttl(), p.protocol()),
            (20, 28, 64, PROTO_ICMP)
        );
        assert!(p.dont_fragment());
        assert_eq!(p.src(), Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(p.dst(), Ipv4Addr::new(240, 1, 2, 3));
        assert!(p.checksum_ok());
        p.decrement_ttl();
        assert_eq!(p.ttl(), 63);
        assert!(
            p.checksum_ok(),
            "incremental update keeps the checksum valid"
        );
        assert_eq!(p.payload().len(), 8);
    }

    #[test]
    fn rejects_inconsistent_headers() {
        let b = pkt();
        assert_eq!(Packet::new_checked(&b[..19]).unwrap_err(), Error::Truncated);
        let mut v = b;
        v[0] = 0x65;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::BadVersion);
        let mut v = b;
        v[0] = 0x44;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::BadLength);
        let mut v = b;
        v[0] = 0x4f; // 60-byte header in a 28-byte packet
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::BadLength);
        let mut v = b;
        v[3] = 29;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::BadLength);
        let mut v = b;
        v[3] = 19;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::BadLength);
        let mut v = b;
        v[15] ^= 1;
        assert!(!Packet::new_checked(&v[..]).unwrap().checksum_ok());
    }
}
