//! Kafka messages as EventLens reads them (sampled or browsed), what their headers say about
//! the rest of the system, and the filters a search applies.
//!
//! Headers link a message to everything else: W3C `traceparent` to the span that produced
//! it, CloudEvents (binary-mode `ce_*` headers or a structured `application/cloudevents+json`
//! payload) to its event type and producer, and dead-letter provenance headers (Kafka
//! Connect's `__connect.errors.*`, Spring's `kafka_dlt-original-*`) to the topic it failed in.

use serde::{Deserialize, Serialize};

use crate::model::ids::{SpanId, SpanRef, TraceId};

/// How much of a payload is kept; the message's `size` still tells the whole.
pub const PAYLOAD_KEEP_BYTES: usize = 64 * 1024;

/// What a record's timestamp means (Kafka's `message.timestamp.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker when appended.
    LogAppendTime,
    /// The record has none.
    #[default]
    NotAvailable,
}

/// One header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageHeader {
    /// Header name.
    pub key: String,
    /// Header value; `None` for a null value.
    #[serde(default, with = "opt_base64", skip_serializing_if = "Option::is_none")]
    pub value: Option<Vec<u8>>,
}

/// One Kafka record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaMessage {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
    /// What the timestamp means.
    #[serde(default)]
    pub timestamp_type: TimestampType,
    /// Key bytes.
    #[serde(default, with = "opt_base64", skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<u8>>,
    /// Headers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<MessageHeader>,
    /// Payload bytes, at most [`PAYLOAD_KEEP_BYTES`].
    #[serde(default, with = "opt_base64", skip_serializing_if = "Option::is_none")]
    pub payload: Option<Vec<u8>>,
    /// Payload size in bytes, as on the broker (the kept payload may be shorter).
    pub size: usize,
    /// What the headers say; derived, never stored.
    #[serde(skip)]
    pub links: MessageLinks,
}

/// What a message's headers and payload say about the rest of the system.
///
/// The CloudEvent and dead-letter parts are boxed: most messages carry neither, and inline
/// they made every message kept (by the browser and the timeline) 208 bytes larger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageLinks {
    /// The producing span, from `traceparent`.
    pub trace: Option<SpanRef>,
    /// The CloudEvent it carries.
    pub cloud_event: Option<Box<CloudEvent>>,
    /// Where a dead-lettered message originally failed.
    pub dead_letter: Option<Box<DeadLetterOrigin>>,
}

/// CloudEvents attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudEvent {
    /// `id`.
    pub id: Option<String>,
    /// `type`.
    pub event_type: Option<String>,
    /// `source`: who produced it.
    pub source: Option<String>,
    /// `specversion`.
    pub spec_version: Option<String>,
}

/// The original position of a dead-lettered message, and why it failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeadLetterOrigin {
    /// Source topic.
    pub topic: String,
    /// Source partition, when given.
    pub partition: Option<i32>,
    /// Source offset, when given.
    pub offset: Option<i64>,
    /// Which convention wrote the headers.
    pub family: DeadLetterFamily,
    /// The consumer group that failed (Spring), or the connector (Kafka Connect).
    pub group: Option<String>,
    /// The exception class.
    pub exception: Option<String>,
    /// The exception message.
    pub message: Option<String>,
}

/// The header conventions of dead-letter provenance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeadLetterFamily {
    /// Spring Kafka's `DeadLetterPublishingRecoverer` (`kafka_dlt-*`).
    #[default]
    Spring,
    /// Kafka Connect's sink dead-letter queue (`__connect.errors.*`).
    Connect,
    /// Kafka Streams' dead-letter queue, KIP-1034 (`__streams.errors.*`).
    Streams,
}

impl DeadLetterFamily {
    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spring => "spring",
            Self::Connect => "kafka-connect",
            Self::Streams => "kafka-streams",
        }
    }
}

impl KafkaMessage {
    /// A header's value as text, by name (the first one with that name).
    pub fn header_text(&self, name: &str) -> Option<&str> {
        let h = self.headers.iter().find(|h| h.key.eq_ignore_ascii_case(name))?;
        std::str::from_utf8(h.value.as_deref()?).ok()
    }

    /// Fills [`KafkaMessage::links`] from headers and payload.
    pub fn derive_links(&mut self) {
        self.links = MessageLinks {
            trace: self.header_text("traceparent").and_then(parse_traceparent),
            cloud_event: self.cloud_event().map(Box::new),
            dead_letter: self.dead_letter().map(Box::new),
        };
    }

