//! Bad input over real HTTP and gRPC: each gets the protocol's answer, is counted, and the
//! session goes on.

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::Arc;

use eventlens::ingest::counters::IngestCounters;
use eventlens::ingest::otlp::{ReceiverContext, grpc, http};
use eventlens::ingest::queue::{QueueLimits, record_queue};
use eventlens::testing::realistic_request;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use reqwest::blocking::Client;
use tonic::Code;
use tonic_types::StatusExt;

const LIMIT: usize = 64 * 1024;

fn post(
    client: &Client,
    url: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::blocking::Response {
    let mut request = client.post(url).header("content-type", content_type).body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    request.send().expect("request sent")
}

fn status_body(response: reqwest::blocking::Response) -> (u16, tonic_types::Status) {
    let code = response.status().as_u16();
    let is_json = response.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let bytes = response.bytes().expect("body");
    let status = if is_json {
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON status");
        tonic_types::Status {
            code: v["code"].as_i64().expect("code") as i32,
            message: v["message"].as_str().expect("message").to_owned(),
            details: vec![],
        }
    } else {
        tonic_types::Status::decode(bytes).expect("protobuf google.rpc.Status")
    };
    (code, status)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// An OTLP/JSON body with one good span and one whose trace id is 15 bytes.
fn json_with_one_bad_id() -> Vec<u8> {
    serde_json::json!({
        "resourceSpans": [{
            "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "orders" } }] },
            "scopeSpans": [{ "spans": [
                { "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174", "name": "good",
                  "kind": 4, "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": 1544712661000000000u64,
                  "attributes": [
                      { "key": "messaging.system", "value": { "stringValue": "kafka" } },
                      { "key": "messaging.destination.name", "value": { "stringValue": "orders" } } ] },
                { "traceId": "5B8EFFF798038103D269B633813FC6", "spanId": "EEE19B7EC3C1B175", "name": "short id",
                  "kind": 1, "startTimeUnixNano": "1", "endTimeUnixNano": "2" }
            ]}]
        }]
    })
    .to_string()
    .into_bytes()
}

#[test]
fn http_bad_input_matrix() {
    let collector = common::start_collector(LIMIT);
    let url = format!("http://{}/v1/traces", collector.http_addr.expect("http"));
    let client = Client::new();
    let valid = realistic_request(30, 1).encode_to_vec();

    let garbage = post(&client, &url, "application/x-protobuf", None, vec![0xff; 64]);
    let (code, status) = status_body(garbage);
    assert_eq!((code, status.code), (400, 3), "garbage protobuf: {}", status.message);

    let truncated = post(&client, &url, "application/x-protobuf", None, valid[..valid.len() / 2].to_vec());
    assert_eq!(status_body(truncated).0, 400, "truncated protobuf");

    let bad_json = post(&client, &url, "application/json", None, b"{\"resourceSpans\": [".to_vec());
    let (code, status) = status_body(bad_json);
    assert_eq!((code, status.code), (400, 3));
    assert!(status.message.contains("invalid OTLP/JSON"), "{}", status.message);

    let wrong_type = post(&client, &url, "text/plain", None, b"hello".to_vec());
    let (code, status) = status_body(wrong_type);
    assert_eq!(code, 415);
    assert!(status.message.contains("text/plain"), "{}", status.message);

    let oversize = post(&client, &url, "application/x-protobuf", None, vec![0; LIMIT + 1]);
    let (code, status) = status_body(oversize);
    assert_eq!((code, status.code), (413, 8));

    let bad_gzip = post(&client, &url, "application/x-protobuf", Some("gzip"), b"not gzip at all".to_vec());
    let (code, status) = status_body(bad_gzip);
    assert_eq!(code, 400);
    assert!(status.message.contains("gzip"), "{}", status.message);

    let bomb = post(&client, &url, "application/x-protobuf", Some("gzip"), gzip(&vec![0; LIMIT * 4]));
    assert_eq!(status_body(bomb).0, 413, "a small gzip body inflating past the limit");

    let partial = post(&client, &url, "application/json", None, json_with_one_bad_id());
    assert_eq!(partial.status().as_u16(), 200);
    let response: serde_json::Value = serde_json::from_slice(&partial.bytes().expect("body")).expect("JSON response");
    let rejected = &response["partialSuccess"]["rejectedSpans"];
    assert!(*rejected == serde_json::json!(1) || *rejected == serde_json::json!("1"), "{response}");
    assert!(
        response["partialSuccess"]["errorMessage"].as_str().expect("message").contains("trace id must be 16 bytes")
    );

    // The session goes on: a good request after all that is accepted and applied.
    let good = post(&client, &url, "application/x-protobuf", Some("gzip"), gzip(&valid));
    assert_eq!(good.status().as_u16(), 200);
    let response = ExportTraceServiceResponse::decode(good.bytes().expect("body")).expect("protobuf response");
    assert_eq!(response.partial_success, None);

    let snapshot = common::wait_for(&collector, "good spans applied", |s| s.model.spans == 31);
    assert_eq!(snapshot.ingest.requests_rejected, 7);
    assert_eq!(snapshot.ingest.spans_rejected, 1);
    assert_eq!(snapshot.ingest.spans_accepted, 31);
    assert!(snapshot.nodes.iter().any(|n| n.label == "kafka/orders"));
    collector.shutdown();
}

#[test]
fn opentelemetry_proto_example_trace_is_accepted() {
    let collector = common::start_collector(LIMIT);
    let url = format!("http://{}/v1/traces", collector.http_addr.expect("http"));
    let example =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/otlp-example-trace.json")).expect("example");
    let response = post(&Client::new(), &url, "application/json", None, example);
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().expect("body")).expect("json");
    assert!(body.get("partialSuccess").is_none_or(|p| p.is_null()), "{body}");
    let snapshot = common::wait_for(&collector, "example span", |s| s.model.spans == 1);
    assert_eq!(snapshot.nodes.len(), 1);
    assert_eq!(snapshot.nodes[0].label, "my.service");
    collector.shutdown();
}

#[test]
fn grpc_oversize_and_bad_ids() {
    let collector = common::start_collector(LIMIT);
    let endpoint = format!("http://{}", collector.grpc_addr.expect("grpc"));
    let runtime = common::exporter_runtime();
    runtime.block_on(async {
        let mut client = TraceServiceClient::connect(endpoint).await.expect("connect");
        let big = realistic_request(3000, 2);
        assert!(big.encoded_len() > LIMIT);
        let status = client.export(big).await.expect_err("oversize refused");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

        let mut bad = realistic_request(3, 3);
        bad.resource_spans[0].scope_spans[0].spans[0].span_id = vec![1, 2, 3];
        let response = client.export(bad).await.expect("partial success").into_inner();
        let partial = response.partial_success.expect("partial_success set");
        assert_eq!(partial.rejected_spans, 1);
        assert!(partial.error_message.contains("span id must be 8 bytes"), "{}", partial.error_message);

        // The session goes on.
        client.export(realistic_request(6, 4)).await.expect("accepted");
    });
    let snapshot = common::wait_for(&collector, "spans applied", |s| s.model.spans == 8);
    assert_eq!(snapshot.ingest.requests_rejected, 1);
    assert_eq!(snapshot.ingest.spans_rejected, 1);
    collector.shutdown();
}

#[test]
fn grpc_garbage_protobuf_is_rejected() {
    let collector = common::start_collector(LIMIT);
    let endpoint = format!("http://{}", collector.grpc_addr.expect("grpc"));
    let runtime = common::exporter_runtime();
    runtime.block_on(async {
        let channel = tonic::transport::Endpoint::new(endpoint).expect("endpoint").connect().await.expect("connect");
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        );
        let status = grpc
            .unary::<Vec<u8>, Vec<u8>, _>(tonic::Request::new(vec![0xff; 32]), path, raw::RawCodec)
            .await
            .expect_err("garbage refused");
        assert!(matches!(status.code(), Code::Internal | Code::InvalidArgument), "{status:?}");
    });
    let snapshot = common::wait_for(&collector, "rejection counted", |s| s.ingest.requests_rejected == 1);
    assert_eq!(snapshot.model.spans, 0);
    collector.shutdown();
}

