//! How consumers process messages: duplicates, retries and poison messages.
//!
//! Every process span that names its message (topic + partition + offset, else
//! `messaging.message.id`) is an attempt by one consumer (its group, else its service). A
//! second attempt after a failed one is a **retry**; a second attempt after a successful one
//! is a **duplicate**; [`FindingsSettings::poison_attempts`](super::FindingsSettings) failed
//! attempts make a **poison message**. Messages read from the log add two more facts: the
//! same event (CloudEvents `id` or `--dedup-field`) written at two offsets is a duplicate for
//! every consumer of the topic, and the payload of a message a consumer keeps failing on.

use std::collections::BTreeMap;

use super::FindingsCounters;
use super::finding::{Consumer, Finding, FindingKind, Location, MessageRef, Severity};
use super::payload::{ReadPayload, preview};
use super::table::{FindingTable, Memory, add, counters, key_of};
use crate::model::kafka::message::KafkaMessage;
use crate::model::messaging::{Messaging, MessagingOperation};
use crate::model::span::{ServiceName, Span};

/// The consumer a process span speaks for: its group, else its service.
pub fn consumer_of(span: &Span, m: &Messaging) -> Consumer {
    match &m.consumer_group {
        Some(group) => Consumer::Group(group.clone()),
        None => Consumer::Service(span.service().to_string()),
    }
}

/// A consumer, borrowed: hashed into keys without allocating.
#[derive(Clone, Copy, Hash)]
enum ConsumerRef<'a> {
    Group(&'a str),
    Service(&'a ServiceName),
}

impl ConsumerRef<'_> {
    fn owned(self) -> Consumer {
        match self {
            Self::Group(g) => Consumer::Group(g.to_owned()),
            Self::Service(s) => Consumer::Service(s.to_string()),
        }
    }
}

/// The topic a retry topic retries: `orders-retry`, `orders-retry-2`, `orders.retry`,
/// `orders_retry_1` (Spring's non-blocking retries name them `<topic>-retry-N`).
pub fn retry_base(topic: &str) -> Option<&str> {
    let trimmed = topic.trim_end_matches(|c: char| c.is_ascii_digit());
    let trimmed = if trimmed.len() < topic.len() { trimmed.trim_end_matches(['-', '_', '.']) } else { topic };
    ["-retry", ".retry", "_retry"].iter().find_map(|s| trimmed.strip_suffix(s)).filter(|b| !b.is_empty())
}

/// Poison messages whose payload is awaited (read from the log after the spans came).
const MAX_AWAITING_PAYLOAD: usize = 1_000;

/// One consumer's attempts at one message.
#[derive(Clone, Copy, Debug, Default)]
struct Attempts {
    attempts: u32,
    failures: u32,
    last_failed: bool,
    duplicate: bool,
    retried: bool,
    poison: bool,
}

/// Where a message is: the key of the attempts memory, from borrowed parts.
fn attempt_key(consumer: ConsumerRef<'_>, topic: &str, partition: i32, offset: i64) -> u64 {
    key_of(&(consumer, topic, partition, offset))
}

/// Duplicates, retries and poison messages.
#[derive(Clone, Debug)]
pub struct ProcessingDetector {
    attempts: Memory<Attempts>,
    /// Where each identified event was first seen in the log: (partition, offset).
    logged: Memory<(i32, i64)>,
    /// Copies already counted, by place in the log.
    copies: Memory<()>,
    /// Payload previews of messages that are not JSON (the likely poison), by place.
    previews: Memory<String>,
    /// Poison messages whose payload was not read yet, by the hash of their place (as
    /// `previews`: every message read is looked up here while one awaits), and the key of
    /// their finding.
    awaiting_payload: BTreeMap<u64, u64>,
    duplicates: FindingTable,
    retries: FindingTable,
    poison: FindingTable,
    poison_attempts: u32,
}

impl ProcessingDetector {
    /// Empty, remembering at most `max` messages per table.
    pub fn new(max: usize, poison_attempts: u32) -> Self {
        Self {
            attempts: Memory::new(max),
            logged: Memory::new(max),
            copies: Memory::new(max / 10 + 1),
            previews: Memory::new(max / 10 + 1),
            awaiting_payload: BTreeMap::new(),
            duplicates: FindingTable::default(),
            retries: FindingTable::default(),
            poison: FindingTable::default(),
            poison_attempts: poison_attempts.max(2),
        }
    }

