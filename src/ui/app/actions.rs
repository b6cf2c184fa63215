//! What the user asks of the window outside the views themselves: keys (F11 and Esc for
//! presentation mode), the top bar's buttons (pause, record, fit, open, save as, exports,
//! arrange, present, stop reading), and commands sent to the engine.
//!
//! Record picks its new file (creating the folder, which may be on a slow disk or a hung
//! mount) on an `eventlens-record` thread; the engine is told to record once the name comes
//! back, a frame or more later, and the window says "starting the recording…" meanwhile.

use std::path::PathBuf;

use super::EventLensApp;
use crate::engine::{Command, Snapshot};
use crate::ui::background::{Job, JobState, RECORD_THREAD};
use crate::ui::file_dialogs::DialogPurpose;
use crate::ui::recording::new_session_path;
use crate::ui::theme;
use crate::ui::top_bar::TopBarActions;

/// A recording's file being picked off the frame: its path, or why there is none.
pub(super) type RecordingStart = Job<std::io::Result<PathBuf>>;

impl EventLensApp {
    /// F11 turns presentation mode on or off; Esc leaves it.
    pub(super) fn presentation_keys(&mut self, ui: &egui::Ui) {
        let (f11, escape) = ui.input(|i| (i.key_pressed(egui::Key::F11), i.key_pressed(egui::Key::Escape)));
        if f11 || (escape && self.presenting()) {
            let on = !self.presenting();
            self.set_presenting(ui.ctx(), on);
        }
    }

    /// Carries out the top bar's buttons clicked this frame.
    pub(super) fn top_bar_actions(&mut self, ctx: &egui::Context, snapshot: &Snapshot, actions: &TopBarActions) {
        if actions.toggle_pause {
            self.command(if snapshot.paused { Command::Resume } else { Command::Pause });
        }
        if actions.record {
            if snapshot.recording.as_ref().is_some_and(|r| r.active) {
                self.command(Command::Record(None));
            } else if self.recording_start.is_none() {
                // A second click while the file is picked asks for nothing new.
                self.start_recording(ctx);
            }
        }
        if actions.fit {
            self.flow.auto_fit = true;
        }
        if actions.open {
            self.dialogs.show(DialogPurpose::Open, ctx);
        }
        if actions.save_as {
            self.dialogs.show(DialogPurpose::SaveAs, ctx);
        }
        if actions.export_png {
            self.export_png(ctx);
        }
        if actions.export_svg {
            self.export_svg(ctx);
        }
        if actions.arrange {
            self.flow.arrange();
        }
        if let Some(on) = actions.follow_layout {
            self.flow.set_follows_layout(on);
        }
        if actions.present {
            self.set_presenting(ctx, true);
        }
        if actions.stop_reading
            && let Some(stop) = &self.file_stop
        {
            stop.cancel();
        }
    }

    /// Picks a new recording's file off the frame; [`Self::poll_recording_start`] tells the
    /// engine to record to it.
    fn start_recording(&mut self, ctx: &egui::Context) {
        let dir = self.recording_dir.clone();
        match Job::spawn(RECORD_THREAD, ctx, move || new_session_path(dir.as_deref())) {
            Ok(job) => self.recording_start = Some(job),
            Err(e) => self.notice = Some(format!("cannot record: no thread to pick its file on ({e})")),
        }
    }

    /// Starts recording once its file is picked, or says why it cannot; never waits.
    pub(super) fn poll_recording_start(&mut self) {
        let Some(job) = &self.recording_start else { return };
        let picked = match job.poll() {
            JobState::Pending => return,
            JobState::Done(picked) => picked.map_err(|e| e.to_string()),
            JobState::Lost => Err("picking its file failed unexpectedly".to_owned()),
        };
        self.recording_start = None;
        match picked {
            Ok(path) => self.command(Command::Record(Some(path))),
            Err(e) => self.notice = Some(format!("cannot record: {e}")),
        }
    }

    /// "starting the recording…", beside the notices while its file is picked.
    pub(super) fn show_recording_start(&self, ui: &mut egui::Ui) {
        if self.recording_start.is_some() {
            ui.separator();
            ui.spinner();
            ui.label(egui::RichText::new("starting the recording…").color(theme::LABEL_DETAIL));
        }
    }

    /// Sends a command to the engine, logging when it could not take it.
    pub(super) fn command(&self, command: Command) {
        let what = format!("{command:?}");
        if !self.engine.send(command) {
            tracing::warn!("the engine did not take {what}");
        }
    }
}
