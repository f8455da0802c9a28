//! IPv6 chunks as search trees over address ranges. Below the direct array, a chunk's routes
//! cut its 110 remaining bits into ranges that each answer one next hop; a lookup finds the
//! range that holds its address by comparing the address with the ranges' first addresses,
//! many at a time.
//!
//! Every lookup into a chunk takes the same three steps, whatever the address: its block's
//! *index node*, a second-level index node, and a *range node*. Nothing in that walk branches on
//! the data (the lesson of the IPv4 table: a branch that follows the destination mispredicts,
//! and each misprediction throws away the loads already started for the lookups after it). A
//! poptrie walk ends at a depth that follows the destination; on the same tables this layout
//! measured 2.5 to 3.5 times its rate (docs/fib.md). Everything is in 64-byte lines
//! of sixteen 32-bit lanes:
//!
//! ```text
//! index node   1 line    lanes 0..15: unit (bits 18..49) of the first address of children
//!                        1..15, padded; lane 15: where the children end (they are consecutive)
//! range node   2 lines   12 keys of 64 bits: bits 18..80 of the first address of ranges
//!                        1..12, padded; then 13 values, last range first; last lane: where
//!                        sub-nodes are
//! sub-node     2 lines   16 keys (first address - P) >> s; 17 values; P, s, where sub-nodes are
//! ```
//!
//! A node is searched by comparing all its keys with the address and counting those above it:
//! a handful of vector instructions, and the count, taken from the end, is the child (or range)
//! to take. A chunk starts with one index node per *block*: the next `bits` address bits (0 to
//! 6, per chunk, kept in the direct entry beside the chunk's position) pick the line, so finding
//! the first node costs no load. A chunk takes the fewest bits with which no block reaches more
//! than 16 second-level nodes; a block with one range gets a trivial path of empty nodes. Each
//! second-level node tells apart 16 range nodes. Index nodes compare /49 *units*, so a range
//! node holds whole units. A range node value is a next hop, "no route" (0xffff) or, flagged,
//! a sub-node. Range starts finer than /80 (a /126 link, say) go to a sub-node for their /80
//! block only, and a unit with more starts than a range node holds keeps its first 11 ranges in
//! its node and sends the rest to a sub-node; sub-nodes read their keys relative to their first
//! start `P` in steps of `2^s`, in 128-bit arithmetic, and can split further. Only lookups into
//! such places take that extra, data-dependent step.
//!
//! All positions in a chunk are relative to its first line, so chunks move by plain copy. A chunk
//! is a whole number of line pairs and starts at an even line, and so do its range nodes and
//! sub-nodes: a lookup reads a node as one pair, with one bounds check instead of two.
//!
//! Longer than 700 lines: the builder and the lookup of one layout must agree bit for bit,
//! so they are kept in one file.

use super::arena::{found, is_pointer, stored, widen, Arena, Entry, LEAF_FLAG};
use super::key::Key;

/// One 64-byte line of sixteen lanes.
#[repr(C, align(64))]
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    zerocopy::FromBytes,
    zerocopy::IntoBytes,
    zerocopy::Immutable,
    zerocopy::KnownLayout,
)]
pub struct Line([i32; 16]);

/// A line's 32 next-hop slots: lane `i` holds slots `2i` (low half) and `2i + 1`, so a lookup
/// reads a next hop with one 16-bit load.
#[inline(always)]
fn slots(line: &Line) -> &[u16; 32] {
    zerocopy::transmute_ref!(line)
}

/// Bits below the direct array: a chunk covers `2^CHUNK_BITS` addresses.
const CHUNK_BITS: u32 = 128 - <u128 as Key>::DIR_BITS;
const CHUNK_MASK: u128 = u128::MAX >> <u128 as Key>::DIR_BITS;
/// Index nodes compare the 31 bits after the direct array: a unit is `2^UNIT_SHIFT` addresses.
const UNIT_SHIFT: u32 = CHUNK_BITS - 31;
/// Each chunk starts with the index nodes of its 2^bits blocks, one line each: the next `bits`
/// address bits (0 to `MAX_BLOCK_BITS`, the fewest that leave no block crowded, per chunk)
/// pick the line. A direct entry holds the chunk's first line in its low bits and `bits` above.
const MAX_BLOCK_BITS: u32 = 6;
const BITS_SHIFT: u32 = 27;
const POSITION: u32 = (1 << BITS_SHIFT) - 1;
/// Children of an index node (15 keys, and where its children end).
const FANOUT: usize = 16;
/// Keys of a sub-node (17 ranges).
const KEYS: usize = 16;
/// A key that no value reaches (index keys are negative, sub-node keys at most `XMAX`).
const PAD: i32 = i32::MAX;
/// Largest sub-node key: the compared value is clamped to `-1..=XMAX`.
const XMAX: i128 = (1 << 31) - 2;
/// Range nodes below the index nodes compare the 62 address bits after the direct array's
/// (`y >> COARSE`) with 64-bit keys: they hold range starts down to /80. Finer starts (rare:
/// /126 links and the like) are left to sub-nodes, which compute in 128 bits.
const COARSE: u32 = CHUNK_BITS - 62;
/// Keys of a range node: 8 in its first line, 4 in its second, beside 13 next hops.
const COARSE_KEYS: usize = 12;
/// Flags a range-node or sub-node value that is the number of a sub-node, not a next hop.
const SUB: u16 = 0x8000;

