//! One headless egui frame at 1280×800, tessellated (the CPU's share of drawing it): what
//! the frame benchmarks time.

/// Runs `ui_fn` as one frame and tessellates what it drew; returns the primitive count.
pub fn frame(ctx: &egui::Context, mut ui_fn: impl FnMut(&mut egui::Ui)) -> usize {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0))),
        ..Default::default()
    };
    let out = ctx.run_ui(input, |ui| ui_fn(ui));
    ctx.tessellate(out.shapes, out.pixels_per_point).len()
}
