//! Span builders shared by tests and benchmarks, so each states only what it is about.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1 as otlp;

use crate::model::ids::{SpanId, SpanRef, TraceId};
use crate::model::span::{
    AttrValue, Attribute, Resource, ServiceName, Span, SpanEvent, SpanKind, SpanLink, StatusCode,
};

/// Builds a [`Span`] field by field.
#[derive(Debug, Clone)]
pub struct SpanBuilder {
    span: Span,
}

/// A trace id from a number (tests think in small numbers).
pub fn trace_id(n: u128) -> TraceId {
    TraceId(n.max(1).to_be_bytes())
}

/// A span id from a number.
pub fn span_id(n: u64) -> SpanId {
    SpanId(n.max(1).to_be_bytes())
}

/// Starts a span of `service` named `name` with `kind`, in trace 1, span id 1.
pub fn span(service: &str, name: &str, kind: SpanKind) -> SpanBuilder {
    SpanBuilder {
        span: Span {
            trace_id: trace_id(1),
            span_id: span_id(1),
            parent_span_id: None,
            name: name.to_owned(),
            kind,
            start_unix_nano: 1_700_000_000_000_000_000,
            end_unix_nano: 1_700_000_000_001_000_000,
            status: StatusCode::Unset,
            status_message: String::new(),
            resource: Arc::new(Resource {
                service: ServiceName::new(service),
                attributes: vec![Attribute {
                    key: "service.name".into(),
                    value: AttrValue::StringValue(service.into()),
                }],
            }),
            scope: "eventlens-tests".into(),
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            dropped_attributes_count: 0,
            dropped_events_count: 0,
            dropped_links_count: 0,
            messaging: None,
        },
    }
}

/// A producer span of `service` sending to `system`/`destination`, started at 1 s and lasting
/// 2 ms: the upstream half of most flow tests.
pub fn producer(service: &str, system: &str, destination: &str, trace: u128, id: u64) -> Span {
    span(service, "send", SpanKind::Producer)
        .ids(trace, id)
        .messaging(system, destination, "send")
        .at_ms(1_000, 2)
        .build()
}

/// A consumer span processing from `system`/`destination`, linked to the producer at `to`
/// (trace, span), started 250 ms after [`producer`]'s spans start.
pub fn consumer_linked(service: &str, system: &str, destination: &str, trace: u128, id: u64, to: (u128, u64)) -> Span {
    span(service, "process", SpanKind::Consumer)
        .ids(trace, id)
        .messaging(system, destination, "process")
        .link(to.0, to.1)
        .at_ms(1_250, 5)
        .build()
}

/// `span` with its service in `namespace` (`service.namespace`), for spans the builders
/// above return whole.
pub fn in_namespace(mut span: Span, namespace: &str) -> Span {
    let mut resource = (*span.resource).clone();
    resource.service.namespace = Some(namespace.to_owned());
    resource
        .attributes
        .push(Attribute { key: "service.namespace".into(), value: AttrValue::StringValue(namespace.into()) });
    span.resource = Arc::new(resource);
    span
}

/// A plain one-span fixture.
pub fn span_fixture() -> Span {
    span("svc", "work", SpanKind::Internal).build()
}

impl SpanBuilder {
    /// Puts the service in `namespace` (`service.namespace`).
    pub fn namespace(self, namespace: &str) -> Self {
        Self { span: in_namespace(self.span, namespace) }
    }

    /// Sets trace and span id.
    pub fn ids(mut self, trace: u128, span: u64) -> Self {
        self.span.trace_id = trace_id(trace);
        self.span.span_id = span_id(span);
        self
    }

    /// Sets the parent (same trace).
    pub fn parent(mut self, span: u64) -> Self {
        self.span.parent_span_id = Some(span_id(span));
        self
    }

    /// Adds a link to another span.
    pub fn link(mut self, trace: u128, span: u64) -> Self {
        self.span.links.push(SpanLink {
            target: SpanRef { trace_id: trace_id(trace), span_id: span_id(span) },
            attributes: Vec::new(),
        });
        self
    }

    /// Sets start (Unix ms) and duration (ms).
    pub fn at_ms(mut self, start_ms: u64, duration_ms: u64) -> Self {
        self.span.start_unix_nano = start_ms * 1_000_000;
        self.span.end_unix_nano = (start_ms + duration_ms) * 1_000_000;
        self
    }

    /// Adds a string attribute.
    pub fn attr(mut self, key: &str, value: &str) -> Self {
        self.span.attributes.push(Attribute { key: key.into(), value: AttrValue::StringValue(value.into()) });
        self
    }

