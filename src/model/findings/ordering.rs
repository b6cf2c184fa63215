//! Out-of-order events: a key's events in the log out of their own order, or a key spread
//! over partitions (Kafka keeps order per partition only).
//!
//! A Kafka consumer group processes a partition in log order, so an event written after a
//! later one of the same key is processed out of order by every group reading the topic. The
//! order of a key's events is read, first that applies, from a sequence or version field
//! (`--order-field`, default `seq`, `sequence`, `version`), from the event's own time field,
//! or from the event types (an event of a key before its `…Created`/`…Placed`). Messages are
//! compared by their place in the log, not by when EventLens read them, so browsing back
//! never reports a false reordering. (PostHog's KeyOrderSentinel keeps the same per-key
//! watermark.)

use std::collections::{BTreeMap, BTreeSet};

use super::FindingsCounters;
use super::finding::{Finding, FindingKind, Location, MessageRef, Severity};
use super::payload::{OrderValue, ReadPayload};
use super::table::{FindingTable, Memory, add, counters, key_of};
use crate::model::kafka::message::KafkaMessage;
use crate::model::messaging::{MessagingOperation, MessagingRole};
use crate::model::span::Span;

/// Event type endings that mark the event creating an entity.
const CREATION_SUFFIXES: [&str; 7] = ["Created", "Placed", "Registered", "Opened", "Started", "Submitted", "Initiated"];

/// Topics whose consuming groups are remembered, and groups per topic.
const MAX_TOPICS: usize = 1_000;
const MAX_GROUPS_PER_TOPIC: usize = 64;

/// Whether an event type names the creation of its entity.
pub fn is_creation(event_type: &str) -> bool {
    CREATION_SUFFIXES.iter().any(|s| event_type.ends_with(s))
}

/// The newest event of one key seen in the log.
#[derive(Clone, Debug)]
struct KeyState {
    partition: i32,
    offset: i64,
    order: Option<OrderValue>,
    /// Offset of the key's creation event, and of its earliest other event.
    created_at: Option<i64>,
    earliest_other: Option<i64>,
    counted_order: bool,
    counted_partitions: bool,
}

impl KeyState {
    /// What it holds beyond itself.
    fn heap_bytes(&self) -> usize {
        match &self.order {
            Some(OrderValue::Text(t)) => t.capacity(),
            _ => 0,
        }
    }
}

/// Out-of-order events and keys spread over partitions.
#[derive(Clone, Debug)]
pub struct OrderingDetector {
    keys: Memory<KeyState>,
    produced_to: Memory<(i32, bool)>,
    groups: BTreeMap<String, BTreeSet<String>>,
    /// (topic, group) pairs already in `groups`, hashed.
    readers_seen: rustc_hash::FxHashSet<u64>,
    findings: FindingTable,
}

impl OrderingDetector {
    /// Empty, remembering at most `max` keys.
    pub fn new(max: usize) -> Self {
        Self {
            keys: Memory::new(max),
            produced_to: Memory::new(max),
            groups: BTreeMap::new(),
            readers_seen: rustc_hash::FxHashSet::default(),
            findings: FindingTable::default(),
        }
    }

    /// Remembers which groups consume a topic, and which partition a producer wrote a key to.
    pub fn apply_span(&mut self, span: &Span, at: u64) -> bool {
        let Some(m) = &span.messaging else { return false };
        let Some(topic) = m.destination.as_deref() else { return false };
        match m.operation.role() {
            MessagingRole::Consume if m.operation == MessagingOperation::Process => {
                if let Some(group) = &m.consumer_group {
                    // Asked at every process span: a hash lookup, no string compared.
                    let pair = key_of(&(topic, group.as_str()));
                    if self.readers_seen.contains(&pair) {
                        return false;
                    }
                    let known = self.groups.contains_key(topic);
                    if known || self.groups.len() < MAX_TOPICS {
                        self.readers_seen.insert(pair);
                        let groups = self.groups.entry(topic.to_owned()).or_default();
                        // A new reader changes what out-of-order findings on the topic say.
                        return groups.len() < MAX_GROUPS_PER_TOPIC && groups.insert(group.clone());
                    }
                }
                false
            }
            MessagingRole::Produce => {
                let (Some(key), Some(partition)) =
                    (&m.message_key, m.partition.as_deref().and_then(|p| p.trim().parse::<i32>().ok()))
                else {
                    return false;
                };
                let id = key_of(&(topic, key));
                let (first, counted) = *self.produced_to.entry_or_insert_with(id, || (partition, false));
                if first == partition || counted {
                    return false;
                }
                self.produced_to.insert(id, (first, true));
                self.spread(topic, key, None, at)
            }
            _ => false,
        }
    }

