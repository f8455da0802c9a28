//! The AF_XDP backend: an XDP socket per port with its own UMEM, through the system libxdp
//! (`xsk_umem__create`, `xsk_socket__create`). libxdp loads and attaches its default XDP
//! program, which redirects the interface's frames to the socket; no BPF is built or loaded by
//! vrouter itself. The four rings (fill, completion, RX, TX) are shared memory with the kernel
//! and are driven here with the same acquire/release protocol as libxdp's inline helpers.
//!
//! Modes: `native` (the driver runs XDP; veth supports it), `generic` (XDP on the socket-buffer
//! path, works everywhere, slower), or `auto`: native, falling back to generic with a message.
//! Frames are copied between UMEM frames and pool buffers (veth has no zero-copy mode).
//!
//! The backend is three files: `ffi` (libxdp/libbpf declarations and kernel ABI structs),
//! `ring` (the producer/consumer protocol of the shared rings) and this one (the port: UMEM,
//! socket, attach/detach, burst RX/TX). All `unsafe` of the backend is in these three, each
//! block with a `// SAFETY:` line.

use std::ffi::{c_int, c_void, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::ptr::{self, NonNull};

mod ffi;
mod ring;

use ffi::*;
use ring::XskRing;

use super::Port;
use crate::buf::PacketBuf;
use crate::pool::{Pool, PoolCache};

const FRAME: usize = 2048;
/// Default ring size (descriptors per ring; the UMEM holds twice as many frames): 64 MiB of
/// frames per port, room for about 15 ms of 1 Mp/s when the router's vCPU stalls.
pub const DEFAULT_RING: u32 = 16384;
/// Ring sizes a port accepts (powers of two).
pub const RING_RANGE: std::ops::RangeInclusive<u32> = 256..=32768;

/// Checks a ring size (descriptors per ring): a power of two in [`RING_RANGE`].
pub fn check_ring(ring: u32) -> Result<(), String> {
    if ring.is_power_of_two() && RING_RANGE.contains(&ring) {
        return Ok(());
    }
    Err(format!(
        "{ring}: must be a power of two from {} to {} (each port pins 4 KiB per descriptor)",
        RING_RANGE.start(),
        RING_RANGE.end()
    ))
}

/// How XDP runs on the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// Native, else generic (with a message saying so).
    Auto,
    Native,
    Generic,
}

impl std::str::FromStr for XdpMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(XdpMode::Auto),
            "native" => Ok(XdpMode::Native),
            "generic" => Ok(XdpMode::Generic),
            o => Err(format!(
                "xdp mode must be auto, native or generic, not `{o}`"
            )),
        }
    }
}

/// One AF_XDP port (queue 0 of an interface).
pub struct AfXdp {
    name: String,
    xsk: NonNull<XskSocket>,
    umem: NonNull<XskUmem>,
    area: NonNull<u8>,
    fill: Box<XskRing>,
    comp: Box<XskRing>,
    rx: Box<XskRing>,
    tx: Box<XskRing>,
    /// UMEM frames free for transmission.
    free: Vec<u64>,
    cache: PoolCache,
    /// The mode XDP ended up in.
    pub mode: XdpMode,
    /// Receive drops reported so far (the kernel's counters are cumulative).
    reported: u64,
    /// Descriptors per ring; the UMEM holds `2 * ring` frames.
    ring: u32,
    /// The XDP program libxdp attached for this socket, if the interface had none before.
    attached: Option<Attached>,
    /// Holds the interface promiscuous while the port lives (see [`promiscuous`]).
    _promisc: Option<OwnedFd>,
}

/// Makes `ifindex` promiscuous for as long as the returned socket is open: a packet socket
/// (protocol 0, so it receives nothing) with a promiscuous membership, which the kernel counts
/// and drops with the socket. A router port is addressed by its configured MAC, which need not
/// be the interface's; XDP runs before the stack's MAC check, but a NIC filters by MAC first
/// (QEMU's virtio-net does, and a guest's AF_XDP router saw only broadcasts without this).
fn promiscuous(ifindex: c_int, iface: &str) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned below.
    let s = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("{iface}: packet socket: {e}"),
        ));
    }
    // SAFETY: `s` is a fresh descriptor that nothing else owns.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(s) };
    // SAFETY: packet_mreq is plain data; zeroed is valid, fields set below.
    let mut mr: libc::packet_mreq = unsafe { std::mem::zeroed() };
    mr.mr_ifindex = ifindex;
    mr.mr_type = libc::PACKET_MR_PROMISC as u16;
    // SAFETY: `mr` is a valid packet_mreq of the length given, for a socket we own.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            (&mr as *const libc::packet_mreq).cast::<c_void>(),
            std::mem::size_of::<libc::packet_mreq>() as libc::socklen_t,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("{iface}: promiscuous membership: {e}"),
        ));
    }
    Ok(fd)
}

