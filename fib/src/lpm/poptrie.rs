//! IPv6 chunks as a poptrie (Asai & Ohara, SIGCOMM 2015) with path compression: 6-bit stride
//! nodes whose children and leaves are found by population counts over two 64-bit bitmaps, runs
//! of equal leaves stored once, and chains of nodes that only pass through folded into one
//! node's skip. A node's words in the arena:
//!
//! ```text
//! word 0   vector   bit v set: slot v leads to a child node
//! word 1   leafvec  bit v set: a run of equal leaves starts at slot v
//! word 2   skip     bits 0..16: the miss next hop; 16..24: skip length s; 24..64: pattern
//! then     child pointers, u32 each, two per word, in slot order
//! then     leaves, u16 next hops, four per word, one per run, in slot order
//! ```
//!
//! A lookup reaching a node `off` bits deep first compares the next `s` address bits with the
//! pattern: on a mismatch the answer is the miss next hop; otherwise the node resolves the 6
//! bits after them. Slot `v` is child number `popcount(vector below v)`, or else leaf number
//! `popcount(leafvec up to v) - 1`. Keeping the leaves right behind the bitmaps means a lookup
//! ending in a node reads one or two adjacent cache lines. Deep and sparse IPv6 tables stay
//! small this way, where a direct-indexed layout would not.
//!
//! Skips are what keep IPv6 shallow: below a /32, a lone /48 would need a node for each 6 bits
//! of 24..48, one cache miss each; folded, it is one node. A node is folded into a skip when it
//! has a single child and every other slot answers the inherited next hop (which becomes the
//! miss hop), at least two strides and at most [`MAX_SKIP`] bits per node. On the synthetic 200k
//! IPv6 table this took the arena from 12.4 to 8.3 MiB and about doubled the lookup rate.
//!
//! Invariant the builder relies on: routes are sorted by `(key, len)`. In that order a prefix
//! that contains another comes first, and prefixes either nest or are disjoint, so painting
//! routes in order onto slots leaves each slot with its longest match.

use super::arena::{found, uniform, Arena, Entry, LEAF_FLAG};
use super::key::{Key, STRIDE};

/// Longest path folded into one node's skip, in bits (whole strides; the pattern has 40 bits).
pub const MAX_SKIP: u32 = 36;
/// Shortest skip worth a node: a one-stride skip saves one load but costs a branch that
/// mispredicts whenever skips and plain nodes mix, which measured slower on cache-resident
/// tables (RouteViews 2015 IPv6: -10%); two strides and more pay on every table.
const MIN_SKIP: u32 = 12;
/// Words before a node's child pointers.
const HEAD: usize = 3;

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
    type Unit = u64;

    fn mem(&self) -> &Vec<u64> {
        &self.mem
    }

    fn mem_mut(&mut self) -> &mut Vec<u64> {
        &mut self.mem
    }

    fn build(&mut self, routes: &[Entry<K>], default: u32) -> Result<u32, u32> {
        if uniform(routes, K::DIR_BITS, default) {
            return Err(default);
        }
        Ok(emit(routes, K::DIR_BITS, default, &mut self.mem))
    }

    fn leaf(&mut self, nh: u32) -> u32 {
        LEAF_FLAG | nh
    }

    #[inline(always)]
    fn lookup(&self, e: u32, addr: K) -> u32 {
        found(self.walk(e, addr))
    }

    fn append(&mut self, src: &Self, start: usize, len: usize) -> usize {
        append_region(&mut self.mem, &src.mem, start, len)
    }
}

impl Poptrie {
    /// One lookup from its direct entry `e`: the next hop or the internal "none".
    #[inline(always)]
    fn walk<K: Key>(&self, e: u32, addr: K) -> u32 {
        if e & LEAF_FLAG != 0 {
            return e & !LEAF_FLAG;
        }
        let mem = &self.mem[..];
        let mut at = e as usize;
        let mut off = K::DIR_BITS;
        loop {
            let Some(&[vector, leafvec, skip]) = mem.get(at..at + HEAD) else {
                return 0;
            };
            let s = ((skip >> 16) & 0x3f) as u32;
            if s != 0 {
                // `(x >> 1) >> (63 - s)`: the top `s` bits of the window.
                if (addr.window(off) >> 1) >> (63 - s) != skip >> 24 {
                    return u32::from(skip as u16);
                }
                off += s;
            }
            let v = addr.slot(off);
            if vector & (1u64 << v) != 0 {
                at = child(mem, at, popcnt_below(vector, v)) as usize;
                off += STRIDE;
            } else {
                let j = popcnt_upto(leafvec, v) - 1;
                return leaf(mem, at, vector.count_ones(), j);
            }
        }
    }
}

