//! Compensation: a failure followed by compensating events on the same key (a saga rolling
//! back). A failure is an event whose type ends like a failure (`…Failed`, `…Rejected`,
//! `…Declined`, …) or a failed process span of a message with that key; a compensating event
//! is one whose type ends like an undoing (`…Cancelled`, `…Released`, `…Refunded`, …),
//! written after the failure (by the events' own timestamps, so the order in which topics are
//! read does not matter).

use smallvec::SmallVec;

use super::FindingsCounters;
use super::finding::{Finding, FindingKind, Location, Severity};
use super::payload::ReadPayload;
use super::table::{FindingTable, Memory, counters, key_of};
use crate::model::kafka::message::KafkaMessage;
use crate::model::messaging::MessagingOperation;
use crate::model::span::Span;

const FAILURE_SUFFIXES: [&str; 7] = ["Failed", "Rejected", "Declined", "Error", "Errored", "TimedOut", "Expired"];
const COMPENSATION_SUFFIXES: [&str; 11] = [
    "Cancelled",
    "Canceled",
    "Released",
    "Refunded",
    "Compensated",
    "Reverted",
    "RolledBack",
    "Reversed",
    "Voided",
    "Undone",
    "Revoked",
];
/// Compensating steps kept per key.
const MAX_STEPS: usize = 6;

/// Whether an event type names a failure.
pub fn is_failure_event(event_type: &str) -> bool {
    FAILURE_SUFFIXES.iter().any(|s| event_type.ends_with(s))
}

/// Whether an event type names an undoing.
pub fn is_compensation_event(event_type: &str) -> bool {
    COMPENSATION_SUFFIXES.iter().any(|s| event_type.ends_with(s))
}

/// A failure: what failed, where, when (its own time), its trace.
#[derive(Clone, Debug)]
struct Failure {
    what: String,
    topic: String,
    at: u64,
    trace: Option<String>,
}

/// What one key went through.
#[derive(Clone, Debug, Default)]
struct KeyChain {
    failure: Option<Failure>,
    steps: SmallVec<[(String, u64); 4]>,
    counted: bool,
}

impl KeyChain {
    /// What it holds beyond itself.
    fn heap_bytes(&self) -> usize {
        let failure = self
            .failure
            .as_ref()
            .map_or(0, |f| f.what.capacity() + f.topic.capacity() + f.trace.as_ref().map_or(0, String::capacity));
        let spilled = if self.steps.spilled() { self.steps.capacity() * size_of::<(String, u64)>() } else { 0 };
        failure + spilled + self.steps.iter().map(|(s, _)| s.capacity()).sum::<usize>()
    }
}

/// Sagas rolling back.
#[derive(Clone, Debug)]
pub struct CompensationDetector {
    keys: Memory<KeyChain>,
    findings: FindingTable,
}

impl CompensationDetector {
    /// Empty, remembering at most `max` keys.
    pub fn new(max: usize) -> Self {
        Self { keys: Memory::new(max), findings: FindingTable::default() }
    }

    /// A failed process span of a keyed message is a failure of that key.
    pub fn apply_span(&mut self, span: &Span, at: u64) -> bool {
        let Some(m) = &span.messaging else { return false };
        if m.operation != MessagingOperation::Process || !span.is_failure() {
            return false;
        }
        let (Some(key), Some(topic)) = (&m.message_key, &m.destination) else { return false };
        let failure = || Failure {
            what: format!("{} failed on {topic}", span.service()),
            topic: topic.clone(),
            at: span.start_unix_nano,
            trace: Some(span.trace_id.to_hex()),
        };
        self.step(key, Some((span.start_unix_nano, &failure)), None, at)
    }

    /// Takes in a message read from the log; true when a finding changed.
    pub fn apply_message(&mut self, message: &KafkaMessage, read: &ReadPayload, at: u64) -> bool {
        let (Some(key), Some(event_type)) = (&read.key, &read.event_type) else { return false };
        let written =
            message.timestamp_ms.and_then(|ms| u64::try_from(ms).ok()).map_or(at, |ms| ms.saturating_mul(1_000_000));
        if is_failure_event(event_type) {
            let failure = || Failure {
                what: event_type.to_string(),
                topic: message.topic.clone(),
                at: written,
                trace: message.links.trace.as_ref().map(|t| t.trace_id.to_hex()),
            };
            self.step(key, Some((written, &failure)), None, at)
        } else if is_compensation_event(event_type) {
            self.step(key, None, Some((event_type, written)), at)
        } else {
            false
        }
    }

