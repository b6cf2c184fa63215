//! The two kinds of bounded state every detector keeps: a table of its findings, keyed by
//! where they are, and per-key memories hashed to a fixed size.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;

use super::FindingsCounters;
use super::finding::{Finding, Location};
use crate::model::bounded_index::BoundedIndex;

/// Findings one detector keeps at most; past it, new places are counted, not kept.
pub const MAX_FINDINGS_PER_DETECTOR: usize = 1_000;

/// A detector's findings, one per place (and a discriminator, for detectors that report
/// several things about one place).
#[derive(Clone, Debug, Default)]
pub struct FindingTable {
    findings: BTreeMap<(Location, &'static str), Finding>,
    dropped: u64,
}

impl FindingTable {
    /// The finding at `location`, made by `make` when new; `None` when the table is full
    /// (counted).
    pub fn entry(
        &mut self,
        location: Location,
        discriminator: &'static str,
        make: impl FnOnce(Location) -> Finding,
    ) -> Option<&mut Finding> {
        let key = (location, discriminator);
        if !self.findings.contains_key(&key) {
            if self.findings.len() >= MAX_FINDINGS_PER_DETECTOR {
                self.dropped += 1;
                return None;
            }
            let finding = make(key.0.clone());
            self.findings.insert(key.clone(), finding);
        }
        self.findings.get_mut(&key)
    }

    /// The finding at `location`, if there is one.
    pub fn get_mut(&mut self, location: &Location, discriminator: &'static str) -> Option<&mut Finding> {
        self.findings.get_mut(&(location.clone(), discriminator))
    }

    /// Every finding, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &Finding> {
        self.findings.values()
    }

    /// Copies every finding into `out`.
    pub fn collect(&self, out: &mut Vec<Finding>) {
        out.extend(self.findings.values().cloned());
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
    use crate::model::findings::{FindingKind, Severity};

    #[test]
    fn a_full_table_counts_what_it_could_not_keep() {
        let mut table = FindingTable::default();
        for i in 0..MAX_FINDINGS_PER_DETECTOR + 5 {
            let location = Location::topic(&format!("t{i}"));
            let kept = table.entry(location, "", |l| Finding::new(FindingKind::Retry, Severity::Info, l, 0));
            if let Some(f) = kept {
                f.touch(1);
            }
        }
        assert_eq!(table.iter().count(), MAX_FINDINGS_PER_DETECTOR);
        assert_eq!(table.dropped(), 5);
        // An existing place is still updated when full.
        let again = table.entry(Location::topic("t0"), "", |l| Finding::new(FindingKind::Retry, Severity::Info, l, 0));
        assert_eq!(again.map(|f| f.count), Some(1));
    }
}
