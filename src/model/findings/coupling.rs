//! Synchronous coupling: calls a consumer makes to other services while it processes an
//! event (the chain then waits on them, and fails with them), and cycles in the service
//! graph (services that feed each other through topics or calls).
//!
//! A span is "under" a consumer when it is a process span or descends from one in its trace.
//! Spans arrive in any order (children usually end, and are exported, first), so a span whose
//! parent has not arrived waits for it in a bounded table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use rustc_hash::FxHasher;
use smallvec::SmallVec;

use super::FindingsCounters;
use super::finding::{Finding, FindingKind, Location, Severity};
use super::table::{FindingTable, Memory, add, counters, key_of};
use crate::model::ids::TraceId;
use crate::model::messaging::{MessagingOperation, MessagingRole};
use crate::model::span::{AttrValue, ServiceName, Span, SpanKind};

/// Attributes naming the peer of a call, first that is present.
const PEER_ATTRIBUTES: [&str; 5] = ["peer.service", "server.address", "net.peer.name", "rpc.service", "http.host"];
/// How deep a chain of waiting children is resolved at once.
const MAX_RESOLVE_DEPTH: usize = 32;
/// Service-graph edges kept.
const MAX_EDGES: usize = 10_000;

/// A synchronous call: the calling service and what it calls, borrowed from its span.
#[derive(Clone, Copy, Debug, Hash)]
struct CallRef<'a> {
    service: &'a ServiceName,
    peer: &'a str,
}

/// A call kept while its span waits for its parent.
#[derive(Clone, Debug)]
struct Call {
    service: ServiceName,
    peer: String,
}

impl Call {
    fn as_ref(&self) -> CallRef<'_> {
        CallRef { service: &self.service, peer: &self.peer }
    }
}

impl CallRef<'_> {
    fn owned(self) -> Call {
        Call { service: self.service.clone(), peer: self.peer.to_owned() }
    }
}

/// Whether a span is under a consumer's process span. Kept for every span, so it is small
/// and plain: the topic is an index into the detector's topic names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Under {
    /// Its parent has not arrived yet.
    Waiting,
    /// It is not.
    No,
    /// It is, processing the topic of this index in `topic_names`.
    Yes(u32),
}

/// A span waiting for its parent: most are not calls, and take 16 bytes.
#[derive(Clone, Debug)]
struct Waiting {
    id: u64,
    /// The call it makes, and its trace (for the evidence).
    call: Option<Box<(Call, TraceId)>>,
}

/// Synchronous calls on event chains, and cycles between services.
#[derive(Clone, Debug)]
pub struct CouplingDetector {
    /// Per span: whether it is under a process span, and of which topic.
    under: Memory<Under>,
    waiting: Memory<SmallVec<[Waiting; 2]>>,
    calls: FindingTable,
    /// Who writes and who reads each topic.
    writers: BTreeMap<String, BTreeMap<ServiceName, u64>>,
    readers: BTreeMap<String, BTreeMap<ServiceName, u64>>,
    /// Service-to-service calls (any, not only under consumers), first seen.
    direct: BTreeMap<(String, String), u64>,
    /// Hashes of the edges above: the common case, an edge seen before, is answered without
    /// comparing names.
    seen_edges: HashSet<u64, BuildHasherDefault<FxHasher>>,
    /// Topics processed by consumers, by the hash of their name: an index into
    /// `topic_names` (at most [`MAX_EDGES`]; past it, spans under a consumer of a new topic
    /// are taken as not under one, and counted as dropped).
    topics: HashMap<u64, u32, BuildHasherDefault<FxHasher>>,
    topic_names: Vec<Arc<str>>,
    dropped: u64,
}

/// The call a CLIENT span makes to another service, if it is one (database and messaging
/// clients are not service calls).
fn sync_call(span: &Span) -> Option<CallRef<'_>> {
    if span.kind != SpanKind::Client || span.messaging.is_some() {
        return None;
    }
    // One pass over the attributes (the helper thread meets each span cold, so every pass
    // costs cache misses): a database attribute rules the span out, and the peer is the
    // first of `PEER_ATTRIBUTES` present as a string, borrowed, not copied.
    let mut peer: Option<(usize, &str)> = None;
    for attribute in &span.attributes {
        let key = attribute.key.as_str();
        if key == "db.system" || key == "db.system.name" {
            return None;
        }
        if let (Some(rank), AttrValue::StringValue(value)) =
            (PEER_ATTRIBUTES.iter().position(|a| *a == key), &attribute.value)
            && peer.is_none_or(|(best, _)| rank < best)
        {
            peer = Some((rank, value.as_str()));
        }
    }
    let (_, peer) = peer?;
    let service = span.service();
    (service.namespace.is_some() || peer != service.name).then_some(CallRef { service, peer })
}