    /// Takes in a span; true when a finding changed.
    pub fn apply_span(&mut self, span: &Span, at: u64) -> bool {
        let Some(m) = &span.messaging else { return false };
        if m.operation != MessagingOperation::Process {
            return false;
        }
        let Some(topic) = m.destination.as_deref() else { return false };
        let consumer = match &m.consumer_group {
            Some(group) => ConsumerRef::Group(group),
            None => ConsumerRef::Service(span.service()),
        };
        let location = || Location::topic(topic).with_consumer(&consumer.owned());
        let mut changed = false;
        if let Some(base) = retry_base(topic) {
            let key = key_of(&("retry topic", consumer, base));
            let made = || {
                Finding::new(
                    FindingKind::Retry,
                    Severity::Info,
                    Location::topic(base).with_consumer(&consumer.owned()),
                    at,
                )
            };
            if let Some(f) = self.retries.entry(key, "retry topic", made) {
                f.touch(at);
                f.evidence.add_trace(|| span.trace_id.to_hex());
                changed = true;
            }
        }
        let partition = m.partition.as_deref().and_then(|p| p.trim().parse::<i32>().ok());
        let place = match (partition, m.offset) {
            (Some(p), Some(o)) => Some((p, o)),
            _ => None,
        };
        let identity = match (place, &m.message_id) {
            (Some((p, o)), _) => attempt_key(consumer, topic, p, o),
            (None, Some(id)) => key_of(&(consumer, topic, id)),
            (None, None) => return changed,
        };
        let message_ref = || place.map(|(partition, offset)| MessageRef { topic: topic.to_owned(), partition, offset });
        let failed = span.is_failure();
        let before = self.attempts.get(&identity).copied();
        let mut state = before.unwrap_or_default();
        state.attempts += 1;
        if before.is_some() {
            // Again after a failure: a retry. Again after a success: a duplicate.
            let (table, tag, counted, kind, severity) = if state.last_failed {
                (&mut self.retries, "redelivery", &mut state.retried, FindingKind::Retry, Severity::Info)
            } else {
                (&mut self.duplicates, "processed", &mut state.duplicate, FindingKind::Duplicate, Severity::Warning)
            };
            let made = || Finding::new(kind, severity, location(), at);
            if let Some(f) = table.entry(key_of(&(tag, consumer, topic)), tag, made) {
                if *counted {
                    f.last_seen_unix_nano = f.last_seen_unix_nano.max(at);
                } else {
                    f.touch(at);
                }
                f.evidence.add_trace(|| span.trace_id.to_hex());
                if let Some(place) = message_ref() {
                    f.evidence.add_message(|| place);
                }
                *counted = true;
                changed = true;
            }
        }
        if failed {
            state.failures += 1;
            if state.failures >= self.poison_attempts {
                let key = key_of(&("attempts", consumer, topic));
                changed |= self.mark_poison(key, location, message_ref().as_ref(), &state, &span.status_message, at);
                state.poison = true;
            }
        }
        state.last_failed = failed;
        self.attempts.insert(identity, state);
        changed
    }

    fn mark_poison(
        &mut self,
        key: u64,
        location: impl FnOnce() -> Location,
        place: Option<&MessageRef>,
        state: &Attempts,
        error: &str,
        at: u64,
    ) -> bool {
        let hashed = place.map(|p| key_of(&(&p.topic, p.partition, p.offset)));
        let preview = hashed.and_then(|p| self.previews.get(&p).cloned());
        if let Some(hashed) = hashed
            && preview.is_none()
            && self.awaiting_payload.len() < MAX_AWAITING_PAYLOAD
        {
            self.awaiting_payload.insert(hashed, key);
        }
        let made = || Finding::new(FindingKind::PoisonMessage, Severity::Error, location(), at);
        let Some(f) = self.poison.entry(key, "attempts", made) else { return false };
        // The count is failed attempts: all of them once a message turns poison, then each more.
        f.count += if state.poison { 1 } else { u64::from(state.failures) };
        f.last_seen_unix_nano = f.last_seen_unix_nano.max(at);
        if let Some(place) = place {
            f.evidence.add_message(|| place.clone());
            f.summary = format!(
                "fails on {} {}@{} again and again ({} failed attempts)",
                place.topic, place.partition, place.offset, state.failures
            );
        } else {
            f.summary = format!("fails on one message again and again ({} failed attempts)", state.failures);
        }
        if !error.is_empty() {
            f.evidence.error = Some(error.to_owned());
        }
        if preview.is_some() {
            f.evidence.payload = preview;
        }
        true
    }

