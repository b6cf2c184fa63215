//! Schema changes: per event type, the JSON shape of its payloads is learned from its first
//! [`LEARN_SAMPLES`] messages; a later message that adds a field the shape never had, lacks
//! one every earlier message had, or changes a field's type starts a new shape. Each new shape
//! is a finding with both shapes side by side, Schema Registry's verdict on the change, the
//! service that produced its first message, and the consumers whose failures on the topic
//! began after it appeared.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap;

use super::FindingsCounters;
use super::finding::{Consumer, Evidence, Finding, FindingKind, Location, MessageRef, Severity, ShapeDiff};
use super::payload::ReadPayload;
use super::shape::{Difference, Shape, compatibility, fields_of};
use super::table::key_of;
use crate::model::kafka::message::KafkaMessage;

/// Messages an event type's first shape is learned from (optional fields show up in them).
pub const LEARN_SAMPLES: u32 = 10;
/// Event types followed; more are counted, not followed.
const MAX_EVENT_TYPES: usize = 1_000;
/// New shapes kept per event type.
const MAX_SHAPES: usize = 8;
/// Payload signatures remembered per event type, with what they were judged to be.
const MAX_SIGNATURES: usize = 32;
/// Failure times kept per topic and consumer.
const MAX_FAILURE_TIMES: usize = 512;
/// Topic and consumer pairs whose failures are kept.
const MAX_FAILING: usize = 10_000;

/// One new shape of an event type.
#[derive(Clone, Debug)]
struct NewShape {
    difference: Difference,
    shape: Shape,
    first: MessageRef,
    /// When its first message was written (its timestamp, else when it was read).
    first_at: u64,
    first_read: u64,
    last_read: u64,
    produced_by: Option<String>,
    trace: Option<String>,
}

/// One event type's shapes.
#[derive(Clone, Debug)]
struct EventShapes {
    topic: String,
    event_type: Option<String>,
    baseline: Shape,
    first: MessageRef,
    changes: Vec<NewShape>,
    /// Signatures judged since learning: `None` fits the baseline, `Some(i)` is change `i`.
    judged: Vec<(u64, Option<usize>)>,
}

/// Schema changes per event type.
#[derive(Clone, Debug, Default)]
pub struct SchemaDetector {
    /// By the hash of (topic, event type) ([`key_of`]): a message is looked up without
    /// copying either name.
    types: FxHashMap<u64, EventShapes>,
    /// Failure times (span start, Unix ns) per (topic, consumer), oldest first.
    failures: BTreeMap<(String, String), VecDeque<u64>>,
    dropped: u64,
    evicted: u64,
}

impl SchemaDetector {
    /// Empty; `_max` is the per-key bound the other detectors take (this one is bounded by
    /// event types and shapes).
    pub fn new(_max: usize) -> Self {
        Self::default()
    }

    /// Remembers that `consumer` failed on `topic` at `at` (span start).
    pub fn note_failure(&mut self, topic: &str, consumer: &Consumer, at: u64) {
        let name = match consumer {
            Consumer::Group(g) => g.clone(),
            Consumer::Service(s) => s.clone(),
        };
        let key = (topic.to_owned(), name);
        if !self.failures.contains_key(&key) && self.failures.len() >= MAX_FAILING {
            self.evicted += 1;
            return;
        }
        let times = self.failures.entry(key).or_default();
        if times.len() >= MAX_FAILURE_TIMES {
            times.pop_front();
            self.evicted += 1;
        }
        times.push_back(at);
    }

