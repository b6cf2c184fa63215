//! The Open and Save as dialogs: the platform's own file dialogs (rfd, through the desktop
//! portal), each run on a thread of its own so the window never waits for the user there.

use std::path::PathBuf;

use crossbeam_channel::{Receiver, bounded};

/// What a dialog was opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    /// Open a session file in place of the current session.
    Open,
    /// Save what the timeline holds as a session file.
    SaveAs,
}

/// At most one dialog at a time, and its answer when it comes.
#[derive(Debug, Default)]
pub struct FileDialogs {
    pending: Option<(DialogPurpose, Receiver<Option<PathBuf>>)>,
}

impl FileDialogs {
    /// Whether a dialog is showing.
    pub fn is_open(&self) -> bool {
        self.pending.is_some()
    }

    /// Shows a dialog for `purpose` (unless one is showing); `ctx` is woken with the answer.
    pub fn show(&mut self, purpose: DialogPurpose, ctx: &egui::Context) {
        if self.pending.is_some() {
            return;
        }
        let (tx, rx) = bounded(1);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("eventlens-dialog".into()).spawn(move || {
            let dialog = rfd::FileDialog::new().add_filter("EventLens session", &["jsonl", "zst"]);
            let chosen = match purpose {
                DialogPurpose::Open => dialog.set_title("Open a session").pick_file(),
                DialogPurpose::SaveAs => {
                    dialog.set_title("Save the session as").set_file_name("session.jsonl.zst").save_file()
                }
            };
            let _gone = tx.send(chosen);
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.pending = Some((purpose, rx)),
            Err(e) => tracing::error!("cannot show a file dialog: {e}"),
        }
    }

    /// The chosen file, once the user has answered (nothing when they cancelled).
    pub fn poll(&mut self) -> Option<(DialogPurpose, PathBuf)> {
        let (purpose, rx) = self.pending.as_ref()?;
        let purpose = *purpose;
        match rx.try_recv() {
            Ok(chosen) => {
                self.pending = None;
                chosen.map(|path| (purpose, path))
            }
            Err(crossbeam_channel::TryRecvError::Empty) => None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                self.pending = None;
                None
            }
        }
    }
}
