//! NATS JetStream servers as EventLens sees them: what a poll of the JetStream API observed
//! (streams and their consumers), and the depth state built from those observations. Pure
//! data and logic; the I/O lives in `ingest::nats`.

pub mod observation;
pub mod state;

pub use observation::{ConsumerInfo, JetStreamPoll, NatsEvent, NatsRecord, StreamInfo};
pub use state::{ConsumerState, NatsModel, ServerState, StreamState};

/// `messaging.system` of NATS subjects and streams, as spans name it too.
pub const NATS_SYSTEM: &str = "nats";
