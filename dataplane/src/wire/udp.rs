//! UDP headers (RFC 768).

use super::{get16, Error, Result};

pub mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LEN: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const HEADER_LEN: usize = 8;
}

/// A checked view: the length field covers at least the header and fits the buffer.
#[derive(Debug)]
pub struct Datagram<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Datagram<T> {
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < field::HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = usize::from(get16(b, field::LEN));
        if len < field::HEADER_LEN || len > b.len() {
            return Err(Error::BadLength);
        }
        Ok(Datagram { buf })
    }
    pub fn src_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::DST_PORT)
    }
    pub fn checksum(&self) -> u16 {
        get16(self.buf.as_ref(), field::CHECKSUM)
    }
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[field::HEADER_LEN..usize::from(get16(self.buf.as_ref(), field::LEN))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_lengths() {
        let b = [
            0x30, 0x39, 0x00, 0x35, 0x00, 0x0a, 0x00, 0x00, 0xab, 0xcd, 0xff,
        ];
        let d = Datagram::new_checked(&b[..]).unwrap();
        assert_eq!((d.src_port(), d.dst_port(), d.checksum()), (12345, 53, 0));
        assert_eq!(d.payload(), &[0xab, 0xcd]);
        assert_eq!(
            Datagram::new_checked(&b[..7]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Datagram::new_checked(&b[..9]).unwrap_err(),
            Error::BadLength
        );
        let mut v = b;
        v[5] = 4;
        assert_eq!(Datagram::new_checked(&v[..]).unwrap_err(), Error::BadLength);
    }
}