/// An XDP program this port attached, to detach on drop. libxdp detaches its program itself
/// only where it can keep count of its users in a bpffs (`/sys/fs/bpf`); without one it leaves
/// the program behind, and the next AF_XDP socket on the interface fails with EBUSY.
struct Attached {
    /// The network namespace of the interface (interface indexes are per namespace).
    netns: OwnedFd,
    ifindex: c_int,
    /// The XDP mode flag it was attached with.
    flags: u32,
    prog_id: u32,
}

/// The id of the XDP program attached to `ifindex` in the current namespace (0: none).
fn xdp_prog_id(ifindex: c_int) -> u32 {
    let mut id = 0u32;
    // SAFETY: `id` is a valid place for the kernel's answer; a bad index returns an error.
    let r = unsafe { bpf_xdp_query_id(ifindex, 0, &mut id) };
    if r == 0 {
        id
    } else {
        0
    }
}

impl Attached {
    /// Detaches the program if it is still the one attached, from a helper thread placed in the
    /// interface's namespace (the dropping thread may be in another).
    fn detach(self) {
        let _ = std::thread::spawn(move || {
            // SAFETY: moves this fresh helper thread (only) into the namespace the descriptor
            // refers to; nothing else runs on it.
            if unsafe { libc::setns(self.netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return;
            }
            if xdp_prog_id(self.ifindex) != self.prog_id {
                return; // already gone (libxdp had a bpffs), or replaced by someone else
            }
            // SAFETY: looks a program up by id; the returned descriptor is closed below.
            let fd = unsafe { bpf_prog_get_fd_by_id(self.prog_id) };
            if fd < 0 {
                return;
            }
            let opts = XdpAttachOpts {
                sz: std::mem::size_of::<XdpAttachOpts>(),
                old_prog_fd: fd,
            };
            // SAFETY: `opts` is a valid bpf_xdp_attach_opts; with XDP_FLAGS_REPLACE the kernel
            // detaches only if `fd`'s program is still the attached one.
            unsafe {
                bpf_xdp_detach(self.ifindex, self.flags | XDP_FLAGS_REPLACE, &opts);
                libc::close(fd);
            }
        })
        .join();
    }
}

// SAFETY: the socket, UMEM and rings belong to this port alone; moving the port moves that
// exclusive ownership to another thread (libxdp handles carry no thread affinity).
unsafe impl Send for AfXdp {}

fn area_alloc(len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: anonymous private mapping; the result is checked and unmapped in Drop.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("null UMEM mapping"))
}

impl AfXdp {
    /// Opens queue 0 of `iface` with rings of [`DEFAULT_RING`] (needs CAP_NET_ADMIN and
    /// CAP_BPF/CAP_SYS_ADMIN). Buffers for received frames come from `pool`.
    pub fn open(iface: &str, mode: XdpMode, pool: &Pool) -> io::Result<Self> {
        Self::open_with(iface, mode, DEFAULT_RING, pool)
    }

