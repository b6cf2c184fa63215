//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod kafka;
pub mod nats;
pub mod rabbitmq;
pub mod resident;
pub mod ui;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eventlens::collector::{Collector, CollectorConfig};
use eventlens::engine::Snapshot;
use eventlens::ingest::otlp::OtlpConfig;

/// Posts an OTLP/protobuf `body` to `url` until the receiver answers (a process started
/// beside the test needs a moment to listen), and checks it was taken.
pub fn post_when_ready(url: &str, body: Vec<u8>) {
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.post(url).header("content-type", "application/x-protobuf").body(body.clone()).send() {
            Ok(r) => {
                assert_eq!(r.status().as_u16(), 200);
                return;
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("receiver never came up: {e}"),
        }
    }
}

/// Posts spans to the collector's OTLP/HTTP receiver as protobuf and checks they were taken.
pub fn post_spans(collector: &Collector, spans: &[eventlens::model::span::Span]) {
    use prost::Message;
    let refs: Vec<&eventlens::model::span::Span> = spans.iter().collect();
    let url = format!("http://{}/v1/traces", collector.http_addr.expect("http receiver"));
    let response = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(eventlens::export::journey::otlp_request(&refs).encode_to_vec())
        .send()
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
}

/// A collector on ephemeral loopback ports.
pub fn start_collector(max_request_bytes: usize) -> Collector {
    start_collector_with(CollectorConfig {
        otlp: Some(OtlpConfig { grpc: Some(loopback()), http: Some(loopback()), max_request_bytes }),
        publish_interval: Some(Duration::from_millis(20)),
        ..CollectorConfig::default()
    })
}

/// A collector watching one Kafka cluster, with the OTLP receivers on ephemeral ports when
/// `otlp`, recording to `recording` when given.
pub fn start_kafka_collector(
    kafka: eventlens::ingest::kafka::KafkaConfig,
    otlp: bool,
    recording: Option<std::path::PathBuf>,
) -> Collector {
    start_collector_with(CollectorConfig {
        otlp: otlp.then(|| OtlpConfig { grpc: Some(loopback()), http: Some(loopback()), max_request_bytes: 4 << 20 }),
        publish_interval: Some(Duration::from_millis(20)),
        kafka: vec![kafka],
        recording,
        ..CollectorConfig::default()
    })
}

/// A collector with a given config.
pub fn start_collector_with(config: CollectorConfig) -> Collector {
    Collector::start(config, None).expect("collector starts")
}

/// A collector that opens the session `file` (no receivers), publishing every 20 ms.
pub fn open_session(file: &std::path::Path) -> Collector {
    start_collector_with(CollectorConfig {
        otlp: None,
        open: Some(file.to_owned()),
        publish_interval: Some(Duration::from_millis(20)),
        ..CollectorConfig::default()
    })
}

/// 127.0.0.1 on a port the OS picks.
pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("valid address")
}

/// Waits until `done` holds for the engine's snapshot, or panics with the last one.
pub fn wait_for(collector: &Collector, what: &str, done: impl Fn(&Snapshot) -> bool) -> std::sync::Arc<Snapshot> {
    wait_within(collector, what, Duration::from_secs(15), done)
}

/// As [`wait_for`], with a given deadline: for what involves broker timeouts.
pub fn wait_within(
    collector: &Collector,
    what: &str,
    within: Duration,
    done: impl Fn(&Snapshot) -> bool,
) -> std::sync::Arc<Snapshot> {
    let engine = collector.engine().expect("engine running");
    let deadline = Instant::now() + within;
    loop {
        let snapshot = engine.snapshot();
        if done(&snapshot) {
            return snapshot;
        }
        if Instant::now() > deadline {
            let nodes: Vec<_> = snapshot.nodes.iter().map(|n| (n.id, &n.label)).collect();
            let edges: Vec<_> =
                snapshot.edges.iter().map(|e| (e.from, e.to, e.kind, e.counters.count, &e.lag)).collect();
            let clusters: Vec<_> =
                snapshot.kafka.clusters().iter().map(|(n, c)| (n, &c.connection, &c.list_refused)).collect();
            panic!(
                "timed out waiting for {what}; last snapshot: nodes {nodes:?}\nedges {edges:?}\nsources {:?}\nclusters {clusters:?}",
                snapshot.sources
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A multi-thread runtime for exporters (the OTLP batch processor needs one).
pub fn exporter_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// Three consumer spans of `service` processing from `(system, destination)`, in the
/// consumer group `group` when given, exported by the OpenTelemetry SDK over OTLP/HTTP to
/// the receiver at `otlp_http`, as an instrumented application sends them.
pub fn consumer_spans(otlp_http: SocketAddr, service: &str, (system, destination): (&str, &str), group: Option<&str>) {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span as _, SpanKind, Tracer, TracerProvider as _};
    use opentelemetry_otlp::{SpanExporter, WithExportConfig};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    let exporter =
        SpanExporter::builder().with_http().with_endpoint(format!("http://{otlp_http}/v1/traces")).build().unwrap();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service.to_owned()).build())
        .build();
    let tracer = provider.tracer("eventlens-tests");
    for _ in 0..3 {
        let mut attributes = vec![
            KeyValue::new("messaging.system", system.to_owned()),
            KeyValue::new("messaging.destination.name", destination.to_owned()),
            KeyValue::new("messaging.operation.type", "process"),
        ];
        attributes.extend(group.map(|g| KeyValue::new("messaging.consumer.group.name", g.to_owned())));
        let mut span = tracer
            .span_builder(format!("{destination} process"))
            .with_kind(SpanKind::Consumer)
            .with_attributes(attributes)
            .start(&tracer);
        span.end();
    }
    provider.shutdown().unwrap();
}

/// Waits until the collector's session file has been read; its summary (records read, lines
/// skipped). Panics when the read failed.
pub fn file_read(collector: &Collector) -> String {
    use eventlens::engine::snapshot::SourceState;
    let s = wait_for(collector, "the file read", |s| {
        s.sources.iter().any(|x| matches!(x.state, SourceState::Finished(_) | SourceState::Failed(_)))
    });
    match &s.sources[0].state {
        SourceState::Finished(summary) => summary.clone(),
        other => panic!("not finished: {other:?}"),
    }
}

/// What `eventlens graph FILE --format FORMAT` prints (it must succeed).
pub fn graph_output(file: &std::path::Path, format: &str) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eventlens"))
        .arg("graph")
        .arg(file)
        .args(["--format", format])
        .output()
        .expect("eventlens runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}
