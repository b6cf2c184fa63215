//! JSON payload shapes inferred from samples: field paths, their types, and how often each is
//! present. A field is required when every sample has it (as GenSON infers JSON Schemas).

use std::collections::BTreeMap;

use std::hash::Hash;

use serde_json::Value;

use super::finding::{Compatibility, ShapeField};

/// Deepest nesting read.
pub(super) const MAX_DEPTH: usize = 6;
/// Most paths one payload contributes.
pub(super) const MAX_PATHS: usize = 256;

/// JSON types as bits; integers and other numbers are one type (an integer is a number).
pub mod types {
    /// `null`.
    pub const NULL: u8 = 1;
    /// `true`/`false`.
    pub const BOOLEAN: u8 = 2;
    /// Any number.
    pub const NUMBER: u8 = 4;
    /// A string.
    pub const STRING: u8 = 8;
    /// An object.
    pub const OBJECT: u8 = 16;
    /// An array.
    pub const ARRAY: u8 = 32;
}

fn type_of(value: &Value) -> u8 {
    match value {
        Value::Null => types::NULL,
        Value::Bool(_) => types::BOOLEAN,
        Value::Number(_) => types::NUMBER,
        Value::String(_) => types::STRING,
        Value::Object(_) => types::OBJECT,
        Value::Array(_) => types::ARRAY,
    }
}

/// Type names of a bit set, in a fixed order.
pub fn type_names(bits: u8) -> Vec<&'static str> {
    [
        (types::NULL, "null"),
        (types::BOOLEAN, "boolean"),
        (types::NUMBER, "number"),
        (types::STRING, "string"),
        (types::OBJECT, "object"),
        (types::ARRAY, "array"),
    ]
    .iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, name)| *name)
    .collect()
}

/// The field paths of one payload and their types (`items[]` for array elements).
pub fn fields_of(value: &Value) -> BTreeMap<String, u8> {
    let mut out = BTreeMap::new();
    walk(value, "", 0, &mut out);
    out
}

fn walk(value: &Value, prefix: &str, depth: usize, out: &mut BTreeMap<String, u8>) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (name, child) in map {
                if out.len() >= MAX_PATHS {
                    return;
                }
                let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
                *out.entry(path.clone()).or_default() |= type_of(child);
                walk(child, &path, depth + 1, out);
            }
        }
        Value::Array(items) => {
            let path = format!("{prefix}[]");
            for child in items.iter().take(16) {
                if out.len() >= MAX_PATHS {
                    return;
                }
                *out.entry(path.clone()).or_default() |= type_of(child);
                walk(child, &path, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// A shape learned from samples.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Per path: types seen and in how many samples it was present.
    fields: BTreeMap<String, (u8, u32)>,
    /// Samples taken in.
    samples: u32,
}

/// How a payload differs from a shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Difference {
    /// Paths the shape never had (children of an added path left out).
    pub added: Vec<String>,
    /// Paths every sample of the shape had and the payload lacks (children left out).
    pub removed: Vec<String>,
    /// Paths present in both whose non-null types do not meet.
    pub changed: Vec<String>,
}

impl Difference {
    /// True when the payload fits the shape.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl Shape {
    /// Samples taken in.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// Takes a payload's fields in.
    pub fn absorb(&mut self, fields: &BTreeMap<String, u8>) {
        self.samples += 1;
        for (path, bits) in fields {
            let entry = self.fields.entry(path.clone()).or_default();
            entry.0 |= bits;
            entry.1 += 1;
        }
    }

    /// How `fields` differ from this shape.
    pub fn difference(&self, fields: &BTreeMap<String, u8>) -> Difference {
        let added = top_level(fields.keys().filter(|p| !self.fields.contains_key(*p)));
        let removed = top_level(
            self.fields.iter().filter(|(p, (_, n))| *n == self.samples && !fields.contains_key(*p)).map(|(p, _)| p),
        );
        let changed = fields
            .iter()
            .filter_map(|(p, bits)| {
                let (known, _) = self.fields.get(p)?;
                let (a, b) = (bits & !types::NULL, known & !types::NULL);
                (a != 0 && b != 0 && a & b == 0).then(|| p.clone())
            })
            .collect();
        Difference { added, removed, changed }
    }

    /// Whether every sample had `path`.
    pub fn requires(&self, path: &str) -> bool {
        self.fields.get(path).is_some_and(|(_, n)| *n == self.samples)
    }

    /// The fields for display.
    pub fn describe(&self) -> Vec<ShapeField> {
        self.fields
            .iter()
            .map(|(path, (bits, present))| ShapeField {
                path: path.clone(),
                types: type_names(*bits),
                presence_percent: (u64::from(*present) * 100 / u64::from(self.samples.max(1))) as u8,
            })
            .collect()
    }
}

/// Paths whose parent is not in the list too.
fn top_level<'a>(paths: impl Iterator<Item = &'a String>) -> Vec<String> {
    let all: Vec<&String> = paths.collect();
    all.iter()
        .filter(|p| {
            !all.iter()
                .any(|q| q.len() < p.len() && (p.starts_with(&format!("{q}.")) || p.starts_with(&format!("{q}[]"))))
        })
        .map(|p| (*p).clone())
        .collect()
}

