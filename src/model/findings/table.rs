//! The two kinds of bounded state every detector keeps: a table of its findings, keyed by
//! where they are, and per-key memories hashed to a fixed size.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;

use super::FindingsCounters;
use super::finding::Finding;
use crate::model::bounded_index::BoundedIndex;

/// Findings one detector keeps at most; past it, new places are counted, not kept.
pub const MAX_FINDINGS_PER_DETECTOR: usize = 1_000;

/// A detector's findings, one per place. A place is looked up by a hash of its parts
/// ([`key_of`] over borrowed strings), so counting one more occurrence allocates nothing; the
/// finding's [`Location`] is built only when the place is new. Each finding carries the
/// detector's tag for it (what it counts), from which its summary is written when the view is
/// built, not at every occurrence.
#[derive(Clone, Debug, Default)]
pub struct FindingTable {
    findings: BTreeMap<u64, (&'static str, Finding)>,
    dropped: u64,
}

impl FindingTable {
    /// The finding at the place hashed to `key`, made by `make` when new; `None` when the
    /// table is full (counted).
    pub fn entry(&mut self, key: u64, tag: &'static str, make: impl FnOnce() -> Finding) -> Option<&mut Finding> {
        if !self.findings.contains_key(&key) {
            if self.findings.len() >= MAX_FINDINGS_PER_DETECTOR {
                self.dropped += 1;
                return None;
            }
            self.findings.insert(key, (tag, make()));
        }
        self.findings.get_mut(&key).map(|(_, f)| f)
    }

    /// The finding at the place hashed to `key`, if there is one.
    pub fn get_mut(&mut self, key: u64) -> Option<&mut Finding> {
        self.findings.get_mut(&key).map(|(_, f)| f)
    }

    /// Every finding with its tag.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Finding)> {
        self.findings.values().map(|(tag, f)| (*tag, f))
    }

    /// Copies every finding into `out`, its summary written by `summarize` from its tag.
    pub fn collect(&self, out: &mut Vec<Finding>, summarize: impl Fn(&'static str, &Finding) -> String) {
        for (tag, f) in self.findings.values() {
            let mut f = f.clone();
            if f.summary.is_empty() {
                f.summary = summarize(tag, &f);
            }
            out.push(f);
        }
    }

    /// Findings not kept because the table was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// A per-key memory of fixed size: keys are hashed to 64 bits (collisions are negligible at
/// the sizes kept), the oldest key goes first, evictions are counted.
pub type Memory<V> = BoundedIndex<u64, V>;

/// A 64-bit hash of `parts`, the key of a [`Memory`].
pub fn key_of(parts: &impl Hash) -> u64 {
    let mut hasher = FxHasher::default();
    parts.hash(&mut hasher);
    hasher.finish()
}

/// Counters of one memory and one finding table.
pub fn counters<V>(memory: &Memory<V>, table: &FindingTable) -> FindingsCounters {
    FindingsCounters { tracked: memory.len() as u64, evicted: memory.evicted(), findings_dropped: table.dropped() }
}

/// Sums counters.
pub fn add(a: FindingsCounters, b: FindingsCounters) -> FindingsCounters {
    FindingsCounters {
        tracked: a.tracked + b.tracked,
        evicted: a.evicted + b.evicted,
        findings_dropped: a.findings_dropped + b.findings_dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::{FindingKind, Location, Severity};

    #[test]
    fn a_full_table_counts_what_it_could_not_keep() {
        let mut table = FindingTable::default();
        let make =
            |i: usize| move || Finding::new(FindingKind::Retry, Severity::Info, Location::topic(&format!("t{i}")), 0);
        for i in 0..MAX_FINDINGS_PER_DETECTOR + 5 {
            if let Some(f) = table.entry(key_of(&i), "retried", make(i)) {
                f.touch(1);
            }
        }
        assert_eq!(table.iter().count(), MAX_FINDINGS_PER_DETECTOR);
        assert_eq!(table.dropped(), 5);
        // An existing place is still updated when full.
        let again = table.entry(key_of(&0_usize), "retried", make(0));
        assert_eq!(again.map(|f| f.count), Some(1));
        let mut out = Vec::new();
        table.collect(&mut out, |tag, f| format!("{} {tag}", f.count));
        assert!(out.iter().any(|f| f.summary == "1 retried"));
    }
}
