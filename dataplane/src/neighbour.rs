//! Next-hop id -> egress port and MAC. Static entries from configuration; dynamic ARP/ND
//! resolution (request on miss, bounded hold queue, timeouts) comes with the port backends.

use crate::wire::ethernet::Mac;

/// Where a next hop is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub port: u16,
    pub mac: Mac,
}

/// The table, indexed by next-hop id (FIB next hops are small dense ids).
#[derive(Clone, Debug, Default)]
pub struct Neighbours {
    by_id: Vec<Option<Neighbour>>,
}

impl Neighbours {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets next hop `id` (ids are at most `fib::MAX_NEXT_HOP`, so the table stays small).
    pub fn set(&mut self, id: u32, n: Neighbour) {
        let i = id as usize;
        if self.by_id.len() <= i {
            self.by_id.resize(i + 1, None);
        }
        self.by_id[i] = Some(n);
    }

    /// Every id in `0..count` resolves to `n` (the default router's single upstream).
    pub fn fill(&mut self, count: u32, n: Neighbour) {
        self.by_id = vec![Some(n); count as usize];
    }

    #[inline]
    pub fn get(&self, id: u32) -> Option<&Neighbour> {
        self.by_id.get(id as usize).and_then(Option::as_ref)
    }

    pub fn len(&self) -> usize {
        self.by_id.iter().filter(|n| n.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
