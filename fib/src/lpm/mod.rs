//! The longest-prefix-match table: an 18-bit direct-pointing array whose entries lead to a
//! compiled chunk or answer a next hop for their whole /18, plus the route store that chunks are
//! compiled from, so that route updates recompile only the chunks they touch.
//!
//! # Layout
//! - `dir`: `2^18` entries indexed by the top 18 address bits: the arena index of a chunk's root,
//!   or a leaf (one next hop for the whole /18) encoded as the arena chooses
//!   ([`Arena::leaf`]): IPv6 flags the next hop with the top bit; IPv4 points to a shared block
//!   that answers that next hop, so that its lookups never ask which kind an entry is.
//! - `mem`: the family's arena ([`arena`]): a 6-then-8-bit multibit trie for IPv4
//!   ([`multibit`]), search trees over address ranges for IPv6 ([`stree`]). The arena is a type
//!   parameter, so the same table can be built as a poptrie ([`poptrie`]) for comparison.
//!
//! # Control plane
//! The table also keeps its routes: routes up to /18 (`short`, per length) give each direct entry
//! its default next hop (`dir_default`); longer routes live sorted per chunk (`long`). An update
//! edits those, marks chunks dirty, and recompiles each dirty chunk once per batch, appending it
//! to the arena; the space of replaced chunks is garbage, compacted when it outgrows live data.

pub mod arena;
pub mod key;
pub mod multibit;
pub mod poptrie;
pub mod stree;

use std::collections::HashMap;

use rustc_hash::{FxBuildHasher, FxHashMap};

pub use arena::{Arena, Entry};
pub use key::Key;

/// A next-hop id: an index into the router's neighbour table.
pub type NextHop = u32;

/// Written by batch lookups for an address with no route.
pub const NO_ROUTE: NextHop = u32::MAX;

/// The largest next-hop id a table can store: entries are 16 bits wide with one flag bit, which
/// keeps a full table small enough to stay in cache (a router has far fewer neighbours).
pub const MAX_NEXT_HOP: NextHop = 0x7ffe;

/// The burst size the data plane looks up at a time.
pub const BATCH: usize = 32;

/// Internal encoding of "no route" in leaves and direct entries.
const NONE: u32 = 0x7fff;

/// Where one chunk's nodes sit in the arena (its root first).
#[derive(Clone, Copy, Debug)]
struct Region {
    start: u32,
    len: u32,
}

/// A route change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update<K> {
    /// Add a route, or replace the next hop of an existing one.
    Insert { key: K, len: u8, nh: NextHop },
    /// Remove a route (no-op if absent).
    Remove { key: K, len: u8 },
}

/// Errors from table edits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LpmError {
    #[error("prefix length {len} is longer than the address ({bits} bits)")]
    BadLength { len: u8, bits: u32 },
    #[error("next hop {0} is out of range (max {MAX_NEXT_HOP})")]
    BadNextHop(NextHop),
}

/// Memory used by a table, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// The lookup structure (direct array, live nodes and leaves): what forwarding touches.
    pub lookup: usize,
    /// Including garbage from replaced chunks not yet compacted.
    pub lookup_allocated: usize,
    /// The route store kept for incremental updates (not touched by lookups).
    pub control: usize,
    /// Live bytes of the chunk arena (without the direct array).
    pub arena_bytes: usize,
}

/// A longest-prefix-match table for one address family; see the module docs.
#[derive(Clone, Debug)]
pub struct Lpm<K: Key, A: Arena<K> = <K as Key>::Arena> {
    dir: Vec<u32>,
    mem: A,
    /// Arena units of replaced chunks, reclaimed by compaction.
    garbage: usize,
    regions: FxHashMap<u32, Region>,
    /// Routes of length `0..=DIR_BITS`, per length.
    short: Vec<FxHashMap<K, NextHop>>,
    /// Longest short route covering each direct entry: (next hop, length), length 255 if none.
    dir_default: Vec<(u32, u8)>,
    /// Routes longer than `DIR_BITS`, per chunk, sorted by (key, len).
    long: FxHashMap<u32, Vec<Entry<K>>>,
    routes: usize,
    version: u64,
}

