//! How wide the canvas' text is, for the boxes that keep labels apart and that culling and
//! fitting look at.
//!
//! Counting characters makes "iiii" as wide as "WWWW": boxes of narrow names were too wide
//! (labels hid that had room) and of wide ones too narrow (labels overlapped). Once the
//! window has drawn a frame its fonts measure the text; before that, and without a window
//! (SVG export, headless tests), the count stands in.

use egui::{FontFamily, FontId};

use super::theme;

/// A character's width in the estimate, as a share of the text size.
const ESTIMATED_ADVANCE: f32 = 0.55;

/// The characters whose widths are kept: printable ASCII, what names are nearly always made
/// of. Others are measured one by one.
const TABLE: usize = 128;

/// Measures text at the canvas' two sizes ([`theme::CANVAS_NAME_SIZE`] for names,
/// [`theme::CANVAS_DETAIL_SIZE`] for rates and edge labels), in canvas units at scale 1.
#[derive(Clone, Debug, Default)]
pub struct TextWidths {
    /// The window's fonts, with ASCII advances looked up once per size: a graph of thousands
    /// of nodes is measured at every snapshot, and one lock per string would cost more than
    /// the sums.
    fonts: Option<Measured>,
}

#[derive(Clone, Debug)]
struct Measured {
    ctx: egui::Context,
    name: Box<[f32; TABLE]>,
    detail: Box<[f32; TABLE]>,
}

/// Which of the canvas' text sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextSize {
    /// A node's name.
    Name,
    /// Rates, failures and lag, under nodes and on edges.
    Detail,
}

impl TextSize {
    fn points(self) -> f32 {
        match self {
            Self::Name => theme::CANVAS_NAME_SIZE,
            Self::Detail => theme::CANVAS_DETAIL_SIZE,
        }
    }
}

impl TextWidths {
    /// Measures with `ctx`'s fonts from now on. Call it while a frame is being drawn: egui
    /// has no fonts before its first pass. Does nothing when already measuring.
    pub fn measure_with(&mut self, ctx: &egui::Context) {
        if self.fonts.is_some() {
            return;
        }
        let table = |size: TextSize| {
            let font = FontId::new(size.points(), FontFamily::Proportional);
            let mut widths = Box::new([0.0; TABLE]);
            ctx.fonts_mut(|f| {
                for (c, width) in widths.iter_mut().enumerate() {
                    *width = f.glyph_width(&font, char::from(c as u8));
                }
            });
            widths
        };
        self.fonts = Some(Measured { ctx: ctx.clone(), name: table(TextSize::Name), detail: table(TextSize::Detail) });
    }

    /// Whether text is measured with fonts, not estimated.
    pub fn measured(&self) -> bool {
        self.fonts.is_some()
    }

    /// The width of a node's text: the wider of its `name` and its `detail` line.
    pub fn node(&self, name: &str, detail: &str) -> f32 {
        self.width(name, TextSize::Name).max(self.width(detail, TextSize::Detail))
    }

    /// The width of `text` at `size`, in canvas units at scale 1.
    pub fn width(&self, text: &str, size: TextSize) -> f32 {
        let Some(fonts) = &self.fonts else {
            return estimated_width(text, size.points());
        };
        let table = match size {
            TextSize::Name => &fonts.name,
            TextSize::Detail => &fonts.detail,
        };
        let mut width = 0.0;
        let mut others = Vec::new();
        for c in text.chars() {
            match table.get(c as usize) {
                Some(w) => width += w,
                None => others.push(c),
            }
        }
        if !others.is_empty() {
            let font = FontId::new(size.points(), FontFamily::Proportional);
            width += fonts.ctx.fonts_mut(|f| others.iter().map(|c| f.glyph_width(&font, *c)).sum::<f32>());
        }
        width
    }
}

/// The width `text` is given at `points` without fonts: its characters counted.
fn estimated_width(text: &str, points: f32) -> f32 {
    text.chars().count() as f32 * points * ESTIMATED_ADVANCE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one frame so the context has fonts, and measures with them.
    fn measured() -> TextWidths {
        let ctx = egui::Context::default();
        let mut widths = TextWidths::default();
        let mut output = ctx.run_ui(egui::RawInput::default(), |ui| widths.measure_with(ui.ctx()));
        // No renderer takes the font atlas here.
        output.textures_delta.clear();
        widths
    }

    #[test]
    fn without_fonts_the_width_is_the_character_count() {
        let widths = TextWidths::default();
        assert!(!widths.measured());
        assert_eq!(widths.width("iiii", TextSize::Name), widths.width("WWWW", TextSize::Name));
        assert_eq!(widths.width("abc", TextSize::Detail), 3.0 * theme::CANVAS_DETAIL_SIZE * ESTIMATED_ADVANCE);
    }

    #[test]
    fn with_fonts_narrow_names_are_narrower_and_each_width_is_what_egui_lays_out() {
        let widths = measured();
        assert!(widths.measured());
        let (narrow, wide) = (widths.width("iiiilll", TextSize::Name), widths.width("WWWWMMM", TextSize::Name));
        assert!(narrow * 2.0 < wide, "{narrow} against {wide}");
        let Some(fonts) = &widths.fonts else { panic!("measured") };
        for (text, size) in [("billing-service", TextSize::Name), ("12.5/s · 3 failed · lag 40", TextSize::Detail)] {
            let font = FontId::new(size.points(), FontFamily::Proportional);
            let laid_out =
                fonts.ctx.fonts_mut(|f| f.layout_no_wrap(text.to_owned(), font, egui::Color32::WHITE).size().x);
            let ours = widths.width(text, size);
            assert!((ours - laid_out).abs() <= laid_out * 0.05 + 1.0, "{text}: {ours} against egui's {laid_out}");
        }
    }

    #[test]
    fn characters_outside_ascii_are_measured_too() {
        let widths = measured();
        let ascii = widths.width("payments", TextSize::Name);
        let wider = widths.width("payments ✓ é", TextSize::Name);
        assert!(wider > ascii + widths.width("  ", TextSize::Name), "{wider} against {ascii}");
    }
}
