//! The AF_PACKET backend: a Linux interface through a `TPACKET_V3` memory-mapped receive ring
//! (the kernel fills blocks of frames; one block is handed over per status flip, not one
//! syscall per packet) and a memory-mapped transmit ring (frames are written in place and the
//! kernel is kicked once per burst). Optional `PACKET_FANOUT` spreads one interface over
//! several sockets (queues) by flow hash.
//!
//! Frames are copied between the rings and pool buffers: the ring slots belong to the kernel
//! again as soon as a block is released, and the copy (a cache line or two for small frames)
//! is far cheaper than the kernel's own per-packet work on this path.
//!
//! All `unsafe` of this backend is here: the socket options, the ring mapping, and the reads
//! and writes of ring memory shared with the kernel.

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use super::Port;
use crate::buf::PacketBuf;
use crate::pool::{Pool, PoolCache};

const TPACKET_V3: libc::c_int = 2;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_SEND_REQUEST: u32 = 1;
const TP_STATUS_SENDING: u32 = 2;
const TP_STATUS_WRONG_FORMAT: u32 = 4;
/// Where a frame's data starts in a transmit slot: `TPACKET_ALIGN(sizeof(tpacket3_hdr))`.
const TX_DATA: usize = 48;
/// Block descriptor fields (`struct tpacket_block_desc`, `tpacket_hdr_v1`).
const BLK_STATUS: usize = 8;
const BLK_NUM_PKTS: usize = 12;
const BLK_FIRST: usize = 16;
/// Frame header fields (`struct tpacket3_hdr`).
const HDR_NEXT: usize = 0;
const HDR_SNAPLEN: usize = 12;
const HDR_LEN: usize = 16;
const HDR_STATUS: usize = 20;
const HDR_MAC: usize = 24;

/// Transmit slots of a port unless configured otherwise (2 MiB of 2-KiB slots).
pub const DEFAULT_TX_RING: u32 = 1024;

/// Checks a configured transmit ring size: a power of two, 256..=32768 slots of 2 KiB.
pub fn check_tx_ring(slots: u32) -> Result<(), String> {
    if slots.is_power_of_two() && (256..=32_768).contains(&slots) {
        return Ok(());
    }
    Err(format!(
        "{slots}: must be a power of two from 256 to 32768 (transmit slots of 2 KiB)"
    ))
}

/// Ring geometry and socket options of one AF_PACKET port.
#[derive(Clone, Debug)]
pub struct AfPacketConfig {
    pub iface: String,
    /// Receive ring: blocks of `block_size` bytes (a multiple of the page size).
    pub rx_blocks: usize,
    pub block_size: usize,
    /// Milliseconds after which the kernel hands over a block that is not full.
    pub block_timeout_ms: u32,
    /// Transmit ring slots (2 KiB each).
    pub tx_frames: usize,
    /// Join this fanout group (hashing flows over the group's sockets).
    pub fanout: Option<u16>,
    /// Skip the interface's qdisc on transmit (lower cost; no traffic shaping).
    pub qdisc_bypass: bool,
}

impl AfPacketConfig {
    pub fn new(iface: &str) -> Self {
        AfPacketConfig {
            iface: iface.to_string(),
            rx_blocks: 64,
            block_size: 1 << 16,
            block_timeout_ms: 1,
            tx_frames: DEFAULT_TX_RING as usize,
            fanout: None,
            qdisc_bypass: true,
        }
    }
}

/// A mapped region shared with the kernel.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, unmapped once, here.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast::<c_void>(), self.len);
        }
    }
}

/// One AF_PACKET port.
pub struct AfPacket {
    name: String,
    // Field order matters: the mapping is unmapped before the socket closes.
    map: Mapping,
    fd: OwnedFd,
    cache: PoolCache,
    block_size: usize,
    rx_blocks: usize,
    /// Receive cursor: current block, whether we hold it, the next frame's offset in it and
    /// the frames left in it.
    block: usize,
    held: bool,
    offset: usize,
    left: u32,
    tx_base: usize,
    tx_frames: usize,
    tx_head: usize,
    /// Frames the kernel refused to send (malformed or too long).
    pub tx_errors: u64,
    /// Frames longer than a pool buffer, dropped on receive.
    pub rx_truncated: u64,
}

// SAFETY: the mapping and the socket belong to this port alone; moving the port to another
// thread moves that exclusive ownership with it.
unsafe impl Send for AfPacket {}

fn check(ret: libc::c_int, what: &str, iface: &str) -> io::Result<()> {
    if ret < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{iface}: {what}: {e}")))
    } else {
        Ok(())
    }
}

fn setopt<T>(fd: RawFd, level: libc::c_int, opt: libc::c_int, v: &T) -> libc::c_int {
    // SAFETY: `v` is a live value of the size passed, as the option expects.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (v as *const T).cast::<c_void>(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    }
}

