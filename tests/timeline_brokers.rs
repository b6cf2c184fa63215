//! Broker polls on the timeline: a recorded session of RabbitMQ and NATS polls scrubbed back
//! and forth shows each queue's and consumer's depth as the poll before the cursor had it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use eventlens::engine::playback::PlaybackMode;
use eventlens::engine::{Command, Snapshot};

const T0: u64 = 1_763_817_600_000_000_000;
const SECOND: u64 = 1_000_000_000;

/// Five seconds, a poll of each broker a second: the queue holds `second + 1` ready
/// messages, the JetStream consumer has `10 × (second + 1)` pending.
fn session(dir: &Path) -> std::path::PathBuf {
    let mut lines = vec![format!(r#"{{"format":"eventlens-session","version":2,"created_unix_nano":{T0}}}"#)];
    for second in 0..5u64 {
        let at = T0 + second * SECOND;
        let (ready, pending) = (second + 1, 10 * (second + 1));
        lines.push(format!(
            r#"{{"kind":"rabbitmq","received_unix_nano":{at},"server":"http://127.0.0.1:15672","event":{{"type":"management","queues":[{{"vhost":"/","name":"billing","kind":"classic","ready":{ready},"unacked":0,"consumers":1,"published":{ready},"delivered":0,"acked":0,"redelivered":0}}],"exchanges":[],"bindings":[],"consumers":[]}}}}"#
        ));
        lines.push(format!(
            r#"{{"kind":"nats","received_unix_nano":{at},"server":"nats://127.0.0.1:4222","event":{{"type":"jet_stream","streams":[{{"name":"ORDERS","subjects":["orders.>"],"messages":{pending},"bytes":0,"first_seq":1,"last_seq":{pending},"consumers":[{{"name":"audit","durable":true,"pending":{pending},"ack_pending":0,"redelivered":0,"waiting":0,"push_bound":false,"delivered_stream_seq":0,"ack_floor_stream_seq":0}}]}}]}}}}"#
        ));
    }
    let path = dir.join("brokers.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// (the queue's ready messages, the consumer's pending ones) in the shown state.
fn depths(s: &Snapshot) -> (Option<u64>, Option<u64>) {
    let ready = s.nodes.iter().find(|n| n.label == "rabbitmq/billing").and_then(|n| n.queue.as_ref()).map(|q| q.ready);
    let pending = s.edges.iter().flat_map(|e| e.depth.iter()).find(|d| d.consumer == "audit").map(|d| d.pending);
    (ready, pending)
}

#[test]
fn scrubbing_shows_each_queues_and_consumers_depth_as_of_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let collector = common::open_session(&session(dir.path()));
    let engine = collector.engine().unwrap();
    common::wait_for(&collector, "the whole file", |s| depths(s) == (Some(5), Some(50)));

    assert!(engine.send(Command::Seek(T0 + 2 * SECOND + SECOND / 2)));
    let s = common::wait_for(&collector, "the state at 2.5 s", |s| {
        s.timeline.mode == PlaybackMode::Paused && depths(s) == (Some(3), Some(30))
    });
    // The history charted is the history up to the cursor.
    let queue = s.nodes.iter().find(|n| n.label == "rabbitmq/billing").and_then(|n| n.queue.clone()).unwrap();
    assert_eq!(queue.max_ready, 3);

    assert!(engine.send(Command::Seek(T0 + SECOND / 2)));
    common::wait_for(&collector, "the state at 0.5 s", |s| depths(s) == (Some(1), Some(10)));
    assert!(engine.send(Command::Seek(T0 + 4 * SECOND)));
    common::wait_for(&collector, "the state at 4 s", |s| depths(s) == (Some(5), Some(50)));
}