/// What a value slot answers: `Ok(next hop or NO_ROUTE)`, or `Err(sub-node number)`. Slots
/// store "none" as [`super::arena::NO_SLOT`], so the common walk ends on the slot itself.
#[inline(always)]
fn answer(v: u16) -> Result<u32, usize> {
    if is_pointer(v) {
        Err(usize::from(v & !SUB))
    } else {
        Ok(widen(v))
    }
}

/// The IPv6 arena.
#[derive(Clone, Debug, Default)]
pub struct Stree {
    mem: Vec<Line>,
}

/// Lanes at or below `x` (sub-nodes): the compiler turns this into four vector compares and a
/// count.
#[inline(always)]
fn count(line: &Line, x: i32) -> usize {
    line.0.iter().map(|&k| u32::from(k <= x)).sum::<u32>() as usize
}

/// Lanes above `x`. In an index node that is the keys above it plus the last lane (a position,
/// never negative): child `c` of 16 is `16 - above`, so the last lane holds the position of child
/// 0 plus 16 children's lines and the child is found by one subtraction.
#[inline(always)]
fn above(line: &Line, x: i32) -> usize {
    line.0.iter().map(|&k| u32::from(k > x)).sum::<u32>() as usize
}

/// Index-node form of a chunk-relative address: its unit, biased so that a signed compare
/// orders units as unsigned ones and every unit is negative (so an index node's last lane, a
/// position, is always above it).
#[inline(always)]
fn unit_key(y: u128) -> i32 {
    ((y >> UNIT_SHIFT) as u32 ^ 0x8000_0000) as i32
}

impl Arena<u128> for Stree {
    type Unit = Line;

    fn mem(&self) -> &Vec<Line> {
        &self.mem
    }

    fn mem_mut(&mut self) -> &mut Vec<Line> {
        &mut self.mem
    }

    fn build(&mut self, routes: &[Entry<u128>], default: u32) -> Result<u32, u32> {
        let iv = ranges(routes, default);
        if iv.len() == 1 {
            return Err(u32::from(iv[0].1));
        }
        // Range nodes are read as pairs of lines from even positions: every chunk is a whole
        // number of pairs, so chunks start at even lines here and wherever plain copies put
        // them (arenas start empty).
        let root = self.mem.len();
        assert!(root.is_multiple_of(2), "chunks are whole pairs of lines");
        let (coarse, clusters) = coarsen(&iv);
        let bits = Chunk {
            mem: &mut self.mem,
            root,
            iv: &iv,
            coarse: &coarse,
            clusters: &clusters,
        }
        .emit();
        assert!(
            self.mem.len().is_multiple_of(2),
            "chunks are whole pairs of lines"
        );
        Ok(root as u32 | bits << BITS_SHIFT)
    }

    fn leaf(&mut self, nh: u32) -> u32 {
        LEAF_FLAG | nh
    }

    #[inline(always)]
    fn lookup(&self, root: u32, addr: u128) -> u32 {
        walk(&self.mem, root, addr, above, keys_above)
    }

    fn lookup_batch(&self, dir: &[u32], addrs: &[u128], out: &mut [u32]) {
        batch(&self.mem, dir, addrs, out);
    }

    fn rebase(&self, root: u32, to: usize) -> u32 {
        root & !POSITION | to as u32
    }
}

/// The range node's 12 keys (8 in `first`, 4 in `second`) above `x`.
#[inline(always)]
fn keys_above(first: &Line, second: &Line, x: i64) -> usize {
    let wide = |l: &Line, i: usize| i64::from(l.0[2 * i] as u32) | i64::from(l.0[2 * i + 1]) << 32;
    let keys: [i64; COARSE_KEYS] = std::array::from_fn(|i| {
        if i < 8 {
            wide(first, i)
        } else {
            wide(second, i - 8)
        }
    });
    keys.iter().map(|&k| u32::from(k > x)).sum::<u32>() as usize
}

