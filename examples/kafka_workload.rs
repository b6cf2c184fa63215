//! Runs a small event workload against a Kafka cluster, so EventLens's Kafka side has
//! something to show: a producer writes orders, payments and shipments (JSON with CloudEvents
//! headers and a `traceparent`), consumer groups read them (inventory and analytics keep up,
//! payments falls behind, shipping stops after a while), and a few orders are dead-lettered
//! to `orders.DLQ` with Kafka Connect's provenance headers.
//!
//! ```sh
//! cargo run --release -- --kafka 127.0.0.1:9092                       # EventLens
//! cargo run --release --example kafka_workload -- 127.0.0.1:9092 20   # bootstrap, orders/s
//! ```
//! Run `shop_traffic` beside it: its spans name the same topics and groups, so the two merge.

// An example: it may stop on errors with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

/// A group member that reads at most `per_second` messages a second and commits what it read.
fn consumer(bootstrap: &str, group: &str, topic: &str, per_second: f64, stop_after: Option<Duration>) {
    let (bootstrap, group, topic) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
    std::thread::Builder::new()
        .name(format!("consumer-{group}"))
        .spawn(move || {
            let consumer: BaseConsumer = config(&bootstrap)
                .set("group.id", &group)
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest")
                .set("session.timeout.ms", "6000")
                .create()
                .unwrap();
            consumer.subscribe(&[&topic]).unwrap();
            let started = Instant::now();
            let pause = Duration::from_secs_f64(1.0 / per_second);
            loop {
                if stop_after.is_some_and(|d| started.elapsed() > d) {
                    println!("{group} stops consuming {topic}");
                    return;
                }
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                    let _ = consumer.commit_message(&m, CommitMode::Async);
                    std::thread::sleep(pause);
                }
            }
        })
        .unwrap();
}

fn main() {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let rate: f64 = args.next().and_then(|r| r.parse().ok()).unwrap_or(20.0);

    let admin: AdminClient<DefaultClientContext> = config(&bootstrap).create().unwrap();
    let topics: Vec<NewTopic> = ["orders", "payments", "shipments", "orders.DLQ"]
        .iter()
        .map(|t| NewTopic::new(t, 3, TopicReplication::Fixed(1)))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Topics that exist already are fine.
    let _ = runtime.block_on(admin.create_topics(&topics, &AdminOptions::new()));

    consumer(&bootstrap, "inventory", "orders", rate * 4.0, None);
    consumer(&bootstrap, "analytics", "orders", rate * 4.0, None);
    consumer(&bootstrap, "payments", "orders", rate * 0.7, None);
    consumer(&bootstrap, "shipping", "payments", rate * 2.0, Some(Duration::from_secs(45)));

    let producer: BaseProducer = config(&bootstrap).create().unwrap();
    let pause = Duration::from_secs_f64(1.0 / rate);
    println!("writing {rate} orders/s to {bootstrap}; Ctrl-C stops");
    for order in 0u64.. {
        let traceparent = format!("00-{:032x}-{:016x}-01", order + 1, order + 1);
        for (topic, kind) in
            [("orders", "OrderPlaced"), ("payments", "PaymentProcessed"), ("shipments", "OrderShipped")]
        {
            let payload =
                format!(r#"{{"type":"{kind}","order_id":"ord-{order:06}","total_cents":{}}}"#, 500 + order % 9000);
            let key = format!("ord-{order:06}");
            let headers = OwnedHeaders::new()
                .insert(Header { key: "traceparent", value: Some(&traceparent) })
                .insert(Header { key: "ce_type", value: Some(kind) })
                .insert(Header { key: "ce_source", value: Some("/shop") })
                .insert(Header { key: "ce_id", value: Some(&format!("{kind}-{order}")) })
                .insert(Header { key: "ce_specversion", value: Some("1.0") });
            let _ = producer.send(BaseRecord::to(topic).key(&key).payload(&payload).headers(headers));
        }
        if order % 50 == 7 {
            let offset = order.to_string();
            let headers = OwnedHeaders::new()
                .insert(Header { key: "__connect.errors.topic", value: Some("orders") })
                .insert(Header { key: "__connect.errors.offset", value: Some(&offset) })
                .insert(Header { key: "__connect.errors.exception.message", value: Some("schema mismatch") });
            let _ = producer
                .send(BaseRecord::to("orders.DLQ").key("poison").payload("{\"order_id\":null}").headers(headers));
        }
        producer.poll(Duration::ZERO);
        std::thread::sleep(pause);
    }
    producer.flush(Duration::from_secs(5)).unwrap();
}
