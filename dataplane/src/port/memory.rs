//! The in-memory backend: a link is two lock-free single-producer single-consumer rings, one per
//! direction; each end is a [`Port`]. Needs no privileges and touches no kernel interface, so it
//! is the default for tests, benchmarks and sweeps.

use rtrb::{Consumer, Producer, RingBuffer};

use super::Port;
use crate::buf::PacketBuf;

/// One end of a memory link.
pub struct MemPort {
    name: String,
    rx: Consumer<PacketBuf>,
    tx: Producer<PacketBuf>,
}

/// A link with `capacity` frames of buffering in each direction; returns its two ends.
pub fn link(name: &str, capacity: usize) -> (MemPort, MemPort) {
    let (a_tx, b_rx) = RingBuffer::new(capacity);
    let (b_tx, a_rx) = RingBuffer::new(capacity);
    (
        MemPort {
            name: format!("{name}.a"),
            rx: a_rx,
            tx: a_tx,
        },
        MemPort {
            name: format!("{name}.b"),
            rx: b_rx,
            tx: b_tx,
        },
    )
}

impl Port for MemPort {
    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<PacketBuf>, max: usize) -> usize {
        // One chunk per burst: the shared read index is published once, not per frame.
        let n = self.rx.slots().min(max);
        match self.rx.read_chunk(n) {
            Ok(chunk) => {
                let first = out.len();
                out.extend(chunk);
                // The frames were written on another core. Ask for each one's first line in
                // exclusive state now, all at once: the pipeline reads and then rewrites that
                // line, and a plain read would fetch it shared and pay a second transfer (an
                // ownership upgrade) at the rewrite.
                for b in &out[first..] {
                    prefetch_for_write(b.head_ptr());
                }
                n
            }
            Err(_) => 0,
        }
    }

    #[inline]
    fn tx_burst(&mut self, bufs: &mut Vec<PacketBuf>) -> usize {
        let n = self.tx.slots().min(bufs.len());
        // Single producer: the `n` free slots seen above stay free until we fill them.
        match self.tx.write_chunk_uninit(n) {
            Ok(chunk) => chunk.fill_from_iter(bufs.drain(..n)),
            Err(_) => 0,
        }
    }

    fn rx_capacity(&self) -> usize {
        self.rx.buffer().capacity()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[inline(always)]
fn prefetch_for_write(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and never changes memory, whatever the
    // address; `p` points into a live buffer anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_ET0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_in_order_and_full_rings_push_back() {
        let (mut a, mut b) = link("l", 4);
        let mut out: Vec<PacketBuf> = (0..6u8)
            .map(|i| PacketBuf::from_bytes(&[i; 60]).unwrap())
            .collect();
        assert_eq!(a.tx_burst(&mut out), 4);
        assert_eq!(out.len(), 2, "two did not fit");
        assert_eq!(out[0].bytes()[0], 4);
        let mut got = Vec::new();
        assert_eq!(b.rx_burst(&mut got, 3), 3);
        assert_eq!(b.rx_burst(&mut got, 32), 1);
        assert_eq!(
            got.iter().map(|p| p.bytes()[0]).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(b.rx_burst(&mut got, 32), 0);
        // The other direction is independent.
        assert_eq!(b.tx_burst(&mut got), 4);
        let mut back = Vec::new();
        assert_eq!(a.rx_burst(&mut back, 32), 4);
    }
}
