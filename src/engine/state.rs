//! [`EngineState`]: the models the engine writes and what it keeps beside them. Applying a
//! record (the three ways a caller may hand it over), what journeys are judged against, the
//! journeys' sync and the selected journey's layout, the findings, and a snapshot of it all.
//! Used by the engine thread (its head state, the timeline's checkpoints and the state at
//! the cursor) and directly, without a thread, to replay a file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::broker_snapshot::RabbitIndex;
use super::finding_badges;
use super::findings::Findings;
use super::journeys::Journeys;
use super::snapshot::{Brokers, Snapshot};
use crate::model::findings::{FindingsSettings, FindingsView};
use crate::model::flow_graph::{FlowModel, JoinLimits, NodeKey};
use crate::model::journey::{Expectations, ExpectationsKey, JourneyDetail, JourneyId, JourneySettings, JourneyStore};
use crate::model::kafka::message::KafkaMessage;
use crate::model::kafka::{KafkaEvent, KafkaModel};
use crate::model::nats::{NatsEvent, NatsModel, NatsRecord};
use crate::model::rabbitmq::{RabbitEvent, RabbitModel, RabbitRecord};
use crate::model::record::{Record, SpanBatch};
use crate::model::size::HeapSize;
use crate::model::stats::Stats;

/// Above this many spans, a changing selected journey is laid out at most every
/// [`BIG_JOURNEY_RELAYOUT`].
const BIG_JOURNEY_SPANS: u32 = 10_000;
/// See [`BIG_JOURNEY_SPANS`].
const BIG_JOURNEY_RELAYOUT: Duration = Duration::from_secs(1);

/// The model plus the bookkeeping that only the engine thread touches. Also used directly
/// (without a thread) to build a graph from a file.
#[derive(Debug, Default)]
pub struct EngineState {
    /// The flow model; the engine is its only writer (others read it through
    /// [`EngineState::model`]).
    pub(super) model: FlowModel,
    /// Kafka clusters, their groups and lag (read through [`EngineState::kafka`]).
    pub(super) kafka: KafkaModel,
    /// NATS servers' JetStream streams, consumers and their depth (read through
    /// [`EngineState::nats`]).
    pub(super) nats: NatsModel,
    /// RabbitMQ brokers' exchanges, queues, bindings, consumers and queue depth (read
    /// through [`EngineState::rabbitmq`]).
    pub(super) rabbitmq: RabbitModel,
    /// The RabbitMQ model indexed for snapshots, as of its last change.
    rabbit_index: RabbitIndex,
    /// The failure modes found so far (read through [`EngineState::findings`]).
    findings: Findings,
    /// The findings as last published.
    findings_view: PublishedFindings,
    /// Per-event journeys (read through [`EngineState::journeys`]).
    journeys: Journeys,
    /// What journeys are judged against, as of the last record applied.
    expect: CurrentExpectations,
    /// The Kafka model as last published; cloned again only when it changed.
    kafka_view: Arc<KafkaModel>,
    selected_journey: Option<JourneyId>,
    journey_view: Option<Arc<JourneyDetail>>,
    journey_built: Option<Instant>,
    /// The Kafka model version the layout's "consumed by" was read at.
    journey_kafka: u64,
    spans: Stats,
    last_received_second: u64,
}

/// The findings as last published, and the findings version they were built at.
#[derive(Debug, Default)]
struct PublishedFindings {
    version: u64,
    view: Arc<FindingsView>,
}

/// What journeys are judged against, and the key of the models' state it was read from.
#[derive(Debug, Default)]
struct CurrentExpectations {
    key: ExpectationsKey,
    expectations: Arc<Expectations>,
}

impl EngineState {
    /// An empty state with these journey settings, assembling journeys on the caller's
    /// thread as each record is applied (files, tests).
    pub fn new(journeys: JourneySettings) -> Self {
        Self::with_journeys(Journeys::inline(journeys))
    }

    /// An empty state assembling journeys and running the findings detectors on threads of
    /// their own, beside the models (the live engine; see [`journeys`](super::journeys) and
    /// `findings.rs`).
    pub fn threaded(journeys: JourneySettings, findings: FindingsSettings) -> std::io::Result<Self> {
        Ok(Self { findings: Findings::spawn(findings)?, ..Self::with_journeys(Journeys::spawn(journeys)?) })
    }

    fn with_journeys(journeys: Journeys) -> Self {
        Self { journeys, ..Self::default() }
    }

    /// The same state with these findings settings (before any record is applied), its
    /// detectors on the caller's thread.
    #[must_use]
    pub fn with_findings(mut self, settings: FindingsSettings) -> Self {
        self.findings = Findings::inline(settings);
        self
    }