impl<K: Key, A: Arena<K>> Default for Lpm<K, A> {
    fn default() -> Self {
        Self::new()
    }
}

fn check<K: Key>(len: u8, nh: Option<NextHop>) -> Result<(), LpmError> {
    if u32::from(len) > K::BITS {
        return Err(LpmError::BadLength { len, bits: K::BITS });
    }
    match nh {
        Some(nh) if nh > MAX_NEXT_HOP => Err(LpmError::BadNextHop(nh)),
        _ => Ok(()),
    }
}

impl<K: Key> Update<K> {
    /// Key (host bits cleared), length, and the next hop (`None`: remove).
    pub(crate) fn parts(&self) -> (K, u8, Option<NextHop>) {
        match *self {
            Update::Insert { key, len, nh } => (key.mask(len), len, Some(nh)),
            Update::Remove { key, len } => (key.mask(len), len, None),
        }
    }
}

/// Checks every update of a batch before any is applied.
fn validate<K: Key>(batch: &[Update<K>]) -> Result<(), LpmError> {
    batch.iter().try_for_each(|u| {
        let (_, len, nh) = u.parts();
        check::<K>(len, nh)
    })
}

impl<K: Key, A: Arena<K>> Lpm<K, A> {
    /// An empty table.
    pub fn new() -> Self {
        let dir_len = 1usize << K::DIR_BITS;
        let mut mem = A::default();
        let none = mem.leaf(NONE);
        Lpm {
            dir: vec![none; dir_len],
            mem,
            garbage: 0,
            regions: HashMap::with_hasher(FxBuildHasher),
            short: (0..=K::DIR_BITS)
                .map(|_| HashMap::with_hasher(FxBuildHasher))
                .collect(),
            dir_default: vec![(NONE, u8::MAX); dir_len],
            long: HashMap::with_hasher(FxBuildHasher),
            routes: 0,
            version: 0,
        }
    }

    /// Builds a table from routes given as (key, length, next hop). Host bits are cleared; when
    /// a prefix repeats, the last one wins.
    pub fn from_routes(mut routes: Vec<Entry<K>>) -> Result<Self, LpmError> {
        for r in routes.iter_mut() {
            check::<K>(r.1, Some(r.2))?;
            r.0 = r.0.mask(r.1);
        }
        // Stable sort keeps input order among duplicates, so the last of a run wins.
        routes.sort_by_key(|&(k, l, _)| (k, l));
        let mut unique: Vec<Entry<K>> = Vec::with_capacity(routes.len());
        for r in routes {
            match unique.last_mut() {
                Some(last) if (last.0, last.1) == (r.0, r.1) => *last = r,
                _ => unique.push(r),
            }
        }

        let mut t = Self::new();
        t.routes = unique.len();
        let dir_bits = K::DIR_BITS as u8;
        for &(key, len, nh) in unique.iter().filter(|r| r.1 <= dir_bits) {
            t.short[len as usize].insert(key, nh);
            // Sorted order paints containing prefixes first, so the longest match wins.
            let first = key.dir_index();
            let span = 1usize << (dir_bits - len);
            for d in &mut t.dir_default[first..first + span] {
                *d = (nh, len);
            }
        }
        let mut start = 0;
        let long: Vec<Entry<K>> = unique.into_iter().filter(|r| r.1 > dir_bits).collect();
        while start < long.len() {
            let chunk = long[start].0.dir_index();
            let mut end = start + 1;
            while end < long.len() && long[end].0.dir_index() == chunk {
                end += 1;
            }
            t.long.insert(chunk as u32, long[start..end].to_vec());
            start = end;
        }
        for (i, &(nh, _)) in t.dir_default.iter().enumerate() {
            t.dir[i] = t.mem.leaf(nh);
        }
        let mut chunks: Vec<u32> = t.long.keys().copied().collect();
        chunks.sort_unstable();
        for c in chunks {
            t.rebuild_chunk(c);
        }
        Ok(t)
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes
    }

    /// True if the table holds no route.
    pub fn is_empty(&self) -> bool {
        self.routes == 0
    }

