//! Ports: burst receive and transmit, the one interface every backend implements (memory now;
//! AF_PACKET, AF_XDP and DPDK plug in the same way). Buffers move through ports by value (a
//! pointer move), never copied or allocated per packet.

// The backends talk to the kernel through raw sockets, mappings and FFI: the only modules of
// the engine where `unsafe` is allowed (each block has a `// SAFETY:` line).
#[allow(unsafe_code)]
pub mod afpacket;
#[cfg(feature = "afxdp")]
#[allow(unsafe_code)]
pub mod afxdp;
#[cfg(feature = "dpdk")]
#[allow(unsafe_code)]
pub mod dpdk;
#[allow(unsafe_code)]
pub mod memory;

use crate::buf::PacketBuf;

/// A router port.
pub trait Port: Send {
    /// Appends up to `max` received frames to `out`; returns how many.
    fn rx_burst(&mut self, out: &mut Vec<PacketBuf>, max: usize) -> usize;
    /// Sends frames from the front of `bufs`, removing the ones sent; returns how many. Frames
    /// left in `bufs` did not fit (the caller frees and counts them).
    fn tx_burst(&mut self, bufs: &mut Vec<PacketBuf>) -> usize;
    /// Frames the backend dropped on receive since the last call (its ring was full, or a
    /// frame did not fit), before the router could see them.
    fn rx_dropped(&mut self) -> u64 {
        0
    }
    /// Frames the receive ring holds (adaptive workers size their sleeps by it).
    fn rx_capacity(&self) -> usize {
        1024
    }
    /// A descriptor that becomes readable when frames arrive (for `interrupt` polling);
    /// `None` for backends without one (memory).
    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
    /// A name for logs and stats.
    fn name(&self) -> &str;
}
