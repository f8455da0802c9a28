//! Routers as `vrouter run` runs them: the configuration file ([`config`]), building and
//! running routers ([`run`]), the control socket (server [`control`], client [`client`], and
//! the typed protocol both use, [`proto`]), the documented default router ([`preset`]), and
//! the offline replay of a capture through one router ([`replay`]), the control protocol
//! carried over a guest's virtio-serial port ([`relay`]), and an update stream replayed into a
//! running router as route churn ([`churn`]).

pub mod churn;
pub mod client;
pub mod config;
pub mod control;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod preset;
pub mod proto;
pub mod relay;
pub mod replay;
pub mod run;