    /// Incremented by every applied batch; lets readers tell table states apart.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Memory used, in bytes.
    pub fn memory(&self) -> MemoryUsage {
        let live = (self.mem.units() - self.garbage) * A::unit_bytes();
        let entry = std::mem::size_of::<Entry<K>>();
        let short: usize = self
            .short
            .iter()
            .map(|m| m.capacity() * (std::mem::size_of::<(K, NextHop)>() + 1))
            .sum();
        let long: usize = self
            .long
            .values()
            .map(|v| v.capacity() * entry + std::mem::size_of::<Vec<Entry<K>>>() + 8)
            .sum();
        MemoryUsage {
            lookup: self.dir.len() * 4 + live,
            lookup_allocated: self.dir.len() * 4 + self.mem.capacity_bytes(),
            arena_bytes: live,
            control: short
                + long
                + self.dir_default.len() * 8
                + self.regions.capacity() * (std::mem::size_of::<Region>() + 5),
        }
    }

    /// Longest-prefix match for one address.
    #[inline]
    pub fn lookup(&self, addr: K) -> Option<NextHop> {
        let nh = self.lookup_raw(addr);
        (nh != NO_ROUTE).then_some(nh)
    }

    #[inline(always)]
    fn lookup_raw(&self, addr: K) -> u32 {
        self.mem.lookup(self.dir[addr.dir_index()], addr)
    }

    /// Looks up every address of `addrs`, writing next hops (or [`NO_ROUTE`]) to `out`, which
    /// must be at least as long.
    ///
    /// Each lookup is independent of the others, so the out-of-order core overlaps the memory
    /// accesses of many consecutive lookups by itself; on this project's machines that measured
    /// faster than lock-step rounds over a burst with explicit staging or prefetching (see
    /// docs/fib.md). Callers should still hand over whole bursts.
    #[inline]
    pub fn lookup_batch(&self, addrs: &[K], out: &mut [NextHop]) {
        self.mem
            .lookup_batch(&self.dir[..1 << K::DIR_BITS], addrs, out);
    }

    /// The longest matching route itself (prefix and next hop), from the route store: slower
    /// than [`Lpm::lookup`], for tools that print which prefix matched.
    pub fn longest_match(&self, addr: K) -> Option<(K, u8, NextHop)> {
        if self.lookup_raw(addr) == NO_ROUTE {
            return None;
        }
        (0..=K::BITS as u8).rev().find_map(|len| {
            let key = addr.mask(len);
            self.get(key, len).map(|nh| (key, len, nh))
        })
    }

    /// The next hop stored for exactly this prefix.
    pub fn get(&self, key: K, len: u8) -> Option<NextHop> {
        let key = key.mask(len);
        if u32::from(len) <= K::DIR_BITS {
            self.short.get(len as usize)?.get(&key).copied()
        } else {
            let v = self.long.get(&(key.dir_index() as u32))?;
            v.binary_search_by_key(&(key, len), |&(k, l, _)| (k, l))
                .ok()
                .map(|i| v[i].2)
        }
    }

    /// Adds or replaces a route; returns the previous next hop of that exact prefix.
    pub fn insert(&mut self, key: K, len: u8, nh: NextHop) -> Result<Option<NextHop>, LpmError> {
        check::<K>(len, Some(nh))?;
        let mut dirty = Vec::new();
        let old = self.edit(key.mask(len), len, Some(nh), &mut dirty);
        self.flush(dirty);
        Ok(old)
    }

    /// Removes a route; returns its next hop if it was present.
    pub fn remove(&mut self, key: K, len: u8) -> Result<Option<NextHop>, LpmError> {
        check::<K>(len, None)?;
        let mut dirty = Vec::new();
        let old = self.edit(key.mask(len), len, None, &mut dirty);
        self.flush(dirty);
        Ok(old)
    }

    /// Applies a batch of updates in order, recompiling each touched chunk once. Validates the
    /// whole batch first: on error nothing is applied.
    pub fn apply(&mut self, batch: &[Update<K>]) -> Result<(), LpmError> {
        self.apply_dirty(batch).map(drop)
    }

