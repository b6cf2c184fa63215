//! Queue depth in the side panel and the Brokers view: a JetStream consumer's pending and
//! ack-pending counts with their history chart, coloured by the depth status.

use egui::RichText;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::theme;
use crate::engine::snapshot::{EdgeSnapshot, Snapshot};
use crate::model::depth::{DepthHistory, DepthStatus};
use crate::model::flow_graph::NodeKey;
use crate::model::nats::NATS_SYSTEM;

/// A JetStream consumer's two counts, as JetStream names them.
pub const NATS_SERIES: (&str, &str) = ("pending", "ack pending");

/// A depth status, coloured.
pub fn status_text(status: DepthStatus) -> RichText {
    RichText::new(status.as_str()).color(theme::depth_status_color(status)).strong()
}

/// The consumers' depths on a consume edge out of a NATS stream, each with its chart.
pub fn edge_depth(ui: &mut egui::Ui, snapshot: &Snapshot, edge: &EdgeSnapshot) {
    let stream = match snapshot.node(edge.from).map(|n| &n.key) {
        Some(NodeKey::Destination { system, name }) if system == NATS_SYSTEM => name,
        _ => return,
    };
    if edge.depth.is_empty() {
        return;
    }
    ui.separator();
    ui.strong("Consumer depth");
    egui::Grid::new("edge_depth").num_columns(5).striped(true).show(ui, |ui| {
        for h in ["Consumer", "Pending", "Ack pending", "Redelivered", "Status"] {
            ui.label(RichText::new(h).weak());
        }
        ui.end_row();
        for d in &edge.depth {
            ui.label(&d.consumer);
            ui.label(format!("{} (max {})", d.pending, d.max_pending));
            ui.label(format!("{} (max {})", d.ack_pending, d.max_ack_pending));
            ui.label(d.redelivered.to_string());
            ui.label(status_text(d.status)).on_hover_text("the depth rules over the last polls (docs/brokers.md)");
            ui.end_row();
        }
    });
    for d in &edge.depth {
        let history =
            snapshot.nats.values().find_map(|s| Some(&s.streams.get(stream)?.consumers.get(&d.consumer)?.depth));
        if let Some(history) = history {
            depth_chart(ui, history, &format!("{stream} → {}", d.consumer), NATS_SERIES);
        }
    }
}

/// A RabbitMQ queue's depth, consumers, rates and status, with its chart.
pub fn queue_node(ui: &mut egui::Ui, snapshot: &Snapshot, node: u32) {
    let Some(n) = snapshot.node(node) else { return };
    let (Some(q), NodeKey::Destination { name, .. }) = (&n.queue, &n.key) else { return };
    ui.separator();
    ui.strong(format!("Queue ({})", q.kind));
    egui::Grid::new("queue_depth").num_columns(2).striped(true).show(ui, |ui| {
        let rows = [
            ("Ready", format!("{} (max {})", q.ready, q.max_ready)),
            ("Unacked", format!("{} (max {})", q.unacked, q.max_unacked)),
            ("Consumers", q.consumers.to_string()),
            (
                "Published / acked / redelivered",
                format!("{:.1} / {:.1} / {:.1} per s", q.publish_rate, q.ack_rate, q.redeliver_rate),
            ),
        ];
        for (label, value) in rows {
            ui.label(RichText::new(label).weak());
            ui.label(value);
            ui.end_row();
        }
        ui.label(RichText::new("Status").weak());
        ui.label(status_text(q.status)).on_hover_text("the depth rules over the last polls (docs/brokers.md)");
        ui.end_row();
    });
    if let Some(history) = snapshot.rabbitmq.values().find_map(|b| Some(&b.queue_named(name)?.depth)) {
        depth_chart(ui, history, name, ("ready", "unacked"));
    }
}

/// The depth chart behind a depth finding: a RabbitMQ queue's (`consumer` `None`) or a
/// JetStream consumer's; nothing for a Kafka group's lag.
pub fn finding_chart(ui: &mut egui::Ui, snapshot: &Snapshot, destination: &str, consumer: Option<&str>) {
    match consumer {
        Some(consumer) => {
            let state = snapshot.nats.values().find_map(|s| s.streams.get(destination)?.consumers.get(consumer));
            if let Some(c) = state {
                depth_chart(ui, &c.depth, &format!("{destination} → {consumer}"), NATS_SERIES);
            }
        }
        None => {
            if let Some(q) = snapshot.rabbitmq.values().find_map(|b| b.queue_named(destination)) {
                depth_chart(ui, &q.depth, destination, ("ready", "unacked"));
            }
        }
    }
}

/// Pending and unacknowledged over the session, seconds before the last poll.
/// `series` names the two counts as the broker does (JetStream: pending, ack pending;
/// RabbitMQ: ready, unacked).
pub fn depth_chart(ui: &mut egui::Ui, history: &DepthHistory, title: &str, series: (&str, &str)) {
    let newest = history.latest().map_or(0, |s| s.at_ms);
    let x = |at_ms: u64| (at_ms as f64 - newest as f64) / 1000.0;
    ui.label(format!("Depth of {title} (messages; seconds before the last poll)"));
    Plot::new(("depth_chart", title))
        .height(theme::LAG_CHART_HEIGHT)
        .include_y(0.0)
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            let pending: Vec<[f64; 2]> = history.samples().map(|s| [x(s.at_ms), s.ready as f64]).collect();
            plot.line(Line::new(series.0, PlotPoints::from(pending)).color(theme::SERIES_LAG_TOTAL).width(2.0));
            let unacked: Vec<[f64; 2]> = history.samples().map(|s| [x(s.at_ms), s.unacked as f64]).collect();
            plot.line(Line::new(series.1, PlotPoints::from(unacked)).color(theme::SERIES_UNACKED).width(1.5));
        });
}
