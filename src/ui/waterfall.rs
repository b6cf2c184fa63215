//! The journey waterfall: one row per span in tree order (children under parents, consumers
//! under the producers they link to), bars on a shared time axis, "in topic" bars for the
//! time a message waited between its send and its processing, the critical path outlined,
//! failures in red, a minimap of the whole journey, zoom (Ctrl+wheel, buttons) and pan
//! (drag the minimap or the axis).
//!
//! Large journeys stay cheap: only the rows in the scroll viewport are visited (collapsed
//! subtrees are skipped in one step), bars outside the visible time range are not drawn,
//! bars narrower than a pixel become hairlines, and labels are drawn only where they fit.

use std::collections::HashSet;
use std::sync::Arc;

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};

use super::journey_list::duration_text;
use super::theme;
use crate::model::findings::{Finding, FindingKind, FindingsView};
use crate::model::ids::SpanRef;
use crate::model::journey::{JourneyDetail, JourneyId, WaterfallRow};

/// Minimap resolution.
const DENSITY_BINS: usize = 240;
/// Narrowest window, as a fraction of the journey, zoom can reach.
const MIN_WINDOW: f64 = 1e-6;

/// Waterfall state: collapsed subtrees, the visible time window, the selected span.
#[derive(Debug)]
pub struct WaterfallView {
    shown: Option<(JourneyId, usize)>,
    collapsed: HashSet<SpanRef>,
    visible: Vec<u32>,
    density: Vec<(u32, u32)>,
    /// Visible time window as fractions of the journey's duration.
    pub window: (f64, f64),
    /// The span whose details are open.
    pub selected: Option<SpanRef>,
}

impl Default for WaterfallView {
    fn default() -> Self {
        Self {
            shown: None,
            collapsed: HashSet::new(),
            visible: Vec::new(),
            density: Vec::new(),
            window: (0.0, 1.0),
            selected: None,
        }
    }
}

impl WaterfallView {
    /// Rows currently visible (after collapsing), as indices into the detail's rows.
    pub fn visible_rows(&self) -> &[u32] {
        &self.visible
    }

    /// Collapses or expands the subtree under a span.
    pub fn toggle(&mut self, detail: &JourneyDetail, span: SpanRef) {
        if !self.collapsed.remove(&span) {
            self.collapsed.insert(span);
        }
        self.rebuild(detail);
    }

    /// Takes a (new) layout: a different journey resets zoom, collapsing and selection.
    pub fn sync(&mut self, detail: &Arc<JourneyDetail>) {
        let key = (detail.summary.id, Arc::as_ptr(detail) as usize);
        if self.shown == Some(key) {
            return;
        }
        if self.shown.map(|(id, _)| id) != Some(detail.summary.id) {
            self.collapsed.clear();
            self.window = (0.0, 1.0);
            self.selected = None;
        }
        self.shown = Some(key);
        self.rebuild(detail);
    }

    fn rebuild(&mut self, detail: &JourneyDetail) {
        self.visible.clear();
        let mut r = 0;
        while r < detail.rows.len() {
            self.visible.push(r as u32);
            let row = &detail.rows[r];
            r = if self.collapsed.contains(&detail.span(row).span_ref()) { row.subtree_end as usize } else { r + 1 };
        }
        let (start, span) = (detail.start_unix_nano, (detail.end_unix_nano - detail.start_unix_nano).max(1) as f64);
        self.density = vec![(0, 0); DENSITY_BINS];
        for s in &detail.spans {
            let bin = (((s.start_unix_nano.saturating_sub(start)) as f64 / span) * DENSITY_BINS as f64) as usize;
            let b = &mut self.density[bin.min(DENSITY_BINS - 1)];
            b.0 += 1;
            b.1 += u32::from(s.is_failure());
        }
    }

    fn zoom(&mut self, factor: f64, around: f64) {
        let (a, b) = self.window;
        let width = ((b - a) / factor).clamp(MIN_WINDOW, 1.0);
        let center = a + (b - a) * around;
        let start = (center - width * around).clamp(0.0, 1.0 - width);
        self.window = (start, start + width);
    }

    fn center_on(&mut self, fraction: f64) {
        let width = self.window.1 - self.window.0;
        let start = (fraction - width / 2.0).clamp(0.0, 1.0 - width);
        self.window = (start, start + width);
    }