/// What one node holds, worked out from the routes below it.
struct Plan {
    /// Skip length in bits and pattern (right-aligned).
    skip: u32,
    pattern: u64,
    /// Offset of the node's own 6 bits (after the skip).
    off: u32,
    vector: u64,
    /// Kept children in slot order: (slot, first route, end route) within the node's routes.
    children: [(u8, u32, u32); 64],
    n_children: usize,
    /// The next hop painted on each slot (what a leaf answers, or a child inherits).
    hop: [u32; 64],
}

/// Plans the node for the block of `routes` starting `off` bits deep, folding pass-through
/// levels into its skip; returns the plan and the routes of the node's own level.
fn plan<K: Key>(
    mut routes: &[Entry<K>],
    mut off: u32,
    default: u32,
    max_skip: u32,
) -> (Plan, &[Entry<K>]) {
    let (routes0, off0) = (routes, off);
    let mut p = Plan {
        skip: 0,
        pattern: 0,
        off,
        vector: 0,
        children: [(0, 0, 0); 64],
        n_children: 0,
        hop: [default; 64],
    };
    loop {
        let deep = off + STRIDE;
        p.hop = [default; 64];
        let mut n = 0usize;
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
                p.hop[first..first + span].fill(nh);
                i += 1;
            } else {
                // A route that paints this slot covers it whole, so it sorts before every
                // deeper route of the slot: from here on, all routes of this slot are deeper.
                let slot = key.slot(off);
                let start = i;
                while i < routes.len() && routes[i].0.slot(off) == slot {
                    i += 1;
                }
                p.children[n] = (slot as u8, start as u32, i as u32);
                n += 1;
            }
        }
        // Slots whose deeper routes all agree with the slot's painted hop collapse into leaves.
        p.vector = 0;
        p.n_children = 0;
        for c in 0..n {
            let (slot, s, e) = p.children[c];
            if !uniform(&routes[s as usize..e as usize], deep, p.hop[slot as usize]) {
                p.vector |= 1u64 << slot;
                p.children[p.n_children] = p.children[c];
                p.n_children += 1;
            }
        }
        let pass_through = p.n_children == 1 && p.hop.iter().all(|&h| h == default);
        if pass_through && p.skip + STRIDE <= max_skip {
            let (slot, s, e) = p.children[0];
            p.pattern = p.pattern << STRIDE | u64::from(slot);
            p.skip += STRIDE;
            routes = &routes[s as usize..e as usize];
            off = deep;
            continue;
        }
        if p.skip > 0 && p.skip < MIN_SKIP {
            return plan(routes0, off0, default, 0);
        }
        p.off = off;
        return (p, routes);
    }
}