    /// Takes in a failure of the key (when, and how to describe it: made only when it is the
    /// key's earliest, since a failing key fails again at every retry) or a compensating
    /// step (its event type, when it was written), updating the key's chain in place.
    fn step(
        &mut self,
        key_text: &str,
        failure: Option<(u64, &dyn Fn() -> Failure)>,
        compensation: Option<(&str, u64)>,
        at: u64,
    ) -> bool {
        let id = key_of(&key_text);
        let chain = self.keys.entry_or_insert_with(id, KeyChain::default);
        // The earliest failure explains what follows.
        if let Some((failed_at, failure)) = failure
            && chain.failure.as_ref().is_none_or(|f| failed_at < f.at)
        {
            chain.failure = Some(failure());
        }
        if let Some((what, written)) = compensation
            && chain.steps.len() < MAX_STEPS
            && !chain.steps.iter().any(|(t, _)| t == what)
        {
            chain.steps.push((what.to_owned(), written));
        }
        let mut changed = false;
        if let Some(failure) = &chain.failure {
            let mut after: SmallVec<[&(String, u64); 4]> =
                chain.steps.iter().filter(|(_, t)| *t >= failure.at).collect();
            after.sort_by_key(|(_, t)| *t);
            if !after.is_empty() {
                let key = key_of(&("saga", failure.topic.as_str(), failure.what.as_str()));
                let made = || {
                    let location =
                        Location { event_type: Some(failure.what.clone()), ..Location::topic(&failure.topic) };
                    Finding::new(FindingKind::Compensation, Severity::Info, location, at)
                };
                if let Some(f) = self.findings.entry(key, "saga", made) {
                    if !chain.counted {
                        f.touch(at);
                        chain.counted = true;
                    }
                    f.last_seen_unix_nano = f.last_seen_unix_nano.max(at);
                    f.evidence.add_key(|| key_text.to_owned());
                    if f.evidence.chain.len() < after.len() + 1 {
                        f.evidence.chain =
                            std::iter::once(failure.what.clone()).chain(after.iter().map(|(t, _)| t.clone())).collect();
                    }
                    if let Some(trace) = &failure.trace {
                        f.evidence.add_trace(|| trace.clone());
                    }
                    changed = true;
                }
            }
        }
        changed
    }

    /// Copies the findings into `out`.
    pub fn collect(&self, out: &mut Vec<Finding>) {
        self.findings.collect(out, |_, f| {
            let failure = f.location.event_type.as_deref().unwrap_or("a failure");
            format!("{} keys rolled back after {failure}: {}", f.count, f.evidence.chain.join(" → "))
        });
    }

    /// The bytes its memory and findings hold (see [`super::memory`]).
    pub fn heap_bytes(&self) -> usize {
        self.keys.heap_bytes_with(KeyChain::heap_bytes) + self.findings.heap_bytes()
    }

    /// What of [`CompensationDetector::heap_bytes`] `other` holds too.
    pub fn shared_bytes(&self, other: &Self) -> usize {
        self.keys.shared_bytes_with(&other.keys, KeyChain::heap_bytes)
    }

    /// What the bounds dropped.
    pub fn counters(&self) -> FindingsCounters {
        counters(&self.keys, &self.findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::payload::FieldPlan;
    use crate::model::findings::testing::message;

    fn feed(d: &mut CompensationDetector, topic: &str, offset: i64, key: &str, event_type: &str) {
        let payload = format!(r#"{{"type":"{event_type}"}}"#);
        let m = message(topic, 0, offset, key, payload.as_bytes());
        d.apply_message(&m, &ReadPayload::of(&m, &FieldPlan::default()), 1);
    }

    fn findings(d: &CompensationDetector) -> Vec<Finding> {
        let mut out = Vec::new();
        d.collect(&mut out);
        out
    }

    #[test]
    fn a_failure_then_cancellations_on_the_key_is_a_saga_rolling_back() {
        let mut d = CompensationDetector::new(100);
        // Read out of order across topics: the cancellation's topic first.
        feed(&mut d, "orders", 20, "o-1", "OrderCancelled");
        feed(&mut d, "payments", 10, "o-1", "PaymentFailed");
        feed(&mut d, "inventory", 30, "o-1", "StockReleased");
        let f = findings(&d);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].kind, f[0].count), (FindingKind::Compensation, 1));
        assert_eq!(f[0].evidence.chain, ["PaymentFailed", "OrderCancelled", "StockReleased"]);
        assert_eq!(f[0].location.event_type.as_deref(), Some("PaymentFailed"));
    }

    #[test]
    fn a_cancellation_without_a_failure_or_before_it_is_not_compensation() {
        let mut d = CompensationDetector::new(100);
        feed(&mut d, "orders", 1, "o-2", "OrderCancelled");
        feed(&mut d, "orders", 2, "o-3", "OrderPlaced");
        feed(&mut d, "payments", 3, "o-3", "PaymentProcessed");
        assert!(findings(&d).is_empty());
        // The failure comes after the cancellation (by timestamps): no rollback.
        feed(&mut d, "payments", 9, "o-2", "PaymentFailed");
        assert!(findings(&d).is_empty());
    }
}
