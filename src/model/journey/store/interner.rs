//! The labels journeys are built from (service names, topics), interned: each distinct string
//! is stored once and shared by every journey, row and step that names it. Its own type so
//! the store's other state cannot reach the strings except through it.

use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::model::span::{Resource, Span};

/// Interned label strings, and the last resource's service label (spans of one export
/// share their resource).
#[derive(Debug, Default)]
pub(super) struct Interner {
    interned: FxHashSet<Arc<str>>,
    last_resource: Option<LastResource>,
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

    /// A span's service label and (interned) destination.
    pub(super) fn labels(&mut self, span: &Span) -> (Arc<str>, Option<Arc<str>>) {
        let service = self.service_label(&span.resource);
        let topic = span.messaging.as_ref().and_then(|m| m.destination.as_deref()).map(|d| self.intern(d));
        (service, topic)
    }

    /// As [`Interner::labels`], without interning anything new (for read-only rebuilds).
    pub(super) fn known_labels(&self, span: &Span) -> (Arc<str>, Option<Arc<str>>) {
        let known = |text: &str| self.interned.get(text).cloned().unwrap_or_else(|| text.into());
        let service = known(&span.resource.service.to_string());
        let topic = span.messaging.as_ref().and_then(|m| m.destination.as_deref()).map(known);
        (service, topic)
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
