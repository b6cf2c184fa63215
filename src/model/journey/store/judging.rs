//! Judging: each journey's status (failed, in flight, incomplete or ok) against the expected
//! consumers and committed offsets that travelled with the records, and the list rows built
//! from what was judged. Apart from assembly because it runs at its own moments (after each
//! record, and at a sync for the rows) and only reads the journeys' contents.

use std::sync::Arc;

use super::JourneyStore;
use crate::model::ids::TraceId;
use crate::model::journey::accum::Accum;
use crate::model::journey::expect::Expectations;
use crate::model::journey::step::MessageStep;
use crate::model::journey::summary::{JourneyId, JourneyStatus, JourneySummary};

/// A journey waiting for an expected consumer, judged again once its grace period ran out
/// (`due`, on the session clock).
#[derive(Clone, Copy, Debug)]
pub(super) struct GraceDeadline {
    due: u64,
    journey: u64,
}

impl JourneyStore {
    /// Judges the journeys that changed (and those whose grace period for an expected
    /// consumer ran out) against the expected consumers and committed offsets of the moment.
    /// Cheap enough to run after every record, so a status depends on the records alone, not
    /// on when the list was looked at; the rows follow at the next [`JourneyStore::refresh`].
    pub fn judge(&mut self, expect: &Expectations) {
        while let Some(&GraceDeadline { due, journey: id }) = self.pending.front() {
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
                    let due = j.acc.last_received + self.settings.incomplete_after_nanos;
                    self.pending.push_back(GraceDeadline { due, journey: id });
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
}

/// Judges a journey: failed, else whether every consumer of each destination it was produced
/// to has processed it.
pub(super) fn status(
    acc: &Accum,
    messages: &[MessageStep],
    expect: &Expectations,
    now: u64,
    grace: u64,
) -> JourneyStatus {
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
    if items.is_sorted() {
        return shared(items);
    }
    let mut v = items.to_vec();
    v.sort();
    v.into()
}

/// A list row's copy of a list: one allocation, none when empty (most rows list one key and
/// no message id).
fn shared<T: Clone>(items: &[T]) -> Arc<[T]> {
    if items.is_empty() { Arc::default() } else { Arc::from(items) }
}

/// A journey's list row from its totals, traces and status.
pub(super) fn summary(id: JourneyId, acc: &Accum, traces: &[TraceId], status: JourneyStatus) -> JourneySummary {
    let (root_service, root_name) = match &acc.root {
        Some(root) => (Arc::clone(&root.service), Some(Arc::clone(&root.name))),
        None => (Arc::default(), None),
    };
    let event_type = acc.event_type.clone().or(root_name).unwrap_or_else(|| Arc::from("message"));
    let start = if acc.start == u64::MAX { 0 } else { acc.start };
    JourneySummary {
        id,
        start_unix_nano: start,
        end_unix_nano: acc.end.max(start),
        root_service,
        event_type,
        keys: shared(&acc.keys),
        message_ids: shared(&acc.message_ids),
        trace_ids: shared(traces),
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
