//! What the UI (or a headless driver) may ask of the engine.

/// A request to the engine, applied between record batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Freeze the published view; ingest and recording go on.
    Pause,
    /// Publish live updates again.
    Resume,
    /// Finish: drain what is queued, flush the recording, stop the thread.
    Shutdown,
}
