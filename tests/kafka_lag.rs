//! The Kafka source against a real Kafka-protocol broker on 127.0.0.1: discovery, exact lag
//! and its history, lag in time, Burrow statuses, merging with spans, the fallback when the
//! cluster will not list groups, and a broker that goes away and comes back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::kafka::{Broker, Member, commit, create_topic, produce};
use common::wait_for;
use eventlens::collector::Collector;
use eventlens::engine::Snapshot;
use eventlens::engine::snapshot::{GroupLag, SourceState};
use eventlens::export::graph::replay_file;
use eventlens::ingest::kafka::KafkaConfig;
use eventlens::model::flow_graph::{EdgeKind, NodeKind};
use eventlens::model::kafka::observation::{ConnectionState, GroupOrigin};
use eventlens::model::kafka::{GroupStatus, LagStatus};

const POLL: Duration = Duration::from_millis(150);

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn watch(bootstrap: &str, groups: &[&str]) -> KafkaConfig {
    let mut c = KafkaConfig::new(bootstrap);
    c.poll_interval = POLL;
    c.groups = groups.iter().map(|g| (*g).to_owned()).collect();
    c
}

fn collector(kafka: KafkaConfig, otlp: bool, recording: Option<std::path::PathBuf>) -> Collector {
    common::start_kafka_collector(kafka, otlp, recording)
}

/// The lag of `group` on the consume edge out of `kafka/<topic>`.
fn edge_lag(s: &Snapshot, topic: &str, group: &str) -> Option<GroupLag> {
    let from = s.nodes.iter().find(|n| n.label == format!("kafka/{topic}"))?.id;
    s.edges
        .iter()
        .filter(|e| e.from == from && e.kind == EdgeKind::Consumes)
        .flat_map(|e| e.lag.iter())
        .find(|l| l.group == group)
        .cloned()
}

fn partition_status(s: &Snapshot, cluster: &str, group: &str, topic: &str) -> Option<LagStatus> {
    let g = s.kafka.clusters().get(cluster)?.groups.get(group)?;
    Some(g.partitions.get(&(topic.to_owned(), 0))?.status())
}

fn samples(s: &Snapshot, cluster: &str, group: &str, topic: &str) -> usize {
    s.kafka
        .clusters()
        .get(cluster)
        .and_then(|c| c.groups.get(group))
        .and_then(|g| g.partitions.get(&(topic.to_owned(), 0)))
        .map_or(0, |p| p.history().len())
}

/// Waits until the poller has taken `n` more samples of a group's partition 0, so a scripted
/// step lands between two polls.
fn next_samples(c: &Collector, cluster: &str, group: &str, topic: &str, n: usize) -> Arc<Snapshot> {
    let start = samples(&c.engine().unwrap().snapshot(), cluster, group, topic);
    wait_for(c, "more lag samples", |s| samples(s, cluster, group, topic) >= start + n)
}