    /// Adds an integer attribute.
    pub fn attr_int(mut self, key: &str, value: i64) -> Self {
        self.span.attributes.push(Attribute { key: key.into(), value: AttrValue::IntValue(value) });
        self
    }

    /// Sets `messaging.system`, destination and operation (current attribute names).
    pub fn messaging(self, system: &str, destination: &str, operation: &str) -> Self {
        self.attr("messaging.system", system)
            .attr("messaging.destination.name", destination)
            .attr("messaging.operation.type", operation)
    }

    /// Marks the span failed with an ERROR status.
    pub fn error(mut self, message: &str) -> Self {
        self.span.status = StatusCode::Error;
        self.span.status_message = message.into();
        self
    }

    /// Adds an `exception` event.
    pub fn exception(mut self, message: &str) -> Self {
        self.span.events.push(SpanEvent {
            name: "exception".into(),
            time_unix_nano: self.span.start_unix_nano,
            attributes: vec![Attribute {
                key: "exception.message".into(),
                value: AttrValue::StringValue(message.into()),
            }],
        });
        self
    }

    /// The span, with messaging facts read from its attributes as ingest would.
    pub fn build(mut self) -> Span {
        self.span.derive_messaging();
        self.span
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(value)) }),
        ..Default::default()
    }
}

/// The spans of [`realistic_request`], as the OTLP receivers turn them into the model's (for
/// tests of layers that must not reach into `ingest`).
pub fn realistic_spans(spans: usize, seed: u64) -> Vec<Span> {
    crate::ingest::otlp::convert::convert_request(realistic_request(spans, seed)).spans
}

