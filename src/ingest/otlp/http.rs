//! OTLP/HTTP receiver: `POST /v1/traces` with protobuf or JSON bodies, optionally gzipped.
//!
//! Answers follow the OTLP/HTTP spec: the response uses the request's content type; a
//! body that cannot be decoded gets 400 with a `google.rpc.Status`; an unsupported type 415;
//! an oversize body 413; a full engine queue 503 with `Retry-After`.

use std::io::Read;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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

/// Serves OTLP/HTTP on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, ctx: ReceiverContext, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router(ctx)).with_graceful_shutdown(shutdown.cancelled_owned()).await
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
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so this connection cannot carry another
            // request: say so, or a client may reuse it and fail.
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
    let too_large = || {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            grpc_code::RESOURCE_EXHAUSTED,
            format!("request exceeds the {limit}-byte limit"),
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let raw = axum::body::to_bytes(body, limit).await.map_err(|_| too_large())?;
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
        Err(Refusal::Busy) => {
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, grpc_code::UNAVAILABLE, "EventLens is behind; retry later")
                .into_response(encoding)
        }
        Err(Refusal::ShuttingDown) => {
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, grpc_code::UNAVAILABLE, "EventLens is shutting down")
                .into_response(encoding)
        }
    }
}
