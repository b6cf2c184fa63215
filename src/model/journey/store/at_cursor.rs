//! Journeys at the timeline's cursor: each of the head's journeys cut to what had been
//! received by a moment and judged as it stood then, sharing the rows that were the same then
//! with the head's list. Apart from the rest because it only reads the store, for a moment
//! other than now.

use super::JourneyStore;
use super::judging::{status, summary};
use crate::model::ids::TraceId;
use crate::model::journey::expect::Expectations;
use crate::model::journey::step::MessageStep;
use crate::model::journey::summary::{DerivedRow, JourneyId, JourneyList, JourneyStatus, JourneySummary};

impl JourneyStore {
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
}
