//! Exporting the flow graph from the window: Export SVG writes the canvas as it is laid out
//! ([`svg_export`](crate::ui::svg_export)); Export PNG asks the window for a screenshot and
//! saves it, cropped to the canvas, when it arrives a frame later. Both write new files where
//! the Record button does and report the outcome in the notice under the top bar.

use std::sync::Arc;

use super::EventLensApp;
use crate::ui::recording::new_path;

impl EventLensApp {
    /// Asks the window for a screenshot; [`EventLensApp::save_screenshot`] saves it.
    pub(super) fn export_png(&mut self, ctx: &egui::Context) {
        match new_path(self.recording_dir.as_deref(), "eventlens-graph", "png") {
            Ok(path) => {
                self.png_request = Some(path);
                ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(egui::UserData::default()));
            }
            Err(e) => self.notice = Some(format!("cannot save the graph: {e}")),
        }
    }

    /// Writes the canvas as SVG.
    pub(super) fn export_svg(&mut self) {
        let svg = crate::ui::svg_export::flow_svg(&self.flow);
        self.notice = Some(
            match new_path(self.recording_dir.as_deref(), "eventlens-graph", "svg")
                .and_then(|path| std::fs::write(&path, svg).map(|()| path))
            {
                Ok(path) => format!("graph saved to {}", path.display()),
                Err(e) => format!("cannot save the graph: {e}"),
            },
        );
    }

    /// Saves the screenshot an Export PNG asked for, cropped to the graph, once it arrives.
    pub(super) fn save_screenshot(&mut self, ui: &egui::Ui) {
        if self.png_request.is_none() {
            return;
        }
        let shot = ui.input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::Screenshot { image, .. } => Some((Arc::clone(image), i.pixels_per_point)),
                _ => None,
            })
        });
        let (Some((image, pixels_per_point)), Some(path)) = (shot, self.png_request.take()) else { return };
        let cropped = match self.canvas {
            Some(rect) => image.region(&rect, Some(pixels_per_point)),
            None => (*image).clone(),
        };
        let [width, height] = cropped.size;
        let bytes: Vec<u8> = cropped.pixels.iter().flat_map(|p| p.to_array()).collect();
        let saved = image::RgbaImage::from_raw(width as u32, height as u32, bytes)
            .ok_or_else(|| "the screenshot has the wrong size".to_owned())
            .and_then(|picture| picture.save(&path).map_err(|e| e.to_string()));
        self.notice = Some(match saved {
            Ok(()) => format!("graph saved to {}", path.display()),
            Err(e) => format!("cannot save the graph: {e}"),
        });
    }
}