impl AfPacket {
    /// Opens `cfg.iface` (needs CAP_NET_RAW). Buffers for received frames come from `pool`.
    pub fn open(cfg: &AfPacketConfig, pool: &Pool) -> io::Result<Self> {
        let iface = cfg.iface.as_str();
        let page = 4096;
        if cfg.block_size < page || !cfg.block_size.is_multiple_of(page) || cfg.rx_blocks == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{iface}: the receive ring needs blocks of whole pages"),
            ));
        }
        let ifindex = nix::net::if_::if_nametoindex(iface).map_err(|e| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{iface}: no such interface ({e})"),
            )
        })?;
        // Protocol 0: the socket receives nothing until it is bound, after the rings exist.
        // SAFETY: plain socket(2) call; the descriptor is owned right below.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        check(raw, "socket(AF_PACKET) (needs CAP_NET_RAW)", iface)?;
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        check(
            setopt(s, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V3),
            "PACKET_VERSION TPACKET_V3",
            iface,
        )?;
        // Our own transmissions are not received back (Linux 4.20+; harmless if refused).
        let one: libc::c_int = 1;
        let _ = setopt(s, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one);
        if cfg.qdisc_bypass {
            let _ = setopt(s, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one);
        }
        let frame = 2048usize;
        let rx = libc::tpacket_req3 {
            tp_block_size: cfg.block_size as u32,
            tp_block_nr: cfg.rx_blocks as u32,
            tp_frame_size: frame as u32,
            tp_frame_nr: (cfg.block_size / frame * cfg.rx_blocks) as u32,
            tp_retire_blk_tov: cfg.block_timeout_ms.max(1),
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        check(
            setopt(s, libc::SOL_PACKET, libc::PACKET_RX_RING, &rx),
            "PACKET_RX_RING",
            iface,
        )?;
        let per_block = cfg.block_size / frame;
        let tx_blocks = cfg.tx_frames.div_ceil(per_block).max(1);
        let tx = libc::tpacket_req3 {
            tp_block_size: cfg.block_size as u32,
            tp_block_nr: tx_blocks as u32,
            tp_frame_size: frame as u32,
            tp_frame_nr: (tx_blocks * per_block) as u32,
            tp_retire_blk_tov: 0,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        check(
            setopt(s, libc::SOL_PACKET, libc::PACKET_TX_RING, &tx),
            "PACKET_TX_RING",
            iface,
        )?;
        let rx_len = cfg.block_size * cfg.rx_blocks;
        let len = rx_len + cfg.block_size * tx_blocks;
        // SAFETY: maps the rings just configured on `s`; the result is checked and owned by
        // `Mapping`, which unmaps it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                s,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::other(format!(
                "{iface}: mmap of the rings: {}",
                io::Error::last_os_error()
            )));
        }
        let map = Mapping {
            ptr: NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("null mapping"))?,
            len,
        };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value, fields set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll of the length given.
        let r = unsafe {
            libc::bind(
                s,
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        check(r, "bind", iface)?;
        // Frames for any MAC: a router port is addressed by its own configured MAC, which
        // need not be the interface's.
        // SAFETY: packet_mreq is plain data; zeroed is valid, fields set below.
        let mut mr: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mr.mr_ifindex = ifindex as i32;
        mr.mr_type = libc::PACKET_MR_PROMISC as u16;
        check(
            setopt(s, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mr),
            "PACKET_ADD_MEMBERSHIP promiscuous",
            iface,
        )?;
        if let Some(group) = cfg.fanout {
            let arg: u32 = u32::from(group) | (libc::PACKET_FANOUT_HASH << 16);
            check(
                setopt(s, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg),
                "PACKET_FANOUT",
                iface,
            )?;
        }
        Ok(AfPacket {
            name: iface.to_string(),
            map,
            fd,
            cache: pool.cache(),
            block_size: cfg.block_size,
            rx_blocks: cfg.rx_blocks,
            block: 0,
            held: false,
            offset: 0,
            left: 0,
            tx_base: rx_len,
            tx_frames: tx_blocks * per_block,
            tx_head: 0,
            tx_errors: 0,
            rx_truncated: 0,
        })
    }

    /// A 32-bit field of ring memory shared with the kernel, read or written atomically.
    fn word(&self, at: usize) -> &AtomicU32 {
        debug_assert!(at + 4 <= self.map.len && at.is_multiple_of(4));
        // Ring offsets come from the geometry the kernel accepted.
        // SAFETY: `at` is 4-aligned and inside the mapping; the kernel writes these words
        // concurrently, so they are only accessed through atomics.
        unsafe { &*self.map.ptr.as_ptr().add(at).cast::<AtomicU32>() }
    }

    fn read_u32(&self, at: usize) -> u32 {
        self.word(at).load(Ordering::Relaxed)
    }

    /// Frames the kernel dropped because the receive ring was full, since the last call
    /// (`PACKET_STATISTICS` resets on read).
    pub fn ring_drops(&self) -> u64 {
        let mut st = [0u32; 3];
        let mut len = std::mem::size_of_val(&st) as libc::socklen_t;
        // SAFETY: `st` matches tpacket_stats_v3 (3 x u32) and `len` says so.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                st.as_mut_ptr().cast::<c_void>(),
                &mut len,
            )
        };
        if r < 0 {
            0
        } else {
            u64::from(st[1])
        }
    }
}

