//! Per-span limits through the real receivers: a span with 320,000 attributes (OTLP/HTTP)
//! and one with 100,000 links (OTLP/gRPC), each within the default 4 MiB request limit, are
//! accepted, reach the engine with 128 of each kept and the rest counted on the span, and
//! are recorded with their counts.

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use eventlens::collector::CollectorConfig;
use eventlens::ingest::otlp::convert::{MAX_SPAN_ATTRIBUTES, MAX_SPAN_LINKS};
use eventlens::ingest::otlp::{DEFAULT_MAX_REQUEST_BYTES, OtlpConfig};
use eventlens::model::record::Record;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;

fn attribute(key: String, value: any_value::Value) -> KeyValue {
    KeyValue { key, value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: &str) -> KeyValue {
    attribute(key.to_owned(), any_value::Value::StringValue(value.to_owned()))
}

/// A consumer span of `payments` processing `orders`, with span id `id`.
fn process_span(id: u64) -> Span {
    Span {
        trace_id: (0xfeed_u128 << 64 | u128::from(id)).to_be_bytes().to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        name: "orders process".into(),
        kind: span::SpanKind::Consumer as i32,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_002_000_000,
        attributes: vec![
            text("messaging.system", "kafka"),
            text("messaging.destination.name", "orders"),
            text("messaging.operation.type", "process"),
            text("messaging.consumer.group.name", "payments"),
        ],
        ..Default::default()
    }
}

fn request(span: Span) -> ExportTraceServiceRequest {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "payments")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
            ..Default::default()
        }],
    };
    assert!(request.encoded_len() < DEFAULT_MAX_REQUEST_BYTES, "{} bytes", request.encoded_len());
    request
}

#[test]
fn spans_with_320000_attributes_or_100000_links_keep_128_and_count_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("limits.eventlens");
    let collector = common::start_collector_with(CollectorConfig {
        otlp: Some(OtlpConfig {
            grpc: Some(common::loopback()),
            http: Some(common::loopback()),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        }),
        publish_interval: Some(Duration::from_millis(20)),
        recording: Some(recording.clone()),
        ..CollectorConfig::default()
    });

    let mut wide = process_span(1);
    wide.attributes.extend((0..320_000 - 4).map(|i| attribute(format!("{i:x}"), any_value::Value::BoolValue(true))));
    let response = reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/traces", collector.http_addr.unwrap()))
        .header("content-type", "application/x-protobuf")
        .body(request(wide).encode_to_vec())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let mut linked = process_span(2);
    linked.links = (1..=100_000u64)
        .map(|n| span::Link {
            trace_id: (u128::from(n) << 64 | 1).to_be_bytes().to_vec(),
            span_id: n.to_be_bytes().to_vec(),
            ..Default::default()
        })
        .collect();
    common::exporter_runtime().block_on(async {
        let endpoint = format!("http://{}", collector.grpc_addr.unwrap());
        let mut client = TraceServiceClient::connect(endpoint).await.unwrap();
        let response = client.export(request(linked)).await.unwrap().into_inner();
        assert_eq!(response.partial_success, None);
    });

    let snapshot = common::wait_for(&collector, "both spans applied", |s| s.model.spans == 2);
    assert_eq!(snapshot.ingest.spans_accepted, 2);
    assert!(snapshot.nodes.iter().any(|n| n.label == "kafka/orders"), "the graph is built from them");
    collector.shutdown();

    let capture = eventlens::capture::read_capture(&recording).unwrap();
    let spans: Vec<_> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Spans(batch) => Some(batch.spans.iter()),
            Record::Kafka(_) | Record::Nats(_) | Record::Rabbitmq(_) => None,
        })
        .flatten()
        .collect();
    assert_eq!(spans.len(), 2);
    let wide = spans.iter().find(|s| s.span_id.0 == 1u64.to_be_bytes()).unwrap();
    assert_eq!(wide.attributes.len(), MAX_SPAN_ATTRIBUTES);
    assert_eq!(wide.dropped_attributes_count, 320_000 - 128);
    assert_eq!(wide.messaging.as_ref().and_then(|m| m.destination.as_deref()), Some("orders"));
    let linked = spans.iter().find(|s| s.span_id.0 == 2u64.to_be_bytes()).unwrap();
    assert_eq!(linked.links.len(), MAX_SPAN_LINKS);
    assert_eq!(linked.dropped_links_count, 100_000 - 128);
    assert_eq!((linked.dropped_attributes_count, linked.dropped_events_count), (0, 0));
}
