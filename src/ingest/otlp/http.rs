//! OTLP/HTTP receiver: `POST /v1/traces` with protobuf or JSON bodies, optionally gzipped.
//!
//! Answers follow the OTLP/HTTP spec: the response uses the request's content type; a
//! body that cannot be decoded (or is cut short) gets 400 with a `google.rpc.Status`; an
//! unsupported type 415; an oversize body 413; a body that does not arrive in time 408; a
//! full engine queue, or bytes in flight at their budget, 503 with `Retry-After`, before the
//! body is read ([`admission`](super::admission)).
//!
//! Connections are served by the receiver's own loop rather than `axum::serve`, which sets
//! no limits: at most [`AdmissionLimits::max_connections`](super::admission::AdmissionLimits)
//! open at once, and each must send a request's headers within the header timeout (which
//! also closes a keep-alive connection left idle).

use std::io::Read;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::admission::ConnectionLimit;
use super::{RETRY_AFTER_SECS, ReceiverContext, Refusal, accept};
use crate::model::record::SourceKind;
use crate::pipeline::counters::IngestCounters;

/// The path OTLP/HTTP exporters post traces to.
pub const TRACES_PATH: &str = "/v1/traces";

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// gRPC status codes used in error bodies.
mod grpc_code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNAVAILABLE: i32 = 14;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// The router, exposed so tests can serve it on any listener.
pub fn router(ctx: ReceiverContext) -> Router {
    Router::new().route(TRACES_PATH, post(export_traces)).with_state(ctx)
}

/// How long the accept loop pauses after an accept error (out of descriptors, say), so it
/// does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Serves OTLP/HTTP on `listener` until `shutdown` is cancelled, then lets the requests in
/// progress finish.
pub async fn serve(listener: TcpListener, ctx: ReceiverContext, shutdown: CancellationToken) -> std::io::Result<()> {
    let limits = ctx.admission.limits();
    let connections = ConnectionLimit::new(limits.max_connections);
    let service = TowerToHyperService::new(router(ctx.clone()));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(limits.header_timeout);
    let builder = std::sync::Arc::new(builder);
    let mut accept_errors = 0_u64;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Logged once a run of errors, not once per attempt.
                if accept_errors == 0 {
                    tracing::warn!("OTLP/HTTP cannot accept connections: {e}");
                }
                accept_errors += 1;
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        accept_errors = 0;
        let Some(place) = connections.enter(&ctx.counters) else {
            drop(stream);
            continue;
        };
        let (builder, service, shutdown) = (std::sync::Arc::clone(&builder), service.clone(), shutdown.clone());
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            // The protocol is told by the first bytes, which hyper waits for without a
            // deadline: a connection that sends nothing is closed after the header timeout.
            let mut first = [0_u8; 1];
            if !matches!(tokio::time::timeout(header_timeout, stream.peek(&mut first)).await, Ok(Ok(1..))) {
                drop(place);
                return;
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // A peer that timed out, reset or spoke garbage: its connection ends, nothing else.
            if let Err(e) = served {
                tracing::debug!("OTLP/HTTP connection ended: {e}");
            }
            drop(place);
        });
    }
}

/// A refused request: HTTP status, gRPC code and a message for the `Status` body.
struct HttpError {
    status: StatusCode,
    code: i32,
    message: String,
}

