//! Findings: EventLens names the failure modes of event-driven systems on its own.
//!
//! Each detector is pure model logic fed by the records the engine applies (spans, Kafka
//! messages, lag polls), with bounded state: per-key tables hold at most
//! [`FindingsSettings::max_tracked`] entries each, evict the oldest half at once when full
//! (see [`crate::model::bounded_index`]) and count what they evicted. The rules, with their
//! sources, are in `docs/findings.md`.
//!
//! The model lives in the engine's state beside the flow graph, so checkpoints carry it and
//! findings follow the timeline's cursor like the graph does.

pub mod compensation;
pub mod coupling;
pub mod dead_letter;
pub mod depth;
pub mod finding;
pub mod json_scan;
pub mod lag;
pub mod memory;
pub mod ordering;
pub mod payload;
pub mod processing;
pub mod schema;
pub mod shape;
pub mod table;
#[cfg(test)]
mod testing;

use std::collections::BTreeMap;
use std::sync::Arc;

use smallvec::SmallVec;

pub use finding::{
    Compatibility, Consumer, Evidence, Finding, FindingKind, LagEvidence, Location, MessageRef, Severity, ShapeDiff,
    ShapeField, Unhandled,
};

use crate::model::kafka::ClusterState;
use crate::model::kafka::message::KafkaMessage;
use crate::model::span::Span;

/// Payload fields the ordering detector reads a sequence number from when `--order-field`
/// is not given.
pub const DEFAULT_ORDER_FIELDS: [&str; 3] = ["seq", "sequence", "version"];

/// The most the detectors keep per unit of [`FindingsSettings::max_tracked`], in bytes,
/// every memory full on their worst case (`tests/findings_memory_bound.rs` measures it with a
/// counting allocator): what [`FindingsSettings::within_bytes`] divides a budget by.
pub const TRACKED_BYTES: usize = 700;

/// What the detectors read from payloads, and how much they remember.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingsSettings {
    /// Compute findings at all.
    pub enabled: bool,
    /// A payload field that identifies an event (`--dedup-field`, e.g. `eventId`).
    pub dedup_field: Option<String>,
    /// A payload field that holds the ordering key, when the record key is not it
    /// (`--key-field`).
    pub key_field: Option<String>,
    /// Payload fields holding a sequence number or version, tried in order (`--order-field`).
    pub order_fields: Vec<String>,
    /// The payload field naming the event type (`--event-type-field`, shared with journeys).
    pub event_type_field: String,
    /// Entries each per-key table keeps before evicting the oldest.
    pub max_tracked: usize,
    /// Failed attempts on one message that make it a poison message.
    pub poison_attempts: u32,
}

impl Default for FindingsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            dedup_field: None,
            key_field: None,
            order_fields: DEFAULT_ORDER_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
            event_type_field: "type".to_owned(),
            max_tracked: 50_000,
            poison_attempts: 3,
        }
    }
}

impl FindingsSettings {
    /// These settings with `max_tracked` lowered so the detectors stay within `bytes` (their
    /// share of the memory budget), at [`TRACKED_BYTES`] per unit; never below 1,000.
    pub fn within_bytes(self, bytes: usize) -> Self {
        let max_tracked = self.max_tracked.min((bytes / TRACKED_BYTES).max(1_000));
        Self { max_tracked, ..self }
    }
}

/// Bookkeeping shown beside the findings: what the bounded tables dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FindingsCounters {
    /// Entries the detectors' tables hold now.
    pub tracked: u64,
    /// Entries evicted (the oldest half at once) to stay within the bounds; a finding that
    /// needed one of them may be missed.
    pub evicted: u64,
    /// Findings dropped because a kind already held its maximum.
    pub findings_dropped: u64,
}

/// The findings as the UI and exports see them, sorted worst first.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct FindingsView {
    /// The findings.
    pub findings: Vec<Finding>,
    /// What the bounds dropped.
    pub counters: FindingsCounters,
}

impl FindingsView {
    /// Findings at or above `severity`.
    pub fn at_least(&self, severity: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.severity >= severity)
    }
}

/// Every detector's state.
#[derive(Clone, Debug)]
pub struct FindingsModel {
    settings: Arc<FindingsSettings>,
    /// The payload fields the settings ask for, worked out once.
    fields: Arc<payload::FieldPlan>,
    processing: processing::ProcessingDetector,
    ordering: ordering::OrderingDetector,
    schema: schema::SchemaDetector,
    dead_letter: dead_letter::DeadLetterDetector,
    compensation: compensation::CompensationDetector,
    coupling: coupling::CouplingDetector,
    lag: lag::LagDetector,
    depth: depth::DepthDetector,
    version: u64,
}

impl Default for FindingsModel {
    fn default() -> Self {
        Self::new(FindingsSettings::default())
    }
}

