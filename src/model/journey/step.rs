//! A Kafka message as a journey step: what the broker knows about one delivery, whether or
//! not any span describes it.

use std::sync::Arc;

use serde::Serialize;

use crate::model::ids::SpanRef;
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
    /// event type when the message is not a CloudEvent.
    pub fn from_message(m: &KafkaMessage, event_type_field: Option<&str>) -> Self {
        let ce = m.links.cloud_event.as_ref();
        let event_type = ce
            .and_then(|c| c.event_type.as_deref())
            .map(Arc::from)
            .or_else(|| payload_field(m.payload.as_deref()?, event_type_field?).map(Arc::from));
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

/// A top-level string field of a JSON object payload.
fn payload_field(payload: &[u8], field: &str) -> Option<String> {
    if payload.first() != Some(&b'{') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    value.get(field)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_type_comes_from_the_configured_payload_field() {
        assert_eq!(payload_field(br#"{"type":"OrderPlaced","id":1}"#, "type").as_deref(), Some("OrderPlaced"));
        assert_eq!(payload_field(br#"{"kind":"OrderPlaced"}"#, "type"), None);
        assert_eq!(payload_field(b"not json", "type"), None);
    }
}
