//! Journeys by id. Ids only grow, so journeys live in a deque indexed by `id - base`: a
//! lookup is an index, not a hash, a new journey is a push, and the oldest is at the front
//! for eviction. Merged-away ids leave a hole until the front passes them.

use std::collections::VecDeque;

/// A deque of optional values indexed by a growing id.
#[derive(Debug)]
pub struct IdSlab<T> {
    slots: VecDeque<Option<T>>,
    base: u64,
    live: usize,
}

impl<T> IdSlab<T> {
    /// An empty slab whose first id is `first`.
    pub fn new(first: u64) -> Self {
        Self { slots: VecDeque::new(), base: first, live: 0 }
    }

    fn index(&self, id: u64) -> Option<usize> {
        id.checked_sub(self.base).map(|i| i as usize).filter(|i| *i < self.slots.len())
    }

    /// The value of `id`.
    pub fn get(&self, id: &u64) -> Option<&T> {
        self.slots.get(self.index(*id)?)?.as_ref()
    }

    /// The value of `id`, mutably.
    pub fn get_mut(&mut self, id: &u64) -> Option<&mut T> {
        let i = self.index(*id)?;
        self.slots.get_mut(i)?.as_mut()
    }

    /// True when `id` holds a value.
    pub fn contains_key(&self, id: &u64) -> bool {
        self.get(id).is_some()
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The id the next [`IdSlab::push`] gets.
    pub fn next_id(&self) -> u64 {
        self.base + self.slots.len() as u64
    }

    /// Adds a value under the next id.
    pub fn push(&mut self, value: T) -> u64 {
        let id = self.next_id();
        self.slots.push_back(Some(value));
        self.live += 1;
        id
    }

    /// Puts a value back under an id that was handed out (after [`IdSlab::remove`]).
    pub fn insert(&mut self, id: u64, value: T) {
        let Some(i) = self.index(id) else { return };
        if self.slots[i].replace(value).is_none() {
            self.live += 1;
        }
    }

    /// Takes the value of `id` out, leaving a hole.
    pub fn remove(&mut self, id: &u64) -> Option<T> {
        let i = self.index(*id)?;
        let value = self.slots[i].take();
        if value.is_some() {
            self.live -= 1;
        }
        value
    }

    /// Takes the oldest value out.
    pub fn pop_oldest(&mut self) -> Option<(u64, T)> {
        while let Some(front) = self.slots.pop_front() {
            let id = self.base;
            self.base += 1;
            if let Some(value) = front {
                self.live -= 1;
                return Some((id, value));
            }
        }
        None
    }

    /// Every value with its id, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, v)| Some((self.base + i as u64, v.as_ref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_grow_holes_are_skipped_and_the_oldest_pops_first() {
        let mut slab = IdSlab::new(1);
        let (a, b, c) = (slab.push("a"), slab.push("b"), slab.push("c"));
        assert_eq!((a, b, c), (1, 2, 3));
        assert_eq!(slab.remove(&1), Some("a"));
        slab.insert(2, "B");
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.pop_oldest(), Some((2, "B")));
        assert_eq!(slab.get(&3), Some(&"c"));
        assert!(slab.get(&9).is_none());
        assert_eq!(slab.next_id(), 4);
    }
}
