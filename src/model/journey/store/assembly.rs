//! Assembly: adding spans and messages to journeys, the waiting lists of spans not arrived
//! yet, and the union of journeys (the rules are in the store's module docs). Apart from the
//! store's public face because this is the per-record work with the span bookkeeping (span
//! index, waiting lists, batch consumers) that only it changes.

use std::sync::Arc;

use super::{Journey, JourneyStore, MessagePosition, SpanSlot, is_context};
use crate::model::ids::SpanRef;
use crate::model::journey::accum::Accum;
use crate::model::journey::role::{SpanRole, linked_spans};
use crate::model::journey::step::MessageStep;
use crate::model::journey::stored::StoredSpan;
use crate::model::journey::summary::JourneyId;
use crate::model::kafka::message::KafkaMessage;
use crate::model::messaging::MessagingRole;
use crate::model::span::Span;

impl JourneyStore {
    /// Adds a span received at `received` (Unix ns). The journey keeps it encoded, so the
    /// caller keeps (and frees) the span itself.
    pub fn add_span(&mut self, span: &Span, received: u64) {
        if !self.settings.enabled {
            return;
        }
        self.clock = self.clock.max(received);
        let me = span.span_ref();
        let role = SpanRole::of(span);
        let id = match self.span_index.get(&me).copied() {
            // A copy of a span already added (exported twice): kept with the first.
            Some(slot) if slot.has_arrived() => slot.journey(),
            waiting => {
                let id = waiting.map(SpanSlot::journey);
                if let Some(id) = id {
                    self.arrived(id, me);
                }
                self.place(span, role, id, received)
            }
        };
        self.span_index.insert(me, SpanSlot::arrived(id));
        let labels = self.interner.labels(span);
        if let Some(j) = self.journeys.get_mut(&id) {
            if !j.traces.contains(&me.trace_id) {
                j.traces.push(me.trace_id);
            }
            // Batch context is kept to be shown, not counted.
            if role != SpanRole::Receive {
                j.acc.add_span(span, &labels, received);
            }
            let mut stored = StoredSpan::encode_with(span, &mut self.scratch, &mut self.dictionary);
            stored.received_unix_nano = received;
            self.bytes_kept += stored.bytes();
            j.push_span(stored);
            self.spans_kept += 1;
        }
        self.mark_dirty(id);
        self.evict();
    }

    /// The journey a span arriving with `role` belongs to, given the journey that was waiting
    /// for it (if any): joined with its parent's (inner spans) or its producer's (entries).
    fn place(&mut self, span: &Span, role: SpanRole, waiting: Option<u64>, received: u64) -> u64 {
        match role {
            SpanRole::Inner { link } => {
                let mut id = waiting;
                if let Some(parent) = span.parent_ref().filter(|p| *p != span.span_ref()) {
                    id = Some(self.join(id, parent));
                }
                if let Some(target) = link {
                    id = Some(self.join(id, target));
                }
                id.unwrap_or_else(|| self.new_journey())
            }
            SpanRole::Entry(producer) => self.join(waiting, producer),
            SpanRole::Receive => waiting.unwrap_or_else(|| self.new_journey()),
            SpanRole::Batch => {
                let id = waiting.unwrap_or_else(|| self.new_journey());
                self.add_batch(span, id, received);
                id
            }
        }
    }

    /// Records batch span `span` (of journey `id`, received at `received`) as a consumer of
    /// each span it links to.
    fn add_batch(&mut self, span: &Span, id: u64, received: u64) {
        let me = span.span_ref();
        let delivers = span.messaging.as_ref().is_some_and(|m| m.operation.role() == MessagingRole::Consume);
        let labels = self.interner.labels(span);
        for target in linked_spans(span) {
            // Each input keeps a journey of its own (waiting for its span if need be).
            let input = self.join(None, target);
            if input == id {
                continue;
            }
            let Some(j) = self.journeys.get_mut(&input) else { continue };
            if !j.batch_consumers.contains(&me) {
                j.batch_consumers.push(me);
            }
            if delivers {
                j.acc.add_delivery(&labels);
                j.acc.last_received = j.acc.last_received.max(received);
            }
            self.mark_dirty(input);
        }
    }

    /// Joins journey `id` (a new one when `None`) with the journey of `span`; if that span has
    /// not arrived, `id` waits for it. Returns the journey both are in.
    fn join(&mut self, id: Option<u64>, span: SpanRef) -> u64 {
        if let Some(slot) = self.span_index.get(&span).copied() {
            return match id {
                Some(id) => self.union(id, slot.journey()),
                None => slot.journey(),
            };
        }
        let id = id.unwrap_or_else(|| self.new_journey());
        if let Some(j) = self.journeys.get_mut(&id) {
            j.awaiting.push(span);
            if !j.traces.contains(&span.trace_id) {
                j.traces.push(span.trace_id);
            }
        }
        self.span_index.insert(span, SpanSlot::waiting(id));
        id
    }