    /// A partition stalled at `offset` while the group's process spans failed on that very
    /// message: a poison message, whatever the number of attempts seen.
    pub fn note_stall(&mut self, group: &str, place: &MessageRef, at: u64) -> bool {
        let consumer = ConsumerRef::Group(group);
        let identity = attempt_key(consumer, &place.topic, place.partition, place.offset);
        let Some(state) = self.attempts.get(&identity).copied() else { return false };
        if state.failures == 0 || state.poison {
            return false;
        }
        let key = key_of(&("attempts", consumer, place.topic.as_str()));
        let location = || Location::topic(&place.topic).with_consumer(&consumer.owned());
        let changed = self.mark_poison(key, location, Some(place), &state, "", at);
        self.attempts.insert(identity, Attempts { poison: true, ..state });
        changed
    }

    /// Takes in a message read from the log; true when a finding changed.
    pub fn apply_message(&mut self, message: &KafkaMessage, read: &ReadPayload, at: u64) -> bool {
        let place = key_of(&(&message.topic, message.partition, message.offset));
        let mut changed = false;
        if read.signature.is_none()
            && let Some(payload) = &message.payload
            && self.previews.get(&place).is_none()
        {
            self.previews.insert(place, preview(payload));
        }
        if !self.awaiting_payload.is_empty()
            && let Some(payload) = &message.payload
            && let Some(key) = self.awaiting_payload.remove(&place)
            && let Some(f) = self.poison.get_mut(key)
        {
            f.evidence.payload = Some(preview(payload));
            changed = true;
        }
        let Some(identity) = &read.identity else { return changed };
        let event = key_of(&(&message.topic, identity));
        let here = (message.partition, message.offset);
        let first = *self.logged.entry_or_insert_with(event, || here);
        if first == here || self.copies.get(&place).is_some() {
            return changed;
        }
        self.copies.insert(place, ());
        let key = key_of(&("in the log", message.topic.as_str()));
        let made = || Finding::new(FindingKind::Duplicate, Severity::Warning, Location::topic(&message.topic), at);
        let Some(f) = self.duplicates.entry(key, "in the log", made) else { return changed };
        f.touch(at);
        f.evidence.add_message(|| MessageRef { topic: message.topic.clone(), partition: first.0, offset: first.1 });
        f.evidence.add_message(|| MessageRef { topic: message.topic.clone(), partition: here.0, offset: here.1 });
        if let Some(trace) = &message.links.trace {
            f.evidence.add_trace(|| trace.trace_id.to_hex());
        }
        true
    }

    /// Failed attempts a group made at one message.
    pub fn failures_at(&self, group: &str, place: &MessageRef) -> u32 {
        let identity = attempt_key(ConsumerRef::Group(group), &place.topic, place.partition, place.offset);
        self.attempts.get(&identity).map_or(0, |s| s.failures)
    }

    /// Copies the findings into `out`.
    pub fn collect(&self, out: &mut Vec<Finding>) {
        let summarize = |tag: &'static str, f: &Finding| match tag {
            "processed" => format!("{} messages processed more than once by {}", f.count, consumer_words(&f.location)),
            "in the log" => {
                format!("{} events written more than once: every consumer of the topic processes them again", f.count)
            }
            "retry topic" => format!(
                "{} messages processed from retry topics of {}",
                f.count,
                f.location.topic.as_deref().unwrap_or_default()
            ),
            _ => format!("{} messages processed again after failing", f.count),
        };
        self.duplicates.collect(out, summarize);
        self.retries.collect(out, summarize);
        self.poison.collect(out, summarize);
    }

    /// The bytes its memories and findings hold (see [`super::memory`]).
    pub fn heap_bytes(&self) -> usize {
        let awaiting = self.awaiting_payload.len() * (size_of::<(u64, u64)>() + super::memory::TREE_ENTRY_OVERHEAD);
        self.attempts.heap_bytes_with(|_| 0)
            + self.logged.heap_bytes_with(|_| 0)
            + self.copies.heap_bytes_with(|_| 0)
            + self.previews.heap_bytes_with(String::capacity)
            + awaiting
            + self.duplicates.heap_bytes()
            + self.retries.heap_bytes()
            + self.poison.heap_bytes()
    }

    /// What of [`ProcessingDetector::heap_bytes`] `other` holds too.
    pub fn shared_bytes(&self, other: &Self) -> usize {
        self.attempts.shared_bytes_with(&other.attempts, |_| 0)
            + self.logged.shared_bytes_with(&other.logged, |_| 0)
            + self.copies.shared_bytes_with(&other.copies, |_| 0)
            + self.previews.shared_bytes_with(&other.previews, String::capacity)
    }

    /// What the bounds dropped.
    pub fn counters(&self) -> FindingsCounters {
        let tables = add(counters(&self.attempts, &self.duplicates), counters(&self.logged, &self.retries));
        add(add(tables, counters(&self.copies, &self.poison)), counters(&self.previews, &FindingTable::default()))
    }
}

