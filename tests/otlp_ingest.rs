//! Real OpenTelemetry SDK exporters (gRPC, HTTP/protobuf, HTTP/JSON, with and without gzip)
//! send a shop's spans to a running collector; the flow graph must come out exactly.

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use eventlens::engine::Snapshot;
use eventlens::model::flow_graph::{EdgeKind, NodeKind};
use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Compression, Protocol, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc { gzip: bool },
    Http { protocol: Protocol, gzip: bool },
}

fn provider(
    service: &str,
    transport: Transport,
    grpc: std::net::SocketAddr,
    http: std::net::SocketAddr,
) -> SdkTracerProvider {
    let exporter = match transport {
        Transport::Grpc { gzip } => {
            let builder = SpanExporter::builder().with_tonic().with_endpoint(format!("http://{grpc}"));
            let builder = if gzip { builder.with_compression(Compression::Gzip) } else { builder };
            builder.build().expect("grpc exporter")
        }
        Transport::Http { protocol, gzip } => {
            let builder = SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(format!("http://{http}/v1/traces"));
            let builder = if gzip { builder.with_compression(Compression::Gzip) } else { builder };
            builder.build().expect("http exporter")
        }
    };
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service.to_owned()).build())
        .build()
}

fn kafka(destination: &str, operation: &str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.system", "kafka"),
        KeyValue::new("messaging.destination.name", destination.to_owned()),
        KeyValue::new("messaging.operation.type", operation.to_owned()),
    ]
}

/// checkout -> kafka/orders -> payments -> kafka/payments -> shipping (one batch receive),
/// every hop a new trace joined by links; one payment fails; checkout also calls pricing.
fn send_shop(transport: Transport, grpc: std::net::SocketAddr, http: std::net::SocketAddr) {
    let checkout = provider("checkout", transport, grpc, http);
    let payments = provider("payments", transport, grpc, http);
    let shipping = provider("shipping", transport, grpc, http);
    let pricing = provider("pricing", transport, grpc, http);
    let (t_checkout, t_payments, t_shipping, t_pricing) =
        (checkout.tracer("shop"), payments.tracer("shop"), shipping.tracer("shop"), pricing.tracer("shop"));

    let mut payment_contexts: Vec<SpanContext> = Vec::new();
    for order in 0..5 {
        let mut send = t_checkout
            .span_builder("orders send")
            .with_kind(SpanKind::Producer)
            .with_attributes(
                [kafka("orders", "send"), vec![KeyValue::new("messaging.kafka.message.key", format!("order-{order}"))]]
                    .concat(),
            )
            .start(&t_checkout);
        let order_context = send.span_context().clone();
        if order == 0 {
            // A synchronous call next to the events: checkout -> pricing.
            let client_cx = Context::current().with_remote_span_context(order_context.clone());
            let mut client = t_checkout
                .span_builder("GET /price")
                .with_kind(SpanKind::Client)
                .with_attributes(vec![KeyValue::new("http.request.method", "GET")])
                .start_with_context(&t_checkout, &client_cx);
            let server_cx = Context::current().with_remote_span_context(client.span_context().clone());
            let mut server = t_pricing
                .span_builder("GET /price")
                .with_kind(SpanKind::Server)
                .start_with_context(&t_pricing, &server_cx);
            server.end();
            client.end();
        }
        send.end();

        // Payments consumes in a new trace, linked to the order's send span.
        let mut process = t_payments
            .span_builder("orders process")
            .with_kind(SpanKind::Consumer)
            .with_links(vec![Link::with_context(order_context)])
            .with_attributes(
                [
                    kafka("orders", "process"),
                    vec![
                        KeyValue::new("messaging.consumer.group.name", "payments-group"),
                        KeyValue::new("messaging.destination.partition.id", (order % 2).to_string()),
                    ],
                ]
                .concat(),
            )
            .start(&t_payments);
        if order == 4 {
            process.record_error(&std::io::Error::other("card declined"));
            process.set_status(Status::error("card declined"));
        } else {
            let process_cx = Context::current().with_remote_span_context(process.span_context().clone());
            let mut pay = t_payments
                .span_builder("payments send")
                .with_kind(SpanKind::Producer)
                .with_attributes(kafka("payments", "send"))
                .start_with_context(&t_payments, &process_cx);
            payment_contexts.push(pay.span_context().clone());
            pay.end();
        }
        process.end();
    }

    // Shipping receives the four payments in one batch, linked to each.
    let mut receive = t_shipping
        .span_builder("payments receive")
        .with_kind(SpanKind::Consumer)
        .with_links(payment_contexts.into_iter().map(Link::with_context).collect())
        .with_attributes(
            [
                kafka("payments", "receive"),
                vec![
                    KeyValue::new("messaging.batch.message_count", 4_i64),
                    KeyValue::new("messaging.consumer.group.name", "shipping-group"),
                ],
            ]
            .concat(),
        )
        .start(&t_shipping);
    receive.end();

    for provider in [checkout, payments, shipping, pricing] {
        provider.shutdown().expect("exporter flushes");
    }
}

