//! Which nodes the flow canvas shows, and how: all of them; only those the filter matches,
//! when the filter hides rather than dims; or those within some hops of a focused node,
//! upstream and downstream. And folded: a big graph's services fold into one box per
//! namespace and its topics and consumer groups into one per messaging system, their edges
//! summed, until the user opens a box. A big graph is read a part at a time, and the part
//! hidden is neither laid out nor drawn.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use crate::engine::finding_badges::FindingBadge;
use crate::engine::snapshot::{EdgeSnapshot, GroupLag, NodeSnapshot, Snapshot};
use crate::model::flow_graph::{EdgeKind, NodeKey, NodeKind};

/// Graphs with more nodes shown than this open folded (until the user says otherwise).
pub const AUTO_GROUP_NODES: usize = 150;
/// Ids of folded groups and of their summed edges have this bit set; the snapshot's own ids
/// (graph indices) never reach it.
const FOLDED_ID: u32 = 1 << 31;

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

/// A group of nodes that can fold into one box: a namespace's services, or a messaging
/// system's destinations or consumer groups.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// The kind of its members.
    pub kind: NodeKind,
    /// The namespace or messaging system.
    pub name: String,
}

impl GroupKey {
    /// The group `node` belongs to, if any (a service without a namespace has none).
    pub fn of(node: &NodeSnapshot) -> Option<Self> {
        let name = match &node.key {
            NodeKey::Service { service } => service.namespace.clone()?,
            NodeKey::Destination { system, .. } | NodeKey::ConsumerGroup { system, .. } => system.clone(),
        };
        Some(Self { kind: node.kind, name })
    }

    /// "shop · 7 services", "kafka · 12 destinations".
    pub fn label(&self, members: usize) -> String {
        let noun = match self.kind {
            NodeKind::Service => "services",
            NodeKind::Destination => "destinations",
            NodeKind::ConsumerGroup => "consumer groups",
        };
        format!("{} · {members} {noun}", self.name)
    }

    fn id(&self) -> u32 {
        FOLDED_ID | (hash32(self) & !FOLDED_ID)
    }
}

fn hash32(value: &impl Hash) -> u32 {
    let mut hasher = rustc_hash::FxHasher::default();
    value.hash(&mut hasher);
    let h = hasher.finish();
    (h ^ (h >> 32)) as u32
}

/// Whether groups fold, and which the user opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grouping {
    /// Fold groups into boxes; `None` decides by size ([`AUTO_GROUP_NODES`]).
    pub on: Option<bool>,
    /// Groups shown node by node while the others stay folded.
    pub opened: BTreeSet<GroupKey>,
}

impl Grouping {
    /// Whether groups fold in a graph showing `nodes` nodes.
    pub fn folds(&self, nodes: usize) -> bool {
        self.on.unwrap_or(nodes > AUTO_GROUP_NODES)
    }
}

/// A node as the canvas shows it: a snapshot node, or a folded group of them.
#[derive(Debug)]
pub struct ShownNode<'a> {
    /// The snapshot's id, or the group's.
    pub id: u32,
    /// Its kind (a group's members').
    pub kind: NodeKind,
    /// Its name, or the group's with its size.
    pub label: String,
    /// Messages or spans per second over 10 s, summed over members.
    pub rate: f64,
    /// Failures, summed.
    pub failures: u64,
    /// Findings, counted over members, with the worst.
    pub findings: FindingBadge,
    /// The snapshot nodes it stands for.
    pub members: Vec<&'a NodeSnapshot>,
    /// The group, when it is one folded.
    pub group: Option<GroupKey>,
}

/// An edge as the canvas shows it: a snapshot edge, or the sum of those between two shown
/// nodes when either is a folded group.
#[derive(Debug)]
pub struct ShownEdge<'a> {
    /// The snapshot's id, or the summed edge's.
    pub id: u32,
    /// Shown node ids.
    pub from: u32,
    /// Shown node ids.
    pub to: u32,
    /// Kind.
    pub kind: EdgeKind,
    /// Messages, summed.
    pub count: u64,
    /// Per second over 10 s, summed.
    pub rate: f64,
    /// Failures, summed.
    pub failures: u64,
    /// The worst consumer lag among its members'.
    pub lag: Option<&'a GroupLag>,
    /// Findings over members.
    pub findings: FindingBadge,
    /// The snapshot edges it stands for.
    pub members: Vec<&'a EdgeSnapshot>,
}

