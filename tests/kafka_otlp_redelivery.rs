//! At least once from Kafka: the OTLP topic reader commits a message only once the engine's
//! queue took its spans, so messages refused when the engine stopped are read again by the
//! group's next reader, and the ones taken are not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventlens::ingest::counters::IngestCounters;
use eventlens::ingest::kafka::KafkaConfig;
use eventlens::ingest::kafka::otlp_topic::{OtlpEncoding, OtlpTopicConfig, OtlpTopicSource};
use eventlens::ingest::otlp::ReceiverContext;
use eventlens::ingest::queue::{QueueLimits, RecordReceiver, record_queue};
use eventlens::model::record::Record;
use eventlens::testing::realistic_request;
use prost::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const TOPIC: &str = "otlp_spans";
const GROUP: &str = "eventlens";
/// Spans per message.
const SPANS: usize = 5;
/// Messages the first engine takes before it stops.
const TAKEN: u64 = 4;
/// Messages written after it stopped.
const REFUSED: u64 = 3;

/// A reader of the topic as the group, handing spans to `ctx`'s queue.
fn reader(bootstrap: &str, ctx: ReceiverContext) -> OtlpTopicSource {
    let mut cluster = KafkaConfig::new(bootstrap);
    // The mock cluster waits out a session (45 s by default) before it gives a group that
    // was left a new member its partitions; a real broker does not.
    cluster.properties.insert("session.timeout.ms".into(), "6000".into());
    let config = OtlpTopicConfig { cluster, topic: TOPIC.into(), group: GROUP.into(), encoding: OtlpEncoding::Proto };
    OtlpTopicSource::spawn(config, ctx, Arc::new(Mutex::new(Vec::new()))).unwrap()
}

/// Message `n`'s payload: spans whose trace ids tell which message they came from.
fn message(n: u64) -> Vec<u8> {
    realistic_request(SPANS, n).encode_to_vec()
}

/// The message (by [`message`]'s seed) a record's spans came from.
fn message_of(record: &Record) -> u64 {
    let Record::Spans(batch) = record else { panic!("spans, not {record:?}") };
    assert_eq!(batch.spans.len(), SPANS);
    (0..TAKEN + REFUSED)
        .find(|&n| {
            let trace_ids = eventlens::ingest::otlp::convert::convert_request(realistic_request(SPANS, n)).spans;
            trace_ids.iter().zip(&batch.spans).all(|(a, b)| a.trace_id == b.trace_id)
        })
        .expect("spans of a message written")
}

fn next_message(rx: &RecordReceiver) -> u64 {
    message_of(&rx.recv_timeout(Duration::from_secs(30)).expect("a message's spans"))
}

/// The group's committed offset on partition 0, asked as a tool would, without joining.
fn committed(bootstrap: &str) -> Option<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition(TOPIC, 0);
    let offsets = consumer.committed_offsets(partitions, Duration::from_secs(10)).unwrap();
    match offsets.find_partition(TOPIC, 0).unwrap().offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

#[test]
fn messages_refused_when_the_engine_stopped_are_read_again_by_the_next_reader_of_the_group() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic(TOPIC, 1, 1).unwrap();
    common::kafka::produce_bytes(&bootstrap, TOPIC, &(0..TAKEN).map(message).collect::<Vec<_>>());

    // The first run: an engine that takes TAKEN messages, then stops.
    let (sender, receiver) = record_queue(QueueLimits { records: 64, items: 100_000 });
    let counters = Arc::new(IngestCounters::default());
    let mut first = reader(&bootstrap, ReceiverContext::new(sender, Arc::clone(&counters), usize::MAX));
    let taken: Vec<u64> = (0..TAKEN).map(|_| next_message(&receiver)).collect();
    assert_eq!(taken, (0..TAKEN).collect::<Vec<_>>());
    drop(receiver);
    // What comes after is refused: the reader stops at the first, which it counts as dropped.
    common::kafka::produce_bytes(&bootstrap, TOPIC, &(TAKEN..TAKEN + REFUSED).map(message).collect::<Vec<_>>());
    let deadline = Instant::now() + Duration::from_secs(30);
    while counters.read().spans_dropped == 0 {
        assert!(Instant::now() < deadline, "the reader never met the stopped engine");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.stop();
    let totals = counters.read();
    assert_eq!((totals.spans_accepted, totals.spans_dropped), (TAKEN * SPANS as u64, SPANS as u64));
    // Committed: the messages taken, not the one refused.
    assert_eq!(committed(&bootstrap), Some(TAKEN as i64));

    // The next run of the group reads exactly the refused messages, and commits them.
    let (sender, receiver) = record_queue(QueueLimits { records: 64, items: 100_000 });
    let mut second = reader(&bootstrap, ReceiverContext::new(sender, Arc::new(IngestCounters::default()), usize::MAX));
    let read_again: Vec<u64> = (0..REFUSED).map(|_| next_message(&receiver)).collect();
    assert_eq!(read_again, (TAKEN..TAKEN + REFUSED).collect::<Vec<_>>());
    second.stop();
    assert!(receiver.try_recv().is_none(), "nothing taken before is read again");
    assert_eq!(committed(&bootstrap), Some((TAKEN + REFUSED) as i64));
}
