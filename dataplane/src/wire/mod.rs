//! Zero-copy packet views over `&[u8]` / `&mut [u8]`, one module per protocol (the smoltcp
//! shape): `new_checked` validates lengths once and returns a typed [`Error`]; after that, field
//! accessors read straight from the bytes. Offsets live in each module's `field` constants. No
//! view ever panics on short or inconsistent input.

pub mod arp;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod udp;

/// Why a view refused its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("buffer shorter than the header")]
    Truncated,
    #[error("length field inconsistent with the buffer")]
    BadLength,
    #[error("wrong version")]
    BadVersion,
    #[error("unsupported field value")]
    Unsupported,
}

pub type Result<T> = core::result::Result<T, Error>;

#[inline]
pub(crate) fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Internet checksum (RFC 1071) helpers.
pub mod checksum {
    /// One's-complement sum of `data` added to `acc` (not folded).
    pub fn sum(mut acc: u32, data: &[u8]) -> u32 {
        let mut chunks = data.chunks_exact(2);
        for c in &mut chunks {
            acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            acc += u32::from(*last) << 8;
        }
        acc
    }

    /// Folds a sum to 16 bits and complements it.
    pub fn finish(mut acc: u32) -> u16 {
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    /// The checksum of `data`.
    pub fn of(data: &[u8]) -> u16 {
        finish(sum(0, data))
    }

    /// RFC 1624 incremental update: the new checksum after one 16-bit word of the covered data
    /// changes from `old` to `new` (`HC' = ~(~HC + ~m + m')`).
    pub fn update(hc: u16, old: u16, new: u16) -> u16 {
        let acc = u32::from(!hc) + u32::from(!old) + u32::from(new);
        finish(acc)
    }

    /// Pseudo-header sum for IPv6 upper-layer checksums (RFC 8200 §8.1).
    pub fn ipv6_pseudo(src: &[u8; 16], dst: &[u8; 16], len: u32, next: u8) -> u32 {
        let mut acc = sum(0, src);
        acc = sum(acc, dst);
        acc += len >> 16;
        acc += len & 0xffff;
        acc + u32::from(next)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn rfc1071_example_and_incremental_update() {
            // RFC 1071 §3 example bytes: sum 0xddf2, checksum 0x220d.
            let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
            assert_eq!(of(&data), 0x220d);
            // A TTL/protocol word 0x4011 -> 0x3f11 updated incrementally equals a recompute.
            let mut hdr = [
                0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 198, 18, 0,
                2, 240, 1, 2, 3,
            ];
            let c = of(&hdr);
            hdr[10..12].copy_from_slice(&c.to_be_bytes());
            assert_eq!(of(&hdr), 0);
            let c2 = update(c, 0x4011, 0x3f11);
            hdr[8] = 0x3f;
            hdr[10..12].copy_from_slice(&[0, 0]);
            assert_eq!(of(&hdr), c2);
        }
    }
}
