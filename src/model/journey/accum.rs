//! Running totals of one journey, updated per span so the list row is cheap to rebuild.

use std::sync::Arc;

use smallvec::SmallVec;

use super::step::MessageStep;
use crate::model::messaging::MessagingRole;
use crate::model::span::{Span, find_attr};

/// A journey's earliest span: when it started, in which service, under which name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// Start, Unix ns.
    pub start: u64,
    /// Its service.
    pub service: Arc<str>,
    /// Its name.
    pub name: Arc<str>,
}

/// The labels a span is counted under, each string shared (interned by the store) so that
/// journeys naming the same service, topic or group do not each keep a copy. A consumer
/// span's labels are also a delivery: that service (and group) processed that destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanLabels {
    /// Its service.
    pub service: Arc<str>,
    /// Its destination, for a messaging span (`None` when a consumer span did not say: its
    /// delivery then counts for any destination).
    pub topic: Option<Arc<str>>,
    /// Its consumer group, for a consumer span that names one.
    pub group: Option<Arc<str>>,
}

/// What a journey's row is built from.
#[derive(Clone, Debug, Default)]
pub struct Accum {
    /// Earliest start, Unix ns (`u64::MAX` while empty).
    pub start: u64,
    /// Latest end, Unix ns.
    pub end: u64,
    /// The earliest span: where the journey starts.
    pub root: Option<Root>,
    /// Spans.
    pub spans: u32,
    /// Messages.
    pub messages: u32,
    /// Failed spans.
    pub failures: u32,
    /// First failure message.
    pub error: Option<Arc<str>>,
    /// Services touched.
    pub services: SmallVec<[Arc<str>; 2]>,
    /// Destinations touched.
    pub topics: SmallVec<[Arc<str>; 2]>,
    /// Destinations produced to, with their messaging system.
    pub produced: SmallVec<[(Arc<str>, Arc<str>); 1]>,
    /// Deliveries by the journey's own consumer spans and by batch consumers linking to it.
    pub delivered: SmallVec<[SpanLabels; 1]>,
    /// Explicit event type (CloudEvents).
    pub event_type: Option<Arc<str>>,
    /// Keys.
    pub keys: SmallVec<[Arc<str>; 1]>,
    /// Message ids.
    pub message_ids: SmallVec<[Arc<str>; 1]>,
    /// Newest receive time of anything added, Unix ns.
    pub last_received: u64,
    /// Earliest receive time of anything added (`u64::MAX` while empty).
    pub first_received: u64,
}

fn push_unique<T: PartialEq, const N: usize>(list: &mut SmallVec<[T; N]>, value: T)
where
    [T; N]: smallvec::Array<Item = T>,
{
    if !list.contains(&value) {
        list.push(value);
    }
}

/// As [`push_unique`] for text, allocating only when `value` is new (most spans of a
/// journey repeat its key and ids).
fn push_unique_str<const N: usize>(list: &mut SmallVec<[Arc<str>; N]>, value: &str)
where
    [Arc<str>; N]: smallvec::Array<Item = Arc<str>>,
{
    if !list.iter().any(|v| **v == *value) {
        list.push(value.into());
    }
}

/// CloudEvents semantic-convention attributes on spans.
const CE_TYPE: &str = "cloudevents.event_type";
const CE_ID: &str = "cloudevents.event_id";

