//! The Kafka parts of the side panel: a consume edge's lag per group with its history
//! chart, a topic's partitions and the groups reading it, a group's members.

use egui::RichText;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::details_panel::format_micros;
use super::theme;
use crate::engine::snapshot::{EdgeSnapshot, GroupLag, Snapshot};
use crate::model::flow_graph::NodeKey;
use crate::model::kafka::{ClusterState, GroupState, GroupStatus, KafkaModel};

fn status_text(status: GroupStatus) -> RichText {
    RichText::new(status.as_str()).color(theme::lag_status_color(status)).strong()
}

fn age(ms: Option<u64>) -> String {
    ms.map_or_else(|| "—".to_owned(), |ms| format_micros(ms.saturating_mul(1000)))
}

/// A Kafka topic name when the node or edge end is one.
pub fn kafka_topic(key: &NodeKey) -> Option<&str> {
    match key {
        NodeKey::Destination { system, name } if system == crate::engine::KAFKA_SYSTEM => Some(name),
        _ => None,
    }
}

/// The cluster that has this topic.
fn cluster_of<'a>(kafka: &'a KafkaModel, topic: &str) -> Option<(&'a String, &'a ClusterState)> {
    kafka.clusters().iter().find(|(_, c)| c.topics.contains_key(topic))
}

/// Lag of each group on a consume edge, and its history chart.
pub fn edge_lag(ui: &mut egui::Ui, snapshot: &Snapshot, edge: &EdgeSnapshot) {
    let Some(topic) = snapshot.node(edge.from).and_then(|n| kafka_topic(&n.key)) else { return };
    if edge.lag.is_empty() {
        return;
    }
    ui.separator();
    ui.strong("Consumer lag");
    egui::Grid::new("edge_lag").num_columns(5).striped(true).show(ui, |ui| {
        for h in ["Group", "Offsets", "Oldest unconsumed", "Max (offsets / age)", "Status"] {
            ui.label(RichText::new(h).weak());
        }
        ui.end_row();
        for l in &edge.lag {
            lag_row(ui, l);
        }
    });
    for l in &edge.lag {
        lag_chart(ui, &snapshot.kafka, &l.group, topic);
    }
}

fn lag_row(ui: &mut egui::Ui, l: &GroupLag) {
    ui.label(&l.group);
    ui.label(l.offsets.to_string());
    ui.label(age(l.time_ms));
    ui.label(format!("{} / {}", l.max_offsets, age(l.max_time_ms)));
    ui.label(status_text(l.status)).on_hover_text("Burrow's evaluation over the last polls (docs/lag.md)");
    ui.end_row();
}

/// The group's total lag on the topic and each partition's, over the session (also drawn
/// in a lag finding's evidence).
pub fn lag_chart(ui: &mut egui::Ui, kafka: &KafkaModel, group: &str, topic: &str) {
    let Some(total) = kafka.topic_lag(group, topic) else { return };
    let Some(state) = kafka.clusters().values().find_map(|c| c.groups.get(group)) else { return };
    // Each partition's own status: a group is only as healthy as its worst partition.
    ui.horizontal_wrapped(|ui| {
        for ((t, partition), lag) in state.partitions.iter().filter(|((t, _), _)| t == topic) {
            let status = lag.status();
            let color = theme::lag_status_color(GroupStatus::of([status]));
            let offsets = lag.latest().map_or(0, |s| s.lag);
            ui.label(RichText::new(format!("p{partition} {offsets} {}", status.as_str())).color(color))
                .on_hover_text(format!("{t}/{partition}: {} samples", lag.history().len()));
        }
    });
    let newest = total.history.back().map_or(0, |h| h.0);
    let x = |at_ms: u64| (at_ms as f64 - newest as f64) / 1000.0;
    ui.label(format!("Lag of {group} on {topic} (offsets; seconds before the last poll)"));
    Plot::new(("lag_chart", group, topic))
        .height(theme::LAG_CHART_HEIGHT)
        .include_y(0.0)
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            let points: Vec<[f64; 2]> = total.history.iter().map(|&(at, lag)| [x(at), lag as f64]).collect();
            plot.line(Line::new("total", PlotPoints::from(points)).color(theme::SERIES_LAG_TOTAL).width(2.0));
            for ((t, partition), lag) in &state.partitions {
                if t != topic {
                    continue;
                }
                let points: Vec<[f64; 2]> = lag.history().iter().map(|s| [x(s.at_ms), s.lag as f64]).collect();
                plot.line(Line::new(format!("p{partition}"), PlotPoints::from(points)).width(1.0));
            }
        });
}

