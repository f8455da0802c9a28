//! Ethernet II frames, with one optional 802.1Q tag.

use super::{get16, Error, Result};

pub mod field {
    pub const DST: core::ops::Range<usize> = 0..6;
    pub const SRC: core::ops::Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const HEADER_LEN: usize = 14;
    pub const VLAN_TCI: usize = 14;
    pub const VLAN_INNER_TYPE: usize = 16;
    pub const VLAN_HEADER_LEN: usize = 18;
}

pub const TYPE_IPV4: u16 = 0x0800;
pub const TYPE_ARP: u16 = 0x0806;
pub const TYPE_IPV6: u16 = 0x86dd;
pub const TYPE_VLAN: u16 = 0x8100;

pub type Mac = [u8; 6];
pub const BROADCAST: Mac = [0xff; 6];

/// A checked view of an Ethernet frame.
#[derive(Debug)]
pub struct Frame<T: AsRef<[u8]>> {
    buf: T,
    header_len: usize,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Validates the header (and the 802.1Q tag when present).
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < field::HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = if get16(b, field::ETHERTYPE) == TYPE_VLAN {
            if b.len() < field::VLAN_HEADER_LEN {
                return Err(Error::Truncated);
            }
            field::VLAN_HEADER_LEN
        } else {
            field::HEADER_LEN
        };
        Ok(Frame { buf, header_len })
    }
    pub fn dst(&self) -> Mac {
        mac(&self.buf.as_ref()[field::DST])
    }
    pub fn src(&self) -> Mac {
        mac(&self.buf.as_ref()[field::SRC])
    }
    /// The VLAN id, for tagged frames.
    pub fn vlan(&self) -> Option<u16> {
        (self.header_len == field::VLAN_HEADER_LEN)
            .then(|| get16(self.buf.as_ref(), field::VLAN_TCI) & 0x0fff)
    }
    /// The payload's ethertype (inside the tag, for tagged frames).
    pub fn ethertype(&self) -> u16 {
        let at = if self.header_len == field::VLAN_HEADER_LEN {
            field::VLAN_INNER_TYPE
        } else {
            field::ETHERTYPE
        };
        get16(self.buf.as_ref(), at)
    }
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len..]
    }
}

fn mac(b: &[u8]) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(b);
    m
}

/// Writes an untagged Ethernet header into the first 14 bytes of `b` (which must hold them).
pub fn write_header(b: &mut [u8], dst: Mac, src: Mac, ethertype: u16) {
    b[field::DST].copy_from_slice(&dst);
    b[field::SRC].copy_from_slice(&src);
    b[field::ETHERTYPE..field::ETHERTYPE + 2].copy_from_slice(&ethertype.to_be_bytes());
}

/// Formats a MAC as `02:00:00:00:00:01`.
pub fn fmt_mac(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `02:00:00:00:00:01`.
pub fn parse_mac(s: &str) -> Option<Mac> {
    let mut m = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_tagged_and_short() {
        let f = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45];
        let v = Frame::new_checked(&f[..]).unwrap();
        assert_eq!(v.dst(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(v.src(), [2, 0, 0, 0, 0, 2]);
        assert_eq!(v.ethertype(), TYPE_IPV4);
        assert_eq!(v.vlan(), None);
        assert_eq!(v.payload(), &[0x45]);
        let t = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x20, 0x0a, 0x86,
            0xdd,
        ];
        let v = Frame::new_checked(&t[..]).unwrap();
        assert_eq!(
            (v.vlan(), v.ethertype(), v.header_len()),
            (Some(10), TYPE_IPV6, 18)
        );
        assert_eq!(Frame::new_checked(&t[..16]).unwrap_err(), Error::Truncated);
        assert_eq!(Frame::new_checked(&f[..13]).unwrap_err(), Error::Truncated);
        assert_eq!(parse_mac("02:00:00:00:00:0a"), Some([2, 0, 0, 0, 0, 10]));
        assert_eq!(parse_mac("02:00:00:00:00"), None);
        assert_eq!(fmt_mac(&[2, 0, 0, 0, 0, 10]), "02:00:00:00:00:0a");
    }
}
