//! Assembles journeys incrementally as spans and messages arrive.
//!
//! A journey is one message's causal tree. Each span's part is read from the span alone
//! ([`SpanRole`]): an inner span joins the journey of its parent (parent and child are in one
//! trace); a consumer span linking one producer span (an *entry*) joins that producer span's
//! journey, whatever its parent is, and the spans under it follow; a span linking several
//! producers (a *batch*) keeps a journey of its own and is recorded as a consumer of each
//! journey it links to, so a batch consumer links fifty journeys without merging them; a
//! receive/poll span without links is batch context: cut from its parent (so a context
//! leaked from one message's process span into the next poll merges nothing), never
//! counted, and shown in the journeys of the spans under it. One trace can so be in several
//! journeys (a poll loop's trace is in each of its messages' journeys).
//!
//! Arrival order does not matter: a span whose parent or linked span has not arrived yet
//! puts that span on its journey's waiting list (the `span_index` entry of a span that has
//! not arrived names the journey waiting for it), and the span joins that journey when it
//! comes. Journeys only ever merge, never split: no later span changes an earlier span's part.
//!
//! Kafka messages join the journey of their `traceparent` span (or wait for it the same way);
//! a message without one is a journey of its own (a dead-lettered message joins its
//! original's journey when known).
//!
//! This file holds the store's types and its public face: settings, counters, the per-span
//! and per-journey state, and the lookups the list and the waterfall need. The work is in
//! `store/`: `assembly.rs` (adding spans and messages, waiting and union), `judging.rs`
//! (statuses and list rows), `at_cursor.rs` (journeys cut to what had been received at the
//! timeline's cursor), `retention.rs` (eviction) and `interner.rs` (shared label strings).
//! They are apart because each is a step of its own with its own invariants, and together
//! they made one file too long to read.

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use self::interner::Interner;
use self::judging::GraceDeadline;
use super::accum::Accum;
use super::role::{SpanRole, linked_spans};
use super::slab::IdSlab;
use super::step::MessageStep;
use super::stored::StoredSpan;
use super::summary::{JourneyId, JourneyList, JourneyStatus};
use crate::model::dictionary::Dictionary;
use crate::model::ids::{SpanRef, TraceId};
use crate::model::kafka::KafkaEvent;
use crate::model::record::Record;

mod assembly;
mod at_cursor;
mod interner;
mod judging;
mod retention;
#[cfg(test)]
mod tests;

/// Retention and classification settings.
#[derive(Clone, Debug)]
pub struct JourneySettings {
    /// Assemble journeys at all (off only to measure what they cost).
    pub enabled: bool,
    /// Most journeys kept; the oldest are evicted first.
    pub max_journeys: usize,
    /// Most spans kept across all journeys; the oldest journeys are evicted first.
    pub max_spans: usize,
    /// Most bytes (estimated: the stored spans and messages) kept across all journeys, the
    /// journeys' share of the memory budget; the oldest journeys are evicted first.
    pub max_bytes: usize,
    /// How long a journey may wait for an expected consumer before it is `incomplete`, ns.
    pub incomplete_after_nanos: u64,
    /// The payload field naming a message's event type when it is not a CloudEvent.
    pub event_type_field: Option<String>,
}

impl Default for JourneySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_journeys: 200_000,
            max_spans: 500_000,
            max_bytes: usize::MAX,
            incomplete_after_nanos: 30_000_000_000,
            event_type_field: Some("type".into()),
        }
    }
}

/// Bookkeeping shown in the UI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct JourneyCounters {
    /// Journeys kept.
    pub journeys: u64,
    /// Spans kept in journeys.
    pub spans: u64,
    /// Estimated bytes the journeys hold: their spans and messages, records, totals, list
    /// rows and indexes (what the memory budget's journeys share is held to).
    pub bytes: u64,
    /// Journeys evicted by retention.
    pub evicted: u64,
    /// Spans evicted with them.
    pub evicted_spans: u64,
}

