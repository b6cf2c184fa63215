//! One top-level string field of a JSON object payload, read without building the payload.
//!
//! Journeys read the event type of every message the Kafka browser streams. Parsing each
//! payload into a `serde_json::Value` allocated every key and string of it and was the largest
//! single cost of the browse path; this pass (through `json_reader`) skips everything but the
//! field asked for, while still rejecting what `serde_json::from_slice` rejects (invalid JSON,
//! trailing bytes).

use std::borrow::Cow;

use super::json_reader::{Kind, Reader};

/// The string at `field` of a JSON object payload: `None` when the payload is not a JSON
/// object, the field is absent, or its value is not a string. A repeated key counts by its
/// last occurrence, as `serde_json::Value` keeps it. Borrowed from the payload unless the
/// string holds escapes.
pub fn top_level_text<'p>(payload: &'p [u8], field: &str) -> Option<Cow<'p, str>> {
    if payload.first() != Some(&b'{') {
        return None;
    }
    let mut reader = Reader::new(payload);
    let mut found = None;
    reader.object(|reader, key| {
        if !key.is(field) {
            return reader.skip_value().map(drop);
        }
        found = match reader.next_kind()? {
            Kind::String => Some(reader.string()?.text()),
            _ => {
                reader.skip_value()?;
                None
            }
        };
        Some(())
    })?;
    reader.end()?;
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the reading replaced: the whole payload as a `Value`.
    fn by_value(payload: &[u8], field: &str) -> Option<String> {
        if payload.first() != Some(&b'{') {
            return None;
        }
        let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
        value.get(field)?.as_str().map(str::to_owned)
    }

    #[test]
    fn reads_a_top_level_string_field() {
        assert_eq!(top_level_text(br#"{"type":"OrderPlaced","id":1}"#, "type").as_deref(), Some("OrderPlaced"));
        assert_eq!(top_level_text(br#"{"id":{"type":"inner"},"type":"Outer"}"#, "type").as_deref(), Some("Outer"));
        assert_eq!(top_level_text(br#"{"t\u0079pe":"Esc\"aped"}"#, "type").as_deref(), Some("Esc\"aped"));
        assert!(matches!(top_level_text(br#"{"type":"Plain"}"#, "type"), Some(Cow::Borrowed("Plain"))));
    }

    #[test]
    fn finds_nothing_where_there_is_no_string_at_the_top() {
        assert_eq!(top_level_text(br#"{"kind":"OrderPlaced"}"#, "type"), None);
        assert_eq!(top_level_text(br#"{"id":{"type":"inner"}}"#, "type"), None);
        assert_eq!(top_level_text(br#"{"type":7}"#, "type"), None);
        assert_eq!(top_level_text(br#"{"type":["A"]}"#, "type"), None);
        assert_eq!(top_level_text(b"not json", "type"), None);
        assert_eq!(top_level_text(br#"["type","A"]"#, "type"), None);
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        assert_eq!(top_level_text(br#"{"type":"A"} trailing"#, "type"), None);
        assert_eq!(top_level_text(br#"{"type":"A","x":}"#, "type"), None);
        assert_eq!(top_level_text(br#"{"type":"A""#, "type"), None);
    }

    #[test]
    fn agrees_with_reading_the_whole_value() {
        let cases: [&[u8]; 9] = [
            br#"{"type":"A","type":"B"}"#,
            br#"{"type":"A","type":2}"#,
            br#"{"type":2,"type":"B"}"#,
            br#"{"a":[1,{"type":"x"}],"type":"T","b":null}"#,
            br#" {"type":"A"}"#,
            br#"{"type":"A"}  "#,
            br#"{}"#,
            br#"{"type":"\ud83d\ude00"}"#,
            br#"{"type":"A",}"#,
        ];
        for payload in cases {
            assert_eq!(
                top_level_text(payload, "type").map(Cow::into_owned),
                by_value(payload, "type"),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
    }
}
