//! Lag: a consumer group's partitions turning WARN, STALL, STOP or REWIND under Burrow's
//! rules (computed by the Kafka model, see `docs/lag.md`), with an estimate of when the lag
//! clears at the rate it fell over the last polls. A partition that STALLs on a message its
//! group's process spans keep failing on is also a poison message.

use std::collections::BTreeMap;

use super::finding::{Evidence, Finding, FindingKind, LagEvidence, Location, MessageRef, Severity};
use super::processing::ProcessingDetector;
use crate::model::kafka::{ClusterState, LagStatus};

/// Polls of the summed lag the drain rate is read over.
const DRAIN_WINDOW: usize = 5;
/// Samples in a row a partition must stay WARN before it is a finding: a consumer warming up
/// (or a burst) makes a short WARN that clears on its own. STALL, STOP and REWIND already
/// rest on a whole window of samples, so they count at once.
pub const WARN_SAMPLES: u32 = 2;
/// A WARN is a finding only when its lag is worth a warning: the oldest unconsumed message at
/// least this old...
pub const WARN_MIN_LAG_MS: u64 = 5_000;
/// ...or, where its age is unknown, at least this many messages behind.
pub const WARN_MIN_LAG_OFFSETS: u64 = 100;

fn severity_of(status: LagStatus) -> Option<Severity> {
    match status {
        LagStatus::Warn | LagStatus::Rewind => Some(Severity::Warning),
        LagStatus::Stall | LagStatus::Stop => Some(Severity::Error),
        LagStatus::Unknown | LagStatus::Ok => None,
    }
}

/// One group on one topic.
#[derive(Clone, Debug)]
struct GroupTopic {
    severity: Severity,
    /// Partitions that turned bad, counted at each turn.
    turns: u64,
    first: u64,
    last: u64,
    /// Bad statuses seen, in order of first sight.
    seen: Vec<&'static str>,
    lag: LagEvidence,
}

/// A partition's status, for how many samples in a row, and its newest sample's time.
#[derive(Clone, Copy, Debug, Default)]
struct Streak {
    status: LagStatus,
    samples: u32,
    at_ms: u64,
    counted: bool,
}

/// Lag statuses and when they turned bad.
#[derive(Clone, Debug, Default)]
pub struct LagDetector {
    statuses: BTreeMap<(String, String, String, i32), Streak>,
    groups: BTreeMap<(String, String), GroupTopic>,
}

impl LagDetector {
    /// Compares each partition's status with the last poll's; true when a finding changed.
    pub fn apply(
        &mut self,
        clusters: &BTreeMap<String, ClusterState>,
        at: u64,
        processing: &mut ProcessingDetector,
    ) -> bool {
        let mut changed = false;
        for (cluster_name, cluster) in clusters {
            for (group, state) in &cluster.groups {
                for ((topic, partition), lag) in &state.partitions {
                    let status = lag.status();
                    let key = (cluster_name.clone(), group.clone(), topic.clone(), *partition);
                    let at_ms = lag.latest().map_or(0, |s| s.at_ms);
                    let before = self.statuses.get(&key).copied().unwrap_or_default();
                    if at_ms == before.at_ms && status == before.status {
                        continue;
                    }
                    let mut streak = if status == before.status {
                        Streak { samples: before.samples + 1, at_ms, ..before }
                    } else {
                        Streak { status, samples: 1, at_ms, counted: false }
                    };
                    if status == LagStatus::Stall
                        && let Some(sample) = lag.latest()
                    {
                        let place = MessageRef { topic: topic.clone(), partition: *partition, offset: sample.offset };
                        changed |= processing.note_stall(group, &place, at);
                    }
                    let needed = if status == LagStatus::Warn { WARN_SAMPLES } else { 1 };
                    let worth = status != LagStatus::Warn
                        || lag.latest().is_some_and(|s| match s.lag_ms {
                            Some(ms) => ms >= WARN_MIN_LAG_MS,
                            None => s.lag >= WARN_MIN_LAG_OFFSETS,
                        });
                    let turned = !streak.counted && streak.samples >= needed && worth;
                    if turned {
                        streak.counted = true;
                    }
                    self.statuses.insert(key, streak);
                    let Some(severity) = severity_of(status) else { continue };
                    if !turned {
                        continue;
                    }
                    let entry = self.groups.entry((group.clone(), topic.clone())).or_insert_with(|| GroupTopic {
                        severity,
                        turns: 0,
                        first: at,
                        last: at,
                        seen: Vec::new(),
                        lag: LagEvidence {
                            status: status.as_str(),
                            offsets: 0,
                            time_ms: None,
                            time_to_clear_s: None,
                            partitions: Vec::new(),
                        },
                    });
                    entry.turns += 1;
                    entry.severity = entry.severity.max(severity);
                    entry.last = at;
                    if !entry.seen.contains(&status.as_str()) {
                        entry.seen.push(status.as_str());
                    }
                    changed = true;
                }
                // The numbers of every group that has a finding follow each poll.
                for ((g, topic), entry) in self.groups.range_mut((group.clone(), String::new())..) {
                    if g != group {
                        break;
                    }
                    let worst = state
                        .partitions
                        .iter()
                        .filter(|((t, _), _)| t == topic)
                        .map(|(_, l)| l.status())
                        .max_by_key(|s| severity_of(*s).map_or(0, |s| s as u8 + 1))
                        .unwrap_or_default();
                    let bad: Vec<i32> = state
                        .partitions
                        .iter()
                        .filter(|((t, _), l)| t == topic && severity_of(l.status()).is_some())
                        .map(|((_, p), _)| *p)
                        .collect();
                    let Some(summed) = state.topics.get(topic) else { continue };
                    let recent: Vec<&(u64, u64)> = summed.history.iter().rev().take(DRAIN_WINDOW).collect();
                    let time_to_clear_s = match (recent.first(), recent.last()) {
                        (Some((t1, now)), Some((t0, then))) if t1 > t0 && then > now => {
                            let per_s = (then - now) as f64 / ((t1 - t0) as f64 / 1000.0);
                            Some(*now as f64 / per_s)
                        }
                        _ => None,
                    };
                    let lag = LagEvidence {
                        status: worst.as_str(),
                        offsets: summed.offsets,
                        time_ms: summed.time_ms,
                        time_to_clear_s,
                        partitions: bad,
                    };
                    if lag != entry.lag {
                        entry.lag = lag;
                        changed = true;
                    }
                }
            }
        }
        changed
    }

