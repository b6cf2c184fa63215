//! Exporting the flow graph from the window: Export SVG writes the canvas as it is laid out
//! ([`svg_export`](crate::ui::svg_export)); Export PNG asks the window for a screenshot and
//! saves it, cropped to the canvas, when it arrives a frame later. Both write new files where
//! the Record button does and report the outcome in the notice under the top bar.
//!
//! The frame only copies what the picture needs (the canvas' shapes, or the screenshot's
//! `Arc`); rendering, cropping, encoding and writing run on an `eventlens-export` thread,
//! whose answer (the file or why not) comes back as the notice.

use std::path::PathBuf;
use std::sync::Arc;

use super::EventLensApp;
use crate::ui::background::{EXPORT_THREAD, Job, JobState};
use crate::ui::recording::new_path;
use crate::ui::svg_export::FlowPicture;

/// An export's outcome: the file written, or why not.
pub(super) type Exported = Result<PathBuf, String>;

impl EventLensApp {
    /// Asks the window for a screenshot; [`EventLensApp::save_screenshot`] saves it.
    pub(super) fn export_png(&mut self, ctx: &egui::Context) {
        self.png_requested = true;
        ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(egui::UserData::default()));
    }

    /// Writes the canvas as SVG, off the frame.
    pub(super) fn export_svg(&mut self, ctx: &egui::Context) {
        let picture = FlowPicture::of(&self.flow);
        let dir = self.recording_dir.clone();
        self.start_export(ctx, move || {
            let path = new_path(dir.as_deref(), "eventlens-graph", "svg").map_err(|e| e.to_string())?;
            std::fs::write(&path, picture.svg()).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(path)
        });
    }

    /// Hands the screenshot an Export PNG asked for to the export thread, once it arrives.
    pub(super) fn save_screenshot(&mut self, ui: &egui::Ui) {
        if !self.png_requested {
            return;
        }
        let shot = ui.input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::Screenshot { image, .. } => Some((Arc::clone(image), i.pixels_per_point)),
                _ => None,
            })
        });
        let Some((image, pixels_per_point)) = shot else { return };
        self.png_requested = false;
        let (canvas, dir) = (self.canvas, self.recording_dir.clone());
        self.start_export(ui.ctx(), move || {
            let cropped = match canvas {
                Some(rect) => image.region(&rect, Some(pixels_per_point)),
                None => (*image).clone(),
            };
            let [width, height] = cropped.size;
            let bytes: Vec<u8> = cropped.pixels.iter().flat_map(|p| p.to_array()).collect();
            let picture = image::RgbaImage::from_raw(width as u32, height as u32, bytes)
                .ok_or_else(|| "the screenshot has the wrong size".to_owned())?;
            let path = new_path(dir.as_deref(), "eventlens-graph", "png").map_err(|e| e.to_string())?;
            picture.save(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(path)
        });
    }

    /// Shows the outcome of each export once it is written; never waits.
    pub(super) fn poll_exports(&mut self) {
        let mut outcomes = Vec::new();
        self.exports.retain(|job| match job.poll() {
            JobState::Pending => true,
            JobState::Done(outcome) => {
                outcomes.push(outcome);
                false
            }
            JobState::Lost => {
                outcomes.push(Err("the export stopped unexpectedly".to_owned()));
                false
            }
        });
        if !outcomes.is_empty() {
            let said: Vec<String> = outcomes
                .into_iter()
                .map(|outcome| match outcome {
                    Ok(path) => format!("graph saved to {}", path.display()),
                    Err(e) => format!("cannot save the graph: {e}"),
                })
                .collect();
            self.notice = Some(said.join("; "));
        }
    }

    /// Starts writing an export on a thread of its own (several may run at once: each click
    /// is one file).
    fn start_export(&mut self, ctx: &egui::Context, write: impl FnOnce() -> Exported + Send + 'static) {
        match Job::spawn(EXPORT_THREAD, ctx, write) {
            Ok(job) => {
                self.exports.push(job);
                self.notice = Some("saving the graph…".to_owned());
            }
            Err(e) => self.notice = Some(format!("cannot save the graph: no thread to write it on ({e})")),
        }
    }
}