    /// The journey-less copy the timeline's checkpoints and the state at the cursor are made
    /// of: the flow, Kafka and findings models and the span clock, no journeys.
    pub(super) fn timeline_copy(&self) -> Self {
        Self {
            model: self.model.clone(),
            kafka: self.kafka.clone(),
            nats: self.nats.clone(),
            rabbitmq: self.rabbitmq.clone(),
            findings: self.findings.inline_copy(),
            journeys: Journeys::inline(JourneySettings { enabled: false, ..JourneySettings::default() }),
            spans: self.spans.clone(),
            last_received_second: self.last_received_second,
            ..Self::default()
        }
    }

    /// The bytes a [`EngineState::timeline_copy`] of this state holds, as far as they are
    /// measured: the flow model (its graph and join memories, [`HeapSize`]), the findings
    /// detectors' memories and findings, the Kafka model's clusters (topics, groups and lag
    /// histories) and the span clock. The clusters are shared with the head until the next
    /// change copies them; each copy counts them in full, so the measure errs high.
    pub(super) fn timeline_bytes(&self) -> usize {
        size_of::<Self>()
            + self.model.heap_bytes()
            + self.findings.read(crate::model::findings::FindingsModel::heap_bytes)
            + self.kafka.clusters_heap_bytes()
            + self.nats.heap_bytes()
            + self.rabbitmq.heap_bytes()
            + self.spans.heap_bytes()
    }

    /// What of [`EngineState::timeline_bytes`] `other` holds too: the old generations of the
    /// join and findings memories that two copies taken close together share.
    pub(super) fn timeline_shared_bytes(&self, other: &Self) -> usize {
        self.model.shared_bytes(&other.model)
            + self.findings.read(|mine| other.findings.read(|theirs| mine.shared_bytes(theirs)))
    }

    /// Keeps the message browser within `bytes` (its share of the memory budget).
    pub fn set_message_budget(&mut self, bytes: usize) {
        self.kafka.browser.set_max_bytes(bytes);
    }

    /// Bounds each helper thread's inbox (journeys, findings) at `bytes` of waiting records.
    pub fn set_inbox_budget(&mut self, bytes: usize) {
        self.journeys.set_inbox_bytes(bytes);
        self.findings.set_inbox_bytes(bytes);
    }

    /// Keeps the flow graph's nodes and edges within `bytes` (its share of the memory budget;
    /// past it new names fold into overflow nodes). Set before any record is applied, so the
    /// timeline's copies, which start from this state, fold the same names.
    pub fn set_graph_budget(&mut self, bytes: usize) {
        self.model.set_max_bytes(bytes);
    }

    /// Keeps the flow model's join memories within about `bytes` when full
    /// ([`JoinLimits::within`], never above the default limits). Set before any record is
    /// applied, like the graph's budget.
    pub fn set_join_budget(&mut self, bytes: usize) {
        self.model.set_join_limits(JoinLimits::within(bytes));
    }

    /// The flow model, for reading.
    pub fn model(&self) -> &FlowModel {
        &self.model
    }

    /// Kafka clusters, their groups and lag, for reading.
    pub fn kafka(&self) -> &KafkaModel {
        &self.kafka
    }

    /// The watched NATS servers' JetStream, for reading.
    pub fn nats(&self) -> &NatsModel {
        &self.nats
    }

    /// The watched RabbitMQ brokers, for reading.
    pub fn rabbitmq(&self) -> &RabbitModel {
        &self.rabbitmq
    }

    /// The findings so far, worst first (built again only when a finding changed).
    pub fn findings(&mut self) -> Arc<FindingsView> {
        let published = self.findings_view.version;
        let fresh = self.findings.read(|model| {
            (model.version() != published)
                .then(|| PublishedFindings { version: model.version(), view: Arc::new(model.view()) })
        });
        if let Some(fresh) = fresh {
            self.findings_view = fresh;
        }
        Arc::clone(&self.findings_view.view)
    }

