//! The side panel for the selected node or edge: counters, sparklines, groups, partitions.

use egui::RichText;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::flow_view::Selection;
use super::kafka_panel;
use super::theme;
use crate::engine::snapshot::{Counters, Snapshot};
use crate::model::stats::{Percentiles, SecondPoint};

/// What the panel asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelAction {
    /// Nothing.
    None,
    /// The close button was pressed.
    Close,
    /// Focus was asked for on this node: show it with its neighbourhood only.
    Focus(u32),
}

/// Formats microseconds for people: 850 µs, 12.3 ms, 4.1 s.
pub fn format_micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1_000.0),
        _ => format!("{:.2} s", us as f64 / 1_000_000.0),
    }
}

fn percentiles_row(ui: &mut egui::Ui, label: &str, p: Option<Percentiles>) {
    ui.label(label);
    match p {
        Some(p) => ui.label(format!(
            "p50 {} · p90 {} · p99 {} · max {}",
            format_micros(p.p50_us),
            format_micros(p.p90_us),
            format_micros(p.p99_us),
            format_micros(p.max_us)
        )),
        None => ui.label("—"),
    };
    ui.end_row();
}

/// What the panel shows, whether a node or an edge is selected.
struct Details<'a> {
    title: String,
    subtitle: String,
    counters: &'a Counters,
    /// A destination's latency is its time in topic: shown once.
    is_destination: bool,
}

fn details(snapshot: &Snapshot, selection: Selection) -> Option<Details<'_>> {
    use crate::model::flow_graph::{EdgeKind, NodeKind};
    Some(match selection {
        Selection::Node(id) => {
            let n = snapshot.node(id)?;
            let kind = match n.kind {
                NodeKind::Service => "Service",
                NodeKind::Destination => "Destination",
                NodeKind::ConsumerGroup => "Consumer group",
            };
            Details {
                title: n.label.clone(),
                subtitle: kind.to_owned(),
                counters: &n.counters,
                is_destination: n.kind == NodeKind::Destination,
            }
        }
        Selection::Edge(id) => {
            let e = snapshot.edge(id)?;
            let from = snapshot.node(e.from).map_or("?", |n| n.label.as_str());
            let to = snapshot.node(e.to).map_or("?", |n| n.label.as_str());
            let kind = match e.kind {
                EdgeKind::Produces => "produces to",
                EdgeKind::Consumes => "is consumed by",
                EdgeKind::Calls => "calls",
                EdgeKind::DeadLetters => "dead-letters failed messages to",
                EdgeKind::Routes => "routes to",
            };
            Details {
                title: format!("{from} -> {to}"),
                subtitle: format!("{from} {kind} {to}"),
                counters: &e.counters,
                is_destination: false,
            }
        }
    })
}

