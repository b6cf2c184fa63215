//! Assembles journeys incrementally as spans and messages arrive.
//!
//! A journey is a set of traces. Spans join the journey of their trace (parent/child never
//! crosses traces). A trace whose spans link to exactly one other trace joins that trace's
//! journey: a consumer's trace joins its producer's, and everything it triggers follows. A
//! trace whose spans link to several other traces is a *batch* (fan-in) trace: it keeps its
//! own journey and is recorded as a consumer of each journey it links to, so a batch consumer
//! links fifty journeys without merging them. A trace that turns out to be a batch only
//! after it had joined one journey is split back out (the only non-incremental step,
//! proportional to that one journey).
//!
//! Kafka messages join the journey of their `traceparent` trace; a message without one is a
//! journey of its own (a dead-lettered message joins its original's journey when known).

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::accum::Accum;
use super::expect::Expectations;
use super::slab::IdSlab;
use super::step::MessageStep;
use super::stored::StoredSpan;
use super::summary::{DerivedRow, JourneyId, JourneyList, JourneyStatus, JourneySummary};
use crate::model::ids::TraceId;
use crate::model::kafka::KafkaEvent;
use crate::model::kafka::message::KafkaMessage;
use crate::model::messaging::MessagingRole;
use crate::model::record::Record;
use crate::model::span::{Resource, Span};

/// Retention and classification settings.
#[derive(Clone, Debug)]
pub struct JourneySettings {
    /// Assemble journeys at all (off only to measure what they cost).
    pub enabled: bool,
    /// Most journeys kept; the oldest are evicted first.
    pub max_journeys: usize,
    /// Most spans kept across all journeys; the oldest journeys are evicted first.
    pub max_spans: usize,
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
    /// Journeys evicted by retention.
    pub evicted: u64,
    /// Spans evicted with them.
    pub evicted_spans: u64,
}

#[derive(Debug, Default)]
struct TraceSlot {
    journey: u64,
    /// Distinct other traces this trace's spans link to.
    links_to: SmallVec<[TraceId; 1]>,
    /// Links to several traces: a batch consumer that never merges.
    fan_in: bool,
    /// Traces that joined this one through their single link.
    joined_by: SmallVec<[TraceId; 2]>,
    /// Batch traces that link to this one.
    batch_consumers: SmallVec<[TraceId; 1]>,
}

/// One journey's contents.
#[derive(Debug)]
pub(super) struct Journey {
    // Most journeys are a few traces and spans: inline, so a new journey costs no allocation.
    pub(super) traces: SmallVec<[TraceId; 2]>,
    pub(super) spans: SmallVec<[StoredSpan; 1]>,
    pub(super) messages: Vec<MessageStep>,
    // Boxed: journeys move (into the slab, out on merge and eviction) far more often than
    // they are created, and the totals are most of their size.
    pub(super) acc: Box<Accum>,
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
            acc: Box::new(Accum::new()),
            dirty: false,
            row_dirty: false,
            pending: false,
            status: JourneyStatus::Ok,
        }
    }
}

