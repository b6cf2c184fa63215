//! Starts and stops everything below the UI: the async runtime with its sources, and the
//! engine thread. The GUI, `eventlens record` and the tests all run a [`Collector`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::engine::KAFKA_SYSTEM;
use crate::engine::snapshot::{SourceState, SourceStatus};
use crate::engine::{EngineConfig, EngineHandle, EngineSummary, EngineThread, SourceBoard, Waker};
use crate::ingest::browse::BrowseHandle;
use crate::ingest::counters::IngestCounters;
use crate::ingest::kafka::browser::BrowserSource;
use crate::ingest::kafka::otlp_topic::{OtlpTopicConfig, OtlpTopicSource};
use crate::ingest::kafka::{GroupHints, KafkaConfig, KafkaSource};
use crate::ingest::nats::browse::NatsBrowser;
use crate::ingest::nats::{NatsConfig, NatsSource};
use crate::ingest::otlp::{self, OtlpConfig, ReceiverContext};
use crate::ingest::queue::{QueueLimits, record_queue};
use crate::ingest::rabbitmq::{RabbitConfig, RabbitSource};
use crate::model::flow_graph::{EdgeKind, NodeKey};
use crate::model::journey::JourneySettings;
use crate::model::size::MemoryBudget;
use crate::model::size::QUEUED_SPAN_BYTES;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct CollectorConfig {
    /// OTLP receivers, or `None` for `--no-otlp`.
    pub otlp: Option<OtlpConfig>,
    /// Queue limits between sources and engine (its span cap shortened to fit the memory
    /// budget: [`queue_within`]).
    pub queue: QueueLimits,
    /// Record every accepted record to this file.
    pub recording: Option<PathBuf>,
    /// Size and age caps for recordings, and the ring of files.
    pub recording_limits: crate::capture::recorder::RecordingLimits,
    /// How often the engine publishes snapshots (default 100 ms).
    pub publish_interval: Option<Duration>,
    /// Kafka clusters to watch.
    pub kafka: Vec<KafkaConfig>,
    /// A Kafka topic to read OTLP spans from.
    pub otlp_kafka: Option<OtlpTopicConfig>,
    /// NATS servers whose JetStream to watch.
    pub nats: Vec<NatsConfig>,
    /// RabbitMQ brokers whose management API to watch.
    pub rabbitmq: Vec<RabbitConfig>,
    /// Journey assembly and retention.
    pub journeys: crate::model::journey::JourneySettings,
    /// A recorded session to replay (`eventlens open`); the engine then keeps the
    /// session's clock.
    pub open: Option<PathBuf>,
    /// Fields masked before anything is shown or recorded.
    pub redaction: crate::model::redact::Redaction,
    /// Spans the timeline keeps for scrubbing (`None`: the default; 0: no timeline).
    pub timeline_spans: Option<usize>,
    /// What the findings detectors read from payloads, and how much they remember.
    pub findings: crate::model::findings::FindingsSettings,
    /// The memory budget (`None`: a quarter of the machine's memory, at most 4 GiB).
    pub memory_budget: Option<crate::model::size::MemoryBudget>,
}

/// A running collector. Dropping it stops the sources and the engine.
pub struct Collector {
    runtime: Option<tokio::runtime::Runtime>,
    engine: Option<EngineThread>,
    shutdown: CancellationToken,
    /// The bound OTLP/gRPC address, if enabled (useful with port 0).
    pub grpc_addr: Option<SocketAddr>,
    /// The bound OTLP/HTTP address, if enabled.
    pub http_addr: Option<SocketAddr>,
    /// Counters shared with the sources.
    pub counters: Arc<IngestCounters>,
    kafka: Vec<KafkaSource>,
    browsers: Vec<BrowserSource>,
    otlp_kafka: Option<OtlpTopicSource>,
    nats: Vec<NatsSource>,
    nats_browsers: Vec<NatsBrowser>,
    rabbitmq: Vec<RabbitSource>,
    file: Option<std::thread::JoinHandle<()>>,
    file_stop: Option<CancellationToken>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<std::net::TcpListener> {
    if !addr.ip().is_loopback() {
        tracing::warn!("{what} listens on {addr}: reachable from other hosts, as asked");
    }
    let listener = std::net::TcpListener::bind(addr).with_context(|| {
        format!("cannot listen for {what} on {addr} (is another collector running? pick another address)")
    })?;
    listener.set_nonblocking(true).with_context(|| format!("cannot configure {what} listener"))?;
    Ok(listener)
}

impl Collector {
    /// Binds the receivers, starts the engine and the sources.
    pub fn start(config: CollectorConfig, waker: Option<Waker>) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("eventlens-io")
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let counters = Arc::new(IngestCounters::default());
        let budget = config.memory_budget.unwrap_or_else(|| MemoryBudget::default_for(machine_memory()));
        let (sender, receiver) = record_queue(queue_within(config.queue, budget));
        let sources: SourceBoard = Arc::new(Mutex::new(Vec::new()));
        let shutdown = CancellationToken::new();
        let mut grpc_addr = None;
        let mut http_addr = None;