    /// The journeys, for reading. With a journey thread they are as of the last
    /// [`EngineState::sync_journeys`] at least; hold the guard briefly.
    pub fn journeys(&self) -> std::sync::MutexGuard<'_, JourneyStore> {
        self.journeys.lock()
    }

    /// Applies one record (copying the messages the browser keeps; see
    /// [`EngineState::apply_owned`]).
    pub fn apply(&mut self, record: &Record) {
        self.apply_to_models(record, None);
        if !self.journeys.enabled() {
            return;
        }
        let expect = self.expectations();
        self.journeys.apply(record, &expect);
    }

    /// Applies a record the caller shares (the engine keeps it in its timeline): a journey
    /// thread takes it without a copy.
    pub fn apply_shared(&mut self, record: Arc<Record>) {
        self.apply_to_models(&record, Some(&record));
        if !self.journeys.enabled() {
            return;
        }
        let expect = self.expectations();
        self.journeys.apply_shared(record, &expect);
    }

    /// Applies a record it may consume: nothing in it is copied (a message batch the browser
    /// keeps is moved behind an `Arc` it shares).
    pub fn apply_owned(&mut self, record: Record) {
        if self.journeys.threaded() || self.findings.threaded() {
            return self.apply_shared(Arc::new(record));
        }
        if !self.journeys.enabled() {
            return self.apply_to_models_owned(record);
        }
        // Added before the messages move; judged after the models took the record in.
        self.journeys.lock().add(&record);
        self.apply_to_models_owned(record);
        let expect = self.expectations();
        self.journeys.lock().judge(&expect);
    }

    fn apply_to_models_owned(&mut self, record: Record) {
        match record {
            Record::Spans(batch) => self.apply_spans(&batch, None),
            // Moved behind an `Arc`, not copied: the browser keeps message batches that way.
            Record::Kafka(_) => self.apply_kafka(&Arc::new(record)),
            Record::Nats(nats) => self.apply_nats(&nats),
            Record::Rabbitmq(rabbitmq) => self.apply_rabbitmq(&rabbitmq),
        }
    }

    /// Applies `record` (`shared` is the same record when the caller shares it: a helper
    /// thread takes it without a copy).
    fn apply_to_models(&mut self, record: &Record, shared: Option<&Arc<Record>>) {
        match record {
            Record::Spans(batch) => self.apply_spans(batch, shared),
            Record::Kafka(_) => match shared {
                Some(shared) => self.apply_kafka(shared),
                // The browser keeps message batches: a record the caller keeps is copied once.
                None => self.apply_kafka(&Arc::new(record.clone())),
            },
            Record::Nats(nats) => self.apply_nats(nats),
            Record::Rabbitmq(rabbitmq) => self.apply_rabbitmq(rabbitmq),
        }
    }

    /// What journeys are judged against right after the record just applied. Journeys the
    /// record touched (and those whose grace period ran out) are judged then: judged later,
    /// at a snapshot, a status would depend on when snapshots happened to be taken, and a
    /// replayed session could differ from the live one. (Their rows are rebuilt at the
    /// snapshot.) Rebuilt only when a consumer or a committed offset may have changed.
    fn expectations(&mut self) -> Arc<Expectations> {
        let key = ExpectationsKey::of(&self.model, &self.kafka);
        if key != self.expect.key {
            self.expect =
                CurrentExpectations { key, expectations: Arc::new(Expectations::of(&self.model, &self.kafka)) };
        }
        Arc::clone(&self.expect.expectations)
    }

    /// Brings the journeys' list rows up to date with the last record applied (waiting for a
    /// journey thread to catch up).
    pub fn sync_journeys(&mut self) {
        if !self.journeys.enabled() {
            return;
        }
        let expect = self.expectations();
        self.journeys.sync(&expect);
    }

    fn apply_spans(&mut self, batch: &SpanBatch, shared: Option<&Arc<Record>>) {
        let second = self.advance_clock(batch.received_unix_nano);
        for span in &batch.spans {
            self.model.apply_span(span, second);
        }
        self.findings.apply_spans(batch, shared);
        self.spans.record(second, batch.spans.len() as u64, false, None);
    }

    /// Lays out `journey` for the waterfall in the next snapshots (or stops doing so).
    pub fn select_journey(&mut self, journey: Option<JourneyId>) {
        if self.selected_journey != journey {
            self.selected_journey = journey;
            self.journey_view = None;
        }
    }

    /// The journey the waterfall shows, if one is selected.
    pub(super) fn selected_journey(&self) -> Option<JourneyId> {
        self.selected_journey
    }

    /// The selected journey's layout, rebuilt when the journey (or what the cluster says
    /// about its messages) changed.
    pub(super) fn journey_detail(&mut self) -> Option<Arc<JourneyDetail>> {
        let id = self.selected_journey?;
        let store = self.journeys.lock();
        let current = store.list().get(id);
        let stale = match (&self.journey_view, current) {
            (Some(view), Some(row)) => {
                view.summary != *row || (!view.messages.is_empty() && self.journey_kafka != self.kafka.version())
            }
            (None, Some(_)) => true,
            (_, None) => {
                self.journey_view = None;
                return None;
            }
        };
        // Laying out a journey of 100k spans takes tens of milliseconds: while a big one keeps
        // changing, it is laid out again at most once a second.
        let throttled = self.journey_view.as_ref().is_some_and(|v| v.summary.spans > BIG_JOURNEY_SPANS)
            && self.journey_built.is_some_and(|t| t.elapsed() < BIG_JOURNEY_RELAYOUT);
        if stale && !throttled {
            self.journey_view = JourneyDetail::build(&store, id, &self.kafka).map(Arc::new);
            self.journey_built = Some(Instant::now());
            self.journey_kafka = self.kafka.version();
        }
        self.journey_view.clone()
    }

    /// Moves the session clock to a record's receive time; returns that time's Unix second.
    fn advance_clock(&mut self, received_unix_nano: u64) -> u64 {
        let second = received_unix_nano / 1_000_000_000;
        self.last_received_second = self.last_received_second.max(second);
        second
    }

    /// Applies a Kafka observation, shared with whoever else keeps it (the timeline): draws
    /// it in the flow graph, hands its messages to the findings with the service that
    /// produced each when the flow model knows it, and hands it to the Kafka model, whose
    /// browser keeps a message batch by sharing the record (the producers beside it).
    fn apply_kafka(&mut self, shared: &Arc<Record>) {
        let Record::Kafka(record) = &**shared else { return };
        let at = record.received_unix_nano;
        self.advance_clock(at);
        let producers = self.producers_of(shared.messages());
        if matches!(record.event, KafkaEvent::Messages(_)) {
            self.findings.apply_messages(shared, producers.as_ref(), at);
        }
        self.model.draw_kafka(record, &self.kafka);
        self.kafka.apply_shared(shared, producers);
        if matches!(record.event, KafkaEvent::Offsets(_)) {
            self.findings.apply_lag(&self.kafka.shared_clusters(), at);
        }
    }

    /// Applies a NATS server's observation: its streams and consumers drawn in the flow
    /// graph, their depths taken into the NATS model.
    fn apply_nats(&mut self, record: &NatsRecord) {
        self.advance_clock(record.received_unix_nano);
        self.model.draw_nats(record);
        self.nats.apply(record);
        match &record.event {
            NatsEvent::Messages(batch) => self.kafka.browsed(batch),
            NatsEvent::JetStream(_) => self.findings.apply_depths(self.nats.depth_rows(), record.received_unix_nano),
            NatsEvent::Connection(_) => {}
        }
    }

    /// Applies a RabbitMQ broker's observation: its exchanges, queues, bindings and
    /// consumers drawn in the flow graph, the queues' depths taken into the RabbitMQ model.
    fn apply_rabbitmq(&mut self, record: &RabbitRecord) {
        self.advance_clock(record.received_unix_nano);
        self.model.draw_rabbitmq(record);
        self.rabbitmq.apply(record);
        if matches!(record.event, RabbitEvent::Management(_)) {
            self.findings.apply_depths(self.rabbitmq.depth_rows(), record.received_unix_nano);
        }
    }

    /// The service that produced each message, by position; `None` when spans name none.
    fn producers_of(&self, messages: &[KafkaMessage]) -> Option<Arc<[Option<String>]>> {
        let producer = |m: &KafkaMessage| m.links.trace.as_ref().and_then(|t| self.model.producer_of(t));
        messages
            .iter()
            .any(|m| producer(m).is_some())
            .then(|| messages.iter().map(|m| producer(m).map(NodeKey::label)).collect())
    }

    /// The newest receive time applied, in Unix seconds; the clock for replays.
    pub fn last_received_second(&self) -> u64 {
        self.last_received_second
    }

    /// A snapshot with rates computed at `now_second`.
    pub fn snapshot(&mut self, now_second: u64) -> Snapshot {
        if self.kafka_view.version() != self.kafka.version() {
            self.kafka_view = Arc::new(self.kafka.clone());
        }
        self.rabbit_index.refresh(&self.rabbitmq);
        let brokers = Brokers::new(&self.nats, &self.rabbit_index);
        let (mut nodes, mut edges) = Snapshot::graph_from_model(&self.model, &self.kafka, &brokers, now_second);
        self.sync_journeys();
        let (journeys, journey_counters) = {
            let store = self.journeys.lock();
            (store.list().clone(), store.counters())
        };
        let findings = self.findings();
        finding_badges::attach(&mut nodes, &mut edges, &findings);
        Snapshot {
            structure_version: self.model.structure_version(),
            now_second,
            nodes,
            edges,
            // Exporters batch every few seconds; a 10 s window shows a steady rate.
            spans_per_second: self.spans.rate(now_second, 10),
            model: self.model.counters(),
            kafka: Arc::clone(&self.kafka_view),
            nats: Arc::clone(self.nats.servers()),
            rabbitmq: Arc::clone(self.rabbitmq.servers()),
            journeys,
            journey_counters,
            journey: self.journey_detail(),
            findings,
            ..Snapshot::default()
        }
    }
}
