//! What a record costs in memory, estimated from what it carries.
//!
//! The memory budget ([`MemoryBudget`]) is in bytes, and each part that grows with input
//! (the timeline's log, the message browser, journeys, the flow graph) counts what it keeps
//! with these estimates: the size of each value plus the heap bytes of its strings, vectors
//! and payloads. They are estimates (allocator rounding and map overhead are not counted),
//! close enough to keep a part within its share, cheap enough to compute for every record.
//! The graph's nodes, edges and whole model are measured in `model::flow_graph` (its
//! `memory.rs`), with the figures for statistics kept here ([`HISTOGRAM_BYTES`],
//! [`HISTORY_BYTES`]).

use std::mem::size_of;

use super::kafka::message::{CloudEvent, DeadLetterOrigin, KafkaMessage, MessageHeader};
use super::kafka::{KafkaEvent, KafkaRecord};
use super::record::Record;
use super::span::{AttrValue, Attribute, Span};
use super::stats::{HISTORY_POINT_BYTES, HISTORY_SECONDS, SECOND_SAMPLES};

/// Heap bytes a value owns beyond its own size.
pub trait HeapSize {
    /// The estimate.
    fn heap_bytes(&self) -> usize;

    /// Its own size plus what it owns.
    fn total_bytes(&self) -> usize
    where
        Self: Sized,
    {
        size_of::<Self>() + self.heap_bytes()
    }
}

/// Bytes a Kafka observation other than messages (metadata, groups, offsets, a connection
/// change) is counted as: they are few (one per poll) and small next to spans and messages.
const OBSERVATION_BYTES: usize = 4 * 1024;

impl HeapSize for AttrValue {
    fn heap_bytes(&self) -> usize {
        match self {
            Self::StringValue(s) => s.capacity(),
            Self::BytesValue(b) => b.capacity(),
            Self::ArrayValue(values) => values.iter().map(HeapSize::total_bytes).sum(),
            Self::KvlistValue(pairs) => pairs.iter().map(HeapSize::total_bytes).sum(),
            Self::BoolValue(_) | Self::IntValue(_) | Self::DoubleValue(_) => 0,
        }
    }
}

impl HeapSize for Attribute {
    fn heap_bytes(&self) -> usize {
        self.key.capacity() + self.value.heap_bytes()
    }
}

fn attributes(list: &[Attribute]) -> usize {
    list.iter().map(HeapSize::total_bytes).sum()
}

impl HeapSize for Span {
    /// The resource and scope are shared by a request's spans (`Arc`) and not counted here.
    fn heap_bytes(&self) -> usize {
        self.name.capacity()
            + self.status_message.capacity()
            + attributes(&self.attributes)
            + self.events.iter().map(|e| size_of_val(e) + e.name.capacity() + attributes(&e.attributes)).sum::<usize>()
            + self.links.iter().map(|l| size_of_val(l) + attributes(&l.attributes)).sum::<usize>()
    }
}

impl HeapSize for MessageHeader {
    fn heap_bytes(&self) -> usize {
        self.key.capacity() + self.value.as_ref().map_or(0, Vec::capacity)
    }
}

impl HeapSize for KafkaMessage {
    fn heap_bytes(&self) -> usize {
        let text = |t: &Option<String>| t.as_ref().map_or(0, String::capacity);
        self.topic.capacity()
            + self.key.as_ref().map_or(0, Vec::capacity)
            + self.payload.as_ref().map_or(0, Vec::capacity)
            + self.headers.iter().map(HeapSize::total_bytes).sum::<usize>()
            + self.links.cloud_event.as_ref().map_or(0, |c| {
                size_of::<CloudEvent>() + text(&c.id) + text(&c.event_type) + text(&c.source) + text(&c.spec_version)
            })
            + self.links.dead_letter.as_ref().map_or(0, |d| {
                size_of::<DeadLetterOrigin>()
                    + d.topic.capacity()
                    + text(&d.group)
                    + text(&d.exception)
                    + text(&d.message)
            })
    }
}

impl HeapSize for KafkaRecord {
    fn heap_bytes(&self) -> usize {
        self.cluster.capacity()
            + match &self.event {
                KafkaEvent::Messages(batch) => {
                    batch.topic.capacity() + batch.messages.iter().map(HeapSize::total_bytes).sum::<usize>()
                }
                _ => OBSERVATION_BYTES,
            }
    }
}

