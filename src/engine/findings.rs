//! The findings detectors beside the engine's models: on the caller's thread, or on a helper
//! thread of their own.
//!
//! The detectors cost more per span than the flow graph does (they remember every message
//! and key they see). The live engine therefore hands each record (shared, not copied) to
//! the `eventlens-findings` thread and goes on with the next one, as it does for journeys
//! (see [`helper`](super::helper)). What a detector needs that only the engine's models know
//! travels with the record: the service that produced each message (from the flow model) and,
//! after an offsets poll, the clusters' lag (shared, not copied). Files, tests and the
//! timeline's cursor apply findings inline: a session gives the same findings either way.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::helper::{self, Helper};
use crate::model::findings::depth::DepthRow;
use crate::model::findings::{FindingsModel, FindingsSettings};
use crate::model::kafka::ClusterState;
use crate::model::record::{Record, SpanBatch};

/// What the engine sends the findings thread.
pub(super) enum Input {
    /// A record's spans.
    Spans(Arc<Record>),
    /// A record's messages, with the service that produced each one (when any is known).
    Messages { record: Arc<Record>, producers: Option<Arc<[Option<String>]>>, at: u64 },
    /// The clusters right after an offsets poll received at `at`.
    Lag { clusters: Arc<BTreeMap<String, ClusterState>>, at: u64 },
    /// Queue and JetStream consumer depths right after a broker poll received at `at`.
    Depths { rows: Vec<DepthRow>, at: u64 },
}

impl helper::Weighed for Input {
    fn weight(&self) -> usize {
        match self {
            Self::Spans(record) | Self::Messages { record, .. } => helper::record_weight(record),
            Self::Lag { .. } => 0,
            Self::Depths { rows, .. } => rows.len() * size_of::<DepthRow>(),
        }
    }
}

/// The findings model and where its detectors run.
#[derive(Debug)]
pub(super) enum Findings {
    /// On the caller's thread, as each record is applied.
    Inline(Box<FindingsModel>),
    /// On the `eventlens-findings` thread.
    Threaded(Helper<FindingsModel, Input>),
}

impl Default for Findings {
    fn default() -> Self {
        Self::Inline(Box::default())
    }
}

impl Findings {
    /// Detectors on the caller's thread.
    pub fn inline(settings: FindingsSettings) -> Self {
        Self::Inline(Box::new(FindingsModel::new(settings)))
    }

    /// Detectors on a thread of their own; disabled findings need no thread and get none.
    pub fn spawn(settings: FindingsSettings) -> std::io::Result<Self> {
        if !settings.enabled {
            return Ok(Self::inline(settings));
        }
        let store = Arc::new(Mutex::new(FindingsModel::new(settings)));
        let helper = Helper::spawn("eventlens-findings", store, |model: &mut FindingsModel, input| match input {
            Input::Spans(record) => {
                if let Record::Spans(batch) = &*record {
                    spans(model, batch);
                }
            }
            Input::Messages { record, producers, at } => messages(model, &record, producers.as_ref(), at),
            Input::Lag { clusters, at } => model.apply_lag(&clusters, at),
            Input::Depths { rows, at } => model.apply_depths(&rows, at),
        })?;
        Ok(Self::Threaded(helper))
    }

    /// Whether the detectors run on their own thread.
    pub fn threaded(&self) -> bool {
        matches!(self, Self::Threaded(_))
    }

    /// Bounds the helper's inbox at `bytes` of waiting records (see [`helper`]).
    pub fn set_inbox_bytes(&self, bytes: usize) {
        if let Self::Threaded(helper) = self {
            helper.set_max_bytes(bytes);
        }
    }

    /// Takes in a record's spans (`shared` is the record when the caller shares it).
    pub fn apply_spans(&mut self, batch: &SpanBatch, shared: Option<&Arc<Record>>) {
        match self {
            Self::Inline(model) => spans(model, batch),
            Self::Threaded(helper) => {
                let record = shared.map_or_else(|| Arc::new(Record::Spans(batch.clone())), Arc::clone);
                helper.send(Input::Spans(record));
            }
        }
    }

    /// Takes in the messages of `record` (shared with the caller, which keeps it), read at
    /// `at`, with the service that produced each (by position) when the engine found any.
    pub fn apply_messages(&mut self, record: &Arc<Record>, producers: Option<&Arc<[Option<String>]>>, at: u64) {
        match self {
            Self::Inline(model) => messages(model, record, producers, at),
            Self::Threaded(helper) => {
                helper.send(Input::Messages { record: Arc::clone(record), producers: producers.cloned(), at });
            }
        }
    }

    /// Looks at the clusters' lag after an offsets poll received at `at`.
    pub fn apply_lag(&mut self, clusters: &Arc<BTreeMap<String, ClusterState>>, at: u64) {
        match self {
            Self::Inline(model) => model.apply_lag(clusters, at),
            Self::Threaded(helper) => helper.send(Input::Lag { clusters: Arc::clone(clusters), at }),
        }
    }

    /// Hands the detectors the depths a broker poll left (see [`FindingsModel::apply_depths`]).
    pub fn apply_depths(&mut self, rows: Vec<DepthRow>, at: u64) {
        match self {
            Self::Inline(model) => model.apply_depths(&rows, at),
            Self::Threaded(helper) => helper.send(Input::Depths { rows, at }),
        }
    }

    /// Runs `read` on the model once every record sent has been applied.
    pub fn read<T>(&self, read: impl FnOnce(&FindingsModel) -> T) -> T {
        match self {
            Self::Inline(model) => read(model),
            Self::Threaded(helper) => {
                helper.sync();
                read(&helper.lock())
            }
        }
    }

    /// A copy on the caller's thread, as of every record sent (the timeline's checkpoints).
    pub fn inline_copy(&self) -> Self {
        Self::Inline(Box::new(self.read(FindingsModel::clone)))
    }
}

/// Every span of `batch` (see [`FindingsModel::apply_spans`] for the order).
fn spans(model: &mut FindingsModel, batch: &SpanBatch) {
    model.apply_spans(&batch.spans, batch.received_unix_nano);
}

/// Every message of `record`, with its producer when known.
fn messages(model: &mut FindingsModel, record: &Record, producers: Option<&Arc<[Option<String>]>>, at: u64) {
    for (i, message) in record.messages().iter().enumerate() {
        let producer = producers.and_then(|p| p.get(i)).and_then(Option::as_deref);
        model.apply_message_by(message, producer, at);
    }
}
