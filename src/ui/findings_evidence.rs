//! The Findings tab's evidence panel: what the selected finding rests on, with buttons that
//! open its traces, messages and nodes elsewhere in the window. Evidence is a few examples
//! at most (the model bounds it), so drawing it every frame is cheap.

use std::collections::BTreeMap;
use std::time::Duration;

use egui::RichText;

use super::findings_view::FindingsAction;
use super::journey_list::time_text;
use super::theme;
use crate::engine::Snapshot;
use crate::model::findings::{Compatibility, Finding, LagEvidence, Location, MessageRef, ShapeDiff, ShapeField};

/// One path of a schema change: its field in the old shape and in the new one.
type ShapeRow<'a> = (Option<&'a ShapeField>, Option<&'a ShapeField>);

/// Draws a finding's evidence; returns what the user asked for, and whether they closed the
/// panel.
pub fn show(ui: &mut egui::Ui, finding: &Finding, snapshot: &Snapshot) -> (FindingsAction, bool) {
    let mut action = FindingsAction::None;
    let mut close = false;
    ui.horizontal(|ui| {
        ui.heading(RichText::new(finding.severity.as_str()).color(theme::severity_color(finding.severity)));
        ui.heading(finding.kind.as_str());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            close = ui.button("Close").clicked();
        });
    });
    ui.label(&finding.summary);
    ui.label(
        RichText::new(format!(
            "count {} · first seen {} · last seen {}",
            finding.count,
            time_text(finding.first_seen_unix_nano),
            time_text(finding.last_seen_unix_nano)
        ))
        .color(theme::LABEL_DETAIL),
    );
    location(ui, &finding.location, &mut action);
    let e = &finding.evidence;
    if let Some(error) = &e.error {
        section(ui, "Error");
        ui.label(RichText::new(error).color(theme::STATE_BAD));
    }
    if let Some(payload) = &e.payload {
        section(ui, "Payload");
        ui.add(egui::Label::new(RichText::new(payload).monospace()).wrap());
    }
    if !e.keys.is_empty() {
        section(ui, "Keys");
        ui.horizontal_wrapped(|ui| {
            for key in &e.keys {
                ui.monospace(key);
            }
        });
    }
    if !e.chain.is_empty() {
        section(ui, "Chain");
        ui.label(e.chain.join(" → "));
    }
    if !e.messages.is_empty() {
        section(ui, "Messages");
        ui.horizontal_wrapped(|ui| {
            for m in &e.messages {
                message_button(ui, m, &mut action);
            }
        });
    }
    if !e.traces.is_empty() {
        section(ui, "Traces");
        for trace in &e.traces {
            if ui.button(RichText::new(trace).monospace()).on_hover_text("open its journey").clicked() {
                action = FindingsAction::OpenTrace(trace.clone());
            }
        }
    }
    if let Some(unhandled) = &e.unhandled {
        section(ui, "Waiting in the dead-letter topic");
        let at_least = if unhandled.more { "at least " } else { "" };
        let oldest = unhandled
            .oldest_ms
            .map(|ms| format!(", the oldest written {}", time_text(u64::try_from(ms).unwrap_or(0) * 1_000_000)))
            .unwrap_or_default();
        ui.label(format!("{at_least}{} not read back{oldest}", unhandled.count));
        let readers = if unhandled.readers.is_empty() {
            "no group reads this topic: nothing replays or inspects these dead letters".to_owned()
        } else {
            format!("read by {}", unhandled.readers.join(", "))
        };
        ui.label(RichText::new(readers).color(theme::LABEL_DETAIL));
    }
    if let Some(lag) = &e.lag {
        lag_section(ui, lag);
        // The group's lag (or the queue's or consumer's depth) over the session, as the Flow
        // view's side panel draws it.
        if let Some(topic) = &finding.location.topic {
            if let Some(group) = &finding.location.group {
                super::kafka_panel::lag_chart(ui, &snapshot.kafka, group, topic);
            }
            super::depth_panel::finding_chart(ui, snapshot, topic, finding.location.group.as_deref());
        }
    }
    if let Some(shape) = &e.shape {
        shape_section(ui, shape, &mut action);
    }
    (action, close)
}

fn section(ui: &mut egui::Ui, title: &str) {
    ui.add_space(theme::SECTION_GAP);
    ui.strong(title);
}

/// `orders 2@1041`: opens the message in the Messages view.
fn message_button(ui: &mut egui::Ui, m: &MessageRef, action: &mut FindingsAction) {
    if ui.button(format!("{} {}@{}", m.topic, m.partition, m.offset)).on_hover_text("open it in Messages").clicked() {
        *action = FindingsAction::OpenMessage(m.clone());
    }
}

/// The location, field by field; topics, groups and services link to the flow graph.
fn location(ui: &mut egui::Ui, l: &Location, action: &mut FindingsAction) {
    section(ui, "Where");
    egui::Grid::new("finding_where").num_columns(2).show(ui, |ui| {
        for (what, name) in [("Topic", &l.topic), ("Group", &l.group), ("Service", &l.service)] {
            let Some(name) = name else { continue };
            ui.label(what);
            if ui.link(name).on_hover_text("select it in the flow graph").clicked() {
                *action = FindingsAction::FocusNode(name.clone());
            }
            ui.end_row();
        }
        for (what, value) in [("Event type", &l.event_type), ("Key", &l.key)] {
            let Some(value) = value else { continue };
            ui.label(what);
            ui.monospace(value);
            ui.end_row();
        }
        match (&l.topic, l.partition, l.offset) {
            (Some(topic), Some(partition), Some(offset)) => {
                ui.label("Message");
                message_button(ui, &MessageRef { topic: topic.clone(), partition, offset }, action);
                ui.end_row();
            }
            (_, Some(partition), _) => {
                ui.label("Partition");
                ui.label(partition.to_string());
                ui.end_row();
            }
            _ => {}
        }
    });
}

