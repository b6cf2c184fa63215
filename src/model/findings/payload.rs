//! What the detectors read from a message: its JSON payload once, the event type, the
//! ordering key, a sequence or time to order by, and an identity for duplicates.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::FindingsSettings;
use super::json_scan::{self, Scalar};
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

/// A message as the detectors read it, borrowing what the message holds as it is (a
/// CloudEvents header, the record key): every message is read, and copying those was a third
/// of the reading's allocations.
#[derive(Debug, Default)]
pub struct ReadPayload<'m> {
    /// The signature of the payload's shape (see [`json_scan::scan`]), when it is a JSON
    /// object.
    pub signature: Option<u64>,
    /// CloudEvents `type`, else the configured payload field.
    pub event_type: Option<Cow<'m, str>>,
    /// The configured key field, else the record key as text.
    pub key: Option<Cow<'m, str>>,
    /// What orders the key's events, and where it came from.
    pub order: Option<(OrderValue, OrderSource)>,
    /// An identity for duplicates: the configured dedup field, else CloudEvents `id`.
    pub identity: Option<Cow<'m, str>>,
}

/// The top-level payload fields the detectors ask for, worked out once from the settings:
/// every message is read against the same list, so it is not rebuilt (and its names not
/// compared) per message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPlan {
    /// The names asked for, each once: the event type first.
    names: Vec<String>,
    /// Positions in `names`.
    key: Option<usize>,
    dedup: Option<usize>,
    sequence: SmallVec<[usize; 4]>,
    time: SmallVec<[usize; 5]>,
    /// Two of the event type, key and dedup fields are one field: its text is then shared
    /// (still borrowed from the payload, copied only when it is escaped or not a string), not
    /// moved out of the scan.
    shared: bool,
}

impl FieldPlan {
    /// The fields `settings` name, then the [`TIME_FIELDS`].
    pub fn new(settings: &FindingsSettings) -> Self {
        let mut names = vec![settings.event_type_field.clone()];
        let key = settings.key_field.as_deref().map(|f| position(&mut names, f));
        let dedup = settings.dedup_field.as_deref().map(|f| position(&mut names, f));
        let sequence = settings.order_fields.iter().map(|f| position(&mut names, f)).collect();
        let time = TIME_FIELDS.iter().map(|f| position(&mut names, f)).collect();
        let shared = key == Some(0) || dedup == Some(0) || (key.is_some() && key == dedup);
        Self { names, key, dedup, sequence, time, shared }
    }
}

impl Default for FieldPlan {
    fn default() -> Self {
        Self::new(&FindingsSettings::default())
    }
}

/// The position of `name` in `names`, added when absent.
fn position(names: &mut Vec<String>, name: &str) -> usize {
    names.iter().position(|n| n == name).unwrap_or_else(|| {
        names.push(name.to_owned());
        names.len() - 1
    })
}

impl<'m> ReadPayload<'m> {
    /// Reads `message` once for every detector, in one pass over its payload, for the fields
    /// `plan` asks for.
    pub fn of(message: &'m KafkaMessage, plan: &FieldPlan) -> Self {
        let wanted: SmallVec<[&str; 12]> = plan.names.iter().map(String::as_str).collect();
        let mut scanned = message.payload.as_deref().and_then(|p| json_scan::scan(p, &wanted));
        // The order first: the text fields below are moved out of the scan.
        let order = scanned.as_ref().and_then(|s| order_of(s, &plan.sequence, &plan.time));
        let signature = scanned.as_ref().map(|s| s.signature);
        let mut field = |at: usize| match scanned.as_mut() {
            Some(s) if plan.shared => s.field(at).and_then(Scalar::text),
            Some(s) => s.take_text(at),
            None => None,
        };
        let cloud_event = message.links.cloud_event.as_ref();
        let event_type = match cloud_event.and_then(|c| c.event_type.as_deref()) {
            Some(event_type) => Some(Cow::Borrowed(event_type)),
            None => field(0),
        };
        let key = match plan.key {
            Some(at) => field(at),
            None => message.key.as_deref().and_then(|k| std::str::from_utf8(k).ok()).map(Cow::Borrowed),
        };
        let identity = match plan.dedup {
            Some(at) => field(at),
            None => cloud_event.and_then(|c| c.id.as_deref()).map(Cow::Borrowed),
        };
        Self { signature, event_type, key, order, identity }
    }
}

