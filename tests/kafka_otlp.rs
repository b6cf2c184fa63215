//! OTLP through Kafka: span batches written to a topic the way the OpenTelemetry Collector's
//! kafka exporter writes them (protobuf or JSON, one export request per message) reach the
//! flow graph; a message that is not OTLP is counted and skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use eventlens::collector::CollectorConfig;
use eventlens::engine::snapshot::SourceState;
use eventlens::ingest::kafka::KafkaConfig;
use eventlens::ingest::kafka::otlp_topic::{OtlpEncoding, OtlpTopicConfig};
use eventlens::testing::realistic_request;
use prost::Message;

/// A collector reading spans from `otlp_spans` as the group `eventlens`.
fn topic_reader(bootstrap: String, encoding: OtlpEncoding) -> eventlens::collector::Collector {
    common::start_collector_with(CollectorConfig {
        publish_interval: Some(Duration::from_millis(20)),
        otlp_kafka: Some(OtlpTopicConfig {
            cluster: KafkaConfig::new(bootstrap),
            topic: "otlp_spans".into(),
            group: "eventlens".into(),
            encoding,
        }),
        ..CollectorConfig::default()
    })
}

fn read_topic(
    encoding: OtlpEncoding,
    payloads: Vec<Vec<u8>>,
    spans: u64,
    rejected: u64,
) -> eventlens::ingest::counters::IngestTotals {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("otlp_spans", 1, 1).unwrap();
    common::kafka::produce_bytes(&b, "otlp_spans", &payloads);
    let collector = topic_reader(b, encoding);
    let s = common::wait_for(&collector, "spans from the topic, and rejections", |s| {
        s.model.spans == spans && s.ingest.requests_rejected == rejected
    });
    assert!(s.nodes.iter().any(|n| n.label == "kafka/orders"), "the graph is built from them");
    assert!(s.sources.iter().any(|src| src.name == "OTLP Kafka otlp_spans" && src.state == SourceState::Listening));
    s.ingest
}

#[test]
fn protobuf_span_batches_from_a_topic_build_the_graph_and_garbage_is_counted() {
    let payloads = vec![
        realistic_request(60, 1).encode_to_vec(),
        b"not a protobuf export request \xff\xff".to_vec(),
        realistic_request(30, 2).encode_to_vec(),
    ];
    let ingest = read_topic(OtlpEncoding::Proto, payloads, 90, 1);
    assert_eq!(ingest.spans_accepted, 90);
    assert_eq!(ingest.spans_dropped, 0);
}

#[test]
fn json_span_batches_from_a_topic_build_the_graph() {
    let payloads = vec![serde_json::to_vec(&realistic_request(40, 3)).unwrap(), b"{oops".to_vec()];
    let ingest = read_topic(OtlpEncoding::Json, payloads, 40, 1);
    assert_eq!(ingest.spans_accepted, 40);
}

#[test]
fn an_empty_span_topic_shows_as_read_once_the_group_assigns_it() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("otlp_spans", 2, 1).unwrap();
    let collector = topic_reader(b, OtlpEncoding::Proto);
    common::wait_for(&collector, "the reader to be listening", |s| {
        s.sources.iter().any(|src| src.name == "OTLP Kafka otlp_spans" && src.state == SourceState::Listening)
    });
}