/// A queue nobody drains stands in for an engine that is behind: the receivers must say
/// "retry later" rather than buffer.
#[test]
fn full_queue_answers_retry_later() {
    let (sender, _receiver_never_drained) = record_queue(QueueLimits { records: 1, items: 10 });
    let ctx = ReceiverContext::new(sender, Arc::new(IngestCounters::default()), LIMIT);
    let runtime = common::exporter_runtime();
    let counters = Arc::clone(&ctx.counters);
    runtime.block_on(async move {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (http_addr, grpc_addr) =
            (http_listener.local_addr().expect("addr"), grpc_listener.local_addr().expect("addr"));
        tokio::spawn(http::serve(http_listener, ctx.clone(), shutdown.clone()));
        tokio::spawn(grpc::serve(grpc_listener, ctx, shutdown.clone()));

        let body = realistic_request(6, 5).encode_to_vec();
        let url = format!("http://{http_addr}/v1/traces");
        let (first, second) = tokio::task::spawn_blocking(move || {
            let client = Client::new();
            let first = post(&client, &url, "application/x-protobuf", None, body.clone()).status().as_u16();
            let second = post(&client, &url, "application/x-protobuf", None, body);
            (first, second)
        })
        .await
        .expect("requests");
        assert_eq!(first, 200);
        assert_eq!(second.status().as_u16(), 503);
        assert_eq!(second.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));

        let mut client = TraceServiceClient::connect(format!("http://{grpc_addr}")).await.expect("connect");
        let status = client.export(realistic_request(6, 6)).await.expect_err("busy");
        assert_eq!(status.code(), Code::Unavailable);
        let retry = status.get_details_retry_info().expect("RetryInfo detail");
        assert_eq!(retry.retry_delay, Some(std::time::Duration::from_secs(1)));
        shutdown.cancel();
    });
    let totals = counters.read();
    assert_eq!(totals.spans_accepted, 6);
    // Refused before their bodies were read (the queue was full): nothing decoded, nothing
    // dropped, both refusals counted.
    assert_eq!((totals.spans_dropped, totals.requests_refused), (0, 2));
}

mod raw {
    //! A pass-through codec, to put arbitrary bytes on the wire as a gRPC message.
    use bytes::{Buf, BufMut};
    use tonic::Status;
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

    pub struct RawCodec;
    pub struct RawEncoder;
    pub struct RawDecoder;

    impl Codec for RawCodec {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = RawEncoder;
        type Decoder = RawDecoder;
        fn encoder(&mut self) -> RawEncoder {
            RawEncoder
        }
        fn decoder(&mut self) -> RawDecoder {
            RawDecoder
        }
    }

    impl Encoder for RawEncoder {
        type Item = Vec<u8>;
        type Error = Status;
        fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for RawDecoder {
        type Item = Vec<u8>;
        type Error = Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
            let bytes = src.copy_to_bytes(src.remaining());
            Ok(Some(bytes.to_vec()))
        }
    }
}
