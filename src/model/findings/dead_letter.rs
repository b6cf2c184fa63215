//! Dead letters: messages in dead-letter topics, grouped by dead-letter topic, source topic,
//! consumer group and exception class, from the provenance headers of Spring Kafka
//! (`kafka_dlt-*`), Kafka Connect (`__connect.errors.*`) and Kafka Streams
//! (`__streams.errors.*`). Where no message was read (spans only), producer spans writing to
//! a topic named like a dead-letter topic (`*.DLQ`, `*-dlt`, ...) are counted instead.
//!
//! Each dead-letter topic's backlog is followed too: a dead letter is *handled* once a group
//! reading the dead-letter topic has committed past it (the furthest group counts), so the
//! finding names how many wait and when the oldest of them was written; with no group reading
//! the topic, every dead letter waits.

use std::collections::{BTreeMap, BTreeSet};

use super::FindingsCounters;
use super::finding::{Evidence, Finding, FindingKind, Location, MessageRef, Severity, Unhandled};
use super::payload::{ReadPayload, preview};
use super::table::{Memory, key_of};
use crate::model::kafka::ClusterState;
use crate::model::kafka::message::{KafkaMessage, is_dead_letter_topic};
use crate::model::messaging::MessagingRole;
use crate::model::span::Span;

/// Groups of dead letters kept; more are counted, not kept.
const MAX_GROUPS: usize = 1_000;
/// Waiting dead letters remembered per dead-letter partition: the oldest are kept (they are
/// the ones the backlog's age is read from), newer ones past this are only flagged.
const MAX_PENDING: usize = 10_000;

/// A dead-letter partition's backlog.
#[derive(Clone, Debug, Default)]
struct Pending {
    /// Offsets not read back yet, with when each was written (Unix ms, when known).
    waiting: BTreeMap<i64, Option<i64>>,
    /// The furthest offset a reading group has committed.
    handled: Option<i64>,
    /// More waited than [`MAX_PENDING`].
    more: bool,
}

/// Dead letters of one (dead-letter topic, source topic, group, exception).
#[derive(Clone, Debug)]
struct DeadLetters {
    family: &'static str,
    count: u64,
    first_read: u64,
    last_read: u64,
    message: Option<String>,
    evidence: Evidence,
}

/// A time in Unix ms as an RFC 3339 UTC time (the ms themselves when out of range).
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| format!("at {ms} ms"), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Producer spans to one dead-letter topic from one service.
#[derive(Clone, Debug)]
struct Sent {
    count: u64,
    first: u64,
    last: u64,
    evidence: Evidence,
}

/// Dead-lettered messages.
#[derive(Clone, Debug)]
pub struct DeadLetterDetector {
    groups: BTreeMap<(String, String, Option<String>, Option<String>), DeadLetters>,
    /// Producer spans to dead-letter topics, per (topic, service).
    sent: BTreeMap<(String, String), Sent>,
    seen: Memory<()>,
    /// Backlogs, per (dead-letter topic, partition); only for topics dead letters were read from.
    pending: BTreeMap<(String, i32), Pending>,
    /// Groups reading each dead-letter topic.
    readers: BTreeMap<String, BTreeSet<String>>,
    dropped: u64,
}

impl DeadLetterDetector {
    /// Empty, remembering at most `max` messages read.
    pub fn new(max: usize) -> Self {
        Self {
            groups: BTreeMap::new(),
            sent: BTreeMap::new(),
            seen: Memory::new(max),
            pending: BTreeMap::new(),
            readers: BTreeMap::new(),
            dropped: 0,
        }
    }

    /// Follows the groups reading dead-letter topics after an offsets poll: what they have
    /// committed past is handled. True when a backlog changed.
    pub fn apply_lag(&mut self, clusters: &BTreeMap<String, ClusterState>) -> bool {
        let mut changed = false;
        for cluster in clusters.values() {
            for (group, state) in &cluster.groups {
                for ((topic, partition), lag) in &state.partitions {
                    let Some(pending) = self.pending.get_mut(&(topic.clone(), *partition)) else { continue };
                    let Some(committed) = lag.latest().map(|s| s.offset).filter(|o| *o >= 0) else { continue };
                    changed |= self.readers.entry(topic.clone()).or_default().insert(group.clone());
                    if pending.handled.is_none_or(|h| committed > h) {
                        pending.handled = Some(committed);
                        let before = pending.waiting.len();
                        pending.waiting = pending.waiting.split_off(&committed);
                        changed |= pending.waiting.len() != before;
                        if pending.waiting.is_empty() {
                            pending.more = false;
                        }
                    }
                }
            }
        }
        changed
    }

    /// Remembers a dead letter as waiting, unless a reader has committed past it.
    fn note_waiting(&mut self, message: &KafkaMessage) {
        let pending = self.pending.entry((message.topic.clone(), message.partition)).or_default();
        if pending.handled.is_some_and(|h| message.offset < h) {
            return;
        }
        if pending.waiting.len() >= MAX_PENDING && !pending.waiting.contains_key(&message.offset) {
            pending.more = true;
            return;
        }
        pending.waiting.insert(message.offset, message.timestamp_ms);
    }

