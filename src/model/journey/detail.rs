//! One journey laid out for the waterfall: a span tree across traces (children under their
//! parents, consumers under the producers they link to), in-topic bars for async hops, the
//! critical path, backlinks, and the path through the flow graph. The receive/poll spans the
//! journey's consumer spans ran under (batch context, kept apart) are shown as context rows.
//!
//! Built once when a journey is selected (and again when it changes), never per frame, so
//! the UI only walks the rows it draws.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::role::SpanRole;
use super::step::MessageStep;
use super::store::JourneyStore;
use super::summary::{JourneyId, JourneySummary};
use crate::model::flow_graph::NodeKey;
use crate::model::ids::SpanRef;
use crate::model::kafka::KafkaModel;
use crate::model::messaging::MessagingRole;
use crate::model::span::{Span, SpanKind};

/// One row of the waterfall.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WaterfallRow {
    /// Index into [`JourneyDetail::spans`].
    pub span: u32,
    /// Nesting depth.
    pub depth: u16,
    /// Index of the row after this row's subtree: rows `self+1..subtree_end` are descendants,
    /// so a collapsed or off-screen subtree is skipped in one step.
    pub subtree_end: u32,
    /// Earliest start and latest end over the subtree, Unix ns (for culling whole subtrees).
    pub extent: (u64, u64),
    /// For a consumer: from the producer's send start to this span's start (time in topic).
    pub in_topic: Option<(u64, u64)>,
    /// The row hangs under its parent through a span link (an async hop across traces).
    pub via_link: bool,
    /// On the critical path: the chain of spans that ends last.
    pub critical: bool,
    /// A batch consumer's span from another journey that links into this one.
    pub borrowed: bool,
    /// Batch context: a receive/poll span that one of the journey's consumer spans ran
    /// under. Shown (and exported) with the journey, not counted in it.
    pub context: bool,
}

/// A message in the journey with what the broker says about its delivery.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageView {
    /// The message.
    #[serde(flatten)]
    pub step: MessageStep,
    /// Groups whose committed offset is past it.
    pub consumed_by: Vec<String>,
    /// Groups reading its topic that have not committed past it yet.
    pub waiting: Vec<String>,
}

/// The journey's path through the flow graph: the nodes and edges to highlight.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JourneyPath {
    /// Nodes, sorted.
    pub nodes: Vec<NodeKey>,
    /// Edges as (from, to), sorted.
    pub edges: Vec<(NodeKey, NodeKey)>,
}

/// A journey ready to draw.
#[derive(Clone, Debug, Serialize)]
pub struct JourneyDetail {
    /// The list row.
    pub summary: JourneySummary,
    /// Spans, by start time; rows point into it.
    #[serde(skip)]
    pub spans: Vec<Arc<Span>>,
    /// Rows in tree order.
    pub rows: Vec<WaterfallRow>,
    /// For each span (same index as `spans`): spans that link to it.
    pub backlinks: Vec<Vec<u32>>,
    /// Kafka messages.
    pub messages: Vec<MessageView>,
    /// Journeys this (batch) journey consumed.
    pub batch_inputs: Vec<JourneyId>,
    /// Batch journeys that consumed this one.
    pub batch_consumers: Vec<JourneyId>,
    /// Earliest start, Unix ns.
    pub start_unix_nano: u64,
    /// Latest end, Unix ns.
    pub end_unix_nano: u64,
    /// Path through the flow graph.
    pub path: JourneyPath,
}

impl JourneyDetail {
    /// Builds the detail of journey `id`, or `None` if it is not (or no longer) kept.
    pub fn build(store: &JourneyStore, id: JourneyId, kafka: &KafkaModel) -> Option<Self> {
        Self::build_until(store, id, kafka, None)
    }

