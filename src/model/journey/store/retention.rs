//! Retention: the oldest journeys are evicted while the store holds more journeys, spans or
//! bytes than its settings allow, and what was evicted is counted. Apart so the bounds on the
//! store's memory are in one place.

use std::mem::size_of;

use super::{Journey, JourneyStore, MessagePosition, SpanSlot};
use crate::model::ids::SpanRef;
use crate::model::journey::stored::StoredSpan;
use crate::model::journey::summary::{JourneyId, JourneySummary};

/// Heap a journey owns beyond its record, totals and row as types: the names its totals and
/// row list once they spill their inline room, the row's strings, and what the slab, the
/// dirty lists and the grace queue keep per journey. Measured with a counting allocator
/// (`tests/journeys_memory_bound.rs`, four-span orders with a message each), where it is the
/// rest once the parts named in [`JourneyStore::bytes_held`] are counted.
const JOURNEY_HEAP_BYTES: usize = 1_100;

/// A hash table holds about one and a half slots per entry between its growths (it doubles
/// when seven eighths full), each slot an entry and a control byte.
fn table_bytes<K, V>(entries: usize) -> usize {
    entries * (size_of::<(K, V)>() + 1) * 3 / 2
}

impl JourneyStore {
    /// What the store holds, in bytes: the stored spans and messages as they were counted
    /// when added, each journey's record, totals and list row, and the tables from spans and
    /// messages to their journeys (by entries, not by allocated slots, which a table keeps
    /// after its entries go: evicting must bring the figure down).
    pub(super) fn bytes_held(&self) -> usize {
        let per_journey =
            size_of::<Option<Box<Journey>>>() + size_of::<Journey>() + size_of::<JourneySummary>() + JOURNEY_HEAP_BYTES;
        self.bytes_kept
            + self.dictionary.bytes()
            + self.journeys.len() * per_journey
            + table_bytes::<SpanRef, SpanSlot>(self.span_index.len())
            + table_bytes::<MessagePosition, u64>(self.message_index.len())
    }

    /// Evicts the oldest journeys while over either limit.
    pub(super) fn evict(&mut self) {
        while self.journeys.len() > self.settings.max_journeys
            || self.spans_kept > self.settings.max_spans
            || self.bytes_held() > self.settings.max_bytes
        {
            let Some((id, j)) = self.journeys.pop_oldest() else { break };
            for span in j.spans.iter().map(StoredSpan::span_ref).chain(j.awaiting.iter().copied()) {
                if self.span_index.get(&span).is_some_and(|s| s.journey() == id) {
                    self.span_index.remove(&span);
                }
            }
            for m in &j.messages {
                self.message_index.remove(&MessagePosition::of(m));
            }
            self.spans_kept -= j.spans.len();
            let bytes = j.spans.iter().map(StoredSpan::bytes).sum::<usize>()
                + j.messages.iter().map(crate::model::journey::step::MessageStep::bytes).sum::<usize>();
            self.bytes_kept = self.bytes_kept.saturating_sub(bytes);
            if j.is_listed() {
                self.evicted += 1;
                self.evicted_spans += j.spans.len() as u64;
            }
            self.list.remove(JourneyId(id));
        }
    }
}
