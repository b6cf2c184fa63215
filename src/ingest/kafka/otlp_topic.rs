//! OTLP through Kafka: reads spans from a topic the OpenTelemetry Collector's kafka exporter
//! writes (one `ExportTraceServiceRequest` per message, encoding `otlp_proto` or
//! `otlp_json`), as EventLens's own consumer group, so a fleet of collectors can feed
//! EventLens and scale out through the topic's partitions.
//!
//! At least once: the group's offset moves past a message only once the engine's queue took
//! its spans. Offsets are stored by hand after a successful send (`enable.auto.offset.store`
//! off) and committed by librdkafka, every `auto.commit.interval.ms` and when the consumer
//! closes or loses a partition. A message the queue refused (the engine stopped) is never
//! stored, so the group's next reader reads it again; spans may then arrive twice, never
//! not at all.

use std::time::Duration;

use crossbeam_channel::Receiver;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use rdkafka::Offset;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Message};

use super::config::KafkaConfig;
use super::context::WatchContext;
use super::poller::client_config;
use crate::ingest::otlp::{ReceiverContext, Refusal, accept_waiting};
use crate::ingest::source_thread::{SourceThread, register, set_state};
use crate::model::record::SourceKind;
use crate::pipeline::counters::IngestCounters;
use crate::pipeline::sources::{SourceBoard, SourceState};

/// The kafka exporter's default traces topic.
pub const DEFAULT_TOPIC: &str = "otlp_spans";
/// The group EventLens reads the topic as.
pub const DEFAULT_GROUP: &str = "eventlens";

/// How span messages are encoded (the kafka exporter's `encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OtlpEncoding {
    /// Protobuf `ExportTraceServiceRequest` (the exporter's default).
    #[value(name = "otlp_proto")]
    Proto,
    /// OTLP/JSON `ExportTraceServiceRequest`.
    #[value(name = "otlp_json")]
    Json,
}

/// Where to read spans from.
#[derive(Clone, Debug)]
pub struct OtlpTopicConfig {
    /// The cluster.
    pub cluster: KafkaConfig,
    /// The topic.
    pub topic: String,
    /// EventLens's consumer group on it.
    pub group: String,
    /// Message encoding.
    pub encoding: OtlpEncoding,
}

/// Decodes one message into a request, or says why it cannot.
pub fn decode(payload: &[u8], encoding: OtlpEncoding) -> Result<ExportTraceServiceRequest, String> {
    match encoding {
        OtlpEncoding::Proto => {
            ExportTraceServiceRequest::decode(payload).map_err(|e| format!("not OTLP protobuf: {e}"))
        }
        OtlpEncoding::Json => serde_json::from_slice(payload).map_err(|e| format!("not OTLP/JSON: {e}")),
    }
}

/// A running topic reader; dropping it stops the thread.
#[derive(Debug)]
pub struct OtlpTopicSource {
    thread: SourceThread,
}

impl OtlpTopicSource {
    /// Subscribes to the topic and starts reading on a named thread.
    pub fn spawn(config: OtlpTopicConfig, ctx: ReceiverContext, board: SourceBoard) -> std::io::Result<Self> {
        let name = format!("OTLP Kafka {}", config.topic);
        register(&board, &name, &config.cluster.bootstrap);
        let thread = SourceThread::spawn("eventlens-otlp-kafka", move |stop| run(&config, &ctx, &board, &name, &stop))?;
        Ok(Self { thread })
    }

    /// Stops reading and waits for the thread.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}

fn run(config: &OtlpTopicConfig, ctx: &ReceiverContext, board: &SourceBoard, name: &str, stop: &Receiver<()>) {
    let mut client = client_config(&config.cluster, Some(&config.group));
    // This is EventLens's own group: it commits its own progress, but only what the engine
    // took (see the module's doc): offsets are stored after a send, not when polled.
    client.set("enable.auto.commit", "true").set("enable.auto.offset.store", "false");
    client.set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer<WatchContext> = match client.create_with_context(WatchContext::default()) {
        Ok(c) => c,
        Err(e) => return set_state(board, name, SourceState::Failed(format!("cannot create a consumer: {e}"))),
    };
    if let Err(e) = consumer.subscribe(&[&config.topic]) {
        return set_state(board, name, SourceState::Failed(format!("cannot subscribe to {}: {e}", config.topic)));
    }
    let mut reading = false;
    // Undecodable messages: each counted (requests rejected), logged once per interval.
    let mut undecodable = crate::pipeline::repeated::Repeated::default();
    while stop.try_recv().is_err() {
        // Reading once the group gave this consumer partitions, even before a message comes.
        if !reading && consumer.assignment().is_ok_and(|a| a.count() > 0) {
            reading = true;
            set_state(board, name, SourceState::Listening);
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => tracing::debug!("{name}: {e}"),
            Some(Ok(message)) => {
                let request = match decode(message.payload().unwrap_or_default(), config.encoding) {
                    Ok(r) => r,
                    Err(e) => {
                        IngestCounters::add(&ctx.counters.requests_rejected, 1);
                        if let Some(unlogged) = undecodable.occur(std::time::Instant::now()) {
                            tracing::warn!(
                                "{name}: message at partition {} offset {} skipped: {e}{}",
                                message.partition(),
                                message.offset(),
                                crate::pipeline::repeated::Repeated::suffix(unlogged)
                            );
                        }
                        // Counted and done with: reading it again would only skip it again.
                        store(&consumer, &message, name);
                        continue;
                    }
                };
                // The topic cannot be asked to resend: wait for room rather than drop spans.
                match accept_waiting(ctx, request, SourceKind::OtlpKafka) {
                    Ok(_) => store(&consumer, &message, name),
                    // Not stored, so not committed: the group's next reader reads it again.
                    Err(Refusal::ShuttingDown) => return,
                    // Waiting sends are not refused as busy; should one be, the message is
                    // read again rather than passed over.
                    Err(Refusal::Busy) => {
                        if let Err(e) = rewind(&consumer, &message) {
                            let at = format!("offset {} of partition {}", message.offset(), message.partition());
                            let why = format!("stopped: cannot go back to {at}, left for the group's next reader: {e}");
                            return set_state(board, name, SourceState::Failed(why));
                        }
                    }
                }
            }
        }
    }
}

/// Marks a message done, for librdkafka to commit. A failure (the partition was just taken
/// away by a rebalance) loses nothing: the partition's next reader reads the message again.
fn store(consumer: &BaseConsumer<WatchContext>, message: &BorrowedMessage<'_>, name: &str) {
    if let Err(e) = consumer.store_offset_from_message(message) {
        tracing::debug!(
            "{name}: offset {} of partition {} not stored, so it will be read again: {e}",
            message.offset(),
            message.partition()
        );
    }
}

/// Moves the reader back to a message it could not hand on, so it is read again instead of
/// passed over.
fn rewind(consumer: &BaseConsumer<WatchContext>, message: &BorrowedMessage<'_>) -> KafkaResult<()> {
    consumer.seek(message.topic(), message.partition(), Offset::Offset(message.offset()), Duration::from_secs(5))
}
