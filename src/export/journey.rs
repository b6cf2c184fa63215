//! A journey as OTLP JSON (one `ExportTraceServiceRequest`, the way the OpenTelemetry
//! Collector's file exporter writes it, so any OTLP tool, and EventLens itself, reads it
//! back), as a Mermaid sequence diagram for design reviews and bug reports, and as a one-line
//! JSON summary for scripts and tests (`eventlens journeys --format summary`).

use std::fmt::Write as _;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1 as otlp;

use crate::model::journey::{JourneyDetail, JourneyStatus, JourneySummary};
use crate::model::messaging::MessagingRole;
use crate::model::span::{AttrValue, Attribute, Resource, Span, SpanKind, StatusCode};

/// The journey's own spans as one OTLP export request, grouped by resource and scope, with
/// the receive/poll spans its consumer spans ran under (batch context: shown in each journey
/// it touches). Spans of batch consumers shown in the waterfall belong to another journey and
/// are left out.
pub fn to_otlp_request(detail: &JourneyDetail) -> ExportTraceServiceRequest {
    let own: Vec<&Span> = detail.rows.iter().filter(|r| !r.borrowed).map(|r| detail.span(r)).collect();
    otlp_request(&own)
}

/// A journey's list row as scripts read it: one JSON object per journey and line (see
/// `docs/journeys.md`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SummaryLine<'a> {
    /// The journey's id (unique in its session).
    pub id: u64,
    /// The traces it holds spans of, as 32 hex digits.
    pub trace_ids: Vec<String>,
    /// The service of its earliest span.
    pub root_service: &'a str,
    /// CloudEvents type, else the payload's type field, else the root span's name.
    pub event_type: &'a str,
    /// The first message key, if any.
    pub key: Option<&'a str>,
    /// Every message key.
    pub keys: Vec<&'a str>,
    /// Services, sorted.
    pub services: Vec<&'a str>,
    /// Destinations, sorted.
    pub topics: Vec<&'a str>,
    /// Deliveries: distinct (destination, consumer) pairs.
    pub hops: u32,
    /// Spans (batch context not counted).
    pub spans: u32,
    /// Kafka messages seen.
    pub messages: u32,
    /// `ok`, `failed`, `in_flight` or `incomplete`.
    pub status: JourneyStatus,
    /// The first failure's message.
    pub error: Option<&'a str>,
    /// Earliest start, RFC 3339 (UTC).
    pub start: String,
    /// Earliest start, Unix ns.
    pub start_unix_nano: u64,
    /// From the earliest start to the latest end, ns.
    pub duration_nanos: u64,
}

impl<'a> SummaryLine<'a> {
    /// The line of a journey's list row.
    pub fn of(row: &'a JourneySummary) -> Self {
        let texts = |items: &'a [Arc<str>]| items.iter().map(|s| &**s).collect::<Vec<&'a str>>();
        let start = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(row.start_unix_nano);
        Self {
            id: row.id.0,
            trace_ids: row.trace_ids.iter().map(|t| t.to_hex()).collect(),
            root_service: &row.root_service,
            event_type: &row.event_type,
            key: row.key(),
            keys: texts(&row.keys),
            services: texts(&row.services),
            topics: texts(&row.topics),
            hops: row.hops,
            spans: row.spans,
            messages: row.messages,
            status: row.status,
            error: row.error.as_deref(),
            start: humantime::format_rfc3339_nanos(start).to_string(),
            start_unix_nano: row.start_unix_nano,
            duration_nanos: row.duration_nanos(),
        }
    }
}

/// A journey's list row as one line of JSON ([`SummaryLine`]).
pub fn to_summary_json(row: &JourneySummary) -> Result<String, serde_json::Error> {
    serde_json::to_string(&SummaryLine::of(row))
}

/// A scope's name and its spans.
type ScopeGroup<'a> = (&'a Arc<str>, Vec<otlp::Span>);

