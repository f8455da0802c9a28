//! `dataplane`: vrouter's forwarding engine. `wire` holds zero-copy packet views; `pipeline` is
//! the per-burst forwarding function (pure: no I/O, no clock, no allocation per packet);
//! `neighbour` maps next-hop ids to egress ports and MACs.

pub mod neighbour;
pub mod pcap;
pub mod pipeline;
pub mod pool;
pub mod port;
pub mod traffic;
pub mod wire;
pub mod worker;