    /// [`AfXdp::open`] with `ring` descriptors per ring (a power of two in [`RING_RANGE`]) and
    /// `2 * ring` UMEM frames of 2 KiB, all pinned by the kernel.
    pub fn open_with(iface: &str, mode: XdpMode, ring: u32, pool: &Pool) -> io::Result<Self> {
        check_ring(ring).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{iface}: AF_XDP ring {e}"),
            )
        })?;
        let frames = 2 * ring as usize;
        let err = |what: &str, code: c_int| {
            let e = io::Error::from_raw_os_error(-code);
            io::Error::new(e.kind(), format!("{iface}: {what}: {e}"))
        };
        // libbpf's notes while libxdp loads its program (e.g. "skipping unrecognized data
        // section") are noise for operators; failures come back as error codes, reported here.
        // SAFETY: sets a process-wide callback pointer to NULL (no callback), which libbpf
        // documents as silencing its output.
        unsafe {
            libbpf_set_print(ptr::null());
        }
        let len = frames * FRAME;
        let area =
            area_alloc(len).map_err(|e| io::Error::new(e.kind(), format!("{iface}: UMEM: {e}")))?;
        let mut fill = Box::new(XskRing::empty());
        let mut comp = Box::new(XskRing::empty());
        let ucfg = UmemConfig {
            fill_size: ring,
            comp_size: ring,
            frame_size: FRAME as u32,
            frame_headroom: 0,
            flags: 0,
        };
        let mut umem: *mut XskUmem = ptr::null_mut();
        // SAFETY: `area` is a live mapping of `len` bytes; the ring structs are boxed (stable
        // addresses) and outlive the UMEM, which Drop deletes before unmapping.
        let r = unsafe {
            xsk_umem__create(
                &mut umem,
                area.as_ptr().cast::<c_void>(),
                len as u64,
                &mut *fill,
                &mut *comp,
                &ucfg,
            )
        };
        if r != 0 {
            // SAFETY: unmapping the area allocated above, not shared with anything.
            unsafe { libc::munmap(area.as_ptr().cast::<c_void>(), len) };
            return Err(err("xsk_umem__create", r));
        }
        let umem = NonNull::new(umem).ok_or_else(|| io::Error::other("null UMEM"))?;
        let name = CString::new(iface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has NUL"))?;
        let mut rx = Box::new(XskRing::empty());
        let mut tx = Box::new(XskRing::empty());
        let tries: &[(XdpMode, u32)] = match mode {
            XdpMode::Native => &[(XdpMode::Native, XDP_FLAGS_DRV_MODE)],
            XdpMode::Generic => &[(XdpMode::Generic, XDP_FLAGS_SKB_MODE)],
            XdpMode::Auto => &[
                (XdpMode::Native, XDP_FLAGS_DRV_MODE),
                (XdpMode::Generic, XDP_FLAGS_SKB_MODE),
            ],
        };
        // SAFETY: a valid C string; 0 (unknown interface) is handled below.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as c_int;
        let before = if ifindex > 0 { xdp_prog_id(ifindex) } else { 0 };
        let mut last = 0;
        let mut got = None;
        for &(m, flags) in tries {
            let scfg = SocketConfig {
                rx_size: ring,
                tx_size: ring,
                libxdp_flags: 0,
                xdp_flags: flags,
                bind_flags: XDP_COPY,
            };
            let mut xsk: *mut XskSocket = ptr::null_mut();
            // SAFETY: valid C string, UMEM and boxed rings as above; on failure libxdp leaves
            // nothing attached to `xsk`.
            let r = unsafe {
                xsk_socket__create(
                    &mut xsk,
                    name.as_ptr(),
                    0,
                    umem.as_ptr(),
                    &mut *rx,
                    &mut *tx,
                    &scfg,
                )
            };
            if r == 0 {
                got = NonNull::new(xsk).map(|x| (x, m, flags));
                break;
            }
            last = r;
            if r == -libc::EBUSY && before != 0 {
                break; // another program holds the interface: no mode will do
            }
            if mode == XdpMode::Auto && m == XdpMode::Native {
                eprintln!(
                    "afxdp: {iface}: native XDP mode refused ({}); falling back to generic (copy) mode",
                    io::Error::from_raw_os_error(-r)
                );
            }
        }
        let Some((xsk, mode, flags)) = got else {
            // SAFETY: the UMEM has no socket; delete it, then unmap its area.
            unsafe {
                xsk_umem__delete(umem.as_ptr());
                libc::munmap(area.as_ptr().cast::<c_void>(), len);
            }
            if before != 0 && last == -libc::EBUSY {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!(
                        "{iface}: an XDP program (id {before}) is already attached, left by \
                         another AF_XDP user or one that did not exit cleanly; if nothing uses \
                         it, remove it with `ip link set dev {iface} xdp off`"
                    ),
                ));
            }
            return Err(err("xsk_socket__create (XDP program attach or bind)", last));
        };
        // Ours to detach on drop only if the interface had no program before.
        let after = if ifindex > 0 { xdp_prog_id(ifindex) } else { 0 };
        let attached = if before == 0 && after != 0 {
            std::fs::File::open("/proc/thread-self/ns/net")
                .ok()
                .map(|ns| Attached {
                    netns: ns.into(),
                    ifindex,
                    flags,
                    prog_id: after,
                })
        } else {
            None
        };
        let mut port = AfXdp {
            name: iface.to_string(),
            xsk,
            umem,
            area,
            fill,
            comp,
            rx,
            tx,
            free: Vec::with_capacity(frames),
            cache: pool.cache(),
            mode,
            reported: 0,
            ring,
            attached,
            _promisc: None,
        };
        // On failure the port is dropped: socket, UMEM and program go with it.
        port._promisc = Some(promiscuous(ifindex, iface)?);
        // Half the frames wait in the fill ring for the kernel; half are for transmission.
        if let Some(idx) = port.fill.reserve(ring) {
            for k in 0..ring {
                // SAFETY: slot reserved above, inside the fill ring.
                unsafe { *port.fill.addr(idx.wrapping_add(k)) = u64::from(k) * FRAME as u64 };
            }
            port.fill.submit(ring);
        }
        port.free = (ring as usize..frames)
            .map(|k| (k * FRAME) as u64)
            .collect();
        Ok(port)
    }

    /// Copy mode transmits from the system call, at most 32 frames per call (the kernel's
    /// TX_BATCH_SIZE, then EAGAIN): kicks until the `n` frames in the TX ring are gone, or
    /// they would wait for the next burst (which may never come: TCP stalls waiting for them).
    /// Bounded, in case the kernel stops consuming (completion ring or NIC queue full): then
    /// the next `tx_burst` kicks again.
    fn kick(&mut self, n: u32) {
        for _ in 0..n.div_ceil(32) + 1 {
            // SAFETY: a zero-length send on our socket, no buffer.
            let r = unsafe {
                libc::sendto(
                    self.raw_fd(),
                    ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    ptr::null(),
                    0,
                )
            };
            // A full batch returns EAGAIN with more to send; other errors (EBUSY: completion
            // ring full, ENOBUFS, ENETDOWN) stop the kicks until the next burst.
            let again =
                r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN);
            if (r < 0 && !again) || self.tx.unconsumed() == 0 {
                break;
            }
        }
    }

    fn frame(&self, addr: u64, len: usize) -> &[u8] {
        // SAFETY: `addr` came from the kernel's RX descriptor for our UMEM, and `addr + len`
        // stays inside one frame of the area (checked by the caller).
        unsafe { std::slice::from_raw_parts(self.area.as_ptr().add(addr as usize), len) }
    }

    /// Takes back frames the kernel has sent.
    fn reclaim(&mut self) {
        let (idx, n) = self.comp.peek(self.ring);
        for k in 0..n {
            // SAFETY: entry `idx + k` was made available by the kernel (peek).
            let addr = unsafe { *self.comp.addr(idx.wrapping_add(k)) };
            self.free.push(addr);
        }
        if n > 0 {
            self.comp.release(n);
        }
    }
}