/// Appends the node covering the block of `routes` starting `off` bits deep, then its
/// children; returns the node's word index.
fn emit<K: Key>(routes: &[Entry<K>], off: u32, default: u32, mem: &mut Vec<u64>) -> u32 {
    let (p, routes) = plan(routes, off, default, MAX_SKIP);

    // Leaf runs: a new leaf starts at each leaf slot that follows a node slot or a different hop.
    let mut leafvec = 0u64;
    let mut leaves = [0u16; 64];
    let mut n_leaves = 0usize;
    let mut prev: Option<u32> = None;
    for (slot, &h) in p.hop.iter().enumerate() {
        if p.vector & (1u64 << slot) != 0 {
            prev = None;
            continue;
        }
        if prev != Some(h) {
            leafvec |= 1u64 << slot;
            // Next hops are checked to fit 16 bits (NONE is 0x7fff) before they get here.
            leaves[n_leaves] = h as u16;
            n_leaves += 1;
            prev = Some(h);
        }
    }

    let at = mem.len();
    mem.push(p.vector);
    mem.push(leafvec);
    mem.push(u64::from(default as u16) | u64::from(p.skip) << 16 | p.pattern << 24);
    let pointers = mem.len();
    mem.resize(pointers + pointer_words(p.n_children), 0);
    for quad in leaves[..n_leaves].chunks(4) {
        let mut w = 0u64;
        for (j, &l) in quad.iter().enumerate() {
            w |= u64::from(l) << (16 * j);
        }
        mem.push(w);
    }
    for (k, &(slot, s, e)) in p.children[..p.n_children].iter().enumerate() {
        let sub = &routes[s as usize..e as usize];
        let child = emit(sub, p.off + STRIDE, p.hop[slot as usize], mem);
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
    HEAD + pointer_words(vector.count_ones() as usize) + (leafvec.count_ones() as usize).div_ceil(4)
}

/// Child `k` (in slot order) of the node at `at`.
#[inline(always)]
fn child(mem: &[u64], at: usize, k: u32) -> u32 {
    let w = mem.get(at + HEAD + (k as usize >> 1)).copied().unwrap_or(0);
    (w >> ((k & 1) * 32)) as u32
}

/// Leaf `j` (in slot order) of the node at `at` with `children` children.
#[inline(always)]
fn leaf(mem: &[u64], at: usize, children: u32, j: u32) -> u32 {
    let base = at + HEAD + pointer_words(children as usize);
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
            let w = &mut dst[at + HEAD + k / 2];
            let sh = 32 * (k % 2);
            let moved = ((*w >> sh) as u32).wrapping_add(shift);
            *w = *w & !(u64::from(u32::MAX) << sh) | u64::from(moved) << sh;
        }
        at += words(vector, leafvec);
    }
    new
}

#[cfg(test)]
mod tests {
    use super::Poptrie;
    use crate::Lpm;

    fn v6(s: &str) -> u128 {
        u128::from(s.parse::<std::net::Ipv6Addr>().unwrap())
    }

    #[test]
    fn lone_deep_route_is_one_node_with_a_skip() {
        // 2001:db8:1234::/48 alone under its /18: nodes at bits 18, 24, 30 and 36 would only
        // pass through; folded, the chunk is one node (3 header words, one leaf word).
        let t = Lpm::<u128, Poptrie>::from_routes(vec![(v6("2001:db8:1234::"), 48, 5), (0, 0, 1)])
            .unwrap();
        assert_eq!(t.memory().arena_bytes, 4 * 8);
        assert_eq!(t.lookup(v6("2001:db8:1234:ffff::1")), Some(5));
        // Leaving the folded path at each of its strides, and right after it.
        for a in [
            "2001:db8:1235::",
            "2001:db8:2234::",
            "2001:db8:1034::",
            "2001:d00::",
            "2001:db8:1230::",
        ] {
            assert_eq!(t.lookup(v6(a)), Some(1), "{a}");
        }
        let none = Lpm::<u128, Poptrie>::from_routes(vec![(v6("2001:db8:1234::"), 48, 5)]).unwrap();
        assert_eq!(none.lookup(v6("2001:db8:1235::")), None);
    }

    #[test]
    fn one_stride_chains_stay_plain_nodes() {
        // 2001:db8::/32 with one /48 below it. The root (bits 18..) passes through two strides
        // before the /32 paints bits 30..36: a 12-bit skip. Below the /32, the /48 passes
        // through one stride only (36..42): not worth a skip, so nodes at 36 and 42 stay.
        // Words: root-with-skip 3 + 1 pointer + 1 leaf word, node 36 the same, node 42 3 + 1.
        let routes = vec![(v6("2001:db8::"), 32, 2), (v6("2001:db8:1234::"), 48, 3)];
        let t = Lpm::<u128, Poptrie>::from_routes(routes).unwrap();
        assert_eq!(t.memory().arena_bytes, 14 * 8);
        assert_eq!(t.lookup(v6("2001:db8:1234::9")), Some(3));
        assert_eq!(t.lookup(v6("2001:db8:1235::")), Some(2));
        assert_eq!(t.lookup(v6("2001:db8:ff00::")), Some(2));
        assert_eq!(t.lookup(v6("2001:db9::")), None);
        assert_eq!(t.lookup(v6("2001:d00::")), None);
    }
}