impl ShownEdge<'_> {
    /// Failures over messages.
    pub fn failure_ratio(&self) -> f32 {
        if self.count == 0 { 0.0 } else { (self.failures as f64 / self.count as f64) as f32 }
    }
}

/// What the canvas shows of a snapshot: nodes by id, edges by id.
#[derive(Debug, Default)]
pub struct Scoped<'a> {
    /// Shown nodes, by id.
    pub nodes: Vec<ShownNode<'a>>,
    /// Shown edges, by id.
    pub edges: Vec<ShownEdge<'a>>,
    /// Groups folding would apply to that the user opened, for the way back.
    pub opened: Vec<GroupKey>,
    /// Whether groups fold in this view.
    pub folds: bool,
}

fn add_badge(to: &mut FindingBadge, badge: FindingBadge) {
    to.count += badge.count;
    to.worst = to.worst.max(badge.worst);
}

/// The canvas' view of `snapshot`: what the filter (when it hides) and focus leave, folded
/// as `grouping` says.
pub fn scoped<'a>(
    snapshot: &'a Snapshot,
    filter: &str,
    hide_unmatched: bool,
    focus: Option<Focus>,
    grouping: &Grouping,
) -> Scoped<'a> {
    let visible = visible(snapshot, filter, hide_unmatched, focus);
    let shown: Vec<&NodeSnapshot> =
        snapshot.nodes.iter().filter(|n| visible.as_ref().is_none_or(|v| v.contains(&n.id))).collect();
    let mut groups: BTreeMap<GroupKey, Vec<&NodeSnapshot>> = BTreeMap::new();
    let folds = grouping.folds(shown.len());
    if folds {
        for n in &shown {
            if let Some(key) = GroupKey::of(n) {
                groups.entry(key).or_default().push(n);
            }
        }
    }
    // A group of one stays a node.
    groups.retain(|_, members| members.len() > 1);
    let opened: Vec<GroupKey> = groups.keys().filter(|k| grouping.opened.contains(k)).cloned().collect();
    groups.retain(|key, _| !grouping.opened.contains(key));
    let mut shown_as: HashMap<u32, u32> = HashMap::with_capacity(shown.len());
    let mut nodes = Vec::with_capacity(shown.len());
    for (key, members) in groups {
        let id = key.id();
        let mut node = ShownNode {
            id,
            kind: key.kind,
            label: key.label(members.len()),
            rate: 0.0,
            failures: 0,
            findings: FindingBadge::default(),
            members: Vec::with_capacity(members.len()),
            group: Some(key),
        };
        for m in members {
            shown_as.insert(m.id, id);
            node.rate += m.counters.rates[1];
            node.failures += m.counters.failures;
            add_badge(&mut node.findings, m.findings);
            node.members.push(m);
        }
        nodes.push(node);
    }
    for n in shown {
        if shown_as.contains_key(&n.id) {
            continue;
        }
        shown_as.insert(n.id, n.id);
        nodes.push(ShownNode {
            id: n.id,
            kind: n.kind,
            label: n.label.clone(),
            rate: n.counters.rates[1],
            failures: n.counters.failures,
            findings: n.findings,
            members: vec![n],
            group: None,
        });
    }
    nodes.sort_unstable_by_key(|n| n.id);
    Scoped { nodes, edges: summed_edges(snapshot, &shown_as), opened, folds }
}