    /// [`Lpm::apply`], returning the chunks it recompiled.
    pub(crate) fn apply_dirty(&mut self, batch: &[Update<K>]) -> Result<Vec<u32>, LpmError> {
        let dirty = self.edit_batch(batch)?;
        self.compile(&dirty);
        Ok(dirty)
    }

    /// Applies `batch`, which `source` (a table that was identical to this one) has already
    /// applied, recompiling `dirty`: the touched chunks are copied from `source` instead of
    /// recompiled (the second half of a left-right update); chunks that compiled to one next
    /// hop have nothing to copy and are rebuilt. Their long routes are copied too: only short
    /// routes (which repaint direct entries) are edited again.
    pub(crate) fn apply_from(
        &mut self,
        batch: &[Update<K>],
        source: &Lpm<K, A>,
        dirty: &[u32],
    ) -> Result<(), LpmError> {
        validate(batch)?;
        let mut unused = Vec::new();
        for (key, len, nh) in batch.iter().map(Update::parts) {
            if u32::from(len) <= K::DIR_BITS {
                self.edit_short(key, len, nh, &mut unused);
            }
        }
        // Every chunk whose long routes changed is in `dirty`.
        for &c in dirty {
            match source.long.get(&c) {
                Some(v) => self.long.entry(c).or_default().clone_from(v),
                None => {
                    self.long.remove(&c);
                }
            }
        }
        self.routes = source.routes;
        for &c in dirty {
            match source.regions.get(&c) {
                Some(&r) => {
                    self.drop_region(c);
                    let start = self
                        .mem
                        .append(&source.mem, r.start as usize, r.len as usize)
                        as u32;
                    self.dir[c as usize] = self.mem.rebase(source.dir[c as usize], start as usize);
                    self.regions.insert(c, Region { start, len: r.len });
                }
                // No nodes to copy: the chunk answers one next hop, and its direct entry (which
                // the arena encodes, maybe pointing into itself) is made as any rebuild makes it.
                None => self.rebuild_chunk(c),
            }
        }
        self.finish_batch();
        self.version = source.version;
        Ok(())
    }

    /// Validates and applies `batch` to the route store; returns the stale chunks, sorted.
    fn edit_batch(&mut self, batch: &[Update<K>]) -> Result<Vec<u32>, LpmError> {
        validate(batch)?;
        let mut dirty = Vec::new();
        for (key, len, nh) in batch.iter().map(Update::parts) {
            self.edit(key, len, nh, &mut dirty);
        }
        dirty.sort_unstable();
        dirty.dedup();
        Ok(dirty)
    }

    /// All routes, in (key, length) order.
    pub fn routes(&self) -> Vec<Entry<K>> {
        let mut all: Vec<Entry<K>> = Vec::with_capacity(self.routes);
        for (len, m) in self.short.iter().enumerate() {
            all.extend(m.iter().map(|(&k, &nh)| (k, len as u8, nh)));
        }
        for v in self.long.values() {
            all.extend_from_slice(v);
        }
        all.sort_unstable_by_key(|&(k, l, _)| (k, l));
        all
    }

    /// Edits the route store; records chunks whose compiled form is now stale.
    fn edit(&mut self, key: K, len: u8, nh: Option<NextHop>, dirty: &mut Vec<u32>) -> Option<u32> {
        if u32::from(len) <= K::DIR_BITS {
            self.edit_short(key, len, nh, dirty)
        } else {
            let chunk = key.dir_index() as u32;
            let v = self.long.entry(chunk).or_default();
            let pos = v.binary_search_by_key(&(key, len), |&(k, l, _)| (k, l));
            let old = match (pos, nh) {
                (Ok(i), Some(nh)) => Some(std::mem::replace(&mut v[i].2, nh)),
                (Ok(i), None) => Some(v.remove(i).2),
                (Err(i), Some(nh)) => {
                    v.insert(i, (key, len, nh));
                    None
                }
                (Err(_), None) => None,
            };
            if v.is_empty() {
                self.long.remove(&chunk);
            }
            match (old, nh) {
                (None, Some(_)) => self.routes += 1,
                (Some(_), None) => self.routes -= 1,
                _ => {}
            }
            if old != nh {
                dirty.push(chunk);
            }
            old
        }
    }

