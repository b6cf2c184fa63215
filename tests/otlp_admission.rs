//! Admission before decoding, against the real receivers on loopback: stalled bodies hold no
//! more than the byte budget and are cut off by the body timeout; idle connections are
//! closed by the header timeout; past the connection limit a connection is closed at once;
//! and through all of it a valid exporter is served once room is back.

// Test code: a failed expectation is the failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventlens::ingest::counters::IngestCounters;
use eventlens::ingest::otlp::admission::{Admission, AdmissionLimits};
use eventlens::ingest::otlp::{ReceiverContext, grpc, http};
use eventlens::ingest::queue::{QueueLimits, record_queue};
use eventlens::testing::realistic_request;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;
use tonic_types::StatusExt;

const LIMIT: usize = 1 << 20;

/// Both receivers on loopback with `limits`; returns their addresses, the context and the
/// token that stops them.
async fn receivers(
    limits: AdmissionLimits,
) -> (std::net::SocketAddr, std::net::SocketAddr, ReceiverContext, tokio_util::sync::CancellationToken) {
    let (sender, receiver) = record_queue(QueueLimits::default());
    // Drained, as the engine would: only the admission budgets refuse here.
    std::thread::Builder::new()
        .name("test-engine".into())
        .spawn(move || while receiver.recv_timeout(Duration::from_secs(60)).is_ok() {})
        .unwrap();
    let mut ctx = ReceiverContext::new(sender, Arc::new(IngestCounters::default()), LIMIT);
    ctx.admission = Arc::new(Admission::new(limits));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (http_addr, grpc_addr) = (http_listener.local_addr().unwrap(), grpc_listener.local_addr().unwrap());
    tokio::spawn(http::serve(http_listener, ctx.clone(), shutdown.clone()));
    tokio::spawn(grpc::serve(grpc_listener, ctx.clone(), shutdown.clone()));
    (http_addr, grpc_addr, ctx, shutdown)
}

/// Opens a connection and sends a request's headers declaring a 1 MiB body, and 16 bytes of it.
async fn stalled_post(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {LIMIT}\r\n\r\n"
    );
    // A receiver at its connection limit closes the connection at once: the writes may fail.
    let _head = stream.write_all(head.as_bytes()).await;
    let _some_of_the_body = stream.write_all(&[0; 16]).await;
    stream
}

/// The status line's code of the answer on `stream`, if one comes within `wait`.
async fn status_within(stream: &mut TcpStream, wait: Duration) -> Option<u16> {
    let mut buf = vec![0; 1024];
    let n = tokio::time::timeout(wait, stream.read(&mut buf)).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Posts a valid request; its status, or `None` when the connection was refused or closed.
async fn valid_post(addr: std::net::SocketAddr) -> Option<u16> {
    let body = realistic_request(3, 1).encode_to_vec();
    let url = format!("http://{addr}/v1/traces");
    tokio::task::spawn_blocking(move || {
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let sent = client.post(url).header("content-type", "application/x-protobuf").body(body).send();
        sent.ok().map(|r| r.status().as_u16())
    })
    .await
    .unwrap()
}

#[test]
fn stalled_bodies_hold_at_most_the_budget_then_time_out_and_a_valid_exporter_is_served() {
    let runtime = common::exporter_runtime();
    runtime.block_on(async {
        let limits = AdmissionLimits {
            max_inflight_bytes: 2 * LIMIT,
            max_connections: 100,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(2),
        };
        let (http_addr, grpc_addr, ctx, shutdown) = receivers(limits).await;
        let mut stalled = Vec::new();
        for _ in 0..10 {
            stalled.push(stalled_post(http_addr).await);
        }
        // Two fit the budget and wait for their bodies; the other eight are told at once to
        // retry later, their bodies never read.
        let mut refused = 0;
        for stream in &mut stalled {
            if status_within(stream, Duration::from_millis(500)).await == Some(503) {
                refused += 1;
            }
        }
        assert_eq!(refused, 8);
        assert_eq!(ctx.admission.inflight_bytes(), 2 * LIMIT, "the two admitted hold the whole budget");
        // The budget is shared: gRPC is refused before decoding, with RetryInfo.
        let mut client = TraceServiceClient::connect(format!("http://{grpc_addr}")).await.unwrap();
        let status = client.export(realistic_request(2, 1)).await.expect_err("no room");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.get_details_retry_info().is_some(), "{status:?}");
        assert_eq!(valid_post(http_addr).await, Some(503));
        // The body timeout cuts the two stalled ones off (408) and gives their bytes back.
        let started = Instant::now();
        let mut timed_out = 0;
        for stream in &mut stalled {
            if status_within(stream, Duration::from_secs(4)).await == Some(408) {
                timed_out += 1;
            }
        }
        assert_eq!(timed_out, 2);
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
        assert_eq!(ctx.admission.inflight_bytes(), 0);
        assert_eq!(valid_post(http_addr).await, Some(200));
        client.export(realistic_request(2, 2)).await.expect("room again");
        let totals = ctx.counters.read();
        assert_eq!(totals.requests_refused, 10, "8 stalled, 1 gRPC, 1 valid HTTP: {totals:?}");
        assert_eq!(totals.spans_accepted, 3 + 2);
        shutdown.cancel();
    });
}