#[test]
fn topics_groups_and_exact_lag_with_history_and_time() {
    let Some(broker) = Broker::start("topics_groups_and_exact_lag_with_history_and_time") else { return };
    let b = broker.bootstrap();
    create_topic(&b, "orders", 2);
    let old = now_ms() - 60_000;
    produce(&b, "orders", 0, 10, old);
    produce(&b, "orders", 0, 10, now_ms());
    produce(&b, "orders", 1, 5, now_ms());
    commit(&b, "billing", "orders", 0, 4);
    commit(&b, "billing", "orders", 1, 5);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kafka.jsonl");
    let c = collector(watch(&b, &[]), false, Some(file.clone()));
    let s = wait_for(&c, "lag 16 on orders", |s| edge_lag(s, "orders", "billing").is_some_and(|l| l.offsets == 16));
    let lag = edge_lag(&s, "orders", "billing").unwrap();
    // The oldest unconsumed record (offset 4 of partition 0) was written a minute ago.
    let waited = lag.time_ms.expect("lag in time");
    assert!((60_000..75_000).contains(&waited), "lag in time {waited} ms");

    let cluster = &s.kafka.clusters()[&b];
    assert_eq!(cluster.brokers.len(), 1);
    let orders = &cluster.topics["orders"];
    assert_eq!(orders.partitions.len(), 2);
    assert_eq!((orders.partitions[&0].high, orders.partitions[&1].high), (20, 5));
    assert!(cluster.topics["__consumer_offsets"].internal);
    let billing = &cluster.groups["billing"];
    assert_eq!(billing.origin, Some(GroupOrigin::Listed));
    assert_eq!(billing.members.as_deref().map(<[_]>::len), Some(0));
    // The group has no known service: it is a node of its own, consuming from the topic.
    let group_node = s.nodes.iter().find(|n| n.kind == NodeKind::ConsumerGroup).expect("group node");
    assert_eq!(group_node.label, "kafka group billing");
    assert!(!s.nodes.iter().any(|n| n.label.contains("__consumer_offsets")), "internal topics stay hidden");

    // The group catches up partly: lag drops to 6, the maximum stays 16, history has both.
    commit(&b, "billing", "orders", 0, 14);
    let s = wait_for(&c, "lag 6", |s| edge_lag(s, "orders", "billing").is_some_and(|l| l.offsets == 6));
    let lag = edge_lag(&s, "orders", "billing").unwrap();
    assert_eq!(lag.max_offsets, 16);
    assert!(lag.max_time_ms >= Some(60_000));
    let history: Vec<u64> = s.kafka.topic_lag("billing", "orders").unwrap().history.iter().map(|h| h.1).collect();
    assert_eq!(history.first(), Some(&16));
    assert_eq!(history.last(), Some(&6));
    assert!(history.iter().all(|&l| l == 16 || l == 6), "{history:?}");
    drop(c);

    // Headless: the recording replays to the same lag.
    let replayed = replay_file(&file).unwrap();
    let lag = edge_lag(&replayed.snapshot, "orders", "billing").unwrap();
    assert_eq!((lag.offsets, lag.max_offsets), (6, 16));
    let json = eventlens::export::graph::render(&replayed.snapshot, eventlens::export::graph::GraphFormat::Json);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let edge = doc["edges"].as_array().unwrap().iter().find(|e| e["kind"] == "consumes").unwrap();
    assert_eq!(edge["lag"][0]["group"], "billing");
    assert_eq!(edge["lag"][0]["offsets"], 6);
    assert_eq!(edge["lag"][0]["max_offsets"], 16);
    assert!(edge["lag"][0]["max_time_ms"].as_u64().unwrap() >= 60_000);
}

