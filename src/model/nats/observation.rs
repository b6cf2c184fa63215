//! What the NATS source observed, as records the engine applies and recordings keep: one
//! record per poll of one server. Depth status is not in the record; the model judges it, so
//! a replay judges exactly as the live session did.

use serde::{Deserialize, Serialize};

use crate::model::kafka::observation::{ConnectionEvent, MessageBatch};

/// One observation of one NATS server (or cluster, through the server it reached).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NatsRecord {
    /// When EventLens observed it, Unix nanoseconds.
    pub received_unix_nano: u64,
    /// The server's name in EventLens: the address it was given, without credentials.
    pub server: String,
    /// What was observed.
    pub event: NatsEvent,
}

/// What a poll observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NatsEvent {
    /// The connection changed state (the same states as a Kafka cluster's).
    Connection(ConnectionEvent),
    /// JetStream's streams and consumers.
    JetStream(JetStreamPoll),
    /// Messages of a stream read for the message browser (`topic` is the stream, `offset`
    /// the stream sequence, `key` the subject).
    Messages(MessageBatch),
}

/// Every stream and consumer JetStream listed at one poll.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetStreamPoll {
    /// Streams, by name.
    pub streams: Vec<StreamInfo>,
}

/// One stream, as `STREAM.INFO` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Name.
    pub name: String,
    /// The subjects it stores (wildcards as configured).
    pub subjects: Vec<String>,
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Sequence of the oldest message stored.
    pub first_seq: u64,
    /// Sequence of the newest message stored.
    pub last_seq: u64,
    /// Its consumers, by name.
    pub consumers: Vec<ConsumerInfo>,
}

/// One consumer of a stream, as `CONSUMER.INFO` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerInfo {
    /// Name (the durable name, for durable consumers).
    pub name: String,
    /// True for a durable consumer, which outlives its subscribers.
    pub durable: bool,
    /// Messages in the stream it has not yet been delivered (`num_pending`).
    pub pending: u64,
    /// Delivered and not yet acknowledged (`num_ack_pending`).
    pub ack_pending: u64,
    /// Messages delivered more than once (`num_redelivered`).
    pub redelivered: u64,
    /// Pull requests waiting for messages (`num_waiting`).
    pub waiting: u64,
    /// True when a push consumer has a subscriber on its deliver subject.
    pub push_bound: bool,
    /// Stream sequence of the last message delivered.
    pub delivered_stream_seq: u64,
    /// Stream sequence below which every message is acknowledged (the ack floor).
    pub ack_floor_stream_seq: u64,
    /// The subjects it reads (its `filter_subject`, wildcards as configured); empty: all
    /// the stream stores. A list, as servers from 2.10 on allow several. Absent from
    /// recordings made before they were read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recording_line_the_capture_format_shows_reads_back_with_and_without_filters() {
        let doc = include_str!("../../../docs/capture-format.md");
        let line = doc.lines().find(|l| l.starts_with(r#"{"kind":"nats""#)).expect("the example line");
        let filters = |line: &str| {
            let record: NatsRecord = serde_json::from_str(line).expect("it parses");
            let NatsEvent::JetStream(poll) = record.event else { panic!("a poll") };
            poll.streams[0].consumers[0].filter_subjects.clone()
        };
        assert_eq!(filters(line), ["orders.created"]);
        let older = line.replace(r#","filter_subjects":["orders.created"]"#, "");
        assert!(filters(&older).is_empty(), "a recording from before filters were read");
    }
}
