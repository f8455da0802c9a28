//! IPv4 chunks as a multibit trie: below the 18-bit direct array, a block of 64 16-bit entries
//! resolves bits 18..24, and only /24s holding longer routes get a block of 256 entries for bits
//! 24..32. An entry with the top bit set points to such a block (numbered within the chunk, so
//! chunks move by plain copy), except 0xffff, "no route"; otherwise it is a next hop. A /24
//! lookup is two indexed loads and no arithmetic beyond shifts: on the shipped 512k table this
//! measured about 1.6 times the poptrie's rate, at 6 MiB instead of 2 MiB (see docs/fib.md).
//!
//! Every direct entry points to a block of 64, also where a whole /18 has one next hop: such
//! entries share one *hop block* per next hop (64 copies of it). A lookup therefore never asks
//! whether the direct entry is a leaf. That branch followed the destination, so the core
//! mispredicted it for a share of lookups and threw away the loads it had started for the
//! lookups after them; without it the full table measured twice the rate (docs/fib.md, "Why this
//! FIB").
//!
//! ```text
//! dir[a >> 14] ──► chunk: [e0 .. e63] [block 0: 256 entries] [block 1] ...
//!              └─► hop block: [h h .. h] (64 entries, shared by every /18 answering h)
//!                         e = chunk[(a >> 8) & 63]; if e as i16 < -1: chunk[64 + 256 * (e & 0x7fff) + (a & 255)]
//! ```

use rustc_hash::FxHashMap;

use super::arena::{is_pointer, stored, uniform, widen, Arena, Entry, NO_SLOT};
use super::NONE;

/// Flags an entry that points to a block of 256 (entries store "none" as [`NO_SLOT`], so a
/// lookup ends on the entry itself).
const POINTER: u16 = 0x8000;

/// The IPv4 arena: 16-bit entries.
#[derive(Clone, Debug, Default)]
pub struct Multibit {
    mem: Vec<u16>,
    /// Where each next hop's hop block starts.
    hops: FxHashMap<u16, u32>,
}

impl Arena<u32> for Multibit {
    type Unit = u16;

    fn mem(&self) -> &Vec<u16> {
        &self.mem
    }

    fn mem_mut(&mut self) -> &mut Vec<u16> {
        &mut self.mem
    }

    fn build(&mut self, routes: &[Entry<u32>], default: u32) -> Result<u32, u32> {
        if uniform(routes, 18, default) {
            return Err(default);
        }
        // Next hops fit 15 bits (checked on insert), so entries keep them with their top bit
        // clear.
        let mut hop = [stored(default); 64];
        let mut deep: [(u8, u32, u32); 64] = [(0, 0, 0); 64];
        let mut n_deep = 0;
        let mut i = 0;
        while i < routes.len() {
            let (key, len, nh) = routes[i];
            let slot = ((key >> 8) & 63) as usize;
            if len <= 18 {
                i += 1;
            } else if len <= 24 {
                // Sorted order paints containing prefixes first: the longest match wins.
                let span = 1usize << (24 - len);
                hop[slot..slot + span].fill(stored(nh));
                i += 1;
            } else {
                let start = i;
                while i < routes.len() && ((routes[i].0 >> 8) & 63) as usize == slot {
                    i += 1;
                }
                deep[n_deep] = (slot as u8, start as u32, i as u32);
                n_deep += 1;
            }
        }
        let root = self.mem.len();
        self.mem.extend_from_slice(&hop);
        let mut blocks = 0u16;
        for &(slot, s, e) in &deep[..n_deep] {
            let sub = &routes[s as usize..e as usize];
            let inherited = hop[slot as usize];
            let inherited_nh = if inherited == NO_SLOT {
                NONE
            } else {
                u32::from(inherited)
            };
            if uniform(sub, 24, inherited_nh) {
                continue;
            }
            // At most 64 blocks: a pointer is never NO_SLOT.
            self.mem[root + slot as usize] = POINTER | blocks;
            blocks += 1;
            let b = self.mem.len();
            self.mem.resize(b + 256, inherited);
            for &(key, len, nh) in sub {
                let first = (key & 255) as usize;
                let span = 1usize << (32 - len);
                self.mem[b + first..b + first + span].fill(stored(nh));
            }
        }
        Ok(root as u32)
    }

    fn leaf(&mut self, nh: u32) -> u32 {
        let mem = &mut self.mem;
        *self.hops.entry(stored(nh)).or_insert_with(|| {
            let at = mem.len();
            mem.resize(at + 64, stored(nh));
            at as u32
        })
    }

    #[inline(always)]
    fn lookup(&self, root: u32, addr: u32) -> u32 {
        let base = root as usize;
        let e = self.mem[base + ((addr >> 8) & 63) as usize];
        if !is_pointer(e) {
            return widen(e);
        }
        widen(self.mem[base + 64 + (usize::from(e & !POINTER) << 8) + (addr & 255) as usize])
    }
}

#[cfg(test)]
mod tests {
    use crate::{Lpm, NO_ROUTE};

    #[test]
    fn blocks_of_one_next_hop_share_a_hop_block() {
        // 2^18 direct entries, three next hops among them (1, 2, and "none" for the unrouted
        // half): three hop blocks of 64 entries, however many /18s answer each.
        let t = Lpm::<u32>::from_routes(vec![(0, 1, 1), (0x4000_0000, 2, 2)]).unwrap();
        assert_eq!(t.memory().arena_bytes, 3 * 64 * 2);
        assert_eq!(t.lookup(0x0102_0304), Some(1));
        assert_eq!(t.lookup(0x7fff_ffff), Some(2));
        assert_eq!(t.lookup(0x8000_0000), None);
        // A chunk (64 entries for its /24s, one block of 256 for the /25) comes on top.
        let mut t = t;
        t.insert(0x0102_0380, 25, 3).unwrap();
        assert_eq!(t.memory().arena_bytes, 3 * 64 * 2 + (64 + 256) * 2);
        assert_eq!(t.lookup(0x0102_0381), Some(3));
        assert_eq!(t.lookup(0x0102_0301), Some(1));
        // Batch lookups read the same entries: "none" comes out as NO_ROUTE, also from a block
        // of 256 (the unrouted /25 beside the one routed).
        t.insert(0x8000_0080, 25, 4).unwrap();
        let addrs = [
            0x0102_0381,
            0x0102_0301,
            0x7fff_ffff,
            0x8000_0000,
            0x8000_0081,
        ];
        let mut out = [0; 5];
        t.lookup_batch(&addrs, &mut out);
        assert_eq!(out, [3, 1, 2, NO_ROUTE, 4]);
    }
}
