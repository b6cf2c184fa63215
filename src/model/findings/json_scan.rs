//! One pass over a JSON payload without building it: its shape's signature and the top-level
//! scalars the detectors read (event type, key, identity, sequence, time).
//!
//! Every message a topic carries is read, so this is the detectors' hottest path: parsing each
//! payload into a `serde_json::Value` allocated every key and string and cost more than the
//! flow graph's whole work per message. The scan borrows keys from the payload, keeps only the
//! strings asked for, and hashes paths as it goes. The payload is built as a `Value` only when
//! its shape must be listed (a shape not judged before, see `schema`).

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;
use smallvec::SmallVec;

use super::shape::{MAX_DEPTH, MAX_PATHS, types};
use crate::model::json_reader::{Kind, Reader};

/// Array elements looked at for the shape (as `shape::fields_of` does).
const ARRAY_ITEMS: usize = 16;

/// A top-level scalar asked for, its text borrowed from the payload unless escaped (most
/// asked-for strings are never copied: a CloudEvents header often names the type instead).
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar<'p> {
    /// A string.
    Text(Cow<'p, str>),
    /// A number (as `serde_json` prints it, and as `f64`).
    Number(serde_json::Number),
    /// `true`/`false`.
    Bool(bool),
    /// `null`, an object or an array: present, but not a scalar.
    Other,
}

impl<'p> Scalar<'p> {
    /// As text: strings as they are (still borrowed), numbers and booleans printed.
    pub fn text(&self) -> Option<Cow<'p, str>> {
        match self {
            Self::Text(s) => Some(s.clone()),
            Self::Number(n) => Some(Cow::Owned(n.to_string())),
            Self::Bool(b) => Some(Cow::Owned(b.to_string())),
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
pub struct Scanned<'p> {
    /// A 64-bit signature of the payload's field paths and their types: equal for payloads
    /// whose `shape::fields_of` are equal (duplicate keys aside, which `Value` collapses).
    pub signature: u64,
    /// The asked-for fields present at the top level, by their index in the names asked for
    /// (the last occurrence of a repeated key, as `Value` keeps it).
    found: SmallVec<[(usize, Scalar<'p>); 8]>,
}

impl<'p> Scanned<'p> {
    /// The top-level field asked for at `index`, when present.
    pub fn field(&self, index: usize) -> Option<&Scalar<'p>> {
        self.found.iter().rev().find(|(i, _)| *i == index).map(|(_, s)| s)
    }

    /// The field asked for at `index` as text (see [`Scalar::text`]), its string moved out
    /// rather than copied: a later call for the same index finds nothing.
    pub fn take_text(&mut self, index: usize) -> Option<Cow<'p, str>> {
        let (_, scalar) = self.found.iter_mut().rev().find(|(i, _)| *i == index)?;
        match std::mem::replace(scalar, Scalar::Other) {
            Scalar::Text(s) => Some(s),
            other => other.text(),
        }
    }
}

/// Scans `payload` when it is a JSON object, reading the top-level fields named in `wanted`;
/// `None` for anything else (not JSON, not an object, trailing bytes).
pub fn scan<'p>(payload: &'p [u8], wanted: &[&str]) -> Option<Scanned<'p>> {
    if payload.first() != Some(&b'{') {
        return None;
    }
    let lengths = wanted.iter().filter(|w| w.len() < 64).fold(0_u64, |mask, w| mask | 1 << w.len());
    let mut walk = Walk { pairs: SmallVec::new(), wanted, lengths, found: SmallVec::new() };
    let mut reader = Reader::new(payload);
    walk.object(&mut reader, 0, 0, true)?;
    reader.end()?;
    let Walk { mut pairs, found, .. } = walk;
    pairs.sort_unstable();
    pairs.dedup();
    let mut hasher = FxHasher::default();
    pairs.hash(&mut hasher);
    Some(Scanned { signature: hasher.finish(), found })
}