    /// Takes in a message read from the log; true when a finding changed.
    pub fn apply_message(&mut self, message: &KafkaMessage, read: &ReadPayload, at: u64) -> bool {
        let Some(key) = &read.key else { return false };
        let id = key_of(&(&message.topic, key));
        let order = read.order.as_ref().map(|(v, _)| v.clone());
        let creation = read.event_type.as_deref().map(is_creation);
        let here = (message.partition, message.offset);
        let Some(mut state) = self.keys.get(&id).cloned() else {
            self.keys.insert(
                id,
                KeyState {
                    partition: here.0,
                    offset: here.1,
                    order,
                    created_at: creation.filter(|c| *c).map(|_| here.1),
                    earliest_other: creation.filter(|c| !c).map(|_| here.1),
                    counted_order: false,
                    counted_partitions: false,
                },
            );
            return false;
        };
        let mut changed = false;
        if state.partition != here.0 {
            if !state.counted_partitions {
                state.counted_partitions = true;
                let place = MessageRef { topic: message.topic.clone(), partition: here.0, offset: here.1 };
                changed |= self.spread(&message.topic, key, Some(place), at);
            }
            self.keys.insert(id, state);
            return changed;
        }
        if here.1 == state.offset {
            return false;
        }
        let later = here.1 > state.offset;
        let reordered = match (&order, &state.order) {
            (Some(new), Some(old)) => (later && new.before(old)) || (!later && old.before(new)),
            (None, None) => match creation {
                Some(true) => state.earliest_other.is_some_and(|o| o < here.1),
                Some(false) => state.created_at.is_some_and(|c| here.1 < c),
                None => false,
            },
            _ => false,
        };
        if creation == Some(true) {
            state.created_at = Some(state.created_at.map_or(here.1, |c| c.min(here.1)));
        } else if creation == Some(false) {
            state.earliest_other = Some(state.earliest_other.map_or(here.1, |o| o.min(here.1)));
        }
        if reordered {
            let before = MessageRef { topic: message.topic.clone(), partition: state.partition, offset: state.offset };
            let now = MessageRef { topic: message.topic.clone(), partition: here.0, offset: here.1 };
            let made = || Finding::new(FindingKind::OutOfOrder, Severity::Warning, Location::topic(&message.topic), at);
            if let Some(f) = self.findings.entry(key_of(&("order", message.topic.as_str())), "order", made) {
                if !state.counted_order {
                    f.touch(at);
                }
                f.last_seen_unix_nano = f.last_seen_unix_nano.max(at);
                f.evidence.add_key(|| key.to_string());
                f.evidence.add_message(|| before);
                f.evidence.add_message(|| now);
                if let Some(trace) = &message.links.trace {
                    f.evidence.add_trace(|| trace.trace_id.to_hex());
                }
                state.counted_order = true;
                changed = true;
            }
        }
        if later {
            state.offset = here.1;
            state.order = order;
        }
        self.keys.insert(id, state);
        changed
    }

    /// Counts a key written to a second partition of `topic`.
    fn spread(&mut self, topic: &str, key: &str, place: Option<MessageRef>, at: u64) -> bool {
        let made = || Finding::new(FindingKind::OutOfOrder, Severity::Warning, Location::topic(topic), at);
        let Some(f) = self.findings.entry(key_of(&("partitions", topic)), "partitions", made) else {
            return false;
        };
        f.touch(at);
        f.evidence.add_key(|| key.to_owned());
        if let Some(place) = place {
            f.evidence.add_message(|| place);
        }
        true
    }

    /// Copies the findings into `out`, naming the groups that read them out of order.
    pub fn collect(&self, out: &mut Vec<Finding>) {
        self.findings.collect(out, |tag, f| {
            if tag == "partitions" {
                return format!("{} keys written to more than one partition: their order is lost", f.count);
            }
            let topic = f.location.topic.clone().unwrap_or_default();
            let readers = self.groups.get(&topic).map(|g| g.iter().cloned().collect::<Vec<_>>().join(", "));
            match readers {
                Some(groups) if !groups.is_empty() => {
                    format!("{} keys with events in the log out of order: groups {groups} process them so", f.count)
                }
                _ => format!("{} keys with events in the log out of order: every consumer processes them so", f.count),
            }
        });
    }