#[test]
fn each_burrow_status_is_reached_by_a_scripted_consumer() {
    let Some(broker) = Broker::start("each_burrow_status_is_reached_by_a_scripted_consumer") else { return };
    let b = broker.bootstrap();
    for topic in ["t-ok", "t-stop", "t-stall", "t-warn", "t-rewind"] {
        create_topic(&b, topic, 1);
        produce(&b, topic, 0, 10, now_ms());
    }
    commit(&b, "ok", "t-ok", 0, 10);
    commit(&b, "stop", "t-stop", 0, 2);
    commit(&b, "warn", "t-warn", 0, 2);
    commit(&b, "rewind", "t-rewind", 0, 8);
    let member = Member::join(&b, "stall", "t-stall");
    member.commit("t-stall", 0, 3);

    // Slow polls leave room to script each step between two of them: a poll reads
    // watermarks and commits a moment apart, and a step landing in between would show a
    // dip in lag that the scripted consumer never had.
    let mut config = watch(&b, &[]);
    config.poll_interval = Duration::from_millis(700);
    let c = collector(config, false, None);
    // Falling behind: each step commits 2 more and 5 more arrive, between two polls.
    let mut committed = 2;
    for _ in 0..6 {
        next_samples(&c, &b, "warn", "t-warn", 1);
        produce(&b, "t-warn", 0, 5, now_ms());
        committed += 2;
        commit(&b, "warn", "t-warn", 0, committed);
    }
    next_samples(&c, &b, "rewind", "t-rewind", 2);
    commit(&b, "rewind", "t-rewind", 0, 3);
    member.idle(Duration::from_millis(50));
    let s = next_samples(&c, &b, "rewind", "t-rewind", 2);

    let status = |g: &str, t: &str| partition_status(&s, &b, g, t);
    assert_eq!(status("ok", "t-ok"), Some(LagStatus::Ok));
    assert_eq!(status("stop", "t-stop"), Some(LagStatus::Stop));
    assert_eq!(status("stall", "t-stall"), Some(LagStatus::Stall), "a member is in the group but does not move");
    assert_eq!(status("warn", "t-warn"), Some(LagStatus::Warn));
    assert_eq!(status("rewind", "t-rewind"), Some(LagStatus::Rewind));
    let group = |g: &str| edge_lag(&s, &format!("t-{g}"), g).unwrap().status;
    assert_eq!(group("ok"), GroupStatus::Ok);
    assert_eq!(group("warn"), GroupStatus::Warn);
    for g in ["stop", "stall", "rewind"] {
        assert_eq!(group(g), GroupStatus::Err, "{g}");
    }
    drop(member);
}

#[test]
fn cluster_groups_merge_with_the_services_spans_name() {
    let Some(broker) = Broker::start("cluster_groups_merge_with_the_services_spans_name") else { return };
    let b = broker.bootstrap();
    create_topic(&b, "orders", 1);
    produce(&b, "orders", 0, 9, now_ms());
    commit(&b, "billing", "orders", 0, 2);
    let c = collector(watch(&b, &[]), true, None);
    wait_for(&c, "the group's own node", |s| s.nodes.iter().any(|n| n.label == "kafka group billing"));

    common::consumer_spans(c.http_addr.unwrap(), "billing-svc", ("kafka", "orders"), Some("billing"));
    let s = wait_for(&c, "one consume edge to billing-svc with lag", |s| {
        let svc = s.nodes.iter().find(|n| n.label == "billing-svc");
        svc.is_some_and(|svc| {
            s.edges.iter().any(|e| e.to == svc.id && e.counters.count == 3 && e.lag.iter().any(|l| l.offsets == 7))
        })
    });
    assert!(!s.nodes.iter().any(|n| n.kind == NodeKind::ConsumerGroup), "the placeholder is merged: {:?}", s.nodes);
    let consumes: Vec<_> = s.edges.iter().filter(|e| e.kind == EdgeKind::Consumes).collect();
    assert_eq!(consumes.len(), 1);
    assert_eq!(consumes[0].counters.count, 3, "span traffic and cluster lag on one edge");
}

#[test]
fn a_broker_that_goes_away_is_shown_and_polled_again_when_it_returns() {
    let Some(mut broker) = Broker::start("a_broker_that_goes_away_is_shown_and_polled_again_when_it_returns") else {
        return;
    };
    let b = broker.bootstrap();
    create_topic(&b, "orders", 1);
    produce(&b, "orders", 0, 5, now_ms());
    commit(&b, "billing", "orders", 0, 1);
    let c = collector(watch(&b, &[]), false, None);
    wait_for(&c, "lag 4", |s| edge_lag(s, "orders", "billing").is_some_and(|l| l.offsets == 4));

    broker.stop();
    let name = "Kafka";
    let s = common::wait_within(&c, "broker down on the board", Duration::from_secs(45), |s| {
        s.sources.iter().any(|src| {
            src.name == name
                && src.address == b
                && matches!(&src.state, SourceState::Failed(m) if m.starts_with("broker down"))
        })
    });
    assert_eq!(s.kafka.clusters()[&b].connection.state, ConnectionState::BrokerDown);
    assert!(!s.nodes.is_empty(), "the session keeps what it had");

    broker.restart();
    produce(&b, "orders", 0, 3, now_ms());
    let s = wait_for(&c, "connected again with fresh lag", |s| {
        edge_lag(s, "orders", "billing").is_some_and(|l| l.offsets == 7)
    });
    assert_eq!(s.kafka.clusters()[&b].connection.state, ConnectionState::Connected);
    assert!(s.sources.iter().any(|src| src.name == name && src.address == b && src.state == SourceState::Listening));
}

