//! Placeholder; the data-plane issue fills this crate.
