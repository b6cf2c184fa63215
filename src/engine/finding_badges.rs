//! Which node or edge of the flow graph each finding belongs to, for the badges the graph
//! draws: a finding about a consumer on a topic sits on that consume edge, one about a topic
//! on the topic's node, one about a service on the service's node. Computed once per publish,
//! never in a paint call.

use serde::Serialize;

use super::snapshot::{EdgeSnapshot, NodeSnapshot};
use crate::model::findings::{Finding, FindingsView, Severity};
use crate::model::flow_graph::{EdgeKind, NodeKey};

/// The findings on one node or edge: how many, and the worst.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FindingBadge {
    /// Findings here.
    pub count: u32,
    /// The worst of them; `None` when there are none.
    pub worst: Option<Severity>,
}

impl FindingBadge {
    fn add(&mut self, severity: Severity) {
        self.count += 1;
        self.worst = self.worst.max(Some(severity));
    }
}

fn is_topic(node: &NodeSnapshot, topic: &str) -> bool {
    matches!(&node.key, NodeKey::Destination { name, .. } if name == topic)
}

/// Sets every node's and edge's badge from `findings`.
pub fn attach(nodes: &mut [NodeSnapshot], edges: &mut [EdgeSnapshot], findings: &FindingsView) {
    for n in nodes.iter_mut() {
        n.findings = FindingBadge::default();
    }
    for e in edges.iter_mut() {
        e.findings = FindingBadge::default();
    }
    let mut on_edges = Vec::new();
    let mut on_nodes = Vec::new();
    for finding in &findings.findings {
        if let Some(edge) = consume_edge(nodes, edges, finding) {
            on_edges.push((edge, finding.severity));
            continue;
        }
        let location = &finding.location;
        let node = match (&location.topic, &location.service) {
            (Some(topic), _) => nodes.iter().position(|n| is_topic(n, topic)),
            (None, Some(service)) => nodes.iter().position(|n| n.key.is_consumer_named(service)),
            (None, None) => None,
        };
        on_nodes.extend(node.map(|n| (n, finding.severity)));
    }
    for (edge, severity) in on_edges {
        edges[edge].findings.add(severity);
    }
    for (node, severity) in on_nodes {
        nodes[node].findings.add(severity);
    }
}

/// The consume edge from the finding's topic to its group or service, if it names both.
fn consume_edge(nodes: &[NodeSnapshot], edges: &[EdgeSnapshot], finding: &Finding) -> Option<usize> {
    // Nodes are sorted by id.
    let node_at = |id: u32| nodes.binary_search_by_key(&id, |n| n.id).ok();
    let location = &finding.location;
    let topic = location.topic.as_deref()?;
    let consumer = location.group.as_deref().or(location.service.as_deref())?;
    edges.iter().position(|e| {
        e.kind == EdgeKind::Consumes
            && node_at(e.from).is_some_and(|from| is_topic(&nodes[from], topic))
            && node_at(e.to).is_some_and(|to| {
                nodes[to].key.is_consumer_named(consumer) || e.counters.consumer_groups.iter().any(|g| g == consumer)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineState;
    use crate::model::findings::{FindingKind, Location};
    use crate::model::record::{Record, SourceKind, SpanBatch};
    use crate::testing::saga_spans;

    #[test]
    fn findings_sit_on_their_consume_edge_or_their_topic() {
        let mut state = EngineState::default();
        state.apply(&Record::Spans(SpanBatch {
            received_unix_nano: 1,
            source: SourceKind::OtlpHttp,
            spans: saga_spans(),
        }));
        let mut snapshot = state.snapshot(1);
        let topic = snapshot
            .nodes
            .iter()
            .find_map(|n| match &n.key {
                NodeKey::Destination { name, .. } => Some(name.clone()),
                _ => None,
            })
            .expect("a topic");
        let (edge_id, edge_to) = snapshot
            .edges
            .iter()
            .find(|e| {
                e.kind == EdgeKind::Consumes && snapshot.nodes.iter().any(|n| n.id == e.from && is_topic(n, &topic))
            })
            .map(|e| (e.id, e.to))
            .expect("a consume edge");
        let consumer = snapshot.nodes.iter().find(|n| n.id == edge_to).map(|n| n.key.label()).expect("its consumer");
        let on_edge = Finding {
            location: Location { service: Some(consumer), ..Location::topic(&topic) },
            ..Finding::new(FindingKind::Duplicate, Severity::Warning, Location::default(), 0)
        };
        let on_topic = Finding::new(FindingKind::OutOfOrder, Severity::Error, Location::topic(&topic), 0);
        let nowhere = Finding::new(FindingKind::Lag, Severity::Error, Location::topic("no-such-topic"), 0);
        let view = FindingsView { findings: vec![on_edge, on_topic, nowhere], ..FindingsView::default() };
        attach(&mut snapshot.nodes, &mut snapshot.edges, &view);
        let edge = snapshot.edges.iter().find(|e| e.id == edge_id).map(|e| e.findings);
        assert_eq!(edge, Some(FindingBadge { count: 1, worst: Some(Severity::Warning) }));
        let node = snapshot.nodes.iter().find(|n| is_topic(n, &topic)).map(|n| n.findings);
        assert_eq!(node, Some(FindingBadge { count: 1, worst: Some(Severity::Error) }));
        let total: u32 = snapshot
            .nodes
            .iter()
            .map(|n| n.findings.count)
            .chain(snapshot.edges.iter().map(|e| e.findings.count))
            .sum();
        assert_eq!(total, 2, "a finding about nothing drawn has no badge");
    }
}
