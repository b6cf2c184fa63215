//! A real Kafka-protocol broker for tests: the standalone `noida-db` broker started on a
//! free loopback port with its own data directory, or librdkafka's in-process mock cluster.
//!
//! Without `noida-db` on PATH (and outside CI) the broker tests skip and say how to run them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

/// The broker's command and version, as `.ci/run` installs it.
pub const BROKER: &str = "noida-db";
const HOW_TO: &str = "pip install noida-db==0.2.3 (what .ci/run does), then run cargo test again";

/// A standalone broker process, stopped on drop.
pub struct Broker {
    child: Option<Child>,
    port: u16,
    data: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker, or returns `None` (after saying so) when none is installed. In CI
    /// (`CI` set) a missing broker fails the test instead.
    pub fn start(test: &str) -> Option<Self> {
        if which(BROKER).is_none() {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: {BROKER} is not installed; .ci/run installs it");
            }
            // Straight to the terminal: the test harness hides what passing tests print.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: no Kafka-protocol broker ({BROKER} not on PATH). To run it: {HOW_TO}"
            );
            return None;
        }
        let port = free_port();
        let mut broker = Self { child: None, port, data: tempfile::tempdir().unwrap() };
        broker.restart();
        Some(broker)
    }

    /// bootstrap.servers for this broker.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker process (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The command is a launcher (a pip entry point) that starts the broker binary in
            // a session of its own: stop every process serving this port.
            // SIGTERM first: the broker saves its data on a clean stop, so a restart finds it.
            let pattern = format!("kafka-port {} ", self.port);
            let _ = Command::new("pkill").args(["-TERM", "-f", "--", &pattern]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Command::new("pgrep")
                .args(["-f", "--", &pattern])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = Command::new("pkill").args(["-KILL", "-f", "--", &pattern]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        let data: PathBuf = self.data.path().join("data");
        let child = Command::new(BROKER)
            .args(["start", "--only", "kafka", "--host", "127.0.0.1", "--kafka-port"])
            .arg(self.port.to_string())
            .arg("--data-dir")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("broker starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "broker did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(program)).find(|p| p.is_file()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

/// Creates a topic with `partitions` partitions.
pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = config(bootstrap).create().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let results = runtime
        .block_on(
            admin.create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &AdminOptions::new()),
        )
        .unwrap();
    for r in results {
        r.unwrap();
    }
}

/// Produces `n` messages to one partition, each with the given timestamp (Unix ms) and
/// headers, and waits until the broker has them.
pub fn produce(bootstrap: &str, topic: &str, partition: i32, n: usize, timestamp_ms: i64) {
    produce_with(bootstrap, topic, partition, n, timestamp_ms, &[]);
}

/// Produces one message per timestamp (Unix ms) to one partition, from one producer.
pub fn produce_at(bootstrap: &str, topic: &str, partition: i32, timestamps_ms: &[i64]) {
    let producer: BaseProducer = config(bootstrap).create().unwrap();
    for (i, ts) in timestamps_ms.iter().enumerate() {
        let payload = format!("{{\"order\":{i}}}");
        let key = format!("k{i}");
        producer
            .send(BaseRecord::to(topic).partition(partition).payload(&payload).key(&key).timestamp(*ts))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// As [`produce`], with headers on every message.
pub fn produce_with(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    n: usize,
    timestamp_ms: i64,
    headers: &[(&str, &str)],
) {
    let producer: BaseProducer = config(bootstrap).set("linger.ms", "0").create().unwrap();
    for i in 0..n {
        let payload = format!("{{\"order\":{i}}}");
        let key = format!("k{i}");
        let mut h = rdkafka::message::OwnedHeaders::new();
        for (k, v) in headers {
            h = h.insert(rdkafka::message::Header { key: k, value: Some(*v) });
        }
        let record =
            BaseRecord::to(topic).partition(partition).payload(&payload).key(&key).timestamp(timestamp_ms).headers(h);
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// Commits `offset` for `group` on a partition without joining the group, as a tool would.
pub fn commit(bootstrap: &str, group: &str, topic: &str, partition: i32, offset: i64) {
    let consumer: BaseConsumer =
        config(bootstrap).set("group.id", group).set("enable.auto.commit", "false").create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset)).unwrap();
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

/// A subscribed group member that stays in the group (heartbeating) but commits only when
/// told: for STALL.
pub struct Member {
    consumer: BaseConsumer,
}

impl Member {
    /// Joins `group` subscribed to `topic` and waits until it has an assignment.
    pub fn join(bootstrap: &str, group: &str, topic: &str) -> Self {
        let consumer: BaseConsumer = config(bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "6000")
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while consumer.assignment().map(|a| a.count()).unwrap_or(0) == 0 {
            assert!(Instant::now() < deadline, "member of {group} got no assignment");
            let _ = consumer.poll(Duration::from_millis(100));
        }
        Self { consumer }
    }

    /// Keeps the membership alive for `d` without consuming further.
    pub fn idle(&self, d: Duration) {
        self.consumer.pause(&self.consumer.assignment().unwrap()).unwrap();
        let end = Instant::now() + d;
        while Instant::now() < end {
            let _ = self.consumer.poll(Duration::from_millis(50));
        }
    }
}

impl Member {
    /// Commits `offset` as this member (a member's commits are the only ones the group takes).
    pub fn commit(&self, topic: &str, partition: i32, offset: i64) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset)).unwrap();
        self.consumer.commit(&tpl, CommitMode::Sync).unwrap();
    }
}

/// Produces raw payloads, in order, to partition 0.
pub fn produce_bytes(bootstrap: &str, topic: &str, payloads: &[Vec<u8>]) {
    let producer: BaseProducer = config(bootstrap).set("linger.ms", "0").create().unwrap();
    for payload in payloads {
        producer.send(BaseRecord::<(), _>::to(topic).partition(0).payload(payload)).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}
