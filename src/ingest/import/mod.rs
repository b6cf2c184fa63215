//! Imports: files other tools write, turned into records for a session file
//! (`eventlens import IN -o OUT`).
//!
//! Each line (or the whole file, when it is one JSON document) is recognised by its shape:
//! an OTLP `ExportTraceServiceRequest` as the OpenTelemetry Collector's file exporter writes
//! it (`resourceSpans`), a Jaeger trace download (`data`), an array of Zipkin v2 spans
//! (`traceId`, `id`), a CloudEvent in the structured JSON format (`specversion`), or a Kafka
//! message as `kcat -C -J` prints it (`topic`, `partition`, `offset`). A line that is none of
//! these, or does not decode, is reported with its number; the rest is imported.

pub mod cloudevents;
pub mod jaeger;
pub mod kcat;
pub mod otlp_json;
pub mod zipkin;

use std::path::Path;

use crate::model::record::Record;

/// Spans as one record, received when the last of them ended (imported files do not say
/// when their spans were received).
fn span_record(spans: Vec<crate::model::span::Span>) -> Record {
    let received = spans.iter().map(|s| s.end_unix_nano).max().unwrap_or_default();
    Record::Spans(crate::model::record::SpanBatch {
        received_unix_nano: received,
        source: crate::model::record::SourceKind::File,
        spans,
    })
}

/// A Kafka message as a record of its own, received at its timestamp (imported files do not
/// say when it was seen), filed under the cluster `imported`.
fn message_record(mut message: crate::model::kafka::KafkaMessage) -> Record {
    use crate::model::kafka::{KafkaEvent, KafkaRecord, MessageBatch};
    message.derive_links();
    let received =
        message.timestamp_ms.and_then(|ms| u64::try_from(ms).ok()).unwrap_or_default().saturating_mul(1_000_000);
    let topic = message.topic.clone();
    Record::Kafka(KafkaRecord {
        received_unix_nano: received,
        cluster: kcat::CLUSTER.into(),
        event: KafkaEvent::Messages(MessageBatch { browse: 0, topic, messages: vec![message], progress: None }),
    })
}

/// A trace id from hex that may be 64-bit (Zipkin, Jaeger): the low half of a 128-bit id.
fn trace_id_hex(hex: &str) -> Result<crate::model::ids::TraceId, crate::model::ids::IdError> {
    crate::model::ids::TraceId::from_hex(&format!("{hex:0>32}"))
}

/// A span id from hex whose leading zeros may be left out.
fn span_id_hex(hex: &str) -> Result<crate::model::ids::SpanId, crate::model::ids::IdError> {
    crate::model::ids::SpanId::from_hex(&format!("{hex:0>16}"))
}

/// A line that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number (1 for a whole-file document).
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// What an import produced.
#[derive(Debug, Default)]
pub struct Imported {
    /// Records, in file order.
    pub records: Vec<Record>,
    /// Lines that were not imported.
    pub bad: Vec<BadLine>,
    /// Spans imported.
    pub spans: usize,
    /// Kafka messages imported.
    pub messages: usize,
    cloudevents: cloudevents::CloudEventReader,
}

/// Why an import could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct ImportError {
    /// The file.
    pub path: std::path::PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Imports a file.
pub fn import_file(path: &Path) -> Result<Imported, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError { path: path.to_owned(), source })?;
    Ok(import_text(&text))
}

/// Imports text: JSON Lines, or one JSON document.
pub fn import_text(text: &str) -> Imported {
    let mut out = Imported::default();
    // One pretty-printed document (e.g. opentelemetry-proto's example trace).
    if let Ok(document) = serde_json::from_str::<serde_json::Value>(text)
        && text.trim_end().lines().count() > 1
    {
        out.add(1, document);
        return out;
    }
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(value) => out.add(index + 1, value),
            Err(e) => out.bad.push(BadLine { line: index + 1, reason: format!("not JSON: {e}") }),
        }
    }
    out
}

impl Imported {
    fn add(&mut self, line: usize, value: serde_json::Value) {
        let result = if value.get("resourceSpans").is_some() {
            otlp_json::record(value).map(|(record, spans)| {
                self.spans += spans;
                record
            })
        } else if value.get("data").is_some_and(serde_json::Value::is_array) {
            match jaeger::records(value) {
                Ok((records, spans)) => {
                    self.spans += spans;
                    self.records.extend(records);
                    return;
                }
                Err(reason) => Err(reason),
            }
        } else if value.as_array().is_some_and(|a| a.first().is_some_and(|s| s.get("traceId").is_some())) {
            zipkin::record(value).map(|(record, spans)| {
                self.spans += spans;
                record
            })
        } else if value.get("specversion").is_some() {
            self.cloudevents.record(&value).inspect(|_| self.messages += 1)
        } else if value.get("topic").is_some() && value.get("offset").is_some() {
            kcat::record(&value).inspect(|_| self.messages += 1)
        } else {
            Err("not an OTLP export request (resourceSpans), a Jaeger trace (data), Zipkin v2 spans (traceId), a CloudEvent (specversion) or a kcat -J message (topic, offset)".into())
        };
        match result {
            Ok(record) => self.records.push(record),
            Err(reason) => self.bad.push(BadLine { line, reason }),
        }
    }
}