    /// Copies the findings into `out`.
    pub fn collect(&self, out: &mut Vec<Finding>) {
        for ((group, topic), g) in &self.groups {
            let clears = match g.lag.time_to_clear_s {
                Some(s) => format!("clears in about {s:.0} s at the current rate"),
                None if g.lag.offsets == 0 => "caught up".to_owned(),
                None => "not draining".to_owned(),
            };
            let age = g.lag.time_ms.map(|ms| format!(", oldest {:.1} s", ms as f64 / 1000.0)).unwrap_or_default();
            out.push(Finding {
                kind: FindingKind::Lag,
                severity: g.severity,
                count: g.turns,
                location: Location { group: Some(group.clone()), ..Location::topic(topic) },
                summary: format!(
                    "was {}; now {} with lag {}{age}: {clears}",
                    g.seen.join(", then "),
                    g.lag.status,
                    g.lag.offsets
                ),
                first_seen_unix_nano: g.first,
                last_seen_unix_nano: g.last,
                evidence: Evidence { lag: Some(g.lag.clone()), ..Evidence::default() },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::KafkaModel;
    use crate::model::kafka::KafkaRecord;
    use crate::model::kafka::observation::{CommittedOffset, KafkaEvent, OffsetPoll, Watermark};

    fn poll(at_ms: u64, high: i64, committed: i64) -> KafkaRecord {
        KafkaRecord {
            cluster: "c".into(),
            received_unix_nano: at_ms * 1_000_000,
            event: KafkaEvent::Offsets(OffsetPoll {
                watermarks: vec![Watermark { topic: "orders".into(), partition: 0, low: 0, high }],
                commits: vec![CommittedOffset {
                    group: "shipping".into(),
                    topic: "orders".into(),
                    partition: 0,
                    offset: committed,
                    oldest_unconsumed_ms: None,
                }],
            }),
        }
    }

    #[test]
    fn a_short_warn_is_no_finding_and_a_lasting_one_is() {
        let mut kafka = KafkaModel::default();
        let mut d = LagDetector::default();
        let mut p = ProcessingDetector::new(10, 3);
        let mut findings = |kafka: &KafkaModel, d: &mut LagDetector, i: u64| {
            d.apply(kafka.clusters(), i, &mut p);
            let mut out = Vec::new();
            d.collect(&mut out);
            out
        };
        // Lag 1, 2, 3 (WARN from the third sample), then caught up.
        for (i, (high, committed)) in [(10, 9), (20, 18), (30, 27), (40, 40)].into_iter().enumerate() {
            kafka.apply(&poll(1_000 * i as u64, high, committed));
            assert!(findings(&kafka, &mut d, i as u64).is_empty(), "sample {i}");
        }
        // Falling behind for good: WARN sample after sample.
        let mut out = Vec::new();
        // (the caught-up sample leaves the ten-sample window first).
        for i in 4..24_u64 {
            kafka.apply(&poll(1_000 * i, 40 + 30 * i as i64, 40 + 5 * i as i64));
            out = findings(&kafka, &mut d, i);
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!((out[0].severity, out[0].count), (Severity::Warning, 1));
    }

    #[test]
    fn a_group_that_stops_committing_is_a_lag_finding_and_a_steady_one_is_not() {
        let mut kafka = KafkaModel::default();
        let mut d = LagDetector::default();
        let mut p = ProcessingDetector::new(10, 3);
        // Keeping up: lag goes to zero at every poll.
        for i in 0..12 {
            kafka.apply(&poll(1_000 * i, 10 * i as i64, 10 * i as i64));
            d.apply(kafka.clusters(), i, &mut p);
        }
        let mut out = Vec::new();
        d.collect(&mut out);
        assert!(out.is_empty(), "{out:?}");
        // Stuck at 110 while the log grows.
        for i in 12..30 {
            kafka.apply(&poll(1_000 * i, 10 * i as i64, 110));
            d.apply(kafka.clusters(), i, &mut p);
        }
        d.collect(&mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].kind, FindingKind::Lag);
        assert_eq!(out[0].location.group.as_deref(), Some("shipping"));
        let lag = out[0].evidence.lag.clone();
        assert!(lag.as_ref().is_some_and(|l| l.offsets > 0 && l.time_to_clear_s.is_none()), "{lag:?}");
    }
}
