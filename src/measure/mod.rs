//! Measurement from outside the routers, as the paper did: the traffic engine ([`traffic`]:
//! stamps, frame templates, pacer, per-flow sink), the generator loop and its lanes
//! ([`generator`]), the test beds behind one trait ([`bed`]; in process on memory ports,
//! [`memory`], or in a namespace lab, [`labbed`]), the RFC 2544 search ([`search`]), the
//! sweep of the paper's experiments ([`sweep`]), statistics ([`stats`]), plots ([`plot`]),
//! the benchmarks ([`bench`]) and the standalone generator and sink ([`gensink`]).

pub mod bed;
pub mod bench;
pub mod generator;
pub mod gensink;
pub mod labbed;
pub mod memory;
pub mod plot;
pub mod search;
pub mod stats;
pub mod sweep;
pub mod traffic;