    fn cloud_event(&self) -> Option<CloudEvent> {
        let binary = CloudEvent {
            id: self.header_text("ce_id").map(str::to_owned),
            event_type: self.header_text("ce_type").map(str::to_owned),
            source: self.header_text("ce_source").map(str::to_owned),
            spec_version: self.header_text("ce_specversion").map(str::to_owned),
        };
        if binary != CloudEvent::default() {
            return Some(binary);
        }
        let structured =
            self.header_text("content-type").is_some_and(|c| c.starts_with("application/cloudevents+json"));
        if !structured {
            return None;
        }
        let json: serde_json::Value = serde_json::from_slice(self.payload.as_deref()?).ok()?;
        let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        Some(CloudEvent {
            id: field("id"),
            event_type: field("type"),
            source: field("source"),
            spec_version: field("specversion"),
        })
    }

    fn dead_letter(&self) -> Option<DeadLetterOrigin> {
        let text = |name: &str| self.header_text(name).map(str::trim).filter(|v| !v.is_empty());
        let owned = |name: &str| text(name).map(str::to_owned);
        if let Some(topic) = text("__connect.errors.topic") {
            return Some(DeadLetterOrigin {
                topic: topic.to_owned(),
                partition: text("__connect.errors.partition").and_then(|v| v.parse().ok()),
                offset: text("__connect.errors.offset").and_then(|v| v.parse().ok()),
                family: DeadLetterFamily::Connect,
                group: owned("__connect.errors.connector.name"),
                exception: owned("__connect.errors.exception.class.name"),
                message: owned("__connect.errors.exception.message"),
            });
        }
        if let Some(topic) = text("__streams.errors.topic") {
            return Some(DeadLetterOrigin {
                topic: topic.to_owned(),
                partition: text("__streams.errors.partition").and_then(|v| v.parse().ok()),
                offset: text("__streams.errors.offset").and_then(|v| v.parse().ok()),
                family: DeadLetterFamily::Streams,
                group: None,
                exception: owned("__streams.errors.exception"),
                message: owned("__streams.errors.message"),
            });
        }
        // Spring Kafka writes the original partition and offset as big-endian binary (text
        // from other writers is read too).
        let topic = text("kafka_dlt-original-topic")?;
        let binary = |name: &str| self.headers.iter().find(|h| h.key == name).and_then(|h| h.value.clone());
        let partition = binary("kafka_dlt-original-partition").and_then(|b| match <[u8; 4]>::try_from(b.as_slice()) {
            Ok(bytes) => Some(i32::from_be_bytes(bytes)),
            Err(_) => std::str::from_utf8(&b).ok()?.trim().parse().ok(),
        });
        let offset = binary("kafka_dlt-original-offset").and_then(|b| match <[u8; 8]>::try_from(b.as_slice()) {
            Ok(bytes) => Some(i64::from_be_bytes(bytes)),
            Err(_) => std::str::from_utf8(&b).ok()?.trim().parse().ok(),
        });
        Some(DeadLetterOrigin {
            topic: topic.to_owned(),
            partition,
            offset,
            family: DeadLetterFamily::Spring,
            group: owned("kafka_dlt-original-consumer-group"),
            exception: owned("kafka_dlt-exception-fqcn"),
            message: owned("kafka_dlt-exception-message"),
        })
    }
}

/// Parses a W3C `traceparent` (`00-<trace id>-<parent span id>-<flags>`).
pub fn parse_traceparent(text: &str) -> Option<SpanRef> {
    let mut parts = text.trim().split('-');
    let _version = parts.next().filter(|v| v.len() == 2)?;
    let trace_id = TraceId::from_hex(parts.next()?).ok()?;
    let span_id = SpanId::from_hex(parts.next()?).ok()?;
    let _flags = parts.next().filter(|f| f.len() == 2)?;
    Some(SpanRef { trace_id, span_id })
}

/// Whether a topic's name marks it as a dead-letter topic: it ends in `.DLQ`, `-dlq`, `_dlq`,
/// `.DLT`, `-dlt` or `_dlt`, or contains `dead-letter` or `deadletter` (any case).
pub fn is_dead_letter_topic(name: &str) -> bool {
    // Asked for every producer span, so it compares in place instead of lower-casing a copy.
    let name = name.as_bytes();
    let ends_with =
        |suffix: &[u8]| name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix);
    let contains = |part: &[u8]| name.windows(part.len()).any(|w| w.eq_ignore_ascii_case(part));
    [b".dlq", b"-dlq", b"_dlq", b".dlt", b"-dlt", b"_dlt"].iter().any(|s| ends_with(*s))
        || contains(b"dead-letter")
        || contains(b"deadletter")
}

