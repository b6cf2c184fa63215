//! Journey assembly beside the engine's models: on the caller's thread, or on a thread of
//! its own.
//!
//! Assembling journeys costs about three times what the flow graph does per span. The live
//! engine therefore hands each record (shared, not copied) to a journey thread and goes on
//! with the next one: the two run side by side, and the engine's own cost per span stays
//! close to the flow graph's. The journey thread is the only writer of the [`JourneyStore`], list
//! rows included; the engine reads it under its lock when it publishes or seeks, after
//! waiting for the thread to catch up ([`Journeys::sync`]), so a snapshot's journeys and
//! graph are as of the same record.
//!
//! Each record travels with the [`Expectations`] of the moment right after it, so journeys
//! are judged against the same state wherever they are assembled: a session assembled on a
//! thread lists exactly what one assembled inline (files, tests) does.

use std::sync::{Arc, Mutex, MutexGuard};

use super::helper::{self, Helper};
use crate::model::journey::{Expectations, JourneySettings, JourneyStore};
use crate::model::record::Record;

/// What the engine sends the journey thread.
enum Input {
    /// A record to add, then judge against the expectations (new ones when they changed).
    Record { record: Arc<Record>, expect: Option<Arc<Expectations>> },
    /// Rebuild the list rows of the journeys that changed.
    Refresh,
}

impl helper::Weighed for Input {
    fn weight(&self) -> usize {
        match self {
            Self::Record { record, .. } => helper::record_weight(record),
            Self::Refresh => 0,
        }
    }
}

/// The session's journeys and where they are assembled.
#[derive(Debug)]
pub struct Journeys {
    /// Whether journeys are assembled at all.
    enabled: bool,
    store: Arc<Mutex<JourneyStore>>,
    helper: Option<Helper<JourneyStore, Input>>,
    /// The expectations last sent to the journey thread; sent again only when they change.
    sent: Option<Arc<Expectations>>,
}

impl Default for Journeys {
    fn default() -> Self {
        Self::inline(JourneySettings::default())
    }
}

impl Journeys {
    /// Journeys assembled on the caller's thread, as each record is applied.
    pub fn inline(settings: JourneySettings) -> Self {
        Self {
            enabled: settings.enabled,
            store: Arc::new(Mutex::new(JourneyStore::new(settings))),
            helper: None,
            sent: None,
        }
    }

    /// Journeys assembled on a thread of their own (`eventlens-journeys`). Disabled journeys
    /// need no thread and get none.
    pub fn spawn(settings: JourneySettings) -> std::io::Result<Self> {
        if !settings.enabled {
            return Ok(Self::inline(settings));
        }
        let store = Arc::new(Mutex::new(JourneyStore::new(settings)));
        let mut expect = Arc::new(Expectations::default());
        let helper = Helper::spawn(
            "eventlens-journeys",
            Arc::clone(&store),
            move |store: &mut JourneyStore, input| match input {
                Input::Record { record, expect: changed } => {
                    if let Some(changed) = changed {
                        expect = changed;
                    }
                    store.add(&record);
                    store.judge(&expect);
                }
                Input::Refresh => store.refresh(&expect),
            },
        )?;
        Ok(Self { enabled: true, store, helper: Some(helper), sent: None })
    }

    /// Whether journeys are assembled at all (`--no-journeys` turns them off).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether journeys are assembled on their own thread.
    pub fn threaded(&self) -> bool {
        self.helper.is_some()
    }

    /// Bounds the journey thread's inbox at `bytes` of waiting records (see [`helper`]).
    pub fn set_inbox_bytes(&self, bytes: usize) {
        if let Some(helper) = &self.helper {
            helper.set_max_bytes(bytes);
        }
    }

    /// Adds a record's spans or messages, then judges what it touched against `expect`, the
    /// expectations right after the record.
    pub fn apply(&mut self, record: &Record, expect: &Arc<Expectations>) {
        if self.helper.is_some() {
            // Only records applied to a state built with a thread and then not shared (rare:
            // benchmarks) pay for this copy; the engine shares its records.
            return self.apply_shared(Arc::new(record.clone()), expect);
        }
        let mut store = self.lock();
        store.add(record);
        store.judge(expect);
    }

    /// As [`Journeys::apply`], for a record the caller shares (the engine keeps it in its
    /// timeline too).
    pub fn apply_shared(&mut self, record: Arc<Record>, expect: &Arc<Expectations>) {
        let Some(helper) = &self.helper else { return self.apply(&record, expect) };
        let changed = self.sent.as_ref().is_none_or(|sent| !Arc::ptr_eq(sent, expect));
        helper.send(Input::Record { record, expect: changed.then(|| Arc::clone(expect)) });
        self.sent = Some(Arc::clone(expect));
    }

    /// Brings the list rows up to date with every record applied: waits until the journey
    /// thread has applied what was sent to it and rebuilt the rows that changed (inline,
    /// rebuilds them here, judging against `expect`, the expectations of the last record).
    pub fn sync(&mut self, expect: &Expectations) {
        match &self.helper {
            Some(helper) => {
                helper.send(Input::Refresh);
                helper.sync();
            }
            None => self.lock().refresh(expect),
        }
    }

    /// The store, for reading (and for rebuilding list rows). The journey thread waits while
    /// it is held, so hold it briefly.
    pub fn lock(&self) -> MutexGuard<'_, JourneyStore> {
        helper::lock(&self.store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::{SourceKind, SpanBatch};
    use crate::model::span::SpanKind;
    use crate::testing::span;

    /// A record of `spans` spans, each its own trace (so its own journey).
    fn record(n: u64, spans: u64) -> Record {
        let spans = (0..spans)
            .map(|i| span("orders", "POST /orders", SpanKind::Server).ids(u128::from(n * spans + i + 1), 1).build())
            .collect();
        Record::Spans(SpanBatch { received_unix_nano: 1_700_000_000_000_000_000, source: SourceKind::OtlpGrpc, spans })
    }

    #[test]
    fn a_journey_thread_far_behind_still_applies_everything_in_order() {
        let mut journeys = Journeys::spawn(JourneySettings::default()).unwrap();
        assert!(journeys.threaded());
        let expect = Arc::new(Expectations::default());
        // Four inboxes' worth: the engine side waits for the thread to catch up, repeatedly.
        let records = helper::INBOX_INPUTS as u64 * 4;
        for n in 0..records {
            journeys.apply_shared(Arc::new(record(n, 20)), &expect);
        }
        journeys.sync(&expect);
        let store = journeys.lock();
        assert_eq!(store.list().len() as u64, records * 20);
        // Ids are given in arrival order, so the rows are in the order the records were sent.
        let first_traces: Vec<_> = store.list().iter().take(3).map(|j| j.trace_ids[0]).collect();
        assert_eq!(first_traces, [1, 2, 3].map(crate::testing::trace_id));
    }

    #[test]
    fn disabled_journeys_get_no_thread() {
        let journeys = Journeys::spawn(JourneySettings { enabled: false, ..JourneySettings::default() }).unwrap();
        assert!(!journeys.threaded() && !journeys.enabled());
    }
}
