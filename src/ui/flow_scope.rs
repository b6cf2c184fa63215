//! Which nodes the flow canvas shows: all of them; only those the filter matches, when the
//! filter hides rather than dims; or those within some hops of a focused node, upstream and
//! downstream. A big graph is read a part at a time, and the part hidden is neither laid out
//! nor drawn.

use std::collections::{HashMap, HashSet};

use crate::engine::snapshot::Snapshot;

/// Hops shown around a focused node when focus starts.
pub const DEFAULT_FOCUS_HOPS: usize = 2;

/// A node shown with what is within `hops` edges of it, following edges forward
/// (downstream) and backward (upstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Focus {
    /// The snapshot's node id.
    pub node: u32,
    /// How far to look each way (0 shows the node alone).
    pub hops: usize,
}

/// Whether a node's label matches the filter box (case-insensitive; empty matches all).
pub fn matches_filter(label: &str, filter: &str) -> bool {
    filter.is_empty() || label.to_lowercase().contains(&filter.to_lowercase())
}

/// The ids of the nodes to show, or `None` for all of them.
pub fn visible(snapshot: &Snapshot, filter: &str, hide_unmatched: bool, focus: Option<Focus>) -> Option<HashSet<u32>> {
    let matched: Option<HashSet<u32>> = (hide_unmatched && !filter.is_empty())
        .then(|| snapshot.nodes.iter().filter(|n| matches_filter(&n.label, filter)).map(|n| n.id).collect());
    let focused = focus.filter(|f| snapshot.node(f.node).is_some()).map(|f| around(snapshot, f));
    match (matched, focused) {
        (Some(a), Some(b)) => Some(a.intersection(&b).copied().collect()),
        (a, b) => a.or(b),
    }
}

/// The focused node and those within its hops, downstream and upstream.
fn around(snapshot: &Snapshot, focus: Focus) -> HashSet<u32> {
    let mut downstream: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut upstream: HashMap<u32, Vec<u32>> = HashMap::new();
    for e in &snapshot.edges {
        downstream.entry(e.from).or_default().push(e.to);
        upstream.entry(e.to).or_default().push(e.from);
    }
    let mut shown = HashSet::from([focus.node]);
    for next in [&downstream, &upstream] {
        let mut frontier = vec![focus.node];
        let mut seen = HashSet::from([focus.node]);
        for _ in 0..focus.hops {
            frontier = frontier
                .iter()
                .flat_map(|id| next.get(id).into_iter().flatten().copied())
                .filter(|id| seen.insert(*id))
                .collect();
            shown.extend(&frontier);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineState;
    use crate::model::record::{Record, SourceKind, SpanBatch};
    use crate::testing::{consumer_linked, producer};

    fn chain() -> Snapshot {
        // checkout -> orders -> billing -> invoices -> mailer, and audit reading orders.
        let mut state = EngineState::default();
        state.apply(&Record::Spans(SpanBatch {
            received_unix_nano: 0,
            source: SourceKind::File,
            spans: vec![
                producer("checkout", "kafka", "orders", 1, 1),
                consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
                producer("billing", "kafka", "invoices", 2, 3),
                consumer_linked("mailer", "kafka", "invoices", 3, 4, (2, 3)),
                consumer_linked("audit", "kafka", "orders", 4, 5, (1, 1)),
            ],
        }));
        state.snapshot(1)
    }

    fn labels(snapshot: &Snapshot, ids: Option<HashSet<u32>>) -> Vec<String> {
        let mut out: Vec<String> =
            ids.expect("some hidden").iter().filter_map(|id| snapshot.node(*id)).map(|n| n.label.clone()).collect();
        out.sort();
        out
    }

    #[test]
    fn focus_shows_the_hops_up_and_downstream_and_nothing_sideways() {
        let s = chain();
        let billing = s.nodes.iter().find(|n| n.label == "billing").expect("billing").id;
        assert_eq!(
            labels(&s, visible(&s, "", false, Some(Focus { node: billing, hops: 1 }))),
            ["billing", "kafka/invoices", "kafka/orders"]
        );
        // Two hops reach checkout upstream and mailer downstream; audit reads orders too but
        // is neither up- nor downstream of billing.
        assert_eq!(
            labels(&s, visible(&s, "", false, Some(Focus { node: billing, hops: 2 }))),
            ["billing", "checkout", "kafka/invoices", "kafka/orders", "mailer"]
        );
        assert_eq!(labels(&s, visible(&s, "", false, Some(Focus { node: billing, hops: 0 }))), ["billing"]);
        // A focused node that left the graph focuses nothing.
        assert_eq!(visible(&s, "", false, Some(Focus { node: 999, hops: 2 })), None);
    }

    #[test]
    fn the_filter_hides_only_when_asked_and_combines_with_focus() {
        let s = chain();
        assert_eq!(visible(&s, "kafka", false, None), None, "dimming is the flow view's");
        assert_eq!(visible(&s, "", true, None), None, "an empty filter hides nothing");
        assert_eq!(labels(&s, visible(&s, "KAFKA", true, None)), ["kafka/invoices", "kafka/orders"]);
        let billing = s.nodes.iter().find(|n| n.label == "billing").expect("billing").id;
        assert_eq!(
            labels(&s, visible(&s, "i", true, Some(Focus { node: billing, hops: 2 }))),
            ["billing", "kafka/invoices", "mailer"]
        );
    }
}
