//! DPDK's `rte_lpm` (IPv4, DIR-24-8) and `rte_lpm6`, for `vrouter bench lpm --with-rte-lpm`:
//! tables in the EAL's memory, lookups through the shim (they are `static inline` in DPDK).

use super::{err, rte_errno, sys, DpdkError};
use std::ffi::CString;
use std::ptr::NonNull;

/// An IPv4 `rte_lpm` table.
pub struct RteLpm(NonNull<sys::rte_lpm>);
/// An IPv6 `rte_lpm6` table.
pub struct RteLpm6(NonNull<sys::rte_lpm6>);

// SAFETY: lookups only read the table; updates take &mut self.
unsafe impl Send for RteLpm {}
// SAFETY: as above.
unsafe impl Sync for RteLpm {}
// SAFETY: as above.
unsafe impl Send for RteLpm6 {}
// SAFETY: as above.
unsafe impl Sync for RteLpm6 {}

impl RteLpm {
    /// A table for `max_rules` prefixes with `tbl8s` second-level groups.
    pub fn new(name: &str, max_rules: u32, tbl8s: u32) -> Result<Self, DpdkError> {
        let cname = CString::new(name).expect("no NUL in table names");
        let cfg = sys::rte_lpm_config {
            max_rules,
            number_tbl8s: tbl8s,
            flags: 0,
        };
        // SAFETY: valid name and config for the call; the EAL must be running (else NULL
        // and rte_errno, handled).
        let p = unsafe { sys::rte_lpm_create(cname.as_ptr(), 0, &cfg) };
        NonNull::new(p)
            .map(RteLpm)
            .ok_or_else(|| err("rte_lpm_create", rte_errno()))
    }
    /// Adds `prefix/depth` → `hop` (hop < 2^24).
    pub fn add(&mut self, prefix: u32, depth: u8, hop: u32) -> Result<(), DpdkError> {
        // SAFETY: the table is alive and exclusively borrowed.
        let r = unsafe { sys::rte_lpm_add(self.0.as_ptr(), prefix, depth, hop) };
        if r < 0 {
            return Err(err("rte_lpm_add", r));
        }
        Ok(())
    }
    /// The next hop of `ip`, if a route covers it.
    #[inline]
    pub fn lookup(&self, ip: u32) -> Option<u32> {
        let mut hop = 0;
        // SAFETY: the table is alive; `hop` is a valid out-pointer.
        let r = unsafe { sys::vr_lpm_lookup(self.0.as_ptr(), ip, &mut hop) };
        (r == 0).then_some(hop)
    }
    /// Looks `ips` up into `hops` (same length); a hop without the valid flag
    /// (`0x0100_0000`) means no route.
    #[inline]
    pub fn lookup_bulk(&self, ips: &[u32], hops: &mut [u32]) {
        assert_eq!(ips.len(), hops.len());
        // SAFETY: both slices have ips.len() elements; the table is alive.
        unsafe {
            sys::vr_lpm_lookup_bulk(
                self.0.as_ptr(),
                ips.as_ptr(),
                hops.as_mut_ptr(),
                ips.len() as u32,
            )
        };
    }
}

impl Drop for RteLpm {
    fn drop(&mut self) {
        // SAFETY: the table is not used after this.
        unsafe { sys::rte_lpm_free(self.0.as_ptr()) };
    }
}

/// Flag of a valid hop in [`RteLpm::lookup_bulk`]'s output (the hop is the low 24 bits;
/// the top six carry the route's depth).
pub const LOOKUP_SUCCESS: u32 = 0x0100_0000;

impl RteLpm6 {
    /// A table for `max_rules` prefixes with `tbl8s` groups.
    pub fn new(name: &str, max_rules: u32, tbl8s: u32) -> Result<Self, DpdkError> {
        let cname = CString::new(name).expect("no NUL in table names");
        let cfg = sys::rte_lpm6_config {
            max_rules,
            number_tbl8s: tbl8s,
            flags: 0,
        };
        // SAFETY: valid name and config for the call.
        let p = unsafe { sys::rte_lpm6_create(cname.as_ptr(), 0, &cfg) };
        NonNull::new(p)
            .map(RteLpm6)
            .ok_or_else(|| err("rte_lpm6_create", rte_errno()))
    }
    pub fn add(&mut self, prefix: u128, depth: u8, hop: u32) -> Result<(), DpdkError> {
        let ip = prefix.to_be_bytes();
        // SAFETY: the table is alive and exclusively borrowed; `ip` is 16 bytes.
        let r = unsafe { sys::rte_lpm6_add(self.0.as_ptr(), ip.as_ptr(), depth, hop) };
        if r < 0 {
            return Err(err("rte_lpm6_add", r));
        }
        Ok(())
    }
    #[inline]
    pub fn lookup(&self, ip: u128) -> Option<u32> {
        let b = ip.to_be_bytes();
        let mut hop = 0;
        // SAFETY: the table is alive; `b` is 16 bytes; `hop` a valid out-pointer.
        let r = unsafe { sys::rte_lpm6_lookup(self.0.as_ptr(), b.as_ptr(), &mut hop) };
        (r == 0).then_some(hop)
    }
    /// Looks `ips` (16 bytes each, network order) up into `hops` (-1: no route).
    pub fn lookup_bulk(&self, ips: &mut [[u8; 16]], hops: &mut [i32]) {
        assert_eq!(ips.len(), hops.len());
        // SAFETY: both slices have ips.len() elements; the function only reads `ips`
        // (its C prototype lacks const).
        unsafe {
            sys::rte_lpm6_lookup_bulk_func(
                self.0.as_ptr(),
                ips.as_mut_ptr(),
                hops.as_mut_ptr(),
                ips.len() as u32,
            )
        };
    }
}

impl Drop for RteLpm6 {
    fn drop(&mut self) {
        // SAFETY: the table is not used after this.
        unsafe { sys::rte_lpm6_free(self.0.as_ptr()) };
    }
}
