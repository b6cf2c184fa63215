//! The engine: the single writer. It owns the model, applies records from the sources,
//! writes the recording, and publishes read-only [`Snapshot`]s for the UI.
//!
//! - [`EngineState`] (`state.rs`): the flow, Kafka and findings models and the journeys,
//!   applying records to them, and a snapshot of them. Used alone to replay a file.
//! - [`EngineThread`] and [`EngineHandle`] (`thread.rs`): the engine's own thread, its loop
//!   (commands, records within a time budget, publishing) and the handle the UI holds.
//! - `recording.rs`: recordings started from the window, their caps, Save as.
//! - `cursor.rs`: the timeline's cursor (pause, seek, play) and the state published at it;
//!   [`playback`] holds the log and checkpoints it is built from.
//! - `helper.rs`: a helper thread, the only writer of one store, fed in order; [`journeys`]
//!   (the journey thread) and `findings.rs` (the findings thread) run on it.
//! - [`snapshot`]: what is published; [`command`]: what the UI may ask;
//!   [`finding_badges`]: findings drawn on the graph.
//!
//! This file holds the engine's settings ([`EngineConfig`]), what it reports when it stops
//! ([`EngineSummary`]) and the paths the rest of the crate uses.

mod broker_snapshot;
pub mod command;
mod cursor;
pub mod finding_badges;
mod findings;
mod helper;
pub mod journeys;
pub mod playback;
mod recording;
pub mod snapshot;
mod state;
mod thread;

use std::sync::Arc;
use std::time::Duration;

pub use command::Command;
pub use journeys::Journeys;
pub use snapshot::Snapshot;
pub use state::EngineState;
pub use thread::{EngineHandle, EngineThread};

use crate::capture::recorder::{Recorder, RecordingLimits};
use crate::model::findings::FindingsSettings;
use crate::model::journey::JourneySettings;

// `messaging.system` of Kafka topics and groups: the flow graph's Kafka part draws with it;
// this path stays for the collector and the UI.
pub use crate::model::flow_graph::KAFKA_SYSTEM;

/// Called after each publish, e.g. to wake the UI.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

// The source board is in `crate::pipeline`, where sources write it; this path stays for the
// collector.
pub use crate::pipeline::sources::SourceBoard;

/// Engine settings.
pub struct EngineConfig {
    /// How often a snapshot is published while records arrive.
    pub publish_interval: Duration,
    /// Where to record, if anywhere.
    pub recording: Option<Recorder>,
    /// Caps for recordings started from the window.
    pub recording_limits: RecordingLimits,
    /// Called after each publish.
    pub waker: Option<Waker>,
    /// Journey assembly and retention.
    pub journeys: JourneySettings,
    /// Compute rates at the newest record's receive time instead of the wall clock: for
    /// replaying a recorded session, whose records are from the past.
    pub session_clock: bool,
    /// Fields masked in every record before it is applied or recorded.
    pub redaction: crate::model::redact::Redaction,
    /// Spans the timeline keeps for scrubbing (0: no timeline; Pause then freezes the view).
    pub timeline_spans: usize,
    /// What the findings detectors read and remember.
    pub findings: FindingsSettings,
    /// The memory budget: the timeline (records and checkpoints), the message browser and
    /// the flow graph keep within their shares of it (journeys through
    /// [`JourneySettings::max_bytes`]).
    pub memory_budget: crate::model::size::MemoryBudget,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            publish_interval: Duration::from_millis(100),
            recording: None,
            recording_limits: RecordingLimits::default(),
            waker: None,
            journeys: JourneySettings::default(),
            session_clock: false,
            redaction: crate::model::redact::Redaction::default(),
            timeline_spans: playback::DEFAULT_TIMELINE_SPANS,
            findings: FindingsSettings::default(),
            memory_budget: crate::model::size::MemoryBudget::default(),
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("publish_interval", &self.publish_interval)
            .field("recording", &self.recording.as_ref().map(Recorder::path))
            .finish_non_exhaustive()
    }
}

/// What the engine reports when it stops.
#[derive(Debug, Clone, Default)]
pub struct EngineSummary {
    /// Records applied.
    pub records: u64,
    /// Spans applied.
    pub spans: u64,
    /// Records written to the recording.
    pub recorded: u64,
    /// The recording error, if writing failed.
    pub recording_error: Option<String>,
    /// Why the recording stopped early at one of its caps (not an error).
    pub recording_capped: Option<String>,
    /// Names folded into the flow graph's overflow nodes because the graph was at its share
    /// of the memory budget.
    pub graph_folded: u64,
}
