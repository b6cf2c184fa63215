//! What a detector reports: a [`Finding`], its kind, severity, location and evidence.
//!
//! One shape for every detector, so the Findings tab, the flow graph's badges, the timeline's
//! markers and `eventlens findings --format json` all read the same thing. The JSON shape is
//! documented in `docs/findings.md`.

use serde::Serialize;

/// The failure modes EventLens names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A consumer processed the same message more than once (not after a failure).
    Duplicate,
    /// Events of one key were processed out of their order, or a key spans partitions.
    OutOfOrder,
    /// An event type's payload shape changed.
    SchemaChange,
    /// Messages landed in a dead-letter topic.
    DeadLetter,
    /// A consumer fails on the same message again and again.
    PoisonMessage,
    /// Messages processed again after failing.
    Retry,
    /// A failure followed by compensating events on the same key (a saga rolling back).
    Compensation,
    /// Synchronous calls made while processing an event, or cycles between services.
    SyncCoupling,
    /// A consumer group's lag status turned bad (Burrow's WARN, STALL, STOP, REWIND).
    Lag,
}

impl FindingKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [Self; 9] = [
        Self::Duplicate,
        Self::OutOfOrder,
        Self::SchemaChange,
        Self::DeadLetter,
        Self::PoisonMessage,
        Self::Retry,
        Self::Compensation,
        Self::SyncCoupling,
        Self::Lag,
    ];

    /// The stable snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::OutOfOrder => "out_of_order",
            Self::SchemaChange => "schema_change",
            Self::DeadLetter => "dead_letter",
            Self::PoisonMessage => "poison_message",
            Self::Retry => "retry",
            Self::Compensation => "compensation",
            Self::SyncCoupling => "sync_coupling",
            Self::Lag => "lag",
        }
    }
}

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing (retries that succeeded, a saga that rolled back).
    Info,
    /// Likely wrong, nothing lost yet.
    Warning,
    /// Messages failed, were lost to a dead-letter topic, or a consumer stopped.
    Error,
}

impl Severity {
    /// Lower-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// Where a finding is: whichever of these apply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// Topic (or other destination).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Consumer group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Message key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// Offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// Event type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
}

impl Location {
    /// A location on a topic.
    pub fn topic(topic: &str) -> Self {
        Self { topic: Some(topic.to_owned()), ..Self::default() }
    }

    /// With the consumer (group or service) set: a group when the span named one, else the
    /// service.
    pub fn with_consumer(mut self, consumer: &Consumer) -> Self {
        match consumer {
            Consumer::Group(g) => self.group = Some(g.clone()),
            Consumer::Service(s) => self.service = Some(s.clone()),
        }
        self
    }

    /// One line for tables: `topic · group · service · key …`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.topic {
            parts.push(t.clone());
        }
        if let Some(g) = &self.group {
            parts.push(format!("group {g}"));
        }
        if let Some(s) = &self.service {
            parts.push(s.clone());
        }
        if let Some(e) = &self.event_type {
            parts.push(e.clone());
        }
        if let Some(k) = &self.key {
            parts.push(format!("key {k}"));
        }
        match (self.partition, self.offset) {
            (Some(p), Some(o)) => parts.push(format!("{p}@{o}")),
            (Some(p), None) => parts.push(format!("partition {p}")),
            _ => {}
        }
        parts.join(" · ")
    }
}

/// Who consumed a message: its consumer group, or its service when the span named no group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Consumer {
    /// A consumer group (or subscription).
    Group(String),
    /// A consuming service.
    Service(String),
}

/// A message's place in a log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MessageRef {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// One field of an inferred payload shape, for the side-by-side diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShapeField {
    /// Dotted path (`customer.email`; `items[]` for array elements).
    pub path: String,
    /// JSON types seen (`string`, `number`, `integer`, `boolean`, `object`, `array`, `null`).
    pub types: Vec<&'static str>,
    /// In how many of the shape's messages the field was present, percent.
    pub presence_percent: u8,
}

/// How a schema change stands under Confluent Schema Registry's compatibility rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compatibility {
    /// Readers on either shape read data written with the other.
    Full,
    /// Readers on the new shape read old data (fields removed, optional ones added).
    Backward,
    /// Readers on the old shape read new data (fields added, optional ones removed).
    Forward,
    /// Neither (a required field renamed or a type changed).
    None,
}

