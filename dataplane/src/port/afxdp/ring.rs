//! The four AF_XDP rings (fill, completion, RX, TX) are memory shared with the kernel: each
//! has a producer and a consumer index word and an array of entries. This is libxdp's inline
//! protocol (`xsk_ring_prod__reserve`, `__submit`, `xsk_ring_cons__peek`, `__release`) in
//! Rust: indices are read with acquire and published with release ordering, and cached
//! copies spare a shared-cache-line read per burst.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use super::ffi::XdpDesc;

/// libxdp's ring handle (`DEFINE_XSK_RING` in `xdp/xsk.h`), the same layout for producer and
/// consumer rings.
#[repr(C)]
pub(super) struct XskRing {
    pub(super) cached_prod: u32,
    pub(super) cached_cons: u32,
    pub(super) mask: u32,
    pub(super) size: u32,
    pub(super) producer: *mut u32,
    pub(super) consumer: *mut u32,
    pub(super) ring: *mut c_void,
    pub(super) flags: *mut u32,
}

impl XskRing {
    pub(super) const fn empty() -> Self {
        XskRing {
            cached_prod: 0,
            cached_cons: 0,
            mask: 0,
            size: 0,
            producer: ptr::null_mut(),
            consumer: ptr::null_mut(),
            ring: ptr::null_mut(),
            flags: ptr::null_mut(),
        }
    }

    pub(super) fn atomic(p: *mut u32) -> &'static AtomicU32 {
        // The ring is dropped with the socket; the kernel updates the word concurrently.
        // SAFETY: `p` is a 4-aligned ring index word in the socket's mapping, valid for the
        // socket's lifetime, and only accessed atomically.
        unsafe { &*p.cast::<AtomicU32>() }
    }

    /// Producer: free slots (refreshing the consumer index when fewer than `nb`).
    pub(super) fn prod_free(&mut self, nb: u32) -> u32 {
        let free = self.cached_cons.wrapping_sub(self.cached_prod);
        if free >= nb {
            return free;
        }
        self.cached_cons = Self::atomic(self.consumer)
            .load(Ordering::Acquire)
            .wrapping_add(self.size);
        self.cached_cons.wrapping_sub(self.cached_prod)
    }

    pub(super) fn reserve(&mut self, nb: u32) -> Option<u32> {
        if self.prod_free(nb) < nb {
            return None;
        }
        let idx = self.cached_prod;
        self.cached_prod = self.cached_prod.wrapping_add(nb);
        Some(idx)
    }

    pub(super) fn submit(&mut self, nb: u32) {
        let p = Self::atomic(self.producer);
        p.store(
            p.load(Ordering::Relaxed).wrapping_add(nb),
            Ordering::Release,
        );
    }

    /// Producer: entries submitted that the kernel has not consumed yet.
    pub(super) fn unconsumed(&self) -> u32 {
        let prod = Self::atomic(self.producer).load(Ordering::Relaxed);
        prod.wrapping_sub(Self::atomic(self.consumer).load(Ordering::Acquire))
    }

    /// Consumer: entries available, at most `nb`; returns (first index, count).
    pub(super) fn peek(&mut self, nb: u32) -> (u32, u32) {
        let mut avail = self.cached_prod.wrapping_sub(self.cached_cons);
        if avail == 0 {
            self.cached_prod = Self::atomic(self.producer).load(Ordering::Acquire);
            avail = self.cached_prod.wrapping_sub(self.cached_cons);
        }
        let n = avail.min(nb);
        let idx = self.cached_cons;
        self.cached_cons = self.cached_cons.wrapping_add(n);
        (idx, n)
    }

    pub(super) fn release(&mut self, nb: u32) {
        let c = Self::atomic(self.consumer);
        c.store(
            c.load(Ordering::Relaxed).wrapping_add(nb),
            Ordering::Release,
        );
    }

    /// The `idx`-th 64-bit address slot (fill and completion rings).
    pub(super) fn addr(&self, idx: u32) -> *mut u64 {
        // SAFETY: masked index inside the ring array the kernel mapped for this ring.
        unsafe { self.ring.cast::<u64>().add((idx & self.mask) as usize) }
    }

    /// The `idx`-th descriptor slot (RX and TX rings).
    pub(super) fn desc(&self, idx: u32) -> *mut XdpDesc {
        // SAFETY: as above, for descriptor rings.
        unsafe { self.ring.cast::<XdpDesc>().add((idx & self.mask) as usize) }
    }
}
