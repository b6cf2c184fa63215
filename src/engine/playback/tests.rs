//! The session log's tests: states at any index, the caps (spans, bytes of records and of
//! checkpoints), the density and hostile receive times.

use super::*;
use crate::model::record::{SourceKind, SpanBatch};
use crate::testing::producer;

fn record(second: u64, id: u64) -> Record {
    Record::Spans(SpanBatch {
        received_unix_nano: second * 1_000_000_000,
        source: SourceKind::File,
        spans: vec![producer("checkout", "kafka", "orders", u128::from(id), id)],
    })
}

fn spans(state: &EngineState) -> u64 {
    state.model.counters().spans
}

#[test]
fn the_state_at_any_index_matches_applying_that_many_records() {
    let mut head = EngineState::default();
    let mut log = SessionLog::new(usize::MAX).eager();
    for i in 0..5_000 {
        let r = record(1_000 + i / 100, i + 1);
        head.apply(&r);
        log.push(Arc::new(r), &head);
    }
    assert!(log.checkpoints() >= 2, "{}", log.checkpoints());
    for target in [0, 1, 1_999, 2_000, 2_001, 4_999, 5_000] {
        let (at, state) = log.state_at(target, None);
        assert_eq!((at, spans(&state)), (target, target));
    }
    // Forward from a current state, and back behind it.
    let (at, state) = log.state_at(3_000, Some(log.state_at(2_500, None)));
    assert_eq!((at, spans(&state)), (3_000, 3_000));
    let (at, state) = log.state_at(100, Some((at, state)));
    assert_eq!((at, spans(&state)), (100, 100));
    assert_eq!(log.index_at(1_010 * 1_000_000_000), 1_100);
}

#[test]
fn over_the_cap_the_oldest_records_go_and_the_timeline_starts_later() {
    let mut head = EngineState::default();
    let mut log = SessionLog::new(3_000).eager();
    for i in 0..8_000 {
        let r = record(1_000 + i / 100, i + 1);
        head.apply(&r);
        log.push(Arc::new(r), &head);
    }
    assert!(log.len() <= 3_000 + CHECKPOINT_RECORDS, "{}", log.len());
    assert_eq!(SessionLog::new(1).with_checkpoint_every(0).checkpoint_records, 1);
    let (start, end) = log.span().unwrap();
    assert!(start > 1_000 * 1_000_000_000);
    assert_eq!(end, 1_079 * 1_000_000_000);
    let view = log.view(end, PlaybackMode::Paused);
    assert!(view.dropped_records > 0);
    assert_eq!(view.start_unix_nano, start);
    // The state at the newest record still counts everything ever applied.
    let (_, state) = log.state_at(u64::MAX, None);
    assert_eq!(spans(&state), 8_000);
}

#[test]
fn message_batches_count_by_their_bytes_and_the_oldest_go_past_the_share() {
    use crate::model::kafka::{KafkaEvent, KafkaMessage, KafkaRecord, MessageBatch};
    let message = |offset: i64| KafkaMessage {
        topic: "orders".into(),
        partition: 0,
        offset,
        timestamp_ms: None,
        timestamp_type: Default::default(),
        key: None,
        headers: Vec::new(),
        payload: Some(vec![b'x'; 64 * 1024]),
        size: 64 * 1024,
        links: Default::default(),
    };
    let mut head = EngineState::default();
    // Whatever checkpoints cost: no span among these records, so only bytes bring them.
    let mut log = SessionLog::new(usize::MAX).with_max_bytes(4 << 20);
    for i in 0..400_i64 {
        let batch = MessageBatch { browse: 0, topic: "orders".into(), messages: vec![message(i)], progress: None };
        let r = Record::Kafka(KafkaRecord {
            cluster: "local".into(),
            received_unix_nano: (1_000 + i as u64) * 1_000_000_000,
            event: KafkaEvent::Messages(batch),
        });
        head.apply(&r);
        log.push(Arc::new(r), &head);
        // Over by at most the records since the last checkpoint (an eighth of the share).
        assert!(log.bytes_kept() <= (4 << 20) + (4 << 20) / 8 + 70 * 1024, "{} at {i}", log.bytes_kept());
    }
    let view = log.view(u64::MAX, PlaybackMode::Paused);
    assert!(view.dropped_records > 300, "{}", view.dropped_records);
    assert_eq!(log.len() as u64 + view.dropped_records, 400);
}

