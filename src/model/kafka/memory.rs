//! What the Kafka model's clusters hold in memory ([`HeapSize`]): topics and their
//! partitions, groups with their members and lag histories, brokers. The timeline's
//! checkpoints count it for each copy of the state they keep (the memory budget's timeline
//! share), and the lag histories are most of it: up to the history's length in samples per
//! group and partition.
//!
//! B-tree maps are counted at one and a half entries per entry (nodes hold eleven and are
//! kept at least half full), strings by capacity.

use std::mem::size_of;

use super::cluster::{ClusterState, GroupState, PartitionState, TopicLag, TopicState};
use super::lag::PartitionLag;
use super::observation::GroupMember;
use crate::model::size::HeapSize;

/// Bytes a B-tree map of `entries` entries of `K` and `V` takes in its nodes.
fn btree_bytes<K, V>(entries: usize) -> usize {
    entries * size_of::<(K, V)>() * 3 / 2
}

fn text(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::capacity)
}

impl HeapSize for TopicLag {
    fn heap_bytes(&self) -> usize {
        self.history.capacity() * size_of::<(u64, u64)>()
    }
}

impl HeapSize for GroupMember {
    fn heap_bytes(&self) -> usize {
        self.id.capacity()
            + self.client_id.capacity()
            + self.host.capacity()
            + self.assignment.capacity() * size_of::<(String, Vec<i32>)>()
            + self.assignment.iter().map(|(t, p)| t.capacity() + p.capacity() * size_of::<i32>()).sum::<usize>()
    }
}

impl HeapSize for GroupState {
    fn heap_bytes(&self) -> usize {
        let members = self
            .members
            .as_ref()
            .map_or(0, |m| m.capacity() * size_of::<GroupMember>() + m.iter().map(HeapSize::heap_bytes).sum::<usize>());
        text(&self.state)
            + text(&self.offsets_error)
            + members
            + btree_bytes::<(String, i32), PartitionLag>(self.partitions.len())
            + self.partitions.iter().map(|((t, _), lag)| t.capacity() + lag.heap_bytes()).sum::<usize>()
            + btree_bytes::<String, TopicLag>(self.topics.len())
            + self.topics.iter().map(|(t, lag)| t.capacity() + lag.heap_bytes()).sum::<usize>()
    }
}

impl HeapSize for TopicState {
    fn heap_bytes(&self) -> usize {
        btree_bytes::<i32, PartitionState>(self.partitions.len())
    }
}

impl HeapSize for ClusterState {
    fn heap_bytes(&self) -> usize {
        text(&self.connection.message)
            + self.brokers.capacity() * size_of::<super::observation::BrokerInfo>()
            + self.brokers.iter().map(|b| b.address.capacity()).sum::<usize>()
            + btree_bytes::<String, TopicState>(self.topics.len())
            + self.topics.iter().map(|(name, t)| name.capacity() + t.heap_bytes()).sum::<usize>()
            + btree_bytes::<String, GroupState>(self.groups.len())
            + self.groups.iter().map(|(name, g)| name.capacity() + g.heap_bytes()).sum::<usize>()
            + text(&self.list_refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::lag::{LagSample, LagSettings};

    #[test]
    fn lag_histories_are_counted_sample_by_sample() {
        let mut group = GroupState::default();
        let empty = group.heap_bytes();
        let mut lag = PartitionLag::default();
        for i in 0..100_u64 {
            let sample = LagSample { at_ms: i * 1000, offset: i as i64, high: i as i64 + 5, lag: 5, lag_ms: None };
            lag.push(sample, Some(true), LagSettings::default());
        }
        group.partitions.insert(("orders".to_owned(), 0), lag);
        let one = group.heap_bytes();
        assert!(one - empty >= 100 * size_of::<LagSample>(), "{empty} -> {one}");
    }
}
