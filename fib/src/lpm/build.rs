//! Compiling one direct-pointing chunk (all routes longer than `DIR_BITS` under one entry of the
//! direct array) into poptrie nodes with their leaves inline.
//!
//! Invariant relied on throughout: routes are sorted by `(key, len)`. In that order a prefix that
//! contains another always comes first, and two prefixes either nest or are disjoint, so painting
//! routes in order onto slots leaves each slot with its longest match.

use super::key::{Key, STRIDE};
use super::node;

/// A route as the builder sees it: key (host bits clear), length, next hop.
pub type Entry<K> = (K, u8, u32);

/// True when every route longer than `off` bits in `routes` has next hop `nh`: then the whole
/// block resolves to `nh` and needs no node.
fn uniform<K: Key>(routes: &[Entry<K>], off: u32, nh: u32) -> bool {
    routes
        .iter()
        .all(|&(_, len, hop)| u32::from(len) <= off || hop == nh)
}

/// Compiles `routes` (all inside one block of `off` bits, sorted) under inherited next hop
/// `default`. Returns `Err(nh)` when the block is uniform and needs no node, or `Ok(root)` with
/// the word index of the root node appended to `mem` (its subtree follows it).
pub(crate) fn build_block<K: Key>(
    routes: &[Entry<K>],
    off: u32,
    default: u32,
    mem: &mut Vec<u64>,
) -> Result<u32, u32> {
    if uniform(routes, off, default) {
        return Err(default);
    }
    Ok(emit(routes, off, default, mem))
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
    mem.resize(pointers + node::pointer_words(kept), 0);
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
