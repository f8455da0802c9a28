//! `dataplane`: vrouter's forwarding engine. `buf` is the packet buffer every layer moves;
//! `wire` holds zero-copy packet views; `pipeline` is
//! the per-burst forwarding function (pure: no I/O, no clock, no allocation per packet);
//! `neighbour` maps next-hop ids to egress ports and MACs; `pool` recycles buffers; `port` is
//! the `Port` trait and its backends (the only modules allowed `unsafe`: socket options,
//! mappings, FFI, each block with a `// SAFETY:` line); `worker` runs the polling loops.

#![deny(unsafe_code)]

pub mod buf;
pub mod neighbour;
pub mod pcap;
pub mod pipeline;
pub mod pool;
pub mod port;
pub mod wire;
pub mod worker;
