//! `vrouter gen` and `vrouter sink`: dispatch; the engines are [`crate::measure::gensink`].

use anyhow::Result;

pub use crate::measure::gensink::{GenArgs, SinkArgs};

pub fn gen(a: &GenArgs) -> Result<()> {
    crate::measure::gensink::gen(a)
}

pub fn sink(a: &SinkArgs) -> Result<()> {
    crate::measure::gensink::sink(a)
}
