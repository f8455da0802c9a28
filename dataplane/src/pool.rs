//! Packet buffer pool: every buffer is allocated once, at start-up, and then circulates between
//! ports, workers, generators and sinks. A shared lock-free queue holds free buffers; each thread
//! takes and returns them through a local cache in batches (the DPDK mempool cache shape), so the
//! shared queue is touched once per batch, not per packet.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::buf::PacketBuf;

const CACHE_BATCH: usize = 64;

/// The shared free list.
#[derive(Clone)]
pub struct Pool {
    free: Arc<ArrayQueue<PacketBuf>>,
    size: usize,
}

impl Pool {
    /// A pool of `size` buffers, all allocated now.
    pub fn new(size: usize) -> Self {
        let free = ArrayQueue::new(size.max(1));
        for _ in 0..size {
            let _ = free.push(PacketBuf::default());
        }
        Pool {
            free: Arc::new(free),
            size,
        }
    }

    /// Buffers currently free in the shared queue (not counting thread caches).
    pub fn available(&self) -> usize {
        self.free.len()
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// A per-thread cache over this pool.
    pub fn cache(&self) -> PoolCache {
        PoolCache {
            pool: self.clone(),
            local: Vec::with_capacity(CACHE_BATCH * 2),
        }
    }
}

/// A thread's cache of free buffers; returns them to the pool when dropped.
pub struct PoolCache {
    pool: Pool,
    local: Vec<PacketBuf>,
}

impl PoolCache {
    /// A free buffer, or `None` when the whole pool is in use.
    #[inline]
    pub fn get(&mut self) -> Option<PacketBuf> {
        if self.local.is_empty() {
            for _ in 0..CACHE_BATCH {
                match self.pool.free.pop() {
                    Some(b) => self.local.push(b),
                    None => break,
                }
            }
        }
        self.local.pop()
    }

    /// Gives a buffer back. One whose bytes are an mbuf is not the pool's: dropping it returns
    /// the mbuf to its DPDK pool.
    #[inline]
    pub fn put(&mut self, b: PacketBuf) {
        if b.is_mbuf() {
            return;
        }
        self.local.push(b);
        if self.local.len() >= CACHE_BATCH * 2 {
            self.flush(CACHE_BATCH);
        }
    }

    fn flush(&mut self, keep: usize) {
        while self.local.len() > keep {
            if let Some(b) = self.local.pop() {
                // The queue holds every buffer of the pool, so it cannot be full here.
                let _ = self.pool.free.push(b);
            }
        }
    }
}

impl Drop for PoolCache {
    fn drop(&mut self) {
        self.flush(0);
    }
}
