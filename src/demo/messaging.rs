//! Kafka glue shared by the demo's services: publishing an event inside a producer span with
//! CloudEvents headers and the trace context, and the received message as the services see
//! it.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::{Span as _, SpanContext, SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, Headers as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::telemetry::{ServiceTracer, inject, kafka_attributes};

/// The CloudEvents `source` of the shop's events.
pub const EVENT_SOURCE: &str = "/demo/shop";

/// An event to publish.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// Destination topic.
    pub topic: &'a str,
    /// Message key (the order id).
    pub key: &'a str,
    /// CloudEvents type, e.g. `OrderPlaced`.
    pub event_type: &'a str,
    /// The payload bytes (JSON, or garbage for a poison message).
    pub payload: Vec<u8>,
    /// More headers (dead-letter provenance).
    pub extra_headers: Vec<(String, Vec<u8>)>,
}

impl<'a> Outgoing<'a> {
    /// An event with a JSON payload and no extra headers.
    pub fn json(topic: &'a str, key: &'a str, event_type: &'a str, payload: &serde_json::Value) -> Self {
        Self { topic, key, event_type, payload: payload.to_string().into_bytes(), extra_headers: Vec::new() }
    }
}

/// A client configuration for the demo's cluster.
pub fn client_config(bootstrap: &str, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap).set("client.id", client_id);
    config
}

/// A service that publishes: its tracer and its own producer (its `client.id` is the
/// service's name, as the broker sees it).
pub struct ServiceClient {
    /// The service's tracer.
    pub tracer: ServiceTracer,
    /// The service's producer.
    pub producer: FutureProducer,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient").field("service", &self.tracer.name).finish_non_exhaustive()
    }
}

impl ServiceClient {
    /// `tracer`'s service with a producer of its own on `bootstrap`.
    pub fn new(bootstrap: &str, tracer: ServiceTracer) -> anyhow::Result<Self> {
        let producer = client_config(bootstrap, tracer.name)
            .set("linger.ms", "5")
            .set("message.timeout.ms", "10000")
            .create()
            .map_err(|e| anyhow::anyhow!("cannot create {}'s producer: {e}", tracer.name))?;
        Ok(Self { tracer, producer })
    }
}

/// Publishes `event` inside a producer span that is a child of `parent`, and returns the
/// producer span's context (the message's creation context).
pub async fn publish(client: &ServiceClient, parent: Option<&SpanContext>, event: Outgoing<'_>) -> SpanContext {
    let (producer, service) = (&client.producer, &client.tracer);
    let cx = parent.map_or_else(Context::new, |p| Context::new().with_remote_span_context(p.clone()));
    let message_id = format!("{}-{}", event.event_type, next_message_number());
    let mut attributes = kafka_attributes(event.topic, "send");
    attributes.push(KeyValue::new("messaging.kafka.message.key", event.key.to_owned()));
    attributes.push(KeyValue::new("messaging.message.id", message_id.clone()));
    attributes.push(KeyValue::new("messaging.client.id", service.name));
    let mut span = service
        .tracer
        .span_builder(format!("send {}", event.topic))
        .with_kind(SpanKind::Producer)
        .with_attributes(attributes)
        .start_with_context(&service.tracer, &cx);
    let context = span.span_context().clone();
    let mut headers = OwnedHeaders::new();
    for (name, value) in inject(&context) {
        headers = headers.insert(Header { key: &name, value: Some(&value) });
    }
    for (name, value) in [
        ("ce_specversion", "1.0"),
        ("ce_type", event.event_type),
        ("ce_source", EVENT_SOURCE),
        ("ce_id", message_id.as_str()),
        ("content-type", "application/json"),
    ] {
        headers = headers.insert(Header { key: name, value: Some(value) });
    }
    for (name, value) in &event.extra_headers {
        headers = headers.insert(Header { key: name, value: Some(value) });
    }
    let record = FutureRecord::to(event.topic).key(event.key).payload(&event.payload).headers(headers);
    match producer.send(record, Duration::from_secs(5)).await {
        Ok(delivery) => {
            span.set_attribute(KeyValue::new("messaging.destination.partition.id", delivery.partition.to_string()));
            span.set_attribute(KeyValue::new("messaging.kafka.offset", delivery.offset));
        }
        Err((error, _message)) => {
            span.set_status(Status::error(format!("delivery failed: {error}")));
        }
    }
    span.end();
    context
}

fn next_message_number() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A message a service received, detached from its consumer.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Topic it was read from.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key, as text.
    pub key: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Text headers by name.
    pub headers: HashMap<String, String>,
}

impl Incoming {
    /// Copies what the services use out of a borrowed message.
    pub fn from_message(message: &impl rdkafka::Message) -> Self {
        let mut headers = HashMap::new();
        if let Some(h) = message.headers() {
            for header in h.iter() {
                if let Some(value) = header.value.and_then(|v| std::str::from_utf8(v).ok()) {
                    headers.insert(header.key.to_owned(), value.to_owned());
                }
            }
        }
        Self {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default(),
            payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            headers,
        }
    }

    /// The CloudEvents type header.
    pub fn event_type(&self) -> &str {
        self.headers.get("ce_type").map_or("", String::as_str)
    }

    /// The payload as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.payload).ok()
    }

    /// The messaging attributes of a span processing this message.
    pub fn process_attributes(&self, group: &'static str) -> Vec<KeyValue> {
        let mut attributes = kafka_attributes(&self.topic, "process");
        attributes.extend([
            KeyValue::new("messaging.consumer.group.name", group),
            KeyValue::new("messaging.destination.partition.id", self.partition.to_string()),
            KeyValue::new("messaging.kafka.offset", self.offset),
            KeyValue::new("messaging.kafka.message.key", self.key.clone()),
        ]);
        if let Some(id) = self.headers.get("ce_id") {
            attributes.push(KeyValue::new("messaging.message.id", id.clone()));
        }
        attributes
    }
}
