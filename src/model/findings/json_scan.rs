//! One pass over a JSON payload without building it: its shape's signature and the top-level
//! scalars the detectors read (event type, key, identity, sequence, time).
//!
//! Every message a topic carries is read, so this is the detectors' hottest path: parsing each
//! payload into a `serde_json::Value` allocated every key and string and cost more than the
//! flow graph's whole work per message. The scan borrows keys from the payload, keeps only the
//! strings asked for, and hashes paths as it goes. The payload is built as a `Value` only when
//! its shape must be listed (a shape not judged before, see `schema`).

use std::fmt;
use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;

use super::shape::{MAX_DEPTH, MAX_PATHS, types};
use crate::model::json_field::Key;

/// Array elements looked at for the shape (as `shape::fields_of` does).
const ARRAY_ITEMS: usize = 16;

/// A top-level scalar asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// A string.
    Text(String),
    /// A number (as `serde_json` prints it, and as `f64`).
    Number(serde_json::Number),
    /// `true`/`false`.
    Bool(bool),
    /// `null`, an object or an array: present, but not a scalar.
    Other,
}

impl Scalar {
    /// As text: strings as they are, numbers and booleans printed.
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Text(s) => Some(s.clone()),
            Self::Number(n) => Some(n.to_string()),
            Self::Bool(b) => Some(b.to_string()),
            Self::Other => None,
        }
    }

    /// As a number, when it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => n.as_f64(),
            _ => None,
        }
    }
}

/// What one pass over a JSON object payload found.
#[derive(Debug, Default)]
pub struct Scanned {
    /// A 64-bit signature of the payload's field paths and their types: equal for payloads
    /// whose `shape::fields_of` are equal (duplicate keys aside, which `Value` collapses).
    pub signature: u64,
    /// The asked-for fields present at the top level, by their index in the names asked for
    /// (the last occurrence of a repeated key, as `Value` keeps it).
    found: SmallVec<[(usize, Scalar); 8]>,
}

impl Scanned {
    /// The top-level field asked for at `index`, when present.
    pub fn field(&self, index: usize) -> Option<&Scalar> {
        self.found.iter().rev().find(|(i, _)| *i == index).map(|(_, s)| s)
    }
}

/// Scans `payload` when it is a JSON object, reading the top-level fields named in `wanted`;
/// `None` for anything else (not JSON, not an object, trailing bytes).
pub fn scan(payload: &[u8], wanted: &[&str]) -> Option<Scanned> {
    if payload.first() != Some(&b'{') {
        return None;
    }
    let mut walk = Walk { pairs: Vec::new(), wanted, found: SmallVec::new() };
    let mut de = serde_json::Deserializer::from_slice(payload);
    let seen = Value { walk: &mut walk, prefix: 0, depth: 0, top: true }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    if seen != Seen::Object {
        return None;
    }
    let Walk { mut pairs, found, .. } = walk;
    pairs.sort_unstable();
    pairs.dedup();
    let mut hasher = FxHasher::default();
    pairs.hash(&mut hasher);
    Some(Scanned { signature: hasher.finish(), found })
}

/// What the scan gathers.
struct Walk<'w> {
    /// One entry per (path, type) met: the path's hash mixed with the type's bit.
    pairs: Vec<u64>,
    wanted: &'w [&'w str],
    found: SmallVec<[(usize, Scalar); 8]>,
}

