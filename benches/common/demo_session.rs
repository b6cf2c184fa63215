//! A session the built-in demo records through the real collector, for benchmarks that
//! apply a realistic mix of spans and Kafka records.

use std::sync::Arc;

use eventlens::model::record::Record;

/// Records a demo session: the shop at 100 orders/s for 10 s, through the real collector.
pub fn demo_session() -> Vec<Record> {
    use eventlens::collector::{Collector, CollectorConfig};
    use eventlens::demo::{DemoBroker, DemoControls, DemoServices, Scenario};
    use eventlens::ingest::otlp::{DEFAULT_MAX_REQUEST_BYTES, OtlpConfig};

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("demo.jsonl.zst");
    let broker = DemoBroker::start().expect("mock cluster");
    let collector = Collector::start(
        CollectorConfig {
            otlp: Some(OtlpConfig {
                grpc: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
                http: None,
                max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            }),
            kafka: vec![eventlens::demo::kafka_config(&broker)],
            recording: Some(file.clone()),
            ..CollectorConfig::default()
        },
        None,
    )
    .expect("collector");
    let controls = Arc::new(DemoControls::default());
    controls.set_rate(100.0);
    controls.apply(Scenario::Poison);
    let grpc = collector.grpc_addr.expect("gRPC receiver");
    let services = DemoServices::start(&broker, grpc, controls).expect("demo services");
    std::thread::sleep(std::time::Duration::from_secs(10));
    services.stop();
    std::thread::sleep(std::time::Duration::from_millis(300));
    collector.shutdown();
    eventlens::capture::read_capture(&file).expect("the recording").records
}
