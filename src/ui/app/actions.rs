//! What the user asks of the window outside the views themselves: keys (F11 and Esc for
//! presentation mode), the top bar's buttons (pause, record, fit, open, save as, exports,
//! arrange, present, stop reading), and commands sent to the engine.

use super::EventLensApp;
use crate::engine::{Command, Snapshot};
use crate::ui::file_dialogs::DialogPurpose;
use crate::ui::recording::new_session_path;
use crate::ui::top_bar::TopBarActions;

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
            let recording = snapshot.recording.as_ref().is_some_and(|r| r.active);
            match (recording, new_session_path(self.recording_dir.as_deref())) {
                (true, _) => self.command(Command::Record(None)),
                (false, Ok(path)) => self.command(Command::Record(Some(path))),
                (false, Err(e)) => tracing::error!("cannot record: {e}"),
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
            self.flow.arrange(snapshot);
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

    /// Sends a command to the engine, logging when it could not take it.
    pub(super) fn command(&self, command: Command) {
        let what = format!("{command:?}");
        if !self.engine.send(command) {
            tracing::warn!("the engine did not take {what}");
        }
    }
}