    /// Draws the waterfall, with the compensation chains `findings` name for this journey.
    pub fn show(&mut self, ui: &mut egui::Ui, detail: &JourneyDetail, findings: &FindingsView) {
        self.toolbar(ui, detail);
        compensation_strip(ui, detail, findings);
        self.minimap(ui, detail);
        let axis = self.axis(ui, detail);
        let row_height = theme::WATERFALL_ROW;
        let visible = std::mem::take(&mut self.visible);
        let mut toggled = None;
        egui::ScrollArea::vertical().auto_shrink(false).show_rows(ui, row_height, visible.len(), |ui, range| {
            for &r in &visible[range] {
                let row = &detail.rows[r as usize];
                if let Some(t) = self.row(ui, detail, r as usize, row, axis) {
                    toggled = Some(t);
                }
            }
        });
        self.visible = visible;
        if let Some(span) = toggled {
            self.toggle(detail, span);
        }
        // Ctrl+wheel over the waterfall zooms around the pointer.
        let zoom = ui.input(|i| i.zoom_delta());
        if zoom != 1.0
            && let Some(pointer) = ui.input(|i| i.pointer.hover_pos())
            && ui.min_rect().contains(pointer)
            && pointer.x > axis.left()
        {
            let around = f64::from(((pointer.x - axis.left()) / axis.width()).clamp(0.0, 1.0));
            self.zoom(f64::from(zoom), around);
        }
    }

    fn toolbar(&mut self, ui: &mut egui::Ui, detail: &JourneyDetail) {
        let s = &detail.summary;
        ui.horizontal(|ui| {
            ui.strong(format!("{} {}", s.event_type, s.id));
            ui.label(format!(
                "{} spans · {} services · {} hops · {}",
                s.spans,
                s.services.len(),
                s.hops,
                duration_text(s.duration_nanos())
            ));
            if let Some(e) = &s.error {
                ui.colored_label(theme::FAILURE, format!("failed: {e}"));
            }
            ui.separator();
            if ui.button("−").on_hover_text("Zoom out").clicked() {
                self.zoom(0.5, 0.5);
            }
            if ui.button("+").on_hover_text("Zoom in (or Ctrl+wheel)").clicked() {
                self.zoom(2.0, 0.5);
            }
            if ui.button("Reset").clicked() {
                self.window = (0.0, 1.0);
            }
            ui.separator();
            legend(ui, theme::IN_TOPIC, "in topic");
            legend(ui, theme::CRITICAL, "critical path");
            legend(ui, theme::FAILURE, "failed");
        });
    }

