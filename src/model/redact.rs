//! Masking named fields (`email`, `card`, ...) in what EventLens receives, before it is
//! shown, recorded or exported: JSON payload fields of Kafka messages at any depth, message
//! headers, and span and span-event attributes.
//!
//! A name matches a JSON key or header name exactly, and an attribute key exactly or as its
//! last dotted segment (`card` masks `payment.card`), ignoring case.

use serde_json::Value;

use super::kafka::{KafkaEvent, KafkaMessage};
use super::record::Record;
use super::span::{AttrValue, Attribute, Span};

/// What a masked value becomes.
pub const MASK: &str = "***";

/// The field names to mask.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redaction {
    fields: Vec<String>,
}

impl Redaction {
    /// Masks these field names.
    pub fn new(fields: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let mut fields: Vec<String> =
            fields.into_iter().map(|f| f.as_ref().trim().to_ascii_lowercase()).filter(|f| !f.is_empty()).collect();
        fields.sort();
        fields.dedup();
        Self { fields }
    }

    /// True when nothing is masked (the engine then skips the walk).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The masked names, sorted.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    fn matches(&self, key: &str) -> bool {
        self.fields.iter().any(|f| f.eq_ignore_ascii_case(key))
    }

    fn matches_attribute(&self, key: &str) -> bool {
        self.matches(key) || key.rsplit_once('.').is_some_and(|(_, last)| self.matches(last))
    }

    /// Masks the named fields in `record`.
    pub fn apply(&self, record: &mut Record) {
        if self.is_empty() {
            return;
        }
        match record {
            Record::Spans(batch) => batch.spans.iter_mut().for_each(|s| self.span(s)),
            Record::Kafka(kafka) => {
                if let KafkaEvent::Messages(batch) = &mut kafka.event {
                    batch.messages.iter_mut().for_each(|m| self.message(m));
                }
            }
            // Counts and names only: nothing a redaction names.
            Record::Nats(_) | Record::Rabbitmq(_) => {}
        }
    }

    fn span(&self, span: &mut Span) {
        self.attributes(&mut span.attributes);
        for event in &mut span.events {
            self.attributes(&mut event.attributes);
        }
    }

    fn attributes(&self, attributes: &mut [Attribute]) {
        for attribute in attributes.iter_mut().filter(|a| self.matches_attribute(&a.key)) {
            attribute.value = AttrValue::StringValue(MASK.to_owned());
        }
    }

    fn message(&self, message: &mut KafkaMessage) {
        for header in message.headers.iter_mut().filter(|h| self.matches(&h.key)) {
            header.value = Some(MASK.as_bytes().to_vec());
        }
        let Some(payload) = &mut message.payload else { return };
        let Ok(mut json) = serde_json::from_slice::<Value>(payload) else { return };
        if self.json(&mut json)
            && let Ok(masked) = serde_json::to_vec(&json)
        {
            *payload = masked;
        }
    }

    /// Masks matching keys at any depth; true when something was masked.
    fn json(&self, value: &mut Value) -> bool {
        match value {
            Value::Object(map) => {
                let mut masked = false;
                for (key, inner) in map.iter_mut() {
                    if self.matches(key) {
                        *inner = Value::String(MASK.to_owned());
                        masked = true;
                    } else {
                        masked |= self.json(inner);
                    }
                }
                masked
            }
            Value::Array(items) => items.iter_mut().fold(false, |masked, item| self.json(item) | masked),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::{KafkaRecord, MessageBatch, MessageHeader};
    use crate::model::record::{SourceKind, SpanBatch};
    use crate::model::span::SpanKind;
    use crate::testing::span;

    fn message(payload: &[u8]) -> KafkaMessage {
        KafkaMessage {
            topic: "orders".into(),
            partition: 0,
            offset: 0,
            timestamp_ms: None,
            timestamp_type: Default::default(),
            key: None,
            payload: Some(payload.to_vec()),
            headers: vec![MessageHeader { key: "Email".into(), value: Some(b"a@b.c".to_vec()) }],
            size: payload.len(),
            links: Default::default(),
        }
    }

    fn batch(messages: Vec<KafkaMessage>) -> Record {
        Record::Kafka(KafkaRecord {
            received_unix_nano: 0,
            cluster: "c".into(),
            event: KafkaEvent::Messages(MessageBatch { browse: 0, topic: "orders".into(), messages, progress: None }),
        })
    }

    fn messages(record: &Record) -> &[KafkaMessage] {
        match record {
            Record::Kafka(KafkaRecord { event: KafkaEvent::Messages(b), .. }) => &b.messages,
            _ => &[],
        }
    }

    #[test]
    fn json_fields_at_any_depth_and_headers_are_masked() {
        let redaction = Redaction::new(["email", " CARD ", ""]);
        assert_eq!(redaction.fields(), ["card", "email"]);
        let mut record = batch(vec![
            message(br#"{"order":"o-1","customer":{"email":"x@y.z","cards":[{"card":"4242"}]},"total":5}"#),
            message(b"not json, email=x@y.z"),
        ]);
        redaction.apply(&mut record);
        let [json, text] = messages(&record) else { panic!("two messages") };
        let value: Value = serde_json::from_slice(json.payload.as_deref().unwrap()).unwrap();
        assert_eq!(value["customer"]["email"], MASK);
        assert_eq!(value["customer"]["cards"][0]["card"], MASK);
        assert_eq!(value["order"], "o-1");
        assert_eq!(value["total"], 5);
        // Not JSON: left as it is (only fields can be named).
        assert_eq!(text.payload.as_deref(), Some(&b"not json, email=x@y.z"[..]));
        assert_eq!(json.headers[0].value.as_deref(), Some(MASK.as_bytes()));
    }

    #[test]
    fn span_attributes_match_whole_or_by_last_segment() {
        let redaction = Redaction::new(["email"]);
        let s = span("svc", "signup", SpanKind::Server).attr("user.email", "x@y.z").attr_int("emails_sent", 3).build();
        let mut record = Record::Spans(SpanBatch { received_unix_nano: 0, source: SourceKind::File, spans: vec![s] });
        redaction.apply(&mut record);
        let Record::Spans(batch) = record else { panic!("spans") };
        assert_eq!(batch.spans[0].attributes[0].value, AttrValue::StringValue(MASK.into()));
        assert_eq!(batch.spans[0].attributes[1].value, AttrValue::IntValue(3));
    }
}
