//! The labels journeys are built from (service names, topics, consumer groups), interned: each
//! distinct string is stored once and shared by every journey, row and step that names it.
//! Its own type so the store's other state cannot reach the strings except through it. The
//! set is not pruned and not counted in the store's bytes: services, topics and groups are
//! few (a topic or group per request would grow it, as it would grow the flow graph, which
//! bounds its nodes).

use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::model::journey::accum::SpanLabels;
use crate::model::span::{Resource, Span};

/// Most event types interned. Types come from payloads, so a field that is not really a type
/// (an id under the configured name) could otherwise grow the set with every message; past
/// the cap a type is allocated per message instead, which loses nothing.
const MAX_EVENT_TYPES: usize = 4_096;

/// Interned label strings, and the last resource's service label (spans of one export
/// share their resource).
#[derive(Debug)]
pub(super) struct Interner {
    interned: FxHashSet<Arc<str>>,
    event_types: FxHashSet<Arc<str>>,
    last_resource: Option<LastResource>,
    kafka: Arc<str>,
}

impl Default for Interner {
    fn default() -> Self {
        Self {
            interned: FxHashSet::default(),
            event_types: FxHashSet::default(),
            last_resource: None,
            kafka: Arc::from("kafka"),
        }
    }
}

/// A resource and its service label.
#[derive(Debug)]
struct LastResource {
    resource: Arc<Resource>,
    label: Arc<str>,
}

impl Interner {
    /// `text`, stored once.
    pub(super) fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(found) = self.interned.get(text) {
            return Arc::clone(found);
        }
        let value: Arc<str> = text.into();
        self.interned.insert(Arc::clone(&value));
        value
    }

    /// The messaging system label of Kafka messages, one string for all.
    pub(super) fn kafka(&self) -> &Arc<str> {
        &self.kafka
    }

    /// A message's event type, stored once while fewer than [`MAX_EVENT_TYPES`] are known.
    pub(super) fn event_type(&mut self, text: &str) -> Arc<str> {
        if let Some(found) = self.event_types.get(text) {
            return Arc::clone(found);
        }
        let value: Arc<str> = text.into();
        if self.event_types.len() < MAX_EVENT_TYPES {
            self.event_types.insert(Arc::clone(&value));
        }
        value
    }

    /// A span's service label, and its destination and consumer group, interned.
    pub(super) fn labels(&mut self, span: &Span) -> SpanLabels {
        let service = self.service_label(&span.resource);
        let messaging = span.messaging.as_ref();
        let topic = messaging.and_then(|m| m.destination.as_deref()).map(|d| self.intern(d));
        let group = messaging.and_then(|m| m.consumer_group.as_deref()).map(|g| self.intern(g));
        SpanLabels { service, topic, group }
    }

    /// As [`Interner::labels`], without interning anything new (for read-only rebuilds).
    pub(super) fn known_labels(&self, span: &Span) -> SpanLabels {
        let known = |text: &str| self.interned.get(text).cloned().unwrap_or_else(|| text.into());
        let messaging = span.messaging.as_ref();
        SpanLabels {
            service: known(&span.resource.service.to_string()),
            topic: messaging.and_then(|m| m.destination.as_deref()).map(known),
            group: messaging.and_then(|m| m.consumer_group.as_deref()).map(known),
        }
    }

    /// The service label of a resource; spans of one export share their resource, so the
    /// last one is remembered.
    fn service_label(&mut self, resource: &Arc<Resource>) -> Arc<str> {
        if let Some(last) = &self.last_resource
            && (Arc::ptr_eq(&last.resource, resource) || last.resource.service == resource.service)
        {
            let label = Arc::clone(&last.label);
            self.last_resource = Some(LastResource { resource: Arc::clone(resource), label: Arc::clone(&label) });
            return label;
        }
        let label = self.intern(&resource.service.to_string());
        self.last_resource = Some(LastResource { resource: Arc::clone(resource), label: Arc::clone(&label) });
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_shared_up_to_the_cap_then_allocated() {
        let mut interner = Interner::default();
        let first = interner.event_type("OrderPlaced");
        assert!(Arc::ptr_eq(&first, &interner.event_type("OrderPlaced")));
        for i in 0..MAX_EVENT_TYPES {
            interner.event_type(&format!("type-{i}"));
        }
        assert_eq!(interner.event_types.len(), MAX_EVENT_TYPES);
        let late = interner.event_type("LateType");
        assert_eq!(&*late, "LateType");
        assert!(!Arc::ptr_eq(&late, &interner.event_type("LateType")), "not kept past the cap");
        assert!(Arc::ptr_eq(&first, &interner.event_type("OrderPlaced")), "known types still shared");
    }
}
