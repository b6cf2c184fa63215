//! What the UI (or a headless driver) may ask of the engine.

use crate::model::journey::JourneyId;

/// A request to the engine, applied between record batches.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Hold the view at the newest moment (or where playback is); ingest and recording go
    /// on.
    Pause,
    /// Follow the newest state again.
    Resume,
    /// Show the session as it was at this moment (Unix nanoseconds); pauses there.
    Seek(u64),
    /// Move the shown moment forward at `speed` times real time (from the start when at the
    /// end); it follows once it reaches the newest record.
    Play {
        /// Speed, 0.1 to 100.
        speed: f32,
    },
    /// Show this journey's waterfall (or none): the engine lays it out and keeps it current.
    SelectJourney(Option<JourneyId>),
    /// Start recording to this file (what the timeline holds so far first, then everything
    /// that arrives), or with `None` finish the recording.
    Record(Option<std::path::PathBuf>),
    /// Write what the timeline holds to this file as a session file (a recording that runs
    /// goes on).
    SaveAs(std::path::PathBuf),
    /// Finish: drain what is queued, flush the recording, stop the thread.
    Shutdown,
}
