//! One top-level string field of a JSON object payload, read without building the payload.
//!
//! Journeys read the event type of every message the Kafka browser streams. Parsing each
//! payload into a `serde_json::Value` allocated every key and string of it and was the largest
//! single cost of the browse path; this pass skips everything but the field asked for, while
//! still rejecting what `serde_json::from_slice` rejects (invalid JSON, trailing bytes).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The string at `field` of a JSON object payload: `None` when the payload is not a JSON
/// object, the field is absent, or its value is not a string. A repeated key counts by its
/// last occurrence, as `serde_json::Value` keeps it. Borrowed from the payload unless the
/// string holds escapes.
pub fn top_level_text<'p>(payload: &'p [u8], field: &str) -> Option<Cow<'p, str>> {
    if payload.first() != Some(&b'{') {
        return None;
    }
    let mut de = serde_json::Deserializer::from_slice(payload);
    let found = Object { field }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    found
}

/// The payload's top-level object, looking for one key.
struct Object<'f> {
    field: &'f str,
}

impl<'de> DeserializeSeed<'de> for Object<'_> {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Object<'_> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Key<'_>>()?.map(|k| k.0) {
            if key == self.field {
                found = map.next_value_seed(Text)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// An object key, borrowed from the payload when it has no escapes (the findings' payload
/// scan reads keys the same way).
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(v.to_owned().into()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The value of the field asked for: kept when it is a string, skipped otherwise.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
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