    /// Takes in a message read from the log, written by `produced_by` when known; true when a
    /// finding changed.
    pub fn apply_message(
        &mut self,
        message: &KafkaMessage,
        read: &ReadPayload,
        produced_by: Option<&str>,
        at: u64,
    ) -> bool {
        let Some(signature) = read.signature else { return false };
        let key = key_of(&(message.topic.as_str(), read.event_type.as_deref()));
        let place =
            || MessageRef { topic: message.topic.clone(), partition: message.partition, offset: message.offset };
        if !self.types.contains_key(&key) {
            if self.types.len() >= MAX_EVENT_TYPES {
                self.dropped += 1;
                return false;
            }
            self.types.insert(
                key,
                EventShapes {
                    topic: message.topic.clone(),
                    event_type: read.event_type.as_deref().map(str::to_owned),
                    baseline: Shape::default(),
                    first: place(),
                    changes: Vec::new(),
                    judged: Vec::new(),
                },
            );
        }
        let Some(shapes) = self.types.get_mut(&key) else { return false };
        if shapes.baseline.samples() < LEARN_SAMPLES {
            if let Some(fields) = listed_fields(message) {
                shapes.baseline.absorb(&fields);
            }
            return false;
        }
        // Once learned, the baseline stays as it is: a payload of a shape already judged
        // fitting costs its signature (taken in the scan every detector shares), not its paths.
        let judged = shapes.judged.iter().find(|(s, _)| *s == signature).map(|(_, j)| *j);
        if judged == Some(None) {
            return false;
        }
        let Some(fields) = listed_fields(message) else { return false };
        let difference = shapes.baseline.difference(&fields);
        if difference.is_empty() {
            if shapes.judged.len() < MAX_SIGNATURES {
                shapes.judged.push((signature, None));
            }
            return false;
        }
        if let Some(index) = shapes.changes.iter().position(|c| c.difference == difference) {
            if judged.is_none() && shapes.judged.len() < MAX_SIGNATURES {
                shapes.judged.push((signature, Some(index)));
            }
            let change = &mut shapes.changes[index];
            change.shape.absorb(&fields);
            change.last_read = change.last_read.max(at);
            return true;
        }
        if shapes.changes.len() >= MAX_SHAPES {
            self.dropped += 1;
            return false;
        }
        let mut shape = Shape::default();
        shape.absorb(&fields);
        let written = message.timestamp_ms.and_then(|ms| u64::try_from(ms).ok()).map(|ms| ms.saturating_mul(1_000_000));
        shapes.changes.push(NewShape {
            difference,
            shape,
            first: place(),
            first_at: written.unwrap_or(at),
            first_read: at,
            last_read: at,
            produced_by: produced_by.map(str::to_owned),
            trace: message.links.trace.as_ref().map(|t| t.trace_id.to_hex()),
        });
        true
    }

    /// Consumers whose failures on `topic` began after `since`: failing since then with none
    /// before, or at more than twice the rate before.
    fn failing_after(&self, topic: &str, since: u64) -> Vec<String> {
        self.failures
            .range((topic.to_owned(), String::new())..)
            .take_while(|((t, _), _)| t == topic)
            .filter(|(_, times)| {
                let before = times.iter().filter(|t| **t < since).count() as f64;
                let after = times.iter().filter(|t| **t >= since).count() as f64;
                let (Some(first), Some(last)) = (times.front(), times.back()) else { return false };
                let span_before = since.saturating_sub(*first).max(1_000_000_000) as f64;
                let span_after = last.saturating_sub(since).max(1_000_000_000) as f64;
                after > 0.0 && (before == 0.0 || after / span_after > 2.0 * before / span_before)
            })
            .map(|((_, consumer), _)| consumer.clone())
            .collect()
    }

    /// Copies the findings into `out`.
    pub fn collect(&self, out: &mut Vec<Finding>) {
        // In the order of their names, not of their hashes.
        let mut types: Vec<&EventShapes> = self.types.values().collect();
        types.sort_unstable_by(|a, b| (&a.topic, &a.event_type).cmp(&(&b.topic, &b.event_type)));
        for shapes in types {
            for change in &shapes.changes {
                let failing = self.failing_after(&shapes.topic, change.first_at);
                let verdict = compatibility(&change.difference, &change.shape);
                let severity = if !failing.is_empty() {
                    Severity::Error
                } else if verdict == super::Compatibility::Full {
                    Severity::Info
                } else {
                    Severity::Warning
                };
                let location = Location { event_type: shapes.event_type.clone(), ..Location::topic(&shapes.topic) };
                let mut words = Vec::new();
                if !change.difference.added.is_empty() {
                    words.push(format!("added {}", change.difference.added.join(", ")));
                }
                if !change.difference.removed.is_empty() {
                    words.push(format!("removed {}", change.difference.removed.join(", ")));
                }
                if !change.difference.changed.is_empty() {
                    words.push(format!("changed the type of {}", change.difference.changed.join(", ")));
                }
                let mut summary = format!("new shape ({}), {verdict:?} compatible", words.join("; "));
                if !failing.is_empty() {
                    summary.push_str(&format!("; failing since: {}", failing.join(", ")));
                }
                let mut evidence = Evidence {
                    messages: vec![shapes.first.clone(), change.first.clone()],
                    shape: Some(Box::new(ShapeDiff {
                        before: shapes.baseline.describe(),
                        after: change.shape.describe(),
                        added: change.difference.added.clone(),
                        removed: change.difference.removed.clone(),
                        changed: change.difference.changed.clone(),
                        compatibility: verdict,
                        first_before: Some(shapes.first.clone()),
                        first_after: Some(change.first.clone()),
                        produced_by: change.produced_by.clone(),
                        failing_consumers: failing,
                    })),
                    ..Evidence::default()
                };
                if let Some(trace) = &change.trace {
                    evidence.add_trace(|| trace.clone());
                }
                out.push(Finding {
                    kind: FindingKind::SchemaChange,
                    severity,
                    count: u64::from(change.shape.samples()),
                    location,
                    summary,
                    first_seen_unix_nano: change.first_read,
                    last_seen_unix_nano: change.last_read,
                    evidence,
                });
            }
        }
    }

