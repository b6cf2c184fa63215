//! A hash index with a fixed capacity that forgets its oldest half when full.
//!
//! The graph remembers producer and client spans so that consumers and servers arriving
//! later (or earlier) can be joined to them, and the findings detectors remember keys and
//! attempts. Those memories must not grow with the session, so each lives in a
//! [`BoundedIndex`] that forgets its oldest entries when full and counts them.
//!
//! The index keeps two generations: the young one takes every new key; once it holds half
//! the capacity, the old one is forgotten whole and the young one becomes old, frozen behind
//! an [`Arc`]. A copy (the timeline's checkpoints copy the models every few thousand records)
//! then copies only the young generation and shares the old one, instead of copying tables of
//! up to a quarter of a million entries each time. Forgetting a generation at once needs no
//! insertion order either (a queue of every key, before).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash};
use std::sync::Arc;

use rustc_hash::FxHasher;

type Map<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
type Set<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// A map that holds at most `capacity` keys (rounded up to even), forgetting the oldest half
/// when full.
///
/// A key lives through at least half the capacity of insertions of other keys (so, with
/// no removals, the index holds at least half its capacity once that many keys were
/// inserted). A key written again while in the old generation moves to the young one (a
/// copy of its value, the old entry hidden); a key removed from the old generation is hidden
/// until that generation goes (the removed keys are a subset of the old generation's, so they
/// take at most another half of the capacity in keys).
#[derive(Debug, Clone)]
pub struct BoundedIndex<K, V> {
    young: Map<K, V>,
    /// Keys of `old` removed since it froze.
    removed: Set<K>,
    old: Arc<Map<K, V>>,
    /// How many of `old`'s keys are hidden: held in `young` too, or in `removed`.
    hidden: usize,
    /// Keys a generation takes before it freezes: half the capacity.
    generation: usize,
    evicted: u64,
}

impl<K: Eq + Hash + Copy, V: Clone> BoundedIndex<K, V> {
    /// An empty index holding at most `capacity` keys (at least two).
    pub fn new(capacity: usize) -> Self {
        Self {
            young: Map::default(),
            removed: Set::default(),
            old: Arc::default(),
            hidden: 0,
            generation: capacity.div_ceil(2).max(1),
            evicted: 0,
        }
    }

    /// Inserts or replaces; a new key may make the oldest half go.
    pub fn insert(&mut self, key: K, value: V) {
        if self.young.len() < self.generation {
            // The young generation has room: one probe of it finds the key or its slot (every
            // span and message inserts here, and a second probe cost a tenth of a detector).
            match self.young.entry(key) {
                Entry::Occupied(mut held) => {
                    held.insert(value);
                }
                Entry::Vacant(new) => {
                    hide_old(&mut self.removed, &self.old, &mut self.hidden, new.key(), false);
                    new.insert(value);
                }
            }
            return;
        }
        if let Some(held) = self.young.get_mut(&key) {
            *held = value;
            return;
        }
        hide_old(&mut self.removed, &self.old, &mut self.hidden, &key, false);
        self.make_room();
        self.young.insert(key, value);
    }

    /// The value for `key`, inserting `default()` first when absent (or a copy of the old
    /// generation's value, when it is there).
    pub fn entry_or_insert_with(&mut self, key: K, default: impl FnOnce() -> V) -> &mut V {
        if self.young.len() >= self.generation && !self.young.contains_key(&key) {
            let adopted = hide_old(&mut self.removed, &self.old, &mut self.hidden, &key, true);
            self.make_room();
            return self.young.entry(key).or_insert_with(|| adopted.unwrap_or_else(default));
        }
        match self.young.entry(key) {
            Entry::Occupied(held) => held.into_mut(),
            Entry::Vacant(new) => {
                let adopted = hide_old(&mut self.removed, &self.old, &mut self.hidden, new.key(), true);
                new.insert(adopted.unwrap_or_else(default))
            }
        }
    }

    /// Freezes the young generation once it is full, forgetting the old one. Removed keys do
    /// not count: they hide the old generation's keys, whose room is already counted, and
    /// counting them would forget the old generation sooner the more of it was removed.
    fn make_room(&mut self) {
        if self.young.len() < self.generation {
            return;
        }
        self.evicted += (self.old.len() - self.hidden) as u64;
        let young = std::mem::take(&mut self.young);
        let gone = std::mem::replace(&mut self.old, Arc::new(young));
        self.removed.clear();
        self.hidden = 0;
        // Reuse the forgotten generation's table when no copy shares it (no timeline), so an
        // index that only turns over allocates nothing.
        if let Ok(mut table) = Arc::try_unwrap(gone) {
            table.clear();
            self.young = table;
        }
    }