/// One lookup's walk from its direct entry `root`, with the node searches given: `above` for
/// index nodes, `keys_above` for range nodes (what differs between the baseline build and the
/// AVX-512 one). Answers a next hop or [`NO_ROUTE`](crate::NO_ROUTE).
#[inline(always)]
fn walk(
    mem: &[Line],
    root: u32,
    addr: u128,
    above: impl Fn(&Line, i32) -> usize,
    keys_above: impl Fn(&Line, &Line, i64) -> usize,
) -> u32 {
    if root & LEAF_FLAG != 0 {
        return found(root & !LEAF_FLAG);
    }
    let y = addr & CHUNK_MASK;
    let unit = unit_key(y);
    let r = (root & POSITION) as usize;
    // The chunk's first 2^bits lines are its blocks' index nodes.
    let bits = root >> BITS_SHIFT;
    // Shifting left by `bits` (not right by 46 - bits) keeps the count a whole register:
    // computing it in `cl` made AMD cores merge it into the register's previous value, the
    // previous lookup's, and lookups ran one after another (54 against 146 M/s).
    let l = &mem[r + ((((y >> 64) as u64) << bits) >> (CHUNK_BITS - 64)) as usize];
    let l = &mem[r + l.0[15] as usize - above(l, unit)];
    let n = r + l.0[15] as usize - 2 * above(l, unit);
    let [first, second] = &mem.as_chunks::<2>().0[n >> 1];
    // Keys above the address, counted from the end (values are stored last range first).
    let c = keys_above(first, second, (y >> COARSE) as i64);
    match answer(slots(second)[(16 + c) & 31]) {
        Ok(nh) => nh,
        Err(sub) => deep(mem, r, r + second.0[15] as usize + 2 * sub, y),
    }
}

/// Batch lookups, compiled twice and chosen once at run time: for CPUs with AVX-512 (Intel
/// since Ice Lake, AMD since Zen 4), where a node is searched with one mask compare and a
/// population count, and for the baseline (`x86-64-v2`), where the same counts take four to
/// six SSE compares and a horizontal sum. Letting LLVM vectorise the baseline code for
/// AVX-512 made it 2.3x slower instead (docs/fib.md).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512vbmi2+popcnt"))]
fn batch(mem: &[Line], dir: &[u32], addrs: &[u128], out: &mut [u32]) {
    multiversion::target::match_target! {
        "x86_64+avx512f+avx512bw+avx512vl+avx512vbmi2+popcnt" => avx512::batch(mem, dir, addrs, out),
        _ => {
            let dir = &dir[..1 << <u128 as Key>::DIR_BITS];
            for (o, &a) in out.iter_mut().zip(addrs) {
                *o = walk(mem, dir[a.dir_index()], a, above, keys_above);
            }
        }
    }
}

/// Which build of [`batch`] this CPU runs: "AVX-512" or "baseline" (for benchmark reports).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512vbmi2+popcnt"))]
pub fn batch_build() -> &'static str {
    multiversion::target::match_target! {
        "x86_64+avx512f+avx512bw+avx512vl+avx512vbmi2+popcnt" => "AVX-512",
        _ => "baseline",
    }
}