/// Spans as one OTLP export request, grouped by resource and scope.
pub fn otlp_request(spans: &[&Span]) -> ExportTraceServiceRequest {
    let mut groups: Vec<(&Arc<Resource>, Vec<ScopeGroup<'_>>)> = Vec::new();
    for span in spans {
        let at = match groups.iter().position(|(r, _)| Arc::ptr_eq(r, &span.resource) || **r == span.resource) {
            Some(at) => at,
            None => {
                groups.push((&span.resource, Vec::new()));
                groups.len() - 1
            }
        };
        let scopes = &mut groups[at].1;
        match scopes.iter_mut().find(|(s, _)| **s == span.scope) {
            Some((_, list)) => list.push(to_otlp_span(span)),
            None => scopes.push((&span.scope, vec![to_otlp_span(span)])),
        }
    }
    ExportTraceServiceRequest {
        resource_spans: groups
            .into_iter()
            .map(|(resource, scopes)| otlp::ResourceSpans {
                resource: Some(OtlpResource { attributes: to_key_values(&resource.attributes), ..Default::default() }),
                scope_spans: scopes
                    .into_iter()
                    .map(|(scope, spans)| otlp::ScopeSpans {
                        scope: Some(InstrumentationScope { name: scope.to_string(), ..Default::default() }),
                        spans,
                        schema_url: String::new(),
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    }
}

/// The journey as OTLP JSON text (one line).
pub fn to_otlp_json(detail: &JourneyDetail) -> Result<String, serde_json::Error> {
    serde_json::to_string(&to_otlp_request(detail))
}

fn to_otlp_span(span: &Span) -> otlp::Span {
    otlp::Span {
        trace_id: span.trace_id.0.to_vec(),
        span_id: span.span_id.0.to_vec(),
        parent_span_id: span.parent_span_id.map(|p| p.0.to_vec()).unwrap_or_default(),
        name: span.name.clone(),
        kind: span.kind.to_otlp(),
        start_time_unix_nano: span.start_unix_nano,
        end_time_unix_nano: span.end_unix_nano,
        attributes: to_key_values(&span.attributes),
        events: span
            .events
            .iter()
            .map(|e| otlp::span::Event {
                time_unix_nano: e.time_unix_nano,
                name: e.name.clone(),
                attributes: to_key_values(&e.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        links: span
            .links
            .iter()
            .map(|l| otlp::span::Link {
                trace_id: l.target.trace_id.0.to_vec(),
                span_id: l.target.span_id.0.to_vec(),
                attributes: to_key_values(&l.attributes),
                ..Default::default()
            })
            .collect(),
        // What the sender or the limits left out. The model keeps one attribute count for the
        // span, its events and its links together, so it goes on the span (where a reader
        // adds it back to the same total) and events and links say 0.
        dropped_attributes_count: span.dropped_attributes_count,
        dropped_events_count: span.dropped_events_count,
        dropped_links_count: span.dropped_links_count,
        status: match span.status {
            StatusCode::Unset if span.status_message.is_empty() => None,
            code => Some(otlp::Status { message: span.status_message.clone(), code: code.to_otlp() }),
        },
        ..Default::default()
    }
}

fn to_key_values(attributes: &[Attribute]) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|a| KeyValue { key: a.key.clone(), value: Some(to_any_value(&a.value)), ..Default::default() })
        .collect()
}

fn to_any_value(value: &AttrValue) -> AnyValue {
    use any_value::Value;
    let value = match value {
        AttrValue::StringValue(s) => Value::StringValue(s.clone()),
        AttrValue::BoolValue(b) => Value::BoolValue(*b),
        AttrValue::IntValue(i) => Value::IntValue(*i),
        AttrValue::DoubleValue(d) => Value::DoubleValue(*d),
        AttrValue::BytesValue(b) => Value::BytesValue(b.clone()),
        AttrValue::ArrayValue(a) => Value::ArrayValue(ArrayValue { values: a.iter().map(to_any_value).collect() }),
        AttrValue::KvlistValue(kv) => Value::KvlistValue(KeyValueList { values: to_key_values(kv) }),
    };
    AnyValue { value: Some(value) }
}

/// Mermaid participant ids must be plain identifiers; labels carry the real names.
#[derive(Default)]
struct Participants {
    names: Vec<String>,
}

impl Participants {
    fn id(&mut self, name: &str) -> String {
        let at = match self.names.iter().position(|n| n == name) {
            Some(at) => at,
            None => {
                self.names.push(name.to_owned());
                self.names.len() - 1
            }
        };
        format!("p{at}")
    }
}

/// Mermaid text may not contain `;`, `#` or line breaks.
fn mermaid_text(text: &str) -> String {
    text.chars().map(|c| if matches!(c, ';' | '#' | '\n' | '\r') { ' ' } else { c }).collect()
}

fn ms(nanos: u64) -> String {
    let ms = nanos as f64 / 1e6;
    if ms >= 1000.0 { format!("{:.2} s", ms / 1000.0) } else { format!("{ms:.1} ms") }
}

/// The journey as a Mermaid sequence diagram: services and topics as participants, sends,
/// deliveries (with time in topic), synchronous calls and failures in time order.
pub fn to_mermaid_sequence(detail: &JourneyDetail) -> String {
    let mut participants = Participants::default();
    let mut lines: Vec<String> = Vec::new();
    let by_ref: std::collections::HashMap<_, &Span> = detail.spans.iter().map(|s| (s.span_ref(), &**s)).collect();
    // Batch context (a poll span a consumer ran under) is no delivery of its own.
    for row in detail.rows.iter().filter(|r| !r.context) {
        let span = detail.span(row);
        let service = span.service().to_string();
        let me = participants.id(&service);
        let role = span.messaging.as_ref().map(|m| m.operation.role());
        let topic = span.messaging.as_ref().and_then(|m| Some(format!("{}/{}", m.system, m.destination.as_deref()?)));
        match (role, topic) {
            (Some(MessagingRole::Produce), Some(topic)) => {
                let t = participants.id(&topic);
                lines.push(format!("    {me}->>{t}: {}", mermaid_text(&span.name)));
            }
            (Some(MessagingRole::Consume), Some(topic)) => {
                let t = participants.id(&topic);
                let waited = row.in_topic.map(|(a, b)| format!(" after {} in topic", ms(b - a))).unwrap_or_default();
                lines.push(format!("    {t}->>{me}: {}{waited}", mermaid_text(&span.name)));
            }
            _ if span.kind == SpanKind::Server => {
                let caller = span
                    .parent_ref()
                    .and_then(|p| by_ref.get(&p))
                    .filter(|p| p.kind == SpanKind::Client)
                    .map(|p| p.service().to_string());
                if let Some(caller) = caller.filter(|c| *c != service) {
                    let c = participants.id(&caller);
                    lines.push(format!("    {c}->>{me}: {}", mermaid_text(&span.name)));
                }
            }
            _ => {}
        }
        if span.is_failure() {
            let why = crate::model::journey::accum::failure_message(span);
            lines.push(format!("    Note over {me}: failed: {}", mermaid_text(&why)));
        }
    }
    for m in &detail.messages {
        let t = participants.id(&format!("kafka/{}", m.step.topic));
        let consumed = if m.consumed_by.is_empty() {
            String::new()
        } else {
            format!(", consumed by {}", m.consumed_by.join(", "))
        };
        lines.push(format!("    Note over {t}: {}{consumed}", mermaid_text(&m.step.position())));
    }
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(out, "    title {} {}", mermaid_text(&detail.summary.event_type), detail.summary.id);
    for (i, name) in participants.names.iter().enumerate() {
        let _ = writeln!(out, "    participant p{i} as {}", mermaid_text(name));
    }
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
