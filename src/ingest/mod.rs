//! Sources: each turns outside input into model records and queues them for the engine.
//! A source never touches the model or the UI.

pub mod counters;
pub mod file;
pub mod import;
pub mod kafka;
pub mod otlp;
pub mod queue;