    /// The backlog of dead-letter topic `topic`.
    fn unhandled(&self, topic: &str) -> Unhandled {
        let mut out = Unhandled {
            readers: self.readers.get(topic).map(|r| r.iter().cloned().collect()).unwrap_or_default(),
            ..Unhandled::default()
        };
        for ((_, _), pending) in self.pending.range((topic.to_owned(), i32::MIN)..=(topic.to_owned(), i32::MAX)) {
            out.count += pending.waiting.len() as u64;
            out.more |= pending.more;
            for written in pending.waiting.values().flatten() {
                out.oldest_ms = Some(out.oldest_ms.map_or(*written, |o| o.min(*written)));
            }
        }
        out
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
        let entry = self.sent.entry(key).or_insert_with(|| Sent {
            count: 0,
            first: at,
            last: at,
            evidence: Evidence::default(),
        });
        entry.count += 1;
        entry.first = entry.first.min(at);
        entry.last = entry.last.max(at);
        entry.evidence.add_trace(|| span.trace_id.to_hex());
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
        self.note_waiting(message);
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
            message: None,
            evidence: Evidence::default(),
        });
        entry.count += 1;
        entry.first_read = entry.first_read.min(at);
        entry.last_read = entry.last_read.max(at);
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
            let unhandled = self.unhandled(dlq);
            let waiting = match (unhandled.count, unhandled.readers.is_empty()) {
                (0, _) => "; all read back".to_owned(),
                (n, readers) => {
                    let oldest =
                        unhandled.oldest_ms.map(|ms| format!(", the oldest written {}", when(ms))).unwrap_or_default();
                    let at_least = if unhandled.more { "at least " } else { "" };
                    let nobody = if readers { ", no group reads the topic" } else { "" };
                    format!("; {at_least}{n} waiting{oldest}{nobody}")
                }
            };
            evidence.unhandled = Some(unhandled);
            out.push(Finding {
                kind: FindingKind::DeadLetter,
                severity: Severity::Error,
                count: d.count,
                location: Location { group: group.clone(), ..Location::topic(dlq) },
                summary: format!(
                    "{} messages from {source} dead-lettered{by} ({}; {:.2}/s{waiting})",
                    d.count,
                    d.family,
                    d.count as f64 / seconds
                ),
                first_seen_unix_nano: d.first_read,
                last_seen_unix_nano: d.last_read,
                evidence,
            });
        }
        for ((topic, service), Sent { count, first, last, evidence }) in &self.sent {
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

    /// The bytes its memory of dead letters seen holds (see [`super::memory`]); its other maps
    /// are bounded by fixed counts.
    pub fn heap_bytes(&self) -> usize {
        self.seen.heap_bytes_with(|_| 0)
    }

    /// What of [`DeadLetterDetector::heap_bytes`] `other` holds too.
    pub fn shared_bytes(&self, other: &Self) -> usize {
        self.seen.shared_bytes_with(&other.seen, |_| 0)
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

    #[test]
    fn the_backlog_is_what_no_reader_of_the_dead_letter_topic_committed_past() {
        use crate::model::kafka::observation::{CommittedOffset, OffsetPoll, Watermark};
        use crate::model::kafka::{KafkaEvent, KafkaModel, KafkaRecord};
        let mut d = DeadLetterDetector::new(100);
        let read = ReadPayload::default();
        for offset in 0..5_i64 {
            let mut m = message_with_headers(
                "orders.DLQ",
                0,
                offset,
                "k",
                b"{}",
                &[("kafka_dlt-original-topic", b"orders"), ("kafka_dlt-exception-fqcn", b"Bad")],
            );
            // Written a minute apart, from 2025-11-30T12:00:00Z.
            m.timestamp_ms = Some(1_764_504_000_000 + offset * 60_000);
            d.apply_message(&m, &read, 1);
        }
        let backlog = |d: &DeadLetterDetector| findings(d)[0].evidence.unhandled.clone().unwrap();
        assert_eq!(
            backlog(&d),
            Unhandled { count: 5, oldest_ms: Some(1_764_504_000_000), readers: vec![], more: false }
        );
        let summary = findings(&d)[0].summary.clone();
        assert!(summary.contains("5 waiting, the oldest written 2025-11-30T12:00:00Z, no group reads"), "{summary}");

        // A reprocessor group commits past the first three dead letters.
        let mut kafka = KafkaModel::default();
        kafka.apply(&KafkaRecord {
            cluster: "c".into(),
            received_unix_nano: 2,
            event: KafkaEvent::Offsets(OffsetPoll {
                watermarks: vec![Watermark { topic: "orders.DLQ".into(), partition: 0, low: 0, high: 5 }],
                commits: vec![CommittedOffset {
                    group: "dlq-replayer".into(),
                    topic: "orders.DLQ".into(),
                    partition: 0,
                    offset: 3,
                    oldest_unconsumed_ms: None,
                }],
            }),
        });
        assert!(d.apply_lag(kafka.clusters()));
        let after = backlog(&d);
        assert_eq!((after.count, after.oldest_ms), (2, Some(1_764_504_000_000 + 3 * 60_000)));
        assert_eq!(after.readers, ["dlq-replayer"]);
        // Read again from the log, a handled dead letter does not wait again.
        d.seen = Memory::new(100);
        let mut again =
            message_with_headers("orders.DLQ", 0, 1, "k", b"{}", &[("kafka_dlt-original-topic", b"orders")]);
        again.timestamp_ms = Some(1);
        d.apply_message(&again, &read, 3);
        assert_eq!(backlog(&d).count, 2);
    }
}