/// Where a span is: the journey it belongs to, or, before it arrived, the journey waiting for
/// it (a child's or a consumer's). One word: the journey id, with the top bit set once the
/// span itself arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SpanSlot(u64);

impl SpanSlot {
    const ARRIVED: u64 = 1 << 63;

    fn arrived(journey: u64) -> Self {
        Self(journey | Self::ARRIVED)
    }

    fn waiting(journey: u64) -> Self {
        Self(journey)
    }

    fn journey(self) -> u64 {
        self.0 & !Self::ARRIVED
    }

    fn has_arrived(self) -> bool {
        self.0 & Self::ARRIVED != 0
    }

    fn moved_to(&mut self, journey: u64) {
        self.0 = journey | (self.0 & Self::ARRIVED);
    }
}

/// One journey's contents.
#[derive(Debug)]
pub(super) struct Journey {
    // Most journeys are a few traces and a span or two: inline, so a new journey costs one
    // allocation (its box), not one per list.
    pub(super) traces: SmallVec<[TraceId; 2]>,
    pub(super) spans: SmallVec<[StoredSpan; 1]>,
    pub(super) messages: Vec<MessageStep>,
    /// Spans not arrived yet that this journey's spans or messages are waiting for (a parent,
    /// a linked producer, a `traceparent` span): they join it when they come.
    awaiting: SmallVec<[SpanRef; 1]>,
    /// Batch spans of other journeys that link to spans of this one.
    pub(super) batch_consumers: Vec<SpanRef>,
    /// Running totals for the list row.
    pub(super) acc: Accum,
    /// Changed since last judged.
    dirty: bool,
    /// Judged since its list row was last built.
    row_dirty: bool,
    /// Waiting in `pending` for its grace period to run out.
    pending: bool,
    /// As last judged.
    status: JourneyStatus,
}

impl Journey {
    fn new() -> Self {
        Self {
            traces: SmallVec::new(),
            spans: SmallVec::new(),
            messages: Vec::new(),
            awaiting: SmallVec::new(),
            batch_consumers: Vec::new(),
            acc: Accum::new(),
            dirty: false,
            row_dirty: false,
            pending: false,
            status: JourneyStatus::Ok,
        }
    }

    /// Listed: it holds something counted (a journey of batch context alone is not).
    fn is_listed(&self) -> bool {
        !self.acc.is_empty()
    }

    /// Keeps a span (see [`grown_by_half`]).
    fn push_span(&mut self, span: StoredSpan) {
        self.spans.reserve_exact(grown_by_half(self.spans.len(), self.spans.capacity(), 1));
        self.spans.push(span);
    }

    /// Keeps a message (see [`grown_by_half`]).
    fn push_message(&mut self, step: MessageStep) {
        self.messages.reserve_exact(grown_by_half(self.messages.len(), self.messages.capacity(), 1));
        self.messages.push(step);
    }

    /// Takes in the spans and messages of a journey merged into this one.
    fn take_in(&mut self, spans: SmallVec<[StoredSpan; 1]>, messages: Vec<MessageStep>) {
        self.spans.reserve_exact(grown_by_half(self.spans.len(), self.spans.capacity(), spans.len()));
        self.spans.extend(spans);
        self.messages.reserve_exact(grown_by_half(self.messages.len(), self.messages.capacity(), messages.len()));
        self.messages.extend(messages);
    }
}

/// How much more room to reserve (exactly) for `more` items in a list of `len` items and
/// `capacity` slots: none while they fit, else at least half the length again. A journey's
/// spans and messages arrive one by one into lists that are many and mostly stop growing
/// soon; a list that doubles is a quarter empty on average, which for spans was the largest
/// single part of what journeys keep (`benches/engine_memory.rs`). Growing by half keeps the
/// copies amortized at a constant per item.
fn grown_by_half(len: usize, capacity: usize, more: usize) -> usize {
    let needed = len + more;
    if needed <= capacity { 0 } else { needed.max(len + len / 2) - len }
}

