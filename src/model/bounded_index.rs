//! A hash index with a fixed capacity and oldest-first eviction.
//!
//! The graph remembers producer and client spans so that consumers and servers arriving
//! later (or earlier) can be joined to them. Those memories must not grow with the session,
//! so each lives in a [`BoundedIndex`] that forgets its oldest entry when full and counts it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash};

use rustc_hash::FxHasher;

/// A map that holds at most `capacity` keys, evicting the oldest inserted key first.
#[derive(Debug, Clone)]
pub struct BoundedIndex<K, V> {
    map: HashMap<K, V, BuildHasherDefault<FxHasher>>,
    order: VecDeque<K>,
    capacity: usize,
    evicted: u64,
}

impl<K: Eq + Hash + Copy, V> BoundedIndex<K, V> {
    /// An empty index holding at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { map: HashMap::default(), order: VecDeque::new(), capacity: capacity.max(1), evicted: 0 }
    }

    /// Inserts or replaces; a new key may evict the oldest one.
    pub fn insert(&mut self, key: K, value: V) {
        self.make_room_for(&key);
        match self.map.entry(key) {
            Entry::Occupied(mut held) => {
                held.insert(value);
            }
            Entry::Vacant(new) => {
                self.order.push_back(key);
                new.insert(value);
            }
        }
    }

    /// The value for `key`, inserting `default()` first when absent. Below capacity the key
    /// is looked up once; at capacity, a new key is looked up once more to make room first.
    pub fn entry_or_insert_with(&mut self, key: K, default: impl FnOnce() -> V) -> &mut V {
        self.make_room_for(&key);
        match self.map.entry(key) {
            Entry::Occupied(held) => held.into_mut(),
            Entry::Vacant(new) => {
                self.order.push_back(key);
                new.insert(default())
            }
        }
    }

    /// Makes room for `key` if it is new and the index is full, before it is added (so the
    /// new key itself can never be the one evicted).
    fn make_room_for(&mut self, key: &K) {
        // Keys taken out through `remove` leave stale entries in `order`; compact when they dominate.
        if self.order.len() >= self.capacity.saturating_mul(2) {
            let map = &self.map;
            self.order.retain(|k| map.contains_key(k));
        }
        if self.map.len() >= self.capacity && !self.map.contains_key(key) {
            self.make_room();
        }
    }

    /// Evicts oldest keys until one more fits.
    fn make_room(&mut self) {
        while self.map.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            if self.map.remove(&oldest).is_some() {
                self.evicted += 1;
            }
        }
    }

    /// Takes out the oldest key still held, counted as evicted.
    pub fn pop_oldest(&mut self) -> Option<V> {
        while let Some(oldest) = self.order.pop_front() {
            if let Some(value) = self.map.remove(&oldest) {
                self.evicted += 1;
                return Some(value);
            }
        }
        None
    }

    /// The value for `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    /// Removes and returns the value for `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key)
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The bytes it holds: the hash table's slots as allocated (each a key, a value and a
    /// control byte), the order queue's, and what `value_heap` says each value owns beyond
    /// itself.
    pub fn heap_bytes_with(&self, value_heap: impl Fn(&V) -> usize) -> usize {
        let slots = self.map.capacity() * (std::mem::size_of::<(K, V)>() + 1);
        let order = self.order.capacity() * std::mem::size_of::<K>();
        slots + order + self.map.values().map(value_heap).sum::<usize>()
    }

    /// How many keys were forgotten because the index was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_first_and_counts() {
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
    }

    #[test]
    fn removed_keys_do_not_leak_order_entries() {
        let mut index = BoundedIndex::new(4);
        for k in 0..10_000 {
            index.insert(k, k);
            index.remove(&k);
        }
        assert!(index.order.len() <= 9);
        assert_eq!(index.evicted(), 0);
    }
}