    /// As [`JourneyDetail::build`], as the collector knew the journey at `until` (a receive
    /// time, Unix nanoseconds) when given: spans and messages received later are left out.
    /// For the timeline's cursor.
    pub fn build_until(store: &JourneyStore, id: JourneyId, kafka: &KafkaModel, until: Option<u64>) -> Option<Self> {
        let summary = store.list().get(id)?.clone();
        let journey = store.journey(id)?;
        let consumers = store.batch_consumers(id);
        let known = |s: &&super::stored::StoredSpan| until.is_none_or(|u| s.received_unix_nano <= u);
        // A span that does not decode (a bug) is left out rather than failing the layout.
        let decode = |s: &super::stored::StoredSpan| s.decode(store.dictionary()).ok().map(Arc::new);
        let mut spans: Vec<(Arc<Span>, Origin)> =
            journey.spans.iter().filter(known).filter_map(|s| Some((decode(s)?, Origin::Own))).collect();
        let mut context: Vec<SpanRef> = Vec::new();
        for (span, _) in &spans {
            // Only spans cut from their parent can hang under a span of another journey.
            let role = SpanRole::of(span);
            if !role.cuts_parent() || role == SpanRole::Receive {
                continue;
            }
            let Some(parent) = span.parent_ref() else { continue };
            if let Some((other, stored)) = store.span_in(&parent)
                && other != id
                && known(&stored)
                && !context.contains(&parent)
                && stored.decode(store.dictionary()).is_ok_and(|p| SpanRole::of(&p) == SpanRole::Receive)
            {
                context.push(parent);
            }
        }
        for parent in &context {
            if let Some(span) = store.span_in(parent).and_then(|(_, s)| decode(s)) {
                spans.push((span, Origin::Context));
            }
        }
        for (_, linking) in &consumers {
            spans.extend(linking.iter().filter(known).filter_map(|s| Some((decode(s)?, Origin::Borrowed))));
        }
        spans.sort_by_key(|(s, _)| (s.start_unix_nano, s.end_unix_nano));
        spans.dedup_by_key(|(s, _)| s.span_ref());
        let (spans, origins): (Vec<Arc<Span>>, Vec<Origin>) = spans.into_iter().unzip();
        let tree = Tree::new(&spans);
        let rows = tree.rows(&spans, &origins);
        let mut backlinks = vec![Vec::new(); spans.len()];
        for (i, s) in spans.iter().enumerate() {
            for link in &s.links {
                if let Some(&target) = tree.index.get(&link.target) {
                    backlinks[target].push(i as u32);
                }
            }
        }
        let start = spans.iter().map(|s| s.start_unix_nano).min().unwrap_or(summary.start_unix_nano);
        let end = spans.iter().map(|s| s.end_unix_nano).max().unwrap_or(summary.end_unix_nano);
        let steps: std::borrow::Cow<'_, [MessageStep]> = match until {
            None => (&journey.messages[..]).into(),
            Some(u) => journey.messages.iter().filter(|m| m.received_unix_nano <= u).cloned().collect(),
        };
        let messages = steps.iter().map(|m| message_view(m, kafka)).collect();
        let path = path(&spans, &tree, &steps);
        Some(Self {
            summary,
            rows,
            backlinks,
            messages,
            batch_inputs: store.batch_inputs(id),
            batch_consumers: consumers.into_iter().map(|(b, _)| b).collect(),
            start_unix_nano: start.min(end),
            end_unix_nano: end,
            path,
            spans,
        })
    }

    /// The span a row shows.
    pub fn span(&self, row: &WaterfallRow) -> &Span {
        &self.spans[row.span as usize]
    }
}

/// Where a span of the detail comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// The journey's own.
    Own,
    /// A batch consumer's span from another journey.
    Borrowed,
    /// Batch context a span of the journey ran under.
    Context,
}

/// Parent of each span within the journey: its parent span, else the span it links to. A
/// span cut from its parent (see [`SpanRole`]) hangs under its receive span when that is
/// shown, else under the span it links to; a receive span hangs under the producer its first
/// entry span links to.
struct Tree {
    index: FxHashMap<SpanRef, usize>,
    parent: Vec<Option<(usize, bool)>>,
}

impl Tree {
    fn new(spans: &[Arc<Span>]) -> Self {
        let index: FxHashMap<SpanRef, usize> = spans.iter().enumerate().map(|(i, s)| (s.span_ref(), i)).collect();
        let roles: Vec<SpanRole> = spans.iter().map(|s| SpanRole::of(s)).collect();
        let linked = |s: &Span| s.links.iter().find_map(|l| index.get(&l.target)).map(|p| (*p, true));
        let mut parent: Vec<Option<(usize, bool)>> = spans
            .iter()
            .zip(&roles)
            .map(|(s, role)| {
                let own = s.parent_ref().and_then(|p| index.get(&p)).copied();
                match role {
                    SpanRole::Receive => None,
                    SpanRole::Entry(_) | SpanRole::Batch => match own {
                        Some(p) if roles[p] == SpanRole::Receive => Some((p, false)),
                        _ => linked(s),
                    },
                    SpanRole::Inner { .. } => own.map(|p| (p, false)).or_else(|| linked(s)),
                }
            })
            .collect();
        for (i, s) in spans.iter().enumerate() {
            if let (SpanRole::Entry(_), Some((p, false))) = (roles[i], parent[i])
                && roles[p] == SpanRole::Receive
                && parent[p].is_none()
            {
                parent[p] = linked(s);
            }
        }
        Self { index, parent }
    }

    /// The producer span a consumer span received from: a linked or parent span that produces.
    fn producer(&self, spans: &[Arc<Span>], i: usize) -> Option<usize> {
        let s = &spans[i];
        let produces = |j: &usize| {
            let p = &spans[*j];
            p.messaging.as_ref().is_some_and(|m| m.operation.role() == MessagingRole::Produce)
                || p.kind == SpanKind::Producer
        };
        s.links
            .iter()
            .filter_map(|l| self.index.get(&l.target))
            .find(|j| produces(j))
            .or_else(|| s.parent_ref().and_then(|p| self.index.get(&p)).filter(|j| produces(j)))
            .copied()
    }

