//! Kafka clusters as EventLens sees them: what a poll observed, and the lag state built
//! from those observations. Pure data and logic; the I/O lives in `ingest::kafka`.

pub mod browser;
pub mod cluster;
pub mod lag;
pub mod memory;
pub mod message;
pub mod observation;
#[cfg(test)]
pub(crate) mod testing;

pub use cluster::{ClusterState, GroupState, KafkaModel, TopicState};
pub use lag::{GroupStatus, LagSample, LagStatus, PartitionLag};
pub use message::{KafkaMessage, MessageHeader};
pub use observation::{KafkaEvent, KafkaRecord, MessageBatch};