impl CouplingDetector {
    /// Empty, remembering at most `max` spans.
    pub fn new(max: usize) -> Self {
        Self {
            under: Memory::new(max),
            waiting: Memory::new(max / 4 + 1),
            calls: FindingTable::default(),
            writers: BTreeMap::new(),
            readers: BTreeMap::new(),
            direct: BTreeMap::new(),
            seen_edges: HashSet::default(),
            topics: HashMap::default(),
            topic_names: Vec::new(),
            dropped: 0,
        }
    }

    /// Takes in a span; true when a finding changed.
    pub fn apply_span(&mut self, span: &Span, at: u64) -> bool {
        let call = sync_call(span);
        let mut changed = self.learn_edges(span, call, at);
        let id = key_of(&span.span_ref());
        let process = span.messaging.as_ref().filter(|m| m.operation == MessagingOperation::Process);
        let state = match (process, span.parent_ref()) {
            (Some(m), _) => m.destination.as_deref().and_then(|t| self.topic(t)).map_or(Under::No, Under::Yes),
            (None, Some(parent)) => match self.under.get(&key_of(&parent)).copied() {
                Some(Under::Yes(topic)) => Under::Yes(topic),
                Some(Under::No) => Under::No,
                Some(Under::Waiting) | None => {
                    let waiting = Waiting { id, call: call.map(|c| Box::new((c.owned(), span.trace_id))) };
                    self.waiting.entry_or_insert_with(key_of(&parent), SmallVec::new).push(waiting);
                    Under::Waiting
                }
            },
            (None, None) => Under::No,
        };
        self.under.insert(id, state);
        let topic = match state {
            Under::Waiting => return changed,
            Under::No => None,
            Under::Yes(topic) => {
                if let Some(call) = call {
                    changed |= self.report(call, topic, span.trace_id, at);
                }
                Some(topic)
            }
        };
        // Children that arrived first are (or are not) under the same consumer. Most spans
        // have none waiting: then nothing is allocated.
        if self.waiting.is_empty() || self.waiting.get(&id).is_none() {
            return changed;
        }
        let mut pending: SmallVec<[(u64, usize); 8]> = SmallVec::new();
        pending.push((id, 0_usize));
        while let Some((parent, depth)) = pending.pop() {
            let Some(children) = self.waiting.remove(&parent) else { continue };
            for child in children {
                self.under.insert(child.id, topic.map_or(Under::No, Under::Yes));
                if let (Some(topic), Some(call)) = (topic, &child.call) {
                    let (call, trace) = &**call;
                    changed |= self.report(call.as_ref(), topic, *trace, at);
                }
                if depth < MAX_RESOLVE_DEPTH {
                    pending.push((child.id, depth + 1));
                }
            }
        }
        changed
    }

    /// The index of the topic's name, added on first sight; `None` past [`MAX_EDGES`]
    /// topics (a topic per request), counted as dropped.
    fn topic(&mut self, topic: &str) -> Option<u32> {
        let key = key_of(&topic);
        if let Some(&index) = self.topics.get(&key) {
            return Some(index);
        }
        let index = u32::try_from(self.topic_names.len()).ok().filter(|_| self.topic_names.len() < MAX_EDGES);
        let Some(index) = index else {
            self.dropped += 1;
            return None;
        };
        self.topics.insert(key, index);
        self.topic_names.push(Arc::from(topic));
        Some(index)
    }

    fn report(&mut self, call: CallRef<'_>, topic: u32, trace: TraceId, at: u64) -> bool {
        let Some(topic) = self.topic_names.get(topic as usize) else { return false };
        let topic: &str = topic;
        let key = key_of(&(call, topic));
        let made = || {
            let service = call.service.to_string();
            let mut f = Finding::new(
                FindingKind::SyncCoupling,
                Severity::Info,
                Location { service: Some(service.clone()), ..Location::topic(topic) },
                at,
            );
            f.evidence.chain = vec![topic.to_owned(), service, call.peer.to_owned()];
            f
        };
        let Some(f) = self.calls.entry(key, "call", made) else { return false };
        f.touch(at);
        f.evidence.add_trace(|| trace.to_hex());
        true
    }

    /// Learns who writes and reads which topic, and direct calls, for cycles.
    fn learn_edges(&mut self, span: &Span, call: Option<CallRef<'_>>, at: u64) -> bool {
        let (map, role, topic) = match &span.messaging {
            Some(m) if m.operation.role() == MessagingRole::Produce => {
                (&mut self.writers, "writes", m.destination.as_deref())
            }
            Some(m) if m.operation == MessagingOperation::Process => {
                (&mut self.readers, "reads", m.destination.as_deref())
            }
            _ => {
                let Some(call) = call else { return false };
                // Most calls were seen before: a hash answers without comparing names.
                let key = key_of(&("call", call));
                if self.seen_edges.contains(&key) {
                    return false;
                }
                if self.direct.len() >= MAX_EDGES {
                    self.dropped += 1;
                    return false;
                }
                self.seen_edges.insert(key);
                self.direct.insert((call.service.to_string(), call.peer.to_owned()), at);
                return true;
            }
        };
        let Some(topic) = topic else { return false };
        let service = span.service();
        let key = key_of(&(role, topic, service));
        if self.seen_edges.contains(&key) {
            return false;
        }
        if map.len() >= MAX_EDGES {
            self.dropped += 1;
            return false;
        }
        self.seen_edges.insert(key);
        map.entry(topic.to_owned()).or_default().insert(service.clone(), at);
        true
    }

