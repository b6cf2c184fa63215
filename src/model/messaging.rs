//! Messaging semantic conventions: reading `messaging.*` attributes into [`Messaging`].
//!
//! Instrumentations in the wild emit both the current names (semconv 1.26+) and the
//! deprecated ones they replaced; both are read here, current names first, so that nothing
//! downstream needs to know which generation of instrumentation produced a span.

use serde::{Deserialize, Serialize};

use super::rabbitmq::RABBITMQ_SYSTEM;
use super::span::{AttrValue, Attribute, SpanKind, find_attr};

/// Attribute names, current first, then the deprecated forms still emitted.
pub mod attr {
    /// `messaging.system`.
    pub const SYSTEM: &str = "messaging.system";
    /// Destination name.
    pub const DESTINATION_NAME: &[&str] = &["messaging.destination.name", "messaging.destination"];
    /// Low-cardinality template for dynamic destinations; preferred over the name when present.
    pub const DESTINATION_TEMPLATE: &str = "messaging.destination.template";
    /// Operation type.
    pub const OPERATION_TYPE: &[&str] = &["messaging.operation.type", "messaging.operation"];
    /// Consumer group.
    pub const CONSUMER_GROUP: &[&str] =
        &["messaging.consumer.group.name", "messaging.kafka.consumer.group", "messaging.kafka.consumer_group"];
    /// Partition.
    pub const PARTITION: &[&str] =
        &["messaging.destination.partition.id", "messaging.kafka.destination.partition", "messaging.kafka.partition"];
    /// Kafka offset.
    pub const OFFSET: &[&str] = &["messaging.kafka.offset", "messaging.kafka.message.offset"];
    /// Kafka message key.
    pub const MESSAGE_KEY: &[&str] = &["messaging.kafka.message.key"];
    /// Message id.
    pub const MESSAGE_ID: &[&str] = &["messaging.message.id"];
    /// Batch size.
    pub const BATCH_COUNT: &[&str] = &["messaging.batch.message_count"];
    /// Client id.
    pub const CLIENT_ID: &[&str] = &["messaging.client.id", "messaging.client_id"];
    /// RabbitMQ's routing key: on the default exchange (which has no name) the queue's name.
    pub const ROUTING_KEY: &[&str] =
        &["messaging.rabbitmq.destination.routing_key", "rabbitmq.destination.routing_key"];
}

/// What a messaging span did, after mapping old and new operation names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagingOperation {
    /// A message was created (one per message; may be followed by a batch `send`).
    Create,
    /// Messages were sent to the broker (`publish` in older conventions).
    Send,
    /// Messages were pulled from the broker.
    Receive,
    /// A message was processed (`deliver` in older conventions).
    Process,
    /// A message was acknowledged, rejected or deferred.
    Settle,
}

impl MessagingOperation {
    /// Reads an operation name; old and new spellings map to the same value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "create" => Some(Self::Create),
            "send" | "publish" => Some(Self::Send),
            "receive" => Some(Self::Receive),
            "process" | "deliver" => Some(Self::Process),
            "settle" | "ack" | "nack" => Some(Self::Settle),
            _ => None,
        }
    }

    /// The operation a span kind implies when no operation attribute is present.
    pub fn from_kind(kind: SpanKind) -> Option<Self> {
        match kind {
            SpanKind::Producer => Some(Self::Send),
            SpanKind::Consumer => Some(Self::Process),
            _ => None,
        }
    }

    /// Which side of a destination the operation sits on.
    pub fn role(self) -> MessagingRole {
        match self {
            Self::Create | Self::Send => MessagingRole::Produce,
            Self::Receive | Self::Process => MessagingRole::Consume,
            Self::Settle => MessagingRole::Settle,
        }
    }

    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Send => "send",
            Self::Receive => "receive",
            Self::Process => "process",
            Self::Settle => "settle",
        }
    }
}

/// Which side of a destination a messaging span is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessagingRole {
    /// Writes into a destination.
    Produce,
    /// Reads from a destination.
    Consume,
    /// Acknowledges; neither produces nor consumes.
    Settle,
}

/// The messaging facts of one span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Messaging {
    /// `messaging.system`, e.g. `kafka`, `rabbitmq`, `aws_sqs`, or any unregistered value.
    pub system: String,
    /// Destination: the template when present, else the name. Absent on some consumers,
    /// which then inherit it from the producer they link to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The operation.
    pub operation: MessagingOperation,
    /// Consumer group (or subscription) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_group: Option<String>,
    /// Partition id as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Kafka offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// Kafka message key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_key: Option<String>,
    /// Message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Number of messages in a batch operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_message_count: Option<u64>,
    /// Client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

fn first_text(attributes: &[Attribute], names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| find_attr(attributes, name).and_then(AttrValue::as_text))
}

fn first_i64(attributes: &[Attribute], names: &[&str]) -> Option<i64> {
    names.iter().find_map(|name| find_attr(attributes, name).and_then(AttrValue::as_i64))
}

