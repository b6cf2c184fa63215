//! OTLP/JSON export requests, one per line, as the OpenTelemetry Collector's file exporter
//! writes them. Decoded exactly as the OTLP/HTTP receiver decodes JSON.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::ingest::otlp::convert::convert_request;
use crate::model::record::Record;

/// The record of one request and its span count. Invalid spans are dropped and reported.
pub fn record(value: serde_json::Value) -> Result<(Record, usize), String> {
    let request: ExportTraceServiceRequest =
        serde_json::from_value(value).map_err(|e| format!("bad OTLP export request: {e}"))?;
    let converted = convert_request(request);
    if converted.spans.is_empty() {
        let why = converted.first_error.unwrap_or_else(|| "no spans".into());
        return Err(format!("no span imported: {why}"));
    }
    let count = converted.spans.len();
    Ok((super::span_record(converted.spans), count))
}