/// A search over messages; every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// Key contains this text.
    pub key: Option<String>,
    /// A header with this name exists (and, when given, its value contains the text).
    pub header: Option<(String, Option<String>)>,
    /// Payload contains this text.
    pub payload: Option<String>,
    /// The payload is JSON whose field at this dotted path equals the value (as text).
    pub json_field: Option<(String, String)>,
    /// `traceparent` carries this trace id (hex, any case).
    pub trace_id: Option<String>,
}

impl MessageFilter {
    /// True when nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Whether a message passes.
    pub fn matches(&self, m: &KafkaMessage) -> bool {
        let contains = |hay: Option<&[u8]>, needle: &str| {
            hay.is_some_and(|h| needle.is_empty() || h.windows(needle.len()).any(|w| w == needle.as_bytes()))
        };
        if let Some(k) = &self.key
            && !contains(m.key.as_deref(), k)
        {
            return false;
        }
        if let Some((name, value)) = &self.header {
            let found = m.headers.iter().any(|h| {
                h.key.eq_ignore_ascii_case(name) && value.as_ref().is_none_or(|v| contains(h.value.as_deref(), v))
            });
            if !found {
                return false;
            }
        }
        if let Some(p) = &self.payload
            && !contains(m.payload.as_deref(), p)
        {
            return false;
        }
        if let Some((path, expected)) = &self.json_field {
            let Some(json) = m.payload.as_deref().and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
            else {
                return false;
            };
            let pointer = format!("/{}", path.replace('.', "/"));
            let text = match json.pointer(&pointer) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return false,
            };
            if &text != expected {
                return false;
            }
        }
        if let Some(trace) = &self.trace_id {
            let Some(t) = m.header_text("traceparent").and_then(parse_traceparent) else { return false };
            if !t.trace_id.to_hex().eq_ignore_ascii_case(trace.trim()) {
                return false;
            }
        }
        true
    }
}