    /// The whole journey's span density, with the visible window; click or drag to move it.
    fn minimap(&mut self, ui: &mut egui::Ui, detail: &JourneyDetail) {
        let (rect, response) =
            ui.allocate_exact_size(Vec2::new(ui.available_width(), theme::MINIMAP_HEIGHT), Sense::click_and_drag());
        let painter = ui.painter_at(rect);
        let lane = Rect::from_min_max(Pos2::new(rect.left() + theme::WATERFALL_LABEL_WIDTH, rect.top()), rect.max);
        painter.text(
            Pos2::new(rect.left() + 4.0, rect.center().y),
            Align2::LEFT_CENTER,
            format!("whole journey: {}", duration_text(detail.summary.duration_nanos())),
            FontId::proportional(theme::DETAIL_SIZE),
            theme::LABEL_DETAIL,
        );
        let max = self.density.iter().map(|b| b.0).max().unwrap_or(1).max(1) as f32;
        let bin_width = lane.width() / DENSITY_BINS as f32;
        for (i, (count, failed)) in self.density.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let x = lane.left() + i as f32 * bin_width;
            let h = (*count as f32 / max) * (lane.height() - 4.0);
            let bar =
                Rect::from_min_max(Pos2::new(x, lane.bottom() - h), Pos2::new(x + bin_width.max(1.0), lane.bottom()));
            painter.rect_filled(bar, 0.0, if *failed > 0 { theme::FAILURE } else { theme::LABEL_DETAIL });
        }
        let (a, b) = self.window;
        let view = Rect::from_min_max(
            Pos2::new(lane.left() + lane.width() * a as f32, lane.top()),
            Pos2::new(
                (lane.left() + lane.width() * b as f32).max(lane.left() + lane.width() * a as f32 + 2.0),
                lane.bottom(),
            ),
        );
        painter.rect_filled(view, 0.0, theme::MINIMAP_VIEW);
        painter.rect_stroke(view, 0.0, Stroke::new(1.0, theme::LABEL_DETAIL), StrokeKind::Inside);
        if (response.clicked() || response.dragged())
            && let Some(p) = response.interact_pointer_pos()
        {
            self.center_on(f64::from(((p.x - lane.left()) / lane.width()).clamp(0.0, 1.0)));
        }
    }

    /// The time axis with ticks; dragging it pans. Returns the timeline lane's rect.
    fn axis(&mut self, ui: &mut egui::Ui, detail: &JourneyDetail) -> Rect {
        let (rect, response) = ui.allocate_exact_size(Vec2::new(ui.available_width(), 18.0), Sense::drag());
        let lane = Rect::from_min_max(Pos2::new(rect.left() + theme::WATERFALL_LABEL_WIDTH, rect.top()), rect.max);
        let painter = ui.painter_at(rect);
        let total = (detail.end_unix_nano - detail.start_unix_nano).max(1) as f64;
        let (a, b) = self.window;
        for i in 0..=4 {
            let f = i as f32 / 4.0;
            let x = lane.left() + lane.width() * f;
            let at = (a + (b - a) * f64::from(f)) * total;
            painter.line_segment(
                [Pos2::new(x, lane.bottom() - 5.0), Pos2::new(x, lane.bottom())],
                Stroke::new(1.0, theme::LABEL_DETAIL),
            );
            let align = if i == 4 { Align2::RIGHT_TOP } else { Align2::LEFT_TOP };
            painter.text(
                Pos2::new(x + 2.0, lane.top()),
                align,
                duration_text(at as u64),
                FontId::proportional(theme::DETAIL_SIZE),
                theme::LABEL_DETAIL,
            );
        }
        if response.dragged() {
            let dx = f64::from(response.drag_delta().x / lane.width()) * (b - a);
            let width = b - a;
            let start = (a - dx).clamp(0.0, 1.0 - width);
            self.window = (start, start + width);
        }
        lane
    }

    /// One row; returns the span whose subtree was toggled.
    fn row(
        &mut self,
        ui: &mut egui::Ui,
        detail: &JourneyDetail,
        index: usize,
        row: &WaterfallRow,
        axis: Rect,
    ) -> Option<SpanRef> {
        let span = detail.span(row);
        let (rect, _) = ui.allocate_exact_size(Vec2::new(ui.available_width(), theme::WATERFALL_ROW), Sense::hover());
        let painter = ui.painter_at(rect);
        let service = span.service().to_string();
        let color = if span.is_failure() { theme::FAILURE } else { theme::service_color(&service) };
        let span_ref = span.span_ref();
        if self.selected == Some(span_ref) {
            painter.rect_filled(rect, 0.0, ui.visuals().selection.bg_fill.gamma_multiply(0.35));
        }
        // Label column: indent, collapse toggle, service chip, name.
        let mut x = rect.left() + 4.0 + f32::from(row.depth) * theme::WATERFALL_INDENT;
        let mut toggled = None;
        let has_children = row.subtree_end as usize > index + 1;
        if has_children {
            let collapsed = self.collapsed.contains(&span_ref);
            let toggle = Rect::from_min_size(Pos2::new(x, rect.top()), Vec2::splat(theme::WATERFALL_ROW));
            let response = ui.interact(toggle, ui.id().with(("toggle", span_ref)), Sense::click());
            painter.text(
                toggle.center(),
                Align2::CENTER_CENTER,
                if collapsed { "⏵" } else { "⏷" },
                FontId::proportional(12.0),
                theme::LABEL,
            );
            if response.clicked() {
                toggled = Some(span_ref);
            }
        }
        x += theme::WATERFALL_ROW;
        painter.rect_filled(
            Rect::from_center_size(Pos2::new(x + 4.0, rect.center().y), Vec2::splat(8.0)),
            2.0,
            theme::service_color(&service),
        );
        x += 12.0;
        let link_mark = if row.via_link { "↪ " } else { "" };
        let batch_mark = if row.borrowed { "  (batch)" } else { "" };
        let label_clip = Rect::from_min_max(Pos2::new(x, rect.top()), Pos2::new(axis.left() - 6.0, rect.bottom()));
        ui.painter_at(label_clip).text(
            Pos2::new(x, rect.center().y),
            Align2::LEFT_CENTER,
            format!("{link_mark}{service}  {}{batch_mark}", span.name),
            FontId::proportional(theme::LABEL_SIZE),
            theme::LABEL,
        );
        // Timeline lane.
        let lane =
            Rect::from_min_max(Pos2::new(axis.left(), rect.top() + 3.0), Pos2::new(axis.right(), rect.bottom() - 3.0));
        let total = (detail.end_unix_nano - detail.start_unix_nano).max(1) as f64;
        let (a, b) = self.window;
        let x_of = |t: u64| -> f32 {
            let f = (t.saturating_sub(detail.start_unix_nano)) as f64 / total;
            lane.left() + ((f - a) / (b - a)) as f32 * lane.width()
        };
        let visible = |from: u64, to: u64| x_of(to) >= lane.left() && x_of(from) <= lane.right();
        let lane_painter = ui.painter_at(lane);
        if let Some((from, to)) = row.in_topic
            && visible(from, to)
        {
            let bar = Rect::from_min_max(
                Pos2::new(x_of(from), lane.center().y - 3.0),
                Pos2::new(x_of(to).max(x_of(from) + 1.0), lane.center().y + 3.0),
            );
            lane_painter.rect_filled(bar, 1.0, theme::IN_TOPIC);
            let topic = span.messaging.as_ref().and_then(|m| m.destination.clone()).unwrap_or_else(|| "topic".into());
            let text = format!("in topic {topic}: {}", duration_text(to - from));
            let response = ui.interact(bar.intersect(lane), ui.id().with(("in_topic", span_ref)), Sense::hover());
            response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Other, true, &text));
            response.on_hover_text(text);
        }
        if visible(span.start_unix_nano, span.end_unix_nano) {
            let (x0, x1) = (x_of(span.start_unix_nano), x_of(span.end_unix_nano));
            let text = format!("{service} {} {}", span.name, duration_text(span.duration_nanos()));
            let hit = if x1 - x0 < 1.0 {
                lane_painter
                    .line_segment([Pos2::new(x0, lane.top()), Pos2::new(x0, lane.bottom())], Stroke::new(1.0, color));
                Rect::from_min_max(Pos2::new(x0 - 2.0, lane.top()), Pos2::new(x0 + 2.0, lane.bottom()))
            } else {
                let bar = Rect::from_min_max(Pos2::new(x0, lane.top()), Pos2::new(x1, lane.bottom()));
                lane_painter.rect_filled(bar, 2.0, color);
                if row.critical {
                    lane_painter.rect_stroke(bar, 2.0, Stroke::new(1.5, theme::CRITICAL), StrokeKind::Outside);
                }
                let galley = ui.painter().layout_no_wrap(
                    duration_text(span.duration_nanos()),
                    FontId::proportional(theme::DETAIL_SIZE),
                    Color32::BLACK,
                );
                if galley.size().x + 6.0 < bar.width() {
                    lane_painter.galley(
                        Pos2::new(bar.left().max(lane.left()) + 3.0, bar.center().y - galley.size().y / 2.0),
                        galley,
                        Color32::BLACK,
                    );
                } else if x1 + galley.size().x + 6.0 < lane.right() {
                    lane_painter.text(
                        Pos2::new(x1 + 4.0, lane.center().y),
                        Align2::LEFT_CENTER,
                        duration_text(span.duration_nanos()),
                        FontId::proportional(theme::DETAIL_SIZE),
                        theme::LABEL_DETAIL,
                    );
                }
                bar
            };
            let response = ui.interact(hit.intersect(lane), ui.id().with(("span", span_ref)), Sense::click());
            response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, true, &text));
            if response.clicked() {
                self.selected = Some(span_ref);
            }
            response.on_hover_text(if span.is_failure() {
                format!("{text}\nfailed: {}", crate::model::journey::accum::failure_message(span))
            } else {
                text
            });
        }
        // Clicking the label selects too.
        let label_response = ui.interact(label_clip, ui.id().with(("label", span_ref)), Sense::click());
        if label_response.clicked() {
            self.selected = Some(span_ref);
        }
        toggled
    }
}