impl Walk<'_> {
    fn full(&self) -> bool {
        self.pairs.len() >= MAX_PATHS * 4
    }

    fn note(&mut self, path: u64, seen: &Seen) {
        self.pairs.push(path ^ u64::from(seen.bits()).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}

fn child_path(prefix: u64, name: &str) -> u64 {
    let mut hasher = FxHasher::default();
    (prefix, name).hash(&mut hasher);
    hasher.finish()
}

/// The kind of a value met, with the scalar when it was asked for.
#[derive(Debug, PartialEq)]
enum Seen {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(Option<String>),
    Object,
    Array,
}

impl Seen {
    fn bits(&self) -> u8 {
        match self {
            Self::Null => types::NULL,
            Self::Bool(_) => types::BOOLEAN,
            Self::Number(_) => types::NUMBER,
            Self::Text(_) => types::STRING,
            Self::Object => types::OBJECT,
            Self::Array => types::ARRAY,
        }
    }

    fn scalar(self) -> Scalar {
        match self {
            Self::Bool(b) => Scalar::Bool(b),
            Self::Number(n) => Scalar::Number(n),
            Self::Text(Some(s)) => Scalar::Text(s),
            Self::Null | Self::Text(None) | Self::Object | Self::Array => Scalar::Other,
        }
    }
}

/// One value at `prefix` (a path hash) and `depth`; `top` for the payload itself.
struct Value<'a, 'w> {
    walk: &'a mut Walk<'w>,
    prefix: u64,
    depth: usize,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Value<'_, '_> {
    type Value = Seen;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Seen, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Scalars, shared by both visitors: whether strings are kept is the only difference.
macro_rules! scalars {
    ($keep:expr) => {
        fn visit_bool<E>(self, v: bool) -> Result<Seen, E> {
            Ok(Seen::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Seen, E> {
            Ok(Seen::Number(v.into()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Seen, E> {
            Ok(Seen::Number(v.into()))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Seen, E> {
            // JSON has no NaN or infinity, so a parsed float always converts.
            Ok(serde_json::Number::from_f64(v).map_or(Seen::Null, Seen::Number))
        }
        fn visit_str<E>(self, v: &str) -> Result<Seen, E> {
            Ok(Seen::Text($keep.then(|| v.to_owned())))
        }
        fn visit_unit<E>(self) -> Result<Seen, E> {
            Ok(Seen::Null)
        }
    };
}

impl<'de> Visitor<'de> for Value<'_, '_> {
    type Value = Seen;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    scalars!(false);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen, A::Error> {
        let Value { walk, prefix, depth, top } = self;
        if depth > MAX_DEPTH {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Seen::Object);
        }
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            if walk.full() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let path = child_path(prefix, &name);
            let asked = if top { walk.wanted.iter().position(|w| *w == name) } else { None };
            match asked {
                // An asked-for field: kept as a scalar; when it is an object or array (rare
                // for the fields asked for) its children still count for the shape.
                Some(index) => {
                    let seen = map.next_value_seed(Either { walk: &mut *walk, path, depth })?;
                    walk.note(path, &seen);
                    walk.found.push((index, seen.scalar()));
                }
                None => {
                    let next = Value { walk: &mut *walk, prefix: path, depth: depth + 1, top: false };
                    let seen = map.next_value_seed(next)?;
                    walk.note(path, &seen);
                }
            }
        }
        Ok(Seen::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seen, A::Error> {
        let Value { walk, prefix, depth, .. } = self;
        if depth > MAX_DEPTH {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Seen::Array);
        }
        let path = child_path(prefix, "[]");
        let mut items = 0;
        loop {
            if items >= ARRAY_ITEMS || walk.full() {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                break;
            }
            let next = Value { walk: &mut *walk, prefix: path, depth: depth + 1, top: false };
            let Some(seen) = seq.next_element_seed(next)? else { break };
            walk.note(path, &seen);
            items += 1;
        }
        Ok(Seen::Array)
    }
}

/// A top-level field asked for: its string kept, its children walked for the shape.
struct Either<'a, 'w> {
    walk: &'a mut Walk<'w>,
    path: u64,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Either<'_, '_> {
    type Value = Seen;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Seen, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Either<'_, '_> {
    type Value = Seen;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    scalars!(true);

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Seen, A::Error> {
        Value { walk: self.walk, prefix: self.path, depth: self.depth + 1, top: false }.visit_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Seen, A::Error> {
        Value { walk: self.walk, prefix: self.path, depth: self.depth + 1, top: false }.visit_seq(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::shape::fields_of;

    fn signature(payload: &str) -> Option<u64> {
        scan(payload.as_bytes(), &[]).map(|s| s.signature)
    }

    #[test]
    fn signatures_follow_fields_not_values() {
        let a = signature(r#"{"id": 1, "c": {"e": "x"}, "items": [{"n": 1}, {"n": 2}]}"#);
        let b = signature(r#"{"items": [{"n": 3}], "c": {"e": "y"}, "id": 7}"#);
        let renamed = signature(r#"{"id": 7, "c": {"f": "y"}, "items": [{"n": 3}]}"#);
        let retyped = signature(r#"{"id": "7", "c": {"e": "y"}, "items": [{"n": 3}]}"#);
        let deeper = signature(r#"{"id": 7, "c": {"e": {"g": 1}}, "items": [{"n": 3}]}"#);
        assert!(a.is_some());
        assert_eq!(a, b, "order and values do not matter");
        assert_ne!(a, renamed);
        assert_ne!(a, retyped);
        assert_ne!(a, deeper);
    }

    #[test]
    fn equal_signatures_mean_equal_listed_fields() {
        // Payloads of a few shapes, each listed by `fields_of` and signed by the scan: two
        // payloads share a signature exactly when they share their listed fields.
        let payloads = [
            r#"{"a": 1}"#,
            r#"{"a": 2.5}"#,
            r#"{"a": "x"}"#,
            r#"{"a": null}"#,
            r#"{"a": [1, "x"]}"#,
            r#"{"a": ["x", 1, 1]}"#,
            r#"{"a": {"b": [{"c": true}]}}"#,
            r#"{"a": {"b": [{"c": false}, {}]}}"#,
            r#"{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}"#,
            r#"{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": "x"}}}}}}}}"#,
            r#"{"a\u0041": 1}"#,
        ];
        for x in payloads {
            for y in payloads {
                let listed = |p: &str| fields_of(&serde_json::from_str::<serde_json::Value>(p).expect("json"));
                assert_eq!(signature(x) == signature(y), listed(x) == listed(y), "{x} and {y}");
            }
        }
    }

    #[test]
    fn reads_asked_top_level_scalars_only() {
        let payload = br#"{"type": "OrderPlaced", "seq": 4, "ok": true, "nested": {"type": "inner"}, "list": [1]}"#;
        let scanned = scan(payload, &["type", "seq", "ok", "nested", "absent", "list"]).expect("an object");
        assert_eq!(scanned.field(0), Some(&Scalar::Text("OrderPlaced".into())));
        assert_eq!(scanned.field(1).and_then(Scalar::number), Some(4.0));
        assert_eq!(scanned.field(1).and_then(Scalar::text).as_deref(), Some("4"));
        assert_eq!(scanned.field(2).and_then(Scalar::text).as_deref(), Some("true"));
        assert_eq!(scanned.field(3), Some(&Scalar::Other));
        assert_eq!(scanned.field(4), None);
        assert_eq!(scanned.field(5), Some(&Scalar::Other));
        // The last of a repeated key, as a parsed `Value` keeps it.
        let repeated = scan(br#"{"seq": 1, "seq": 2}"#, &["seq"]).expect("an object");
        assert_eq!(repeated.field(0).and_then(Scalar::number), Some(2.0));
    }

    #[test]
    fn anything_but_one_json_object_is_not_scanned() {
        for payload in [&b"[1]"[..], b"\"x\"", b"{\"a\": 1} trailing", b"{\"a\": ", b"", b"\xff{}", b"{\"a\": 1}{}"] {
            assert!(scan(payload, &["a"]).is_none(), "{}", String::from_utf8_lossy(payload));
        }
        // Valid JSON nested far deeper than the shape reads (and than a `Value` may be built)
        // is still an object; what lies below the depth read is skipped without recursion.
        let deep = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        assert!(scan(deep.as_bytes(), &[]).is_some());
        let cut = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(99_999));
        assert!(scan(cut.as_bytes(), &[]).is_none());
        assert!(scan(b" {}", &[]).is_none(), "payloads must start with the object");
    }
}
