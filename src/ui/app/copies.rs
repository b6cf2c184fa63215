//! Copy as OTLP JSON and Copy as Mermaid: a journey of thousands of spans takes longer than a
//! frame to serialize, so the frame only hands the journey's `Arc` to an `eventlens-copy`
//! thread; the clipboard is set on the frame its text arrives, with a notice saying so.

use std::sync::Arc;

use super::EventLensApp;
use crate::model::journey::{JourneyDetail, JourneyId};
use crate::ui::background::{COPY_THREAD, Job, JobState};
use crate::ui::theme;

/// What a journey is copied as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CopyFormat {
    /// One OTLP export request ([`crate::export::journey::to_otlp_json`]).
    OtlpJson,
    /// A Mermaid sequence diagram ([`crate::export::journey::to_mermaid_sequence`]).
    Mermaid,
}

impl CopyFormat {
    /// The format's name, for the notice.
    fn name(self) -> &'static str {
        match self {
            Self::OtlpJson => "OTLP JSON",
            Self::Mermaid => "Mermaid",
        }
    }

    /// The journey as text in this format, or why not; runs on the copy thread.
    fn serialize(self, detail: &JourneyDetail) -> Result<String, String> {
        match self {
            Self::OtlpJson => crate::export::journey::to_otlp_json(detail).map_err(|e| e.to_string()),
            Self::Mermaid => Ok(crate::export::journey::to_mermaid_sequence(detail)),
        }
    }
}

/// A journey being serialized for the clipboard.
#[derive(Debug)]
pub(super) struct Copying {
    format: CopyFormat,
    journey: JourneyId,
    job: Job<Result<String, String>>,
}

impl EventLensApp {
    /// Serializes the journey `detail` as `format` off the frame; [`Self::poll_copying`] puts
    /// the text on the clipboard. A copy still running is let go of: the clipboard gets what
    /// was asked for last.
    pub(super) fn copy_journey(&mut self, ctx: &egui::Context, detail: &Arc<JourneyDetail>, format: CopyFormat) {
        let (journey, detail) = (detail.summary.id, Arc::clone(detail));
        match Job::spawn(COPY_THREAD, ctx, move || format.serialize(&detail)) {
            Ok(job) => self.copying = Some(Copying { format, journey, job }),
            Err(e) => {
                self.notice = Some(format!("cannot copy journey {journey}: no thread to serialize it on ({e})"));
            }
        }
    }

    /// Puts a serialized journey on the clipboard once its thread has answered; never waits.
    pub(super) fn poll_copying(&mut self, ctx: &egui::Context) {
        let Some(copying) = &self.copying else { return };
        let answer = match copying.job.poll() {
            JobState::Pending => return,
            JobState::Done(answer) => answer,
            JobState::Lost => Err("serializing it failed unexpectedly".to_owned()),
        };
        let Some(Copying { format, journey, .. }) = self.copying.take() else { return };
        self.notice = Some(match answer {
            Ok(text) => {
                let copied = format!("journey {journey} copied as {} ({} bytes)", format.name(), text.len());
                ctx.copy_text(text);
                copied
            }
            Err(e) => format!("cannot copy journey {journey} as {}: {e}", format.name()),
        });
    }
}

/// "copying journey N as FORMAT…", beside the notices while it is serialized.
pub(super) fn show_copying(ui: &mut egui::Ui, copying: &Copying) {
    ui.spinner();
    ui.label(
        egui::RichText::new(format!("copying journey {} as {}…", copying.journey, copying.format.name()))
            .color(theme::LABEL_DETAIL),
    );
}
