//! `vrouter`: the binary's library. `main.rs` only calls [`cli::main`].
//!
//! Layers, each using only the ones below it (no module cycle):
//!
//! ```text
//! cli        clap command tree and dispatch, one file per subcommand
//!  ├─ router   config (vr.toml), building and running routers, the control socket
//!  │           (typed protocol shared by server and client), replay
//!  ├─ lab      network-namespace topologies: a pure plan, an apply step, teardown
//!  ├─ measure  traffic engine (stamps, pacer, sink), generator loop, test beds behind one
//!  │           trait, sweep, RFC 2544 search, stats, plots, benchmarks, gen/sink
//!  ├─ hvbench  the hypervisor-overhead suite: tasks, markers, the outside timer, compare
//!  ├─ routes   route-table tools (load with progress, stats, lookup, convert, events)
//!  └─ host     facts about the machine: CPU clock, /proc readers, root check, data files
//! dataplane  forwarding engine (separate crate)     fib  LPM tables and loaders (crate)
//! ```
//!
//! `hvbench` uses `lab::netns` (its namespaces), `vm` (its guest) and `measure` (statistics,
//! charts).
//! `measure` uses `lab` and `router` (a lab bed asks its routers for drop counters); `lab`
//! uses `router::config` to write the configs of the routers it starts. docs/architecture.md
//! says where a new backend or router kind plugs in.

#![forbid(unsafe_code)]

pub mod cli;
pub mod dut;
pub mod host;
pub mod hvbench;
pub mod lab;
pub mod measure;
pub mod progress;
pub mod router;
pub mod routes;
pub mod vm;
