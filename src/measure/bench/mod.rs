//! The benchmarks behind `vrouter bench`: [`lpm`] (the FIB against treebitmap), [`pipeline`]
//! (the forwarding pipeline alone and on memory ports) and [`lab`] (one router on veth against
//! the Linux kernel). Each compares side by side in one run and reports medians.

pub mod lab;
pub mod lpm;
pub mod pipeline;
#[cfg(feature = "dpdk")]
pub mod rte;