    /// Cycles between services: strongly connected sets of two or more.
    fn cycles(&self) -> Vec<Finding> {
        let mut graph: DiGraph<&str, (u64, &str)> = DiGraph::new();
        let mut nodes = BTreeMap::new();
        let mut node = |graph: &mut DiGraph<&str, (u64, &str)>, name: &str| -> petgraph::graph::NodeIndex {
            *nodes.entry(name.to_owned()).or_insert_with(|| graph.add_node(""))
        };
        let mut names: BTreeMap<petgraph::graph::NodeIndex, String> = BTreeMap::new();
        for (topic, writers) in &self.writers {
            let Some(readers) = self.readers.get(topic) else { continue };
            for (writer, w_at) in writers {
                for (reader, r_at) in readers {
                    if writer != reader {
                        let (writer, reader) = (writer.to_string(), reader.to_string());
                        let (a, b) = (node(&mut graph, &writer), node(&mut graph, &reader));
                        names.insert(a, writer);
                        names.insert(b, reader);
                        graph.add_edge(a, b, ((*w_at).max(*r_at), topic.as_str()));
                    }
                }
            }
        }
        for ((from, to), at) in &self.direct {
            let (a, b) = (node(&mut graph, from), node(&mut graph, to));
            names.insert(a, from.clone());
            names.insert(b, to.clone());
            graph.add_edge(a, b, (*at, "call"));
        }
        let mut out = Vec::new();
        for component in tarjan_scc(&graph) {
            if component.len() < 2 {
                continue;
            }
            let mut members: Vec<String> = component.iter().filter_map(|n| names.get(n).cloned()).collect();
            members.sort();
            let inside = |n| component.contains(&n);
            let edges: Vec<_> = graph
                .edge_indices()
                .filter_map(|e| graph.edge_endpoints(e).map(|(a, b)| (a, b, graph[e])))
                .filter(|(a, b, _)| inside(*a) && inside(*b))
                .collect();
            let closed = edges.iter().map(|(_, _, (at, _))| *at).max().unwrap_or(0);
            let mut via: Vec<&str> = edges.iter().map(|(_, _, (_, v))| *v).collect();
            via.sort_unstable();
            via.dedup();
            let mut chain = members.clone();
            chain.extend(members.first().cloned());
            out.push(Finding {
                kind: FindingKind::SyncCoupling,
                severity: Severity::Info,
                count: members.len() as u64,
                location: Location { service: members.first().cloned(), ..Location::default() },
                summary: format!("{} services feed each other in a cycle (through {})", members.len(), via.join(", ")),
                first_seen_unix_nano: closed,
                last_seen_unix_nano: closed,
                evidence: super::Evidence { chain, ..super::Evidence::default() },
            });
        }
        out
    }

    /// Copies the findings into `out`.
    pub fn collect(&self, out: &mut Vec<Finding>) {
        self.calls.collect(out, |_, f| {
            let (topic, service, peer) = match f.evidence.chain.as_slice() {
                [topic, service, peer] => (topic.as_str(), service.as_str(), peer.as_str()),
                _ => ("an event", "a consumer", "another service"),
            };
            format!(
                "{service} calls {peer} synchronously while processing {topic} ({} calls): the chain waits on it and fails with it",
                f.count
            )
        });
        out.extend(self.cycles());
    }

    /// The bytes its memories and findings hold (see [`super::memory`]); topic names are
    /// shared and counted once, in `topics`.
    pub fn heap_bytes(&self) -> usize {
        let topics = self.topic_names.iter().map(|t| t.len() + 2 * size_of::<usize>()).sum::<usize>();
        self.under.heap_bytes_with(|_| 0)
            + self.waiting.heap_bytes_with(waiting_heap)
            + self.calls.heap_bytes()
            + self.seen_edges.capacity() * (size_of::<u64>() + 1)
            + self.topics.capacity() * (size_of::<(u64, u32)>() + 1)
            + self.topic_names.capacity() * size_of::<Arc<str>>()
            + topics
    }

