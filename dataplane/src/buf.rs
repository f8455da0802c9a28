//! Packet buffers, the bottom layer of the engine: every other module (pool, ports,
//! neighbours, pipeline) moves frames as [`PacketBuf`]s. A buffer has a fixed capacity of
//! [`BUF_SIZE`] bytes, cache-line aligned, and a current length; it is allocated once (by the
//! pool) and moved by pointer from then on. A DPDK port hands the pipeline buffers whose bytes
//! are the mbufs it received (no copy); they go back to DPDK's pool when freed.

/// Bytes a buffer holds: a 1518-byte frame and room for a reply that grows it.
pub const BUF_SIZE: usize = 2048;

/// Buffer storage, cache-line aligned so that a minimum-size frame occupies one line.
#[derive(Clone)]
#[repr(C, align(64))]
pub(crate) struct Storage(pub(crate) [u8; BUF_SIZE]);

impl std::ops::Deref for Storage {
    type Target = [u8; BUF_SIZE];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Storage {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Where a buffer's bytes live: a heap box from the pool, or (DPDK ports) the data room of
/// the mbuf the frame was received in, so that the pipeline works on it in place.
pub(crate) enum Store {
    Heap(Box<Storage>),
    #[cfg(feature = "dpdk")]
    Mbuf(crate::port::dpdk::Lent),
}

impl std::ops::Deref for Store {
    type Target = Storage;
    #[inline(always)]
    fn deref(&self) -> &Storage {
        match self {
            Store::Heap(b) => b,
            #[cfg(feature = "dpdk")]
            Store::Mbuf(m) => m.storage(),
        }
    }
}

impl std::ops::DerefMut for Store {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Storage {
        match self {
            Store::Heap(b) => b,
            #[cfg(feature = "dpdk")]
            Store::Mbuf(m) => m.storage_mut(),
        }
    }
}

impl Clone for Store {
    /// A copy always lives on the heap (an mbuf has one owner).
    fn clone(&self) -> Self {
        Store::Heap(Box::new((**self).clone()))
    }
}

/// A packet buffer: fixed capacity, current length. The pipeline rewrites frames in place and
/// may replace one by a (possibly longer) reply.
#[derive(Clone)]
pub struct PacketBuf {
    pub(crate) data: Store,
    pub(crate) len: usize,
}

impl Default for PacketBuf {
    fn default() -> Self {
        PacketBuf {
            data: Store::Heap(Box::new(Storage([0; BUF_SIZE]))),
            len: 0,
        }
    }
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PacketBuf({} bytes)", self.len)
    }
}

impl PacketBuf {
    /// Copies `frame` in; `None` if it does not fit.
    pub fn from_bytes(frame: &[u8]) -> Option<Self> {
        let mut p = PacketBuf::default();
        p.set(frame).then_some(p)
    }
    /// Replaces the content; false (content unchanged) if `frame` does not fit.
    pub fn set(&mut self, frame: &[u8]) -> bool {
        if frame.len() > BUF_SIZE {
            return false;
        }
        self.data[..frame.len()].copy_from_slice(frame);
        self.len = frame.len();
        true
    }
    /// Copies `head` to the front and sets the length to `len` without touching the bytes in
    /// between: how generators build large test frames at the cost of a small one (the payload
    /// past the stamp carries whatever the buffer held, which no test reads). False (unchanged)
    /// if `len` does not fit or is shorter than `head`.
    pub fn set_head(&mut self, head: &[u8], len: usize) -> bool {
        if len > BUF_SIZE || len < head.len() {
            return false;
        }
        self.data[..head.len()].copy_from_slice(head);
        self.len = len;
        true
    }
    /// [`PacketBuf::set_head`], with the bytes between `head` and `len` zeroed: for frames
    /// whose checksum covers the whole payload (UDP over IPv6 must carry one).
    pub fn set_head_zeroed(&mut self, head: &[u8], len: usize) -> bool {
        if !self.set_head(head, len) {
            return false;
        }
        self.data[head.len()..len].fill(0);
        true
    }
    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }
    /// The first byte of the buffer (whatever the length): a cheap way to pull the frame's
    /// first cache line in.
    #[inline(always)]
    pub fn first_byte(&self) -> u8 {
        self.data[0]
    }
    /// Where the frame's bytes start in memory: for backends that prefetch (the pointer is
    /// never dereferenced outside this type).
    #[inline(always)]
    pub fn head_ptr(&self) -> *const u8 {
        self.data.0.as_ptr()
    }
    /// True for a buffer whose bytes are an mbuf's (a DPDK port received it): it is not a
    /// pool buffer, and freeing it returns the mbuf to its DPDK pool.
    #[inline(always)]
    pub fn is_mbuf(&self) -> bool {
        #[cfg(feature = "dpdk")]
        if let Store::Mbuf(_) = self.data {
            return true;
        }
        false
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
