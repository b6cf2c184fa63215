//! A Kafka message as a journey step: what the broker knows about one delivery, whether or
//! not any span describes it.

use std::sync::Arc;

use serde::Serialize;

use crate::model::ids::SpanRef;
use crate::model::json_field::top_level_text;
use crate::model::kafka::message::KafkaMessage;

/// One message in a journey. Only what journeys show and search by is kept (no payload):
/// the message browser holds the full message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageStep {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Broker or producer timestamp, Unix ms.
    pub timestamp_ms: Option<i64>,
    /// Key, as text (lossy for binary keys).
    pub key: Option<Arc<str>>,
    /// CloudEvents `id`.
    pub message_id: Option<Arc<str>>,
    /// CloudEvents `type`, else the configured payload field.
    pub event_type: Option<Arc<str>>,
    /// The producing span, from `traceparent`.
    pub trace: Option<SpanRef>,
    /// For a dead-lettered message: the topic it failed in.
    pub dead_letter_of: Option<String>,
    /// When the collector first saw it, Unix ns: what the timeline's cursor compares with.
    #[serde(skip)]
    pub received_unix_nano: u64,
}

impl MessageStep {
    /// What it takes in memory (estimated): itself and the strings only it holds (the topic
    /// is shared).
    pub fn bytes(&self) -> usize {
        let text = |t: &Option<Arc<str>>| t.as_ref().map_or(0, |t| t.len());
        std::mem::size_of::<Self>()
            + text(&self.key)
            + text(&self.message_id)
            + text(&self.event_type)
            + self.dead_letter_of.as_ref().map_or(0, String::capacity)
    }

    /// Reads the step from a message; `event_type_field` names the payload field holding the
    /// event type when the message is not a CloudEvent, and `label` makes the type's shared
    /// text (most messages of a topic repeat a few types: a store interns them).
    pub fn from_message(
        m: &KafkaMessage,
        event_type_field: Option<&str>,
        label: &mut impl FnMut(&str) -> Arc<str>,
    ) -> Self {
        let ce = m.links.cloud_event.as_ref();
        let event_type = match ce.and_then(|c| c.event_type.as_deref()) {
            Some(t) => Some(label(t)),
            None => m
                .payload
                .as_deref()
                .zip(event_type_field)
                .and_then(|(payload, field)| top_level_text(payload, field))
                .map(|t| label(&t)),
        };
        Self {
            topic: m.topic.as_str().into(),
            partition: m.partition,
            offset: m.offset,
            timestamp_ms: m.timestamp_ms,
            key: m.key.as_deref().map(|k| String::from_utf8_lossy(k).into()),
            message_id: ce.and_then(|c| c.id.as_deref()).map(Arc::from),
            event_type,
            trace: m.links.trace,
            dead_letter_of: m.links.dead_letter.as_ref().map(|d| d.topic.clone()),
            received_unix_nano: 0,
        }
    }

    /// `topic/partition@offset`, as the journey views print a message.
    pub fn position(&self) -> String {
        format!("{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::testing::message_with_headers;

    fn message(headers: &[(&str, &[u8])], payload: &str) -> KafkaMessage {
        message_with_headers("orders", 2, 7, "o-1", payload.as_bytes(), headers)
    }

    #[test]
    fn the_event_type_comes_from_the_cloud_event_else_the_configured_payload_field() {
        let plain = message(&[], r#"{"type":"OrderPlaced","id":1}"#);
        assert_eq!(
            MessageStep::from_message(&plain, Some("type"), &mut |t: &str| Arc::from(t)).event_type.as_deref(),
            Some("OrderPlaced")
        );
        assert_eq!(MessageStep::from_message(&plain, Some("kind"), &mut |t: &str| Arc::from(t)).event_type, None);
        assert_eq!(MessageStep::from_message(&plain, None, &mut |t: &str| Arc::from(t)).event_type, None);
        let cloud_event = message(&[("ce_type", b"OrderShipped")], r#"{"type":"OrderPlaced"}"#);
        assert_eq!(
            MessageStep::from_message(&cloud_event, Some("type"), &mut |t: &str| Arc::from(t)).event_type.as_deref(),
            Some("OrderShipped")
        );
        assert_eq!(MessageStep::from_message(&plain, None, &mut |t: &str| Arc::from(t)).position(), "orders/2@7");
    }
}
