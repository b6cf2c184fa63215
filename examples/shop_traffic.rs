//! Sends a small shop's spans to an OTLP endpoint with the OpenTelemetry SDK, so EventLens has
//! something to show: checkout -> orders -> inventory, payments (-> payments -> shipping ->
//! shipments -> notifications), analytics on every topic, a pricing call, some failures.
//!
//! ```sh
//! cargo run --release                                   # EventLens, in one terminal
//! cargo run --example shop_traffic -- --rate 20         # traffic, in another
//! ```

// An example: it may stop on errors with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

struct Args {
    endpoint: String,
    rate: f64,
    duration: Option<Duration>,
}

fn args() -> Args {
    let mut out = Args { endpoint: "http://127.0.0.1:4317".into(), rate: 20.0, duration: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoint" => out.endpoint = value,
            "--rate" => out.rate = value.parse().expect("--rate takes orders per second"),
            "--duration" => out.duration = Some(Duration::from_secs(value.parse().expect("--duration takes seconds"))),
            other => panic!("unknown flag {other}; use --endpoint URL --rate N --duration SECS"),
        }
    }
    out
}

fn provider(endpoint: &str, service: &str) -> SdkTracerProvider {
    let exporter = SpanExporter::builder().with_tonic().with_endpoint(endpoint).build().expect("exporter");
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .with_attribute(KeyValue::new("service.namespace", "shop"))
                .build(),
        )
        .build()
}

fn kafka(topic: &str, operation: &str, partition: u64) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.system", "kafka"),
        KeyValue::new("messaging.destination.name", topic.to_owned()),
        KeyValue::new("messaging.operation.type", operation.to_owned()),
        KeyValue::new("messaging.destination.partition.id", (partition % 3).to_string()),
    ]
}

fn produce(tracer: &SdkTracer, parent: Option<&SpanContext>, topic: &str, order: u64) -> SpanContext {
    let cx = parent.map_or_else(Context::new, |p| Context::new().with_remote_span_context(p.clone()));
    let mut span = tracer
        .span_builder(format!("{topic} send"))
        .with_kind(SpanKind::Producer)
        .with_attributes(
            [kafka(topic, "send", order), vec![KeyValue::new("messaging.kafka.message.key", format!("order-{order}"))]]
                .concat(),
        )
        .start_with_context(tracer, &cx);
    let context = span.span_context().clone();
    span.end();
    context
}

fn consume(
    tracer: &SdkTracer,
    topic: &str,
    group: &str,
    from: &SpanContext,
    order: u64,
    fail: Option<&str>,
) -> SpanContext {
    let mut span = tracer
        .span_builder(format!("{topic} process"))
        .with_kind(SpanKind::Consumer)
        .with_links(vec![Link::with_context(from.clone())])
        .with_attributes(
            [kafka(topic, "process", order), vec![KeyValue::new("messaging.consumer.group.name", group.to_owned())]]
                .concat(),
        )
        .start(tracer);
    std::thread::sleep(Duration::from_micros(300 + order % 7 * 100));
    if let Some(reason) = fail {
        span.record_error(&std::io::Error::other(reason.to_owned()));
        span.set_status(Status::error(reason.to_owned()));
    }
    let context = span.span_context().clone();
    span.end();
    context
}

fn main() {
    let args = args();
    // tonic's channel runs on a tokio runtime; the batch exporters reach it from their threads.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let _entered = runtime.enter();
    let names = ["checkout", "pricing", "inventory", "payments", "shipping", "notifications", "analytics"];
    let providers: Vec<SdkTracerProvider> = names.iter().map(|n| provider(&args.endpoint, n)).collect();
    let t: Vec<SdkTracer> = providers.iter().map(|p| p.tracer("shop")).collect();
    let (checkout, pricing, inventory, payments, shipping, notifications, analytics) =
        (&t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6]);
    eprintln!("sending {} orders/s to {}", args.rate, args.endpoint);
    let started = Instant::now();
    let period = Duration::from_secs_f64(1.0 / args.rate.max(0.1));
    for order in 0u64.. {
        if args.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        // checkout asks pricing synchronously, then publishes the order.
        let mut call = checkout.span_builder("GET /price").with_kind(SpanKind::Client).start(checkout);
        let server_cx = Context::new().with_remote_span_context(call.span_context().clone());
        pricing.span_builder("GET /price").with_kind(SpanKind::Server).start_with_context(pricing, &server_cx).end();
        call.end();
        let placed = produce(checkout, None, "orders", order);

        consume(inventory, "orders", "inventory", &placed, order, None);
        consume(analytics, "orders", "analytics", &placed, order, None);
        let declined = order % 20 == 7;
        let charged = consume(payments, "orders", "payments", &placed, order, declined.then_some("card declined"));
        if !declined {
            let paid = produce(payments, Some(&charged), "payments", order);
            consume(analytics, "payments", "analytics", &paid, order, None);
            let shipped_cx = consume(shipping, "payments", "shipping", &paid, order, None);
            let shipped = produce(shipping, Some(&shipped_cx), "shipments", order);
            consume(
                notifications,
                "shipments",
                "notifications",
                &shipped,
                order,
                (order % 50 == 13).then_some("smtp timeout"),
            );
            consume(analytics, "shipments", "analytics", &shipped, order, None);
        }
        std::thread::sleep(period);
    }
    for p in providers {
        p.shutdown().expect("flush");
    }
}
