//! The flow graph as JSON, Graphviz DOT or Mermaid (`eventlens graph FILE --format ...`).
//! The JSON shape is documented in `docs/capture-format.md` ("Graph JSON").

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::capture::{CaptureError, SkippedLines, replay_records};
use crate::engine::EngineState;
use crate::engine::snapshot::{ConsumerDepth, Counters, EdgeSnapshot, GroupLag, NodeSnapshot, QueueDepth, Snapshot};
use crate::model::flow_graph::{EdgeKind, NodeKey, NodeKind};
use crate::model::rabbitmq::RABBITMQ_SYSTEM;
use crate::model::stats::Percentiles;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// JSON document (nodes, edges, counters).
    Json,
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// A session file replayed into a graph.
#[derive(Debug)]
pub struct ReplayedGraph {
    /// The graph at the end of the session, rates computed at its last record.
    pub snapshot: Snapshot,
    /// Lines of the file that were skipped.
    pub skipped: SkippedLines,
}

/// Replays a session file through the same engine logic the live view uses.
pub fn replay_file(path: &Path) -> Result<ReplayedGraph, CaptureError> {
    let (mut state, skipped) = replay_state(path)?;
    let snapshot = state.snapshot(state.last_received_second() + 1);
    Ok(ReplayedGraph { snapshot, skipped })
}

/// Replays a session file into an engine state (flow graph, Kafka model, journeys), with the
/// lines that were skipped. Each record is applied as it is read, so the file is never held
/// in memory.
pub fn replay_state(path: &Path) -> Result<(EngineState, SkippedLines), CaptureError> {
    let mut state = EngineState::default();
    let skipped = replay_records(path, |record| state.apply_owned(record))?;
    Ok((state, skipped))
}

#[derive(Serialize)]
struct GraphDocument<'a> {
    nodes: Vec<NodeDocument<'a>>,
    edges: Vec<EdgeDocument<'a>>,
    spans: u64,
    /// Names and edges the graph folded into overflow nodes past its memory share.
    names_folded: u64,
    edges_folded: u64,
}

/// The counters part shared by nodes and edges, with units in the field names.
#[derive(Serialize)]
struct CountersDocument<'a> {
    count: u64,
    failures: u64,
    latency_us: Option<Percentiles>,
    time_in_topic_us: Option<Percentiles>,
    consumer_groups: &'a [String],
    partitions: &'a [String],
}

impl<'a> From<&'a Counters> for CountersDocument<'a> {
    fn from(c: &'a Counters) -> Self {
        Self {
            count: c.count,
            failures: c.failures,
            latency_us: c.latency,
            time_in_topic_us: c.time_in_topic,
            consumer_groups: &c.consumer_groups,
            partitions: &c.partitions,
        }
    }
}

#[derive(Serialize)]
struct NodeDocument<'a> {
    id: u32,
    kind: NodeKind,
    name: &'a str,
    #[serde(flatten)]
    counters: CountersDocument<'a>,
    /// A RabbitMQ queue's depth, on queues a watched broker reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<&'a QueueDepth>,
    /// A RabbitMQ exchange's type, on exchanges a watched broker reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    exchange: Option<ExchangeDocument<'a>>,
}

#[derive(Serialize)]
struct ExchangeDocument<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
}

/// The type of the RabbitMQ exchange `node` is, when a watched broker reports one by its name.
fn exchange_of<'a>(snapshot: &'a Snapshot, node: &NodeSnapshot) -> Option<ExchangeDocument<'a>> {
    let NodeKey::Destination { system, name } = &node.key else { return None };
    if system != RABBITMQ_SYSTEM {
        return None;
    }
    snapshot.rabbitmq.values().find_map(|b| b.exchange_named(name)).map(|kind| ExchangeDocument { kind })
}

#[derive(Serialize)]
struct EdgeDocument<'a> {
    id: u32,
    kind: EdgeKind,
    from: u32,
    to: u32,
    from_name: &'a str,
    to_name: &'a str,
    #[serde(flatten)]
    counters: CountersDocument<'a>,
    /// Consumer lag per group, on consume edges out of Kafka topics a cluster reported.
    #[serde(skip_serializing_if = "<[GroupLag]>::is_empty")]
    lag: &'a [GroupLag],
    /// Depth per consumer, on consume edges out of NATS streams a watched server reports.
    #[serde(skip_serializing_if = "<[ConsumerDepth]>::is_empty")]
    depth: &'a [ConsumerDepth],
    /// Binding keys, on an exchange's routes to what is bound to it.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    routing_keys: &'a [String],
}