/// Bytes as base64 in JSON, so binary keys and payloads survive a session file.
mod opt_base64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| STANDARD.decode(t).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(headers: &[(&str, &[u8])], payload: &[u8]) -> KafkaMessage {
        let mut m = KafkaMessage {
            topic: "orders".into(),
            partition: 0,
            offset: 7,
            timestamp_ms: Some(1),
            timestamp_type: TimestampType::CreateTime,
            key: Some(b"order-42".to_vec()),
            headers: headers.iter().map(|(k, v)| MessageHeader { key: (*k).into(), value: Some(v.to_vec()) }).collect(),
            payload: Some(payload.to_vec()),
            size: payload.len(),
            links: MessageLinks::default(),
        };
        m.derive_links();
        m
    }

    #[test]
    fn a_kept_message_is_small_and_counts_its_links() {
        // The browser and the timeline keep hundreds of thousands of these.
        assert!(size_of::<KafkaMessage>() <= 216, "{} bytes", size_of::<KafkaMessage>());
        let plain = message(&[], b"{}");
        let ce = message(&[("ce_id", b"e-1"), ("ce_type", b"OrderPlaced"), ("ce_source", b"/orders")], b"{}");
        let dlt = message(&[("kafka_dlt-original-topic", b"orders"), ("kafka_dlt-exception-fqcn", b"Boom")], b"{}");
        use crate::model::size::HeapSize;
        let extra = |m: &KafkaMessage| {
            m.heap_bytes() - plain.heap_bytes() - m.headers.iter().map(HeapSize::total_bytes).sum::<usize>()
        };
        assert!(extra(&ce) >= size_of::<CloudEvent>() + "e-1OrderPlaced/orders".len(), "{}", extra(&ce));
        assert!(extra(&dlt) >= size_of::<DeadLetterOrigin>() + "ordersBoom".len(), "{}", extra(&dlt));
    }

    const TP: &[u8] = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn headers_link_traces_cloudevents_and_dead_letters() {
        let m = message(&[("traceparent", TP), ("ce_type", b"OrderPlaced"), ("ce_id", b"e1")], b"{}");
        assert_eq!(m.links.trace.unwrap().span_id.to_hex(), "b7ad6b7169203331");
        let ce = m.links.cloud_event.unwrap();
        assert_eq!((ce.event_type.as_deref(), ce.id.as_deref()), (Some("OrderPlaced"), Some("e1")));

        let structured = message(
            &[("content-type", b"application/cloudevents+json; charset=utf-8")],
            br#"{"specversion":"1.0","type":"PaymentFailed","source":"/payments","id":"p9"}"#,
        );
        assert_eq!(structured.links.cloud_event.unwrap().source.as_deref(), Some("/payments"));

        let connect = message(&[("__connect.errors.topic", b"orders"), ("__connect.errors.offset", b"12")], b"x");
        assert_eq!(
            connect.links.dead_letter.map(|d| *d),
            Some(DeadLetterOrigin {
                topic: "orders".into(),
                partition: None,
                offset: Some(12),
                family: DeadLetterFamily::Connect,
                ..DeadLetterOrigin::default()
            })
        );
        let spring = message(
            &[("kafka_dlt-original-topic", b"orders"), ("kafka_dlt-original-partition", &3i32.to_be_bytes())],
            b"x",
        );
        assert_eq!(spring.links.dead_letter.unwrap().partition, Some(3));
        let spring_full = message(
            &[
                ("kafka_dlt-original-topic", b"orders"),
                ("kafka_dlt-original-offset", &77i64.to_be_bytes()),
                ("kafka_dlt-original-consumer-group", b"payments"),
                ("kafka_dlt-exception-fqcn", b"org.example.BadOrder"),
            ],
            b"x",
        );
        let origin = spring_full.links.dead_letter.unwrap();
        assert_eq!(
            (origin.offset, origin.group.as_deref(), origin.exception.as_deref()),
            (Some(77), Some("payments"), Some("org.example.BadOrder"))
        );
        let streams = message(
            &[
                ("__streams.errors.topic", b"clicks"),
                ("__streams.errors.partition", b"2"),
                ("__streams.errors.offset", b"40"),
                ("__streams.errors.exception", b"org.apache.kafka.common.errors.SerializationException"),
            ],
            b"x",
        );
        let origin = streams.links.dead_letter.unwrap();
        assert_eq!(
            (origin.topic.as_str(), origin.partition, origin.offset, origin.family),
            ("clicks", Some(2), Some(40), DeadLetterFamily::Streams)
        );
        assert_eq!(parse_traceparent("00-zz-b7ad6b7169203331-01"), None);
    }

    #[test]
    fn filters_match_key_header_payload_json_field_and_trace() {
        let m = message(&[("traceparent", TP), ("tenant", b"acme")], br#"{"order":{"id":42,"state":"paid"}}"#);
        let f = |f: MessageFilter| f.matches(&m);
        assert!(f(MessageFilter::default()));
        assert!(f(MessageFilter { key: Some("42".into()), ..Default::default() }));
        assert!(!f(MessageFilter { key: Some("43".into()), ..Default::default() }));
        assert!(f(MessageFilter { header: Some(("Tenant".into(), Some("ac".into()))), ..Default::default() }));
        assert!(!f(MessageFilter { header: Some(("tenant".into(), Some("globex".into()))), ..Default::default() }));
        assert!(f(MessageFilter { payload: Some("paid".into()), ..Default::default() }));
        assert!(f(MessageFilter { json_field: Some(("order.id".into(), "42".into())), ..Default::default() }));
        assert!(f(MessageFilter { json_field: Some(("order.state".into(), "paid".into())), ..Default::default() }));
        assert!(!f(MessageFilter { json_field: Some(("order.state".into(), "new".into())), ..Default::default() }));
        let trace = "0AF7651916CD43DD8448EB211C80319C".to_owned();
        assert!(f(MessageFilter { trace_id: Some(trace), ..Default::default() }));
        assert!(!f(MessageFilter { trace_id: Some("00".repeat(16)), key: None, ..Default::default() }));
    }

    #[test]
    fn binary_keys_and_payloads_survive_json() {
        let m = message(&[("bin", &[0, 159, 146, 150])], &[0xde, 0xad, 0xbe, 0xef]);
        let text = serde_json::to_string(&m).unwrap();
        let mut back: KafkaMessage = serde_json::from_str(&text).unwrap();
        back.derive_links();
        assert_eq!(back, m);
    }
}
