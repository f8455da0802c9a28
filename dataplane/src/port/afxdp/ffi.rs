//! libxdp and libbpf as vrouter calls them: the C declarations, the kernel ABI structs they
//! take, and the XDP flag values (from `linux/if_xdp.h` and `linux/if_link.h`).

use std::ffi::{c_int, c_void};

use super::ring::XskRing;

#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct XdpDesc {
    pub(super) addr: u64,
    pub(super) len: u32,
    pub(super) options: u32,
}

#[repr(C)]
pub(super) struct UmemConfig {
    pub(super) fill_size: u32,
    pub(super) comp_size: u32,
    pub(super) frame_size: u32,
    pub(super) frame_headroom: u32,
    pub(super) flags: u32,
}

#[repr(C)]
pub(super) struct SocketConfig {
    pub(super) rx_size: u32,
    pub(super) tx_size: u32,
    pub(super) libxdp_flags: u32,
    pub(super) xdp_flags: u32,
    pub(super) bind_flags: u16,
}

pub(super) enum XskUmem {}
pub(super) enum XskSocket {}

/// `struct bpf_xdp_attach_opts` (libbpf 1.x).
#[repr(C)]
pub(super) struct XdpAttachOpts {
    pub(super) sz: usize,
    pub(super) old_prog_fd: c_int,
}

#[link(name = "bpf")]
extern "C" {
    /// Replaces libbpf's log callback; NULL silences it.
    pub(super) fn libbpf_set_print(f: *const c_void) -> *const c_void;
    pub(super) fn bpf_xdp_query_id(ifindex: c_int, flags: c_int, prog_id: *mut u32) -> c_int;
    pub(super) fn bpf_xdp_detach(ifindex: c_int, flags: u32, opts: *const XdpAttachOpts) -> c_int;
    pub(super) fn bpf_prog_get_fd_by_id(id: u32) -> c_int;
}

#[link(name = "xdp")]
extern "C" {
    pub(super) fn xsk_umem__create(
        umem: *mut *mut XskUmem,
        area: *mut c_void,
        size: u64,
        fill: *mut XskRing,
        comp: *mut XskRing,
        config: *const UmemConfig,
    ) -> c_int;
    pub(super) fn xsk_socket__create(
        xsk: *mut *mut XskSocket,
        ifname: *const std::ffi::c_char,
        queue_id: u32,
        umem: *mut XskUmem,
        rx: *mut XskRing,
        tx: *mut XskRing,
        config: *const SocketConfig,
    ) -> c_int;
    pub(super) fn xsk_socket__fd(xsk: *const XskSocket) -> c_int;
    pub(super) fn xsk_umem__delete(umem: *mut XskUmem) -> c_int;
    pub(super) fn xsk_socket__delete(xsk: *mut XskSocket);
}

pub(super) const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
pub(super) const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
pub(super) const XDP_FLAGS_REPLACE: u32 = 1 << 4;
pub(super) const XDP_COPY: u16 = 1 << 1;

/// `struct xdp_statistics` (the first three fields are in every kernel with AF_XDP).
#[repr(C)]
#[derive(Default)]
pub(super) struct XdpStatistics {
    pub(super) rx_dropped: u64,
    pub(super) rx_invalid_descs: u64,
    pub(super) tx_invalid_descs: u64,
    pub(super) rx_ring_full: u64,
    pub(super) rx_fill_ring_empty_descs: u64,
    pub(super) tx_ring_empty_descs: u64,
}