impl Messaging {
    /// Reads messaging facts from span attributes; `None` when the span is not a messaging
    /// operation (no `messaging.system`, or no operation and a kind that implies none).
    pub fn from_attributes(kind: SpanKind, attributes: &[Attribute]) -> Option<Self> {
        let system = find_attr(attributes, attr::SYSTEM)?.as_text()?;
        let operation = first_text(attributes, attr::OPERATION_TYPE)
            .and_then(|op| MessagingOperation::parse(&op))
            .or_else(|| MessagingOperation::from_kind(kind))?;
        let destination = find_attr(attributes, attr::DESTINATION_TEMPLATE)
            .and_then(AttrValue::as_text)
            .or_else(|| first_text(attributes, attr::DESTINATION_NAME))
            .filter(|d| !d.is_empty())
            // RabbitMQ's default exchange is named "" and delivers to the queue the routing key
            // names: that queue is the destination (as the pika instrumentation reports it).
            .or_else(|| {
                let default_exchange = system == RABBITMQ_SYSTEM;
                default_exchange.then(|| first_text(attributes, attr::ROUTING_KEY)).flatten().filter(|k| !k.is_empty())
            });
        Some(Self {
            system,
            destination,
            operation,
            consumer_group: first_text(attributes, attr::CONSUMER_GROUP),
            partition: first_text(attributes, attr::PARTITION),
            offset: first_i64(attributes, attr::OFFSET),
            message_key: first_text(attributes, attr::MESSAGE_KEY),
            message_id: first_text(attributes, attr::MESSAGE_ID),
            batch_message_count: first_i64(attributes, attr::BATCH_COUNT).and_then(|n| u64::try_from(n).ok()),
            client_id: first_text(attributes, attr::CLIENT_ID),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(key: &str, value: &str) -> Attribute {
        Attribute { key: key.into(), value: AttrValue::StringValue(value.into()) }
    }
    fn i(key: &str, value: i64) -> Attribute {
        Attribute { key: key.into(), value: AttrValue::IntValue(value) }
    }

    #[test]
    fn current_names_are_read() {
        let m = Messaging::from_attributes(
            SpanKind::Consumer,
            &[
                s("messaging.system", "kafka"),
                s("messaging.destination.name", "orders"),
                s("messaging.operation.type", "process"),
                s("messaging.consumer.group.name", "billing"),
                s("messaging.destination.partition.id", "3"),
                i("messaging.kafka.offset", 42),
                s("messaging.kafka.message.key", "order-1"),
                s("messaging.message.id", "m-1"),
                s("messaging.client.id", "c-1"),
            ],
        )
        .unwrap();
        assert_eq!(m.system, "kafka");
        assert_eq!(m.destination.as_deref(), Some("orders"));
        assert_eq!(m.operation, MessagingOperation::Process);
        assert_eq!(m.consumer_group.as_deref(), Some("billing"));
        assert_eq!(m.partition.as_deref(), Some("3"));
        assert_eq!(m.offset, Some(42));
        assert_eq!(m.message_key.as_deref(), Some("order-1"));
        assert_eq!(m.message_id.as_deref(), Some("m-1"));
        assert_eq!(m.client_id.as_deref(), Some("c-1"));
    }

    #[test]
    fn deprecated_names_are_read() {
        let m = Messaging::from_attributes(
            SpanKind::Producer,
            &[
                s("messaging.system", "kafka"),
                s("messaging.destination", "payments"),
                s("messaging.operation", "publish"),
                s("messaging.kafka.consumer.group", "g"),
                i("messaging.kafka.partition", 7),
                i("messaging.kafka.message.offset", 9),
                s("messaging.client_id", "legacy"),
            ],
        )
        .unwrap();
        assert_eq!(m.destination.as_deref(), Some("payments"));
        assert_eq!(m.operation, MessagingOperation::Send);
        assert_eq!(m.consumer_group.as_deref(), Some("g"));
        assert_eq!(m.partition.as_deref(), Some("7"));
        assert_eq!(m.offset, Some(9));
        assert_eq!(m.client_id.as_deref(), Some("legacy"));

        let deliver = Messaging::from_attributes(
            SpanKind::Consumer,
            &[s("messaging.system", "rabbitmq"), s("messaging.operation", "deliver")],
        )
        .unwrap();
        assert_eq!(deliver.operation, MessagingOperation::Process);
        let old_partition = Messaging::from_attributes(
            SpanKind::Consumer,
            &[s("messaging.system", "kafka"), i("messaging.kafka.destination.partition", 2)],
        )
        .unwrap();
        assert_eq!(old_partition.partition.as_deref(), Some("2"));
    }

    #[test]
    fn template_wins_over_name_and_kind_implies_operation() {
        let m = Messaging::from_attributes(
            SpanKind::Producer,
            &[
                s("messaging.system", "rabbitmq"),
                s("messaging.destination.name", "user.1234.events"),
                s("messaging.destination.template", "user.{id}.events"),
            ],
        )
        .unwrap();
        assert_eq!(m.destination.as_deref(), Some("user.{id}.events"));
        assert_eq!(m.operation, MessagingOperation::Send);
    }

    #[test]
    fn a_rabbitmq_span_on_the_default_exchange_names_the_queue_its_routing_key_names() {
        let span = |exchange: &str| {
            Messaging::from_attributes(
                SpanKind::Producer,
                &[
                    s("messaging.system", "rabbitmq"),
                    s("messaging.destination.name", exchange),
                    s("messaging.rabbitmq.destination.routing_key", "billing"),
                ],
            )
            .unwrap()
            .destination
        };
        assert_eq!(span("").as_deref(), Some("billing"), "the default exchange: the queue");
        assert_eq!(span("orders").as_deref(), Some("orders"), "a named exchange stays the destination");
        // Only RabbitMQ routes so.
        let kafka = Messaging::from_attributes(
            SpanKind::Producer,
            &[s("messaging.system", "kafka"), s("rabbitmq.destination.routing_key", "x")],
        );
        assert_eq!(kafka.unwrap().destination, None);
    }

    #[test]
    fn non_messaging_spans_have_no_messaging() {
        assert!(Messaging::from_attributes(SpanKind::Client, &[s("http.method", "GET")]).is_none());
        // A system without any operation on a kind that implies none is not a messaging op.
        assert!(Messaging::from_attributes(SpanKind::Internal, &[s("messaging.system", "kafka")]).is_none());
    }
}
