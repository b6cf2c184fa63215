//! The librdkafka client context EventLens uses: it turns librdkafka's error callbacks into
//! a connection state the UI can show, and routes librdkafka's log lines into `tracing`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::model::kafka::observation::ConnectionState;
use crate::pipeline::repeated::Repeated;

/// librdkafka's repeating errors (a broker down is retried every second), per facility.
type RepeatedLogs = Arc<Mutex<HashMap<String, Repeated>>>;

/// The last error librdkafka reported, shared by every client of one cluster.
pub type LastError = Arc<Mutex<Option<(ConnectionState, String)>>>;

/// Context for every client EventLens makes for one cluster.
#[derive(Clone, Default)]
pub struct WatchContext {
    /// Written by librdkafka's threads, read by the poller.
    pub last_error: LastError,
    /// librdkafka's error lines, logged once per facility and interval.
    repeated: RepeatedLogs,
}

impl ClientContext for WatchContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                // A poisoned map only loses the rate limit: the line is logged.
                let due = match self.repeated.lock() {
                    Ok(mut map) => map.entry(facility.to_owned()).or_default().occur(Instant::now()),
                    Err(_) => Some(0),
                };
                match due {
                    Some(unlogged) => {
                        tracing::warn!(target: "librdkafka", "{facility}: {message}{}", Repeated::suffix(unlogged));
                    }
                    None => tracing::debug!(target: "librdkafka", "{facility}: {message}"),
                }
            }
            _ => tracing::debug!(target: "librdkafka", "{facility}: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let state = match error.rdkafka_error_code() {
            Some(
                RDKafkaErrorCode::Authentication
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed,
            ) => ConnectionState::AuthFailed,
            _ => ConnectionState::BrokerDown,
        };
        tracing::debug!(target: "librdkafka", "{error}: {reason}");
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some((state, reason.to_owned()));
        }
    }
}

impl ConsumerContext for WatchContext {}