/// Confluent Schema Registry's verdict on a change, reading fields present in every sample as
/// required and the others as optional: BACKWARD when readers on the new shape can read old
/// data (no required field added, no type changed), FORWARD when readers on the old shape can
/// read new data (no required field removed, no type changed), FULL when both.
pub fn compatibility(difference: &Difference, after: &Shape) -> Compatibility {
    let changed = !difference.changed.is_empty();
    let added_required = difference.added.iter().any(|p| after.requires(p));
    let removed_required = !difference.removed.is_empty();
    match (!changed && !added_required, !changed && !removed_required) {
        (true, true) => Compatibility::Full,
        (true, false) => Compatibility::Backward,
        (false, true) => Compatibility::Forward,
        (false, false) => Compatibility::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(samples: &[Value]) -> Shape {
        let mut s = Shape::default();
        for v in samples {
            s.absorb(&fields_of(v));
        }
        s
    }

    #[test]
    fn paths_types_and_presence() {
        let s = shape(&[json!({"id": 1, "c": {"e": "x"}, "items": [{"n": 1}]}), json!({"id": 2.5, "c": {"e": null}})]);
        let fields = s.describe();
        let find = |p: &str| fields.iter().find(|f| f.path == p).cloned();
        assert_eq!(find("id").map(|f| (f.types, f.presence_percent)), Some((vec!["number"], 100)));
        assert_eq!(find("c.e").map(|f| f.types), Some(vec!["null", "string"]));
        assert_eq!(find("items[].n").map(|f| f.presence_percent), Some(50));
    }

    #[test]
    fn a_renamed_field_is_removed_plus_added_and_compatible_neither_way() {
        let before = shape(&[json!({"order_id": "a", "total_cents": 5}), json!({"order_id": "b", "total_cents": 6})]);
        let new = json!({"order_id": "c", "amount_cents": 5, "currency": "EUR"});
        let diff = before.difference(&fields_of(&new));
        assert_eq!(diff.added, vec!["amount_cents".to_owned(), "currency".to_owned()]);
        assert_eq!(diff.removed, vec!["total_cents".to_owned()]);
        assert_eq!(compatibility(&diff, &shape(&[new])), Compatibility::None);
    }

    #[test]
    fn verdicts_follow_the_registry_rules() {
        let before = shape(&[json!({"a": 1, "b": "x"})]);
        // A required field added: old data lacks it, so only FORWARD.
        let added = json!({"a": 1, "b": "x", "c": true});
        assert_eq!(
            compatibility(&before.difference(&fields_of(&added)), &shape(std::slice::from_ref(&added))),
            Compatibility::Forward
        );
        // An optional field added (absent from some new samples): FULL.
        let optional = shape(&[added.clone(), json!({"a": 2, "b": "y"})]);
        assert_eq!(compatibility(&before.difference(&fields_of(&added)), &optional), Compatibility::Full);
        // A required field removed: BACKWARD.
        let removed = json!({"a": 1});
        assert_eq!(
            compatibility(&before.difference(&fields_of(&removed)), &shape(std::slice::from_ref(&removed))),
            Compatibility::Backward
        );
        // A type changed: NONE.
        let changed = json!({"a": "one", "b": "x"});
        let diff = before.difference(&fields_of(&changed));
        assert_eq!(diff.changed, vec!["a".to_owned()]);
        assert_eq!(compatibility(&diff, &shape(&[changed])), Compatibility::None);
        // Null where a value was: no change.
        assert!(before.difference(&fields_of(&json!({"a": null, "b": "x"}))).is_empty());
    }
}
