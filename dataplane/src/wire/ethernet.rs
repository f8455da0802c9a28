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

/// A MAC address. Prints and parses as `02:00:00:00:00:01`; compares with `[u8; 6]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

pub const BROADCAST: Mac = Mac([0xff; 6]);

impl Mac {
    /// 00:00:00:00:00:00, which no interface has.
    pub const ZERO: Mac = Mac([0; 6]);
    /// The six bytes, in wire order.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }
    /// Group (multicast or broadcast) addresses have the low bit of the first byte set.
    pub const fn is_multicast(self) -> bool {
        self.0[0] & 1 != 0
    }
}

impl From<[u8; 6]> for Mac {
    fn from(b: [u8; 6]) -> Self {
        Mac(b)
    }
}

impl From<Mac> for [u8; 6] {
    fn from(m: Mac) -> Self {
        m.0
    }
}

impl PartialEq<[u8; 6]> for Mac {
    fn eq(&self, other: &[u8; 6]) -> bool {
        self.0 == *other
    }
}

impl PartialEq<Mac> for [u8; 6] {
    fn eq(&self, other: &Mac) -> bool {
        *self == other.0
    }
}

impl PartialEq<Mac> for [u8] {
    fn eq(&self, other: &Mac) -> bool {
        *self == other.0
    }
}

impl std::ops::Deref for Mac {
    type Target = [u8; 6];
    fn deref(&self) -> &[u8; 6] {
        &self.0
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl std::fmt::Debug for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// `02:00:00:00:00:01`: six bytes of one or two hex digits, colon-separated.
impl std::str::FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{s}` is not a MAC (six hex bytes like 02:00:00:00:00:01)");
        let mut m = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut m {
            let p = parts.next().ok_or_else(bad)?;
            if p.is_empty() || p.len() > 2 {
                return Err(bad());
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(m))
    }
}

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
    Mac(m)
}

/// Writes an untagged Ethernet header into the first 14 bytes of `b` (which must hold them).
pub fn write_header(b: &mut [u8], dst: impl Into<Mac>, src: impl Into<Mac>, ethertype: u16) {
    b[field::DST].copy_from_slice(&dst.into().0);
    b[field::SRC].copy_from_slice(&src.into().0);
    b[field::ETHERTYPE..field::ETHERTYPE + 2].copy_from_slice(&ethertype.to_be_bytes());
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
        assert_eq!(
            "02:00:00:00:00:0a".parse::<Mac>(),
            Ok(Mac([2, 0, 0, 0, 0, 10]))
        );
        assert!("02:00:00:00:00".parse::<Mac>().is_err());
        assert!("02:00:00:00:00:0a:0b".parse::<Mac>().is_err());
        assert!("02:00:00:00:00:100".parse::<Mac>().is_err());
        assert_eq!(Mac([2, 0, 0, 0, 0, 10]).to_string(), "02:00:00:00:00:0a");
        assert!(BROADCAST.is_multicast() && !Mac([2, 0, 0, 0, 0, 1]).is_multicast());
    }
}
