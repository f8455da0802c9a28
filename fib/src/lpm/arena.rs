//! The compiled, lookup-side form of a table's chunks. Each address family picks the layout
//! that measured fastest for it (`Key::Arena`): IPv4 a multibit trie with 6- and 8-bit levels
//! ([`super::multibit`]), IPv6 search trees over address ranges ([`super::stree`]). A poptrie
//! ([`super::poptrie`], IPv6's layout before) works for both and is kept for side-by-side
//! measurement (`Lpm<K, Poptrie>`, `vrouter bench lpm`). The route store, chunking, updates and
//! left-right copying in [`super::Lpm`] are shared.

use std::fmt::Debug;

use super::key::Key;
use super::{NONE, NO_ROUTE};

/// The direct-entry flag of poptrie and range-tree leaves: set, the entry is the block's next
/// hop; clear, the arena index of a chunk's root.
pub(crate) const LEAF_FLAG: u32 = 0x8000_0000;

/// A route as the compilers see it: key (host bits clear), length, next hop.
pub type Entry<K> = (K, u8, u32);

/// An arena holding compiled chunks back to back.
pub trait Arena<K: Key>: Clone + Debug + Default + Send + Sync + 'static {
    /// Compiles one chunk: `routes` are the chunk's routes longer than `K::DIR_BITS`, sorted by
    /// (key, length); `default` is the next hop inherited from shorter routes. Returns
    /// `Err(next hop)` when the whole chunk resolves to one next hop (nothing is appended), or
    /// `Ok(root)`, the arena index of what was appended (the root comes first).
    fn build(&mut self, routes: &[Entry<K>], default: u32) -> Result<u32, u32>;

    /// The direct entry for a block that answers `nh` whatever the address (a `build` that
    /// returned `Err(nh)`, or a block without long routes).
    fn leaf(&mut self, nh: u32) -> u32;

    /// The next hop for `addr`, or [`NO_ROUTE`], as [`super::Lpm::lookup_batch`] writes it;
    /// `e` is the address's direct entry: a root returned by `build`, or an entry from `leaf`.
    /// (The IPv4 and IPv6 layouts store "none" so that their walks end on this form.)
    fn lookup(&self, e: u32, addr: K) -> u32;

    /// [`Arena::lookup`] of every address of `addrs`, whose direct entries are in `dir`. A
    /// layout may override it with a form compiled for the CPU it runs on.
    #[inline]
    fn lookup_batch(&self, dir: &[u32], addrs: &[K], out: &mut [u32]) {
        // At its constant length, the direct array needs no bounds check per lookup.
        let dir = &dir[..1 << K::DIR_BITS];
        for (o, &a) in out.iter_mut().zip(addrs) {
            *o = self.lookup(dir[a.dir_index()], a);
        }
    }

    /// The direct entry of a chunk whose direct entry was `root` once it is copied to `to` (by
    /// [`Arena::append`]). By default the entry is the chunk's first unit.
    fn rebase(&self, _root: u32, to: usize) -> u32 {
        to as u32
    }

    /// The units the arena's chunks are made of.
    type Unit: Copy + Debug + Send + Sync + 'static;

    /// The arena's storage, chunks back to back.
    fn mem(&self) -> &Vec<Self::Unit>;

    /// The same, to append to.
    fn mem_mut(&mut self) -> &mut Vec<Self::Unit>;

    /// Appends a copy of `src[start..start + len]` (a whole chunk) and returns its new start. By
    /// default a plain copy: the chunk's positions are relative to its start.
    fn append(&mut self, src: &Self, start: usize, len: usize) -> usize {
        let at = self.mem().len();
        self.mem_mut()
            .extend_from_slice(&src.mem()[start..start + len]);
        at
    }

    /// Length in units (what `build` and `append` positions count).
    fn units(&self) -> usize {
        self.mem().len()
    }

    /// Bytes per unit.
    fn unit_bytes() -> usize {
        std::mem::size_of::<Self::Unit>()
    }

    /// Bytes allocated.
    fn capacity_bytes(&self) -> usize {
        self.mem().capacity() * Self::unit_bytes()
    }
}

/// "No route" in the 16-bit next-hop slots of the IPv4 and IPv6 layouts. Read as an `i16` and
/// widened ([`widen`]), a slot is the answer a lookup returns: a next hop (below 0x8000) as it
/// is, and this one as [`NO_ROUTE`]; the layouts use every other negative value as a pointer.
/// So a walk ends without converting its answer: that conversion, a compare and a conditional
/// move, cost 6 to 8% of the IPv6 batch rate (docs/fib.md).
pub(crate) const NO_SLOT: u16 = 0xffff;

/// A next hop (at most [`crate::MAX_NEXT_HOP`], or the internal "none") as a 16-bit slot holds
/// it.
pub(crate) fn stored(nh: u32) -> u16 {
    if nh == NONE {
        NO_SLOT
    } else {
        nh as u16
    }
}

/// What a slot that is not a pointer answers: a next hop or [`NO_ROUTE`].
#[inline(always)]
pub(crate) fn widen(v: u16) -> u32 {
    i32::from(v as i16) as u32
}

/// True for a slot that the layout uses as a pointer (negative, but not [`NO_SLOT`]).
#[inline(always)]
pub(crate) fn is_pointer(v: u16) -> bool {
    (v as i16) < -1
}

/// A next hop as batch lookups write it: the internal "none" becomes [`NO_ROUTE`].
#[inline(always)]
pub(crate) fn found(nh: u32) -> u32 {
    if nh == NONE {
        NO_ROUTE
    } else {
        nh
    }
}

/// True when every route longer than `off` bits in `routes` has next hop `nh`: then the block
/// resolves to `nh` whatever the address, and needs no node.
pub(crate) fn uniform<K: Key>(routes: &[Entry<K>], off: u32, nh: u32) -> bool {
    routes
        .iter()
        .all(|&(_, len, hop)| u32::from(len) <= off || hop == nh)
}