/// Where a message sits in its topic: the key of the message index, so a message read twice
/// is added once and a dead-lettered one finds its original's journey.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct MessagePosition {
    topic: Arc<str>,
    partition: i32,
    offset: i64,
}

impl MessagePosition {
    /// Where `step` sits.
    fn of(step: &MessageStep) -> Self {
        Self { topic: Arc::clone(&step.topic), partition: step.partition, offset: step.offset }
    }
}

/// The journeys of a session.
#[derive(Debug)]
pub struct JourneyStore {
    settings: JourneySettings,
    /// Every span kept, and every span waited for, with its journey.
    span_index: FxHashMap<SpanRef, SpanSlot>,
    /// Boxed: a merged-away or evicted id leaves a hole in the slab until the front passes
    /// it (half the ids when most journeys are a producer and a consumer met later), and the
    /// slab doubles as it grows, so a hole or spare slot costs a pointer, not a journey.
    journeys: IdSlab<Box<Journey>>,
    message_index: FxHashMap<MessagePosition, u64>,
    list: JourneyList,
    dirty: Vec<u64>,
    rows_dirty: Vec<u64>,
    pending: VecDeque<GraceDeadline>,
    spans_kept: usize,
    /// Estimated bytes of the stored spans and messages ([`stored::StoredSpan::bytes`]); the
    /// whole store's are [`JourneyStore::bytes_held`].
    bytes_kept: usize,
    evicted: u64,
    evicted_spans: u64,
    clock: u64,
    interner: Interner,
    /// What the stored spans' repeated strings refer to.
    dictionary: Dictionary,
    scratch: Vec<u8>,
}

impl Default for JourneyStore {
    fn default() -> Self {
        Self::new(JourneySettings::default())
    }
}

impl JourneyStore {
    /// An empty store.
    pub fn new(settings: JourneySettings) -> Self {
        Self {
            span_index: FxHashMap::default(),
            journeys: IdSlab::new(1),
            message_index: FxHashMap::default(),
            list: JourneyList::default(),
            dirty: Vec::new(),
            rows_dirty: Vec::new(),
            pending: VecDeque::new(),
            spans_kept: 0,
            bytes_kept: 0,
            evicted: 0,
            evicted_spans: 0,
            clock: 0,
            interner: Interner::default(),
            dictionary: Dictionary::within(settings.max_bytes),
            scratch: Vec::new(),
            settings,
        }
    }

    /// What the stored spans' repeated strings refer to ([`StoredSpan::decode`] needs it).
    pub fn dictionary(&self) -> &Dictionary {
        &self.dictionary
    }

    /// The settings in force.
    pub fn settings(&self) -> &JourneySettings {
        &self.settings
    }

    /// The journey list as of the last [`JourneyStore::refresh`].
    pub fn list(&self) -> &JourneyList {
        &self.list
    }

    /// Bookkeeping counters.
    pub fn counters(&self) -> JourneyCounters {
        JourneyCounters {
            journeys: self.list.len() as u64,
            spans: self.spans_kept as u64,
            bytes: self.bytes_held() as u64,
            evicted: self.evicted,
            evicted_spans: self.evicted_spans,
        }
    }

    /// The journeys holding spans (or messages) of a trace, oldest first. A trace is in
    /// several journeys when its spans processed several messages (a poll loop, a context
    /// leaked from one message to the next). Scans every journey: for look-ups, not per span.
    pub fn journeys_of_trace(&self, trace: &TraceId) -> Vec<JourneyId> {
        self.journeys
            .iter()
            .filter(|(_, j)| j.is_listed() && j.traces.contains(trace))
            .map(|(id, _)| JourneyId(id))
            .collect()
    }

