//! NATS JetStream servers as EventLens sees them: what a poll of the JetStream API observed
//! (streams and their consumers), and the depth state built from those observations. Pure
//! data and logic; the I/O lives in `ingest::nats`.

pub mod observation;
pub mod state;

pub use observation::{ConsumerInfo, JetStreamPoll, NatsEvent, NatsRecord, StreamInfo};
pub use state::{ConsumerState, NatsModel, ServerState, StreamState};

/// `messaging.system` of NATS subjects and streams, as spans name it too.
pub const NATS_SYSTEM: &str = "nats";

/// Whether `subject` falls under a stream's subject `filter`, as NATS matches them: tokens
/// split by `.`, `*` matching one token and a final `>` one or more.
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut subject = subject.split('.');
    for token in filter.split('.') {
        match (token, subject.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (token, Some(s)) if token == s => {}
            _ => return false,
        }
    }
    subject.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::subject_matches;

    #[test]
    fn subjects_match_as_nats_matches_them() {
        assert!(subject_matches("orders.>", "orders.created"));
        assert!(subject_matches("orders.>", "orders.eu.created"));
        assert!(!subject_matches("orders.>", "orders"));
        assert!(subject_matches("orders.*", "orders.paid"));
        assert!(!subject_matches("orders.*", "orders.eu.paid"));
        assert!(subject_matches("*.paid", "payments.paid"));
        assert!(subject_matches("orders.created", "orders.created"));
        assert!(!subject_matches("orders.created", "orders.created.v2"));
        assert!(!subject_matches("orders.created.v2", "orders.created"));
        assert!(subject_matches(">", "anything.at.all"));
    }
}
