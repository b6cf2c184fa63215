//! How the demo's services are instrumented: one OpenTelemetry tracer provider per service
//! (its `service.name`), exporting over OTLP/gRPC to EventLens's own receiver, and the W3C
//! trace context carried in Kafka headers, as the messaging conventions describe.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider};

/// The shop's services, each with its own tracer provider.
pub const SERVICES: &[&str] =
    &["checkout", "pricing", "inventory", "payments", "shipping", "notifications", "analytics"];

/// Spans a service's exporter queues between exports. The queue is allocated whole when the
/// demo starts (about 360 bytes a span), so it is sized to what an export's round trip lets
/// pile up at the demo's highest rate, with room to spare, not beyond: at 65,536 the seven
/// queues held 165 MB of the demo's memory from the first second.
const EXPORT_QUEUE_SPANS: usize = 8_192;

/// A service's tracer and the provider that flushes it.
#[derive(Debug, Clone)]
pub struct ServiceTracer {
    /// The tracer spans are started with.
    pub tracer: SdkTracer,
    /// The service's name.
    pub name: &'static str,
}

/// All services' providers, shut down (flushed) together.
#[derive(Debug)]
pub struct Telemetry {
    providers: Vec<SdkTracerProvider>,
    tracers: HashMap<&'static str, ServiceTracer>,
}

impl Telemetry {
    /// Builds a provider per service exporting to `endpoint` (`http://127.0.0.1:PORT`). Must
    /// run inside the demo's tokio runtime: the gRPC channels belong to it.
    pub fn start(endpoint: &str) -> anyhow::Result<Self> {
        let mut providers = Vec::new();
        let mut tracers = HashMap::new();
        for &name in SERVICES {
            let exporter = SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .with_timeout(Duration::from_secs(5))
                .build()
                .with_context(|| format!("cannot build the span exporter for {name}"))?;
            // Larger queue and batches than the defaults: at thousands of orders a second the
            // default queue (2048 spans) would drop spans between exports.
            let batch = BatchConfigBuilder::default()
                .with_max_queue_size(EXPORT_QUEUE_SPANS)
                .with_max_export_batch_size(2_048)
                .with_scheduled_delay(Duration::from_millis(200))
                .build();
            let processor = BatchSpanProcessor::builder(exporter).with_batch_config(batch).build();
            let provider = SdkTracerProvider::builder()
                .with_span_processor(processor)
                .with_resource(
                    Resource::builder()
                        .with_service_name(name)
                        .with_attribute(KeyValue::new("service.namespace", "shop"))
                        .with_attribute(KeyValue::new("deployment.environment.name", "demo"))
                        .build(),
                )
                .build();
            tracers.insert(name, ServiceTracer { tracer: provider.tracer("eventlens-demo"), name });
            providers.push(provider);
        }
        Ok(Self { providers, tracers })
    }

    /// The tracer of one of [`SERVICES`].
    pub fn tracer(&self, service: &str) -> anyhow::Result<ServiceTracer> {
        self.tracers.get(service).cloned().with_context(|| format!("no tracer for service {service}"))
    }

    /// Exports what is queued and stops the exporters.
    pub fn shutdown(&self) {
        for provider in &self.providers {
            if let Err(e) = provider.shutdown() {
                tracing::debug!("demo span exporter shutdown: {e}");
            }
        }
    }
}

/// The `traceparent` (and `tracestate`) headers for a span.
pub fn inject(span: &SpanContext) -> Vec<(String, String)> {
    let mut carrier: HashMap<String, String> = HashMap::new();
    let cx = Context::new().with_remote_span_context(span.clone());
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    let mut headers: Vec<(String, String)> = carrier.into_iter().collect();
    headers.sort();
    headers
}

/// The span context a message's headers carry, when they carry a valid one.
pub fn extract(headers: &HashMap<String, String>) -> Option<SpanContext> {
    let cx = TraceContextPropagator::new().extract(headers);
    let span = cx.span().span_context().clone();
    span.is_valid().then_some(span)
}

/// The messaging attributes of a Kafka span (OpenTelemetry semantic conventions).
pub fn kafka_attributes(topic: &str, operation: &'static str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.system", "kafka"),
        KeyValue::new("messaging.destination.name", topic.to_owned()),
        KeyValue::new("messaging.operation.type", operation),
        KeyValue::new("messaging.operation.name", operation),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn traceparent_round_trips() {
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let headers = inject(&span);
        assert!(headers.contains(&(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()
        )));
        let back = extract(&headers.into_iter().collect()).unwrap();
        assert_eq!(back.trace_id(), span.trace_id());
        assert_eq!(back.span_id(), span.span_id());
        assert!(extract(&HashMap::new()).is_none());
    }
}
