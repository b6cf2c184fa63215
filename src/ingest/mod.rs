//! Sources: each turns outside input into model records and queues them for the engine.
//! A source never touches the model or the UI.

pub mod browse;
pub mod clusters_file;
pub mod file;
pub mod import;
pub mod kafka;
pub mod nats;
pub mod otlp;
pub mod rabbitmq;
pub mod source_thread;
pub mod url_credentials;

// The queue and the counters moved to `crate::pipeline` (shared with the engine); these
// paths stay for the collector, the tests and the benches.
pub use crate::pipeline::{counters, queue};