/// The journeys of a session.
#[derive(Debug)]
pub struct JourneyStore {
    settings: JourneySettings,
    traces: FxHashMap<TraceId, TraceSlot>,
    journeys: IdSlab<Journey>,
    message_index: FxHashMap<(Arc<str>, i32, i64), u64>,
    list: JourneyList,
    dirty: Vec<u64>,
    rows_dirty: Vec<u64>,
    pending: VecDeque<(u64, u64)>,
    spans_kept: usize,
    evicted: u64,
    evicted_spans: u64,
    clock: u64,
    interned: FxHashSet<Arc<str>>,
    last_resource: Option<(Arc<Resource>, Arc<str>)>,
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
            settings,
            traces: FxHashMap::default(),
            journeys: IdSlab::new(1),
            message_index: FxHashMap::default(),
            list: JourneyList::default(),
            dirty: Vec::new(),
            rows_dirty: Vec::new(),
            pending: VecDeque::new(),
            spans_kept: 0,
            evicted: 0,
            evicted_spans: 0,
            clock: 0,
            interned: FxHashSet::default(),
            last_resource: None,
            scratch: Vec::new(),
        }
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
            evicted: self.evicted,
            evicted_spans: self.evicted_spans,
        }
    }

    /// The journey a trace belongs to.
    pub fn journey_of_trace(&self, trace: &TraceId) -> Option<JourneyId> {
        let id = self.traces.get(trace)?.journey;
        self.journeys.get(&id).filter(|j| !j.acc.is_empty()).map(|_| JourneyId(id))
    }

    /// The journeys of the traces that `id`'s batch traces consume (empty for other journeys).
    pub fn batch_inputs(&self, id: JourneyId) -> Vec<JourneyId> {
        let Some(j) = self.journeys.get(&id.0) else { return Vec::new() };
        let mut out: Vec<JourneyId> = j
            .traces
            .iter()
            .filter_map(|t| self.traces.get(t))
            .filter(|s| s.fan_in)
            .flat_map(|s| s.links_to.iter())
            .filter_map(|t| self.journey_of_trace(t))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The batch journeys that consumed journey `id`, with the spans of theirs that link to it.
    pub(super) fn batch_consumers(&self, id: JourneyId) -> Vec<(JourneyId, Vec<StoredSpan>)> {
        match self.journeys.get(&id.0) {
            Some(j) => self.batch_linking(&j.traces),
            None => Vec::new(),
        }
    }

    /// The batch journeys linking to any of `traces`, with their linking spans.
    fn batch_linking(&self, traces: &[TraceId]) -> Vec<(JourneyId, Vec<StoredSpan>)> {
        let mut out: Vec<(JourneyId, Vec<StoredSpan>)> = Vec::new();
        for trace in traces {
            let Some(slot) = self.traces.get(trace) else { continue };
            for batch in &slot.batch_consumers {
                let Some(bid) = self.traces.get(batch).map(|s| s.journey) else { continue };
                let Some(bj) = self.journeys.get(&bid) else { continue };
                let linking = bj
                    .spans
                    .iter()
                    .filter(|s| s.trace_id == *batch && s.links.iter().any(|l| l.trace_id == *trace))
                    .cloned();
                match out.iter_mut().find(|(b, _)| b.0 == bid) {
                    Some((_, spans)) => spans.extend(linking),
                    None => out.push((JourneyId(bid), linking.collect())),
                }
            }
        }
        out
    }

    pub(super) fn journey(&self, id: JourneyId) -> Option<&Journey> {
        self.journeys.get(&id.0)
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
        }
    }

    /// Adds a span received at `received` (Unix ns). The journey keeps it encoded, so the
    /// caller keeps (and frees) the span itself.
    pub fn add_span(&mut self, span: &Span, received: u64) {
        if !self.settings.enabled {
            return;
        }
        self.clock = self.clock.max(received);
        let trace = span.trace_id;
        self.slot(trace);
        let mut linked: SmallVec<[TraceId; 2]> = SmallVec::new();
        for link in &span.links {
            let t = link.target.trace_id;
            if t != trace && !linked.contains(&t) {
                linked.push(t);
            }
        }
        // A span linking several traces makes its trace a batch before any link joins it to
        // one of them, which would have to be split back out (the costly path).
        if linked.len() > 1
            && let Some(slot) = self.traces.get_mut(&trace)
            && slot.links_to.is_empty()
        {
            slot.fan_in = true;
        }
        for &other in &linked {
            self.link(trace, other);
        }
        let (service, topic) = self.labels(span);
        let is_batch_delivery = !linked.is_empty()
            && self.traces.get(&trace).is_some_and(|s| s.fan_in)
            && span.messaging.as_ref().is_some_and(|m| m.operation.role() == MessagingRole::Consume);
        if is_batch_delivery {
            for other in &linked {
                let Some(id) = self.traces.get(other).map(|s| s.journey) else { continue };
                if let Some(j) = self.journeys.get_mut(&id) {
                    j.acc.add_delivery(span, &service, topic.as_ref());
                    j.acc.last_received = j.acc.last_received.max(received);
                }
                self.mark_dirty(id);
            }
        }
        let id = self.traces.get(&trace).map_or(0, |s| s.journey);
        if let Some(j) = self.journeys.get_mut(&id) {
            j.acc.add_span(span, &service, topic.as_ref(), received);
            let mut stored = StoredSpan::encode_with(span, &mut self.scratch);
            stored.received_unix_nano = received;
            j.spans.push(stored);
            self.spans_kept += 1;
        }
        self.mark_dirty(id);
        self.evict();
    }

    /// Adds a Kafka message observed at `received` (Unix ns). A message seen again (browsed
    /// twice) is not added twice.
    pub fn add_message(&mut self, message: &KafkaMessage, received: u64) {
        if !self.settings.enabled {
            return;
        }
        self.clock = self.clock.max(received);
        let topic = self.intern(&message.topic);
        let position = (topic, message.partition, message.offset);
        if self.message_index.contains_key(&position) {
            return;
        }
        let mut step = MessageStep::from_message(message, self.settings.event_type_field.as_deref());
        step.topic = Arc::clone(&position.0);
        step.received_unix_nano = received;
        let original = message.links.dead_letter.as_ref().and_then(|d| {
            let key = (Arc::<str>::from(d.topic.as_str()), d.partition?, d.offset?);
            self.message_index.get(&key).copied()
        });
        let id = match (step.trace, original) {
            (Some(trace), _) => self.slot(trace.trace_id).journey,
            (None, Some(id)) if self.journeys.contains_key(&id) => id,
            _ => self.new_journey(),
        };
        if let Some(j) = self.journeys.get_mut(&id) {
            j.acc.add_message(&step, received);
            j.messages.push(step);
        }
        self.message_index.insert(position, id);
        self.mark_dirty(id);
        self.evict();
    }

    /// Judges the journeys that changed (and those whose grace period for an expected
    /// consumer ran out) against the expected consumers and committed offsets of the moment.
    /// Cheap enough to run after every record, so a status depends on the records alone, not
    /// on when the list was looked at; the rows follow at the next [`JourneyStore::refresh`].
    pub fn judge(&mut self, expect: &Expectations) {
        while let Some(&(due, id)) = self.pending.front() {
            if due > self.clock {
                break;
            }
            self.pending.pop_front();
            if let Some(j) = self.journeys.get_mut(&id) {
                j.pending = false;
            }
            self.mark_dirty(id);
        }
        for id in std::mem::take(&mut self.dirty) {
            let Some(j) = self.journeys.get_mut(&id) else {
                self.rows_dirty.push(id);
                continue;
            };
            j.dirty = false;
            if !j.acc.is_empty() {
                j.status = status(&j.acc, &j.messages, expect, self.clock, self.settings.incomplete_after_nanos);
                if j.status == JourneyStatus::InFlight && !j.pending {
                    j.pending = true;
                    self.pending.push_back((j.acc.last_received + self.settings.incomplete_after_nanos, id));
                }
            }
            if !j.row_dirty {
                j.row_dirty = true;
                self.rows_dirty.push(id);
            }
        }
    }

    /// Judges what changed (see [`JourneyStore::judge`]) and rebuilds the list rows of the
    /// journeys judged since the last call.
    pub fn refresh(&mut self, expect: &Expectations) {
        self.judge(expect);
        for id in std::mem::take(&mut self.rows_dirty) {
            let Some(j) = self.journeys.get_mut(&id) else {
                self.list.remove(JourneyId(id));
                continue;
            };
            j.row_dirty = false;
            if j.acc.is_empty() {
                self.list.remove(JourneyId(id));
                continue;
            }
            self.list.set(summary(JourneyId(id), &j.acc, &j.traces, j.status));
        }
    }

    /// The trace's slot, created with a journey of its own when new.
    fn slot(&mut self, trace: TraceId) -> &mut TraceSlot {
        let journeys = &mut self.journeys;
        self.traces.entry(trace).or_insert_with(|| {
            let mut journey = Journey::new();
            journey.traces.push(trace);
            TraceSlot { journey: journeys.push(journey), ..TraceSlot::default() }
        })
    }

    fn new_journey(&mut self) -> u64 {
        self.journeys.push(Journey::new())
    }

    /// Records that a span of `from` links to trace `to`.
    fn link(&mut self, from: TraceId, to: TraceId) {
        let Some(slot) = self.traces.get_mut(&from) else { return };
        if slot.links_to.contains(&to) {
            return;
        }
        slot.links_to.push(to);
        let (fan_in, links) = (slot.fan_in, slot.links_to.len());
        self.slot(to);
        if fan_in {
            self.add_batch_consumer(to, from);
        } else if links == 1 {
            if let Some(s) = self.traces.get_mut(&to) {
                s.joined_by.push(from);
            }
            self.union(from, to);
        } else {
            // A second linked trace: `from` is a batch consumer. Undo its join and split.
            let first = self.traces.get(&from).and_then(|s| s.links_to.first().copied());
            if let Some(first) = first
                && let Some(s) = self.traces.get_mut(&first)
            {
                s.joined_by.retain(|t| *t != from);
            }
            let targets: SmallVec<[TraceId; 1]> = match self.traces.get_mut(&from) {
                Some(s) => {
                    s.fan_in = true;
                    s.links_to.clone()
                }
                None => SmallVec::new(),
            };
            for t in targets {
                self.add_batch_consumer(t, from);
            }
            if let Some(id) = self.traces.get(&from).map(|s| s.journey) {
                self.split(id);
            }
        }
    }

    fn add_batch_consumer(&mut self, trace: TraceId, batch: TraceId) {
        if let Some(s) = self.traces.get_mut(&trace)
            && !s.batch_consumers.contains(&batch)
        {
            s.batch_consumers.push(batch);
        }
    }

    /// Merges the journeys of two traces, moving the smaller into the larger.
    fn union(&mut self, a: TraceId, b: TraceId) {
        let (Some(ja), Some(jb)) = (self.traces.get(&a).map(|s| s.journey), self.traces.get(&b).map(|s| s.journey))
        else {
            return;
        };
        if ja == jb {
            return;
        }
        let size = |id: &u64| self.journeys.get(id).map_or(0, |j| j.spans.len() + j.traces.len());
        let (keep, gone) = if size(&ja) >= size(&jb) { (ja, jb) } else { (jb, ja) };
        let Some(moved) = self.journeys.remove(&gone) else { return };
        for t in &moved.traces {
            if let Some(s) = self.traces.get_mut(t) {
                s.journey = keep;
            }
        }
        for m in &moved.messages {
            self.message_index.insert((Arc::clone(&m.topic), m.partition, m.offset), keep);
        }
        if let Some(k) = self.journeys.get_mut(&keep) {
            k.traces.extend(moved.traces);
            k.spans.extend(moved.spans);
            k.messages.extend(moved.messages);
            k.acc.merge(*moved.acc);
        }
        self.list.remove(JourneyId(gone));
        self.mark_dirty(keep);
    }

    /// Splits a journey into the components its trace joins still connect; the largest keeps
    /// the id.
    fn split(&mut self, id: u64) {
        let Some(journey) = self.journeys.remove(&id) else { return };
        let mut seen: FxHashSet<TraceId> = FxHashSet::default();
        let mut components: Vec<Vec<TraceId>> = Vec::new();
        for &start in &journey.traces {
            if !seen.insert(start) {
                continue;
            }
            let mut component = vec![start];
            let mut at = 0;
            while at < component.len() {
                let t = component[at];
                at += 1;
                let Some(slot) = self.traces.get(&t) else { continue };
                let single = (!slot.fan_in && slot.links_to.len() == 1).then(|| slot.links_to[0]);
                for n in single.into_iter().chain(slot.joined_by.iter().copied()) {
                    if self.traces.get(&n).is_some_and(|s| s.journey == id) && seen.insert(n) {
                        component.push(n);
                    }
                }
            }
            components.push(component);
        }
        components.sort_by_key(|c| std::cmp::Reverse(c.len()));
        let received = journey.acc.last_received;
        let Journey { spans, messages, .. } = journey;
        let mut parts: Vec<(u64, Journey)> = Vec::new();
        for (i, component) in components.into_iter().enumerate() {
            let part_id = if i == 0 {
                self.journeys.insert(id, Journey::new());
                id
            } else {
                self.new_journey()
            };
            let mut part = self.journeys.remove(&part_id).unwrap_or_else(Journey::new);
            for t in &component {
                if let Some(s) = self.traces.get_mut(t) {
                    s.journey = part_id;
                }
            }
            part.traces = component.into();
            part.acc.last_received = received;
            parts.push((part_id, part));
        }
        for span in spans {
            let target = self.traces.get(&span.trace_id).map_or(id, |s| s.journey);
            if let Some((_, part)) = parts.iter_mut().find(|(pid, _)| *pid == target) {
                part.spans.push(span);
            }
        }
        for step in messages {
            let target = step.trace.and_then(|t| self.traces.get(&t.trace_id)).map_or(id, |s| s.journey);
            self.message_index.insert((Arc::clone(&step.topic), step.partition, step.offset), target);
            if let Some((_, part)) = parts.iter_mut().find(|(pid, _)| *pid == target) {
                part.messages.push(step);
            }
        }
        let ids: Vec<u64> = parts.iter().map(|(pid, _)| *pid).collect();
        for (pid, part) in parts {
            self.journeys.insert(pid, part);
        }
        for pid in ids {
            self.recompute(pid);
            self.mark_dirty(pid);
        }
    }

    /// Recomputes a journey's totals from its contents and the batch consumers linking to it.
    fn recompute(&mut self, id: u64) {
        let Some(j) = self.journeys.get(&id) else { return };
        // Batch deliveries count as activity too: the newest time is kept.
        let received = j.acc.last_received;
        let mut acc = self.accum_until(j, &j.messages, None);
        acc.last_received = acc.last_received.max(received);
        if let Some(j) = self.journeys.get_mut(&id) {
            *j.acc = acc;
        }
    }

    /// A journey's totals from its spans, `messages` and the batch consumers linking to it;
    /// with `until`, from only the spans received by then.
    fn accum_until(&self, j: &Journey, messages: &[MessageStep], until: Option<u64>) -> Accum {
        let known = |span: &&StoredSpan| until.is_none_or(|u| span.received_unix_nano <= u);
        let mut acc = Accum::new();
        // A span that does not decode (a bug) is left out of the totals rather than panicking.
        for stored in j.spans.iter().filter(known) {
            let Ok(span) = stored.decode() else { continue };
            let (service, topic) = self.known_labels(&span);
            acc.add_span(&span, &service, topic.as_ref(), stored.received_unix_nano);
        }
        for step in messages {
            acc.add_message(step, step.received_unix_nano);
        }
        let linking = self.batch_linking(&j.traces).into_iter().flat_map(|(_, s)| s);
        for span in linking.filter(|s| known(&s)).filter_map(|s| s.decode().ok()) {
            if span.messaging.as_ref().is_some_and(|m| m.operation.role() == MessagingRole::Consume) {
                let (service, topic) = self.known_labels(&span);
                acc.add_delivery(&span, &service, topic.as_ref());
            }
        }
        acc
    }

    /// The journey list as the collector knew it at `until` (see [`JourneyStore::summary_at`]).
    /// Rows that were the same then are shared with the head's list, not copied: most
    /// journeys ended long before or began after any moment.
    pub fn list_at(&self, until: u64, expect: &Expectations) -> JourneyList {
        self.list.derive(|row| self.row_at(row, until, expect))
    }

    /// Journey `id`'s row as the collector knew it at `until` (a receive time, Unix ns), for
    /// the timeline's cursor: only the spans and messages received by then count, and
    /// completeness is judged at that moment against `expect` as it was then.
    /// `None` when nothing of it had been received.
    ///
    /// Journeys merge as links arrive and are not split again here: a journey that a later
    /// span joined to another shows as one, with only what each part had received by then.
    /// Journeys complete by `until` keep their row and, if it was waiting for a consumer, are
    /// judged again; only the others are rebuilt from their spans.
    pub fn summary_at(&self, id: JourneyId, until: u64, expect: &Expectations) -> Option<JourneySummary> {
        let row = self.list.get(id)?;
        match self.row_at(row, until, expect) {
            DerivedRow::Keep => Some(row.clone()),
            DerivedRow::Drop => None,
            DerivedRow::Replace(then) => Some(then),
        }
    }

    /// How the list row `row` stood at `until` (see [`JourneyStore::summary_at`]): the same,
    /// not there yet, or different.
    fn row_at(&self, row: &JourneySummary, until: u64, expect: &Expectations) -> DerivedRow {
        // Most rows are decided by their receive times alone, without reaching the journey.
        let (first, last) = row.received_unix_nano;
        if first > until {
            return DerivedRow::Drop;
        }
        let waiting = matches!(row.status, JourneyStatus::InFlight | JourneyStatus::Incomplete);
        if last <= until && !waiting {
            return DerivedRow::Keep;
        }
        let Some(j) = self.journeys.get(&row.id.0) else { return DerivedRow::Drop };
        let grace = self.settings.incomplete_after_nanos;
        if j.acc.last_received <= until {
            if !matches!(row.status, JourneyStatus::InFlight | JourneyStatus::Incomplete) {
                return DerivedRow::Keep;
            }
            return match status(&j.acc, &j.messages, expect, until, grace) {
                then if then == row.status => DerivedRow::Keep,
                then => DerivedRow::Replace(JourneySummary { status: then, ..row.clone() }),
            };
        }
        let spans_then = || j.spans.iter().filter(|s| s.received_unix_nano <= until);
        let messages: Vec<MessageStep> = j.messages.iter().filter(|m| m.received_unix_nano <= until).cloned().collect();
        let acc = self.accum_until(j, &messages, Some(until));
        if acc.is_empty() {
            return DerivedRow::Drop;
        }
        let began = |t: &TraceId| {
            spans_then().any(|s| s.trace_id == *t) || messages.iter().any(|m| m.trace.is_some_and(|r| r.trace_id == *t))
        };
        let traces: Vec<TraceId> = j.traces.iter().copied().filter(began).collect();
        let status = status(&acc, &messages, expect, until, grace);
        DerivedRow::Replace(summary(row.id, &acc, &traces, status))
    }

    fn mark_dirty(&mut self, id: u64) {
        if let Some(j) = self.journeys.get_mut(&id)
            && !j.dirty
        {
            j.dirty = true;
            self.dirty.push(id);
        }
    }

    /// Evicts the oldest journeys while over either limit.
    fn evict(&mut self) {
        while self.journeys.len() > self.settings.max_journeys || self.spans_kept > self.settings.max_spans {
            let Some((id, j)) = self.journeys.pop_oldest() else { break };
            for t in &j.traces {
                self.traces.remove(t);
            }
            for m in &j.messages {
                self.message_index.remove(&(Arc::clone(&m.topic), m.partition, m.offset));
            }
            self.spans_kept -= j.spans.len();
            if !j.acc.is_empty() {
                self.evicted += 1;
                self.evicted_spans += j.spans.len() as u64;
            }
            self.list.remove(JourneyId(id));
        }
    }

    fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(found) = self.interned.get(text) {
            return Arc::clone(found);
        }
        let value: Arc<str> = text.into();
        self.interned.insert(Arc::clone(&value));
        value
    }

    /// A span's service label and (interned) destination.
    fn labels(&mut self, span: &Span) -> (Arc<str>, Option<Arc<str>>) {
        let service = self.service_label(&span.resource);
        let topic = span.messaging.as_ref().and_then(|m| m.destination.as_deref()).map(|d| self.intern(d));
        (service, topic)
    }

    /// As [`JourneyStore::labels`], without interning anything new (for read-only rebuilds).
    fn known_labels(&self, span: &Span) -> (Arc<str>, Option<Arc<str>>) {
        let known = |text: &str| self.interned.get(text).cloned().unwrap_or_else(|| text.into());
        let service = known(&span.resource.service.to_string());
        let topic = span.messaging.as_ref().and_then(|m| m.destination.as_deref()).map(known);
        (service, topic)
    }

    /// The service label of a resource; spans of one export share their resource, so the
    /// last one is remembered.
    fn service_label(&mut self, resource: &Arc<Resource>) -> Arc<str> {
        if let Some((last, label)) = &self.last_resource
            && (Arc::ptr_eq(last, resource) || last.service == resource.service)
        {
            let label = Arc::clone(label);
            self.last_resource = Some((Arc::clone(resource), Arc::clone(&label)));
            return label;
        }
        let label = self.intern(&resource.service.to_string());
        self.last_resource = Some((Arc::clone(resource), Arc::clone(&label)));
        label
    }
}