/// Counters in one latency histogram as [`Stats`](super::stats::Stats) makes it: 1 µs to one hour at two
/// significant digits, which hdrhistogram covers with 26 buckets of 128 counters (a test
/// checks the figure against hdrhistogram). A `Stats` makes it at its first latency.
pub const HISTOGRAM_COUNTERS: usize = 3_328;
/// Bytes of one latency histogram (32-bit counters).
pub const HISTOGRAM_BYTES: usize = HISTOGRAM_COUNTERS * size_of::<u32>();
/// Bytes of the newest second's latency samples, at most.
pub const SAMPLES_BYTES: usize = SECOND_SAMPLES * size_of::<u32>();
/// Bytes of a full per-second history: [`HISTORY_SECONDS`] points, the ring buffer grown to
/// exactly that many.
pub const HISTORY_BYTES: usize = HISTORY_SECONDS * HISTORY_POINT_BYTES;

impl HeapSize for Record {
    fn heap_bytes(&self) -> usize {
        match self {
            Self::Spans(batch) => batch.spans.iter().map(HeapSize::total_bytes).sum(),
            Self::Kafka(k) => k.heap_bytes(),
            Self::Nats(n) => n.heap_bytes(),
            Self::Rabbitmq(r) => r.heap_bytes(),
        }
    }
}

impl HeapSize for crate::model::rabbitmq::RabbitRecord {
    fn heap_bytes(&self) -> usize {
        use crate::model::rabbitmq::{BindingInfo, ConsumerInfo, ExchangeInfo, QueueInfo, RabbitEvent};
        let text = |t: &String| t.capacity();
        self.server.capacity()
            + match &self.event {
                RabbitEvent::Connection(c) => c.message.as_ref().map_or(0, String::capacity),
                RabbitEvent::Management(poll) => {
                    poll.exchanges.capacity() * size_of::<ExchangeInfo>()
                        + poll.exchanges.iter().map(|e| text(&e.vhost) + text(&e.name) + text(&e.kind)).sum::<usize>()
                        + poll.queues.capacity() * size_of::<QueueInfo>()
                        + poll
                            .queues
                            .iter()
                            .map(|q| {
                                text(&q.vhost)
                                    + text(&q.name)
                                    + text(&q.kind)
                                    + q.dead_letter_exchange.as_ref().map_or(0, String::capacity)
                            })
                            .sum::<usize>()
                        + poll.bindings.capacity() * size_of::<BindingInfo>()
                        + poll
                            .bindings
                            .iter()
                            .map(|b| text(&b.vhost) + text(&b.source) + text(&b.destination) + text(&b.routing_key))
                            .sum::<usize>()
                        + poll.consumers.capacity() * size_of::<ConsumerInfo>()
                        + poll
                            .consumers
                            .iter()
                            .map(|c| {
                                text(&c.vhost)
                                    + text(&c.queue)
                                    + text(&c.tag)
                                    + text(&c.connection)
                                    + c.client_name.as_ref().map_or(0, String::capacity)
                            })
                            .sum::<usize>()
                }
            }
    }
}

impl HeapSize for crate::model::nats::NatsRecord {
    fn heap_bytes(&self) -> usize {
        use crate::model::nats::{ConsumerInfo, NatsEvent, StreamInfo};
        let streams = match &self.event {
            NatsEvent::JetStream(poll) => poll.streams.capacity() * size_of::<StreamInfo>(),
            NatsEvent::Connection(c) => c.message.as_ref().map_or(0, String::capacity),
            NatsEvent::Messages(batch) => {
                batch.topic.capacity() + batch.messages.iter().map(HeapSize::total_bytes).sum::<usize>()
            }
        };
        let each = match &self.event {
            NatsEvent::JetStream(poll) => poll
                .streams
                .iter()
                .map(|s| {
                    s.name.capacity()
                        + s.subjects.capacity() * size_of::<String>()
                        + s.subjects.iter().map(String::capacity).sum::<usize>()
                        + s.consumers.capacity() * size_of::<ConsumerInfo>()
                        + s.consumers.iter().map(|c| c.name.capacity()).sum::<usize>()
                })
                .sum(),
            NatsEvent::Connection(_) | NatsEvent::Messages(_) => 0,
        };
        self.server.capacity() + streams + each
    }
}

/// What a span is taken to cost while it waits in a queue (the engine's record queue, a
/// helper's inbox): a converted span with a dozen attributes is estimated at about 1 KB
/// ([`HeapSize`] for [`Span`]), and the allocator rounds up.
pub const QUEUED_SPAN_BYTES: usize = 2 * 1024;

/// The least a helper's inbox holds, whatever the budget: 2,048 waiting spans.
pub const MIN_INBOX_BYTES: usize = 2_048 * QUEUED_SPAN_BYTES;