    /// Removes and returns the value for `key` (a copy, when it was in the old generation).
    pub fn remove(&mut self, key: &K) -> Option<V> {
        if let Some(value) = self.young.remove(key) {
            // The old generation's entry, if any, was hidden by the young one: keep it hidden.
            if self.old.contains_key(key) {
                self.removed.insert(*key);
            }
            return Some(value);
        }
        if self.removed.contains(key) {
            return None;
        }
        let value = self.old.get(key)?.clone();
        self.removed.insert(*key);
        self.hidden += 1;
        Some(value)
    }
}

/// Reading needs no copies.
impl<K: Eq + Hash, V> BoundedIndex<K, V> {
    /// The value for `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        match self.young.get(key) {
            Some(value) => Some(value),
            None if !self.removed.is_empty() && self.removed.contains(key) => None,
            None => self.old.get(key),
        }
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len() - self.hidden
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes it holds: both generations' hash tables as allocated (each slot a key, a
    /// value and a control byte), the removed keys', and what `value_heap` says each value
    /// owns beyond itself. The old generation is counted in full even when a copy shares it;
    /// [`BoundedIndex::shared_bytes_with`] says how much that is.
    pub fn heap_bytes_with(&self, value_heap: impl Fn(&V) -> usize) -> usize {
        let young = self.young.capacity() * Self::SLOT + self.young.values().map(&value_heap).sum::<usize>();
        let removed = self.removed.capacity() * (std::mem::size_of::<K>() + 1);
        young + removed + self.old_bytes_with(value_heap)
    }

    /// The bytes `self` and `other` both hold: the old generation when they share it (a copy
    /// and what it was copied from, or two copies taken while it was old), else nothing.
    pub fn shared_bytes_with(&self, other: &Self, value_heap: impl Fn(&V) -> usize) -> usize {
        if Arc::ptr_eq(&self.old, &other.old) { self.old_bytes_with(value_heap) } else { 0 }
    }

    const SLOT: usize = std::mem::size_of::<(K, V)>() + 1;

    fn old_bytes_with(&self, value_heap: impl Fn(&V) -> usize) -> usize {
        self.old.capacity() * Self::SLOT + self.old.values().map(value_heap).sum::<usize>()
    }

    /// How many keys were forgotten because the index was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

