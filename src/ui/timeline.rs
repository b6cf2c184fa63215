//! The timeline at the bottom of the window: the session's span as a density histogram
//! (failures in red), a cursor to drag, play and pause, speeds from 0.1x to 100x, steps to
//! the previous and next failure, and Follow to return to the newest state.
//!
//! It only sends commands; the engine builds the state at the cursor.

use egui::{Color32, CornerRadius, Rect, Sense, Stroke, Vec2, pos2};

use super::theme;
use crate::engine::Command;
use crate::engine::playback::{PlaybackMode, SPEEDS, TimelineView};

/// The timeline's own state: the speed picked for the next Play.
#[derive(Debug, Clone)]
pub struct TimelineControls {
    /// Speed for Play.
    pub speed: f32,
}

impl Default for TimelineControls {
    fn default() -> Self {
        Self { speed: 1.0 }
    }
}

/// `+m:ss.s` from the start.
pub fn offset_text(nanos: u64) -> String {
    let tenths = nanos / 100_000_000;
    let (minutes, tenths) = (tenths / 600, tenths % 600);
    format!("+{minutes}:{:02}.{}", tenths / 10, tenths % 10)
}

impl TimelineControls {
    /// Draws the timeline; returns the command the user gave, if any.
    pub fn show(&mut self, ui: &mut egui::Ui, timeline: &TimelineView) -> Option<Command> {
        let mut command = None;
        ui.horizontal(|ui| {
            let playing = matches!(timeline.mode, PlaybackMode::Playing { .. });
            if playing {
                if ui.button("Pause").on_hover_text("hold the view at this moment").clicked() {
                    command = Some(Command::Pause);
                }
            } else if ui.button("Play").on_hover_text("play the session from the cursor").clicked() {
                command = Some(Command::Play { speed: self.speed });
            }
            let before = self.speed;
            egui::ComboBox::from_id_salt("speed")
                .selected_text(format!("{}x", self.speed))
                .width(theme::SPEED_WIDTH)
                .show_ui(ui, |ui| {
                    for speed in SPEEDS {
                        ui.selectable_value(&mut self.speed, speed, format!("{speed}x"));
                    }
                });
            if self.speed != before && playing {
                command = Some(Command::Play { speed: self.speed });
            }
            if ui.add_enabled(timeline.previous_failure().is_some(), egui::Button::new("Previous failure")).clicked()
                && let Some(at) = timeline.previous_failure()
            {
                command = Some(Command::Seek(at));
            }
            if ui.add_enabled(timeline.next_failure().is_some(), egui::Button::new("Next failure")).clicked()
                && let Some(at) = timeline.next_failure()
            {
                command = Some(Command::Seek(at));
            }
            let following = timeline.mode == PlaybackMode::Following;
            if ui
                .add_enabled(!following, egui::Button::new("Follow"))
                .on_hover_text("show the newest state, live")
                .clicked()
            {
                command = Some(Command::Resume);
            }
            let (state, color) = match timeline.mode {
                PlaybackMode::Following => ("Following".to_owned(), theme::STATE_OK),
                PlaybackMode::Paused => ("Paused".to_owned(), theme::STATE_WARN),
                PlaybackMode::Playing { speed } => (format!("Playing {speed}x"), theme::STATE_OK),
            };
            ui.colored_label(color, state);
            let span = timeline.end_unix_nano.saturating_sub(timeline.start_unix_nano);
            let at = timeline.cursor_unix_nano.saturating_sub(timeline.start_unix_nano);
            ui.label(format!("{} / {}", offset_text(at), offset_text(span)));
            if timeline.dropped_records > 0 {
                ui.label(egui::RichText::new(format!("{} older records dropped", timeline.dropped_records)).weak())
                    .on_hover_text("the timeline keeps a bounded number of spans (--timeline-spans)");
            }
        });
        if let Some(at) = histogram(ui, timeline) {
            command = Some(Command::Seek(at));
        }
        command
    }
}

/// Draws the density histogram with the cursor; returns where it was clicked or dragged to.
fn histogram(ui: &mut egui::Ui, timeline: &TimelineView) -> Option<u64> {
    let size = Vec2::new(ui.available_width(), theme::TIMELINE_HEIGHT);
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Slider, true, "Timeline"));
    let response = response.on_hover_text("drag to move through the session");
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, CornerRadius::same(2), theme::TIMELINE_BACKGROUND);
    let bins = timeline.bins.len().max(1);
    let span = (bins as u64 * timeline.bin_nanos).max(1);
    let peak = timeline.bins.iter().map(|b| b.spans.max(b.records)).max().unwrap_or(0).max(1) as f32;
    let width = rect.width() / bins as f32;
    for (i, bin) in timeline.bins.iter().enumerate() {
        let x = rect.left() + i as f32 * width;
        let height = |n: u32| (n as f32 / peak).sqrt() * (rect.height() - 2.0);
        let total = height(bin.spans.max(bin.records));
        if total > 0.0 {
            let bar = Rect::from_min_max(pos2(x, rect.bottom() - total), pos2(x + width.max(1.0), rect.bottom()));
            painter.rect_filled(bar, CornerRadius::ZERO, theme::TIMELINE_DENSITY);
        }
        if bin.failures > 0 {
            // At least a visible sliver: one failure in a busy second still shows.
            let failed = height(bin.failures).max(3.0);
            let bar = Rect::from_min_max(pos2(x, rect.bottom() - failed), pos2(x + width.max(2.0), rect.bottom()));
            painter.rect_filled(bar, CornerRadius::ZERO, theme::FAILURE);
        }
    }
    let to_x =
        |t: u64| rect.left() + (t.saturating_sub(timeline.start_unix_nano) as f64 / span as f64) as f32 * rect.width();
    // A finding's first sight: a tick from the top, in its severity's colour, worst on top.
    let mut marks: Vec<_> = timeline.findings.iter().filter(|(at, _)| *at >= timeline.start_unix_nano).collect();
    marks.sort_by_key(|(_, severity)| *severity);
    for (at, severity) in marks {
        let x = to_x(*at);
        let tick = [pos2(x, rect.top()), pos2(x, rect.top() + theme::FINDING_MARK_HEIGHT)];
        painter.line_segment(tick, Stroke::new(theme::FINDING_MARK_WIDTH, theme::severity_color(*severity)));
    }
    let cursor = to_x(timeline.cursor_unix_nano);
    let color = if timeline.mode == PlaybackMode::Following { theme::STATE_OK } else { Color32::WHITE };
    painter.line_segment([pos2(cursor, rect.top()), pos2(cursor, rect.bottom())], Stroke::new(2.0, color));
    let pointer = response.interact_pointer_pos().filter(|_| response.clicked() || response.dragged())?;
    let fraction = ((pointer.x - rect.left()) / rect.width()).clamp(0.0, 1.0);
    Some(timeline.start_unix_nano + (f64::from(fraction) * span as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_as_minutes_seconds_tenths() {
        assert_eq!(offset_text(0), "+0:00.0");
        assert_eq!(offset_text(83_450_000_000), "+1:23.4");
        assert_eq!(offset_text(3_600_000_000_000), "+60:00.0");
    }
}