impl Port for AfPacket {
    fn rx_burst(&mut self, out: &mut Vec<PacketBuf>, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let base = self.block * self.block_size;
            if !self.held {
                if self.word(base + BLK_STATUS).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                    break;
                }
                self.held = true;
                self.left = self.read_u32(base + BLK_NUM_PKTS);
                self.offset = self.read_u32(base + BLK_FIRST) as usize;
            }
            if self.left == 0 {
                // The block is consumed: give it back and move on.
                self.word(base + BLK_STATUS)
                    .store(TP_STATUS_KERNEL, Ordering::Release);
                self.held = false;
                self.block = (self.block + 1) % self.rx_blocks;
                continue;
            }
            let h = base + self.offset;
            if h + 32 > base + self.block_size {
                // A frame header outside its block would be a kernel bug; drop the block.
                self.rx_truncated += u64::from(self.left);
                self.left = 0;
                continue;
            }
            let snap = self.read_u32(h + HDR_SNAPLEN) as usize;
            let len = self.read_u32(h + HDR_LEN) as usize;
            // tp_mac is the low half of the word it shares with tp_net (little-endian).
            let mac = usize::from(self.read_u32(h + HDR_MAC) as u16);
            let next = self.read_u32(h + HDR_NEXT) as usize;
            let start = h + mac;
            if snap == len && start + snap <= base + self.block_size {
                let Some(mut b) = self.cache.get() else {
                    break; // pool exhausted: the frame waits for the next burst
                };
                let base_ptr = self.map.ptr.as_ptr();
                // SAFETY: the frame lies inside this block (checked above), which the kernel
                // handed to us (TP_STATUS_USER) and does not write until it is released.
                let data = unsafe { std::slice::from_raw_parts(base_ptr.add(start), snap) };
                if b.set(data) {
                    out.push(b);
                    n += 1;
                } else {
                    self.rx_truncated += 1;
                    self.cache.put(b);
                }
            } else {
                // Cut by the kernel (longer than a ring slot, e.g. an offloaded super-frame).
                self.rx_truncated += 1;
            }
            self.left -= 1;
            self.offset += next;
        }
        n
    }

    fn tx_burst(&mut self, bufs: &mut Vec<PacketBuf>) -> usize {
        let slot = 2048usize;
        let mut sent = 0;
        for b in bufs.iter() {
            let h = self.tx_base + self.tx_head * slot;
            let st = self.word(h + HDR_STATUS).load(Ordering::Acquire);
            if st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING) != 0 {
                break; // ring full: the kernel has not sent this slot yet
            }
            if st & TP_STATUS_WRONG_FORMAT != 0 {
                self.tx_errors += 1;
            }
            let len = b.len().min(slot - TX_DATA);
            // SAFETY: the slot is ours (status AVAILABLE or WRONG_FORMAT) and `TX_DATA + len`
            // stays inside it.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    b.bytes().as_ptr(),
                    self.map.ptr.as_ptr().add(h + TX_DATA),
                    len,
                );
            }
            self.word(h + HDR_NEXT).store(0, Ordering::Relaxed);
            self.word(h + HDR_LEN).store(len as u32, Ordering::Relaxed);
            self.word(h + HDR_SNAPLEN)
                .store(len as u32, Ordering::Relaxed);
            self.word(h + HDR_STATUS)
                .store(TP_STATUS_SEND_REQUEST, Ordering::Release);
            self.tx_head = (self.tx_head + 1) % self.tx_frames;
            sent += 1;
        }
        if sent > 0 {
            // One kick per burst; the kernel sends every slot marked SEND_REQUEST.
            // SAFETY: a zero-length send on our socket, no buffer.
            unsafe {
                libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT);
            }
            for b in bufs.drain(..sent) {
                self.cache.put(b);
            }
        }
        sent
    }

    fn rx_dropped(&mut self) -> u64 {
        let cut = std::mem::take(&mut self.rx_truncated);
        self.ring_drops() + cut
    }

    fn rx_capacity(&self) -> usize {
        // About 400 minimum-size frames fit a 64 KiB block.
        self.rx_blocks * self.block_size / 160
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }

    fn name(&self) -> &str {
        &self.name
    }
}
