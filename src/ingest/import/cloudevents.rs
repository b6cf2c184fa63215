//! CloudEvents in the structured JSON format (CloudEvents 1.0 JSON event format), one per
//! line: each becomes a Kafka message, as the Kafka protocol binding would carry it.
//!
//! - topic: the `topic` extension when present, else the `source` without its leading `/`;
//!   partition 0, offsets in file order per topic;
//! - key: the partitioning extension's `partitionkey`, else `subject`;
//! - headers: every context attribute as `ce_<name>` (binary content mode), the
//!   distributed-tracing extension's `traceparent`/`tracestate` under their own names (so the
//!   message joins its producer's trace), and `content-type` from `datacontenttype`;
//! - payload: `data` (a JSON value, serialized; a string as its text) or `data_base64`;
//! - timestamp and receive time: `time`, else the previous event's.

use std::collections::HashMap;

use base64::Engine as _;

use crate::model::kafka::message::{KafkaMessage, MessageHeader, TimestampType};
use crate::model::record::Record;

/// Attributes that are not copied into `ce_` headers.
const NOT_HEADERS: &[&str] = &["data", "data_base64", "traceparent", "tracestate", "datacontenttype"];

/// Turns CloudEvents into messages, numbering offsets per topic.
#[derive(Debug, Default)]
pub struct CloudEventReader {
    next_offset: HashMap<String, i64>,
    last_time_ms: Option<i64>,
}

impl CloudEventReader {
    /// The record of one structured-mode event.
    pub fn record(&mut self, event: &serde_json::Value) -> Result<Record, String> {
        let object = event.as_object().ok_or("a CloudEvent is a JSON object")?;
        let text = |name: &str| object.get(name).and_then(serde_json::Value::as_str);
        for required in ["specversion", "id", "source", "type"] {
            text(required).ok_or_else(|| format!("CloudEvent attribute `{required}` is missing or not a string"))?;
        }
        let topic = text("topic")
            .or_else(|| text("source").map(|s| s.trim_start_matches('/')))
            .filter(|t| !t.is_empty())
            .ok_or("a CloudEvent needs a `source` (or a `topic` extension) to name its topic")?
            .to_owned();
        let time_ms = match text("time") {
            Some(time) => Some(
                chrono::DateTime::parse_from_rfc3339(time)
                    .map_err(|e| format!("`time` {time:?} is not an RFC 3339 time: {e}"))?
                    .timestamp_millis(),
            ),
            None => self.last_time_ms,
        };
        self.last_time_ms = time_ms.or(self.last_time_ms);
        let payload = match (object.get("data"), text("data_base64")) {
            (_, Some(encoded)) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| format!("`data_base64` does not decode: {e}"))?,
            ),
            (Some(serde_json::Value::String(s)), None) => Some(s.as_bytes().to_vec()),
            (Some(value), None) => Some(serde_json::to_vec(value).map_err(|e| e.to_string())?),
            (None, None) => None,
        };
        let mut headers: Vec<MessageHeader> = object
            .iter()
            .filter(|(name, _)| !NOT_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| MessageHeader {
                key: format!("ce_{name}"),
                value: Some(match value {
                    serde_json::Value::String(s) => s.as_bytes().to_vec(),
                    other => other.to_string().into_bytes(),
                }),
            })
            .collect();
        for (name, header) in
            [("traceparent", "traceparent"), ("tracestate", "tracestate"), ("datacontenttype", "content-type")]
        {
            if let Some(value) = text(name) {
                headers.push(MessageHeader { key: header.into(), value: Some(value.as_bytes().to_vec()) });
            }
        }
        let offset = self.next_offset.entry(topic.clone()).or_insert(0);
        let message = KafkaMessage {
            size: payload.as_ref().map_or(0, Vec::len),
            topic: topic.clone(),
            partition: 0,
            offset: *offset,
            timestamp_ms: time_ms,
            timestamp_type: if time_ms.is_some() { TimestampType::CreateTime } else { TimestampType::NotAvailable },
            key: text("partitionkey").or_else(|| text("subject")).map(|k| k.as_bytes().to_vec()),
            headers,
            payload,
            links: Default::default(),
        };
        *offset += 1;
        Ok(super::message_record(message))
    }
}
