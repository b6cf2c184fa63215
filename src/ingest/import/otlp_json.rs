//! OTLP/JSON export requests, one per line, as the OpenTelemetry Collector's file exporter
//! writes them. Decoded exactly as the OTLP/HTTP receiver decodes JSON.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::ingest::otlp::convert::convert_request;
use crate::model::record::{Record, SourceKind, SpanBatch};

/// The record of one request and its span count. Its receive time is the latest span end
/// (the file does not say when it was received). Invalid spans are dropped and reported.
pub fn record(value: serde_json::Value) -> Result<(Record, usize), String> {
    let request: ExportTraceServiceRequest =
        serde_json::from_value(value).map_err(|e| format!("bad OTLP export request: {e}"))?;
    let converted = convert_request(request);
    if converted.spans.is_empty() {
        let why = converted.first_error.unwrap_or_else(|| "no spans".into());
        return Err(format!("no span imported: {why}"));
    }
    let received = converted.spans.iter().map(|s| s.end_unix_nano).max().unwrap_or_default();
    let count = converted.spans.len();
    Ok((
        Record::Spans(SpanBatch { received_unix_nano: received, source: SourceKind::File, spans: converted.spans }),
        count,
    ))
}