/// The snapshot's edges between shown nodes, those touching a folded group summed per pair
/// of ends and kind; edges inside a group are not shown.
fn summed_edges<'a>(snapshot: &'a Snapshot, shown_as: &HashMap<u32, u32>) -> Vec<ShownEdge<'a>> {
    let mut edges: BTreeMap<(u32, u32, EdgeKind), ShownEdge<'a>> = BTreeMap::new();
    for e in &snapshot.edges {
        let (Some(&from), Some(&to)) = (shown_as.get(&e.from), shown_as.get(&e.to)) else { continue };
        let plain = from == e.from && to == e.to;
        if from == to && !plain {
            continue;
        }
        // A plain edge keeps its own id (and so its place on the canvas) and is never summed.
        let (id, key) = if plain {
            (e.id, (e.id, e.id, e.kind))
        } else {
            (FOLDED_ID | (hash32(&(from, to, e.kind)) & !FOLDED_ID), (from, to, e.kind))
        };
        let edge = edges.entry(key).or_insert_with(|| ShownEdge {
            id,
            from,
            to,
            kind: e.kind,
            count: 0,
            rate: 0.0,
            failures: 0,
            lag: None,
            findings: FindingBadge::default(),
            members: Vec::new(),
        });
        edge.count += e.counters.count;
        edge.rate += e.counters.rates[1];
        edge.failures += e.counters.failures;
        add_badge(&mut edge.findings, e.findings);
        let worst = e.lag.iter().max_by_key(|l| (l.status, l.offsets));
        if let Some(l) = worst
            && edge.lag.is_none_or(|w| (l.status, l.offsets) > (w.status, w.offsets))
        {
            edge.lag = Some(l);
        }
        edge.members.push(e);
    }
    let mut out: Vec<ShownEdge<'a>> = edges.into_values().collect();
    out.sort_unstable_by_key(|e| e.id);
    out
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
    use crate::testing::{consumer_linked, in_namespace, producer};

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

    fn two_teams() -> Snapshot {
        // shop/checkout -> kafka/orders -> shop/billing -> kafka/invoices -> mail/sender
        let mut state = EngineState::default();
        state.apply(&Record::Spans(SpanBatch {
            received_unix_nano: 0,
            source: SourceKind::File,
            spans: vec![
                in_namespace(producer("checkout", "kafka", "orders", 1, 1), "shop"),
                in_namespace(consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)), "shop"),
                in_namespace(producer("billing", "kafka", "invoices", 2, 3), "shop"),
                in_namespace(consumer_linked("sender", "kafka", "invoices", 3, 4, (2, 3)), "mail"),
            ],
        }));
        state.snapshot(1)
    }

    #[test]
    fn folding_sums_edges_between_boxes_and_drops_those_inside() {
        let s = two_teams();
        let folded = Grouping { on: Some(true), ..Grouping::default() };
        let view = scoped(&s, "", false, None, &folded);
        let labels: Vec<&str> = view.nodes.iter().map(|n| n.label.as_str()).collect();
        // mail has one service: a group of one stays a node.
        let mut sorted = labels.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["kafka · 2 destinations", "mail/sender", "shop · 2 services"]);
        let id = |label: &str| view.nodes.iter().find(|n| n.label == label).expect(label).id;
        let (shop, kafka, sender) = (id("shop · 2 services"), id("kafka · 2 destinations"), id("mail/sender"));
        let ends: Vec<(u32, u32, usize, u64)> =
            view.edges.iter().map(|e| (e.from, e.to, e.members.len(), e.count)).collect();
        // shop writes orders and invoices and reads orders: two edges each way, summed.
        assert!(ends.contains(&(shop, kafka, 2, 2)), "{ends:?}");
        assert!(ends.contains(&(kafka, shop, 1, 1)), "{ends:?}");
        assert!(ends.contains(&(kafka, sender, 1, 1)), "{ends:?}");
        assert_eq!(ends.len(), 3);
        assert!(view.nodes.iter().all(|n| n.group.is_none() || n.id & FOLDED_ID != 0));
        assert!(view.folds && view.opened.is_empty());

        // Opening kafka shows its topics; shop stays folded, and the way back is offered.
        let mut opened = folded.clone();
        opened.opened.insert(GroupKey { kind: NodeKind::Destination, name: "kafka".into() });
        let view = scoped(&s, "", false, None, &opened);
        let mut labels: Vec<&str> = view.nodes.iter().map(|n| n.label.as_str()).collect();
        labels.sort_unstable();
        assert_eq!(labels, ["kafka/invoices", "kafka/orders", "mail/sender", "shop · 2 services"]);
        assert_eq!(view.opened.len(), 1);
        // An edge between two plain nodes keeps its snapshot id.
        let plain = view.edges.iter().find(|e| e.to == id_of(&s, "mail/sender")).expect("invoices -> sender");
        assert_eq!(plain.id & FOLDED_ID, 0);
    }

    fn id_of(s: &Snapshot, label: &str) -> u32 {
        s.nodes.iter().find(|n| n.label == label).expect(label).id
    }

    #[test]
    fn small_graphs_do_not_fold_unless_asked_and_big_ones_do_unless_told() {
        let s = two_teams();
        let auto = Grouping::default();
        assert!(!scoped(&s, "", false, None, &auto).folds);
        assert_eq!(scoped(&s, "", false, None, &auto).nodes.len(), s.nodes.len());
        assert!(auto.folds(AUTO_GROUP_NODES + 1));
        assert!(!Grouping { on: Some(false), ..Grouping::default() }.folds(AUTO_GROUP_NODES * 10));
    }
}