#[test]
fn groups_come_from_flags_and_spans_when_the_cluster_will_not_list_them() {
    // librdkafka's mock cluster refuses ListGroups, as some ACL'd clusters do.
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 1, 1).unwrap();
    produce(&b, "orders", 0, 10, now_ms());
    commit(&b, "configured", "orders", 0, 3);
    commit(&b, "billing", "orders", 0, 6);

    let c = collector(watch(&b, &["configured"]), true, None);
    let s = wait_for(&c, "lag of the configured group", |s| {
        edge_lag(s, "orders", "configured").is_some_and(|l| l.offsets == 7)
    });
    let cluster = &s.kafka.clusters()[&b];
    assert!(cluster.list_refused.is_some(), "the refusal is kept to be shown");
    assert_eq!(cluster.groups["configured"].origin, Some(GroupOrigin::Configured));
    assert!(edge_lag(&s, "orders", "billing").is_none(), "not yet known");

    common::consumer_spans(c.http_addr.unwrap(), "billing-svc", ("kafka", "orders"), Some("billing"));
    let s = wait_for(&c, "lag of the group learned from spans", |s| {
        edge_lag(s, "orders", "billing").is_some_and(|l| l.offsets == 4)
    });
    assert_eq!(s.kafka.clusters()[&b].groups["billing"].origin, Some(GroupOrigin::Spans));
}

#[test]
fn refused_credentials_show_as_auth_failed_with_the_brokers_message() {
    // librdkafka's mock cluster takes no SASL: a SASL client is refused at the handshake.
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    let mut config = watch(&b, &[]);
    for (k, v) in [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "alice"),
        ("sasl.password", "hunter2"),
    ] {
        config.properties.insert(k.into(), v.into());
    }
    let c = collector(config, false, None);
    let name = "Kafka";
    // Each attempt waits out librdkafka's request timeout (5 s): allow a few on a busy machine.
    let s = common::wait_within(&c, "auth failed on the board", Duration::from_secs(45), |s| {
        s.sources.iter().any(|src| {
            src.name == name
                && src.address == b
                && matches!(&src.state, SourceState::Failed(m) if m.starts_with("auth failed"))
        })
    });
    let connection = &s.kafka.clusters()[&b].connection;
    assert_eq!(connection.state, ConnectionState::AuthFailed);
    let message = connection.message.clone().unwrap();
    assert!(message.contains("SASL"), "the reason is shown: {message}");
    assert!(!format!("{s:?}").contains("hunter2"), "no secret reaches the snapshot");
}

#[test]
fn a_group_whose_offsets_are_refused_says_why() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 1, 1).unwrap();
    produce(&b, "orders", 0, 5, now_ms());
    commit(&b, "billing", "orders", 0, 1);
    mock.request_errors(
        RDKafkaApiKey::OffsetFetch,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED; 1000],
    );
    let c = collector(watch(&b, &["billing"]), false, None);
    let s = wait_for(&c, "the refusal on the group", |s| {
        s.kafka.clusters().get(&b).and_then(|c| c.groups.get("billing")).is_some_and(|g| g.offsets_error.is_some())
    });
    let error = s.kafka.clusters()[&b].groups["billing"].offsets_error.clone().unwrap();
    assert!(error.contains("GroupAuthorizationFailed") || error.contains("uthoriz"), "{error}");
    assert!(edge_lag(&s, "orders", "billing").is_none(), "no lag is made up");
}
