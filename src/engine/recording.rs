//! Recording on the engine thread: starting a recording from the window (the timeline's
//! records first, then each record as it is applied), finishing it, stopping it when it cannot
//! be written, checking its caps at each publish, Save as (the timeline's records to a file of
//! their own), and the recording's status in the snapshot. The file itself is written by
//! [`Recorder`].

use std::path::Path;

use super::playback::SessionLog;
use super::snapshot::RecordingStatus;
use super::thread::EngineLoop;
use crate::capture::recorder::{Checked, Recorder, RecordingLimits};
use crate::capture::writer::CaptureWriteError;
use crate::pipeline::clock::unix_nanos_now;

/// A recording that is no longer written: finished from the window or stopped at a cap.
pub(super) struct FinishedRecording {
    /// Its file, as shown.
    path: String,
    /// Records written to it.
    records: u64,
}

impl EngineLoop {
    /// Starts a recording asked for from the window: the timeline's records so far, then
    /// everything that arrives. A recording already running goes on.
    pub(super) fn start_recording(&mut self, path: &Path) {
        if self.config.recording.is_some() {
            return;
        }
        let written = self.write_log(path, self.config.recording_limits.clone()).and_then(|mut writer| {
            writer.flush_and_check(unix_nanos_now())?;
            Ok(writer)
        });
        match written {
            Ok(writer) => {
                self.summary.recording_error = None;
                self.summary.recording_capped = None;
                self.finished_recording = None;
                self.config.recording = Some(writer);
            }
            Err(e) => {
                tracing::error!("{e}");
                self.summary.recording_error = Some(e.to_string());
            }
        }
    }

    /// A recording at `path` that starts where the timeline does: the log's records so far.
    fn write_log(&self, path: &Path, limits: RecordingLimits) -> Result<Recorder, CaptureWriteError> {
        let created = self.log.as_ref().and_then(SessionLog::span).map_or_else(unix_nanos_now, |(start, _)| start);
        let mut recorder = Recorder::create(path, created, limits)?;
        for record in self.log.iter().flat_map(SessionLog::records) {
            match record {
                Ok(record) => recorder.append(&record)?,
                // A bug, not the user's data: the rest is still saved.
                Err(e) => tracing::error!("{e}; the saved file leaves that record out"),
            }
        }
        Ok(recorder)
    }

    /// Writes the timeline's records to `path`, beside any recording that runs.
    pub(super) fn save_as(&mut self, path: &Path) {
        if self.log.is_none() {
            self.notice = Some("nothing to save: the timeline is off (--timeline-spans 0)".into());
            return;
        }
        let written = self.write_log(path, RecordingLimits::default()).and_then(Recorder::finish);
        self.notice = Some(match written {
            Ok(1) => format!("saved 1 record to {}", path.display()),
            Ok(records) => format!("saved {records} records to {}", path.display()),
            Err(e) => {
                tracing::error!("{e}");
                format!("not saved: {e}")
            }
        });
    }

    /// Finishes the recording, if one runs; the file stays shown as saved.
    pub(super) fn finish_recording(&mut self) {
        let Some(writer) = self.config.recording.take() else { return };
        let path = writer.path().display().to_string();
        // What the file keeps if finishing fails: it is then cut back to its last flush.
        let flushed = writer.records_flushed();
        let records = match writer.finish() {
            Ok(records) => records,
            Err(e) => {
                self.summary.recording_error = Some(e.to_string());
                flushed
            }
        };
        self.summary.recorded = records;
        self.finished_recording = Some(FinishedRecording { path, records });
    }

    /// Finishes the recording as the engine stops: an error already reported stays the one
    /// the summary names.
    pub(super) fn close_recording(&mut self) {
        if let Some(writer) = self.config.recording.take() {
            let flushed = writer.records_flushed();
            match writer.finish() {
                Ok(records) => self.summary.recorded = records,
                Err(e) => {
                    self.summary.recorded = flushed;
                    self.summary.recording_error.get_or_insert(e.to_string());
                }
            }
        }
    }

    /// A recording that cannot be written (a full disk) stops; the session goes on and says
    /// why. The file is cut back to its last flush, so it ends with a complete record, and
    /// the status names it and counts what it holds.
    pub(super) fn stop_recording(&mut self, error: &CaptureWriteError) {
        tracing::error!("{error}; recording stopped");
        self.summary.recording_error = Some(error.to_string());
        if let Some(recorder) = self.config.recording.take() {
            let path = recorder.path().display().to_string();
            let records = recorder.abandon();
            self.summary.recorded = records;
            self.finished_recording = Some(FinishedRecording { path, records });
        }
    }

    /// Flushes the recording and applies its caps (before each publish): at a cap it stops,
    /// or the recorder has started the next file of its ring.
    pub(super) fn check_recording(&mut self) {
        let now = unix_nanos_now();
        match self.config.recording.as_mut().map(|r| r.flush_and_check(now)) {
            Some(Err(e)) => self.stop_recording(&e),
            Some(Ok(Checked::Stopped(reason))) => {
                tracing::warn!("{reason}");
                if let Some(recorder) = self.config.recording.take() {
                    self.finished_recording = Some(FinishedRecording {
                        path: recorder.path().display().to_string(),
                        records: recorder.records(),
                    });
                    self.summary.recorded = recorder.records();
                }
                self.summary.recording_capped = Some(reason);
            }
            Some(Ok(Checked::Fine | Checked::Rotated)) | None => {}
        }
    }

    /// What the top bar shows about recording: the one running, or the last one and how it
    /// ended.
    pub(super) fn recording_status(&self) -> Option<RecordingStatus> {
        match (&self.config.recording, &self.summary.recording_error) {
            (Some(w), _) => Some(RecordingStatus {
                path: w.path().display().to_string(),
                active: true,
                records: w.records(),
                limits: w.limits(),
                error: None,
            }),
            (None, Some(error)) => Some(RecordingStatus {
                path: self.finished_recording.as_ref().map(|f| f.path.clone()).unwrap_or_default(),
                active: false,
                limits: None,
                records: self.summary.recorded,
                error: Some(error.clone()),
            }),
            (None, None) => self.finished_recording.as_ref().map(|f| RecordingStatus {
                path: f.path.clone(),
                active: false,
                records: f.records,
                limits: None,
                error: self.summary.recording_capped.clone(),
            }),
        }
    }
}
