//! Address keys: the bit arithmetic the trie needs, for IPv4 (`u32`) and IPv6 (`u128`).
//!
//! Keys are host-order integers whose most significant bit is the first bit of the address, so a
//! prefix of length `len` is the top `len` bits.

use std::fmt::Debug;
use std::hash::Hash;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::arena::Arena;
use super::multibit::Multibit;
use super::stree::Stree;

/// Bits consumed by one trie node (a node has 2^6 = 64 slots, one `u64` bitmap).
pub const STRIDE: u32 = 6;

/// An address family as the LPM sees it.
pub trait Key: Copy + Ord + Eq + Hash + Debug + Send + Sync + 'static {
    /// Address width in bits (32 or 128).
    const BITS: u32;
    /// Bits resolved by the direct-pointing array (its length is `2^DIR_BITS`).
    const DIR_BITS: u32;
    /// The standard library's address type.
    type Addr: Copy + Debug + Eq;
    /// The `ipnet` prefix type.
    type Net: Copy + Debug + Eq + Ord + Hash + std::fmt::Display;
    /// The compiled form of this family's chunks.
    type Arena: Arena<Self>;

    const ZERO: Self;

    fn from_addr(addr: Self::Addr) -> Self;
    fn to_addr(self) -> Self::Addr;
    /// The key and length of a prefix (host bits are cleared).
    fn from_net(net: Self::Net) -> (Self, u8);
    /// Builds a prefix from a key (host bits must be clear) and a length `<= BITS`.
    fn to_net(self, len: u8) -> Self::Net;

    /// Keeps the top `len` bits.
    fn mask(self, len: u8) -> Self;
    /// The top `DIR_BITS` bits as an index into the direct-pointing array.
    fn dir_index(self) -> usize;
    /// The key whose top `DIR_BITS` bits are `index` and whose other bits are zero.
    fn from_dir_index(index: usize) -> Self;
    /// The `STRIDE` bits starting `off` bits from the top, zero-padded past the end of the key.
    /// `off` must be `< BITS`.
    fn slot(self, off: u32) -> usize;
    /// The 64 bits starting `off` bits from the top, zero-padded past the end of the key.
    /// `off` must be `< BITS`.
    fn window(self, off: u32) -> u64;
    /// The first address after the block `self/len`, or `None` if the block ends the space.
    fn block_end(self, len: u8) -> Option<Self>;
}

impl Key for u32 {
    const BITS: u32 = 32;
    const DIR_BITS: u32 = 18;
    type Addr = Ipv4Addr;
    type Net = Ipv4Net;
    type Arena = Multibit;
    const ZERO: Self = 0;

    #[inline]
    fn from_addr(addr: Ipv4Addr) -> Self {
        u32::from(addr)
    }
    #[inline]
    fn to_addr(self) -> Ipv4Addr {
        Ipv4Addr::from(self)
    }
    #[inline]
    fn from_net(net: Ipv4Net) -> (Self, u8) {
        let len = net.prefix_len();
        (u32::from(net.network()).mask(len), len)
    }
    fn to_net(self, len: u8) -> Ipv4Net {
        // Lengths come from validated prefixes; clamp rather than panic on misuse.
        Ipv4Net::new(Ipv4Addr::from(self), len.min(32)).unwrap_or_default()
    }
    #[inline]
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u32::MAX << (32 - u32::from(len.min(32))))
        }
    }
    #[inline(always)]
    fn dir_index(self) -> usize {
        (self >> (32 - Self::DIR_BITS)) as usize
    }
    #[inline]
    fn from_dir_index(index: usize) -> Self {
        (index as u32) << (32 - Self::DIR_BITS)
    }
    #[inline(always)]
    fn slot(self, off: u32) -> usize {
        ((self << off) >> (32 - STRIDE)) as usize
    }
    #[inline(always)]
    fn window(self, off: u32) -> u64 {
        u64::from(self << off) << 32
    }
    #[inline]
    fn block_end(self, len: u8) -> Option<Self> {
        if len == 0 {
            return None;
        }
        self.checked_add(1u32 << (32 - u32::from(len)))
    }
}

impl Key for u128 {
    const BITS: u32 = 128;
    const DIR_BITS: u32 = 18;
    type Addr = Ipv6Addr;
    type Net = Ipv6Net;
    type Arena = Stree;
    const ZERO: Self = 0;

    #[inline]
    fn from_addr(addr: Ipv6Addr) -> Self {
        u128::from(addr)
    }
    #[inline]
    fn to_addr(self) -> Ipv6Addr {
        Ipv6Addr::from(self)
    }
    #[inline]
    fn from_net(net: Ipv6Net) -> (Self, u8) {
        let len = net.prefix_len();
        (u128::from(net.network()).mask(len), len)
    }
    fn to_net(self, len: u8) -> Ipv6Net {
        Ipv6Net::new(Ipv6Addr::from(self), len.min(128)).unwrap_or_default()
    }
    #[inline]
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u128::MAX << (128 - u32::from(len.min(128))))
        }
    }
    #[inline(always)]
    fn dir_index(self) -> usize {
        (self >> (128 - Self::DIR_BITS)) as usize
    }
    #[inline]
    fn from_dir_index(index: usize) -> Self {
        (index as u128) << (128 - Self::DIR_BITS)
    }
    #[inline(always)]
    fn slot(self, off: u32) -> usize {
        ((self << off) >> (128 - STRIDE)) as usize
    }
    #[inline(always)]
    fn window(self, off: u32) -> u64 {
        ((self << off) >> 64) as u64
    }
    #[inline]
    fn block_end(self, len: u8) -> Option<Self> {
        if len == 0 {
            return None;
        }
        self.checked_add(1u128 << (128 - u32::from(len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_extracts_six_bits_with_zero_padding() {
        let k: u32 = 0b101010_110011 << 20;
        assert_eq!(k.slot(0), 0b101010);
        assert_eq!(k.slot(6), 0b110011);
        // Past the end: the two remaining bits of a u32 at offset 30, padded with zeros.
        assert_eq!(0b11u32.slot(30), 0b110000);
        assert_eq!(1u128.slot(126), 0b010000);
        assert_eq!(k.window(6), 0b110011 << 58);
        assert_eq!(0b11u32.window(30), 0b11 << 62);
        assert_eq!((0xabu128 << 60).window(64), 0xb << 60);
        assert_eq!(3u128.window(126), 0b11 << 62);
    }

    #[test]
    fn mask_and_dir_index() {
        assert_eq!(0xffff_ffffu32.mask(0), 0);
        assert_eq!(0xffff_ffffu32.mask(8), 0xff00_0000);
        assert_eq!(0xffff_ffffu32.mask(32), 0xffff_ffff);
        assert_eq!(u128::MAX.mask(128), u128::MAX);
        assert_eq!(0xffff_ffffu32.dir_index(), (1 << 18) - 1);
        assert_eq!(u32::from_dir_index(3).dir_index(), 3);
        assert_eq!(0xff00_0000u32.block_end(8), None);
        assert_eq!(0x0a00_0000u32.block_end(8), Some(0x0b00_0000));
    }
}
