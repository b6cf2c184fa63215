//! Retention: the oldest journeys are evicted while the store holds more journeys, spans or
//! bytes than its settings allow, and what was evicted is counted. Apart so the bounds on the
//! store's memory are in one place.

use super::{JourneyStore, MessagePosition};
use crate::model::journey::stored::StoredSpan;
use crate::model::journey::summary::JourneyId;

impl JourneyStore {
    /// Evicts the oldest journeys while over either limit.
    pub(super) fn evict(&mut self) {
        while self.journeys.len() > self.settings.max_journeys
            || self.spans_kept > self.settings.max_spans
            || self.bytes_kept > self.settings.max_bytes
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