fn node_id(snapshot: &Snapshot, label: &str) -> u32 {
    snapshot.nodes.iter().find(|n| n.label == label).unwrap_or_else(|| panic!("no node {label}")).id
}

fn assert_shop_graph(snapshot: &Snapshot) {
    let mut labels: Vec<(&str, NodeKind)> = snapshot.nodes.iter().map(|n| (n.label.as_str(), n.kind)).collect();
    labels.sort();
    assert_eq!(
        labels,
        vec![
            ("checkout", NodeKind::Service),
            ("kafka/orders", NodeKind::Destination),
            ("kafka/payments", NodeKind::Destination),
            ("payments", NodeKind::Service),
            ("pricing", NodeKind::Service),
            ("shipping", NodeKind::Service),
        ]
    );
    let edge = |from: &str, to: &str| {
        let (from, to) = (node_id(snapshot, from), node_id(snapshot, to));
        snapshot.edges.iter().find(|e| e.from == from && e.to == to)
    };
    let produce_orders = edge("checkout", "kafka/orders").expect("checkout produces orders");
    assert_eq!(
        (produce_orders.kind, produce_orders.counters.count, produce_orders.counters.failures),
        (EdgeKind::Produces, 5, 0)
    );
    let consume_orders = edge("kafka/orders", "payments").expect("payments consumes orders");
    assert_eq!(
        (consume_orders.kind, consume_orders.counters.count, consume_orders.counters.failures),
        (EdgeKind::Consumes, 5, 1)
    );
    assert_eq!(consume_orders.counters.consumer_groups, vec!["payments-group".to_owned()]);
    assert_eq!(consume_orders.counters.partitions, vec!["0".to_owned(), "1".to_owned()]);
    assert!(consume_orders.counters.time_in_topic.is_some(), "links across traces give time in topic");
    let produce_payments = edge("payments", "kafka/payments").expect("payments produces payments");
    assert_eq!(
        (produce_payments.kind, produce_payments.counters.count, produce_payments.counters.failures),
        (EdgeKind::Produces, 4, 0)
    );
    let batch = edge("kafka/payments", "shipping").expect("shipping consumes payments");
    assert_eq!((batch.kind, batch.counters.count, batch.counters.failures), (EdgeKind::Consumes, 4, 0));
    assert_eq!(batch.counters.consumer_groups, vec!["shipping-group".to_owned()]);
    assert!(batch.counters.time_in_topic.is_some());
    let call = edge("checkout", "pricing").expect("checkout calls pricing");
    assert_eq!((call.kind, call.counters.count), (EdgeKind::Calls, 1));
    assert_eq!(snapshot.edges.len(), 5, "no other edges: {:#?}", snapshot.edges);
    // Services that only talk through topics never get a direct edge.
    assert!(edge("checkout", "payments").is_none());
    assert!(edge("payments", "shipping").is_none());
    // The destination counts what was produced into it; failures on the consuming service.
    let orders = snapshot.node(node_id(snapshot, "kafka/orders")).expect("orders node");
    assert_eq!(orders.counters.count, 5);
    let payments = snapshot.node(node_id(snapshot, "payments")).expect("payments node");
    assert_eq!((payments.counters.count, payments.counters.failures), (9, 1), "5 process + 4 send spans, 1 failed");
    assert_eq!(snapshot.ingest.spans_rejected, 0);
    assert_eq!(snapshot.ingest.spans_dropped, 0);
}

/// All spans the shop sends: 5 sends + 5 processes + 4 payment sends + 1 receive + client + server.
const SHOP_SPANS: u64 = 17;

fn run_shop(transport: Transport) {
    let collector = common::start_collector(4 * 1024 * 1024);
    let (grpc, http) = (collector.grpc_addr.expect("grpc"), collector.http_addr.expect("http"));
    let runtime = common::exporter_runtime();
    runtime
        .block_on(async move { tokio::task::spawn_blocking(move || send_shop(transport, grpc, http)).await })
        .expect("exporters ran");
    let snapshot = common::wait_for(&collector, "all shop spans", |s| s.model.spans == SHOP_SPANS);
    assert_shop_graph(&snapshot);
    collector.shutdown();
}

#[test]
fn grpc_exporter_builds_the_shop_graph() {
    run_shop(Transport::Grpc { gzip: false });
}

#[test]
fn grpc_gzip_exporter_builds_the_shop_graph() {
    run_shop(Transport::Grpc { gzip: true });
}

#[test]
fn http_protobuf_gzip_exporter_builds_the_shop_graph() {
    run_shop(Transport::Http { protocol: Protocol::HttpBinary, gzip: true });
}

#[test]
fn http_json_exporter_builds_the_shop_graph() {
    run_shop(Transport::Http { protocol: Protocol::HttpJson, gzip: false });
}
