//! OTLP/gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
//!
//! A request is admitted ([`admission`](super::admission)) before tonic decodes it: while
//! the engine's queue is full or the bytes in flight are at their budget it is answered
//! `UNAVAILABLE` with `RetryInfo` at once, its message never read. At most
//! `max_connections` connections are open at once (one past it is closed and counted); a
//! connection with no request open for the header timeout, from its opening (a client that
//! never sends the HTTP/2 preface) or from its last answer, is closed (`grpc_connection`);
//! and a request must arrive and be answered within the body timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::codegen::http;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::admission::ConnectionLimit;
use super::grpc_connection::{Placed, RequestActivity};
use super::{RETRY_AFTER_SECS, ReceiverContext, Refusal, accept};
use crate::model::record::SourceKind;
use crate::pipeline::counters::IngestCounters;

/// The gRPC service.
#[derive(Debug, Clone)]
pub struct OtlpGrpcService {
    ctx: ReceiverContext,
}

#[tonic::async_trait]
impl TraceService for OtlpGrpcService {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        match accept(&self.ctx, request.into_inner(), SourceKind::OtlpGrpc) {
            Ok(response) => Ok(Response::new(response)),
            Err(refusal) => Err(refusal_status(refusal)),
        }
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    ctx: ReceiverContext,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let limit = ctx.max_request_bytes;
    let counters = std::sync::Arc::clone(&ctx.counters);
    let limits = ctx.admission.limits();
    let connections = ConnectionLimit::new(limits.max_connections);
    let idle_timeout = limits.header_timeout;
    let admit_ctx = ctx.clone();
    let place_counters = std::sync::Arc::clone(&ctx.counters);
    let service = TraceServiceServer::new(OtlpGrpcService { ctx })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let spell_errors = tower::ServiceBuilder::new().map_response(move |response: http::Response<tonic::body::Body>| {
        oversize_as_resource_exhausted(response, limit, &counters)
    });
    let admit = tower::layer::layer_fn(move |inner| Admit { inner, ctx: admit_ctx.clone() });
    let incoming = TcpListenerStream::new(listener).filter_map(move |accepted| match accepted {
        Ok(stream) => connections.enter(&place_counters).map(|place| Ok(Placed::new(stream, place, idle_timeout))),
        Err(e) => Some(Err(e)),
    });
    tonic::transport::Server::builder()
        .timeout(limits.body_timeout)
        .http2_keepalive_interval(Some(limits.header_timeout))
        .http2_keepalive_timeout(Some(limits.header_timeout))
        .layer(spell_errors)
        .layer(admit)
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
}

/// Admits each request before tonic reads its message (see [`admission`](super::admission)).
#[derive(Clone, Debug)]
struct Admit<S> {
    inner: S,
    ctx: ReceiverContext,
}

impl<S, B> tower::Service<http::Request<B>> for Admit<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // Open until answered, refused or not: its connection is not idle meanwhile.
        let open = request.extensions().get::<RequestActivity>().map(RequestActivity::begin);
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        match self.ctx.admit(declared) {
            Ok(ticket) => {
                let answer = self.inner.call(request);
                Box::pin(async move {
                    // Held until the answer: the message is decoded (and converted) by then.
                    let answer = answer.await;
                    drop((ticket, open));
                    answer
                })
            }
            Err(refusal) => {
                let status = refusal_status(refusal);
                drop(open);
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

/// The gRPC answer to a refused request: retry later, with how long to wait.
fn refusal_status(refusal: Refusal) -> Status {
    match refusal {
        Refusal::Busy => Status::with_error_details(
            Code::Unavailable,
            "EventLens is behind; retry later",
            ErrorDetails::with_retry_info(Some(Duration::from_secs(RETRY_AFTER_SECS))),
        ),
        Refusal::ShuttingDown => Status::unavailable("EventLens is shutting down"),
    }
}

/// tonic answers an over-limit message with OUT_OF_RANGE; OTLP clients expect
/// RESOURCE_EXHAUSTED. Decode failures happen before the handler, so they are counted here.
fn oversize_as_resource_exhausted(
    mut response: http::Response<tonic::body::Body>,
    limit: usize,
    counters: &IngestCounters,
) -> http::Response<tonic::body::Body> {
    let status = response.headers().get("grpc-status").and_then(|v| v.to_str().ok());
    match status {
        // OUT_OF_RANGE from the decoder, or RESOURCE_EXHAUSTED from gzip inflation.
        Some("11") | Some("8") => {
            IngestCounters::add(&counters.requests_rejected, 1);
            let headers = response.headers_mut();
            headers.insert("grpc-status", http::HeaderValue::from_static("8"));
            if let Ok(message) = http::HeaderValue::from_str(&format!("request exceeds the {limit}-byte limit")) {
                headers.insert("grpc-message", message);
            }
        }
        // INTERNAL from an undecodable message or bad compression; INVALID_ARGUMENT likewise.
        Some("13") | Some("3") | Some("12") => IngestCounters::add(&counters.requests_rejected, 1),
        _ => {}
    }
    response
}