/// What the scan gathers.
struct Walk<'w, 'p> {
    /// One entry per (path, type) met: the path's hash mixed with the type's bit.
    pairs: SmallVec<[u64; 32]>,
    wanted: &'w [&'w str],
    /// A bit per length of a name asked for (those under 64 bytes): most keys are told apart
    /// from every name asked for by their length alone.
    lengths: u64,
    found: SmallVec<[(usize, Scalar<'p>); 8]>,
}

impl<'p> Walk<'_, 'p> {
    fn full(&self) -> bool {
        self.pairs.len() >= MAX_PATHS * 4
    }

    fn note(&mut self, path: u64, bits: u8) {
        self.pairs.push(path ^ u64::from(bits).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }

    /// Reads the value that comes next, at `path` and `depth`; returns its type's bit.
    fn value(&mut self, reader: &mut Reader<'p>, path: u64, depth: usize) -> Option<u8> {
        match reader.next_kind()? {
            Kind::Object => self.object(reader, path, depth, false).map(|()| types::OBJECT),
            Kind::Array => self.array(reader, path, depth).map(|()| types::ARRAY),
            kind => reader.skip_scalar(kind).map(|()| bits(kind)),
        }
    }

    /// Reads an object at `prefix` (a path hash) and `depth`; `top` for the payload itself,
    /// whose asked-for fields are kept.
    fn object(&mut self, reader: &mut Reader<'p>, prefix: u64, depth: usize, top: bool) -> Option<()> {
        if depth > MAX_DEPTH {
            return reader.skip_value().map(drop);
        }
        reader.object(|reader, key| {
            if self.full() {
                return reader.skip_value().map(drop);
            }
            let name = key.bytes();
            let path = child_path(prefix, &name);
            let asked = if top && (name.len() >= 64 || self.lengths & 1 << name.len() != 0) {
                self.wanted.iter().position(|w| w.as_bytes() == &*name)
            } else {
                None
            };
            let bits = match asked {
                Some(index) => {
                    let (bits, scalar) = self.asked(reader, path, depth)?;
                    self.found.push((index, scalar));
                    bits
                }
                None => self.value(reader, path, depth + 1)?,
            };
            self.note(path, bits);
            Some(())
        })
    }

    /// Reads an asked-for field's value: kept when it is a scalar; when it is an object or
    /// array (rare for the fields asked for) its children still count for the shape.
    fn asked(&mut self, reader: &mut Reader<'p>, path: u64, depth: usize) -> Option<(u8, Scalar<'p>)> {
        let kind = reader.next_kind()?;
        let scalar = match kind {
            Kind::String => Scalar::Text(reader.string()?.text()),
            Kind::Number => number(reader.number()?),
            Kind::Bool | Kind::Null => reader.literal()?.map_or(Scalar::Other, Scalar::Bool),
            Kind::Object | Kind::Array => return self.value(reader, path, depth + 1).map(|bits| (bits, Scalar::Other)),
        };
        Some((bits(kind), scalar))
    }

    /// Reads an array: its first [`ARRAY_ITEMS`] elements count for the shape.
    fn array(&mut self, reader: &mut Reader<'p>, prefix: u64, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return reader.skip_value().map(drop);
        }
        let path = child_path(prefix, b"[]");
        let mut items = 0;
        reader.array(|reader| {
            if items >= ARRAY_ITEMS || self.full() {
                return reader.skip_value().map(|_| false);
            }
            let bits = self.value(reader, path, depth + 1)?;
            self.note(path, bits);
            items += 1;
            Some(true)
        })
    }
}

fn child_path(prefix: u64, name: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    (prefix, name).hash(&mut hasher);
    hasher.finish()
}

fn bits(kind: Kind) -> u8 {
    match kind {
        Kind::Null => types::NULL,
        Kind::Bool => types::BOOLEAN,
        Kind::Number => types::NUMBER,
        Kind::String => types::STRING,
        Kind::Object => types::OBJECT,
        Kind::Array => types::ARRAY,
    }
}

