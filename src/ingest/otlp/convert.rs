//! OTLP trace requests -> model spans.
//!
//! The request is consumed, so attribute strings move into the model instead of being
//! copied. Each span is validated on its own: a span with a malformed id is rejected and
//! counted (OTLP's `partial_success`), the rest of the batch goes on.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1 as otlp;

use crate::model::ids::{IdError, SpanId, SpanRef, TraceId};
use crate::model::messaging::Messaging;
use crate::model::span::{
    AttrValue, Attribute, Resource, ServiceName, Span, SpanEvent, SpanKind, SpanLink, StatusCode, find_attr,
};

/// The outcome of converting one export request.
#[derive(Debug, Default)]
pub struct ConvertedSpans {
    /// Spans that passed validation.
    pub spans: Vec<Span>,
    /// How many spans were rejected.
    pub rejected: u64,
    /// The first rejection's reason, for the `partial_success` message.
    pub first_error: Option<String>,
}

impl ConvertedSpans {
    /// The message for OTLP's `partial_success.error_message`.
    pub fn rejection_message(&self) -> String {
        match &self.first_error {
            Some(first) if self.rejected > 1 => {
                format!("{} spans rejected; first: {first}", self.rejected)
            }
            Some(first) => format!("1 span rejected: {first}"),
            None => String::new(),
        }
    }
}

/// Converts a whole request, validating each span.
pub fn convert_request(request: ExportTraceServiceRequest) -> ConvertedSpans {
    let mut out = ConvertedSpans::default();
    for resource_spans in request.resource_spans {
        let resource = Arc::new(convert_resource(resource_spans.resource));
        for scope_spans in resource_spans.scope_spans {
            let scope: Arc<str> = scope_spans.scope.map(|s| s.name).unwrap_or_default().into();
            for span in scope_spans.spans {
                match convert_span(span, &resource, &scope) {
                    Ok(span) => out.spans.push(span),
                    Err(err) => {
                        out.rejected += 1;
                        out.first_error.get_or_insert(err);
                    }
                }
            }
        }
    }
    out
}

fn convert_resource(resource: Option<opentelemetry_proto::tonic::resource::v1::Resource>) -> Resource {
    let attributes = resource.map(|r| convert_attributes(r.attributes)).unwrap_or_default();
    let text = |key| find_attr(&attributes, key).and_then(AttrValue::as_text);
    let service = ServiceName {
        name: text("service.name").unwrap_or_else(|| "unknown_service".to_owned()),
        namespace: text("service.namespace").filter(|ns| !ns.is_empty()),
    };
    Resource { service, attributes }
}

fn convert_span(span: otlp::Span, resource: &Arc<Resource>, scope: &Arc<str>) -> Result<Span, String> {
    let describe = |e: IdError| format!("span {:?}: {e}", span.name);
    let trace_id = TraceId::from_bytes(&span.trace_id).map_err(describe)?;
    let span_id = SpanId::from_bytes(&span.span_id).map_err(describe)?;
    let parent_span_id = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(SpanId::from_bytes(&span.parent_span_id).map_err(|e| describe(e).replace("span id", "parent span id"))?)
    };
    let links = span
        .links
        .into_iter()
        .map(|link| {
            let target =
                SpanRef { trace_id: TraceId::from_bytes(&link.trace_id)?, span_id: SpanId::from_bytes(&link.span_id)? };
            Ok(SpanLink { target, attributes: convert_attributes(link.attributes) })
        })
        .collect::<Result<Vec<_>, IdError>>()
        .map_err(|e| format!("span {:?}: link {e}", span.name))?;
    let kind = SpanKind::from_otlp(span.kind);
    let attributes = convert_attributes(span.attributes);
    let messaging = Messaging::from_attributes(kind, &attributes);
    let (status, status_message) = match span.status {
        Some(s) => (
            match s.code {
                1 => StatusCode::Ok,
                2 => StatusCode::Error,
                _ => StatusCode::Unset,
            },
            s.message,
        ),
        None => (StatusCode::Unset, String::new()),
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        name: span.name,
        kind,
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
        status,
        status_message,
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
        attributes,
        events: span
            .events
            .into_iter()
            .map(|e| SpanEvent {
                name: e.name,
                time_unix_nano: e.time_unix_nano,
                attributes: convert_attributes(e.attributes),
            })
            .collect(),
        links,
        messaging,
    })
}

fn convert_attributes(attributes: Vec<KeyValue>) -> Vec<Attribute> {
    attributes.into_iter().filter_map(|kv| Some(Attribute { key: kv.key, value: convert_value(kv.value?)? })).collect()
}

fn convert_value(value: AnyValue) -> Option<AttrValue> {
    Some(match value.value? {
        any_value::Value::StringValue(s) => AttrValue::StringValue(s),
        any_value::Value::BoolValue(b) => AttrValue::BoolValue(b),
        any_value::Value::IntValue(i) => AttrValue::IntValue(i),
        any_value::Value::DoubleValue(d) => AttrValue::DoubleValue(d),
        any_value::Value::BytesValue(b) => AttrValue::BytesValue(b),
        any_value::Value::ArrayValue(a) => {
            AttrValue::ArrayValue(a.values.into_iter().filter_map(convert_value).collect())
        }
        any_value::Value::KvlistValue(kv) => AttrValue::KvlistValue(convert_attributes(kv.values)),
        // Dictionary references only appear in the profiles signal.
        any_value::Value::StringValueStrindex(_) => return None,
    })
}