impl Port for AfXdp {
    fn rx_burst(&mut self, out: &mut Vec<PacketBuf>, max: usize) -> usize {
        let (idx, n) = self.rx.peek(max as u32);
        if n == 0 {
            return 0;
        }
        // Every frame taken from the RX ring goes straight back to the fill ring, which it
        // came from (so the room is there; if not, it joins the transmit frames).
        let fill = self.fill.reserve(n);
        let area = self.area_len();
        let mut got = 0;
        for k in 0..n {
            // SAFETY: descriptor `idx + k` was made available by the kernel (peek).
            let d = unsafe { *self.rx.desc(idx.wrapping_add(k)) };
            let len = d.len as usize;
            if (d.addr as usize % FRAME) + len <= FRAME && (d.addr as usize) < area {
                if let Some(mut b) = self.cache.get() {
                    if b.set(self.frame(d.addr, len)) {
                        out.push(b);
                        got += 1;
                    } else {
                        self.cache.put(b);
                    }
                }
            }
            // Back to the fill ring, aligned to the frame's start.
            let frame = d.addr - d.addr % FRAME as u64;
            match fill {
                // SAFETY: slot `k` of the `n` reserved above, inside the fill ring.
                Some(f) => unsafe { *self.fill.addr(f.wrapping_add(k)) = frame },
                None => self.free.push(frame),
            }
        }
        self.rx.release(n);
        if fill.is_some() {
            self.fill.submit(n);
        }
        got
    }

