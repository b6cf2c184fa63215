//! The domain model: plain data and pure logic. No I/O, no async runtime, no UI.

pub mod bounded_index;
pub mod codec;
pub mod depth;
pub mod dictionary;
pub mod findings;
pub mod flow_graph;
pub mod ids;
pub mod journey;
pub mod json_field;
pub(crate) mod json_reader;
pub mod kafka;
pub mod messaging;
pub mod nats;
pub mod rabbitmq;
pub mod record;
pub mod redact;
pub mod size;
pub mod span;
pub mod stats;
