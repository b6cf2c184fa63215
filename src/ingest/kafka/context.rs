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

/// The last error librdkafka reported since the poller last read it (a refused login over
/// anything after it), shared by every client of one cluster.
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
            // A refused login is followed by "all brokers are down" (the refused connection
            // closes): the refusal is the reason, and stays until the poller reads it.
            let refused = matches!(&*last, Some((ConnectionState::AuthFailed, _)));
            if !refused || state == ConnectionState::AuthFailed {
                *last = Some((state, reason.to_owned()));
            }
        }
    }
}

impl ConsumerContext for WatchContext {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_login_is_not_hidden_by_the_brokers_down_that_follows_it() {
        let context = WatchContext::default();
        let last = || context.last_error.lock().ok().and_then(|l| l.clone());
        context.error(KafkaError::Global(RDKafkaErrorCode::AllBrokersDown), "1/1 brokers are down");
        assert_eq!(last().map(|(state, _)| state), Some(ConnectionState::BrokerDown));
        context.error(KafkaError::Global(RDKafkaErrorCode::Authentication), "SASL handshake failed");
        context.error(KafkaError::Global(RDKafkaErrorCode::AllBrokersDown), "1/1 brokers are down");
        assert_eq!(last(), Some((ConnectionState::AuthFailed, "SASL handshake failed".to_owned())));
        // Once the poller has read it, the next error counts again.
        context.last_error.lock().ok().and_then(|mut l| l.take());
        context.error(KafkaError::Global(RDKafkaErrorCode::AllBrokersDown), "1/1 brokers are down");
        assert_eq!(last().map(|(state, _)| state), Some(ConnectionState::BrokerDown));
    }
}