/// The first sequence field present, when it is a number; else the first time field present,
/// when it is a number or ISO 8601 text.
fn order_of(scanned: &json_scan::Scanned, sequence: &[usize], time: &[usize]) -> Option<(OrderValue, OrderSource)> {
    let first = |fields: &[usize]| fields.iter().find_map(|at| scanned.field(*at));
    if let Some(n) = first(sequence).and_then(Scalar::number) {
        return Some((OrderValue::Number(n), OrderSource::Sequence));
    }
    match first(time)? {
        Scalar::Number(n) => n.as_f64().map(|n| (OrderValue::Number(n), OrderSource::Time)),
        Scalar::Text(s) if looks_like_iso_time(s) => Some((OrderValue::Text(s.to_string()), OrderSource::Time)),
        _ => None,
    }
}

fn looks_like_iso_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
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
        let m = message("o-1", r#"{"type":"X","seq":4,"eventId":"e-9"}"#);
        let read = ReadPayload::of(&m, &FieldPlan::new(&settings));
        assert_eq!(read.event_type.as_deref(), Some("OrderPlaced"), "the CloudEvents header wins");
        assert_eq!(read.key.as_deref(), Some("o-1"));
        assert_eq!(read.order, Some((OrderValue::Number(4.0), OrderSource::Sequence)));
        assert_eq!(read.identity.as_deref(), Some("e-9"));
    }

    #[test]
    fn falls_back_to_the_event_time_and_a_key_field() {
        let settings = FindingsSettings { key_field: Some("order_id".into()), ..FindingsSettings::default() };
        let plan = FieldPlan::new(&settings);
        let m = message("k", r#"{"order_id":"o-7","time":"2026-11-30T10:00:00Z"}"#);
        let read = ReadPayload::of(&m, &plan);
        assert_eq!(read.key.as_deref(), Some("o-7"));
        assert_eq!(read.order, Some((OrderValue::Text("2026-11-30T10:00:00Z".into()), OrderSource::Time)));
        let not_json = message("k", "not json");
        let none = ReadPayload::of(&not_json, &plan);
        assert!(none.signature.is_none() && none.order.is_none());
    }

    #[test]
    fn one_field_named_for_two_purposes_serves_both() {
        let settings = FindingsSettings {
            key_field: Some("eventId".into()),
            dedup_field: Some("eventId".into()),
            ..FindingsSettings::default()
        };
        let m = message("k", r#"{"eventId":"e-1"}"#);
        let read = ReadPayload::of(&m, &FieldPlan::new(&settings));
        assert_eq!((read.key.as_deref(), read.identity.as_deref()), (Some("e-1"), Some("e-1")));
        let typed = FindingsSettings { key_field: Some("type".into()), ..FindingsSettings::default() };
        let mut untyped = message("k", r#"{"type":"OrderPaid"}"#);
        untyped.headers.clear();
        untyped.derive_links();
        let read = ReadPayload::of(&untyped, &FieldPlan::new(&typed));
        assert_eq!((read.event_type.as_deref(), read.key.as_deref()), (Some("OrderPaid"), Some("OrderPaid")));
    }

    #[test]
    fn previews_cut_long_text_and_describe_binary() {
        assert_eq!(preview(b"hello"), "hello");
        assert!(preview("é".repeat(200).as_bytes()).ends_with('…'));
        assert!(preview(&[0, 1, 0xff]).starts_with("binary, 3 bytes: 0001ff"));
    }
}