/// The parts' shares of the budget, in percent. With [`HELPERS`] inboxes and
/// [`REST_PERCENT`] they add up to 100.
const TIMELINE_PERCENT: u64 = 33;
const JOURNEYS_PERCENT: u64 = 26;
const MESSAGES_PERCENT: u64 = 17;
const GRAPH_PERCENT: u64 = 5;
const FINDINGS_PERCENT: u64 = 3;
const QUEUE_PERCENT: u64 = 10;
const INBOX_PERCENT: u64 = 1;
/// The helper threads with an inbox: journeys and findings.
const HELPERS: u64 = 2;
/// Left for what is bounded by counts, and for the state at the timeline's cursor.
const REST_PERCENT: u64 = 4;
const _: () = assert!(
    TIMELINE_PERCENT
        + JOURNEYS_PERCENT
        + MESSAGES_PERCENT
        + GRAPH_PERCENT
        + FINDINGS_PERCENT
        + QUEUE_PERCENT
        + HELPERS * INBOX_PERCENT
        + REST_PERCENT
        == 100,
    "the shares add up to the whole budget"
);

/// The most the default budget takes, whatever the machine has.
pub const MAX_DEFAULT_BUDGET: u64 = 4 * 1024 * 1024 * 1024;
/// The default budget's share of the machine's memory: a quarter.
pub const DEFAULT_BUDGET_DIVISOR: u64 = 4;

/// One budget in bytes over everything that grows with input, and the share each part gets.
///
/// The parts measure what they keep ([`HeapSize`]; journeys their stored spans and
/// messages) and drop their oldest data first when over their share, counting what they
/// dropped. Shares: the timeline 33% (its records and the checkpoints, copies of the models,
/// that let it replay any moment), journeys 26%, the message browser 17%, the flow graph's
/// nodes and edges 5% (past it new names fold into overflow nodes, counted), the findings
/// detectors 3% (their per-key memories shortened to fit). What waits is inside the budget
/// too: the engine's record queue 10% (`collector::queue_within`) and each helper thread's
/// inbox 1% ([`MemoryBudget::helper_inbox`]). The remaining 4% is left for the state at the
/// timeline's cursor (one more copy of the graph and the findings) and the Kafka model,
/// which is bounded by counts rather than bytes. The shares add up to the whole budget (an
/// assertion fails the build otherwise): until 3 December the queue and the inboxes were bounded beside
/// the shares, so the parts could reach 107% of the budget before anything unmeasured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBudget {
    /// The whole budget, in bytes.
    pub bytes: u64,
}

impl MemoryBudget {
    /// The default for a machine with `machine_bytes` of memory (`None` when unknown): a
    /// quarter of it, at most [`MAX_DEFAULT_BUDGET`].
    pub fn default_for(machine_bytes: Option<u64>) -> Self {
        let bytes = machine_bytes.map_or(MAX_DEFAULT_BUDGET, |m| (m / DEFAULT_BUDGET_DIVISOR).min(MAX_DEFAULT_BUDGET));
        Self { bytes }
    }

    /// The timeline's share: its records and its checkpoints together.
    pub fn timeline(&self) -> usize {
        self.share(TIMELINE_PERCENT)
    }

    /// The journeys' share.
    pub fn journeys(&self) -> usize {
        self.share(JOURNEYS_PERCENT)
    }

    /// The message browser's share.
    pub fn messages(&self) -> usize {
        self.share(MESSAGES_PERCENT)
    }

    /// The flow graph's share: its nodes and edges (each counted at what it holds once its
    /// statistics are full), so one copy of it stays small next to the timeline's share,
    /// which holds up to 16 more as checkpoints.
    pub fn graph(&self) -> usize {
        self.share(GRAPH_PERCENT)
    }

    /// What the flow model's join memories may take when full: an eighth of the timeline's
    /// share, not a share of its own. Every checkpoint copies them (their young generations
    /// at least), so under a small budget a copy of a busy state must leave the log room for
    /// several and its records; the defaults (about 42 MB) fit from a budget of about 1 GiB.
    pub fn joins(&self) -> usize {
        self.timeline() / 8
    }

    /// The findings detectors' share: their per-key memories and findings
    /// ([`FindingsSettings::within_bytes`](crate::model::findings::FindingsSettings::within_bytes)).
    pub fn findings(&self) -> usize {
        self.share(FINDINGS_PERCENT)
    }

    /// The engine's record queue: what waits to be applied, spans counted at
    /// [`QUEUED_SPAN_BYTES`] (`collector::queue_within` turns it into a span cap).
    pub fn queue(&self) -> usize {
        self.share(QUEUE_PERCENT)
    }