/// The two shapes of a schema change, side by side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShapeDiff {
    /// The established shape.
    pub before: Vec<ShapeField>,
    /// The new shape.
    pub after: Vec<ShapeField>,
    /// Paths the new shape has and the old did not.
    pub added: Vec<String>,
    /// Paths the old shape always had and the new lacks.
    pub removed: Vec<String>,
    /// Paths whose type changed.
    pub changed: Vec<String>,
    /// The verdict under Schema Registry's rules.
    pub compatibility: Compatibility,
    /// The first message of the old shape, when it was read from a log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_before: Option<MessageRef>,
    /// The first message of the new shape, when it was read from a log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_after: Option<MessageRef>,
    /// The service that produced the first message of the new shape (from its `traceparent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub produced_by: Option<String>,
    /// Consumers whose failures on the topic began after the new shape first appeared.
    pub failing_consumers: Vec<String>,
}

/// Lag evidence: the status, the lag, and when it would clear at the current drain rate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LagEvidence {
    /// Burrow status name (`WARN`, `STALL`, `STOP`, `REWIND`).
    pub status: &'static str,
    /// Lag in offsets at the last poll.
    pub offsets: u64,
    /// Age of the oldest unconsumed message, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    /// Seconds until the lag clears at the rate it fell over the last polls; absent when it is
    /// not falling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_clear_s: Option<f64>,
    /// Partitions in that status.
    pub partitions: Vec<i32>,
}

/// What a finding rests on; each detector fills what it has.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// Traces (hex) whose journeys show the problem, the first few.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<String>,
    /// Messages that show it, the first few.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageRef>,
    /// Keys affected, the first few.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// The start of a payload involved (text, or a note that it is binary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// An exception class or error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A schema change's two shapes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<Box<ShapeDiff>>,
    /// A lag finding's numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<LagEvidence>,
    /// Steps in order (a compensation chain, a call path, a cycle).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    /// A dead-letter topic's backlog: what no consumer of it has read back yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhandled: Option<Unhandled>,
}

/// Dead letters not read back yet: written after the furthest committed offset of the groups
/// that read the dead-letter topic (all of them when no group reads it).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Unhandled {
    /// Dead letters waiting (at least this many, when `more` is set).
    pub count: u64,
    /// When the oldest waiting one was written, Unix ms, when its message said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_ms: Option<i64>,
    /// Groups reading the dead-letter topic; empty when none does.
    pub readers: Vec<String>,
    /// More waited than were remembered (the newest were not kept).
    pub more: bool,
}

/// How many examples evidence keeps of each sort.
pub const EVIDENCE_EXAMPLES: usize = 8;

impl Evidence {
    /// Adds a trace, keeping the first few (made only while there is room).
    pub fn add_trace(&mut self, trace: impl FnOnce() -> String) {
        push_bounded(&mut self.traces, trace);
    }

    /// Adds a message, keeping the first few.
    pub fn add_message(&mut self, message: impl FnOnce() -> MessageRef) {
        push_bounded(&mut self.messages, message);
    }

    /// Adds a key, keeping the first few.
    pub fn add_key(&mut self, key: impl FnOnce() -> String) {
        push_bounded(&mut self.keys, key);
    }
}

/// Examples are kept first come, so once a list is full an occurrence costs no allocation.
fn push_bounded<T: PartialEq>(list: &mut Vec<T>, item: impl FnOnce() -> T) {
    if list.len() >= EVIDENCE_EXAMPLES {
        return;
    }
    let item = item();
    if !list.contains(&item) {
        list.push(item);
    }
}

/// One named problem.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Which failure mode.
    pub kind: FindingKind,
    /// How bad.
    pub severity: Severity,
    /// How many: its meaning depends on the kind (see `docs/findings.md`).
    pub count: u64,
    /// Where.
    #[serde(flatten)]
    pub location: Location,
    /// One sentence for people.
    pub summary: String,
    /// First seen, Unix nanoseconds (receive time).
    pub first_seen_unix_nano: u64,
    /// Last seen, Unix nanoseconds (receive time).
    pub last_seen_unix_nano: u64,
    /// What it rests on.
    pub evidence: Evidence,
}

impl Finding {
    /// A new finding first and last seen at `at`.
    pub fn new(kind: FindingKind, severity: Severity, location: Location, at: u64) -> Self {
        Self {
            kind,
            severity,
            count: 0,
            location,
            summary: String::new(),
            first_seen_unix_nano: at,
            last_seen_unix_nano: at,
            evidence: Evidence::default(),
        }
    }

    /// Counts one more occurrence at `at`.
    pub fn touch(&mut self, at: u64) {
        self.count += 1;
        self.first_seen_unix_nano = self.first_seen_unix_nano.min(at);
        self.last_seen_unix_nano = self.last_seen_unix_nano.max(at);
    }
}

/// The order findings are listed in: worst first, then by kind and place.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.location.cmp(&b.location))
            .then(a.first_seen_unix_nano.cmp(&b.first_seen_unix_nano))
    });
}