    fn edit_short(
        &mut self,
        key: K,
        len: u8,
        nh: Option<NextHop>,
        dirty: &mut Vec<u32>,
    ) -> Option<u32> {
        let map = &mut self.short[len as usize];
        let old = match nh {
            Some(nh) => map.insert(key, nh),
            None => map.remove(&key),
        };
        match (old, nh) {
            (None, Some(_)) => self.routes += 1,
            (Some(_), None) => self.routes -= 1,
            _ => {}
        }
        if old == nh {
            return old;
        }
        let first = key.dir_index();
        let span = 1usize << (K::DIR_BITS - u32::from(len));
        for d in first..first + span {
            let (_, cur_len) = self.dir_default[d];
            let covered = cur_len == u8::MAX || cur_len <= len;
            if !covered {
                continue; // a longer short route decides this entry
            }
            let new = match nh {
                Some(nh) => (nh, len),
                None => self.short_match(K::from_dir_index(d), len),
            };
            if new != self.dir_default[d] {
                self.dir_default[d] = new;
                dirty.push(d as u32);
            }
        }
        old
    }

    /// Longest short route strictly shorter than `below` covering `key`.
    fn short_match(&self, key: K, below: u8) -> (u32, u8) {
        for len in (0..below).rev() {
            if let Some(&nh) = self.short[len as usize].get(&key.mask(len)) {
                return (nh, len);
            }
        }
        (NONE, u8::MAX)
    }

    fn flush(&mut self, mut dirty: Vec<u32>) {
        dirty.sort_unstable();
        dirty.dedup();
        self.compile(&dirty);
    }

    /// Recompiles the given chunks (sorted, distinct) and closes the batch.
    fn compile(&mut self, dirty: &[u32]) {
        for &c in dirty {
            self.rebuild_chunk(c);
        }
        self.finish_batch();
    }

    /// Compacts if garbage outgrew live data, and counts the batch.
    fn finish_batch(&mut self) {
        if self.garbage > 16384 && self.garbage * 2 > self.mem.units() {
            self.compact();
        }
        self.version += 1;
    }

    /// Forgets a chunk's compiled region (its space becomes garbage).
    fn drop_region(&mut self, chunk: u32) {
        if let Some(old) = self.regions.remove(&chunk) {
            self.garbage += old.len as usize;
        }
    }

    /// Recompiles one chunk from the route store.
    fn rebuild_chunk(&mut self, chunk: u32) {
        self.drop_region(chunk);
        let default = self.dir_default[chunk as usize].0;
        let routes = match self.long.get(&chunk) {
            Some(r) => r.as_slice(),
            None => &[],
        };
        let start = self.mem.units();
        match self.mem.build(routes, default) {
            Err(nh) => self.dir[chunk as usize] = self.mem.leaf(nh),
            Ok(root) => {
                self.dir[chunk as usize] = root;
                let len = (self.mem.units() - start) as u32;
                self.regions.insert(
                    chunk,
                    Region {
                        start: start as u32,
                        len,
                    },
                );
            }
        }
    }

    /// Moves live chunks into a fresh arena, dropping the garbage of replaced ones. Leaf
    /// entries are made again too, each answering what it answered (its chunk's default, or the
    /// one next hop its routes compiled to): an arena may keep what they point to (IPv4's hop
    /// blocks).
    fn compact(&mut self) {
        let mut mem = A::default();
        let mut chunks: Vec<u32> = self.regions.keys().copied().collect();
        chunks.sort_unstable();
        let mut compiled = vec![false; self.dir.len()];
        for c in chunks {
            let r = self.regions[&c];
            let start = mem.append(&self.mem, r.start as usize, r.len as usize) as u32;
            self.dir[c as usize] = mem.rebase(self.dir[c as usize], start as usize);
            self.regions.insert(c, Region { start, len: r.len });
            compiled[c as usize] = true;
        }
        for (i, e) in self.dir.iter_mut().enumerate() {
            if !compiled[i] {
                let nh = match self.mem.lookup(*e, K::ZERO) {
                    NO_ROUTE => NONE,
                    nh => nh,
                };
                *e = mem.leaf(nh);
            }
        }
        self.mem = mem;
        self.garbage = 0;
    }
}
