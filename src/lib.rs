//! EventLens: see event chains across services, topics and consumers, live and on replay.
//!
//! Data flows one way: [`ingest`] sources -> [`engine`] (single writer over the [`model`])
//! -> snapshots -> [`ui`]. Sources and the engine meet in [`pipeline`] (the record queue,
//! counters, source board and clock). See `docs/architecture.md`.

pub mod capture;
pub mod collector;
pub mod demo;
pub mod engine;
pub mod export;
pub mod ingest;
pub mod model;
pub mod pipeline;
pub mod testing;
pub mod ui;