fn lag_section(ui: &mut egui::Ui, lag: &LagEvidence) {
    section(ui, "Lag");
    egui::Grid::new("finding_lag").num_columns(2).show(ui, |ui| {
        ui.label("Status");
        let colour = if lag.status == "WARN" { theme::STATE_WARN } else { theme::STATE_BAD };
        ui.label(RichText::new(lag.status).color(colour));
        ui.end_row();
        ui.label("Lag");
        ui.label(format!("{} offsets", lag.offsets));
        ui.end_row();
        if let Some(ms) = lag.time_ms {
            ui.label("Oldest unconsumed");
            ui.label(humantime::format_duration(Duration::from_millis(ms)).to_string());
            ui.end_row();
        }
        ui.label("Clears in");
        ui.label(match lag.time_to_clear_s {
            // Whole seconds: the rate is an estimate.
            Some(s) => humantime::format_duration(Duration::from_secs(s.max(0.0).round() as u64)).to_string(),
            None => "never at this rate (not falling)".to_owned(),
        });
        ui.end_row();
        if !lag.partitions.is_empty() {
            ui.label("Partitions");
            let partitions: Vec<String> = lag.partitions.iter().map(i32::to_string).collect();
            ui.label(partitions.join(", "));
            ui.end_row();
        }
    });
}

fn compatibility_text(compatibility: Compatibility) -> &'static str {
    match compatibility {
        Compatibility::Full => "FULL: readers of either shape read the other's data",
        Compatibility::Backward => "BACKWARD: readers of the new shape read old data",
        Compatibility::Forward => "FORWARD: readers of the old shape read new data",
        Compatibility::None => "NONE: readers of one shape may fail on the other's data",
    }
}

/// A schema change: the verdict, who produced the new shape, who fails since, and the two
/// shapes side by side, path by path (added paths highlighted, removed ones struck through).
fn shape_section(ui: &mut egui::Ui, d: &ShapeDiff, action: &mut FindingsAction) {
    section(ui, "Payload shapes");
    ui.horizontal_wrapped(|ui| {
        ui.label("Compatibility");
        ui.label(RichText::new(compatibility_text(d.compatibility)).color(theme::compatibility_color(d.compatibility)));
    });
    if let Some(producer) = &d.produced_by {
        ui.horizontal_wrapped(|ui| {
            ui.label("New shape produced by");
            if ui.link(producer).on_hover_text("select it in the flow graph").clicked() {
                *action = FindingsAction::FocusNode(producer.clone());
            }
        });
    }
    if !d.failing_consumers.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label("Failing since it appeared:");
            for consumer in &d.failing_consumers {
                if ui.link(consumer).on_hover_text("select it in the flow graph").clicked() {
                    *action = FindingsAction::FocusNode(consumer.clone());
                }
            }
        });
    }
    let firsts = [("First message of the old shape", &d.first_before), ("First of the new shape", &d.first_after)];
    for (what, first) in firsts {
        let Some(m) = first else { continue };
        ui.horizontal(|ui| {
            ui.label(what);
            message_button(ui, m, action);
        });
    }
    let mut rows: BTreeMap<&str, ShapeRow<'_>> = BTreeMap::new();
    for f in &d.before {
        rows.entry(f.path.as_str()).or_default().0 = Some(f);
    }
    for f in &d.after {
        rows.entry(f.path.as_str()).or_default().1 = Some(f);
    }
    ui.add_space(theme::SECTION_GAP);
    egui::ScrollArea::horizontal().id_salt("finding_shapes_scroll").show(ui, |ui| {
        egui::Grid::new("finding_shapes").num_columns(6).striped(true).show(ui, |ui| {
            for title in ["Before", "types", "present", "After", "types", "present"] {
                ui.strong(title);
            }
            ui.end_row();
            for (&path, &(before, after)) in &rows {
                let changed = d.changed.iter().any(|c| c.as_str() == path);
                let mut old = RichText::new(path).monospace();
                if d.removed.iter().any(|r| r.as_str() == path) {
                    old = old.strikethrough().color(theme::SHAPE_REMOVED);
                }
                let mut new = RichText::new(path).monospace();
                if d.added.iter().any(|a| a.as_str() == path) {
                    new = new.strong().color(theme::SHAPE_ADDED);
                }
                field_cells(ui, before, old, changed);
                field_cells(ui, after, new, changed);
                ui.end_row();
            }
        });
    });
}

/// One side of a shape row: path, types, presence; empty when that shape lacks the path.
fn field_cells(ui: &mut egui::Ui, field: Option<&ShapeField>, path: RichText, changed: bool) {
    let Some(f) = field else {
        for _ in 0..3 {
            ui.label("");
        }
        return;
    };
    ui.label(path);
    let types = RichText::new(f.types.join(" | "));
    ui.label(if changed { types.color(theme::SHAPE_CHANGED) } else { types });
    ui.label(format!("{}%", f.presence_percent));
}
