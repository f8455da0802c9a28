//! `vrouter sweep`: dispatch; the flags and the experiments are [`crate::measure::sweep`].

use anyhow::Result;

pub use crate::measure::sweep::SweepArgs;

pub fn run(a: SweepArgs) -> Result<()> {
    crate::measure::sweep::run(a)
}