/// A realistic OTLP export request: `spans` spans from three services of a shop, cycling
/// through producer, consumer (linked to the producer) and HTTP server spans, each with the
/// attributes real instrumentations attach. Used by the ingest benchmarks.
pub fn realistic_request(spans: usize, seed: u64) -> ExportTraceServiceRequest {
    let services = ["checkout", "payments", "shipping"];
    let topics = ["orders", "payments", "shipments"];
    let mut resource_spans = Vec::new();
    for (s, service) in services.iter().enumerate() {
        let mut out = Vec::new();
        // Every service takes every role in turn, against every topic.
        for i in (0..spans).filter(|i| (i / 3) % services.len() == s) {
            let n = seed.wrapping_mul(1_000_003).wrapping_add(i as u64 + 1);
            let trace = ((n as u128) << 64 | 0xabcd).to_be_bytes().to_vec();
            let start = 1_700_000_000_000_000_000 + n * 1_000;
            let topic = topics[(i / 9) % topics.len()];
            let mut span = otlp::Span {
                trace_id: trace.clone(),
                span_id: (n | 1).to_be_bytes().to_vec(),
                name: format!("{topic} process"),
                start_time_unix_nano: start,
                end_time_unix_nano: start + 2_500_000,
                ..Default::default()
            };
            let mut attributes = vec![
                kv("messaging.system", "kafka"),
                kv("messaging.destination.name", topic),
                kv("messaging.client.id", service),
                kv("messaging.destination.partition.id", &(i % 6).to_string()),
                kv_int("messaging.kafka.offset", i as i64),
                kv("messaging.kafka.message.key", &format!("order-{}", n % 10_000)),
                kv("server.address", "kafka-1.internal"),
                kv_int("server.port", 9092),
            ];
            match i % 3 {
                0 => {
                    span.kind = 4;
                    span.name = format!("{topic} send");
                    attributes.push(kv("messaging.operation.type", "send"));
                }
                1 => {
                    span.kind = 5;
                    attributes.push(kv("messaging.operation.type", "process"));
                    attributes.push(kv("messaging.consumer.group.name", &format!("{service}-group")));
                    // The span just before, a producer in its own trace.
                    let producer = n.wrapping_sub(1);
                    span.links.push(otlp::span::Link {
                        trace_id: ((producer as u128) << 64 | 0xabcd).to_be_bytes().to_vec(),
                        span_id: (producer | 1).to_be_bytes().to_vec(),
                        ..Default::default()
                    });
                }
                _ => {
                    span.kind = 2;
                    span.name = "POST /orders".into();
                    span.parent_span_id = (n.wrapping_add(7) | 1).to_be_bytes().to_vec();
                    attributes = vec![
                        kv("http.request.method", "POST"),
                        kv("url.path", "/orders"),
                        kv_int("http.response.status_code", if n.is_multiple_of(50) { 500 } else { 200 }),
                        kv("server.address", "checkout.internal"),
                    ];
                    if n.is_multiple_of(50) {
                        span.status = Some(otlp::Status { code: 2, message: "upstream failed".into() });
                    }
                }
            }
            span.attributes = attributes;
            out.push(span);
        }
        resource_spans.push(otlp::ResourceSpans {
            resource: Some(OtlpResource {
                attributes: vec![
                    kv("service.name", service),
                    kv("service.namespace", "shop"),
                    kv("telemetry.sdk.language", "rust"),
                    kv("host.name", "node-7"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![otlp::ScopeSpans {
                scope: Some(InstrumentationScope { name: "shop-instrumentation".into(), ..Default::default() }),
                spans: out,
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    ExportTraceServiceRequest { resource_spans }
}

/// An order whose payment fails and is compensated, each hop its own trace joined by span
/// links (orders -> payments -> payment-failed -> orders -> order-cancelled), plus an unrelated
/// request: two journeys, for journey tests, exports and benchmarks.
pub fn saga_spans() -> Vec<Span> {
    let send = |svc: &str, topic: &str, trace: u128, id: u64, at: u64| {
        span(svc, &format!("{topic} send"), SpanKind::Producer)
            .ids(trace, id)
            .messaging("kafka", topic, "send")
            .at_ms(at, 3)
    };
    let process = |svc: &str, topic: &str, trace: u128, id: u64, at: u64| {
        span(svc, &format!("{topic} process"), SpanKind::Consumer)
            .ids(trace, id)
            .messaging("kafka", topic, "process")
            .attr("messaging.consumer.group.name", svc)
            .at_ms(at, 20)
    };
    vec![
        span("orders", "POST /orders", SpanKind::Server).ids(1, 1).at_ms(1_000, 30).build(),
        send("orders", "orders", 1, 2, 1_010)
            .parent(1)
            .attr("cloudevents.event_type", "OrderPlaced")
            .attr("messaging.kafka.message.key", "order-7")
            .build(),
        process("payments", "orders", 2, 1, 1_200).link(1, 2).error("card declined").build(),
        send("payments", "payment-failed", 2, 2, 1_215).parent(1).build(),
        process("orders", "payment-failed", 3, 1, 1_400).link(2, 2).build(),
        send("orders", "order-cancelled", 3, 2, 1_410).parent(1).build(),
        span("search", "GET /search", SpanKind::Server).ids(9, 1).at_ms(5_000, 40).build(),
    ]
}

/// A generated system of about `nodes` services and topics joined by about `edges` edges, for
/// the flow graph's tests and benchmarks at sizes no demo reaches: producers write to the
/// first half of the topics, a first rank of consumers reads them and writes to the second
/// half, a second rank reads those (five layers, as real pipelines have), with each service
/// owned by one of a few teams (its namespace). The same `seed` gives the same spans.
pub fn generated_flow(nodes: usize, edges: usize, seed: u64) -> Vec<Span> {
    let third = (nodes / 3).max(2);
    let (producers, topics, consumers) = (third, third, nodes.saturating_sub(2 * third).max(2));
    let half = |n: usize| (n / 2).max(1);
    let mut state = seed | 1;
    let mut next = |below: usize| {
        // xorshift64: deterministic and enough to spread edges.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below.max(1) as u64) as usize
    };
    let service = |kind: &str, i: usize| (format!("team-{}", i % 12), format!("{kind}-{i}"));
    let mut out = Vec::new();
    let mut id = 0_u64;
    let mut edge =
        |out: &mut Vec<Span>, (team, writer): (String, String), topic: usize, (rteam, reader): (String, String)| {
            id += 1;
            let trace = u128::from(id);
            let topic = format!("topic-{topic}");
            out.push(in_namespace(producer(&writer, "kafka", &topic, trace, 1), &team));
            out.push(in_namespace(consumer_linked(&reader, "kafka", &topic, trace + (1 << 64), 1, (trace, 1)), &rteam));
        };
    // Every node is used once, then edges are added at random until there are enough (each
    // call adds a write and a read edge, either possibly seen before).
    let (first, second) = (half(topics), topics - half(topics));
    let (readers, relays) = (half(consumers), consumers - half(consumers));
    for i in 0..producers.max(first) {
        edge(&mut out, service("producer", i % producers), i % first, service("relay", i % relays.max(1)));
    }
    for i in 0..relays.max(second).max(readers) {
        let topic = first + i % second.max(1);
        edge(&mut out, service("relay", i % relays.max(1)), topic, service("reader", i % readers));
    }
    while out.len() < edges {
        if next(2) == 0 {
            edge(&mut out, service("producer", next(producers)), next(first), service("relay", next(relays.max(1))));
        } else {
            let topic = first + next(second.max(1));
            edge(&mut out, service("relay", next(relays.max(1))), topic, service("reader", next(readers)));
        }
    }
    out
}