impl Accum {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self { start: u64::MAX, first_received: u64::MAX, ..Self::default() }
    }

    /// Adds a span under its `labels`, touching its topic if it is a messaging span.
    pub fn add_span(&mut self, span: &Span, labels: &SpanLabels, received: u64) {
        let (service, topic) = (&labels.service, labels.topic.as_ref());
        self.spans += 1;
        self.last_received = self.last_received.max(received);
        self.first_received = self.first_received.min(received);
        self.start = self.start.min(span.start_unix_nano);
        self.end = self.end.max(span.end_unix_nano);
        if self.root.as_ref().is_none_or(|root| span.start_unix_nano < root.start) {
            self.root = Some(Root {
                start: span.start_unix_nano,
                service: Arc::clone(service),
                name: span.name.as_str().into(),
            });
        }
        if span.is_failure() {
            self.failures += 1;
            if self.error.is_none() {
                self.error = Some(failure_message(span).into());
            }
        }
        push_unique(&mut self.services, Arc::clone(service));
        if let Some(m) = &span.messaging {
            if let Some(topic) = topic {
                push_unique(&mut self.topics, Arc::clone(topic));
                if m.operation.role() == MessagingRole::Produce
                    && !self.produced.iter().any(|(t, system)| t == topic && **system == *m.system)
                {
                    self.produced.push((Arc::clone(topic), m.system.as_str().into()));
                }
            }
            if m.operation.role() == MessagingRole::Consume {
                self.add_delivery(labels);
            }
            if let Some(key) = &m.message_key {
                push_unique_str(&mut self.keys, key);
            }
            if let Some(id) = &m.message_id {
                push_unique_str(&mut self.message_ids, id);
            }
        }
        if let Some(t) = find_attr(&span.attributes, CE_TYPE).and_then(|v| v.as_text()) {
            self.event_type.get_or_insert_with(|| t.into());
        }
        if let Some(id) = find_attr(&span.attributes, CE_ID).and_then(|v| v.as_text()) {
            push_unique_str(&mut self.message_ids, &id);
        }
    }

    /// Records that a consumer span (of this journey or a batch consumer linking to it)
    /// processed the journey's message.
    pub fn add_delivery(&mut self, labels: &SpanLabels) {
        if !self.delivered.contains(labels) {
            self.delivered.push(labels.clone());
        }
    }

    /// Adds a Kafka message; `kafka` is the (shared) label of its messaging system.
    pub fn add_message(&mut self, step: &MessageStep, received: u64, kafka: &Arc<str>) {
        self.messages += 1;
        self.last_received = self.last_received.max(received);
        self.first_received = self.first_received.min(received);
        if let Some(ms) = step.timestamp_ms.and_then(|ms| u64::try_from(ms).ok()) {
            let at = ms.saturating_mul(1_000_000);
            self.start = self.start.min(at);
            self.end = self.end.max(at);
        }
        push_unique(&mut self.topics, Arc::clone(&step.topic));
        if !self.produced.iter().any(|(topic, system)| *topic == step.topic && system == kafka) {
            self.produced.push((Arc::clone(&step.topic), Arc::clone(kafka)));
        }
        if let Some(key) = &step.key {
            push_unique(&mut self.keys, Arc::clone(key));
        }
        if let Some(id) = &step.message_id {
            push_unique(&mut self.message_ids, Arc::clone(id));
        }
        if let Some(t) = &step.event_type {
            self.event_type.get_or_insert_with(|| Arc::clone(t));
        }
    }

    /// Folds another journey's totals into this one (when two journeys merge).
    pub fn merge(&mut self, other: Accum) {
        self.spans += other.spans;
        self.messages += other.messages;
        self.failures += other.failures;
        self.start = self.start.min(other.start);
        self.end = self.end.max(other.end);
        self.last_received = self.last_received.max(other.last_received);
        self.first_received = self.first_received.min(other.first_received);
        if let Some(root) = other.root
            && self.root.as_ref().is_none_or(|mine| root.start < mine.start)
        {
            self.root = Some(root);
        }
        if self.error.is_none() {
            self.error = other.error;
        }
        if self.event_type.is_none() {
            self.event_type = other.event_type;
        }
        other.services.into_iter().for_each(|s| push_unique(&mut self.services, s));
        other.topics.into_iter().for_each(|s| push_unique(&mut self.topics, s));
        other.produced.into_iter().for_each(|s| push_unique(&mut self.produced, s));
        other.delivered.into_iter().for_each(|s| push_unique(&mut self.delivered, s));
        other.keys.into_iter().for_each(|s| push_unique(&mut self.keys, s));
        other.message_ids.into_iter().for_each(|s| push_unique(&mut self.message_ids, s));
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.spans == 0 && self.messages == 0
    }
}

/// The status message, else the first exception's message, else the span name.
pub fn failure_message(span: &Span) -> String {
    if !span.status_message.is_empty() {
        return span.status_message.clone();
    }
    span.events
        .iter()
        .filter(|e| e.name == "exception")
        .find_map(|e| find_attr(&e.attributes, "exception.message").and_then(|v| v.as_text()))
        .unwrap_or_else(|| format!("{} failed", span.name))
}