/// Judges a journey: failed, else whether every consumer of each destination it was produced
/// to has processed it.
fn status(acc: &Accum, messages: &[MessageStep], expect: &Expectations, now: u64, grace: u64) -> JourneyStatus {
    if acc.failures > 0 {
        return JourneyStatus::Failed;
    }
    for (topic, system) in &acc.produced {
        for (consumer, groups) in expect.consumers_of(system, topic) {
            let by_span = acc.delivered.iter().any(|d| {
                d.topic.as_ref().is_none_or(|t| t == topic)
                    && (consumer.is_consumer_named(&d.service)
                        || d.group.as_ref().is_some_and(|g| groups.contains(&**g)))
            });
            let by_offsets = messages
                .iter()
                .filter(|m| m.topic == *topic)
                .any(|m| groups.iter().any(|g| expect.committed(g, topic, m.partition).is_some_and(|c| c > m.offset)));
            if !by_span && !by_offsets {
                return if now.saturating_sub(acc.last_received) < grace {
                    JourneyStatus::InFlight
                } else {
                    JourneyStatus::Incomplete
                };
            }
        }
    }
    JourneyStatus::Ok
}

fn sorted(items: &[Arc<str>]) -> Arc<[Arc<str>]> {
    let mut v = items.to_vec();
    v.sort();
    v.into()
}

fn summary(id: JourneyId, acc: &Accum, traces: &[TraceId], status: JourneyStatus) -> JourneySummary {
    let (root_service, root_name) = match &acc.root {
        Some((_, service, name)) => (Arc::clone(service), Some(Arc::clone(name))),
        None => (Arc::from(""), None),
    };
    let event_type = acc.event_type.clone().or(root_name).unwrap_or_else(|| Arc::from("message"));
    let start = if acc.start == u64::MAX { 0 } else { acc.start };
    JourneySummary {
        id,
        start_unix_nano: start,
        end_unix_nano: acc.end.max(start),
        root_service,
        event_type,
        keys: acc.keys.to_vec().into(),
        message_ids: acc.message_ids.to_vec().into(),
        trace_ids: traces.to_vec().into(),
        services: sorted(&acc.services),
        topics: sorted(&acc.topics),
        hops: acc.delivered.len() as u32,
        spans: acc.spans,
        messages: acc.messages,
        failures: acc.failures,
        error: acc.error.clone(),
        status,
        received_unix_nano: (acc.first_received.min(acc.last_received), acc.last_received),
    }
}
