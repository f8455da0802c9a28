//! IPv6 chunks as a poptrie (Asai & Ohara, SIGCOMM 2015): 6-bit stride nodes whose children
//! and leaves are found by population counts over two 64-bit bitmaps, with runs of equal
//! leaves stored once. A node's words in the arena:
//!
//! ```text
//! word 0   vector   bit v set: slot v leads to a child node
//! word 1   leafvec  bit v set: a run of equal leaves starts at slot v
//! then     child pointers, u32 each, two per word, in slot order
//! then     leaves, u16 next hops, four per word, one per run, in slot order
//! ```
//!
//! Slot `v` of a node is child number `popcount(vector below v)`, or else leaf number
//! `popcount(leafvec up to v) - 1`. Keeping the leaves right behind the bitmaps means a lookup
//! ending in a node reads one or two adjacent cache lines. Deep and sparse IPv6 tables stay
//! small this way, where a direct-indexed layout would not.
//!
//! Invariant the builder relies on: routes are sorted by `(key, len)`. In that order a prefix
//! that contains another comes first, and prefixes either nest or are disjoint, so painting
//! routes in order onto slots leaves each slot with its longest match.

use super::arena::{uniform, Arena, Entry};
use super::key::{Key, STRIDE};

/// A poptrie arena of 64-bit words.
#[derive(Clone, Debug, Default)]
pub struct Poptrie {
    mem: Vec<u64>,
}

#[inline(always)]
fn popcnt_below(bits: u64, v: usize) -> u32 {
    (bits & ((1u64 << v) - 1)).count_ones()
}

#[inline(always)]
fn popcnt_upto(bits: u64, v: usize) -> u32 {
    (bits & (u64::MAX >> (63 - v))).count_ones()
}

impl<K: Key> Arena<K> for Poptrie {
    fn build(&mut self, routes: &[Entry<K>], default: u32) -> Result<u32, u32> {
        if uniform(routes, K::DIR_BITS, default) {
            return Err(default);
        }
        Ok(emit(routes, K::DIR_BITS, default, &mut self.mem))
    }

    #[inline(always)]
    fn walk(&self, root: u32, addr: K) -> u32 {
        let mem = &self.mem[..];
        let mut at = root as usize;
        let mut off = K::DIR_BITS;
        loop {
            let vector = mem[at];
            let v = addr.slot(off);
            if vector & (1u64 << v) != 0 {
                at = child(mem, at, popcnt_below(vector, v)) as usize;
                off += STRIDE;
            } else {
                let j = popcnt_upto(mem[at + 1], v) - 1;
                return leaf(mem, at, vector.count_ones(), j);
            }
        }
    }

    fn append(&mut self, src: &Self, start: usize, len: usize) -> usize {
        append_region(&mut self.mem, &src.mem, start, len)
    }

    fn units(&self) -> usize {
        self.mem.len()
    }

    fn unit_bytes() -> usize {
        8
    }

    fn capacity_bytes(&self) -> usize {
        self.mem.capacity() * 8
    }
}

