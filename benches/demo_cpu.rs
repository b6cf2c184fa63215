//! What the built-in demo costs in CPU: the shop (mock cluster, services, span exporters)
//! and EventLens's collector behind it, at a given order rate, per thread group. Read from
//! Linux's per-thread scheduler statistics over a measured window after a warm-up.
//!
//! ```sh
//! cargo bench --bench demo_cpu                     # 100 orders/s
//! DEMO_RATE=1000 cargo bench --bench demo_cpu
//! ```

// A benchmark: it stops on errors with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventlens::collector::{Collector, CollectorConfig};
use eventlens::demo::{DemoBroker, DemoControls, DemoServices};
use eventlens::ingest::otlp::{DEFAULT_MAX_REQUEST_BYTES, OtlpConfig};

const WARM_UP: Duration = Duration::from_secs(8);
const MEASURE: Duration = Duration::from_secs(20);

/// CPU nanoseconds per thread group, from /proc/self/task/*/schedstat.
fn cpu_by_group() -> BTreeMap<&'static str, u64> {
    let mut groups = BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = task.path();
        let (Ok(comm), Ok(stat)) =
            (std::fs::read_to_string(path.join("comm")), std::fs::read_to_string(path.join("schedstat")))
        else {
            continue; // the thread ended meanwhile
        };
        let ns: u64 = stat.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0);
        *groups.entry(group(comm.trim())).or_insert(0) += ns;
    }
    groups
}

/// Linux keeps the first 15 bytes of a thread's name, so names are matched by prefix.
fn group(thread: &str) -> &'static str {
    match thread {
        t if t.starts_with("eventlens-demo") => "demo services (tokio)",
        t if t.starts_with("OpenTelemetry") => "demo span exporters",
        t if t.starts_with("rdk:") => "librdkafka (mock cluster, demo clients, EventLens watcher)",
        t if t.starts_with("eventlens-io") => "EventLens OTLP receivers",
        t if t.starts_with("eventlens-engin") => "EventLens engine",
        t if t.starts_with("eventlens-journ") => "EventLens journeys",
        t if t.starts_with("eventlens-kafka") => "EventLens Kafka source",
        _ => "other",
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let rate: f64 = std::env::var("DEMO_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(100.0);
    let broker = DemoBroker::start().unwrap();
    let collector = Collector::start(
        CollectorConfig {
            otlp: Some(OtlpConfig {
                grpc: Some("127.0.0.1:0".parse().unwrap()),
                http: None,
                max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            }),
            kafka: vec![eventlens::demo::kafka_config(&broker)],
            ..CollectorConfig::default()
        },
        None,
    )
    .unwrap();
    let controls = Arc::new(DemoControls::default());
    controls.set_rate(rate);
    let services = DemoServices::start(&broker, collector.grpc_addr.unwrap(), controls).unwrap();
    std::thread::sleep(WARM_UP);

    let engine = collector.engine().unwrap();
    let spans_before = engine.snapshot().ingest.spans_accepted;
    let before = cpu_by_group();
    let started = Instant::now();
    std::thread::sleep(MEASURE);
    let after = cpu_by_group();
    let wall = started.elapsed().as_secs_f64();
    let spans = engine.snapshot().ingest.spans_accepted - spans_before;

    println!("demo at {rate} orders/s, measured over {wall:.1} s after {} s warm-up", WARM_UP.as_secs());
    println!("spans received: {:.0}/s", spans as f64 / wall);
    let mut total = 0.0;
    for (name, ns) in &after {
        let used = (*ns - before.get(name).copied().unwrap_or(0)) as f64 / 1e9 / wall * 100.0;
        total += used;
        println!("  {name:<58} {used:>6.1}% of one core");
    }
    println!(
        "  {:<58} {total:>6.1}% of one core ({:.1}% of this machine's {} cores)",
        "total",
        total / available(),
        available()
    );
    services.stop();
    drop(collector);
    drop(broker);
}

fn available() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}