impl FindingsModel {
    /// Empty detectors with these settings.
    pub fn new(settings: FindingsSettings) -> Self {
        let max = settings.max_tracked;
        Self {
            processing: processing::ProcessingDetector::new(max, settings.poison_attempts),
            ordering: ordering::OrderingDetector::new(max),
            schema: schema::SchemaDetector::new(max),
            dead_letter: dead_letter::DeadLetterDetector::new(max),
            compensation: compensation::CompensationDetector::new(max),
            coupling: coupling::CouplingDetector::new(max),
            lag: lag::LagDetector::default(),
            depth: depth::DepthDetector::default(),
            fields: Arc::new(payload::FieldPlan::new(&settings)),
            settings: Arc::new(settings),
            version: 0,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &FindingsSettings {
        &self.settings
    }

    /// Takes in one span received at `at` (Unix nanoseconds).
    pub fn apply_span(&mut self, span: &Span, at: u64) {
        self.apply_spans(std::slice::from_ref(span), at);
    }

    /// Takes in a batch of spans received together at `at` (Unix nanoseconds).
    ///
    /// Coupling reads the batch latest end first: a parent ends after its children, so it
    /// comes first and a child finds its state at once instead of waiting for it in a table.
    /// An exporter sends spans as they end, so a batch is mostly the other way round: read
    /// as it came, more than half of a demo session's spans waited. What coupling finds does
    /// not depend on the order, except that a chain of waiting spans deeper than it resolves
    /// at once, or longer than its table holds, is now cut less often, and that a batch's
    /// traces are kept as examples latest end first. The other detectors read the batch in
    /// its order.
    pub fn apply_spans(&mut self, spans: &[Span], at: u64) {
        if !self.settings.enabled {
            return;
        }
        let mut changed = false;
        for span in latest_end_first(spans) {
            changed |= self.coupling.apply_span(span, at);
        }
        for span in spans {
            changed |= self.apply_span_but_coupling(span, at);
        }
        if changed {
            self.version += 1;
        }
    }

    /// Every detector but coupling takes in `span`; true when a finding changed.
    fn apply_span_but_coupling(&mut self, span: &Span, at: u64) -> bool {
        let mut changed = self.processing.apply_span(span, at);
        changed |= self.ordering.apply_span(span, at);
        changed |= self.compensation.apply_span(span, at);
        changed |= self.dead_letter.apply_span(span, at);
        // A consumer failing on a topic: its process spans only (a failed send is not a
        // consumer that cannot read what the topic now holds).
        if span.is_failure()
            && let Some(m) = &span.messaging
            && m.operation == crate::model::messaging::MessagingOperation::Process
            && let Some(topic) = &m.destination
        {
            self.schema.note_failure(topic, &processing::consumer_of(span, m), span.start_unix_nano);
        }
        changed
    }

    /// Takes in one Kafka message read at `at` (Unix nanoseconds), tailed, sampled or browsed,
    /// its producer unknown.
    pub fn apply_message(&mut self, message: &KafkaMessage, at: u64) {
        self.apply_message_by(message, None, at);
    }

    /// As [`FindingsModel::apply_message`], naming the service that produced the message
    /// (found by its `traceparent` in the flow model, which a helper thread cannot read).
    pub fn apply_message_by(&mut self, message: &KafkaMessage, produced_by: Option<&str>, at: u64) {
        if !self.settings.enabled {
            return;
        }
        let read = payload::ReadPayload::of(message, &self.fields);
        let mut changed = self.dead_letter.apply_message(message, &read, at);
        if message.links.dead_letter.is_none() {
            changed |= self.ordering.apply_message(message, &read, at);
            changed |= self.schema.apply_message(message, &read, produced_by, at);
            changed |= self.processing.apply_message(message, &read, at);
            changed |= self.compensation.apply_message(message, &read, at);
        }
        if changed {
            self.version += 1;
        }
    }

    /// Looks at lag statuses after an offsets poll was applied to the Kafka model (its
    /// `clusters`), at `at`.
    pub fn apply_lag(&mut self, clusters: &BTreeMap<String, ClusterState>, at: u64) {
        if !self.settings.enabled {
            return;
        }
        let mut changed = self.lag.apply(clusters, at, &mut self.processing);
        changed |= self.dead_letter.apply_lag(clusters);
        if changed {
            self.version += 1;
        }
    }

    /// Looks at the depth statuses of RabbitMQ queues and JetStream consumers after a poll
    /// of their broker, received at `at`.
    pub fn apply_depths(&mut self, rows: &[depth::DepthRow], at: u64) {
        if self.settings.enabled && self.depth.apply(rows, at) {
            self.version += 1;
        }
    }

    /// The bytes the detectors hold, as far as they are measured (see [`memory`]): what the
    /// memory budget counts for findings, and for each checkpoint's copy of them.
    pub fn heap_bytes(&self) -> usize {
        self.processing.heap_bytes()
            + self.ordering.heap_bytes()
            + self.dead_letter.heap_bytes()
            + self.compensation.heap_bytes()
            + self.coupling.heap_bytes()
    }

    /// The bytes of [`FindingsModel::heap_bytes`] that `self` shares with `other`: the old
    /// generations of the memories they both hold, when one is a copy of the other or both
    /// are copies taken close together (the timeline's checkpoints).
    pub fn shared_bytes(&self, other: &Self) -> usize {
        self.processing.shared_bytes(&other.processing)
            + self.ordering.shared_bytes(&other.ordering)
            + self.dead_letter.shared_bytes(&other.dead_letter)
            + self.compensation.shared_bytes(&other.compensation)
            + self.coupling.shared_bytes(&other.coupling)
    }

    /// Changes whenever a finding may have changed.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Every finding, worst first.
    pub fn view(&self) -> FindingsView {
        let mut findings = Vec::new();
        self.processing.collect(&mut findings);
        self.ordering.collect(&mut findings);
        self.schema.collect(&mut findings);
        self.dead_letter.collect(&mut findings);
        self.compensation.collect(&mut findings);
        self.coupling.collect(&mut findings);
        self.lag.collect(&mut findings);
        self.depth.collect(&mut findings);
        finding::sort_findings(&mut findings);
        let parts = [
            self.processing.counters(),
            self.ordering.counters(),
            self.schema.counters(),
            self.dead_letter.counters(),
            self.compensation.counters(),
            self.coupling.counters(),
        ];
        let counters = parts.into_iter().fold(FindingsCounters::default(), table::add);
        FindingsView { findings, counters }
    }
}

/// The spans of a batch, the latest end first; spans that end together keep their order. (A
/// batch in strictly rising end order is one run, which the sort reverses at once; equal
/// ends cost it a merge.)
fn latest_end_first(spans: &[Span]) -> SmallVec<[&Span; 64]> {
    let mut order: SmallVec<[&Span; 64]> = spans.iter().collect();
    order.sort_by_key(|span| std::cmp::Reverse(span.end_unix_nano));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::testing::{message, process_span};
    use crate::model::span::SpanKind;

    #[test]
    fn only_failing_consumers_are_named_for_a_schema_change() {
        let mut model = FindingsModel::default();
        let payload = |i: i64, field: &str| format!(r#"{{"type":"OrderPlaced","order_id":"o{i}","{field}":{i}}}"#);
        for i in 0..12 {
            model.apply_message(&message("orders", 0, i, "k", payload(i, "total_cents").as_bytes()), 1);
        }
        for i in 12..15 {
            model.apply_message(&message("orders", 0, i, "k", payload(i, "amount_cents").as_bytes()), 2);
        }
        // After the new shape (message timestamps are 1.7e18 ns plus offset ms): a producer
        // failing to send to the topic, and a consumer failing to read it.
        let late = 1_800_000_000_000_000_000;
        let mut send = crate::testing::span("checkout", "send orders", SpanKind::Producer)
            .messaging("kafka", "orders", "send")
            .error("broker unavailable")
            .build();
        send.start_unix_nano = late;
        model.apply_span(&send, 3);
        let mut read = process_span("payments", "orders", 0, 13, true);
        read.start_unix_nano = late;
        model.apply_span(&read, 3);
        let view = model.view();
        let shape = view.findings.iter().find_map(|f| f.evidence.shape.as_ref()).expect("a schema change");
        assert_eq!(shape.failing_consumers, vec!["payments".to_owned()]);
    }

    #[test]
    fn a_batch_is_coupled_latest_end_first_and_finds_the_call_under_its_consumer() {
        let ending = |mut span: Span, end: u64| {
            span.end_unix_nano = end;
            span
        };
        // As an exporter sends them: the call (ended first), then the consumer, then an
        // unrelated span that ended with the consumer.
        let call = crate::testing::span("payments", "POST /charges", SpanKind::Client)
            .ids(1, 2)
            .parent(1)
            .attr("server.address", "payment-gateway")
            .build();
        let mut process = process_span("payments", "orders", 0, 0, false);
        (process.trace_id, process.span_id) = (crate::testing::trace_id(1), crate::testing::span_id(1));
        let other = crate::testing::span("payments", "GET /health", SpanKind::Server).ids(1, 3).build();
        let batch = [ending(call, 10), ending(process, 20), ending(other, 20)];
        let order: Vec<_> = latest_end_first(&batch).iter().map(|s| s.span_id).collect();
        assert_eq!(order, [1, 3, 2].map(crate::testing::span_id), "latest end first, ties in the batch's order");
        let mut model = FindingsModel::default();
        model.apply_spans(&batch, 1);
        let view = model.view();
        assert!(view.findings.iter().any(|f| f.kind == FindingKind::SyncCoupling), "{:?}", view.findings);
        // A batch that changes nothing leaves the version as it was.
        let version = model.version();
        model.apply_spans(&[crate::testing::span("web", "GET /", SpanKind::Server).ids(9, 9).build()], 2);
        assert_eq!(model.version(), version);
    }
}
