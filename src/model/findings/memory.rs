//! What the findings detectors hold in memory, measured ([`HeapSize`]) so the memory budget
//! can bound them: their per-key memories (the bulk: one entry per message, key or span
//! tracked, up to [`FindingsSettings::max_tracked`](super::FindingsSettings) each) and their
//! findings with the evidence kept. The smaller maps bounded by fixed counts (topics, groups,
//! event types) are left out. `tests/findings_memory_bound.rs` checks the measure against
//! what a counting allocator sees.

use std::mem::size_of;

use super::finding::{Evidence, Finding, Location, MessageRef};
use super::table::FindingTable;
use crate::model::size::HeapSize;

/// A B-tree's own bytes per entry beyond its key and value (node links, spare slots), roughly.
pub(super) const TREE_ENTRY_OVERHEAD: usize = 16;

fn strings<'a>(all: impl IntoIterator<Item = &'a String>) -> usize {
    all.into_iter().map(|s| size_of::<String>() + s.capacity()).sum()
}

fn text(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::capacity)
}

impl HeapSize for Location {
    fn heap_bytes(&self) -> usize {
        text(&self.topic) + text(&self.group) + text(&self.service) + text(&self.key) + text(&self.event_type)
    }
}

impl HeapSize for MessageRef {
    fn heap_bytes(&self) -> usize {
        self.topic.capacity()
    }
}

impl HeapSize for Evidence {
    fn heap_bytes(&self) -> usize {
        let messages = self.messages.capacity() * size_of::<MessageRef>()
            + self.messages.iter().map(HeapSize::heap_bytes).sum::<usize>();
        let shape = self.shape.as_ref().map_or(0, |s| {
            let fields = s.before.iter().chain(&s.after);
            size_of_val(&**s)
                + fields.map(|f| size_of_val(f) + f.path.capacity() + f.types.capacity() * 16).sum::<usize>()
                + strings(s.added.iter().chain(&s.removed).chain(&s.changed).chain(&s.failing_consumers))
        });
        let lag = self.lag.as_ref().map_or(0, |l| l.partitions.capacity() * size_of::<i32>());
        let unhandled = self.unhandled.as_ref().map_or(0, |u| strings(&u.readers));
        strings(self.traces.iter().chain(&self.keys).chain(&self.chain))
            + messages
            + text(&self.payload)
            + text(&self.error)
            + shape
            + lag
            + unhandled
    }
}

impl HeapSize for Finding {
    fn heap_bytes(&self) -> usize {
        self.location.heap_bytes() + self.summary.capacity() + self.evidence.heap_bytes()
    }
}

impl FindingTable {
    /// The bytes its findings hold, each with its entry in the table.
    pub fn heap_bytes(&self) -> usize {
        self.iter()
            .map(|(_, f)| size_of::<(u64, (&'static str, Finding))>() + TREE_ENTRY_OVERHEAD + f.heap_bytes())
            .sum()
    }
}