    /// What of [`CouplingDetector::heap_bytes`] `other` holds too (see
    /// [`crate::model::bounded_index::BoundedIndex::shared_bytes_with`]).
    pub fn shared_bytes(&self, other: &Self) -> usize {
        self.under.shared_bytes_with(&other.under, |_| 0) + self.waiting.shared_bytes_with(&other.waiting, waiting_heap)
    }

    /// What the bounds dropped.
    pub fn counters(&self) -> FindingsCounters {
        let mut c = add(counters(&self.under, &self.calls), counters(&self.waiting, &FindingTable::default()));
        c.findings_dropped += self.dropped;
        c
    }
}

/// What a list of children waiting for their parent holds beyond itself.
fn waiting_heap(w: &SmallVec<[Waiting; 2]>) -> usize {
    let spilled = if w.spilled() { w.capacity() * size_of::<Waiting>() } else { 0 };
    let calls = w
        .iter()
        .filter_map(|c| c.call.as_deref())
        .map(|(c, _)| {
            size_of::<(Call, TraceId)>()
                + c.service.name.capacity()
                + c.service.namespace.as_ref().map_or(0, String::capacity)
                + c.peer.capacity()
        })
        .sum::<usize>();
    spilled + calls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::span;

    fn findings(d: &CouplingDetector) -> Vec<Finding> {
        let mut out = Vec::new();
        d.collect(&mut out);
        out
    }

    fn process() -> Span {
        span("payments", "process orders", SpanKind::Consumer)
            .ids(1, 10)
            .messaging("kafka", "orders", "process")
            .attr("messaging.consumer.group.name", "payments")
            .build()
    }

    fn gateway_call(parent: u64, id: u64) -> Span {
        span("payments", "POST /charges", SpanKind::Client)
            .ids(1, id)
            .parent(parent)
            .attr("server.address", "payment-gateway")
            .build()
    }

    #[test]
    fn a_call_made_while_processing_is_coupling_whichever_arrives_first() {
        let mut d = CouplingDetector::new(100);
        // The grandchild arrives before its parent, the parent before the process span.
        d.apply_span(&gateway_call(11, 12), 1);
        d.apply_span(&span("payments", "charge", SpanKind::Internal).ids(1, 11).parent(10).build(), 1);
        assert!(findings(&d).is_empty());
        d.apply_span(&process(), 2);
        d.apply_span(&gateway_call(10, 13), 3);
        let f = findings(&d);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].kind, f[0].count), (FindingKind::SyncCoupling, 2));
        assert_eq!(f[0].evidence.chain, ["orders", "payments", "payment-gateway"]);
    }

    #[test]
    fn calls_outside_consumers_and_database_calls_are_not_coupling() {
        let mut d = CouplingDetector::new(100);
        let server = span("checkout", "POST /orders", SpanKind::Server).ids(2, 20).build();
        d.apply_span(&server, 1);
        d.apply_span(
            &span("checkout", "GET", SpanKind::Client).ids(2, 21).parent(20).attr("server.address", "pricing").build(),
            1,
        );
        d.apply_span(&process(), 1);
        d.apply_span(
            &span("payments", "UPDATE", SpanKind::Client)
                .ids(1, 14)
                .parent(10)
                .attr("db.system.name", "postgresql")
                .build(),
            1,
        );
        assert!(findings(&d).iter().all(|f| f.evidence.chain.len() != 3), "{:?}", findings(&d));
    }

    #[test]
    fn services_feeding_each_other_through_topics_are_a_cycle() {
        let mut d = CouplingDetector::new(100);
        let send = |service: &str, topic: &str| {
            span(service, "send", SpanKind::Producer).messaging("kafka", topic, "send").build()
        };
        let read = |service: &str, topic: &str| {
            span(service, "process", SpanKind::Consumer).messaging("kafka", topic, "process").build()
        };
        d.apply_span(&send("checkout", "orders"), 1);
        d.apply_span(&read("payments", "orders"), 2);
        d.apply_span(&send("payments", "payments"), 3);
        d.apply_span(&read("shipping", "payments"), 4);
        assert!(findings(&d).is_empty(), "a chain is no cycle");
        d.apply_span(&read("checkout", "payments"), 5);
        let f = findings(&d);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence.chain, ["checkout", "payments", "checkout"]);
        assert_eq!(f[0].first_seen_unix_nano, 5);
    }

    #[test]
    fn the_peer_is_named_by_the_first_attribute_in_precedence_not_in_the_span() {
        let mut d = CouplingDetector::new(100);
        d.apply_span(&process(), 1);
        let call = span("payments", "POST /charges", SpanKind::Client)
            .ids(1, 15)
            .parent(10)
            .attr("http.host", "10.0.0.7")
            .attr("server.address", "gateway.internal")
            .attr("peer.service", "payment-gateway")
            .build();
        d.apply_span(&call, 2);
        let f = findings(&d);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].evidence.chain, ["orders", "payments", "payment-gateway"]);
    }
}