    /// What the bounds dropped.
    pub fn counters(&self) -> FindingsCounters {
        FindingsCounters {
            tracked: self.types.len() as u64 + self.failures.len() as u64,
            evicted: self.evicted,
            findings_dropped: self.dropped,
        }
    }
}

/// The field paths and types of a message's JSON object payload, listed: the payload is built
/// as a `Value` here only, for the few payloads whose shape is learned or not judged yet.
fn listed_fields(message: &KafkaMessage) -> Option<BTreeMap<String, u8>> {
    let json = serde_json::from_slice::<serde_json::Value>(message.payload.as_deref()?).ok()?;
    json.is_object().then(|| fields_of(&json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::payload::FieldPlan;
    use crate::model::findings::testing::message;

    fn feed(d: &mut SchemaDetector, offset: i64, payload: &str) -> bool {
        let m = message("orders", 0, offset, "k", payload.as_bytes());
        d.apply_message(&m, &ReadPayload::of(&m, &FieldPlan::default()), None, offset as u64)
    }

    fn findings(d: &SchemaDetector) -> Vec<Finding> {
        let mut out = Vec::new();
        d.collect(&mut out);
        out
    }

    #[test]
    fn steady_payloads_with_optional_fields_are_no_change() {
        let mut d = SchemaDetector::new(0);
        for i in 0..50 {
            let note = if i % 3 == 0 { r#","note":"gift""# } else { "" };
            feed(&mut d, i, &format!(r#"{{"type":"OrderPlaced","order_id":"o{i}","total_cents":{i}{note}}}"#));
        }
        assert!(findings(&d).is_empty(), "{:?}", findings(&d));
    }

    #[test]
    fn a_renamed_field_is_a_change_with_failing_consumers_and_both_shapes() {
        let mut d = SchemaDetector::new(0);
        d.note_failure("orders", &Consumer::Group("payments".into()), 1_700_000_000_000_000_000);
        for i in 0..20 {
            feed(&mut d, i, &format!(r#"{{"type":"OrderPlaced","order_id":"o{i}","total_cents":{i}}}"#));
        }
        for i in 20..25 {
            feed(
                &mut d,
                i,
                &format!(r#"{{"type":"OrderPlaced","order_id":"o{i}","amount_cents":{i},"currency":"EUR"}}"#),
            );
        }
        // Failures begin with the new shape (message timestamps are 1.7e18 ns + offset ms).
        for i in 0..5 {
            d.note_failure("orders", &Consumer::Group("payments".into()), 1_700_000_000_030_000_000 + i);
        }
        // Another event type on the topic keeps its own shape.
        for i in 25..40 {
            feed(&mut d, i, r#"{"type":"OrderCancelled","order_id":"x"}"#);
        }
        let f = findings(&d);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, FindingKind::SchemaChange);
        assert_eq!(f[0].count, 5, "messages of the new shape");
        assert_eq!(f[0].location.event_type.as_deref(), Some("OrderPlaced"));
        let diff = f[0].evidence.shape.as_deref().map(|s| (s.added.clone(), s.removed.clone(), s.compatibility));
        assert_eq!(
            diff,
            Some((
                vec!["amount_cents".into(), "currency".into()],
                vec!["total_cents".into()],
                super::super::Compatibility::None
            ))
        );
        assert_eq!(f[0].evidence.shape.as_ref().map(|s| s.failing_consumers.clone()), Some(vec!["payments".into()]));
        assert_eq!(f[0].severity, Severity::Error);
    }
}
