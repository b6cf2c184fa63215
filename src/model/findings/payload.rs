//! What the detectors read from a message: its JSON payload once, the event type, the
//! ordering key, a sequence or time to order by, and an identity for duplicates.

use serde_json::Value;

use super::FindingsSettings;
use crate::model::kafka::message::KafkaMessage;

/// Fields tried for an event's own time when no sequence field is present: CloudEvents'
/// `time`, then common names.
pub const TIME_FIELDS: [&str; 5] = ["time", "timestamp", "occurred_at", "occurredAt", "eventTime"];

/// How much of a payload evidence keeps.
pub const PREVIEW_BYTES: usize = 240;

/// A position in an event's own order: a number (sequence, version, epoch time), or ISO 8601
/// text (which sorts as text when written in one zone).
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub enum OrderValue {
    /// A sequence number, version or epoch time.
    Number(f64),
    /// An ISO 8601 time.
    Text(String),
}

impl OrderValue {
    /// True when `self` comes before `other`; values of different sorts are not compared.
    pub fn before(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Number(a), Self::Number(b)) => a < b,
            (Self::Text(a), Self::Text(b)) => a < b,
            _ => false,
        }
    }

    /// As text, for evidence.
    pub fn describe(&self) -> String {
        match self {
            Self::Number(n) => format!("{n}"),
            Self::Text(t) => t.clone(),
        }
    }
}

/// Where an order value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderSource {
    /// A sequence or version field.
    Sequence,
    /// The event's own time.
    Time,
}

/// A message as the detectors read it.
#[derive(Debug, Default)]
pub struct ReadPayload {
    /// The payload, when it is a JSON object.
    pub json: Option<Value>,
    /// CloudEvents `type`, else the configured payload field.
    pub event_type: Option<String>,
    /// The configured key field, else the record key as text.
    pub key: Option<String>,
    /// What orders the key's events, and where it came from.
    pub order: Option<(OrderValue, OrderSource)>,
    /// An identity for duplicates: the configured dedup field, else CloudEvents `id`.
    pub identity: Option<String>,
}

impl ReadPayload {
    /// Reads `message` once for every detector.
    pub fn of(message: &KafkaMessage, settings: &FindingsSettings) -> Self {
        let json = message
            .payload
            .as_deref()
            .filter(|p| p.first() == Some(&b'{'))
            .and_then(|p| serde_json::from_slice::<Value>(p).ok())
            .filter(Value::is_object);
        let field = |name: &str| json.as_ref().and_then(|j| j.get(name)).and_then(scalar_text);
        let cloud_event = message.links.cloud_event.as_ref();
        let event_type = cloud_event.and_then(|c| c.event_type.clone()).or_else(|| field(&settings.event_type_field));
        let key = match &settings.key_field {
            Some(name) => field(name),
            None => message.key.as_deref().and_then(|k| std::str::from_utf8(k).ok()).map(str::to_owned),
        };
        let identity = match &settings.dedup_field {
            Some(name) => field(name),
            None => cloud_event.and_then(|c| c.id.clone()),
        };
        let order = json.as_ref().and_then(|j| order_of(j, &settings.order_fields));
        Self { json, event_type, key, order, identity }
    }
}

fn order_of(json: &Value, order_fields: &[String]) -> Option<(OrderValue, OrderSource)> {
    let sequence = order_fields.iter().find_map(|f| json.get(f.as_str())).and_then(Value::as_f64);
    if let Some(n) = sequence {
        return Some((OrderValue::Number(n), OrderSource::Sequence));
    }
    TIME_FIELDS.iter().find_map(|f| json.get(*f)).and_then(|v| match v {
        Value::Number(n) => n.as_f64().map(|n| (OrderValue::Number(n), OrderSource::Time)),
        Value::String(s) if looks_like_iso_time(s) => Some((OrderValue::Text(s.clone()), OrderSource::Time)),
        _ => None,
    })
}

fn looks_like_iso_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// A JSON scalar as text (strings as they are, numbers and booleans printed).
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The start of a payload for evidence: text when it is UTF-8 (cut at a character boundary),
/// else a note of its size and first bytes in hex.
pub fn preview(payload: &[u8]) -> String {
    match std::str::from_utf8(payload) {
        Ok(text) if text.len() <= PREVIEW_BYTES => text.to_owned(),
        Ok(text) => {
            let mut end = PREVIEW_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &text[..end])
        }
        Err(_) => {
            let head: String = payload.iter().take(16).map(|b| format!("{b:02x}")).collect();
            format!("binary, {} bytes: {head}…", payload.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::MessageHeader;

    fn message(key: &str, payload: &str) -> KafkaMessage {
        let mut m = KafkaMessage {
            topic: "orders".into(),
            partition: 0,
            offset: 0,
            timestamp_ms: None,
            timestamp_type: Default::default(),
            key: Some(key.as_bytes().to_vec()),
            headers: vec![MessageHeader { key: "ce_type".into(), value: Some(b"OrderPlaced".to_vec()) }],
            payload: Some(payload.as_bytes().to_vec()),
            size: payload.len(),
            links: Default::default(),
        };
        m.derive_links();
        m
    }

    #[test]
    fn reads_type_key_order_and_identity() {
        let settings = FindingsSettings { dedup_field: Some("eventId".into()), ..FindingsSettings::default() };
        let read = ReadPayload::of(&message("o-1", r#"{"type":"X","seq":4,"eventId":"e-9"}"#), &settings);
        assert_eq!(read.event_type.as_deref(), Some("OrderPlaced"), "the CloudEvents header wins");
        assert_eq!(read.key.as_deref(), Some("o-1"));
        assert_eq!(read.order, Some((OrderValue::Number(4.0), OrderSource::Sequence)));
        assert_eq!(read.identity.as_deref(), Some("e-9"));
    }

    #[test]
    fn falls_back_to_the_event_time_and_a_key_field() {
        let settings = FindingsSettings { key_field: Some("order_id".into()), ..FindingsSettings::default() };
        let read = ReadPayload::of(&message("k", r#"{"order_id":"o-7","time":"2026-11-30T10:00:00Z"}"#), &settings);
        assert_eq!(read.key.as_deref(), Some("o-7"));
        assert_eq!(read.order, Some((OrderValue::Text("2026-11-30T10:00:00Z".into()), OrderSource::Time)));
        let none = ReadPayload::of(&message("k", "not json"), &settings);
        assert!(none.json.is_none() && none.order.is_none());
    }

    #[test]
    fn previews_cut_long_text_and_describe_binary() {
        assert_eq!(preview(b"hello"), "hello");
        assert!(preview("é".repeat(200).as_bytes()).ends_with('…'));
        assert!(preview(&[0, 1, 0xff]).starts_with("binary, 3 bytes: 0001ff"));
    }
}
