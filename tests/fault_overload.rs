//! Fault matrix: more OTLP load than the collector can take, for a minute (issue 15). Memory
//! stays within the budget, senders get retryable answers, every refusal is counted.
//!
//! Self-calibrating: the senders (OTLP/HTTP threads and OTLP/gRPC tasks) send as fast as
//! they are let, a refused request again after a short pause (an impatient exporter, not one
//! that waits the second `Retry-After` asks for), so the engine's queue (shortened to fit a
//! 64 MiB budget) fills and stays full. What the collector takes in the minute is what it
//! sustains on this machine; what the senders offer is everything they sent, taken or
//! refused, and the test requires it to be at least twice that. It takes about 65 s; it
//! prints what it measured (`--nocapture`).

// Resident memory as Linux reports it (`/proc/self/status`).
#![cfg(target_os = "linux")]
// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::resident::resident;

// The binary's allocator, so resident memory is what a user's collector would hold.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eventlens::collector::CollectorConfig;
use eventlens::engine::snapshot::MemoryUse;
use eventlens::ingest::otlp::OtlpConfig;
use eventlens::ingest::queue::QueueLimits;
use eventlens::model::size::MemoryBudget;
use eventlens::testing::realistic_request;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tonic_types::StatusExt;

/// How long the load lasts.
const LOAD: Duration = Duration::from_secs(60);
/// Spans per request.
const SPANS: usize = 100;
/// Senders over OTLP/HTTP (threads) and OTLP/gRPC (tasks).
const HTTP_SENDERS: u64 = 6;
const GRPC_SENDERS: u64 = 4;
/// How long an HTTP sender waits after a refusal before it sends the same request again (a
/// gRPC sender only yields: tokio's timer does not wait less than a millisecond). 5 ms was
/// enough while the engine applied about 5,000 spans/s in a debug build; at about 50,000 the
/// queue emptied between a sender's tries often enough that the senders offered only 1.7 to
/// 1.8 times what it took (three runs on 2 December 2026), and 1 ms kept it full in a debug
/// build. A release build takes about 100,000 spans/s, and with 1 ms the senders offered
/// only 1.67 times that (3 December); a refusal costs the collector next to nothing, so the
/// senders now try again at once.
const RETRY_PAUSE: Duration = Duration::from_micros(100);
/// The memory budget (`--memory-budget 64MiB`).
const BUDGET: u64 = 64 << 20;
/// Resident memory beyond the budget that does not grow with input: this test process with
/// every part under the budget switched off (`--timeline-spans 0`, no journeys, no findings)
/// under the same load held 78-94 MiB (with the binary's allocator, mimalloc): the test
/// binary (13 MiB at start), the collector's runtime and engine threads and the senders'
/// (ten clients, each HTTP one with its own runtime), the allocator's per-thread caches,
/// the queue, the requests in flight and the flow graph.
const FIXED_OVERHEAD: u64 = 96 << 20;
/// Resident memory the budget does not measure yet (issue 15 goes on; docs/reliability.md,
/// "Fault matrix"): journeys count only their stored spans' bodies (19 MiB counted held
/// 77-99 MiB above the fixed overhead, journeys alone), the timeline counted its records but
/// not yet its checkpoints when measured (alone: 22-62 MiB above it for at most 16 MiB
/// counted), and findings are bounded by counts (alone: 24-42 MiB). With everything on,
/// 269-311 MiB was resident against the 160 MiB of budget and fixed overhead. This allowance
/// must shrink to nothing as those parts are measured; a part that grows without bound still
/// fails it.
const NOT_YET_MEASURED: u64 = 192 << 20;

/// What one sender saw.
#[derive(Debug, Default)]
struct Tally {
    /// Answered with success.
    accepted: u64,
    /// Answered "retry later": HTTP 503 or 429 with `Retry-After`, gRPC `UNAVAILABLE` or
    /// `RESOURCE_EXHAUSTED`.
    refused: u64,
    /// Anything else: a reset, another status. The first few, described.
    other: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.other.extend(other.other.iter().cloned());
    }

    fn unexpected(&mut self, what: String) {
        if self.other.len() < 20 {
            self.other.push(what);
        }
    }
}

