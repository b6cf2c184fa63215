//! Driving the window headless with egui_kittest.
#![allow(dead_code)]

use std::time::Duration;

use egui_kittest::Harness;
use eventlens::ui::EventLensApp;

/// Steps until the app shows what the engine published (the window looks for new snapshots
/// every 250 ms, no longer than a kittest frame, so `run()` would never settle).
pub fn settle(harness: &mut Harness<'static, EventLensApp>) {
    for _ in 0..5 {
        harness.run_steps(2);
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Presses and releases the primary button at a point of the canvas (egui_graphs nodes and
/// edges are not accessibility widgets, so they are clicked by position).
pub fn click_at(harness: &mut Harness<'static, EventLensApp>, pos: egui::Pos2) {
    harness.drag_at(pos);
    harness.run_steps(1);
    harness.drop_at(pos);
    settle(harness);
}
