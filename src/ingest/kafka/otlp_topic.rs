//! OTLP through Kafka: reads spans from a topic the OpenTelemetry Collector's kafka exporter
//! writes (one `ExportTraceServiceRequest` per message, encoding `otlp_proto` or
//! `otlp_json`), as EventLens's own consumer group, so a fleet of collectors can feed
//! EventLens and scale out through the topic's partitions.

use std::time::Duration;

use crossbeam_channel::Receiver;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use super::config::KafkaConfig;
use super::context::WatchContext;
use super::poller::client_config;
use super::source_thread::{SourceThread, register, set_state};
use crate::ingest::otlp::{ReceiverContext, Refusal, accept_waiting};
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
    // This is EventLens's own group: it commits its own progress.
    client.set("enable.auto.commit", "true").set("enable.auto.offset.store", "true");
    client.set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer<WatchContext> = match client.create_with_context(WatchContext::default()) {
        Ok(c) => c,
        Err(e) => return set_state(board, name, SourceState::Failed(format!("cannot create a consumer: {e}"))),
    };
    if let Err(e) = consumer.subscribe(&[&config.topic]) {
        return set_state(board, name, SourceState::Failed(format!("cannot subscribe to {}: {e}", config.topic)));
    }
    let mut reading = false;
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
                        tracing::warn!(
                            "{name}: message at partition {} offset {} skipped: {e}",
                            message.partition(),
                            message.offset()
                        );
                        continue;
                    }
                };
                // The topic cannot be asked to resend: wait for room rather than drop spans.
                if accept_waiting(ctx, request, SourceKind::OtlpKafka) == Err(Refusal::ShuttingDown) {
                    return;
                }
            }
        }
    }
}