/// A number's text as `serde_json` reads it (`-0` is a float there, for one).
fn number(text: &str) -> Scalar<'static> {
    let parsed = text.parse::<u64>().map(serde_json::Number::from).ok();
    parsed.or_else(|| serde_json::from_str(text).ok()).map_or(Scalar::Other, Scalar::Number)
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

    /// Payloads mutated at random (a fixed seed): the scan and the journeys' one-field read
    /// accept exactly what serde_json accepts as an object and read the same fields from it.
    #[test]
    fn mutated_payloads_are_judged_as_serde_json_judges_them() {
        const WANTED: [&str; 4] = ["type", "seq", "time", "id"];
        let seeds: [&[u8]; 4] = [
            br#"{"type":"OrderPlaced","seq":12,"time":"2026-12-02T10:00:00Z","id":"o-1","total":12.5,"items":[{"sku":"a","n":2}],"note":null,"ok":true}"#,
            br#"{"t\u0079pe":"Esc\"aped \ud83d\ude00","seq":-0,"id":1e5,"deep":{"a":{"b":[[1,2],{"c":"d"}]}}}"#,
            br#"{"type": "A", "type": 7, "seq": 18446744073709551615, "time": 1.5e300, "x": [true, false, "\u00e9"]}"#,
            b"{\"seq\":-9223372036854775808,\"id\":\"caf\xc3\xa9\",\"e\":{},\"f\":[],\"g\":\"\"}",
        ];
        let alphabet = b"{}[]\",:0123456789-+.eEtrufalsn dc00\\u\xc3\xff\n";
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % bound as u64).unwrap_or(0)
        };
        let mut accepted = 0;
        let mut listed_by_signature = std::collections::HashMap::new();
        let mut signature_by_listed = std::collections::HashMap::new();
        for round in 0..20_000 {
            let mut payload = seeds[round % seeds.len()].to_vec();
            for _ in 0..=next(3) {
                let at = next(payload.len() + 1);
                match next(3) {
                    0 if at < payload.len() => {
                        payload.remove(at);
                    }
                    1 if at < payload.len() => payload[at] = alphabet[next(alphabet.len())],
                    _ => payload.insert(at, alphabet[next(alphabet.len())]),
                }
            }
            let value = serde_json::from_slice::<serde_json::Value>(&payload)
                .ok()
                .filter(|v| v.is_object() && payload.first() == Some(&b'{'));
            let scanned = scan(&payload, &WANTED);
            let shown = String::from_utf8_lossy(&payload).into_owned();
            assert_eq!(scanned.is_some(), value.is_some(), "{shown}");
            let by_value = value.as_ref().and_then(|v| v.get("type")?.as_str().map(str::to_owned));
            let text = crate::model::json_field::top_level_text(&payload, "type").map(std::borrow::Cow::into_owned);
            assert_eq!(text, by_value, "{shown}");
            if let (Some(scanned), Some(value)) = (scanned, value) {
                accepted += 1;
                for (index, field) in WANTED.into_iter().enumerate() {
                    let expected = value.get(field).map(|v| match v {
                        serde_json::Value::String(s) => Scalar::Text(s.clone().into()),
                        serde_json::Value::Number(n) => Scalar::Number(n.clone()),
                        serde_json::Value::Bool(b) => Scalar::Bool(*b),
                        _ => Scalar::Other,
                    });
                    assert_eq!(scanned.field(index), expected.as_ref(), "{field} of {shown}");
                }
                let listed = format!("{:?}", fields_of(&value));
                let by_signature = listed_by_signature.entry(scanned.signature).or_insert_with(|| listed.clone());
                assert_eq!(*by_signature, listed, "one signature, two shapes: {shown}");
                let by_listed = signature_by_listed.entry(listed).or_insert(scanned.signature);
                assert_eq!(*by_listed, scanned.signature, "one shape, two signatures: {shown}");
            }
        }
        assert!(accepted > 1_000, "the mutations left too few valid payloads ({accepted}) to compare");
    }
}