/// The AVX-512 node searches. Only [`batch`]'s AVX-512 build calls into this module, so every
/// function here may use those instructions; a line is read as one register through
/// `zerocopy`, without `unsafe`.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512i, _mm512_cmpgt_epi32_mask, _mm512_cmpgt_epi64_mask, _mm512_mask_cmpgt_epi64_mask,
        _mm512_set1_epi32, _mm512_set1_epi64,
    };

    use super::{walk, Key, Line};

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi2,popcnt")]
    fn above(l: &Line, x: i32) -> usize {
        let keys: &__m512i = zerocopy::transmute_ref!(l);
        _mm512_cmpgt_epi32_mask(*keys, _mm512_set1_epi32(x)).count_ones() as usize
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi2,popcnt")]
    fn keys_above(first: &Line, second: &Line, x: i64) -> usize {
        let (a, b): (&__m512i, &__m512i) = (
            zerocopy::transmute_ref!(first),
            zerocopy::transmute_ref!(second),
        );
        let x = _mm512_set1_epi64(x);
        // Eight keys in the first line, four in the second.
        let m = u32::from(_mm512_cmpgt_epi64_mask(*a, x))
            | u32::from(_mm512_mask_cmpgt_epi64_mask(0x0f, *b, x)) << 8;
        m.count_ones() as usize
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi2,popcnt")]
    pub(super) fn batch(mem: &[Line], dir: &[u32], addrs: &[u128], out: &mut [u32]) {
        let dir = &dir[..1 << <u128 as Key>::DIR_BITS];
        for (o, &a) in out.iter_mut().zip(addrs) {
            *o = walk(
                mem,
                dir[a.dir_index()],
                a,
                |l, x| above(l, x),
                |f, s, x| keys_above(f, s, x),
            );
        }
    }
}

/// The rest of a lookup that a range node sent to sub-node `n`: sub-nodes compare in 128 bits
/// and may lead to further sub-nodes.
#[inline(never)]
fn deep(mem: &[Line], r: usize, mut n: usize, y: u128) -> u32 {
    loop {
        let [keys, vals] = &mem.as_chunks::<2>().0[n >> 1];
        let lane = |i: usize| u128::from(vals.0[i] as u32);
        let p = lane(10) | lane(11) << 32 | lane(12) << 64 | lane(13) << 96;
        let d = (y as i128 - p as i128) >> (vals.0[14] as u32 & 127);
        let c = count(keys, d.clamp(-1, XMAX) as i32);
        match answer(slots(vals)[c & 31]) {
            Ok(nh) => return nh,
            Err(sub) => n = r + vals.0[15] as usize + 2 * sub,
        }
    }
}

/// An index node: `keys` (units, already biased) for children 1.., child 0 at `base`, children
/// `stride` lines apart (see [`above`]).
fn index_line(keys: &[i32], base: usize, stride: usize) -> Line {
    let mut l = [PAD; 16];
    l[..keys.len()].copy_from_slice(keys);
    l[15] = (base + FANOUT * stride) as i32;
    Line(l)
}

/// A range node (two lines): `keys` (at most [`COARSE_KEYS`], padded with `i64::MAX`) in
/// lanes 0..24, next hops `vals` packed two per lane from lane 24, `base` in the last lane.
fn range_node(keys: &[u64], vals: &[u16], base: u32) -> [Line; 2] {
    let mut lanes = [0u32; 32];
    for k in 0..COARSE_KEYS {
        let key = keys.get(k).copied().unwrap_or(i64::MAX as u64);
        lanes[2 * k] = key as u32;
        lanes[2 * k + 1] = (key >> 32) as u32;
    }
    // Last range first: a lookup counts the keys above its address.
    for (i, &v) in vals.iter().enumerate() {
        let j = COARSE_KEYS - i;
        lanes[2 * COARSE_KEYS + j / 2] |= u32::from(stored(u32::from(v))) << (16 * (j % 2));
    }
    lanes[31] = base;
    let line = |from: usize| Line(std::array::from_fn(|i| lanes[from + i] as i32));
    [line(0), line(16)]
}

/// A sub-node's values line.
fn values_line(vals: &[u16], p: u128, s: u32, base: u32) -> Line {
    let mut l = [0u32; 16];
    for (i, &v) in vals.iter().enumerate() {
        l[i / 2] |= u32::from(stored(u32::from(v))) << (16 * (i % 2));
    }
    for (i, lane) in l[10..14].iter_mut().enumerate() {
        *lane = (p >> (32 * i)) as u32;
    }
    l[14] = s;
    l[15] = base;
    Line(l.map(|x| x as i32))
}

/// The ranges of a chunk: (first address relative to the chunk, next hop), in address order,
/// the first at 0, no two neighbours with the same next hop. `routes` are sorted by (key,
/// length), so a route's containing routes come before it.
fn ranges(routes: &[Entry<u128>], default: u32) -> Vec<(u128, u16)> {
    let end_of_chunk = 1u128 << CHUNK_BITS;
    // Next hops fit 16 bits (checked on insert; "none" is 0x7fff).
    let mut out: Vec<(u128, u16)> = vec![(0, default as u16)];
    let mut open: Vec<(u128, u16)> = vec![(end_of_chunk, default as u16)];
    let mark = |out: &mut Vec<(u128, u16)>, at: u128, nh: u16| match out.last_mut() {
        Some(last) if last.0 == at => last.1 = nh,
        _ => out.push((at, nh)),
    };
    for &(key, len, nh) in routes {
        let start = key & CHUNK_MASK;
        let end = start + (1u128 << (128 - u32::from(len)));
        while open.len() > 1 && open[open.len() - 1].0 <= start {
            let (at, _) = open.pop().unwrap_or_default();
            mark(&mut out, at, open[open.len() - 1].1);
        }
        mark(&mut out, start, nh as u16);
        open.push((end, nh as u16));
    }
    while open.len() > 1 {
        let (at, _) = open.pop().unwrap_or_default();
        if at < end_of_chunk {
            mark(&mut out, at, open[open.len() - 1].1);
        }
    }
    out.dedup_by_key(|r| r.1);
    out
}

/// The window (`P`, `s`) in which a sub-node can hold range starts `starts`: keys are
/// `(start - P) >> s`, exact and at most `XMAX`. `None` if there are too many or they are too
/// far apart for their precision.
fn window(starts: &[u128]) -> Option<(u128, u32)> {
    let (&p, rest) = starts.split_first()?;
    if starts.len() > KEYS {
        return None;
    }
    let s = rest
        .iter()
        .map(|&b| (b - p).trailing_zeros())
        .min()
        .unwrap_or(0)
        .min(127);
    let last = starts[starts.len() - 1];
    (((last - p) >> s) as i128 <= XMAX).then_some((p, s))
}

/// A sub-node's keys line for `starts`, and its window, if they fit one.
fn keys_in(starts: &[u128]) -> Option<(Line, (u128, u32))> {
    let (p, s) = window(starts)?;
    let mut keys = [PAD; 16];
    for (k, &st) in keys.iter_mut().zip(starts) {
        *k = ((st - p) >> s) as i32;
    }
    Some((Line(keys), (p, s)))
}

/// The address in `(lo, hi]` with the most trailing zeros: the cheapest separator to encode.
fn roundest(lo: u128, hi: u128) -> u128 {
    let top = 127 - (lo ^ hi).leading_zeros();
    hi & !((1u128 << top) - 1)
}

/// A value of the coarse ranges: a next hop, or with this flag the number of a cluster.
const CLUSTER: u32 = 0x8000_0000;

/// Coarse ranges (start, next hop or cluster) and clusters (the `iv` indices of their starts).
type Coarsened = (Vec<(u128, u32)>, Vec<(usize, usize)>);

/// The ranges as range nodes see them: every start a multiple of `2^COARSE` (/80). Each /80
/// block holding finer starts becomes one coarse range whose value is a *cluster* (the iv
/// indices of its fine starts, left to sub-nodes), followed by the range in force at the block's
/// end. Returns (coarse ranges, clusters).
fn coarsen(iv: &[(u128, u16)]) -> Coarsened {
    let step = 1u128 << COARSE;
    let mut coarse: Vec<(u128, u32)> = Vec::with_capacity(iv.len());
    let mut clusters = Vec::new();
    let mut i = 0;
    while i < iv.len() {
        let (start, nh) = iv[i];
        if start % step == 0 {
            coarse.push((start, u32::from(nh)));
            i += 1;
            continue;
        }
        // Fine starts from iv[i] to the end of their /80 block; the range in force at the block's
        // start is iv[i - 1] (a coarse start can only sit at the block's start).
        let (block, end) = (start - start % step, start - start % step + step);
        let mut j = i + 1;
        while j < iv.len() && iv[j].0 < end {
            j += 1;
        }
        let value = CLUSTER | clusters.len() as u32;
        clusters.push((i, j));
        match coarse.last_mut() {
            Some(last) if last.0 == block => last.1 = value,
            _ => coarse.push((block, value)),
        }
        if iv.get(j).is_none_or(|r| r.0 != end) && end < 1u128 << CHUNK_BITS {
            coarse.push((end, u32::from(iv[j - 1].1)));
        }
        i = j;
    }
    (coarse, clusters)
}

/// One chunk being compiled: `iv` are its ranges, `coarse` and `clusters` the same for range
/// nodes (see [`coarsen`]); lines are appended to `mem` after `root`.
struct Chunk<'a> {
    mem: &'a mut Vec<Line>,
    root: usize,
    iv: &'a [(u128, u16)],
    coarse: &'a [(u128, u32)],
    clusters: &'a [(usize, usize)],
}