        if let Some(otlp_config) = &config.otlp {
            let ctx = ReceiverContext::new(sender.clone(), Arc::clone(&counters), otlp_config.max_request_bytes);
            let _guard = runtime.enter();
            if let Some(addr) = otlp_config.grpc {
                let listener = tokio::net::TcpListener::from_std(bind(addr, "OTLP/gRPC")?)?;
                let bound = listener.local_addr()?;
                grpc_addr = Some(bound);
                let board = register(&sources, "OTLP gRPC", bound);
                let (ctx, token) = (ctx.clone(), shutdown.clone());
                runtime.spawn(async move {
                    let result = otlp::grpc::serve(listener, ctx, token).await.map_err(|e| e.to_string());
                    report_end(&board, "OTLP gRPC", result);
                });
            }
            if let Some(addr) = otlp_config.http {
                let listener = tokio::net::TcpListener::from_std(bind(addr, "OTLP/HTTP")?)?;
                let bound = listener.local_addr()?;
                http_addr = Some(bound);
                let board = register(&sources, "OTLP HTTP", bound);
                let token = shutdown.clone();
                runtime.spawn(async move {
                    let result = otlp::http::serve(listener, ctx, token).await.map_err(|e| e.to_string());
                    report_end(&board, "OTLP HTTP", result);
                });
            }
        }

        let recording = match &config.recording {
            Some(path) => Some(crate::capture::recorder::Recorder::create(
                path,
                otlp::unix_nanos_now(),
                config.recording_limits.clone(),
            )?),
            None => None,
        };
        let engine = EngineThread::spawn(
            receiver,
            Arc::clone(&counters),
            Arc::clone(&sources),
            EngineConfig {
                publish_interval: config.publish_interval.unwrap_or(Duration::from_millis(100)),
                recording,
                recording_limits: config.recording_limits.clone(),
                waker,
                journeys: JourneySettings { max_bytes: budget.journeys(), ..config.journeys.clone() },
                session_clock: config.open.is_some(),
                redaction: config.redaction.clone(),
                timeline_spans: config.timeline_spans.unwrap_or(crate::engine::playback::DEFAULT_TIMELINE_SPANS),
                findings: config.findings.clone().within_bytes(budget.findings()),
                memory_budget: budget,
            },
        )
        .context("cannot start the engine thread")?;
        let mut kafka = Vec::new();
        let mut browsers = Vec::new();
        for (index, cluster) in config.kafka.iter().enumerate() {
            let mut cluster = cluster.clone();
            // The span topic is read as spans (from the first cluster); its messages are not
            // events to tail.
            if index == 0
                && let Some(spans) = &config.otlp_kafka
            {
                cluster.tail.exclude.push(spans.topic.clone());
            }
            let source =
                KafkaSource::spawn(cluster.clone(), sender.clone(), Arc::clone(&sources), span_groups(&engine))
                    .context("cannot start the Kafka source thread")?;
            kafka.push(source);
            let browser = BrowserSource::spawn(cluster.clone(), sender.clone())
                .context("cannot start the Kafka browser thread")?;
            browsers.push(browser);
        }
        let otlp_kafka = match config.otlp_kafka {
            Some(topic) => {
                let ctx = ReceiverContext::new(sender.clone(), Arc::clone(&counters), usize::MAX);
                let source = OtlpTopicSource::spawn(topic, ctx, Arc::clone(&sources))
                    .context("cannot start the OTLP Kafka reader thread")?;
                Some(source)
            }
            None => None,
        };
        let nats = config
            .nats
            .iter()
            .map(|server| NatsSource::spawn(server.clone(), sender.clone(), Arc::clone(&sources)))
            .collect::<std::io::Result<Vec<_>>>()
            .context("cannot start the NATS source thread")?;
        let nats_browsers = config
            .nats
            .iter()
            .map(|server| NatsBrowser::spawn(server.clone(), sender.clone()))
            .collect::<std::io::Result<Vec<_>>>()
            .context("cannot start the NATS message reader thread")?;
        let rabbitmq = config
            .rabbitmq
            .iter()
            .map(|broker| RabbitSource::spawn(broker.clone(), sender.clone(), Arc::clone(&sources)))
            .collect::<std::io::Result<Vec<_>>>()
            .context("cannot start the RabbitMQ source thread")?;
        // Its own token (a child of the collector's), so the UI can stop the read alone.
        let file_stop = config.open.as_ref().map(|_| shutdown.child_token());
        let file = match (&config.open, &file_stop) {
            (Some(path), Some(stop)) => Some(
                crate::ingest::file::spawn(path.clone(), sender.clone(), Arc::clone(&sources), stop.clone())
                    .context("cannot start the file reader thread")?,
            ),
            _ => None,
        };
        drop(sender);
        Ok(Self {
            file,
            file_stop,
            runtime: Some(runtime),
            engine: Some(engine),
            shutdown,
            grpc_addr,
            http_addr,
            counters,
            kafka,
            browsers,
            otlp_kafka,
            nats,
            nats_browsers,
            rabbitmq,
        })
    }