    /// The oldest journey holding spans of a trace (see [`JourneyStore::journeys_of_trace`]).
    pub fn journey_of_trace(&self, trace: &TraceId) -> Option<JourneyId> {
        self.journeys.iter().find(|(_, j)| j.is_listed() && j.traces.contains(trace)).map(|(id, _)| JourneyId(id))
    }

    /// The journey a span belongs to (arrived, and listed or not), with the span as kept.
    pub(super) fn span_in(&self, span: &SpanRef) -> Option<(JourneyId, &StoredSpan)> {
        let slot = self.span_index.get(span).filter(|s| s.has_arrived())?;
        let j = self.journeys.get(&slot.journey())?;
        let stored = j.spans.iter().rev().find(|s| s.span_id == span.span_id && s.trace_id == span.trace_id)?;
        Some((JourneyId(slot.journey()), stored))
    }

    /// The journeys of the spans that `id`'s batch spans link to (empty for other journeys).
    pub fn batch_inputs(&self, id: JourneyId) -> Vec<JourneyId> {
        let Some(j) = self.journeys.get(&id.0) else { return Vec::new() };
        let mut out: Vec<JourneyId> = j
            .spans
            .iter()
            .filter(|s| s.links_several())
            .filter_map(|s| s.decode(&self.dictionary).ok())
            .filter(|s| SpanRole::of(s) == SpanRole::Batch)
            .flat_map(|s| linked_spans(&s))
            .filter_map(|t| self.span_index.get(&t).map(|s| s.journey()))
            .filter(|input| *input != id.0 && self.journeys.get(input).is_some_and(|j| j.is_listed()))
            .map(JourneyId)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The batch journeys that consumed journey `id`, with the spans of theirs that link to it.
    pub(super) fn batch_consumers(&self, id: JourneyId) -> Vec<(JourneyId, Vec<StoredSpan>)> {
        match self.journeys.get(&id.0) {
            Some(j) => self.batch_linking(id, &j.batch_consumers),
            None => Vec::new(),
        }
    }

    /// The journeys of the batch spans `batch` (other than `id`), with those spans.
    fn batch_linking(&self, id: JourneyId, batch: &[SpanRef]) -> Vec<(JourneyId, Vec<StoredSpan>)> {
        let mut out: Vec<(JourneyId, Vec<StoredSpan>)> = Vec::new();
        for (bid, span) in batch.iter().filter_map(|b| self.span_in(b)).filter(|(bid, _)| *bid != id) {
            match out.iter_mut().find(|(b, _)| *b == bid) {
                Some((_, spans)) => spans.push(span.clone()),
                None => out.push((bid, vec![span.clone()])),
            }
        }
        out
    }

    pub(super) fn journey(&self, id: JourneyId) -> Option<&Journey> {
        self.journeys.get(&id.0).map(|j| &**j)
    }

    /// Adds what a record holds: its spans, or the Kafka messages it observed. Judging
    /// follows separately ([`JourneyStore::judge`]), once the rest of the session has taken
    /// the record in.
    pub fn add(&mut self, record: &Record) {
        match record {
            Record::Spans(batch) => {
                for span in &batch.spans {
                    self.add_span(span, batch.received_unix_nano);
                }
            }
            Record::Kafka(k) => {
                if let KafkaEvent::Messages(batch) = &k.event {
                    for m in &batch.messages {
                        self.add_message(m, k.received_unix_nano);
                    }
                }
            }
            Record::Nats(_) | Record::Rabbitmq(_) => {}
        }
    }

    fn mark_dirty(&mut self, id: u64) {
        if let Some(j) = self.journeys.get_mut(&id)
            && !j.dirty
        {
            j.dirty = true;
            self.dirty.push(id);
        }
    }
}

/// True for a span kept as batch context: shown, never counted.
fn is_context(span: &crate::model::span::Span) -> bool {
    SpanRole::of(span) == SpanRole::Receive
}