/// Renders the graph of a snapshot in `format`.
pub fn render(snapshot: &Snapshot, format: GraphFormat) -> String {
    match format {
        GraphFormat::Json => to_json(snapshot),
        GraphFormat::Dot => to_dot(snapshot),
        GraphFormat::Mermaid => to_mermaid(snapshot),
    }
}

fn name_of(snapshot: &Snapshot, id: u32) -> &str {
    snapshot.node(id).map_or("?", |n| n.label.as_str())
}

/// The JSON document.
pub fn to_json(snapshot: &Snapshot) -> String {
    let document = GraphDocument {
        nodes: snapshot
            .nodes
            .iter()
            .map(|n| NodeDocument {
                id: n.id,
                kind: n.kind,
                name: &n.label,
                counters: (&n.counters).into(),
                queue: n.queue.as_ref(),
                exchange: exchange_of(snapshot, n),
            })
            .collect(),
        edges: snapshot
            .edges
            .iter()
            .map(|e| EdgeDocument {
                id: e.id,
                kind: e.kind,
                from: e.from,
                to: e.to,
                from_name: name_of(snapshot, e.from),
                to_name: name_of(snapshot, e.to),
                counters: (&e.counters).into(),
                lag: &e.lag,
                depth: &e.depth,
                routing_keys: &e.routing_keys,
            })
            .collect(),
        spans: snapshot.model.spans,
        names_folded: snapshot.model.names_folded,
        edges_folded: snapshot.model.edges_folded,
    };
    serde_json::to_string_pretty(&document).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn edge_label(e: &EdgeSnapshot) -> String {
    let (count, failures) = (e.counters.count, e.counters.failures);
    let unit = if e.kind == EdgeKind::Calls { "calls" } else { "msgs" };
    if e.kind == EdgeKind::Routes {
        return format!("binding {}", e.routing_keys.join(", "));
    }
    let mut label = if failures > 0 { format!("{count} {unit}, {failures} failed") } else { format!("{count} {unit}") };
    for l in &e.lag {
        let _ = write!(label, ", lag {} ({})", l.offsets, l.status.as_str());
    }
    for d in &e.depth {
        let _ = write!(label, ", pending {} + {} unacked ({})", d.pending, d.ack_pending, d.status.as_str());
    }
    label
}

/// Graphviz DOT, left to right; services as ellipses, destinations as boxes, consumer
/// groups as diamonds, synchronous calls dashed.
pub fn to_dot(snapshot: &Snapshot) -> String {
    let mut out = String::from("digraph eventlens {\n  rankdir=LR;\n");
    for n in &snapshot.nodes {
        let shape = match n.kind {
            NodeKind::Service => "ellipse",
            NodeKind::Destination => "box",
            NodeKind::ConsumerGroup => "diamond",
        };
        let label = match &n.queue {
            // DOT's own line break, after the quoted name.
            Some(q) => {
                format!("{}\\n{} ready, {} unacked ({})", quoted(&n.label), q.ready, q.unacked, q.status.as_str())
            }
            None => quoted(&n.label),
        };
        let _ = writeln!(out, "  n{} [label=\"{label}\", shape={shape}];", n.id);
    }
    for e in &snapshot.edges {
        let style = match e.kind {
            EdgeKind::Calls => ", style=dashed",
            EdgeKind::Routes => ", style=dotted",
            _ => "",
        };
        let color = if e.counters.failures > 0 { ", color=red" } else { "" };
        let _ = writeln!(out, "  n{} -> n{} [label=\"{}\"{style}{color}];", e.from, e.to, quoted(&edge_label(e)));
    }
    out.push_str("}\n");
    out
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// A Mermaid flowchart, left to right; topics drawn as cylinders, calls dotted.
pub fn to_mermaid(snapshot: &Snapshot) -> String {
    let mut out = String::from("flowchart LR\n");
    for n in &snapshot.nodes {
        let label = mermaid_text(&n.label);
        let _ = match n.kind {
            NodeKind::Service => writeln!(out, "  n{}[\"{label}\"]", n.id),
            NodeKind::Destination => writeln!(out, "  n{}[(\"{label}\")]", n.id),
            NodeKind::ConsumerGroup => writeln!(out, "  n{}{{\"{label}\"}}", n.id),
        };
    }
    for e in &snapshot.edges {
        let arrow = if e.kind == EdgeKind::Calls { "-.->" } else { "-->" };
        let label = mermaid_text(&edge_label(e));
        let _ = writeln!(out, "  n{} {arrow}|\"{label}\"| n{}", e.from, e.to);
    }
    out
}