    /// The message readers, one per watched Kafka cluster and NATS server, for the UI.
    pub fn browsers(&self) -> Vec<BrowseHandle> {
        let kafka = self.browsers.iter().filter_map(BrowserSource::handle);
        kafka.chain(self.nats_browsers.iter().map(NatsBrowser::handle)).collect()
    }

    /// Stops the session file reader early (what was read stays), when one is running.
    pub fn file_stop(&self) -> Option<CancellationToken> {
        self.file_stop.clone()
    }

    /// The engine's handle.
    pub fn engine(&self) -> Option<EngineHandle> {
        self.engine.as_ref().map(EngineThread::handle)
    }

    /// Stops the sources first (so nothing new arrives), then lets the engine drain,
    /// flush the recording and stop.
    pub fn shutdown(mut self) -> EngineSummary {
        self.stop()
    }

    fn stop(&mut self) -> EngineSummary {
        self.shutdown.cancel();
        for source in &mut self.kafka {
            source.stop();
        }
        for browser in &mut self.browsers {
            browser.stop();
        }
        if let Some(source) = &mut self.otlp_kafka {
            source.stop();
        }
        for source in &mut self.nats {
            source.stop();
        }
        for browser in &mut self.nats_browsers {
            browser.stop();
        }
        for source in &mut self.rabbitmq {
            source.stop();
        }
        // Cancelled above; the reader stops at its next record (or when the engine, which it
        // may be waiting on, drains).
        if let Some(file) = self.file.take()
            && file.is_finished()
            && file.join().is_err()
        {
            // Its panic message is on standard error already; say whose it was, once.
            tracing::error!("the session file reader panicked");
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
        self.engine.take().map(EngineThread::shutdown).unwrap_or_default()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if self.engine.is_some() {
            self.stop();
        }
    }
}

/// The fewest spans the queue is shortened to, whatever the budget: a few exporters' batches.
const MIN_QUEUED_SPANS: usize = 2_048;

/// The queue's limits within the memory budget. Under overload the queue stays full: with the
/// default cap (200,000 spans) and a 64 MiB budget, `tests/fault_overload.rs`'s process was
/// 397 MiB resident within 30 s, against about 240 MiB with this cap. So its span cap is at
/// most what the queue's share holds ([`MemoryBudget::queue`], a tenth; 64 MiB: 3,276 spans;
/// from about 4 GiB, the default budget's most, the default cap).
pub fn queue_within(limits: QueueLimits, budget: MemoryBudget) -> QueueLimits {
    let spans = budget.queue() / QUEUED_SPAN_BYTES;
    QueueLimits { items: limits.items.min(spans.max(MIN_QUEUED_SPANS)), ..limits }
}

/// Consumer groups that spans name on Kafka topics, read from the engine's latest snapshot.
fn span_groups(engine: &EngineThread) -> GroupHints {
    let handle = engine.handle();
    Arc::new(move || {
        let snapshot = handle.snapshot();
        let mut groups: Vec<String> = snapshot
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::Consumes)
            .filter(|e| {
                matches!(snapshot.node(e.from).map(|n| &n.key),
                    Some(NodeKey::Destination { system, .. }) if system == KAFKA_SYSTEM)
            })
            .flat_map(|e| e.counters.consumer_groups.iter().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    })
}

/// Adds a listening source to the board and returns the board for its end report.
fn register(board: &SourceBoard, name: &str, addr: SocketAddr) -> SourceBoard {
    if let Ok(mut sources) = board.lock() {
        sources.push(SourceStatus { name: name.to_owned(), address: addr.to_string(), state: SourceState::Listening });
    }
    Arc::clone(board)
}

fn report_end(board: &SourceBoard, name: &str, result: Result<(), String>) {
    if let Err(error) = result {
        tracing::error!("{name} stopped: {error}");
        if let Ok(mut sources) = board.lock()
            && let Some(source) = sources.iter_mut().find(|s| s.name == name)
        {
            source.state = SourceState::Failed(error);
        }
    }
}

/// The machine's memory in bytes, when the system says (the default memory budget is a
/// quarter of it).
pub fn machine_memory() -> Option<u64> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let info = rustix::system::sysinfo();
        Some(u64::from(info.mem_unit).saturating_mul(info.totalram as u64))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_holds_at_most_a_tenth_of_the_budget_in_spans() {
        let queue = |bytes: u64| queue_within(QueueLimits::default(), MemoryBudget { bytes }).items;
        assert_eq!(queue(64 << 20), 3_276);
        assert_eq!(queue(1 << 20), MIN_QUEUED_SPANS, "never shorter than a few batches");
        assert_eq!(queue(4 << 30), QueueLimits::default().items, "the default budget's most keeps the default");
        let asked = QueueLimits { records: 16, items: 800 };
        let kept = queue_within(asked, MemoryBudget { bytes: 64 << 20 });
        assert_eq!((kept.records, kept.items), (16, 800), "never longer than asked");
    }
}