    /// The bytes its memories and findings hold (see [`super::memory`]).
    pub fn heap_bytes(&self) -> usize {
        self.keys.heap_bytes_with(KeyState::heap_bytes)
            + self.produced_to.heap_bytes_with(|_| 0)
            + self.readers_seen.capacity() * (size_of::<u64>() + 1)
            + self.findings.heap_bytes()
    }

    /// What of [`OrderingDetector::heap_bytes`] `other` holds too.
    pub fn shared_bytes(&self, other: &Self) -> usize {
        self.keys.shared_bytes_with(&other.keys, KeyState::heap_bytes)
            + self.produced_to.shared_bytes_with(&other.produced_to, |_| 0)
    }

    /// What the bounds dropped.
    pub fn counters(&self) -> FindingsCounters {
        add(counters(&self.keys, &self.findings), counters(&self.produced_to, &FindingTable::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::payload::FieldPlan;
    use crate::model::findings::testing::{message, process_span};

    fn feed(d: &mut OrderingDetector, partition: i32, offset: i64, key: &str, payload: &str) -> bool {
        let m = message("orders", partition, offset, key, payload.as_bytes());
        let read = ReadPayload::of(&m, &FieldPlan::default());
        d.apply_message(&m, &read, 1)
    }

    fn findings(d: &OrderingDetector) -> Vec<Finding> {
        let mut out = Vec::new();
        d.collect(&mut out);
        out
    }

    #[test]
    fn a_lower_sequence_later_in_the_log_is_out_of_order() {
        let mut d = OrderingDetector::new(100);
        d.apply_span(&process_span("inventory", "orders", 0, 0, false), 1);
        feed(&mut d, 0, 1, "o-1", r#"{"type":"OrderUpdated","seq":2}"#);
        assert!(feed(&mut d, 0, 2, "o-1", r#"{"type":"OrderPlaced","seq":1}"#));
        // In order for another key.
        feed(&mut d, 0, 3, "o-2", r#"{"type":"OrderPlaced","seq":1}"#);
        feed(&mut d, 0, 4, "o-2", r#"{"type":"OrderUpdated","seq":2}"#);
        let f = findings(&d);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].kind, f[0].count), (FindingKind::OutOfOrder, 1));
        assert_eq!(f[0].evidence.keys, vec!["o-1".to_owned()]);
        assert!(f[0].summary.contains("inventory"), "{}", f[0].summary);
    }

    #[test]
    fn reading_the_log_backwards_is_not_a_reordering() {
        let mut d = OrderingDetector::new(100);
        feed(&mut d, 0, 5, "o-1", r#"{"seq":3}"#);
        feed(&mut d, 0, 4, "o-1", r#"{"seq":2}"#);
        feed(&mut d, 0, 2, "o-1", r#"{"seq":1}"#);
        assert!(findings(&d).is_empty());
        // But an older place with a higher sequence is.
        feed(&mut d, 0, 1, "o-1", r#"{"seq":9}"#);
        assert_eq!(findings(&d).len(), 1);
    }

    #[test]
    fn without_sequences_an_event_before_its_creation_is_out_of_order() {
        let mut d = OrderingDetector::new(100);
        feed(&mut d, 0, 1, "a", r#"{"type":"AccountUpdated"}"#);
        feed(&mut d, 0, 2, "a", r#"{"type":"AccountCreated"}"#);
        feed(&mut d, 0, 3, "b", r#"{"type":"AccountCreated"}"#);
        feed(&mut d, 0, 4, "b", r#"{"type":"AccountUpdated"}"#);
        let f = findings(&d);
        assert_eq!((f.len(), f[0].count), (1, 1));
        assert_eq!(f[0].evidence.keys, vec!["a".to_owned()]);
    }

    #[test]
    fn a_key_on_two_partitions_loses_its_order() {
        let mut d = OrderingDetector::new(100);
        feed(&mut d, 0, 1, "k", r#"{"seq":1}"#);
        feed(&mut d, 1, 1, "k", r#"{"seq":2}"#);
        feed(&mut d, 1, 2, "k", r#"{"seq":3}"#);
        let f = findings(&d);
        assert_eq!((f.len(), f[0].count), (1, 1));
        assert!(f[0].summary.contains("more than one partition"));
    }
}
