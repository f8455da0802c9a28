//! ARP for IPv4 over Ethernet (RFC 826).

use std::net::Ipv4Addr;

use super::ethernet::Mac;
use super::{get16, Error, Result};

pub mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: core::ops::Range<usize> = 8..14;
    pub const SPA: core::ops::Range<usize> = 14..18;
    pub const THA: core::ops::Range<usize> = 18..24;
    pub const TPA: core::ops::Range<usize> = 24..28;
    pub const LEN: usize = 28;
}

pub const OP_REQUEST: u16 = 1;
pub const OP_REPLY: u16 = 2;

/// A checked view: Ethernet hardware, IPv4 protocol, lengths 6 and 4.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < field::LEN {
            return Err(Error::Truncated);
        }
        if get16(b, field::HTYPE) != 1
            || get16(b, field::PTYPE) != 0x0800
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(Error::Unsupported);
        }
        Ok(Packet { buf })
    }
    pub fn operation(&self) -> u16 {
        get16(self.buf.as_ref(), field::OPER)
    }
    pub fn sender_mac(&self) -> Mac {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buf.as_ref()[field::SHA]);
        Mac(m)
    }
    pub fn sender_ip(&self) -> Ipv4Addr {
        ip(&self.buf.as_ref()[field::SPA])
    }
    pub fn target_ip(&self) -> Ipv4Addr {
        ip(&self.buf.as_ref()[field::TPA])
    }
}

fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// Writes a 28-byte ARP message into `b[..28]`.
pub fn write(
    b: &mut [u8],
    op: u16,
    sha: impl Into<Mac>,
    spa: Ipv4Addr,
    tha: impl Into<Mac>,
    tpa: Ipv4Addr,
) {
    b[field::HTYPE..field::HTYPE + 2].copy_from_slice(&1u16.to_be_bytes());
    b[field::PTYPE..field::PTYPE + 2].copy_from_slice(&0x0800u16.to_be_bytes());
    b[field::HLEN] = 6;
    b[field::PLEN] = 4;
    b[field::OPER..field::OPER + 2].copy_from_slice(&op.to_be_bytes());
    b[field::SHA].copy_from_slice(&sha.into().0);
    b[field::SPA].copy_from_slice(&spa.octets());
    b[field::THA].copy_from_slice(&tha.into().0);
    b[field::TPA].copy_from_slice(&tpa.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let mut b = [0u8; 28];
        let (m1, m2) = (Mac([2, 0, 0, 0, 0, 1]), Mac([0; 6]));
        write(
            &mut b,
            OP_REQUEST,
            m1,
            Ipv4Addr::new(198, 18, 0, 2),
            m2,
            Ipv4Addr::new(198, 18, 0, 1),
        );
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.operation(), OP_REQUEST);
        assert_eq!(p.sender_mac(), m1);
        assert_eq!(p.sender_ip(), Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(p.target_ip(), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(Packet::new_checked(&b[..27]).unwrap_err(), Error::Truncated);
        let mut v = b;
        v[4] = 8;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::Unsupported);
    }
}