#[test]
fn density_and_failure_steps() {
    let mut head = EngineState::default();
    let mut log = SessionLog::new(usize::MAX).eager();
    for second in 0..10 {
        let mut r = record(2_000 + second, second + 1);
        if second == 6
            && let Record::Spans(b) = &mut r
        {
            b.spans[0].status = crate::model::span::StatusCode::Error;
        }
        head.apply(&r);
        log.push(Arc::new(r), &head);
    }
    let view = log.view(2_002 * 1_000_000_000, PlaybackMode::Paused);
    assert_eq!(view.bins.len(), 10);
    assert_eq!(view.bins[6], TimelineBin { spans: 1, failures: 1, records: 1 });
    assert_eq!(view.next_failure(), Some(2_006 * 1_000_000_000));
    assert_eq!(view.previous_failure(), None);
    let later = log.view(2_009 * 1_000_000_000, PlaybackMode::Paused);
    assert_eq!(later.next_failure(), None);
    assert_eq!(later.previous_failure(), Some(2_006 * 1_000_000_000));
}

#[test]
fn hostile_receive_times_never_size_the_density_index() {
    const NOW: u64 = 1_763_817_600;
    const YEAR_2200: u64 = 7_258_118_400;
    let mut head = EngineState::default();
    let mut log = SessionLog::new(usize::MAX);
    let mut push = |log: &mut SessionLog, at: u64, id: u64| {
        let mut r = record(0, id);
        if let Record::Spans(b) = &mut r {
            b.received_unix_nano = at;
        }
        head.apply(&r);
        log.push(Arc::new(r), &head);
    };
    // A record without a time, then today: the timeline starts today, one bin a second.
    push(&mut log, 0, 1);
    for i in 0..10 {
        push(&mut log, (NOW + i) * NANOS_PER_SECOND, i + 2);
    }
    assert!(log.seconds.len() <= 10, "{}", log.seconds.len());
    let view = log.view(0, PlaybackMode::Paused);
    assert_eq!((view.start_unix_nano, view.bins.len()), (NOW * NANOS_PER_SECOND, 10));
    assert_eq!(view.bins.iter().map(|b| b.records).sum::<u32>(), 11);
    assert_eq!(view.cursor_unix_nano, NOW * NANOS_PER_SECOND);
    assert_eq!(log.index_at(log.span().unwrap().0), 2, "the timeless record is at the start");
    // The year 2200, time running backwards, the end of u64 and back to 0.
    let mut id = 100;
    for at in [YEAR_2200 * NANOS_PER_SECOND, NOW * NANOS_PER_SECOND, 5, u64::MAX, 0, NOW * NANOS_PER_SECOND] {
        push(&mut log, at, id);
        id += 1;
    }
    for i in 0..1_000 {
        let at = [0, (NOW - i) * NANOS_PER_SECOND, (YEAR_2200 + i * 3_600) * NANOS_PER_SECOND][i as usize % 3];
        push(&mut log, at, id);
        id += 1;
    }
    assert_eq!(log.len(), 11 + 6 + 1_000, "every record is kept");
    assert!(log.seconds.len() as u64 <= MAX_DENSITY_SECONDS, "{}", log.seconds.len());
    let view = log.view(u64::MAX, PlaybackMode::Paused);
    assert!(view.bins.len() <= TIMELINE_BINS, "{}", view.bins.len());
    assert_eq!(view.bins.iter().map(|b| u64::from(b.records)).sum::<u64>(), 1_017, "every record is counted");
    assert!(view.end_unix_nano - view.start_unix_nano <= MAX_DENSITY_SECONDS * NANOS_PER_SECOND);
    let (_, state) = log.state_at(u64::MAX, None);
    assert_eq!(spans(&state), 1_017);
}

/// A producer span to one of `topics` topics a second, so the graph (and each checkpoint's
/// copy of it) holds that many topic nodes and edges.
fn to_topics(i: u64, topics: u64) -> Record {
    Record::Spans(SpanBatch {
        received_unix_nano: (1_000 + i) * 1_000_000_000,
        source: SourceKind::File,
        spans: vec![producer("checkout", "kafka", &format!("topic-{}", i % topics), u128::from(i + 1), i + 1)],
    })
}

