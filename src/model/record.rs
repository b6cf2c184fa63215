//! What the engine applies and what a recording holds, one per line.
//!
//! Every record carries the time EventLens received it, so a replay can reproduce the
//! session's own clock rather than the senders' clocks.

use serde::{Deserialize, Serialize};

use super::kafka::message::KafkaMessage;
use super::kafka::{KafkaEvent, KafkaRecord};
use super::nats::NatsRecord;
use super::rabbitmq::RabbitRecord;
use super::span::Span;

/// Where a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// OTLP over gRPC.
    OtlpGrpc,
    /// OTLP over HTTP (protobuf or JSON).
    OtlpHttp,
    /// Read from a file.
    File,
    /// OTLP read from a Kafka topic.
    OtlpKafka,
}

impl SourceKind {
    /// Stable name, as written in recordings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OtlpGrpc => "otlp-grpc",
            Self::OtlpHttp => "otlp-http",
            Self::File => "file",
            Self::OtlpKafka => "otlp-kafka",
        }
    }
}

/// A batch of spans as one export request delivered them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanBatch {
    /// When EventLens received the batch, Unix nanoseconds.
    pub received_unix_nano: u64,
    /// Which source delivered it.
    pub source: SourceKind,
    /// The accepted spans (rejected ones never become records).
    pub spans: Vec<Span>,
}

/// One thing the engine applies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// Spans from an OTLP export.
    Spans(SpanBatch),
    /// What a Kafka source observed.
    Kafka(KafkaRecord),
    /// What a NATS JetStream source observed.
    Nats(NatsRecord),
    /// What a RabbitMQ source observed.
    Rabbitmq(RabbitRecord),
}

impl Record {
    /// When EventLens received it, Unix nanoseconds.
    pub fn received_unix_nano(&self) -> u64 {
        match self {
            Self::Spans(b) => b.received_unix_nano,
            Self::Kafka(k) => k.received_unix_nano,
            Self::Nats(n) => n.received_unix_nano,
            Self::Rabbitmq(r) => r.received_unix_nano,
        }
    }

    /// The Kafka messages it carries (none for spans and other observations).
    pub fn messages(&self) -> &[KafkaMessage] {
        match self {
            Self::Kafka(KafkaRecord { event: KafkaEvent::Messages(batch), .. }) => &batch.messages,
            Self::Kafka(_) | Self::Spans(_) | Self::Nats(_) | Self::Rabbitmq(_) => &[],
        }
    }

    /// Fills in what is derived rather than stored, after reading a record from a file.
    pub fn derive(&mut self) {
        match self {
            Self::Spans(b) => b.spans.iter_mut().for_each(Span::derive_messaging),
            Self::Kafka(k) => {
                if let super::kafka::KafkaEvent::Messages(batch) = &mut k.event {
                    batch.messages.iter_mut().for_each(super::kafka::message::KafkaMessage::derive_links);
                }
            }
            Self::Nats(_) | Self::Rabbitmq(_) => {}
        }
    }

    /// How many items (spans) the record holds, for queue accounting.
    pub fn item_count(&self) -> usize {
        match self {
            Self::Spans(b) => b.spans.len(),
            Self::Kafka(k) => match &k.event {
                super::kafka::KafkaEvent::Messages(batch) => batch.messages.len().max(1),
                _ => 1,
            },
            Self::Nats(_) | Self::Rabbitmq(_) => 1,
        }
    }
}
