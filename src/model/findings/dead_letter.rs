//! Dead letters: messages in dead-letter topics, grouped by dead-letter topic, source topic,
//! consumer group and exception class, from the provenance headers of Spring Kafka
//! (`kafka_dlt-*`), Kafka Connect (`__connect.errors.*`) and Kafka Streams
//! (`__streams.errors.*`). Where no message was read (spans only), producer spans writing to
//! a topic named like a dead-letter topic (`*.DLQ`, `*-dlt`, ...) are counted instead.

use std::collections::BTreeMap;

use super::FindingsCounters;
use super::finding::{Evidence, Finding, FindingKind, Location, MessageRef, Severity};
use super::payload::{ReadPayload, preview};
use super::table::{Memory, key_of};
use crate::model::kafka::message::{KafkaMessage, is_dead_letter_topic};
use crate::model::messaging::MessagingRole;
use crate::model::span::Span;

/// Groups of dead letters kept; more are counted, not kept.
const MAX_GROUPS: usize = 1_000;

/// Dead letters of one (dead-letter topic, source topic, group, exception).
#[derive(Clone, Debug)]
struct DeadLetters {
    family: &'static str,
    count: u64,
    first_read: u64,
    last_read: u64,
    /// Oldest message timestamp, Unix ms.
    oldest_ms: Option<i64>,
    message: Option<String>,
    evidence: Evidence,
}

/// Dead-lettered messages.
#[derive(Clone, Debug)]
pub struct DeadLetterDetector {
    groups: BTreeMap<(String, String, Option<String>, Option<String>), DeadLetters>,
    /// Producer spans to dead-letter topics, per (topic, service).
    sent: BTreeMap<(String, String), (u64, u64, u64, Evidence)>,
    seen: Memory<()>,
    dropped: u64,
}

impl DeadLetterDetector {
    /// Empty, remembering at most `max` messages read.
    pub fn new(max: usize) -> Self {
        Self { groups: BTreeMap::new(), sent: BTreeMap::new(), seen: Memory::new(max), dropped: 0 }
    }

    /// Counts producer spans writing to a dead-letter topic.
    pub fn apply_span(&mut self, span: &Span, at: u64) -> bool {
        let Some(m) = &span.messaging else { return false };
        if m.operation.role() != MessagingRole::Produce {
            return false;
        }
        let Some(topic) = m.destination.as_deref().filter(|t| is_dead_letter_topic(t)) else { return false };
        let key = (topic.to_owned(), span.service().to_string());
        if !self.sent.contains_key(&key) && self.sent.len() >= MAX_GROUPS {
            self.dropped += 1;
            return false;
        }
        let entry = self.sent.entry(key).or_insert_with(|| (0, at, at, Evidence::default()));
        entry.0 += 1;
        entry.1 = entry.1.min(at);
        entry.2 = entry.2.max(at);
        entry.3.add_trace(|| span.trace_id.to_hex());
        true
    }

    /// Takes in a message read from a dead-letter topic; true when a finding changed.
    pub fn apply_message(&mut self, message: &KafkaMessage, _read: &ReadPayload, at: u64) -> bool {
        let Some(origin) = &message.links.dead_letter else { return false };
        let place = key_of(&(&message.topic, message.partition, message.offset));
        if self.seen.get(&place).is_some() {
            return false;
        }
        self.seen.insert(place, ());
        let key = (message.topic.clone(), origin.topic.clone(), origin.group.clone(), origin.exception.clone());
        if !self.groups.contains_key(&key) && self.groups.len() >= MAX_GROUPS {
            self.dropped += 1;
            return false;
        }
        let entry = self.groups.entry(key).or_insert_with(|| DeadLetters {
            family: origin.family.as_str(),
            count: 0,
            first_read: at,
            last_read: at,
            oldest_ms: None,
            message: None,
            evidence: Evidence::default(),
        });
        entry.count += 1;
        entry.first_read = entry.first_read.min(at);
        entry.last_read = entry.last_read.max(at);
        if let Some(ms) = message.timestamp_ms {
            entry.oldest_ms = Some(entry.oldest_ms.map_or(ms, |o| o.min(ms)));
        }
        if origin.message.is_some() {
            entry.message.clone_from(&origin.message);
        }
        if let (Some(partition), Some(offset)) = (origin.partition, origin.offset) {
            entry.evidence.add_message(|| MessageRef { topic: origin.topic.clone(), partition, offset });
        }
        if let Some(trace) = &message.links.trace {
            entry.evidence.add_trace(|| trace.trace_id.to_hex());
        }
        if let Some(payload) = &message.payload {
            entry.evidence.payload = Some(preview(payload));
        }
        true
    }

