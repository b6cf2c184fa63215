//! Imports: files other tools write, turned into records for a session file
//! (`eventlens import IN -o OUT`).
//!
//! Each line (or the whole file, when it is one JSON document) is recognised by its shape:
//! an OTLP `ExportTraceServiceRequest` as the OpenTelemetry Collector's file exporter writes
//! it (`resourceSpans`), a Jaeger trace download (`data`), an array of Zipkin v2 spans
//! (`traceId`, `id`), a CloudEvent in the structured JSON format (`specversion`), or a Kafka
//! message as `kcat -C -J` prints it (`topic`, `partition`, `offset`). A line that is none of
//! these, or does not decode, is reported with its number; the rest is imported.
//!
//! Files are read as a stream ([`stream`]): line by line with the session format's line
//! limit, each record handed on as it is decoded, so an import holds one line (or one
//! document of at most [`stream::MAX_DOCUMENT_BYTES`]) at a time. Payloads keep the first
//! [`PAYLOAD_KEEP_BYTES`], as the Kafka sources do, and a record without a time of its own
//! takes the previous record's (see [`stream`] for the whole rule).

pub mod cloudevents;
pub mod jaeger;
pub mod kcat;
pub mod otlp_json;
pub mod stream;
pub mod zipkin;

use std::path::PathBuf;

use crate::capture::SkippedLines;
use crate::capture::writer::CaptureWriteError;
use crate::model::kafka::message::PAYLOAD_KEEP_BYTES;
use crate::model::record::Record;

pub use stream::{import_file, import_text};

/// Spans as one record, received when the last of them ended (imported files do not say
/// when their spans were received). Spans without times give a record without one (0),
/// which [`stream`] gives the previous record's time.
fn span_record(spans: Vec<crate::model::span::Span>) -> Record {
    let received = spans.iter().map(|s| s.end_unix_nano).max().unwrap_or_default();
    Record::Spans(crate::model::record::SpanBatch {
        received_unix_nano: received,
        source: crate::model::record::SourceKind::File,
        spans,
    })
}

/// A Kafka message as a record of its own, received at its timestamp (imported files do not
/// say when it was seen; without one the record has no time, 0, until [`stream`] gives it
/// the previous record's), filed under the cluster `imported`. The payload keeps its first
/// [`PAYLOAD_KEEP_BYTES`] and `size` its whole length, as for a message read from a cluster.
fn message_record(mut message: crate::model::kafka::KafkaMessage) -> Record {
    use crate::model::kafka::{KafkaEvent, KafkaRecord, MessageBatch};
    if let Some(payload) = &mut message.payload
        && payload.len() > PAYLOAD_KEEP_BYTES
    {
        message.size = message.size.max(payload.len());
        payload.truncate(PAYLOAD_KEEP_BYTES);
        payload.shrink_to_fit();
    }
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

/// What an import read, beside the records it handed on.
#[derive(Debug, Default)]
pub struct ImportSummary {
    /// Records handed on.
    pub records: u64,
    /// Spans imported.
    pub spans: usize,
    /// Kafka messages imported.
    pub messages: usize,
    /// Lines that were not imported: the first few with their reasons, and a count.
    pub bad: SkippedLines,
}

/// An import held in memory ([`import_text`], for tests and small inputs).
#[derive(Debug, Default)]
pub struct Imported {
    /// Records, in file order.
    pub records: Vec<Record>,
    /// Lines that were not imported.
    pub bad: SkippedLines,
    /// Spans imported.
    pub spans: usize,
    /// Kafka messages imported.
    pub messages: usize,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The input is one JSON document too large to hold.
    #[error(
        "{path} is one JSON document larger than {} MiB, more than an import holds at once; write it as JSON Lines (one request, trace or event per line) to import it",
        stream::MAX_DOCUMENT_BYTES / (1024 * 1024)
    )]
    DocumentTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A record could not be written.
    #[error(transparent)]
    Write(#[from] CaptureWriteError),
}

/// Recognises each decoded line or document by its shape and hands on its records.
struct Importer<'a> {
    summary: ImportSummary,
    cloudevents: cloudevents::CloudEventReader,
    times: stream::TimeFill,
    emit: &'a mut dyn FnMut(Record) -> Result<(), ImportError>,
}

impl<'a> Importer<'a> {
    fn new(emit: &'a mut dyn FnMut(Record) -> Result<(), ImportError>) -> Self {
        Self {
            summary: ImportSummary::default(),
            cloudevents: cloudevents::CloudEventReader::default(),
            times: stream::TimeFill::default(),
            emit,
        }
    }

    /// Counts a line that was not imported.
    fn bad(&mut self, line: usize, reason: String) {
        self.summary.bad.push(crate::capture::SkippedLine { line, reason });
    }

    /// Imports one line or document (`bytes` long, what holding its records back costs).
    fn add(&mut self, line: usize, bytes: usize, value: serde_json::Value) -> Result<(), ImportError> {
        let records = if value.get("resourceSpans").is_some() {
            otlp_json::record(value).map(|(record, spans)| {
                self.summary.spans += spans;
                vec![record]
            })
        } else if value.get("data").is_some_and(serde_json::Value::is_array) {
            jaeger::records(value).map(|(records, spans)| {
                self.summary.spans += spans;
                records
            })
        } else if value.as_array().is_some_and(|a| a.first().is_some_and(|s| s.get("traceId").is_some())) {
            zipkin::record(value).map(|(record, spans)| {
                self.summary.spans += spans;
                vec![record]
            })
        } else if value.get("specversion").is_some() {
            self.cloudevents.record(&value).map(|record| {
                self.summary.messages += 1;
                vec![record]
            })
        } else if value.get("topic").is_some() && value.get("offset").is_some() {
            kcat::record(&value).map(|record| {
                self.summary.messages += 1;
                vec![record]
            })
        } else {
            Err("not an OTLP export request (resourceSpans), a Jaeger trace (data), Zipkin v2 spans (traceId), a CloudEvent (specversion) or a kcat -J message (topic, offset)".into())
        };
        match records {
            Ok(records) => {
                for record in records {
                    self.summary.records += 1;
                    self.times.place(record, bytes, self.emit)?;
                }
                Ok(())
            }
            Err(reason) => {
                self.bad(line, reason);
                Ok(())
            }
        }
    }

    /// Hands on the records still held back for a time, and the summary.
    fn finish(mut self) -> Result<ImportSummary, ImportError> {
        self.times.finish(self.emit)?;
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::KafkaEvent;

    #[test]
    fn a_large_payload_keeps_the_sessions_limit_and_its_size() {
        let payload = "x".repeat(1_000_000);
        let line = format!(r#"{{"topic":"orders","partition":0,"offset":1,"ts":1700000000000,"payload":"{payload}"}}"#);
        let imported = import_text(&line).unwrap();
        let Some(Record::Kafka(k)) = imported.records.first() else { panic!("{imported:?}") };
        let KafkaEvent::Messages(batch) = &k.event else { panic!("messages") };
        let message = &batch.messages[0];
        assert_eq!(message.payload.as_ref().map(Vec::len), Some(PAYLOAD_KEEP_BYTES));
        assert_eq!(message.size, 1_000_000, "the size tells the whole, so the payload shows as truncated");
    }
}