#[test]
fn checkpoints_count_against_the_share_with_the_records_and_the_oldest_go_first() {
    const SHARE: usize = 2 << 20;
    let mut head = EngineState::default();
    let mut log = SessionLog::new(usize::MAX).with_max_bytes(SHARE).with_checkpoint_every(25).eager();
    let mut largest_record = 0;
    for i in 0..400 {
        let r = to_topics(i, 10);
        largest_record = largest_record.max(r.total_bytes());
        head.apply(&r);
        log.push(Arc::new(r), &head);
        // Over by at most the records since the last checkpoint (an eighth of the share).
        let kept = log.bytes_kept() + log.checkpoint_bytes();
        assert!(kept <= SHARE + SHARE / 8 + largest_record, "{kept} at {i}");
    }
    // A copy of the graph (ten topics: eleven nodes, ten edges, mostly statistics) is
    // hundreds of kilobytes, the records a few tens: the checkpoints made the log drop.
    let copy = head.timeline_bytes();
    assert!(copy > 200_000, "{copy}");
    assert!(log.bytes_kept() < SHARE / 8, "{}", log.bytes_kept());
    assert!(log.checkpoints() >= 2 && log.checkpoints() <= SHARE / copy + 1, "{}", log.checkpoints());
    // Dropped oldest first, and counted as records are.
    let view = log.view(u64::MAX, PlaybackMode::Paused);
    assert!(view.dropped_records > 100, "{}", view.dropped_records);
    assert_eq!(log.len() as u64 + view.dropped_records, 400);
    assert!(log.span().unwrap().0 > 1_100 * 1_000_000_000);
    // Every state the log still reaches is right.
    let (at, state) = log.state_at(0, None);
    assert_eq!((at, spans(&state)), (view.dropped_records, view.dropped_records));
    let (_, state) = log.state_at(u64::MAX, None);
    assert_eq!(spans(&state), 400);
}

#[test]
fn states_rebuilt_from_the_start_fold_the_names_the_head_folded() {
    use crate::model::flow_graph::NODE_BYTES;
    let mut head = EngineState::default();
    head.set_graph_budget(8 * NODE_BYTES);
    let mut log = SessionLog::new(usize::MAX).starting_from(&head);
    for i in 0..100 {
        let r = to_topics(i, 100);
        head.apply(&r);
        log.push(Arc::new(r), &head);
    }
    assert_eq!(log.checkpoints(), 1, "only the start: the state below is replayed from it");
    let folded = head.model().counters().names_folded;
    assert!(folded > 90, "{folded}");
    let (_, state) = log.state_at(u64::MAX, None);
    assert_eq!(state.model().counters().names_folded, folded);
}

#[test]
fn a_checkpoint_counts_the_kafka_clusters_lag_histories() {
    use crate::model::kafka::KafkaRecord;
    use crate::model::kafka::lag::LagSample;
    use crate::model::kafka::observation::{CommittedOffset, KafkaEvent, OffsetPoll, Watermark};
    let poll = |i: u64| {
        Record::Kafka(KafkaRecord {
            cluster: "c".into(),
            received_unix_nano: (1_000 + i) * 1_000_000_000,
            event: KafkaEvent::Offsets(OffsetPoll {
                watermarks: (0..10)
                    .map(|p| Watermark { topic: "orders".into(), partition: p, low: 0, high: i as i64 })
                    .collect(),
                commits: (0..10)
                    .map(|p| CommittedOffset {
                        group: "shipping".into(),
                        topic: "orders".into(),
                        partition: p,
                        offset: i as i64 / 2,
                        oldest_unconsumed_ms: None,
                    })
                    .collect(),
            }),
        })
    };
    let mut head = EngineState::default();
    head.apply(&poll(0));
    let before = head.timeline_bytes();
    for i in 1..=500 {
        head.apply(&poll(i));
    }
    // Ten partitions, 500 more samples each: the copy a checkpoint keeps holds them all.
    let grown = head.timeline_bytes() - before;
    assert!(grown >= 10 * 499 * size_of::<LagSample>(), "{before} -> {}", head.timeline_bytes());
}

/// Export requests as the OTLP receiver turns them into records.
fn realistic(seed: u64) -> Record {
    Record::Spans(SpanBatch {
        received_unix_nano: (1_000 + seed) * 1_000_000_000,
        source: SourceKind::OtlpGrpc,
        spans: crate::testing::realistic_spans(64, seed),
    })
}