/// Draws the panel's contents for `selection`.
pub fn show(ui: &mut egui::Ui, snapshot: &Snapshot, selection: Selection) -> PanelAction {
    let Some(Details { title, subtitle, counters: c, is_destination }) = details(snapshot, selection) else {
        return PanelAction::Close;
    };
    let latency = if is_destination { None } else { c.latency };
    let mut action = PanelAction::None;
    ui.horizontal(|ui| {
        ui.heading(&title);
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Close").clicked() {
                action = PanelAction::Close;
            }
            if let Selection::Node(id) = selection
                && ui
                    .button("Focus")
                    .on_hover_text("show only this node and what is a few hops up- and downstream")
                    .clicked()
            {
                action = PanelAction::Focus(id);
            }
        });
    });
    ui.label(RichText::new(subtitle).weak());
    ui.separator();
    egui::Grid::new("details_counters").num_columns(2).striped(true).show(ui, |ui| {
        ui.label("Messages");
        ui.label(c.count.to_string());
        ui.end_row();
        ui.label("Failures");
        let failures_text = RichText::new(c.failures.to_string());
        ui.label(if c.failures > 0 { failures_text.color(theme::FAILURE) } else { failures_text });
        ui.end_row();
        ui.label("Rate 1 s / 10 s / 60 s");
        ui.label(format!("{:.1} / {:.1} / {:.1} per s", c.rates[0], c.rates[1], c.rates[2]));
        ui.end_row();
        if latency.is_some() {
            percentiles_row(ui, "Latency", latency);
        }
        if c.time_in_topic.is_some() {
            percentiles_row(ui, "Time in topic", c.time_in_topic);
        }
        ui.label("Consumer groups");
        ui.label(if c.consumer_groups.is_empty() { "—".to_owned() } else { c.consumer_groups.join(", ") });
        ui.end_row();
        ui.label("Partitions");
        ui.label(if c.partitions.is_empty() { "—".to_owned() } else { c.partitions.join(", ") });
        ui.end_row();
    });
    ui.separator();
    rate_sparkline(ui, snapshot.now_second, &c.history);
    if latency.is_some() {
        percentile_sparkline(ui, "spark_latency", "Latency p50 / p99 (ms)", snapshot.now_second, &c.history);
    }
    if c.time_in_topic.is_some() {
        let history = &c.time_in_topic_history;
        percentile_sparkline(ui, "spark_time_in_topic", "Time in topic p50 / p99 (ms)", snapshot.now_second, history);
    }
    kafka_details(ui, snapshot, selection);
    action
}

/// What the watched brokers add: lag and depth on consume edges, partitions of topics,
/// members of groups, a RabbitMQ queue's depth.
fn kafka_details(ui: &mut egui::Ui, snapshot: &Snapshot, selection: Selection) {
    use crate::model::flow_graph::NodeKey;
    match selection {
        Selection::Edge(id) => {
            if let Some(e) = snapshot.edge(id) {
                kafka_panel::edge_lag(ui, snapshot, e);
                super::depth_panel::edge_depth(ui, snapshot, e);
            }
        }
        Selection::Node(id) => match snapshot.node(id).map(|n| &n.key) {
            Some(key @ NodeKey::Destination { .. }) => {
                if let Some(topic) = kafka_panel::kafka_topic(key) {
                    kafka_panel::topic(ui, snapshot, topic);
                }
                super::depth_panel::queue_node(ui, snapshot, id);
            }
            Some(NodeKey::ConsumerGroup { group, .. }) => kafka_panel::group(ui, snapshot, group),
            _ => {}
        },
    }
}

fn series(history: &[SecondPoint], now: u64, value: impl Fn(&SecondPoint) -> Option<f64>) -> PlotPoints<'static> {
    history.iter().filter_map(|p| value(p).map(|v| [p.second as f64 - now as f64, v])).collect::<Vec<[f64; 2]>>().into()
}

fn plot(id: &str) -> Plot<'_> {
    Plot::new(id)
        .height(theme::SPARKLINE_HEIGHT)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .legend(Legend::default())
}

fn rate_sparkline(ui: &mut egui::Ui, now: u64, history: &[SecondPoint]) {
    ui.label("Messages and failures per second");
    plot("spark_rate").show(ui, |plot| {
        plot.line(Line::new("msgs/s", series(history, now, |p| Some(p.count as f64))).color(theme::SERIES_RATE));
        plot.line(
            Line::new("failures/s", series(history, now, |p| Some(p.failures as f64))).color(theme::SERIES_FAILURES),
        );
    });
}

fn percentile_sparkline(ui: &mut egui::Ui, id: &str, title: &str, now: u64, history: &[SecondPoint]) {
    ui.label(title);
    let ms = |v: Option<u64>| v.map(|us| us as f64 / 1000.0);
    plot(id).show(ui, |plot| {
        plot.line(Line::new("p50", series(history, now, |p| ms(p.p50_us))).color(theme::SERIES_P50));
        plot.line(Line::new("p99", series(history, now, |p| ms(p.p99_us))).color(theme::SERIES_P99));
    });
}
