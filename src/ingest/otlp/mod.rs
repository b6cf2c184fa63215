//! OTLP trace receivers: gRPC (`TraceService/Export`) and HTTP (`POST /v1/traces`).
//!
//! Both decode into the same [`ExportTraceServiceRequest`] type from `opentelemetry-proto`,
//! convert it with [`convert::convert_request`] and hand it to [`accept`], so the two
//! protocols differ only in framing and in how they spell each answer.

pub mod admission;
pub mod convert;
pub mod grpc;
mod grpc_connection;
pub mod http;

use std::net::SocketAddr;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use admission::{Admission, AdmissionLimits};

use crate::model::record::{Record, SourceKind, SpanBatch};
use crate::pipeline::counters::IngestCounters;
use crate::pipeline::queue::{QueueError, RecordSender};

// The clock moved to `crate::pipeline::clock`; this path stays for the collector and tests.
pub use crate::pipeline::clock::unix_nanos_now;

/// Default gRPC address (loopback: other hosts must be let in explicitly).
pub const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:4317";
/// Default HTTP address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:4318";
/// Default request size limit, as the OpenTelemetry Collector's default.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// What a client is told to wait before retrying when the engine is behind.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Receiver settings.
#[derive(Clone, Debug)]
pub struct OtlpConfig {
    /// gRPC listen address, or `None` to disable.
    pub grpc: Option<SocketAddr>,
    /// HTTP listen address, or `None` to disable.
    pub http: Option<SocketAddr>,
    /// Largest accepted request, compressed or not, in bytes.
    pub max_request_bytes: usize,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            grpc: DEFAULT_GRPC_ADDR.parse().ok(),
            http: DEFAULT_HTTP_ADDR.parse().ok(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        }
    }
}

/// What both receivers share: the queue to the engine, the counters and the admission
/// budgets.
#[derive(Clone, Debug)]
pub struct ReceiverContext {
    /// Where accepted spans go.
    pub sender: RecordSender,
    /// Counters shown to the user.
    pub counters: Arc<IngestCounters>,
    /// Request size limit in bytes.
    pub max_request_bytes: usize,
    /// Bytes in flight across both receivers, checked before a body is read.
    pub admission: Arc<Admission>,
}

impl ReceiverContext {
    /// A context with the default admission limits.
    pub fn new(sender: RecordSender, counters: Arc<IngestCounters>, max_request_bytes: usize) -> Self {
        Self { sender, counters, max_request_bytes, admission: Arc::new(Admission::new(AdmissionLimits::default())) }
    }

    /// Admits a request declaring `declared` bytes (the request limit when it declares none)
    /// before its body is read.
    pub fn admit(&self, declared: Option<usize>) -> Result<admission::Ticket, Refusal> {
        let bytes = declared.unwrap_or(self.max_request_bytes).min(self.max_request_bytes);
        self.admission.admit(bytes, &self.sender, &self.counters)
    }
}

/// Why a decoded request was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The queue is full: answer 503 / UNAVAILABLE with a retry hint.
    Busy,
    /// The engine is gone: the collector is shutting down.
    ShuttingDown,
}

/// Converts and queues a decoded request; returns the OTLP response to send. A full queue
/// refuses the request (the sender retries).
pub fn accept(
    ctx: &ReceiverContext,
    request: ExportTraceServiceRequest,
    source: SourceKind,
) -> Result<ExportTraceServiceResponse, Refusal> {
    accept_with(ctx, request, source, RecordSender::try_send)
}

/// As [`accept`], but waits for room in the queue: for sources that read from a log the
/// sender cannot be asked to resend (a Kafka topic).
pub fn accept_waiting(
    ctx: &ReceiverContext,
    request: ExportTraceServiceRequest,
    source: SourceKind,
) -> Result<ExportTraceServiceResponse, Refusal> {
    accept_with(ctx, request, source, RecordSender::send_blocking)
}

fn accept_with(
    ctx: &ReceiverContext,
    request: ExportTraceServiceRequest,
    source: SourceKind,
    send: impl Fn(&RecordSender, Record) -> Result<(), QueueError>,
) -> Result<ExportTraceServiceResponse, Refusal> {
    let converted = convert::convert_request(request);
    let accepted = converted.spans.len() as u64;
    let partial_success = (converted.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(converted.rejected).unwrap_or(i64::MAX),
        error_message: converted.rejection_message(),
    });
    IngestCounters::add(&ctx.counters.spans_rejected, converted.rejected);
    if accepted > 0 {
        let record = Record::Spans(SpanBatch { received_unix_nano: unix_nanos_now(), source, spans: converted.spans });
        match send(&ctx.sender, record) {
            Ok(()) => IngestCounters::add(&ctx.counters.spans_accepted, accepted),
            Err(e) => {
                IngestCounters::add(&ctx.counters.spans_dropped, accepted);
                return Err(match e {
                    QueueError::Full => Refusal::Busy,
                    QueueError::Closed => Refusal::ShuttingDown,
                });
            }
        }
    }
    IngestCounters::add(&ctx.counters.requests_accepted, 1);
    Ok(ExportTraceServiceResponse { partial_success })
}