#[test]
fn the_kept_records_come_back_exactly_as_they_were_pushed() {
    use crate::model::kafka::testing::message;
    use crate::model::kafka::{KafkaEvent, KafkaRecord, MessageBatch};
    let mut head = EngineState::default();
    let mut log = SessionLog::new(usize::MAX);
    let mut pushed = Vec::new();
    for seed in 0..50 {
        let mut r = realistic(seed);
        if seed == 7 {
            r = Record::Spans(SpanBatch {
                received_unix_nano: 1_007 * 1_000_000_000,
                source: SourceKind::File,
                spans: crate::testing::saga_spans(),
            });
        }
        if seed == 9 {
            let batch = MessageBatch {
                browse: 0,
                topic: "orders".into(),
                messages: vec![message("orders", 0, 3, "k", b"{}")],
                progress: None,
            };
            r = Record::Kafka(KafkaRecord {
                cluster: "local".into(),
                received_unix_nano: 1_009 * 1_000_000_000,
                event: KafkaEvent::Messages(batch),
            });
        }
        head.apply(&r);
        pushed.push(r.clone());
        log.push(Arc::new(r), &head);
    }
    let kept: Vec<Record> = log.records().map(|r| r.unwrap().into_owned()).collect();
    assert_eq!(kept, pushed);
    assert_eq!(log.undecodable(), 0);
}

#[test]
fn spans_are_kept_in_a_fraction_of_their_size_and_the_dictionary_counts() {
    let head = EngineState::default();
    let mut log = SessionLog::new(usize::MAX);
    let mut arrived = 0;
    for seed in 0..200 {
        let r = realistic(seed);
        arrived += r.total_bytes();
        log.push(Arc::new(r), &head);
    }
    let dictionary = log.dictionary.bytes();
    assert!(dictionary > 0);
    assert_eq!(log.bytes_kept(), log.bytes_kept + dictionary);
    // The estimate counts what the records hold; packed, the log keeps a small part of it.
    assert!(log.bytes_kept() * 5 < arrived, "{} packed against {arrived}", log.bytes_kept());
}

#[test]
fn checkpoints_in_a_row_count_what_they_share_once() {
    // 150,000 producers: more than half the default join memory (262,144), so its first
    // generation freezes and the checkpoints after that share it.
    let batch = |i: u64| {
        Record::Spans(SpanBatch {
            received_unix_nano: (1_000 + i) * 1_000_000_000,
            source: SourceKind::File,
            spans: (0..1_000).map(|k| producer("checkout", "kafka", "orders", 1, i * 1_000 + k + 1)).collect(),
        })
    };
    let mut head = EngineState::default();
    let mut log = SessionLog::new(usize::MAX).with_checkpoint_every(4).eager();
    for i in 0..150 {
        let r = batch(i);
        head.apply(&r);
        log.push(Arc::new(r), &head);
    }
    // More were taken than are kept: the closest went, and their neighbours were measured again.
    assert_eq!(log.checkpoints(), MAX_CHECKPOINTS);
    let checkpoints: Vec<&Checkpoint> = log.checkpoints.iter().collect();
    // Taken every 4 records: 38 with the start, 6 thinned out, each widening one gap to 8.
    let gaps: Vec<u64> = checkpoints.windows(2).map(|w| w[1].applied - w[0].applied).collect();
    assert!(gaps.iter().all(|g| *g <= 8) && gaps.iter().filter(|g| **g > 4).count() <= 6, "{gaps:?}");
    let full: usize = checkpoints.iter().map(|c| c.state.timeline_bytes()).sum();
    let shared: Vec<usize> = checkpoints.windows(2).map(|w| w[1].state.timeline_shared_bytes(&w[0].state)).collect();
    assert!(shared.iter().filter(|s| **s > 1_000_000).count() >= 3, "{shared:?}");
    assert_eq!(log.checkpoint_bytes(), full - shared.iter().sum::<usize>());
    // What a checkpoint shares with the one before it is shared with the head too, until
    // the head's memories turn over again.
    let newest = checkpoints[checkpoints.len() - 1];
    assert!(head.timeline_shared_bytes(&newest.state) > 1_000_000);
    // Every state is still right.
    let (_, state) = log.state_at(75, None);
    assert_eq!(spans(&state), 75_000);
}
