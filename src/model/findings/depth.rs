//! Depth: a RabbitMQ queue or a JetStream consumer whose depth status (`docs/brokers.md`)
//! turns WARN, STALL or STOP. Depth is to these brokers what lag is to Kafka, so these are
//! lag findings, under the same rules as a Kafka group's: STALL and STOP count at once (they
//! already rest on the status window), a WARN once it held for two polls and at least 100
//! messages wait.

use std::collections::BTreeMap;

use super::finding::{Evidence, Finding, FindingKind, LagEvidence, Location, Severity};
use super::lag::{WARN_MIN_LAG_OFFSETS, WARN_SAMPLES};
use crate::model::depth::DepthStatus;

/// One queue's or consumer's depth at a poll, as the broker models report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepthRow {
    /// The queue or stream, as the graph names its destination (`billing`, `shop/billing`,
    /// `ORDERS`).
    pub destination: String,
    /// The JetStream consumer; `None` for a RabbitMQ queue (its consumers share it).
    pub consumer: Option<String>,
    /// The status after the newest poll.
    pub status: DepthStatus,
    /// Ready (pending) messages at the newest poll.
    pub ready: u64,
    /// Unacknowledged (ack-pending) messages at the newest poll.
    pub unacked: u64,
    /// When the newest poll was, Unix ms.
    pub at_ms: u64,
}

fn severity_of(status: DepthStatus) -> Option<Severity> {
    match status {
        DepthStatus::Warn => Some(Severity::Warning),
        DepthStatus::Stall | DepthStatus::Stop => Some(Severity::Error),
        DepthStatus::Unknown | DepthStatus::Ok => None,
    }
}

/// A status and for how many polls in a row.
#[derive(Clone, Copy, Debug, Default)]
struct Streak {
    status: DepthStatus,
    samples: u32,
    at_ms: u64,
    counted: bool,
}

/// One queue's or consumer's finding.
#[derive(Clone, Debug)]
struct Turned {
    severity: Severity,
    turns: u64,
    first: u64,
    last: u64,
    seen: Vec<&'static str>,
    row: DepthRow,
}

/// Depth statuses and when they turned bad, by (destination, consumer).
#[derive(Clone, Debug, Default)]
pub struct DepthDetector {
    streaks: BTreeMap<(String, Option<String>), Streak>,
    turned: BTreeMap<(String, Option<String>), Turned>,
}

impl DepthDetector {
    /// Takes in one poll's rows (received at `at`); true when a finding changed.
    pub fn apply(&mut self, rows: &[DepthRow], at: u64) -> bool {
        let mut changed = false;
        for row in rows {
            let key = (row.destination.clone(), row.consumer.clone());
            let before = self.streaks.get(&key).copied().unwrap_or_default();
            if row.at_ms == before.at_ms && row.status == before.status {
                continue;
            }
            let mut streak = if row.status == before.status {
                Streak { samples: before.samples + 1, at_ms: row.at_ms, ..before }
            } else {
                Streak { status: row.status, samples: 1, at_ms: row.at_ms, counted: false }
            };
            let needed = if row.status == DepthStatus::Warn { WARN_SAMPLES } else { 1 };
            let worth = row.status != DepthStatus::Warn || row.ready + row.unacked >= WARN_MIN_LAG_OFFSETS;
            let turns = !streak.counted && streak.samples >= needed && worth && severity_of(row.status).is_some();
            streak.counted |= turns;
            self.streaks.insert(key.clone(), streak);
            if let Some(entry) = self.turned.get_mut(&key) {
                // The numbers of a finding follow each poll.
                if entry.row != *row {
                    entry.row = row.clone();
                    changed = true;
                }
            }
            let Some(severity) = severity_of(row.status).filter(|_| turns) else { continue };
            let entry = self.turned.entry(key).or_insert_with(|| Turned {
                severity,
                turns: 0,
                first: at,
                last: at,
                seen: Vec::new(),
                row: row.clone(),
            });
            entry.turns += 1;
            entry.severity = entry.severity.max(severity);
            entry.last = at;
            if !entry.seen.contains(&row.status.as_str()) {
                entry.seen.push(row.status.as_str());
            }
            changed = true;
        }
        changed
    }

    /// Copies the findings into `out`.
    pub fn collect(&self, out: &mut Vec<Finding>) {
        for ((destination, consumer), t) in &self.turned {
            let r = &t.row;
            let what = if consumer.is_some() { ("pending", "ack pending") } else { ("ready", "unacked") };
            out.push(Finding {
                kind: FindingKind::Lag,
                severity: t.severity,
                count: t.turns,
                location: Location { group: consumer.clone(), ..Location::topic(destination) },
                summary: format!(
                    "was {}; now {} with {} messages waiting ({} {}, {} {})",
                    t.seen.join(", then "),
                    r.status.as_str(),
                    r.ready + r.unacked,
                    r.ready,
                    what.0,
                    r.unacked,
                    what.1
                ),
                first_seen_unix_nano: t.first,
                last_seen_unix_nano: t.last,
                evidence: Evidence {
                    lag: Some(LagEvidence {
                        status: r.status.as_str(),
                        offsets: r.ready + r.unacked,
                        time_ms: None,
                        time_to_clear_s: None,
                        partitions: Vec::new(),
                    }),
                    ..Evidence::default()
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: DepthStatus, ready: u64, at_ms: u64) -> DepthRow {
        DepthRow { destination: "billing".into(), consumer: None, status, ready, unacked: 2, at_ms }
    }

    fn findings(d: &DepthDetector) -> Vec<Finding> {
        let mut out = Vec::new();
        d.collect(&mut out);
        out
    }

    #[test]
    fn a_stalled_queue_is_a_finding_at_once_and_its_numbers_follow_the_polls() {
        let mut d = DepthDetector::default();
        assert!(!d.apply(&[row(DepthStatus::Ok, 0, 1_000)], 1));
        assert!(d.apply(&[row(DepthStatus::Stall, 4, 2_000)], 2));
        assert!(d.apply(&[row(DepthStatus::Stall, 6, 3_000)], 3));
        let out = findings(&d);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].kind, out[0].severity, out[0].count), (FindingKind::Lag, Severity::Error, 1));
        assert_eq!(out[0].summary, "was STALL; now STALL with 8 messages waiting (6 ready, 2 unacked)");
        assert_eq!(out[0].location.topic.as_deref(), Some("billing"));
    }

    #[test]
    fn a_short_or_shallow_warn_is_no_finding() {
        let mut d = DepthDetector::default();
        d.apply(&[row(DepthStatus::Warn, 500, 1_000)], 1);
        assert!(findings(&d).is_empty(), "one poll of WARN");
        d.apply(&[row(DepthStatus::Ok, 0, 2_000)], 2);
        d.apply(&[row(DepthStatus::Warn, 10, 3_000)], 3);
        d.apply(&[row(DepthStatus::Warn, 20, 4_000)], 4);
        assert!(findings(&d).is_empty(), "22 messages are not worth a warning");
        d.apply(&[row(DepthStatus::Warn, 200, 5_000)], 5);
        assert_eq!(findings(&d).first().map(|f| f.severity), Some(Severity::Warning));
    }
}
