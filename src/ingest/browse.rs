//! What the UI's message browser sends to a broker's message reader, whichever the broker:
//! where to start, which messages to keep, and the handle to send it over (a bounded
//! channel; what the reader finds comes back through the engine like any record).

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::Sender;

use crate::model::kafka::message::MessageFilter;

/// Browse ids, increasing across readers so the newest browse always wins.
static NEXT_BROWSE: AtomicU64 = AtomicU64::new(1);

/// A new browse id, above every one given before.
pub fn next_browse_id() -> u64 {
    NEXT_BROWSE.fetch_add(1, Ordering::Relaxed)
}

/// Where reading starts, per partition (a JetStream stream has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// The earliest retained message.
    Earliest,
    /// The last `n` messages.
    Latest(u64),
    /// This offset (a JetStream stream sequence).
    Offset(i64),
    /// The first message at or after this time (Unix ms).
    Timestamp(i64),
}

/// What to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowseRequest {
    /// Topic (a JetStream stream).
    pub topic: String,
    /// One partition, or all of them (ignored for JetStream).
    pub partition: Option<i32>,
    /// Where to start.
    pub start: StartAt,
    /// Which messages to keep.
    pub filter: MessageFilter,
    /// Keep reading new messages after the end (live tail).
    pub follow: bool,
    /// Stop after this many matches.
    pub limit: usize,
}

/// What a handle sends its reader.
pub enum BrowseCommand {
    /// Start a browse, cancelling the current one.
    Start(Box<BrowseRequest>),
    /// Cancel the current browse.
    Stop,
}

impl std::fmt::Debug for BrowseCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Start(r) => write!(f, "Start({})", r.topic),
            Self::Stop => write!(f, "Stop"),
        }
    }
}

/// Which broker a reader reads, for what the browser offers (partitions, the topic list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowseKind {
    /// A Kafka cluster: topics with partitions.
    Kafka,
    /// A NATS server's JetStream: streams, one sequence each.
    Nats,
}

/// The UI's handle to a reader.
#[derive(Clone, Debug)]
pub struct BrowseHandle {
    /// The cluster's or server's name.
    pub cluster: String,
    /// What it reads.
    pub kind: BrowseKind,
    commands: Sender<BrowseCommand>,
}

impl BrowseHandle {
    /// A handle over `commands`, the reader's bounded channel.
    pub fn new(cluster: String, kind: BrowseKind, commands: Sender<BrowseCommand>) -> Self {
        Self { cluster, kind, commands }
    }

    /// Starts a browse (cancelling the current one); false when the reader is gone or busy.
    pub fn start(&self, request: BrowseRequest) -> bool {
        self.commands.try_send(BrowseCommand::Start(Box::new(request))).is_ok()
    }

    /// Cancels the current browse.
    pub fn stop(&self) -> bool {
        self.commands.try_send(BrowseCommand::Stop).is_ok()
    }
}