/// Before `key` enters the young generation: hides the old generation's entry for it and
/// returns a copy of its value when `copy` asks and it was still visible. A function of the
/// fields it touches, so it can run while the young generation's entry for `key` is held.
fn hide_old<K: Eq + Hash, V: Clone>(
    removed: &mut Set<K>,
    old: &Map<K, V>,
    hidden: &mut usize,
    key: &K,
    copy: bool,
) -> Option<V> {
    if !removed.is_empty() && removed.remove(key) {
        // Hidden already; from now on by the young generation.
        return None;
    }
    let held = old.get(key)?;
    *hidden += 1;
    copy.then(|| held.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_oldest_half_when_full_and_counts() {
        let mut index = BoundedIndex::new(2);
        index.insert(1, "a");
        index.insert(2, "b");
        index.insert(3, "c");
        assert_eq!(index.get(&1), None);
        assert_eq!(index.get(&2), Some(&"b"));
        assert_eq!(index.get(&3), Some(&"c"));
        assert_eq!(index.evicted(), 1);
        *index.entry_or_insert_with(4, || "d") = "e";
        assert_eq!(index.get(&4), Some(&"e"));
        assert_eq!(index.len(), 2);
        assert_eq!(index.evicted(), 2);
    }

    #[test]
    fn holds_between_half_and_all_of_its_capacity() {
        let mut index = BoundedIndex::new(100);
        for k in 0..1_000u64 {
            index.insert(k, k);
            assert!(index.len() <= 100);
            if k >= 100 {
                assert!(index.len() >= 50, "{} held after {k}", index.len());
                // The newest half is always there.
                assert!((k - 49..=k).all(|newer| index.get(&newer) == Some(&newer)));
            }
        }
        assert_eq!(index.evicted() + index.len() as u64, 1_000);
    }

    #[test]
    fn a_key_of_the_old_generation_can_be_replaced_removed_and_written_again() {
        let mut index = BoundedIndex::new(4);
        index.insert(1, 10);
        index.insert(2, 20);
        index.insert(3, 30); // 1 and 2 freeze
        assert_eq!(index.get(&1), Some(&10));
        index.insert(1, 11);
        assert_eq!((index.get(&1), index.len()), (Some(&11), 3));
        assert_eq!(index.remove(&2), Some(20));
        assert_eq!(index.get(&2), None);
        assert_eq!((index.remove(&2), index.len()), (None, 2));
        // The young generation is full (3 and 1): the old one goes, but nothing in it was
        // still visible (1 moved to the young generation, 2 was removed).
        *index.entry_or_insert_with(2, || 0) += 5;
        assert_eq!((index.len(), index.evicted()), (3, 0));
        assert_eq!([1, 2, 3].map(|k| index.get(&k).copied()), [Some(11), Some(5), Some(30)]);
    }

    #[test]
    fn entry_adopts_the_old_value_and_a_copy_does_not_see_later_writes() {
        let mut index = BoundedIndex::new(2);
        index.insert(1, vec![1]);
        index.insert(2, vec![2]); // 1 freezes
        let copy = index.clone();
        index.entry_or_insert_with(1, Vec::new).push(9);
        assert_eq!(index.get(&1), Some(&vec![1, 9]));
        assert_eq!(copy.get(&1), Some(&vec![1]));
        assert_eq!(index.remove(&2), Some(vec![2]));
        assert_eq!(copy.get(&2), Some(&vec![2]));
    }

    #[test]
    fn a_copy_shares_the_old_generation_until_it_goes() {
        let mut index = BoundedIndex::new(4);
        for k in 0..3u64 {
            index.insert(k, k);
        }
        let copy = index.clone();
        let old = index.shared_bytes_with(&copy, |_| 0);
        assert!(old > 0 && old < index.heap_bytes_with(|_| 0));
        assert_eq!(copy.shared_bytes_with(&index, |_| 0), old);
        // Two more keys fill the young generation; the next freezes it and the shared one goes.
        for k in 3..6u64 {
            index.insert(k, k);
        }
        assert_eq!(index.shared_bytes_with(&copy, |_| 0), 0);
        assert_eq!([0, 1, 2].map(|k| copy.get(&k).copied()), [Some(0), Some(1), Some(2)]);
    }

    #[test]
    fn removing_old_keys_does_not_bring_the_next_turn_forward() {
        let mut index = BoundedIndex::new(4);
        for k in 1..=3 {
            index.insert(k, k);
        }
        // 1 and 2 are old, 3 young; removing 1 leaves room for one more young key.
        assert_eq!(index.remove(&1), Some(1));
        index.insert(4, 4);
        assert_eq!((index.len(), index.evicted()), (3, 0));
        assert_eq!([1, 2, 3, 4].map(|k| index.get(&k).copied()), [None, Some(2), Some(3), Some(4)]);
        // The young generation (3, 4) is full: the next key forgets the old one (2; 1 was
        // removed, not evicted).
        index.insert(5, 5);
        assert_eq!((index.len(), index.evicted()), (3, 1));
    }

    #[test]
    fn with_room_a_key_of_the_old_generation_is_hidden_once_and_counted_right() {
        let mut index = BoundedIndex::new(8);
        for k in 0..5u64 {
            index.insert(k, k * 10); // 0..=3 freeze when 4 comes
        }
        // Read through the entry while the young generation has room: a copy, the old hidden.
        *index.entry_or_insert_with(1, || 0) += 1;
        assert_eq!((index.get(&1), index.len()), (Some(&11), 5));
        // Removed from the old generation, then written again: back once.
        assert_eq!(index.remove(&2), Some(20));
        assert_eq!(index.len(), 4);
        index.insert(2, 21);
        assert_eq!((index.get(&2), index.len()), (Some(&21), 5));
        // The young generation (4, 1, 2, 5) fills; the next key forgets the old one, of which
        // only 0 and 3 were still visible.
        index.insert(5, 50);
        index.insert(6, 60);
        assert_eq!(index.evicted(), 2);
        assert_eq!([0, 1, 2, 3].map(|k| index.get(&k).copied()), [None, Some(11), Some(21), None]);
        assert_eq!(index.len(), 5);
    }

    #[test]
    fn removed_keys_do_not_accumulate() {
        let mut index = BoundedIndex::new(4);
        for k in 0..10_000 {
            index.insert(k, k);
            index.remove(&k);
        }
        assert_eq!((index.len(), index.evicted()), (0, 0));
        assert!(index.young.capacity() < 64 && index.removed.is_empty());
    }
}
