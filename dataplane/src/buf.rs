//! Packet buffers, the bottom layer of the engine: every other module (pool, ports,
//! neighbours, pipeline) moves frames as [`PacketBuf`]s. A buffer has a fixed capacity of
//! [`BUF_SIZE`] bytes, cache-line aligned, and a current length; it is allocated once (by the
//! pool) and moved by pointer from then on.

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

/// A packet buffer: fixed capacity, current length. The pipeline rewrites frames in place and
/// may replace one by a (possibly longer) reply.
#[derive(Clone)]
pub struct PacketBuf {
    pub(crate) data: Box<Storage>,
    pub(crate) len: usize,
}

impl Default for PacketBuf {
    fn default() -> Self {
        PacketBuf {
            data: Box::new(Storage([0; BUF_SIZE])),
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
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