    fn tx_burst(&mut self, bufs: &mut Vec<PacketBuf>) -> usize {
        // Frames an earlier burst left in the TX ring (its kicks stopped when the NIC's queue
        // was full) go first. Without this kick a full TX ring was never kicked again, and a
        // guest's router stopped sending for good after one flood.
        let waiting = self.tx.unconsumed();
        if waiting > 0 {
            self.kick(waiting);
        }
        self.reclaim();
        let n = bufs.len().min(self.free.len()) as u32;
        if n == 0 {
            return 0;
        }
        let Some(idx) = self.tx.reserve(n) else {
            return 0;
        };
        for (k, b) in bufs.iter().take(n as usize).enumerate() {
            let addr = self.free.pop().unwrap_or(0);
            let len = b.len().min(FRAME);
            // SAFETY: `addr` is a frame of our UMEM not owned by the kernel (free list), and
            // the copy stays inside it; the TX slot was reserved above.
            unsafe {
                ptr::copy_nonoverlapping(
                    b.bytes().as_ptr(),
                    self.area.as_ptr().add(addr as usize),
                    len,
                );
                *self.tx.desc(idx.wrapping_add(k as u32)) = XdpDesc {
                    addr,
                    len: len as u32,
                    options: 0,
                };
            }
        }
        self.tx.submit(n);
        self.kick(self.tx.unconsumed());
        for b in bufs.drain(..n as usize) {
            self.cache.put(b);
        }
        n as usize
    }

    fn rx_dropped(&mut self) -> u64 {
        let mut st = XdpStatistics::default();
        let mut len = std::mem::size_of::<XdpStatistics>() as libc::socklen_t;
        // SAFETY: `st` is a writable xdp_statistics of the size passed in `len`; the kernel
        // writes at most that many bytes.
        let r = unsafe {
            libc::getsockopt(
                self.raw_fd(),
                libc::SOL_XDP,
                libc::XDP_STATISTICS,
                (&mut st as *mut XdpStatistics).cast::<c_void>(),
                &mut len,
            )
        };
        if r < 0 {
            return 0;
        }
        let total = st.rx_dropped + st.rx_ring_full + st.rx_invalid_descs;
        let new = total.saturating_sub(self.reported);
        self.reported = total;
        new
    }

    fn rx_capacity(&self) -> usize {
        self.ring as usize
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        // SAFETY: the descriptor belongs to the socket, which lives as long as `self`.
        Some(unsafe { BorrowedFd::borrow_raw(self.raw_fd()) })
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl AfXdp {
    /// Bytes of the UMEM area.
    fn area_len(&self) -> usize {
        2 * self.ring as usize * FRAME
    }

    fn raw_fd(&self) -> RawFd {
        // SAFETY: a live socket handle.
        unsafe { xsk_socket__fd(self.xsk.as_ptr()) }
    }
}

impl AsRawFd for AfXdp {
    fn as_raw_fd(&self) -> RawFd {
        self.raw_fd()
    }
}

impl Drop for AfXdp {
    fn drop(&mut self) {
        // SAFETY: socket first (it detaches the XDP program), then the UMEM, then its memory;
        // each handle is deleted once.
        unsafe {
            xsk_socket__delete(self.xsk.as_ptr());
            xsk_umem__delete(self.umem.as_ptr());
            libc::munmap(self.area.as_ptr().cast::<c_void>(), self.area_len());
        }
        if let Some(a) = self.attached.take() {
            a.detach();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_are_checked_before_anything_is_opened() {
        let pool = Pool::new(64);
        for bad in [0, 100, 128, 1000, 65536] {
            let e = AfXdp::open_with("lo", XdpMode::Auto, bad, &pool)
                .err()
                .unwrap();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("must be a power of two"), "{e}");
        }
    }
}
