//! What the UI (or a headless driver) may ask of the engine.

use crate::model::journey::JourneyId;

/// A request to the engine, applied between record batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Freeze the published view; ingest and recording go on.
    Pause,
    /// Publish live updates again.
    Resume,
    /// Show this journey's waterfall (or none): the engine lays it out and keeps it current.
    SelectJourney(Option<JourneyId>),
    /// Finish: drain what is queued, flush the recording, stop the thread.
    Shutdown,
}
