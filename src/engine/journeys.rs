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

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::model::journey::{Expectations, JourneySettings, JourneyStore};
use crate::model::record::Record;

/// Records waiting for the journey thread, at most; the engine waits when it is this far
/// ahead (each is one export request, at most a few thousand spans).
const INBOX_RECORDS: usize = 64;

/// How long the journey thread applies records before it lets go of the store, so the
/// engine can read it.
const APPLY_BUDGET: Duration = Duration::from_millis(10);

/// How long [`Journeys::sync`] waits for the journey thread.
const SYNC_WAIT: Duration = Duration::from_secs(5);

/// What the engine sends the journey thread.
enum Input {
    /// A record to add, then judge against the expectations (new ones when they changed).
    Record { record: Arc<Record>, expect: Option<Arc<Expectations>> },
    /// Answer once everything sent before it has been applied, after rebuilding the rows of
    /// the journeys that changed when `rows` is set.
    Sync { ack: Sender<()>, rows: bool },
}

/// The session's journeys and where they are assembled.
#[derive(Debug)]
pub struct Journeys {
    /// Whether journeys are assembled at all.
    enabled: bool,
    store: Arc<Mutex<JourneyStore>>,
    worker: Option<Worker>,
}

#[derive(Debug)]
struct Worker {
    inbox: Option<Sender<Input>>,
    thread: Option<JoinHandle<()>>,
    /// The expectations last sent; sent again only when they change.
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
        Self { enabled: settings.enabled, store: Arc::new(Mutex::new(JourneyStore::new(settings))), worker: None }
    }

    /// Journeys assembled on a thread of their own (`eventlens-journeys`). Disabled journeys
    /// need no thread and get none.
    pub fn spawn(settings: JourneySettings) -> std::io::Result<Self> {
        if !settings.enabled {
            return Ok(Self::inline(settings));
        }
        let store = Arc::new(Mutex::new(JourneyStore::new(settings)));
        let (inbox, received) = crossbeam_channel::bounded(INBOX_RECORDS);
        let shared = Arc::clone(&store);
        let thread =
            std::thread::Builder::new().name("eventlens-journeys".into()).spawn(move || run(&shared, &received))?;
        Ok(Self { enabled: true, store, worker: Some(Worker { inbox: Some(inbox), thread: Some(thread), sent: None }) })
    }

    /// Whether journeys are assembled at all (`--no-journeys` turns them off).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether journeys are assembled on their own thread.
    pub fn threaded(&self) -> bool {
        self.worker.is_some()
    }

    /// Adds a record's spans or messages, then judges what it touched against `expect`, the
    /// expectations right after the record.
    pub fn apply(&mut self, record: &Record, expect: &Arc<Expectations>) {
        match &mut self.worker {
            // Only records applied to a state built with a thread and then not shared (rare:
            // benchmarks) pay for this copy; the engine shares its records.
            Some(_) => self.apply_shared(Arc::new(record.clone()), expect),
            None => {
                let mut store = self.lock();
                store.add(record);
                store.judge(expect);
            }
        }
    }

    /// As [`Journeys::apply`], for a record the caller shares (the engine keeps it in its
    /// timeline too).
    pub fn apply_shared(&mut self, record: Arc<Record>, expect: &Arc<Expectations>) {
        let Some(worker) = &mut self.worker else { return self.apply(&record, expect) };
        if worker.inbox.as_ref().is_some_and(Sender::is_full) {
            // Far ahead: wait until the journey thread has worked through the backlog, rather
            // than being woken for each record it takes (two thread switches per record).
            worker.wait(false);
        }
        let changed = worker.sent.as_ref().is_none_or(|sent| !Arc::ptr_eq(sent, expect));
        let input = Input::Record { record, expect: changed.then(|| Arc::clone(expect)) };
        if let Some(inbox) = &worker.inbox
            && inbox.send(input).is_ok()
        {
            worker.sent = Some(Arc::clone(expect));
        } else {
            worker.stopped();
        }
    }

    /// Brings the list rows up to date with every record applied: waits until the journey
    /// thread has applied what was sent to it and rebuilt the rows that changed (inline,
    /// rebuilds them here, judging against `expect`, the expectations of the last record).
    pub fn sync(&mut self, expect: &Expectations) {
        match &mut self.worker {
            Some(worker) => worker.wait(true),
            None => self.lock().refresh(expect),
        }
    }

    /// The store, for reading (and for rebuilding list rows). The journey thread waits while
    /// it is held, so hold it briefly.
    pub fn lock(&self) -> MutexGuard<'_, JourneyStore> {
        // A panic while the store was held leaves it as it was; what it holds is still the
        // best there is to show.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Worker {
    /// Waits until the journey thread has applied everything sent so far (and rebuilt the
    /// changed rows, with `rows`).
    fn wait(&mut self, rows: bool) {
        let Some(inbox) = &self.inbox else { return };
        let (ack, done) = crossbeam_channel::bounded(1);
        if inbox.send(Input::Sync { ack, rows }).is_err() {
            return self.stopped();
        }
        match done.recv_timeout(SYNC_WAIT) {
            Ok(()) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                tracing::warn!("journeys are more than {SYNC_WAIT:?} behind; going on without them");
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => self.stopped(),
        }
    }

    /// The journey thread ended without being asked (a bug): journeys stay as they were.
    fn stopped(&mut self) {
        if self.inbox.take().is_some() {
            tracing::error!("the journey thread stopped; journeys are no longer updated");
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the inbox ends the thread once it has applied what was sent.
        self.inbox = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the journey thread panicked");
        }
    }
}

/// The journey thread: applies records in the order sent, letting go of the store between
/// runs of at most [`APPLY_BUDGET`].
fn run(store: &Mutex<JourneyStore>, inbox: &Receiver<Input>) {
    let mut expect = Arc::new(Expectations::default());
    while let Ok(first) = inbox.recv() {
        let mut guard = store.lock().unwrap_or_else(PoisonError::into_inner);
        let started = Instant::now();
        let mut next = Some(first);
        while let Some(input) = next.take() {
            match input {
                Input::Record { record, expect: changed } => {
                    if let Some(changed) = changed {
                        expect = changed;
                    }
                    guard.add(&record);
                    guard.judge(&expect);
                }
                Input::Sync { ack, rows } => {
                    if rows {
                        guard.refresh(&expect);
                    }
                    // The engine reads the store next: let go of it.
                    let _waiting = ack.send(());
                    break;
                }
            }
            if started.elapsed() < APPLY_BUDGET {
                next = inbox.try_recv().ok();
            }
        }
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
        let records = INBOX_RECORDS as u64 * 4;
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