impl Chunk<'_> {
    /// Emits the chunk: its blocks' index nodes, second-level nodes, trivial paths, range
    /// nodes, then sub-nodes; returns the block bits it chose.
    fn emit(&mut self) -> u32 {
        let iv = self.iv;
        let mut groups = self.range_nodes();
        // The unit of range node `g`'s first start (range node 0 starts the chunk), and the
        // range node an address belongs to.
        let cv = self.coarse;
        let units = |groups: &[(usize, usize, bool)]| -> Vec<u128> {
            groups.iter().map(|g| cv[g.0].0 >> UNIT_SHIFT).collect()
        };
        let node_of =
            |units: &[u128], y: u128| units[1..].partition_point(|&u| u <= y >> UNIT_SHIFT);
        let block = |bits: u32, b: usize| {
            let shift = CHUNK_BITS - bits;
            ((b as u128) << shift, ((b as u128 + 1) << shift) - 1)
        };
        // A block's index node reaches 16 second-level nodes of 16 range nodes each.
        let crowded = |u: &[u128], bits: u32| {
            (0..1usize << bits).find(|&b| {
                let (first, last) = block(bits, b);
                node_of(u, last) / FANOUT - node_of(u, first) / FANOUT >= FANOUT
            })
        };
        // The fewest blocks that leave none crowded; where even the most do, pairs of a
        // crowded block's range nodes become sub-nodes.
        let mut u = units(&groups);
        let bits = (0..=MAX_BLOCK_BITS)
            .find(|&bits| crowded(&u, bits).is_none())
            .unwrap_or(MAX_BLOCK_BITS);
        while let Some(b) = crowded(&u, bits) {
            let (first, last) = block(bits, b);
            let (g0, g1) = (node_of(&u, first) + 1, node_of(&u, last) + 1);
            let merged: Vec<(usize, usize, bool)> = groups[g0..g1]
                .chunks(2)
                .map(|c| (c[0].0, c[c.len() - 1].1, c.len() == 1 && c[0].2))
                .collect();
            groups.splice(g0..g1, merged);
            u = units(&groups);
        }
        let n = groups.len();
        let n2 = n.div_ceil(FANOUT);
        // Each block's index node, one line per block in block order: the second-level nodes
        // its addresses can reach, or (a block with one range) a shared trivial path.
        let blocks = 1usize << bits;
        // Err(t): the block takes trivial path `t`, which answers `uniform[t]`.
        let mut spans: Vec<Result<(usize, usize), usize>> = Vec::with_capacity(blocks);
        let mut uniform: Vec<u16> = Vec::new();
        for b in 0..blocks {
            let (first, last) = block(bits, b);
            let at = iv.partition_point(|r| r.0 <= first) - 1;
            if iv.get(at + 1).is_none_or(|r| r.0 > last) {
                let nh = iv[at].1;
                let t = uniform.iter().position(|&h| h == nh).unwrap_or_else(|| {
                    uniform.push(nh);
                    uniform.len() - 1
                });
                spans.push(Err(t));
            } else {
                spans.push(Ok((
                    node_of(&u, first) / FANOUT,
                    node_of(&u, last) / FANOUT,
                )));
            }
        }
        let at2 = blocks;
        let at_trivial = at2 + n2;
        // Range nodes start at an even line, so that each is one pair of lines (chunks start at
        // even lines too: every chunk is a whole number of pairs).
        let at_ranges = (at_trivial + uniform.len()).next_multiple_of(2);
        let sep = |g: usize| unit_key(u[g] << UNIT_SHIFT);
        let mut lines: Vec<Line> = Vec::with_capacity(at_ranges);
        for span in &spans {
            lines.push(match *span {
                Ok((k0, k1)) => {
                    let keys: Vec<i32> = (k0 + 1..=k1).map(|k| sep(k * FANOUT)).collect();
                    index_line(&keys, at2 + k0, 1)
                }
                Err(t) => index_line(&[], at_trivial + t, 1),
            });
        }
        for k in 0..n2 {
            let keys: Vec<i32> = (k * FANOUT + 1..(k + 1) * FANOUT)
                .filter(|&g| g < n)
                .map(sep)
                .collect();
            lines.push(index_line(&keys, at_ranges + 2 * k * FANOUT, 2));
        }
        // A trivial path: an index line and a second-level line without keys, then a range
        // node without keys (after the others) that answers the block's next hop.
        for t in 0..uniform.len() {
            lines.push(index_line(&[], at_ranges + 2 * (n + t), 2));
        }
        lines.resize(at_ranges, Line([PAD; 16]));
        for &nh in &uniform {
            lines.extend(range_node(&[], &[nh], 0));
        }
        self.mem.extend_from_slice(&lines[..at_ranges]);
        self.mem
            .resize(self.root + at_ranges + 2 * n, Line([PAD; 16]));
        self.mem.extend_from_slice(&lines[at_ranges..]);
        for (g, &(a, b, coarse)) in groups.iter().enumerate() {
            let at = self.root + at_ranges + 2 * g;
            let to = cv.get(b).map_or(u128::MAX, |r| r.0);
            if coarse {
                // A unit with more starts than a node holds sends its last range, from its last
                // key on, to a sub-node over the rest.
                let m = b.min(a + COARSE_KEYS);
                let tail = m < b;
                // Clusters in the node get consecutive sub-nodes.
                let mut subs = Vec::new();
                let keys: Vec<u64> = cv[a..m].iter().map(|r| (r.0 >> COARSE) as u64).collect();
                let mut vals: Vec<u16> = cv[a - 1..m - usize::from(tail)]
                    .iter()
                    .map(|r| {
                        if r.1 & CLUSTER == 0 {
                            r.1 as u16
                        } else {
                            subs.push(self.clusters[(r.1 & !CLUSTER) as usize]);
                            SUB | (subs.len() - 1) as u16
                        }
                    })
                    .collect();
                if tail {
                    let from = cv[m - 1].0;
                    subs.push((
                        iv.partition_point(|r| r.0 <= from),
                        iv.partition_point(|r| r.0 < to),
                    ));
                    vals.push(SUB | (subs.len() - 1) as u16);
                }
                let base = self.mem.len() - self.root;
                [self.mem[at], self.mem[at + 1]] = range_node(&keys, &vals, base as u32);
                let first = self.mem.len();
                self.mem.resize(first + 2 * subs.len(), Line([PAD; 16]));
                for (t, &(ia, ib)) in subs.iter().enumerate() {
                    self.fill(first + 2 * t, ia, ib);
                }
            } else {
                // Every address of the node goes on to one sub-node, over the node's ranges.
                let from = cv[a].0;
                let ia = iv.partition_point(|r| r.0 < from);
                let ib = iv.partition_point(|r| r.0 < to);
                let base = self.mem.len() - self.root;
                [self.mem[at], self.mem[at + 1]] = range_node(&[], &[SUB], base as u32);
                self.mem.resize(self.mem.len() + 2, Line([PAD; 16]));
                self.fill(self.root + base, ia, ib);
            }
        }
        bits
    }

    /// Splits the coarse range starts `coarse[1..]` into range nodes of whole units (an index
    /// node only tells units apart): (first, end, holds its starts). A unit with more starts
    /// than a range node holds gets a node of its own, whose last range goes on to a sub-node.
    /// [`Chunk::emit`] may merge nodes into ones that send every address to a sub-node.
    fn range_nodes(&self) -> Vec<(usize, usize, bool)> {
        let cv = self.coarse;
        let coarse = |a: usize, b: usize| b - a <= COARSE_KEYS;
        let mut nodes = Vec::new();
        let mut open = 1;
        let mut i = 1;
        while i < cv.len() {
            let unit = cv[i].0 >> UNIT_SHIFT;
            let mut j = i + 1;
            while j < cv.len() && cv[j].0 >> UNIT_SHIFT == unit {
                j += 1;
            }
            if coarse(open, j) {
                i = j;
                continue;
            }
            if open < i {
                nodes.push((open, i, true));
            }
            if coarse(i, j) {
                open = i;
            } else {
                nodes.push((i, j, true));
                open = j;
            }
            i = j;
        }
        if open < cv.len() || nodes.is_empty() {
            nodes.push((open, cv.len(), true));
        }
        nodes
    }

    /// Writes at `at` (two lines) the sub-node for range starts `iv[a..b]` (its range 0 is the
    /// one before `iv[a]`), appending further sub-nodes when they do not fit one.
    fn fill(&mut self, at: usize, a: usize, b: usize) {
        let iv = self.iv;
        let starts: Vec<u128> = iv[a..b].iter().map(|r| r.0).collect();
        if let Some((keys, (p, s))) = keys_in(&starts) {
            let vals: Vec<u16> = iv[a - 1..b].iter().map(|r| r.1).collect();
            self.mem[at] = keys;
            self.mem[at + 1] = values_line(&vals, p, s, 0);
            return;
        }
        // Too many or too far apart: up to 17 parts, split at the roundest addresses between
        // them, so that the separators fit one window. Two parts always fit.
        let len = b - a;
        let (parts, seps, (p, s)) = (2..=KEYS + 1)
            .rev()
            .filter(|&k| k <= len)
            .find_map(|k| {
                let firsts: Vec<usize> = (0..k).map(|t| a + t * len / k).collect();
                let seps: Vec<u128> = firsts[1..]
                    .iter()
                    .map(|&f| roundest(iv[f - 1].0, iv[f].0))
                    .collect();
                window(&seps).map(|w| (firsts, seps, w))
            })
            .unwrap_or_else(|| unreachable!("a single separator always fits a window"));
        let base = self.mem.len() - self.root;
        let mut keys = [PAD; 16];
        for (k, &sep) in keys.iter_mut().zip(&seps) {
            *k = ((sep - p) >> s) as i32;
        }
        let vals: Vec<u16> = (0..parts.len()).map(|t| SUB | t as u16).collect();
        self.mem[at] = Line(keys);
        self.mem[at + 1] = values_line(&vals, p, s, base as u32);
        let first = self.mem.len();
        self.mem.resize(first + 2 * parts.len(), Line([PAD; 16]));
        for (t, &f) in parts.iter().enumerate() {
            let end = parts.get(t + 1).copied().unwrap_or(b);
            self.fill(first + 2 * t, f, end);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use crate::{Key, Lpm};

    fn v6(s: &str) -> u128 {
        u128::from(s.parse::<std::net::Ipv6Addr>().unwrap())
    }

    /// Checks `t` against a plain per-length search at the edges of every route (first and
    /// last address, and the addresses just outside) and at random addresses inside.
    fn check(t: &Lpm<u128>, routes: &[(u128, u8, u32)], rng: &mut impl Rng) {
        let by_len: HashMap<(u128, u8), u32> = routes
            .iter()
            .map(|&(k, l, nh)| ((k.mask(l), l), nh))
            .collect();
        let naive = |a: u128| {
            (0..=128u8)
                .rev()
                .find_map(|l| by_len.get(&(a.mask(l), l)).copied())
        };
        let mut addrs = Vec::new();
        for &(k, l, _) in routes {
            let first = k.mask(l);
            let host = u128::MAX.checked_shr(u32::from(l)).unwrap_or(0);
            let (last, inside) = (first | host, first | (rng.gen::<u128>() & host));
            for a in [
                first,
                last,
                first.wrapping_sub(1),
                last.wrapping_add(1),
                inside,
            ] {
                assert_eq!(t.lookup(a), naive(a), "{:?}", std::net::Ipv6Addr::from(a));
                addrs.push(a);
            }
        }
        // The batch lookup is the other build (AVX-512 where the CPU has it): the same answers.
        let mut out = vec![0; addrs.len()];
        t.lookup_batch(&addrs, &mut out);
        for (&a, &got) in addrs.iter().zip(&out) {
            let want = naive(a).unwrap_or(crate::NO_ROUTE);
            assert_eq!(
                got,
                want,
                "batch ({}), {:?}",
                super::batch_build(),
                std::net::Ipv6Addr::from(a)
            );
        }
    }

    #[test]
    fn one_route_is_two_index_nodes_and_a_range_node() {
        // One block (no block bits needed): its index node, one second-level node, one range
        // node (2 lines).
        let t = Lpm::<u128>::from_routes(vec![(v6("2001:db8:1234::"), 48, 5), (0, 0, 1)]).unwrap();
        assert_eq!(t.memory().arena_bytes, 4 * 64);
        assert_eq!(t.lookup(v6("2001:db8:1234:ffff::1")), Some(5));
        assert_eq!(t.lookup(v6("2001:db8:1235::")), Some(1));
        assert_eq!(t.lookup(v6("2001:db8:1233:ffff::")), Some(1));
    }

    #[test]
    fn clusters_of_long_routes_go_to_sub_nodes() {
        // 300 /126s in one /96 (a unit holds them all: they need sub-nodes), /128s far apart
        // in another unit (a window cannot hold both precisions), /64s and /56s, and the /48
        // and /32 around them.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut routes = vec![
            (v6("2001:db8::"), 32, 1),
            (v6("2001:db8:1::"), 48, 2),
            (v6("2001:db8:2::1"), 128, 3),
            (v6("2001:db8:2:ffff:ffff:ffff:ffff:fffe"), 128, 4),
            (v6("2001:db8:2:8000::"), 50, 5),
        ];
        for i in 0..300u128 {
            routes.push((v6("2001:db8:1:0:0:1::") + i * 8, 126, (i % 7) as u32));
        }
        for i in 0..40u128 {
            routes.push((v6("2001:db8:3::") + (i << 72), 56, 8 + (i % 3) as u32));
            routes.push((v6("2001:db8:3::") + (i << 72) + (5 << 64), 64, 11));
        }
        let t = Lpm::<u128>::from_routes(routes.clone()).unwrap();
        check(&t, &routes, &mut rng);
    }

    #[test]
    fn fine_starts_meet_coarse_ones_at_block_edges() {
        // /80 blocks holding starts finer than /80: one that starts where a coarse route does
        // (the /80 itself), two in adjacent blocks (the second starts where the first ends),
        // and one in the last /80 of its /18 chunk (nothing follows it in the chunk).
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let chunk_end = v6("2001:dbb:ffff:ffff:ffff::") | ((1u128 << 110) - 1);
        let last80 = chunk_end & !((1u128 << 48) - 1);
        let routes = vec![
            (v6("2001:db8::"), 32, 1),
            (v6("2001:db8:1:2:3::"), 80, 2),
            (v6("2001:db8:1:2:3::4"), 126, 3),
            (v6("2001:db8:1:2:4::ff"), 128, 4),
            (v6("2001:db8:1:2:5::1"), 128, 5),
            (v6("2001:db8:1:2:5:0:0:2"), 127, 6),
            (last80 | 0x10, 124, 7),
            (last80, 80, 8),
        ];
        let t = Lpm::<u128>::from_routes(routes.clone()).unwrap();
        check(&t, &routes, &mut rng);
        for a in [
            "2001:db8:1:2:3:0:0:7",
            "2001:db8:1:2:4::",
            "2001:db8:1:2:6::",
        ] {
            let want = if a == "2001:db8:1:2:3:0:0:7" { 3 } else { 1 };
            assert_eq!(t.lookup(v6(a)), Some(want), "{a}");
        }
        assert_eq!(t.lookup(chunk_end), Some(8));
    }

    #[test]
    fn crowded_chunks_split_into_blocks() {
        // Four /24s of one /18 with 1,200 /48s each (alternating next hops: 2,400 ranges, about
        // 200 range nodes per /24), a /20 without longer routes and empty space: too many range
        // nodes for one block, so the chunk splits into blocks, and the blocks with one range
        // take the trivial path.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(13);
        let chunk = v6("2001::");
        let mut routes = vec![(chunk | (0x30u128 << 104), 20, 9)];
        for s in [0u128, 9, 18, 27] {
            for i in 0..1200u128 {
                routes.push((chunk | (s << 104) | (i << 81), 48, (i % 2) as u32 + 1));
            }
        }
        let t = Lpm::<u128>::from_routes(routes.clone()).unwrap();
        check(&t, &routes, &mut rng);
        for (a, want) in [
            ("2001:3000::1", Some(9)),
            ("2001:2a00::", None),
            ("2001:1::", None),
        ] {
            assert_eq!(t.lookup(v6(a)), want, "{a}");
        }
    }

    #[test]
    fn a_unit_with_more_starts_than_a_node_keeps_its_first_ranges_in_the_node() {
        // One /49 unit with ten /64s of alternating next hops, a /126 link in the /80 block
        // that becomes the node's last key, and ten more /64s: more starts than a range node
        // holds, so its last range goes on to a sub-node over the rest. Checked at every
        // route's edges.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
        let base = v6("2001:db8::");
        let mut routes = vec![(base, 32, 9)];
        for i in (0..10u128).chain(12..22) {
            routes.push((base + (i << 64), 64, (i % 2) as u32 + 1));
        }
        routes.push((base + (11 << 64) + 0x100, 126, 7));
        let t = Lpm::<u128>::from_routes(routes.clone()).unwrap();
        check(&t, &routes, &mut rng);
        assert_eq!(t.lookup(base + (11 << 64) + 0x101), Some(7));
        assert_eq!(t.lookup(base + (21 << 64) + 5), Some(2));
        assert_eq!(t.lookup(base + (22 << 64)), Some(9));
    }

    #[test]
    fn chunks_beyond_the_index_levels_still_answer() {
        // 4,200 units of one /18, each with 16 range starts (8 /60s of alternating next hops),
        // all in its first block: more range nodes than a block's two index levels reach
        // (256), so pairs of them become sub-nodes until they fit.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let base = v6("2001:db8::") & !(u128::MAX >> 18);
        let mut routes = Vec::new();
        for u in 0..4200u128 {
            for j in 0..8u128 {
                routes.push((base + (u << 79) + ((2 * j) << 68), 60, (j % 2) as u32 + 1));
            }
        }
        let t = Lpm::<u128>::from_routes(routes.clone()).unwrap();
        check(&t, &routes, &mut rng);
    }
}