#[test]
fn idle_connections_are_closed_and_past_the_limit_a_connection_is_refused() {
    let runtime = common::exporter_runtime();
    runtime.block_on(async {
        let limits = AdmissionLimits {
            max_inflight_bytes: 8 * LIMIT,
            max_connections: 20,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(5),
        };
        let (http_addr, _grpc_addr, ctx, shutdown) = receivers(limits).await;
        let mut idle = Vec::new();
        for _ in 0..20 {
            idle.push(TcpStream::connect(http_addr).await.unwrap());
        }
        // Let the loop take them all in before the one too many.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut extra = TcpStream::connect(http_addr).await.unwrap();
        let mut buf = [0; 16];
        let read = tokio::time::timeout(Duration::from_millis(500), extra.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the 21st connection is closed at once: {read:?}");
        assert_eq!(ctx.counters.read().connections_refused, 1);
        // One second without a request's headers: each idle connection is closed.
        for stream in &mut idle {
            let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await;
            assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "an idle connection is closed: {read:?}");
        }
        // Their places are free again: a valid exporter is served.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(valid_post(http_addr).await, Some(200));
        // A keep-alive connection that sent one request and then nothing is closed too.
        let mut kept = TcpStream::connect(http_addr).await.unwrap();
        let body = realistic_request(1, 9).encode_to_vec();
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nhost: {http_addr}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        kept.write_all(head.as_bytes()).await.unwrap();
        kept.write_all(&body).await.unwrap();
        assert_eq!(status_within(&mut kept, Duration::from_secs(2)).await, Some(200));
        let read = tokio::time::timeout(Duration::from_secs(3), kept.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "an idle keep-alive connection is closed: {read:?}");
        shutdown.cancel();
    });
}

