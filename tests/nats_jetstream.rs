//! The NATS source against a real `nats-server -js` on 127.0.0.1: streams and consumers drawn
//! in the graph, exact pending and ack-pending counts (the numbers the server's own API
//! reports), the depth statuses, a recording replayed, a server restarted mid-session, and a
//! durable consumer meeting the service whose spans read the stream's subjects.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use common::nats::NatsServer;
use common::{start_collector_with, wait_for};
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::engine::Snapshot;
use eventlens::engine::snapshot::{ConsumerDepth, SourceState};
use eventlens::export::graph::replay_file;
use eventlens::ingest::nats::NatsConfig;
use eventlens::ingest::otlp::OtlpConfig;
use eventlens::model::depth::DepthStatus;
use eventlens::model::findings::FindingKind;
use eventlens::model::flow_graph::{EdgeKind, NodeKind};
use tokio_stream::StreamExt;

const POLL: Duration = Duration::from_millis(150);

fn collector(url: &str, recording: Option<std::path::PathBuf>) -> Collector {
    let mut nats = NatsConfig::new(url).unwrap();
    nats.poll_interval = POLL;
    start_collector_with(CollectorConfig {
        publish_interval: Some(Duration::from_millis(20)),
        nats: vec![nats],
        recording,
        ..CollectorConfig::default()
    })
}

/// The depth of `consumer` on the consume edge out of `nats/<stream>`.
fn depth(s: &Snapshot, stream: &str, consumer: &str) -> Option<ConsumerDepth> {
    let from = s.nodes.iter().find(|n| n.label == format!("nats/{stream}"))?.id;
    s.edges
        .iter()
        .filter(|e| e.from == from && e.kind == EdgeKind::Consumes)
        .flat_map(|e| e.depth.iter())
        .find(|d| d.consumer == consumer)
        .cloned()
}

/// A client of the server, as an application is: makes the stream, publishes, consumes.
struct App {
    runtime: tokio::runtime::Runtime,
    js: jetstream::Context,
}

impl App {
    fn connect(url: &str) -> Self {
        Self::connect_with(url, async_nats::ConnectOptions::new())
    }

    fn connect_with(url: &str, options: async_nats::ConnectOptions) -> Self {
        let runtime = common::exporter_runtime();
        let js = runtime.block_on(async { jetstream::new(options.connect(url).await.unwrap()) });
        Self { runtime, js }
    }

    fn orders_stream(&self) {
        self.runtime.block_on(async {
            let config = stream::Config {
                name: "ORDERS".into(),
                subjects: vec!["orders.>".into()],
                ..stream::Config::default()
            };
            self.js.create_stream(config).await.unwrap();
        });
    }

    fn publish(&self, n: usize) {
        self.runtime.block_on(async {
            for i in 0..n {
                let ack = self.js.publish("orders.created", format!("{{\"order\":{i}}}").into()).await.unwrap();
                ack.await.unwrap();
            }
        });
    }

    fn durable(&self, name: &str) -> consumer::PullConsumer {
        self.durable_of(name, "")
    }

