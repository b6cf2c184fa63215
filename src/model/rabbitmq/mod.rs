//! RabbitMQ brokers as EventLens sees them through the management HTTP API: what a poll
//! observed (exchanges, queues, bindings, consumers) and the depth state built from those
//! observations. Pure data and logic; the I/O lives in `ingest::rabbitmq`.

pub mod observation;
pub mod state;

pub use observation::{BindingInfo, ConsumerInfo, ExchangeInfo, ManagementPoll, QueueInfo, RabbitEvent, RabbitRecord};
pub use state::{BrokerState, QueueState, RabbitModel};

/// `messaging.system` of RabbitMQ exchanges and queues, as spans name it too.
pub const RABBITMQ_SYSTEM: &str = "rabbitmq";

/// The destination name of an exchange or queue: its name, prefixed by its vhost when the
/// vhost is not the default `/`.
pub fn destination_name(vhost: &str, name: &str) -> String {
    if vhost == "/" { name.to_owned() } else { format!("{vhost}/{name}") }
}