fn consumer_words(location: &Location) -> String {
    match (&location.group, &location.service) {
        (Some(g), _) => format!("group {g}"),
        (None, Some(s)) => s.clone(),
        (None, None) => "a consumer".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::testing::{message, process_span};

    fn findings(d: &ProcessingDetector) -> Vec<Finding> {
        let mut out = Vec::new();
        d.collect(&mut out);
        out
    }

    #[test]
    fn a_message_processed_twice_by_one_group_is_a_duplicate() {
        let mut d = ProcessingDetector::new(100, 3);
        for offset in 0..5 {
            d.apply_span(&process_span("inventory", "orders", 0, offset, false), 1);
        }
        assert!(findings(&d).is_empty(), "each message once: nothing to say");
        // A rewind: offsets 2..5 again.
        for offset in 2..5 {
            d.apply_span(&process_span("inventory", "orders", 0, offset, false), 2);
        }
        // A third time counts no new message.
        d.apply_span(&process_span("inventory", "orders", 0, 4, false), 3);
        let f = findings(&d);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::Duplicate);
        assert_eq!(f[0].count, 3);
        assert_eq!(f[0].location.group.as_deref(), Some("inventory"));
        assert_eq!(f[0].location.topic.as_deref(), Some("orders"));
    }

    #[test]
    fn another_group_reading_the_same_message_is_no_duplicate() {
        let mut d = ProcessingDetector::new(100, 3);
        d.apply_span(&process_span("inventory", "orders", 0, 7, false), 1);
        d.apply_span(&process_span("payments", "orders", 0, 7, false), 1);
        assert!(findings(&d).is_empty());
    }

    #[test]
    fn redelivery_after_a_failure_is_a_retry_and_repeated_failures_a_poison_message() {
        let mut d = ProcessingDetector::new(100, 3);
        d.apply_span(&process_span("payments", "orders", 1, 3, true), 1);
        d.apply_span(&process_span("payments", "orders", 1, 3, false), 2);
        let f = findings(&d);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].kind, f[0].count), (FindingKind::Retry, 1));

        let mut d = ProcessingDetector::new(100, 3);
        for _ in 0..4 {
            d.apply_span(&process_span("inventory", "orders", 1, 9, true), 1);
        }
        // The message is read after the spans arrived: its payload still joins the finding.
        d.apply_message(&message("orders", 1, 9, "k", b"\xff\x01{bad"), &ReadPayload::default(), 2);
        let poison: Vec<_> = findings(&d).into_iter().filter(|f| f.kind == FindingKind::PoisonMessage).collect();
        assert_eq!(poison.len(), 1);
        assert_eq!(poison[0].count, 4, "failed attempts");
        assert_eq!(poison[0].evidence.messages[0].offset, 9);
        assert!(poison[0].evidence.payload.as_deref().is_some_and(|p| p.starts_with("binary")));
        assert!(findings(&d).iter().all(|f| f.kind != FindingKind::Duplicate), "retries are no duplicates");
    }

    #[test]
    fn one_event_at_two_offsets_is_a_duplicate_in_the_log_but_rereading_one_offset_is_not() {
        let mut d = ProcessingDetector::new(100, 3);
        let read = ReadPayload { identity: Some("e-1".into()), ..ReadPayload::default() };
        d.apply_message(&message("orders", 0, 1, "k", b"{}"), &read, 1);
        d.apply_message(&message("orders", 0, 1, "k", b"{}"), &read, 2);
        assert!(findings(&d).is_empty());
        d.apply_message(&message("orders", 0, 2, "k", b"{}"), &read, 3);
        d.apply_message(&message("orders", 0, 2, "k", b"{}"), &read, 4);
        let f = findings(&d);
        assert_eq!((f.len(), f[0].kind, f[0].count), (1, FindingKind::Duplicate, 1));
    }

    #[test]
    fn retry_topics_are_named_after_their_topic() {
        assert_eq!(retry_base("orders-retry"), Some("orders"));
        assert_eq!(retry_base("orders-retry-2"), Some("orders"));
        assert_eq!(retry_base("orders.retry"), Some("orders"));
        assert_eq!(retry_base("orders"), None);
        assert_eq!(retry_base("retry"), None);
        let mut d = ProcessingDetector::new(100, 3);
        d.apply_span(&process_span("payments", "orders-retry-1", 0, 1, false), 1);
        let f = findings(&d);
        assert_eq!((f[0].kind, f[0].location.topic.as_deref()), (FindingKind::Retry, Some("orders")));
    }
}