    /// A durable consumer of the subjects `filter` takes (empty: all the stream stores).
    fn durable_of(&self, name: &str, filter: &str) -> consumer::PullConsumer {
        self.runtime.block_on(async {
            let stream = self.js.get_stream("ORDERS").await.unwrap();
            let config = consumer::pull::Config {
                durable_name: Some(name.into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(600),
                filter_subject: filter.into(),
                ..consumer::pull::Config::default()
            };
            stream.create_consumer(config).await.unwrap()
        })
    }

    /// Fetches `n` messages and acknowledges the first `ack` of them (waiting for the
    /// server to confirm each acknowledgement).
    fn fetch(&self, consumer: &consumer::PullConsumer, n: usize, ack: usize) {
        self.runtime.block_on(async {
            let mut batch = consumer.fetch().max_messages(n).messages().await.unwrap();
            let mut i = 0;
            while let Some(message) = batch.next().await {
                let message = message.unwrap();
                if i < ack {
                    message.double_ack().await.unwrap();
                }
                i += 1;
            }
            assert_eq!(i, n, "fetched");
        });
    }

    /// (pending, ack pending, redelivered) as the server reports them.
    fn reported(&self, consumer: &mut consumer::PullConsumer) -> (u64, u64, u64) {
        self.runtime.block_on(async {
            let info = consumer.info().await.unwrap();
            (info.num_pending, info.num_ack_pending as u64, info.num_redelivered as u64)
        })
    }
}

#[test]
fn streams_consumers_and_their_exact_depths_reach_the_graph_and_the_recording() {
    let Some(server) = NatsServer::start("streams_consumers_and_their_exact_depths_reach_the_graph_and_the_recording")
    else {
        return;
    };
    let app = App::connect(&server.url());
    app.orders_stream();
    app.publish(10);
    let mut billing = app.durable("billing");
    let mut audit = app.durable("audit");
    app.fetch(&billing, 4, 1);
    let billing_reported = app.reported(&mut billing);
    let audit_reported = app.reported(&mut audit);
    assert_eq!(billing_reported, (6, 3, 0));
    assert_eq!(audit_reported, (10, 0, 0));

    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("nats.jsonl");
    let collector = collector(&server.url(), Some(recording.clone()));
    let s = wait_for(&collector, "both consumers' depths", |s| {
        depth(s, "ORDERS", "billing").is_some() && depth(s, "ORDERS", "audit").is_some()
    });
    let b = depth(&s, "ORDERS", "billing").unwrap();
    assert_eq!((b.pending, b.ack_pending, b.redelivered), billing_reported);
    let a = depth(&s, "ORDERS", "audit").unwrap();
    assert_eq!((a.pending, a.ack_pending, a.redelivered), audit_reported);
    // Nothing takes messages from either: ready messages and no consumer.
    assert_eq!((a.status, b.status), (DepthStatus::Stop, DepthStatus::Stop));
    let stream = s.nodes.iter().find(|n| n.label == "nats/ORDERS").unwrap();
    assert_eq!(stream.kind, NodeKind::Destination);
    let consumers: Vec<&str> =
        s.edges.iter().filter(|e| e.from == stream.id).filter_map(|e| s.node(e.to).map(|n| n.label.as_str())).collect();
    assert_eq!(consumers.len(), 2, "{consumers:?}");
    assert!(consumers.contains(&"nats consumer billing") && consumers.contains(&"nats consumer audit"));
    let server_state = s.nats.get(&server.url()).expect("the server by its URL");
    let orders = &server_state.streams["ORDERS"];
    assert_eq!((orders.info.messages, orders.info.first_seq, orders.info.last_seq), (10, 1, 10));

    // A consumer that keeps taking messages and never acknowledges one stalls (the
    // publishes keep messages ready for it).
    let stalled = wait_for(&collector, "billing to stall", |s| {
        app.publish(1);
        app.fetch(&billing, 1, 0);
        depth(s, "ORDERS", "billing").is_some_and(|d| d.status == DepthStatus::Stall)
    });
    let b = depth(&stalled, "ORDERS", "billing").unwrap();
    assert!(b.ack_pending > 3 && b.max_ack_pending >= b.ack_pending, "{b:?}");
    let finding = stalled.findings.findings.iter().find(|f| f.location.group.as_deref() == Some("billing")).cloned();
    let finding = finding.expect("billing's lag finding");
    assert_eq!((finding.kind, finding.location.topic.as_deref()), (FindingKind::Lag, Some("ORDERS")));
    assert!(finding.summary.contains("then STALL") && finding.summary.contains("ack pending"), "{}", finding.summary);

    // Quiet now: the polls show what the server reports, billing stops (nothing takes its
    // ready messages any more), and the recording replays to the same.
    let (billing_reported, audit_reported) = (app.reported(&mut billing), app.reported(&mut audit));
    wait_for(&collector, "the quiet server's numbers, billing stopped", |s| {
        let now = |c| depth(s, "ORDERS", c).map(|d| (d.pending, d.ack_pending, d.redelivered));
        now("billing") == Some(billing_reported)
            && now("audit") == Some(audit_reported)
            && depth(s, "ORDERS", "billing").is_some_and(|d| d.status == DepthStatus::Stop)
    });
    let summary = collector.shutdown();
    assert!(summary.recorded > 0, "{summary:?}");
    let replayed = replay_file(&recording).unwrap().snapshot;
    let now = |c| depth(&replayed, "ORDERS", c).map(|d| (d.pending, d.ack_pending, d.redelivered));
    assert_eq!((now("billing"), now("audit")), (Some(billing_reported), Some(audit_reported)));
    let b = depth(&replayed, "ORDERS", "billing").unwrap();
    assert_eq!(b.status, DepthStatus::Stop, "{b:?}");
}

#[test]
fn a_restarted_server_is_reconnected_and_polled_again() {
    let Some(mut server) = NatsServer::start("a_restarted_server_is_reconnected_and_polled_again") else { return };
    let app = App::connect(&server.url());
    app.orders_stream();
    app.publish(2);
    let _audit = app.durable("audit");
    let collector = collector(&server.url(), None);
    wait_for(&collector, "the first poll", |s| depth(s, "ORDERS", "audit").is_some_and(|d| d.pending == 2));
    let board_name = format!("NATS {}", server.url());
    let source = |s: &Snapshot| s.sources.iter().find(|x| x.name == board_name).map(|x| x.state.clone());
    server.stop();
    wait_for(&collector, "the server to be reported down", |s| matches!(source(s), Some(SourceState::Failed(_))));
    server.restart();
    // The application's client reconnects by itself too.
    app.publish(3);
    let s = wait_for(&collector, "polls after the restart", |s| {
        depth(s, "ORDERS", "audit").is_some_and(|d| d.pending == 5) && source(s) == Some(SourceState::Listening)
    });
    assert_eq!(depth(&s, "ORDERS", "audit").map(|d| d.max_pending), Some(5));
}

#[test]
fn refused_credentials_say_auth_failed_and_right_ones_in_the_url_are_never_shown() {
    let args = ["--user", "watcher", "--pass", "right-pass"];
    let Some(server) = NatsServer::start_with("refused_credentials_say_auth_failed", &args) else { return };
    let with = |password: &str| server.url().replacen("nats://", &format!("nats://watcher:{password}@"), 1);
    let refused = collector(&with("wrong-pass"), None);
    let s = wait_for(&refused, "auth failed", |s| {
        s.sources.iter().any(|x| matches!(&x.state, SourceState::Failed(m) if m.starts_with("auth failed")))
    });
    assert!(s.nats.get(&server.url()).is_some_and(|n| n.streams.is_empty()));
    drop(refused);

    let login = async_nats::ConnectOptions::with_user_and_password("watcher".into(), "right-pass".into());
    let app = App::connect_with(&server.url(), login);
    app.orders_stream();
    app.publish(1);
    let _audit = app.durable("audit");
    let accepted = collector(&with("right-pass"), None);
    let s = wait_for(&accepted, "a poll with the right password", |s| depth(s, "ORDERS", "audit").is_some());
    let shown = format!("{:?} {:?}", s.sources, s.nats.keys().collect::<Vec<_>>());
    assert!(!shown.contains("right-pass") && shown.contains(&server.url()), "{shown}");
}

#[test]
fn record_watches_a_server_and_graph_reports_the_depth_it_recorded() {
    let args = ["--user", "watcher", "--pass", "hunter2"];
    let Some(server) = NatsServer::start_with("record_watches_a_server_and_graph_reports_the_depth", &args) else {
        return;
    };
    let login = async_nats::ConnectOptions::with_user_and_password("watcher".into(), "hunter2".into());
    let app = App::connect_with(&server.url(), login);
    app.orders_stream();
    app.publish(5);
    let billing = app.durable("billing");
    app.fetch(&billing, 2, 0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nats.jsonl");
    // The login as `nats --user` and `--password` take it (the URL way is tested above).
    let url = server.url();
    let login = ["--nats-user", "watcher", "--nats-password", "hunter2"];
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eventlens"))
        .args(["--no-otlp", "record", "--duration", "2s", "--nats", &url, "--nats-poll", "200ms"])
        .args(login)
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(!recorded.contains("hunter2") && !stderr.contains("hunter2"), "the password stays out");
    assert!(recorded.contains("\"kind\":\"nats\""));

    let graph = |format: &str| common::graph_output(&file, format);
    let doc: serde_json::Value = serde_json::from_str(&graph("json")).unwrap();
    let edge = doc["edges"].as_array().unwrap().iter().find(|e| e["kind"] == "consumes").expect("consume edge");
    assert_eq!(
        (edge["from_name"].as_str(), edge["to_name"].as_str()),
        (Some("nats/ORDERS"), Some("nats consumer billing"))
    );
    let depth = &edge["depth"][0];
    assert_eq!(
        (depth["consumer"].as_str(), depth["pending"].as_u64(), depth["ack_pending"].as_u64()),
        (Some("billing"), Some(3), Some(2))
    );
    assert_eq!(depth["status"], "STOP");
    assert!(graph("dot").contains("pending 3 + 2 unacked (STOP)"));
}

#[test]
fn a_server_named_in_the_clusters_file_is_watched_with_cluster() {
    let Some(server) = NatsServer::start("a_server_named_in_the_clusters_file_is_watched_with_cluster") else {
        return;
    };
    let app = App::connect(&server.url());
    app.orders_stream();
    let dir = tempfile::tempdir().unwrap();
    let clusters = dir.path().join("clusters.toml");
    std::fs::write(&clusters, format!("[nats.local]\nurl = \"{}\"\npoll_interval = \"200ms\"\n", server.url()))
        .unwrap();
    let file = dir.path().join("named.jsonl");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eventlens"))
        .args(["--no-otlp", "record", "--duration", "1s", "--cluster", "local", "--clusters-file"])
        .arg(&clusters)
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(recorded.contains("\"kind\":\"nats\"") && recorded.contains("\"name\":\"ORDERS\""), "{recorded}");
}

#[test]
fn the_message_browser_reads_a_stream_by_sequence_filters_it_and_tails_it() {
    use eventlens::ingest::browse::{BrowseKind, BrowseRequest, StartAt};
    use eventlens::model::kafka::message::MessageFilter;
    let Some(server) = NatsServer::start("the_message_browser_reads_a_stream_by_sequence") else { return };
    let app = App::connect(&server.url());
    app.orders_stream();
    app.runtime.block_on(async {
        for (i, subject) in ["orders.created", "orders.paid", "orders.created", "orders.paid"].iter().enumerate() {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("traceparent", format!("00-{:032x}-{:016x}-01", i + 1, i + 1).as_str());
            let payload = format!("{{\"order\":{i}}}");
            app.js.publish_with_headers(*subject, headers, payload.into()).await.unwrap().await.unwrap();
        }
    });
    let c = collector(&server.url(), None);
    let handle = c.browsers().into_iter().find(|b| b.kind == BrowseKind::Nats).expect("a JetStream reader");
    assert_eq!(handle.cluster, server.url());
    let request = |start, filter, follow| BrowseRequest {
        topic: "ORDERS".into(),
        partition: None,
        start,
        filter,
        follow,
        limit: 1_000,
    };

    // Each read is a new browse, with an id above the last one seen.
    let mut last = 0;
    let mut read = |request: BrowseRequest, what: &str, done: &dyn Fn(&Snapshot) -> bool| {
        assert!(handle.start(request));
        let s = wait_for(&c, what, |s| s.kafka.browser.browse > last && done(s));
        last = s.kafka.browser.browse;
        s
    };

    let s = read(request(StartAt::Latest(3), MessageFilter::default(), false), "the last three", &|s| {
        s.kafka.browser.progress.done && s.kafka.browser.len() == 3
    });
    let read_back: Vec<(i64, String, String)> = (0..3)
        .filter_map(|i| s.kafka.browser.get(i))
        .map(|m| {
            let text = |b: &Option<Vec<u8>>| String::from_utf8(b.clone().unwrap_or_default()).unwrap();
            (m.offset, text(&m.key), text(&m.payload))
        })
        .collect();
    assert_eq!(
        read_back,
        [
            (2, "orders.paid".into(), "{\"order\":1}".into()),
            (3, "orders.created".into(), "{\"order\":2}".into()),
            (4, "orders.paid".into(), "{\"order\":3}".into()),
        ]
    );
    let first = s.kafka.browser.get(0).unwrap();
    assert_eq!(first.header_text("traceparent"), Some(format!("00-{:032x}-{:016x}-01", 2, 2).as_str()));
    assert!(first.links.trace.is_some(), "traceparent is read as for Kafka");
    assert_eq!(s.kafka.browser.progress.scanned, 3);
    let third_at = s.kafka.browser.get(1).and_then(|m| m.timestamp_ms).unwrap();

    // From a time: the first message at or after it (messages of the same millisecond too).
    let s =
        read(request(StartAt::Timestamp(third_at), MessageFilter::default(), false), "from the third's time", &|s| {
            s.kafka.browser.progress.done
        });
    let first = s.kafka.browser.get(0).unwrap();
    assert!(first.offset <= 3 && first.timestamp_ms >= Some(third_at), "{first:?}");
    assert_eq!(s.kafka.browser.len() as i64, 4 - first.offset + 1);

    // The subject is the key: filtering on it.
    let paid = MessageFilter { key: Some("paid".into()), ..MessageFilter::default() };
    let s = read(request(StartAt::Earliest, paid, false), "the paid ones", &|s| s.kafka.browser.progress.done);
    assert_eq!((s.kafka.browser.progress.scanned, s.kafka.browser.len(), s.kafka.browser.progress.matched), (4, 2, 2));
    // A subject pattern is the server's to match: only the messages on it are read at all.
    let pattern = MessageFilter { key: Some("*.paid".into()), ..MessageFilter::default() };
    let s = read(request(StartAt::Earliest, pattern, false), "the paid ones by subject", &|s| {
        s.kafka.browser.progress.done
    });
    assert_eq!((s.kafka.browser.progress.scanned, s.kafka.browser.len()), (2, 2));
    assert!((0..2).filter_map(|i| s.kafka.browser.get(i)).all(|m| m.key.as_deref() == Some(b"orders.paid".as_slice())));

    // From a sequence, tailing: a message published after the start arrives.
    read(request(StartAt::Offset(4), MessageFilter::default(), true), "sequence 4", &|s| s.kafka.browser.len() == 1);
    app.publish(1);
    let s = wait_for(&c, "the new message", |s| s.kafka.browser.len() == 2);
    assert_eq!(s.kafka.browser.get(1).map(|m| m.offset), Some(5));
    assert!(!s.kafka.browser.progress.done, "a tail runs until stopped");
    assert!(handle.stop());
    wait_for(&c, "the tail stopped", |s| s.kafka.browser.progress.done);

    // A stream that is not there says so.
    let nope = BrowseRequest { topic: "NOPE".into(), ..request(StartAt::Earliest, MessageFilter::default(), false) };
    let s = read(nope, "the error", &|s| s.kafka.browser.progress.error.is_some());
    assert!(
        s.kafka.browser.progress.error.as_deref().is_some_and(|e| e.contains("NOPE")),
        "{:?}",
        s.kafka.browser.progress
    );
}

#[test]
fn a_durable_consumer_meets_the_service_whose_spans_read_its_streams_subjects() {
    let Some(server) = NatsServer::start("a_durable_consumer_meets_the_service_whose_spans_read_its_streams_subjects")
    else {
        return;
    };
    let app = App::connect(&server.url());
    app.orders_stream();
    app.publish(4);
    let _shipping = app.durable("shipping-worker");
    let _audit = app.durable("audit");
    let _paid = app.durable_of("ledger", "orders.paid");
    let mut nats = NatsConfig::new(&server.url()).unwrap();
    nats.poll_interval = POLL;
    let collector = start_collector_with(CollectorConfig {
        otlp: Some(OtlpConfig { grpc: None, http: Some(common::loopback()), max_request_bytes: 4 << 20 }),
        publish_interval: Some(Duration::from_millis(20)),
        nats: vec![nats],
        ..CollectorConfig::default()
    });
    wait_for(&collector, "both consumers on nodes of their own", |s| {
        ["nats consumer shipping-worker", "nats consumer audit"].iter().all(|c| s.nodes.iter().any(|n| n.label == *c))
    });

    // The shipping service's spans name the subject, no consumer group: its name is part of
    // the durable consumer's, and the consumer joins it at the next poll.
    common::consumer_spans(collector.http_addr.unwrap(), "shipping", ("nats", "orders.created"), None);
    let s = wait_for(&collector, "shipping-worker's depth on the edge to shipping", |s| {
        let to = |label: &str| s.nodes.iter().find(|n| n.label == label).map(|n| n.id);
        let (Some(stream), Some(shipping)) = (to("nats/ORDERS"), to("shipping")) else { return false };
        s.edges
            .iter()
            .any(|e| e.from == stream && e.to == shipping && e.depth.iter().any(|d| d.consumer == "shipping-worker"))
    });
    assert_eq!(depth(&s, "ORDERS", "shipping-worker").map(|d| d.pending), Some(4));
    let labels: Vec<&str> = s.nodes.iter().map(|n| n.label.as_str()).collect();
    assert!(!labels.contains(&"nats consumer shipping-worker"), "{labels:?}");
    assert!(labels.contains(&"nats consumer audit"), "nothing says who audit is: {labels:?}");
    assert!(labels.contains(&"nats/orders.created"), "{labels:?}");
    // The filter as the server reports it.
    let stream = &s.nats.get(&server.url()).expect("the server").streams["ORDERS"];
    let ledger = stream.consumers.get("ledger").expect("the ledger's consumer");
    assert_eq!(ledger.info.filter_subjects, ["orders.paid"]);
    collector.shutdown();
}

#[test]
fn an_nkey_seed_file_logs_in_as_nats_nkey_does_and_a_wrong_seed_says_auth_failed() {
    let dir = tempfile::tempdir().unwrap();
    let user = nkeys::KeyPair::new_user();
    let config = dir.path().join("server.conf");
    std::fs::write(&config, format!("authorization {{ users = [ {{ nkey: {} }} ] }}\n", user.public_key())).unwrap();
    let config = config.to_str().unwrap().to_owned();
    let Some(server) = NatsServer::start_with("an_nkey_seed_file_logs_in", &["-c", &config]) else { return };
    let seed = user.seed().unwrap();
    let app = App::connect_with(&server.url(), async_nats::ConnectOptions::with_nkey(seed.clone()));
    app.orders_stream();
    let _audit = app.durable("audit");

    let watch = |seed: &str| {
        let file = dir.path().join(format!("{}.nk", &seed[..8]));
        std::fs::write(&file, format!("{seed}\n")).unwrap();
        let mut nats = NatsConfig::new(&server.url()).unwrap();
        nats.poll_interval = POLL;
        nats.nkey = Some(file);
        start_collector_with(CollectorConfig {
            publish_interval: Some(Duration::from_millis(20)),
            nats: vec![nats],
            ..CollectorConfig::default()
        })
    };
    // A seed file that is not there: said, with its path, as a login that cannot be made.
    let mut missing = NatsConfig::new(&server.url()).unwrap();
    missing.nkey = Some(dir.path().join("gone.nk"));
    let unreadable = start_collector_with(CollectorConfig { nats: vec![missing], ..CollectorConfig::default() });
    wait_for(&unreadable, "the missing seed file named", |s| {
        s.sources.iter().any(|x| {
            matches!(&x.state, SourceState::Failed(m)
                if m.starts_with("auth failed") && m.contains("cannot read the NKey seed file") && m.contains("gone.nk"))
        })
    });
    drop(unreadable);
    let stranger = nkeys::KeyPair::new_user().seed().unwrap();
    let refused = watch(&stranger);
    wait_for(&refused, "auth failed for a seed the server does not know", |s| {
        s.sources.iter().any(|x| matches!(&x.state, SourceState::Failed(m) if m.starts_with("auth failed")))
    });
    drop(refused);
    let accepted = watch(&seed);
    wait_for(&accepted, "a poll signed with the user's seed", |s| depth(s, "ORDERS", "audit").is_some());
}
