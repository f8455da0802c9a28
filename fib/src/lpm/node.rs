//! The word layout of one trie node in the `u64` arena:
//!
//! ```text
//! word 0   vector   bit v set: slot v leads to a child node
//! word 1   leafvec  bit v set: a run of equal leaves starts at slot v
//! then     child pointers, u32 each, two per word, in slot order
//! then     leaves, u16 next hops, four per word, one per run, in slot order
//! ```
//!
//! Keeping a node's leaves right behind its bitmaps means that a lookup ending in this node
//! reads one or two adjacent cache lines, not a node line and then a leaf line elsewhere.
//!
//! Reads use `get(..).unwrap_or(0)`: the branch-free batch walk computes a child and a leaf
//! address for every lane, including lanes whose answer is the other one, and those addresses
//! may point past the node; they are never used, and must merely not panic.

/// Words taken by `children` child pointers.
#[inline(always)]
pub(crate) fn pointer_words(children: usize) -> usize {
    children.div_ceil(2)
}

/// Words taken by a whole node.
#[inline]
pub(crate) fn words(vector: u64, leafvec: u64) -> usize {
    2 + pointer_words(vector.count_ones() as usize) + (leafvec.count_ones() as usize).div_ceil(4)
}

/// Child `k` (in slot order) of the node at `at`.
#[inline(always)]
pub(crate) fn child(mem: &[u64], at: usize, k: u32) -> u32 {
    let w = mem.get(at + 2 + (k as usize >> 1)).copied().unwrap_or(0);
    (w >> ((k & 1) * 32)) as u32
}

/// Leaf `j` (in slot order) of the node at `at` with `children` children.
#[inline(always)]
pub(crate) fn leaf(mem: &[u64], at: usize, children: u32, j: u32) -> u32 {
    let base = at + 2 + pointer_words(children as usize);
    let w = mem.get(base + (j as usize >> 2)).copied().unwrap_or(0);
    u32::from((w >> ((j & 3) * 16)) as u16)
}

/// Copies the region `src[start..start + len]` (whole nodes) to the end of `dst`, moving its
/// child pointers, which point inside the region; returns the new start.
pub(crate) fn append_region(dst: &mut Vec<u64>, src: &[u64], start: usize, len: usize) -> usize {
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