/// One OTLP/HTTP sender: its own requests (seeds `first`, `first + step`, ...) until
/// `stop`.
fn http_sender(url: String, first: u64, step: u64, stop: Arc<AtomicBool>) -> Tally {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let mut tally = Tally::default();
    let mut seed = first;
    let mut body = realistic_request(SPANS, seed).encode_to_vec();
    while !stop.load(Ordering::Relaxed) {
        let sent = client.post(&url).header("content-type", "application/x-protobuf").body(body.clone()).send();
        match sent {
            Ok(r) if r.status().as_u16() == 200 => {
                tally.accepted += 1;
                seed += step;
                body = realistic_request(SPANS, seed).encode_to_vec();
            }
            Ok(r) if matches!(r.status().as_u16(), 503 | 429) && r.headers().contains_key("retry-after") => {
                tally.refused += 1;
                std::thread::sleep(RETRY_PAUSE);
            }
            Ok(r) => {
                tally.unexpected(format!("HTTP {} {:?}", r.status(), r.headers()));
                std::thread::sleep(RETRY_PAUSE);
            }
            Err(e) => {
                tally.unexpected(format!("HTTP error: {e:?}"));
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }
    tally
}

/// One OTLP/gRPC sender, as [`http_sender`].
async fn grpc_sender(addr: std::net::SocketAddr, first: u64, step: u64, stop: Arc<AtomicBool>) -> Tally {
    let mut client = TraceServiceClient::connect(format!("http://{addr}")).await.expect("gRPC connects");
    let mut tally = Tally::default();
    let mut seed = first;
    while !stop.load(Ordering::Relaxed) {
        match client.export(realistic_request(SPANS, seed)).await {
            Ok(_) => {
                tally.accepted += 1;
                seed += step;
            }
            Err(status)
                if status.code() == tonic::Code::ResourceExhausted
                    || (status.code() == tonic::Code::Unavailable && status.get_details_retry_info().is_some()) =>
            {
                tally.refused += 1;
                tokio::task::yield_now().await;
            }
            Err(status) => {
                tally.unexpected(format!("gRPC {status:?}"));
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
    tally
}

/// Each part's share of the budget, and how far past it a part may be seen: the timeline
/// (its records and its checkpoints together) drops its oldest records only down to its
/// second checkpoint, and a checkpoint is taken at least every eighth of its share, so it may
/// hold an eighth more (`engine::playback`); each part may hold one more request than its
/// share before it drops.
fn within_shares(memory: &MemoryUse, budget: MemoryBudget) -> Result<(), String> {
    let request = 512 * 1024;
    let timeline = budget.timeline() as u64;
    let checks = [
        ("timeline", memory.timeline + memory.timeline_checkpoints, timeline + timeline / 8 + request),
        ("journeys", memory.journeys, budget.journeys() as u64 + request),
        ("messages", memory.messages, budget.messages() as u64 + request),
        ("all parts", memory.total(), budget.bytes),
    ];
    match checks.iter().find(|(_, used, limit)| used > limit) {
        Some((part, used, limit)) => Err(format!("{part}: {used} bytes, past {limit}: {memory:?}")),
        None => Ok(()),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

#[test]
fn twice_the_sustainable_otlp_load_for_a_minute_keeps_memory_within_the_budget_and_counts_every_refusal() {
    let (at_start, _) = resident();
    let budget = MemoryBudget { bytes: BUDGET };
    let collector = common::start_collector_with(CollectorConfig {
        otlp: Some(OtlpConfig {
            grpc: Some(common::loopback()),
            http: Some(common::loopback()),
            max_request_bytes: 4 << 20,
        }),
        // A short queue: 16 requests (the collector caps its spans at 3,276 for this budget).
        // Admission refuses before reading a body while the queue is full, which with a cap on
        // spans alone it rarely is: see docs/reliability.md, "Fault matrix".
        queue: QueueLimits { records: 16, ..QueueLimits::default() },
        memory_budget: Some(budget),
        ..CollectorConfig::default()
    });
    let engine = collector.engine().expect("engine");
    let url = format!("http://{}/v1/traces", collector.http_addr.expect("http"));
    let grpc = collector.grpc_addr.expect("grpc");
    let stop = Arc::new(AtomicBool::new(false));
    let senders = HTTP_SENDERS + GRPC_SENDERS;

    let started = Instant::now();
    let http: Vec<_> = (0..HTTP_SENDERS)
        .map(|k| {
            let (url, stop) = (url.clone(), Arc::clone(&stop));
            std::thread::Builder::new()
                .name(format!("http-sender-{k}"))
                .spawn(move || http_sender(url, k, senders, stop))
                .expect("sender thread")
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let grpc_tasks: Vec<_> = (0..GRPC_SENDERS)
        .map(|k| runtime.spawn(grpc_sender(grpc, HTTP_SENDERS + k, senders, Arc::clone(&stop))))
        .collect();

    // Once a second: the engine's parts against their shares, and this process's memory.
    let mut samples = Vec::new();
    let mut over_share = Vec::new();
    let mut peak_parts = MemoryUse::default();
    // The timeline's records and checkpoints together, at most.
    let mut peak_timeline = 0;
    while started.elapsed() < LOAD {
        std::thread::sleep(Duration::from_secs(1));
        let memory = engine.snapshot().memory;
        let (rss, _) = resident();
        if let Err(e) = within_shares(&memory, budget) {
            over_share.push(format!("at {:?}: {e}", started.elapsed()));
        }
        peak_parts.timeline = peak_parts.timeline.max(memory.timeline);
        peak_parts.timeline_checkpoints = peak_parts.timeline_checkpoints.max(memory.timeline_checkpoints);
        peak_timeline = peak_timeline.max(memory.timeline + memory.timeline_checkpoints);
        peak_parts.journeys = peak_parts.journeys.max(memory.journeys);
        peak_parts.messages = peak_parts.messages.max(memory.messages);
        samples.push((started.elapsed(), memory, rss));
    }
    stop.store(true, Ordering::Relaxed);
    let (mut over_http, mut over_grpc) = (Tally::default(), Tally::default());
    for sender in http {
        over_http.add(&sender.join().expect("an HTTP sender panicked"));
    }
    for task in grpc_tasks {
        over_grpc.add(&runtime.block_on(task).expect("a gRPC sender panicked"));
    }
    let elapsed = started.elapsed();
    let mut seen = Tally::default();
    seen.add(&over_http);
    seen.add(&over_grpc);
    // Every request taken is applied: the engine catches up once the load stops.
    let accepted_spans = seen.accepted * SPANS as u64;
    let caught_up = common::wait_within(&collector, "every accepted span applied", Duration::from_secs(30), |s| {
        s.model.spans == accepted_spans
    });
    let (_, peak_rss) = resident();
    let totals = caught_up.ingest;

    let rate = |requests: u64| requests as f64 * SPANS as f64 / elapsed.as_secs_f64();
    let max_rss = samples.iter().map(|(_, _, rss)| *rss).max().unwrap_or(0);
    println!(
        "{elapsed:.1?}: taken {} requests ({:.0} spans/s: what the collector sustains under this load), refused {} \
         (HTTP {} of {}, gRPC {} of {}); offered {:.0} spans/s ({:.1}x)\n\
         parts at most: timeline {:.1} MiB (records {:.1}, checkpoints {:.1}), journeys {:.1} MiB, messages {:.1} MiB \
         (budget {:.0} MiB)\n\
         resident: {:.1} MiB at start, at most {:.1} MiB sampled, peak {:.1} MiB\n{totals:?}",
        seen.accepted,
        rate(seen.accepted),
        seen.refused,
        over_http.refused,
        over_http.accepted + over_http.refused,
        over_grpc.refused,
        over_grpc.accepted + over_grpc.refused,
        rate(seen.accepted + seen.refused),
        (seen.accepted + seen.refused) as f64 / seen.accepted.max(1) as f64,
        mib(peak_timeline),
        mib(peak_parts.timeline),
        mib(peak_parts.timeline_checkpoints),
        mib(peak_parts.journeys),
        mib(peak_parts.messages),
        mib(BUDGET),
        mib(at_start),
        mib(max_rss),
        mib(peak_rss),
    );
    for (at, memory, rss) in samples.iter().step_by(10) {
        println!("  {at:.0?}: parts {:.1} MiB, resident {:.1} MiB", mib(memory.total()), mib(*rss));
    }

    // Senders get retryable answers, never a reset or another error.
    assert!(seen.other.is_empty(), "answers that were neither success nor retry-later: {:#?}", seen.other);
    // It was overloaded, over both protocols: at least twice what it took was offered.
    assert!(seen.accepted > 0, "nothing taken");
    assert!(over_http.refused > 0 && over_grpc.refused > 0, "HTTP {over_http:?}, gRPC {over_grpc:?}");
    assert!(
        seen.refused >= seen.accepted,
        "offered less than twice what it took: {} taken, {} refused",
        seen.accepted,
        seen.refused
    );
    // Every refusal counted: before the body was read (`requests_refused`), or after it was
    // decoded, when the queue had no room left for its spans (counted as dropped spans).
    assert_eq!(totals.spans_dropped % SPANS as u64, 0, "{totals:?}");
    assert_eq!(totals.requests_refused + totals.spans_dropped / SPANS as u64, seen.refused, "{totals:?}");
    assert_eq!(totals.requests_accepted, seen.accepted, "{totals:?}");
    assert_eq!(totals.spans_accepted, accepted_spans, "{totals:?}");
    assert_eq!((totals.requests_rejected, totals.spans_rejected, totals.connections_refused), (0, 0, 0));
    // The engine's parts within their shares at every sample.
    assert!(over_share.is_empty(), "over the budget: {over_share:#?}");
    // The process within the budget and the overheads, at every sample and at its peak.
    let limit = BUDGET + FIXED_OVERHEAD + NOT_YET_MEASURED;
    assert!(max_rss <= limit, "resident {:.1} MiB, past {:.1} MiB", mib(max_rss), mib(limit));
    assert!(peak_rss <= limit, "peak resident {:.1} MiB, past {:.1} MiB", mib(peak_rss), mib(limit));

    let summary = collector.shutdown();
    assert_eq!(summary.spans, accepted_spans, "the engine applied everything and did not panic");
}