    /// `span`, which journey `id` was waiting for, has arrived.
    fn arrived(&mut self, id: u64, span: SpanRef) {
        if let Some(j) = self.journeys.get_mut(&id)
            && let Some(at) = j.awaiting.iter().rposition(|s| *s == span)
        {
            j.awaiting.swap_remove(at);
        }
    }

    /// Adds a Kafka message observed at `received` (Unix ns). A message seen again (browsed
    /// twice) is not added twice.
    pub fn add_message(&mut self, message: &KafkaMessage, received: u64) {
        if !self.settings.enabled {
            return;
        }
        self.clock = self.clock.max(received);
        let topic = self.interner.intern(&message.topic);
        let position = MessagePosition { topic, partition: message.partition, offset: message.offset };
        if self.message_index.contains_key(&position) {
            return;
        }
        let interner = &mut self.interner;
        let mut step = MessageStep::from_message(message, self.settings.event_type_field.as_deref(), &mut |t| {
            interner.event_type(t)
        });
        step.topic = Arc::clone(&position.topic);
        step.received_unix_nano = received;
        let original = message.links.dead_letter.as_ref().and_then(|d| {
            let key = MessagePosition {
                topic: Arc::<str>::from(d.topic.as_str()),
                partition: d.partition?,
                offset: d.offset?,
            };
            self.message_index.get(&key).copied()
        });
        let id = match (step.trace, original) {
            (Some(producer), _) => self.join(None, producer),
            (None, Some(id)) if self.journeys.contains_key(&id) => id,
            _ => self.new_journey(),
        };
        if let Some(j) = self.journeys.get_mut(&id) {
            j.acc.add_message(&step, received, self.interner.kafka());
            self.bytes_kept += step.bytes();
            j.push_message(step);
        }
        self.message_index.insert(position, id);
        self.mark_dirty(id);
        self.evict();
    }

    fn new_journey(&mut self) -> u64 {
        self.journeys.push(Box::new(Journey::new()))
    }

    /// Merges two journeys, moving the smaller into the larger; returns the one kept.
    fn union(&mut self, a: u64, b: u64) -> u64 {
        if a == b {
            return a;
        }
        let size = |id: &u64| self.journeys.get(id).map_or(0, |j| j.spans.len() + j.awaiting.len() + j.messages.len());
        let (keep, gone) = if size(&a) >= size(&b) { (a, b) } else { (b, a) };
        if !self.journeys.contains_key(&keep) {
            return gone;
        }
        let Some(moved) = self.journeys.remove(&gone).map(|b| *b) else { return keep };
        for span in moved.spans.iter().map(StoredSpan::span_ref).chain(moved.awaiting.iter().copied()) {
            if let Some(slot) = self.span_index.get_mut(&span) {
                slot.moved_to(keep);
            }
        }
        for m in &moved.messages {
            self.message_index.insert(MessagePosition::of(m), keep);
        }
        if let Some(k) = self.journeys.get_mut(&keep) {
            for t in moved.traces {
                if !k.traces.contains(&t) {
                    k.traces.push(t);
                }
            }
            for b in moved.batch_consumers {
                if !k.batch_consumers.contains(&b) {
                    k.batch_consumers.push(b);
                }
            }
            k.take_in(moved.spans, moved.messages);
            k.awaiting.extend(moved.awaiting);
            k.acc.merge(moved.acc);
        }
        self.list.remove(JourneyId(gone));
        self.mark_dirty(keep);
        keep
    }

    /// A journey's totals from its spans, `messages` and the batch consumers linking to it;
    /// with `until`, from only the spans received by then.
    pub(super) fn accum_until(&self, j: &Journey, messages: &[MessageStep], until: Option<u64>) -> Accum {
        let known = |span: &&StoredSpan| until.is_none_or(|u| span.received_unix_nano <= u);
        let mut acc = Accum::new();
        // A span that does not decode (a bug) is left out of the totals rather than panicking.
        for stored in j.spans.iter().filter(known) {
            let Ok(span) = stored.decode(&self.dictionary) else { continue };
            if is_context(&span) {
                continue;
            }
            acc.add_span(&span, &self.interner.known_labels(&span), stored.received_unix_nano);
        }
        for step in messages {
            acc.add_message(step, step.received_unix_nano, self.interner.kafka());
        }
        let linking = j.batch_consumers.iter().filter_map(|b| self.span_in(b)).map(|(_, s)| s);
        for span in linking.filter(known).filter_map(|s| s.decode(&self.dictionary).ok()) {
            if span.messaging.as_ref().is_some_and(|m| m.operation.role() == MessagingRole::Consume) {
                acc.add_delivery(&self.interner.known_labels(&span));
            }
        }
        acc
    }
}
