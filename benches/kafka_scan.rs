//! Scanning a 1M-message topic (4 partitions of 250k) into the message browser, against
//! `kcat -C -e -o beginning` on the same broker and topic. The broker is the standalone test
//! broker (`noida-db`, as `.ci/run` installs it); it drops the connection when one fetch
//! spans several large partitions (kcat sees the same), so both tools read the partitions one
//! after the other. Needs kcat (Debian package `kcat`); says so and skips without it or the
//! broker. (librdkafka's mock cluster keeps only the last ~22k messages of a partition, so it
//! cannot hold the topic.) See docs/performance.md.

// criterion_group! generates an undocumented function.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::ingest::browse::{BrowseRequest, StartAt};
use eventlens::ingest::kafka::KafkaConfig;
use eventlens::model::kafka::browser::MAX_BROWSED;
use eventlens::model::kafka::message::{KafkaMessage, MessageFilter};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MESSAGES: u64 = 1_000_000;
const TOPIC: &str = "scan";

/// A realistic event: a JSON order of ~180 bytes, a key, and a traceparent header.
fn fill(bootstrap: &str) {
    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", bootstrap).set("linger.ms", "20").create().unwrap();
    for i in 0..MESSAGES {
        let payload = format!(
            r#"{{"type":"OrderPlaced","order_id":"ord-{i:08}","customer":"c-{}","items":[{{"sku":"sku-{}","qty":{}}}],"total_cents":{}}}"#,
            i % 9973,
            i % 421,
            1 + i % 5,
            100 + i % 90_000
        );
        let key = format!("ord-{i:08}");
        let traceparent = format!("00-{:032x}-{:016x}-01", i + 1, i + 1);
        let headers = rdkafka::message::OwnedHeaders::new()
            .insert(rdkafka::message::Header { key: "traceparent", value: Some(&traceparent) });
        let mut record = BaseRecord::to(TOPIC)
            .partition((i % PARTITIONS as u64) as i32)
            .payload(&payload)
            .key(&key)
            .headers(headers);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    producer.poll(Duration::from_millis(5));
                    record = r;
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
}

#[path = "../tests/common/kafka.rs"]
mod kafka;

const PARTITIONS: i32 = 4;

fn kcat_available() -> bool {
    Command::new("kcat").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn scan_with_eventlens(collector: &Collector) -> u64 {
    let engine = collector.engine().unwrap();
    let mut scanned = 0;
    for partition in 0..PARTITIONS {
        let before = engine.snapshot().kafka.browser.browse;
        let request = BrowseRequest {
            topic: TOPIC.into(),
            partition: Some(partition),
            start: StartAt::Earliest,
            filter: MessageFilter::default(),
            follow: false,
            limit: usize::MAX,
        };
        assert!(collector.browsers()[0].start(request));
        loop {
            let s = engine.snapshot();
            let p = &s.kafka.browser.progress;
            if s.kafka.browser.browse > before && p.done {
                assert_eq!((p.scanned, &p.error), (MESSAGES / PARTITIONS as u64, &None), "{p:?}");
                scanned += p.scanned;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(scanned, MESSAGES);
    scanned
}

fn scan_with_kcat(bootstrap: &str) {
    for partition in 0..PARTITIONS {
        let status = Command::new("kcat")
            .args(["-C", "-b", bootstrap, "-t", TOPIC, "-p", &partition.to_string(), "-o", "beginning", "-e", "-q"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// Heap and inline bytes one kept message holds.
fn retained_bytes(m: &KafkaMessage) -> usize {
    std::mem::size_of::<KafkaMessage>()
        + m.topic.capacity()
        + m.key.as_ref().map_or(0, Vec::capacity)
        + m.payload.as_ref().map_or(0, Vec::capacity)
        + m.headers.capacity() * std::mem::size_of::<eventlens::model::kafka::message::MessageHeader>()
        + m.headers.iter().map(|h| h.key.capacity() + h.value.as_ref().map_or(0, Vec::capacity)).sum::<usize>()
}

fn scan(c: &mut Criterion) {
    if !kcat_available() {
        eprintln!("SKIPPED kafka_scan: kcat is not installed (apt-get install kcat)");
        return;
    }
    let Some(broker) = kafka::Broker::start("kafka_scan") else { return };
    let bootstrap = broker.bootstrap();
    kafka::create_topic(&bootstrap, TOPIC, PARTITIONS);
    let started = Instant::now();
    fill(&bootstrap);
    eprintln!("filled {MESSAGES} messages in {:.1?}", started.elapsed());

    let mut config = KafkaConfig::new(bootstrap.clone());
    config.poll_interval = Duration::from_secs(60);
    let collector =
        Collector::start(CollectorConfig { kafka: vec![config], ..CollectorConfig::default() }, None).unwrap();

    let mut group = c.benchmark_group("scan_1m_messages");
    group.sample_size(10).measurement_time(Duration::from_secs(60)).throughput(Throughput::Elements(MESSAGES));
    group.bench_function("eventlens_browser", |b| b.iter(|| scan_with_eventlens(&collector)));
    group.bench_function("kcat", |b| b.iter(|| scan_with_kcat(&bootstrap)));
    group.finish();

    let snapshot = collector.engine().unwrap().snapshot();
    let browser = &snapshot.kafka.browser;
    let kept = browser.len();
    let bytes: usize = (0..kept).filter_map(|i| browser.get(i)).map(retained_bytes).sum();
    eprintln!(
        "browser keeps {kept} of {MESSAGES} (cap {MAX_BROWSED}); {:.0} bytes per retained message",
        bytes as f64 / kept.max(1) as f64
    );
}

criterion_group!(benches, scan);
criterion_main!(benches);