/// Fault matrix: 2,000 idle connections and 100 stalled uploads at once, with the default
/// budgets (only the timeouts shortened): the receiver holds at most its connection limit and
/// its byte budget, refuses the rest at once, and a valid exporter retrying as OTLP exporters
/// do is served within seconds.
#[test]
fn two_thousand_idle_and_a_hundred_stalled_connections_leave_a_valid_exporter_served() {
    // The test itself holds every client socket: make room for them if the hard limit allows.
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        let wanted = limit.maximum.map_or(8_192, |hard| hard.min(8_192));
        if limit.current.is_some_and(|soft| soft < wanted) {
            setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum: limit.maximum }).unwrap();
        }
        let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        assert!(soft >= 4_096, "this test needs 4,096 descriptors; the hard limit allows {soft}");
    }
    let runtime = common::exporter_runtime();
    runtime.block_on(async {
        let limits = AdmissionLimits {
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(2),
            ..AdmissionLimits::default()
        };
        let max_connections = limits.max_connections;
        let (http_addr, _grpc_addr, ctx, shutdown) = receivers(limits).await;
        let mut held = Vec::new();
        for _ in 0..2_000 {
            held.push(TcpStream::connect(http_addr).await.unwrap());
        }
        for _ in 0..100 {
            held.push(stalled_post(http_addr).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let refused = ctx.counters.read().connections_refused;
        assert!(
            refused >= 2_100 - max_connections as u64,
            "{refused} refused of 2,100 at a limit of {max_connections}"
        );
        assert!(ctx.admission.inflight_bytes() <= AdmissionLimits::default().max_inflight_bytes);
        // An exporter retrying every 200 ms, as OTLP exporters back off and retry.
        let started = Instant::now();
        let mut served = None;
        while served.is_none() && started.elapsed() < Duration::from_secs(10) {
            if valid_post(http_addr).await == Some(200) {
                served = Some(started.elapsed());
            } else {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let served = served.expect("a valid exporter was never served");
        assert!(served < Duration::from_secs(5), "served after {served:?}");
        assert_eq!(ctx.counters.read().spans_accepted, 3);
        drop(held);
        shutdown.cancel();
    });
}

/// Whether the server closes `stream` (end of stream or a reset) within `wait`, reading and
/// discarding whatever it sends first (an HTTP/2 server's SETTINGS, a ping).
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = [0; 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// An OTLP/gRPC exporter on a connection of its own (a new channel each time).
async fn grpc_export(addr: std::net::SocketAddr, id: u64) -> Result<(), tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect_lazy();
    TraceServiceClient::new(channel).export(realistic_request(1, id)).await.map(drop)
}

/// A gRPC connection holds a place under the connection limit; one that never sends the
/// HTTP/2 preface, one that sends half of it, and an exporter's that sits idle after its
/// export are each closed after the header timeout, so their places come back.
#[test]
fn silent_and_idle_grpc_connections_are_closed_after_the_header_timeout() {
    let runtime = common::exporter_runtime();
    runtime.block_on(async {
        let header_timeout = Duration::from_secs(1);
        let limits = AdmissionLimits {
            max_inflight_bytes: 8 * LIMIT,
            max_connections: 1,
            header_timeout,
            body_timeout: Duration::from_secs(5),
        };
        let (_http_addr, grpc_addr, ctx, shutdown) = receivers(limits).await;
        let margin = Duration::from_secs(2);

        // Connects and sends nothing: it holds the only place, so an exporter is refused...
        let started = Instant::now();
        let mut silent = TcpStream::connect(grpc_addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(grpc_export(grpc_addr, 1).await.is_err(), "the only place is held");
        assert_eq!(ctx.counters.read().connections_refused, 1);
        // ...until the header timeout closes it.
        assert!(closed_within(&mut silent, header_timeout + margin).await, "a silent connection is closed");
        let closed_after = started.elapsed();
        assert!(closed_after >= header_timeout, "closed by the timeout, not at once: {closed_after:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        grpc_export(grpc_addr, 2).await.expect("the place is free again");

        // Half the preface, then nothing.
        let mut halting = TcpStream::connect(grpc_addr).await.unwrap();
        halting.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        assert!(closed_within(&mut halting, header_timeout + margin).await, "a halting preface is closed");
        tokio::time::sleep(Duration::from_millis(100)).await;

        // An exporter that sent one request and keeps its channel open (answering pings):
        // its connection is closed once idle for the header timeout, and the next one served.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc_addr}")).unwrap().connect_lazy();
        let mut idle = TraceServiceClient::new(channel);
        idle.export(realistic_request(1, 3)).await.expect("served");
        assert!(grpc_export(grpc_addr, 4).await.is_err(), "the idle exporter holds the only place");
        tokio::time::sleep(header_timeout + margin).await;
        grpc_export(grpc_addr, 5).await.expect("the idle exporter's place is free again");
        // The closed exporter's next export goes out on a new connection, as a gRPC channel
        // reconnects.
        tokio::time::sleep(Duration::from_millis(100)).await;
        idle.export(realistic_request(1, 6)).await.expect("the idle exporter is served again");
        assert_eq!(ctx.counters.read().spans_accepted, 4);
        shutdown.cancel();
    });
}