fn legend(ui: &mut egui::Ui, color: Color32, text: &str) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(14.0, 10.0), Sense::hover());
    ui.painter().rect_filled(rect, 2.0, color);
    ui.label(egui::RichText::new(text).color(theme::LABEL_DETAIL));
}

/// The compensation findings about `detail`'s journey: those that name one of its traces or
/// keys among their examples, or whose failure is the journey's own failed event.
pub fn compensations_of<'a>(detail: &JourneyDetail, findings: &'a FindingsView) -> Vec<&'a Finding> {
    let s = &detail.summary;
    let traces: Vec<String> = s.trace_ids.iter().map(|t| t.to_hex()).collect();
    findings
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Compensation)
        .filter(|f| {
            f.evidence.traces.iter().any(|t| traces.contains(t))
                || f.evidence.keys.iter().any(|k| s.keys.iter().any(|own| **own == **k))
                || (s.failures > 0 && f.evidence.chain.first().is_some_and(|what| *s.event_type == **what))
        })
        .collect()
}

/// A saga's rollback, drawn as its chain: the failure, then each compensating event in the
/// order they were written.
fn compensation_strip(ui: &mut egui::Ui, detail: &JourneyDetail, findings: &FindingsView) {
    for finding in compensations_of(detail, findings) {
        let Some((failure, steps)) = finding.evidence.chain.split_first() else { continue };
        ui.horizontal_wrapped(|ui| {
            ui.label(egui::RichText::new("Rolled back:").strong());
            ui.colored_label(theme::FAILURE, format!("✗ {failure}"));
            for step in steps {
                ui.label("→");
                ui.colored_label(theme::COMPENSATION, step);
            }
            ui.label(
                egui::RichText::new(format!("({} keys in the session)", finding.count)).color(theme::LABEL_DETAIL),
            )
            .on_hover_text(&finding.summary);
        });
    }
}
