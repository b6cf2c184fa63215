//! Exports of what EventLens built, for docs, bug reports and scripts.

pub mod findings;
pub mod graph;
pub mod journey;