    /// Copies the findings into `out`.
    pub fn collect(&self, out: &mut Vec<Finding>) {
        for ((dlq, source, group, exception), d) in &self.groups {
            let seconds = (d.last_read.saturating_sub(d.first_read) as f64 / 1e9).max(1.0);
            let mut evidence = d.evidence.clone();
            evidence.chain = vec![source.clone(), dlq.clone()];
            evidence.error = match (exception, &d.message) {
                (Some(class), Some(message)) => Some(format!("{class}: {message}")),
                (Some(class), None) => Some(class.clone()),
                (None, message) => message.clone(),
            };
            let by = group.as_deref().map(|g| format!(" by {g}")).unwrap_or_default();
            let oldest = d.oldest_ms.map(|ms| format!(", oldest written at {ms} ms")).unwrap_or_default();
            out.push(Finding {
                kind: FindingKind::DeadLetter,
                severity: Severity::Error,
                count: d.count,
                location: Location { group: group.clone(), ..Location::topic(dlq) },
                summary: format!(
                    "{} messages from {source} dead-lettered{by} ({}; {:.2}/s{oldest})",
                    d.count,
                    d.family,
                    d.count as f64 / seconds
                ),
                first_seen_unix_nano: d.first_read,
                last_seen_unix_nano: d.last_read,
                evidence,
            });
        }
        for ((topic, service), (count, first, last, evidence)) in &self.sent {
            if self.groups.keys().any(|(dlq, ..)| dlq == topic) {
                continue;
            }
            out.push(Finding {
                kind: FindingKind::DeadLetter,
                severity: Severity::Error,
                count: *count,
                location: Location { service: Some(service.clone()), ..Location::topic(topic) },
                summary: format!("{service} sent {count} messages to the dead-letter topic {topic}"),
                first_seen_unix_nano: *first,
                last_seen_unix_nano: *last,
                evidence: evidence.clone(),
            });
        }
    }

    /// What the bounds dropped.
    pub fn counters(&self) -> FindingsCounters {
        FindingsCounters {
            tracked: self.seen.len() as u64 + self.groups.len() as u64,
            evicted: self.seen.evicted(),
            findings_dropped: self.dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::testing::message_with_headers;
    use crate::model::span::SpanKind;
    use crate::testing::span;

    fn findings(d: &DeadLetterDetector) -> Vec<Finding> {
        let mut out = Vec::new();
        d.collect(&mut out);
        out
    }

    #[test]
    fn dead_letters_are_grouped_by_source_group_and_exception_and_counted_once() {
        let mut d = DeadLetterDetector::new(100);
        let spring = |offset: i64, class: &[u8]| {
            message_with_headers(
                "orders.DLQ",
                0,
                offset,
                "k",
                b"{}",
                &[
                    ("kafka_dlt-original-topic", b"orders"),
                    ("kafka_dlt-original-partition", &1i32.to_be_bytes()),
                    ("kafka_dlt-original-offset", &(offset + 100).to_be_bytes()),
                    ("kafka_dlt-original-consumer-group", b"payments"),
                    ("kafka_dlt-exception-fqcn", class),
                ],
            )
        };
        let read = ReadPayload::default();
        d.apply_message(&spring(0, b"Bad"), &read, 1);
        d.apply_message(&spring(1, b"Bad"), &read, 2);
        d.apply_message(&spring(1, b"Bad"), &read, 3);
        d.apply_message(&spring(2, b"Other"), &read, 3);
        let connect = message_with_headers("sink-dlq", 0, 0, "k", b"{}", &[("__connect.errors.topic", b"clicks")]);
        d.apply_message(&connect, &read, 4);
        let plain = message_with_headers("orders", 0, 5, "k", b"{}", &[]);
        assert!(!d.apply_message(&plain, &read, 5), "a message without provenance is no dead letter");
        let f = findings(&d);
        assert_eq!(f.len(), 3, "{f:?}");
        let bad = f.iter().find(|f| f.evidence.error.as_deref() == Some("Bad")).map(|f| (f.count, f.location.clone()));
        assert_eq!(bad.as_ref().map(|b| b.0), Some(2), "re-reading a dead letter counts it once");
        assert_eq!(bad.and_then(|b| b.1.group), Some("payments".into()));
        assert!(f.iter().any(|f| f.evidence.chain == ["clicks", "sink-dlq"]));
        assert!(f.iter().all(|f| f.kind == FindingKind::DeadLetter && f.severity == Severity::Error));
    }

    #[test]
    fn without_messages_producer_spans_to_a_dead_letter_topic_count() {
        let mut d = DeadLetterDetector::new(100);
        let send = |topic: &str| span("payments", "send", SpanKind::Producer).messaging("kafka", topic, "send").build();
        d.apply_span(&send("orders"), 1);
        assert!(findings(&d).is_empty());
        d.apply_span(&send("orders.DLQ"), 1);
        d.apply_span(&send("orders.DLQ"), 2);
        let f = findings(&d);
        assert_eq!((f.len(), f[0].count, f[0].location.service.as_deref()), (1, 2, Some("payments")));
    }
}
