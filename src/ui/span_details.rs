//! One span in full: status, timing, attributes, resource, events, links, and backlinks
//! (spans in other traces that link to it, which trace views usually cannot show).

use egui::RichText;

use super::journey_list::{duration_text, time_text};
use super::theme;
use crate::model::ids::SpanRef;
use crate::model::journey::JourneyDetail;
use crate::model::span::{AttrValue, Attribute, Span, StatusCode};

/// What the panel asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanAction {
    /// Nothing.
    None,
    /// Close the panel.
    Close,
    /// Show another span of the journey (a link or backlink was clicked).
    Select(SpanRef),
}

fn value_text(v: &AttrValue) -> String {
    match v {
        AttrValue::StringValue(s) => s.clone(),
        AttrValue::BoolValue(b) => b.to_string(),
        AttrValue::IntValue(i) => i.to_string(),
        AttrValue::DoubleValue(d) => d.to_string(),
        AttrValue::BytesValue(b) => hex::encode(b),
        AttrValue::ArrayValue(a) => format!("[{}]", a.iter().map(value_text).collect::<Vec<_>>().join(", ")),
        AttrValue::KvlistValue(kv) => {
            format!(
                "{{{}}}",
                kv.iter().map(|a| format!("{}: {}", a.key, value_text(&a.value))).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

fn attributes(ui: &mut egui::Ui, id: &str, attributes: &[Attribute]) {
    egui::Grid::new(id).num_columns(2).striped(true).show(ui, |ui| {
        for a in attributes {
            ui.label(RichText::new(&a.key).color(theme::LABEL_DETAIL));
            ui.label(value_text(&a.value));
            ui.end_row();
        }
    });
}

fn span_button(ui: &mut egui::Ui, span: &Span) -> bool {
    ui.link(format!("{}  {}  (trace {}…)", span.service(), span.name, &span.trace_id.to_hex()[..8])).clicked()
}

/// Draws the span `selected` of `detail`.
pub fn show(ui: &mut egui::Ui, detail: &JourneyDetail, selected: SpanRef) -> SpanAction {
    let Some(index) = detail.spans.iter().position(|s| s.span_ref() == selected) else { return SpanAction::Close };
    let span = &detail.spans[index];
    let mut action = SpanAction::None;
    ui.horizontal(|ui| {
        ui.heading(&span.name);
        if ui.button("Close").clicked() {
            action = SpanAction::Close;
        }
    });
    ui.label(format!("{} · {:?}", span.service(), span.kind));
    ui.label(format!("{} · {}", time_text(span.start_unix_nano), duration_text(span.duration_nanos())));
    match span.status {
        StatusCode::Error => {
            ui.colored_label(theme::FAILURE, format!("ERROR {}", span.status_message));
        }
        StatusCode::Ok => {
            ui.colored_label(theme::STATE_OK, "OK");
        }
        StatusCode::Unset => {
            ui.label(RichText::new("status unset").color(theme::LABEL_DETAIL));
        }
    }
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("trace {}  span {}", span.trace_id, span.span_id)).monospace().small());
        if ui.small_button("Copy trace id").clicked() {
            ui.ctx().copy_text(span.trace_id.to_hex());
        }
    });
    egui::CollapsingHeader::new(format!("Attributes ({})", span.attributes.len())).default_open(true).show(ui, |ui| {
        attributes(ui, "span_attributes", &span.attributes);
    });
    egui::CollapsingHeader::new(format!("Resource ({})", span.resource.attributes.len())).show(ui, |ui| {
        attributes(ui, "resource_attributes", &span.resource.attributes);
    });
    if !span.events.is_empty() {
        egui::CollapsingHeader::new(format!("Events ({})", span.events.len())).default_open(true).show(ui, |ui| {
            for (i, e) in span.events.iter().enumerate() {
                let offset = e.time_unix_nano.saturating_sub(span.start_unix_nano);
                let color = if e.name == "exception" { theme::FAILURE } else { theme::LABEL };
                ui.colored_label(color, format!("+{}  {}", duration_text(offset), e.name));
                attributes(ui, &format!("event_{i}"), &e.attributes);
            }
        });
    }
    egui::CollapsingHeader::new(format!("Links ({})", span.links.len())).default_open(true).show(ui, |ui| {
        for link in &span.links {
            match detail.spans.iter().find(|s| s.span_ref() == link.target) {
                Some(target) => {
                    if span_button(ui, target) {
                        action = SpanAction::Select(link.target);
                    }
                }
                None => {
                    ui.label(format!("trace {} span {} (not received)", link.target.trace_id, link.target.span_id));
                }
            }
        }
    });
    let backlinks = &detail.backlinks[index];
    egui::CollapsingHeader::new(format!("Linked from ({})", backlinks.len())).default_open(true).show(ui, |ui| {
        if backlinks.is_empty() {
            ui.label(RichText::new("no span links here").color(theme::LABEL_DETAIL));
        }
        for &b in backlinks {
            let from = &detail.spans[b as usize];
            if span_button(ui, from) {
                action = SpanAction::Select(from.span_ref());
            }
        }
    });
    action
}