/// Appends the node covering the block of `routes` starting `off` bits deep, then its
/// children; returns the node's word index.
fn emit<K: Key>(routes: &[Entry<K>], off: u32, default: u32, mem: &mut Vec<u64>) -> u32 {
    let deep = off + STRIDE;
    let mut hop = [default; 64];
    // Children: (slot, first route, end route) for slots holding routes deeper than this node.
    let mut children: [(u8, u32, u32); 64] = [(0, 0, 0); 64];
    let mut n_children = 0usize;

    let mut i = 0;
    while i < routes.len() {
        let (key, len, nh) = routes[i];
        let len = u32::from(len);
        if len <= off {
            // Covers the whole block: already folded into `default`.
            i += 1;
        } else if len <= deep {
            let first = key.slot(off);
            let span = 1usize << (deep - len);
            hop[first..first + span].fill(nh);
            i += 1;
        } else {
            // A route that paints this slot covers it whole, so it sorts before every deeper
            // route of the slot: from here on, all routes of this slot are deeper ones.
            let slot = key.slot(off);
            let start = i;
            while i < routes.len() && routes[i].0.slot(off) == slot {
                i += 1;
            }
            children[n_children] = (slot as u8, start as u32, i as u32);
            n_children += 1;
        }
    }

    // Slots whose deeper routes all agree with the slot's painted hop collapse into leaves.
    let mut vector = 0u64;
    let mut kept = 0usize;
    for c in 0..n_children {
        let (slot, s, e) = children[c];
        let sub = &routes[s as usize..e as usize];
        if !uniform(sub, deep, hop[slot as usize]) {
            vector |= 1u64 << slot;
            children[kept] = children[c];
            kept += 1;
        }
    }

    // Leaf runs: a new leaf starts at each leaf slot that follows a node slot or a different hop.
    let mut leafvec = 0u64;
    let mut leaves = [0u16; 64];
    let mut n_leaves = 0usize;
    let mut prev: Option<u32> = None;
    for (slot, &h) in hop.iter().enumerate() {
        if vector & (1u64 << slot) != 0 {
            prev = None;
            continue;
        }
        if prev != Some(h) {
            leafvec |= 1u64 << slot;
            // Next hops are checked to fit 16 bits (NONE is 0xffff) before they get here.
            leaves[n_leaves] = h as u16;
            n_leaves += 1;
            prev = Some(h);
        }
    }

    let at = mem.len();
    mem.push(vector);
    mem.push(leafvec);
    let pointers = mem.len();
    mem.resize(pointers + pointer_words(kept), 0);
    for quad in leaves[..n_leaves].chunks(4) {
        let mut w = 0u64;
        for (j, &l) in quad.iter().enumerate() {
            w |= u64::from(l) << (16 * j);
        }
        mem.push(w);
    }
    for (k, &(slot, s, e)) in children[..kept].iter().enumerate() {
        let sub = &routes[s as usize..e as usize];
        let child = emit(sub, deep, hop[slot as usize], mem);
        mem[pointers + k / 2] |= u64::from(child) << (32 * (k % 2));
    }
    at as u32
}

/// Words taken by `children` child pointers.
#[inline(always)]
fn pointer_words(children: usize) -> usize {
    children.div_ceil(2)
}

/// Words taken by a whole node.
#[inline]
fn words(vector: u64, leafvec: u64) -> usize {
    2 + pointer_words(vector.count_ones() as usize) + (leafvec.count_ones() as usize).div_ceil(4)
}

/// Child `k` (in slot order) of the node at `at`.
#[inline(always)]
fn child(mem: &[u64], at: usize, k: u32) -> u32 {
    let w = mem.get(at + 2 + (k as usize >> 1)).copied().unwrap_or(0);
    (w >> ((k & 1) * 32)) as u32
}

/// Leaf `j` (in slot order) of the node at `at` with `children` children.
#[inline(always)]
fn leaf(mem: &[u64], at: usize, children: u32, j: u32) -> u32 {
    let base = at + 2 + pointer_words(children as usize);
    let w = mem.get(base + (j as usize >> 2)).copied().unwrap_or(0);
    u32::from((w >> ((j & 3) * 16)) as u16)
}

/// Copies the region `src[start..start + len]` (whole nodes) to the end of `dst`, moving its
/// child pointers, which point inside the region; returns the new start.
fn append_region(dst: &mut Vec<u64>, src: &[u64], start: usize, len: usize) -> usize {
    let new = dst.len();
    let shift = (new as u32).wrapping_sub(start as u32);
    dst.extend_from_slice(&src[start..start + len]);
    let mut at = new;
    while at < new + len {
        let (vector, leafvec) = (dst[at], dst[at + 1]);
        let children = vector.count_ones() as usize;
        for k in 0..children {
            let w = &mut dst[at + 2 + k / 2];
            let sh = 32 * (k % 2);
            let moved = ((*w >> sh) as u32).wrapping_add(shift);
            *w = *w & !(u64::from(u32::MAX) << sh) | u64::from(moved) << sh;
        }
        at += words(vector, leafvec);
    }
    new
}
