//! OTLP/gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::codegen::http;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

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
            Err(Refusal::Busy) => Err(Status::with_error_details(
                Code::Unavailable,
                "EventLens is behind; retry later",
                ErrorDetails::with_retry_info(Some(Duration::from_secs(RETRY_AFTER_SECS))),
            )),
            Err(Refusal::ShuttingDown) => Err(Status::unavailable("EventLens is shutting down")),
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
    let service = TraceServiceServer::new(OtlpGrpcService { ctx })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let spell_errors = tower::ServiceBuilder::new().map_response(move |response: http::Response<tonic::body::Body>| {
        oversize_as_resource_exhausted(response, limit, &counters)
    });
    tonic::transport::Server::builder()
        .layer(spell_errors)
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
        .await
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