/// A Kafka topic's partitions and the groups reading it.
pub fn topic(ui: &mut egui::Ui, snapshot: &Snapshot, name: &str) {
    let Some((cluster_name, cluster)) = cluster_of(&snapshot.kafka, name) else { return };
    let Some(topic) = cluster.topics.get(name) else { return };
    ui.separator();
    ui.strong(format!("Topic on {cluster_name}"));
    ui.label(format!(
        "{} partitions · {} messages retained · {:.1} msgs/s written",
        topic.partitions.len(),
        topic.retained_messages(),
        topic.messages_per_second()
    ));
    egui::Grid::new("topic_partitions").num_columns(5).striped(true).show(ui, |ui| {
        for h in ["Partition", "Leader", "Earliest", "Latest", "msgs/s"] {
            ui.label(RichText::new(h).weak());
        }
        ui.end_row();
        for (id, p) in &topic.partitions {
            ui.label(id.to_string());
            ui.label(p.leader.to_string());
            ui.label(p.low.to_string());
            ui.label(p.high.to_string());
            ui.label(format!("{:.1}", p.messages_per_second));
            ui.end_row();
        }
    });
    let readers: Vec<(&String, &GroupState)> =
        cluster.groups.iter().filter(|(_, g)| g.topics.contains_key(name)).collect();
    if readers.is_empty() {
        return;
    }
    ui.strong("Groups reading it");
    egui::Grid::new("topic_groups").num_columns(4).striped(true).show(ui, |ui| {
        for (group, g) in readers {
            let Some(l) = g.topics.get(name) else { continue };
            ui.label(group);
            ui.label(format!("lag {}", l.offsets));
            ui.label(age(l.time_ms));
            ui.label(status_text(l.status));
            ui.end_row();
        }
    });
}

/// A consumer group: where it was learned, its state and members.
pub fn group(ui: &mut egui::Ui, snapshot: &Snapshot, name: &str) {
    let Some((cluster_name, g)) = snapshot.kafka.clusters().iter().find_map(|(n, c)| Some((n, c.groups.get(name)?)))
    else {
        return;
    };
    ui.separator();
    ui.strong(format!("Group {name} on {cluster_name}"));
    egui::Grid::new(("group", name)).num_columns(2).show(ui, |ui| {
        ui.label("Known from");
        ui.label(g.origin.map_or("—", |o| o.label()));
        ui.end_row();
        ui.label("State");
        ui.label(g.state.as_deref().unwrap_or("not described by the cluster"));
        ui.end_row();
        ui.label("Status");
        ui.label(status_text(g.status()));
        ui.end_row();
        ui.label("Total lag");
        ui.label(g.total_lag().to_string());
        ui.end_row();
        if let Some(e) = &g.offsets_error {
            ui.label("Offsets");
            ui.label(RichText::new(format!("cannot be read: {e}")).color(theme::STATE_BAD));
            ui.end_row();
        }
    });
    if let Some(members) = &g.members {
        ui.label(RichText::new(format!("{} members", members.len())).weak());
        for m in members {
            let assigned: Vec<String> = m.assignment.iter().map(|(t, ps)| format!("{t} {ps:?}")).collect();
            ui.label(format!("{} @ {} — {}", m.client_id, m.host, assigned.join(", ")));
        }
    }
}