    /// Each helper thread's inbox (journeys, findings): a hundredth of the budget, at least
    /// [`MIN_INBOX_BYTES`] (a few exporters' batches, so a small budget does not make the
    /// engine wait for its helpers at every record).
    pub fn helper_inbox(&self) -> usize {
        self.share(INBOX_PERCENT).max(MIN_INBOX_BYTES)
    }

    fn share(&self, percent: u64) -> usize {
        usize::try_from(self.bytes / 100 * percent).unwrap_or(usize::MAX)
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self::default_for(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::MessageBatch;
    use crate::model::record::{SourceKind, SpanBatch};
    use crate::model::span::SpanKind;
    use crate::model::stats::Stats;
    use crate::testing::span;

    #[test]
    fn a_record_is_counted_by_what_it_carries() {
        let mut small = span("orders", "send", SpanKind::Producer).build();
        let base = small.total_bytes();
        small.attributes.push(Attribute { key: "payload".into(), value: AttrValue::StringValue("x".repeat(10_000)) });
        assert!(small.total_bytes() >= base + 10_000);
        let spans =
            Record::Spans(SpanBatch { received_unix_nano: 1, source: SourceKind::OtlpGrpc, spans: vec![small] });
        assert!(spans.heap_bytes() >= base + 10_000);

        let message = KafkaMessage {
            topic: "orders".into(),
            partition: 0,
            offset: 1,
            timestamp_ms: None,
            timestamp_type: Default::default(),
            key: None,
            headers: Vec::new(),
            payload: Some(vec![0; 64 * 1024]),
            size: 64 * 1024,
            links: Default::default(),
        };
        let batch = MessageBatch { browse: 1, topic: "orders".into(), messages: vec![message; 3], progress: None };
        let kafka = Record::Kafka(KafkaRecord {
            cluster: "local".into(),
            received_unix_nano: 1,
            event: KafkaEvent::Messages(batch),
        });
        assert!(kafka.heap_bytes() >= 3 * 64 * 1024, "{}", kafka.heap_bytes());
    }

    #[test]
    fn a_histogram_samples_and_a_full_history_are_what_stats_allocates_at_most() {
        // The bounds `Stats` gives its histogram (`stats::LATENCY_MAX_MICROS`, two digits).
        let histogram = hdrhistogram::Histogram::<u32>::new_with_bounds(1, 3_600_000_000, 2).unwrap();
        assert_eq!(histogram.distinct_values(), HISTOGRAM_COUNTERS);
        let mut stats = Stats::default();
        assert_eq!(stats.heap_bytes(), 0, "nothing is allocated before the first record");
        stats.record(1, 1, false, None);
        assert!(stats.heap_bytes() < HISTOGRAM_BYTES, "no histogram without a latency");
        // Busy seconds for longer than the history keeps: everything is at its most.
        for second in 0..2 * HISTORY_SECONDS as u64 {
            for sample in 0..300 {
                stats.record(second, 1, false, Some(1_000 * sample));
            }
        }
        assert_eq!(stats.heap_bytes(), HISTOGRAM_BYTES + SAMPLES_BYTES + HISTORY_BYTES);
    }

    #[test]
    fn the_default_budget_is_a_quarter_of_the_machine_at_most_4_gib() {
        assert_eq!(MemoryBudget::default_for(Some(8 << 30)).bytes, 2 << 30);
        assert_eq!(MemoryBudget::default_for(Some(64 << 30)).bytes, 4 << 30);
        assert_eq!(MemoryBudget::default_for(None).bytes, 4 << 30);
        let budget = MemoryBudget { bytes: 1_000 };
        assert_eq!((budget.timeline(), budget.journeys(), budget.messages(), budget.graph()), (330, 260, 170, 50));
        assert_eq!((budget.findings(), budget.queue()), (30, 100));
        // A helper's inbox: a hundredth, never under a few batches.
        assert_eq!(budget.helper_inbox(), MIN_INBOX_BYTES);
        assert_eq!(MemoryBudget { bytes: 4 << 30 }.helper_inbox(), (4 << 30) / 100);
    }

    #[test]
    fn the_shares_with_what_waits_leave_the_rest_of_the_budget() {
        // The percentages add up to 100 (a compile-time assertion); in bytes, rounding down
        // never gives a part more.
        let budget = MemoryBudget { bytes: 4 << 30 };
        let parts = budget.timeline()
            + budget.journeys()
            + budget.messages()
            + budget.graph()
            + budget.findings()
            + budget.queue()
            + HELPERS as usize * budget.helper_inbox();
        assert!(parts as u64 <= budget.bytes / 100 * (100 - REST_PERCENT), "{parts}");
    }
}