    fn rows(&self, spans: &[Arc<Span>], origins: &[Origin]) -> Vec<WaterfallRow> {
        let n = spans.len();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut roots = Vec::new();
        for i in 0..n {
            match self.parent[i] {
                Some((p, _)) if p != i => children[p].push(i),
                _ => roots.push(i),
            }
        }
        // Spans are sorted by start, so children and roots already are. A cycle (spans
        // linking to each other) leaves some spans unreachable from any root: they become roots.
        let mut rows: Vec<WaterfallRow> = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        let mut stack: Vec<(usize, u16, bool)> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut next_root = 0;
        loop {
            let Some((i, depth, exit)) = stack.pop() else {
                while next_root < roots.len() && placed[roots[next_root]] {
                    next_root += 1;
                }
                let root = if next_root < roots.len() {
                    roots[next_root]
                } else if let Some(unplaced) = (0..n).find(|i| !placed[*i]) {
                    unplaced
                } else {
                    break;
                };
                stack.push((root, 0, false));
                continue;
            };
            if exit {
                let Some(row) = open.pop() else { continue };
                rows[row].subtree_end = rows.len() as u32;
                let (a, b) = rows[row].extent;
                if let Some(&up) = open.last() {
                    let e = &mut rows[up].extent;
                    *e = (e.0.min(a), e.1.max(b));
                }
                continue;
            }
            if placed[i] {
                continue;
            }
            placed[i] = true;
            let s = &spans[i];
            let in_topic = self.producer(spans, i).filter(|_| is_consumer(s)).map(|p| {
                let sent = spans[p].start_unix_nano;
                (sent.min(s.start_unix_nano), s.start_unix_nano)
            });
            open.push(rows.len());
            rows.push(WaterfallRow {
                span: i as u32,
                depth,
                subtree_end: 0,
                extent: (s.start_unix_nano, s.end_unix_nano.max(s.start_unix_nano)),
                in_topic,
                via_link: self.parent[i].is_some_and(|(_, link)| link),
                critical: false,
                borrowed: origins[i] == Origin::Borrowed,
                context: origins[i] == Origin::Context,
            });
            stack.push((i, depth, true));
            for &c in children[i].iter().rev() {
                if !placed[c] {
                    stack.push((c, depth.saturating_add(1), false));
                }
            }
        }
        self.mark_critical(spans, &mut rows);
        rows
    }

    /// Marks the chain from the span that ends last back to its root.
    fn mark_critical(&self, spans: &[Arc<Span>], rows: &mut [WaterfallRow]) {
        let Some(last) = (0..spans.len()).max_by_key(|i| spans[*i].end_unix_nano) else { return };
        let mut row_of = vec![usize::MAX; spans.len()];
        for (r, row) in rows.iter().enumerate() {
            row_of[row.span as usize] = r;
        }
        let mut at = Some(last);
        let mut steps = 0;
        while let Some(i) = at {
            if steps > spans.len() || row_of[i] == usize::MAX || rows[row_of[i]].critical {
                break;
            }
            rows[row_of[i]].critical = true;
            at = self.parent[i].map(|(p, _)| p);
            steps += 1;
        }
    }
}

fn is_consumer(s: &Span) -> bool {
    s.messaging.as_ref().is_some_and(|m| m.operation.role() == MessagingRole::Consume) || s.kind == SpanKind::Consumer
}

fn message_view(step: &MessageStep, kafka: &KafkaModel) -> MessageView {
    let mut consumed_by = Vec::new();
    let mut waiting = Vec::new();
    for cluster in kafka.clusters().values() {
        for (group, state) in &cluster.groups {
            let Some(lag) = state.partitions.get(&(step.topic.to_string(), step.partition)) else { continue };
            match lag.latest() {
                Some(s) if s.offset > step.offset => consumed_by.push(group.clone()),
                _ => waiting.push(group.clone()),
            }
        }
    }
    MessageView { step: step.clone(), consumed_by, waiting }
}

fn path(spans: &[Arc<Span>], tree: &Tree, messages: &[MessageStep]) -> JourneyPath {
    let service = |s: &Span| NodeKey::Service { service: s.service().clone() };
    let destination = |s: &Span| {
        let m = s.messaging.as_ref()?;
        Some(NodeKey::Destination { system: m.system.clone(), name: m.destination.clone()? })
    };
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        nodes.push(service(s));
        let role = s.messaging.as_ref().map(|m| m.operation.role());
        // A consumer without a destination of its own reads its producer's.
        let dest = destination(s).or_else(|| tree.producer(spans, i).and_then(|p| destination(&spans[p])));
        match (role, dest) {
            (Some(MessagingRole::Produce), Some(d)) => {
                edges.push((service(s), d.clone()));
                nodes.push(d);
            }
            (Some(MessagingRole::Consume), Some(d)) => {
                edges.push((d.clone(), service(s)));
                nodes.push(d);
            }
            _ => {}
        }
        if s.kind == SpanKind::Server
            && let Some((p, false)) = tree.parent[i]
            && spans[p].kind == SpanKind::Client
            && spans[p].service() != s.service()
        {
            edges.push((service(&spans[p]), service(s)));
        }
    }
    for m in messages {
        nodes.push(NodeKey::Destination { system: "kafka".into(), name: m.topic.to_string() });
    }
    nodes.sort();
    nodes.dedup();
    edges.sort();
    edges.dedup();
    JourneyPath { nodes, edges }
}
