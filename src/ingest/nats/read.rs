//! One poll of JetStream: every stream (`STREAM.LIST`) and each stream's consumers
//! (`CONSUMER.LIST`), read through async-nats and turned into the model's records.

use async_nats::jetstream::{self, consumer, stream};
use tokio_stream::StreamExt;

use crate::model::nats::state::MAX_STREAMS;
use crate::model::nats::{ConsumerInfo, JetStreamPoll, StreamInfo};

/// What failed while reading JetStream.
pub type ReadError = Box<dyn std::error::Error + Send + Sync>;

/// Lists every stream and the consumers of the first [`MAX_STREAMS`] (the model keeps no
/// more), sorted by name so equal states make equal records.
pub async fn jetstream(js: &jetstream::Context) -> Result<JetStreamPoll, ReadError> {
    let mut streams = Vec::new();
    let mut listed = js.streams();
    while let Some(info) = listed.next().await {
        streams.push(stream_info(&info?));
    }
    streams.sort_by(|a, b| a.name.cmp(&b.name));
    for s in streams.iter_mut().take(MAX_STREAMS) {
        let handle = js.get_stream_no_info(&s.name).await?;
        let mut consumers = handle.consumers();
        while let Some(info) = consumers.next().await {
            s.consumers.push(consumer_info(&info?));
        }
        s.consumers.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(JetStreamPoll { streams })
}

fn stream_info(info: &stream::Info) -> StreamInfo {
    StreamInfo {
        name: info.config.name.clone(),
        subjects: info.config.subjects.clone(),
        messages: info.state.messages,
        bytes: info.state.bytes,
        first_seq: info.state.first_sequence,
        last_seq: info.state.last_sequence,
        consumers: Vec::new(),
    }
}

fn consumer_info(info: &consumer::Info) -> ConsumerInfo {
    ConsumerInfo {
        name: info.name.clone(),
        durable: info.config.durable_name.is_some(),
        pending: info.num_pending,
        ack_pending: info.num_ack_pending as u64,
        redelivered: info.num_redelivered as u64,
        waiting: info.num_waiting as u64,
        push_bound: info.push_bound,
        delivered_stream_seq: info.delivered.stream_sequence,
        ack_floor_stream_seq: info.ack_floor.stream_sequence,
        // Servers from 2.10 on may list several (`filter_subjects`); the client is built for
        // the 2.9 API, which has the one.
        filter_subjects: Some(info.config.filter_subject.clone()).filter(|s| !s.is_empty()).into_iter().collect(),
    }
}