impl HttpError {
    fn new(status: StatusCode, code: i32, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn into_response(self, encoding: Encoding) -> Response {
        let mut response = match encoding {
            Encoding::Protobuf => {
                let status = tonic_types::Status { code: self.code, message: self.message, details: vec![] };
                (self.status, [(header::CONTENT_TYPE, PROTOBUF)], status.encode_to_vec()).into_response()
            }
            Encoding::Json => {
                let body = serde_json::json!({ "code": self.code, "message": self.message });
                (self.status, [(header::CONTENT_TYPE, JSON)], body.to_string()).into_response()
            }
        };
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if matches!(
            self.status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE
        ) {
            // The rest of the body may never have been read, so this connection cannot carry
            // another request: say so, or a client may reuse it and fail.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

async fn export_traces(State(ctx): State<ReceiverContext>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let encoding = match content_type.as_deref() {
        Some(PROTOBUF) => Encoding::Protobuf,
        Some(JSON) => Encoding::Json,
        other => {
            IngestCounters::add(&ctx.counters.requests_rejected, 1);
            let message =
                format!("unsupported content type {:?}; send {PROTOBUF} or {JSON}", other.unwrap_or("(none)"));
            return HttpError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, grpc_code::INVALID_ARGUMENT, message)
                .into_response(Encoding::Json);
        }
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > ctx.max_request_bytes) {
        IngestCounters::add(&ctx.counters.requests_rejected, 1);
        return too_large(ctx.max_request_bytes).into_response(encoding);
    }
    // Admitted before a byte of the body is read; the ticket is held until the answer.
    let _ticket = match ctx.admit(declared) {
        Ok(ticket) => ticket,
        Err(refusal) => return refused(refusal).into_response(encoding),
    };
    match decode(&ctx, &headers, body, encoding).await {
        Ok(request) => respond(&ctx, request, encoding),
        Err(err) => {
            IngestCounters::add(&ctx.counters.requests_rejected, 1);
            err.into_response(encoding)
        }
    }
}

async fn decode(
    ctx: &ReceiverContext,
    headers: &HeaderMap,
    body: Body,
    encoding: Encoding,
) -> Result<ExportTraceServiceRequest, HttpError> {
    let limit = ctx.max_request_bytes;
    let raw = read_body(body, limit, ctx.admission.limits().body_timeout).await?;
    let content_encoding =
        headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_ascii_lowercase());
    let payload = match content_encoding.as_deref() {
        None | Some("identity") => raw,
        Some("gzip") => gunzip(&raw, limit)?,
        Some(other) => {
            return Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                grpc_code::INVALID_ARGUMENT,
                format!("unsupported content encoding {other:?}; send gzip or none"),
            ));
        }
    };
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(payload).map_err(|e| {
            HttpError::new(StatusCode::BAD_REQUEST, grpc_code::INVALID_ARGUMENT, format!("invalid protobuf: {e}"))
        }),
        Encoding::Json => serde_json::from_slice(&payload).map_err(|e| {
            HttpError::new(StatusCode::BAD_REQUEST, grpc_code::INVALID_ARGUMENT, format!("invalid OTLP/JSON: {e}"))
        }),
    }
}

/// 413 for a body over `limit` bytes.
fn too_large(limit: usize) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        grpc_code::RESOURCE_EXHAUSTED,
        format!("request exceeds the {limit}-byte limit"),
    )
}

/// The answer to a request refused before its body was read.
fn refused(refusal: Refusal) -> HttpError {
    match refusal {
        Refusal::Busy => {
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, grpc_code::UNAVAILABLE, "EventLens is behind; retry later")
        }
        Refusal::ShuttingDown => {
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, grpc_code::UNAVAILABLE, "EventLens is shutting down")
        }
    }
}

/// Reads a body of at most `limit` bytes within `timeout`: over the limit is 413; cut short
/// or badly chunked is 400 (the client's framing, not the size); too slow is 408.
async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, HttpError> {
    let mut body = http_body_util::Limited::new(body, limit);
    let collected = tokio::time::timeout(timeout, http_body_util::BodyExt::collect(&mut body)).await;
    match collected {
        Err(_) => Err(HttpError::new(
            StatusCode::REQUEST_TIMEOUT,
            grpc_code::INVALID_ARGUMENT,
            format!("the request's body did not arrive within {timeout:?}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Ok(Err(e)) => Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            grpc_code::INVALID_ARGUMENT,
            format!("the request's body could not be read: {e}"),
        )),
    }
}

/// Inflates a gzip body, refusing to produce more than `limit` bytes (a small bomb must not
/// become a large allocation).
fn gunzip(raw: &[u8], limit: usize) -> Result<Bytes, HttpError> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
    let read = flate2::read::GzDecoder::new(raw).take(limit as u64 + 1).read_to_end(&mut out).map_err(|e| {
        HttpError::new(StatusCode::BAD_REQUEST, grpc_code::INVALID_ARGUMENT, format!("invalid gzip body: {e}"))
    })?;
    if read > limit {
        return Err(HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            grpc_code::RESOURCE_EXHAUSTED,
            format!("decompressed request exceeds the {limit}-byte limit"),
        ));
    }
    Ok(Bytes::from(out))
}

fn respond(ctx: &ReceiverContext, request: ExportTraceServiceRequest, encoding: Encoding) -> Response {
    match accept(ctx, request, SourceKind::OtlpHttp) {
        Ok(response) => match encoding {
            Encoding::Protobuf => ([(header::CONTENT_TYPE, PROTOBUF)], response.encode_to_vec()).into_response(),
            Encoding::Json => match serde_json::to_vec(&response) {
                Ok(body) => ([(header::CONTENT_TYPE, JSON)], body).into_response(),
                Err(e) => HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, 13, e.to_string()).into_response(encoding),
            },
        },
        Err(refusal) => refused(refusal).into_response(encoding),
    }
}
