//! ICMP (RFC 792) and ICMPv6 (RFC 4443, neighbour discovery RFC 4861): the messages a router
//! answers or sends.

use std::net::Ipv6Addr;

use super::{get16, Error, Result};

pub mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const REST: core::ops::Range<usize> = 4..8;
    pub const HEADER_LEN: usize = 8;
    /// Neighbour solicitation/advertisement: target address.
    pub const ND_TARGET: core::ops::Range<usize> = 8..24;
    pub const ND_LEN: usize = 24;
}

pub const V4_ECHO_REPLY: u8 = 0;
pub const V4_DEST_UNREACHABLE: u8 = 3;
pub const V4_ECHO_REQUEST: u8 = 8;
pub const V4_TIME_EXCEEDED: u8 = 11;
pub const V4_UNREACH_NET: u8 = 0;
pub const V4_UNREACH_FRAG_NEEDED: u8 = 4;
pub const V4_PARAMETER_PROBLEM: u8 = 12;

pub const V6_DEST_UNREACHABLE: u8 = 1;
/// Destination Unreachable code 2: beyond scope of source address (RFC 4443 §3.1).
pub const V6_UNREACH_BEYOND_SCOPE: u8 = 2;
pub const V6_PACKET_TOO_BIG: u8 = 2;
pub const V6_TIME_EXCEEDED: u8 = 3;
pub const V6_ECHO_REQUEST: u8 = 128;
pub const V6_ECHO_REPLY: u8 = 129;
pub const V6_NEIGHBOR_SOLICIT: u8 = 135;
pub const V6_NEIGHBOR_ADVERT: u8 = 136;

/// A checked view of an ICMP or ICMPv6 message (at least the 8-byte header).
#[derive(Debug)]
pub struct Message<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < field::HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Message { buf })
    }
    pub fn kind(&self) -> u8 {
        self.buf.as_ref()[field::TYPE]
    }
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        get16(self.buf.as_ref(), field::CHECKSUM)
    }
    /// The neighbour-discovery target, for NS/NA messages long enough to hold one.
    pub fn nd_target(&self) -> Result<Ipv6Addr> {
        let b = self.buf.as_ref();
        if b.len() < field::ND_LEN {
            return Err(Error::Truncated);
        }
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[field::ND_TARGET]);
        Ok(Ipv6Addr::from(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_nd_target() {
        let mut b = [0u8; 32];
        b[0] = V6_NEIGHBOR_SOLICIT;
        b[8..24].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        let m = Message::new_checked(&b[..]).unwrap();
        assert_eq!((m.kind(), m.code()), (V6_NEIGHBOR_SOLICIT, 0));
        assert_eq!(
            m.nd_target().unwrap(),
            "2001:db8::1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            Message::new_checked(&b[..20])
                .unwrap()
                .nd_target()
                .unwrap_err(),
            Error::Truncated
        );
        assert_eq!(Message::new_checked(&b[..7]).unwrap_err(), Error::Truncated);
    }
}
