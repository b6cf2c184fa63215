//! How to reach one RabbitMQ broker's management API: its URL (credentials may be in it,
//! `guest:guest` when not, as rabbitmqadmin assumes) and the poll interval.

use std::time::Duration;

use crate::ingest::url_credentials;

/// Polls of the management API, unless told otherwise: as often as Kafka's.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// One broker to watch.
#[derive(Clone)]
pub struct RabbitConfig {
    /// The management API's base URL without credentials (`http://host:15672`); also the
    /// broker's name in EventLens.
    pub name: String,
    /// User name for the management API.
    pub user: String,
    /// Its password; never shown.
    pub password: String,
    /// How often the broker is read.
    pub poll_interval: Duration,
}

impl RabbitConfig {
    /// A broker by its management URL; `http://` is assumed without a scheme.
    pub fn new(url: &str) -> Result<Self, String> {
        let url = url.trim().trim_end_matches('/');
        if url.is_empty() {
            return Err("a RabbitMQ management URL is empty".to_owned());
        }
        let url = if url.contains("://") { url.to_owned() } else { format!("http://{url}") };
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(format!("{url}: the management API is reached over http:// or https://"));
        }
        let (name, credentials) = url_credentials::split(&url)?;
        let (user, password) = match credentials {
            Some(c) => (c.user, c.password.unwrap_or_default()),
            None => ("guest".to_owned(), "guest".to_owned()),
        };
        Ok(Self { name, user, password, poll_interval: DEFAULT_POLL_INTERVAL })
    }
}

impl std::fmt::Debug for RabbitConfig {
    // The password is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitConfig")
            .field("name", &self.name)
            .field("user", &self.user)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_gives_the_login_and_keeps_it_out_of_sight() {
        let c = RabbitConfig::new("https://ops:s3cret@rabbit.example:15671/").unwrap();
        assert_eq!(
            (c.name.as_str(), c.user.as_str(), c.password.as_str()),
            ("https://rabbit.example:15671", "ops", "s3cret")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = RabbitConfig::new("localhost:15672").unwrap();
        assert_eq!((c.name.as_str(), c.user.as_str()), ("http://localhost:15672", "guest"));
        assert!(RabbitConfig::new("amqp://localhost:5672").unwrap_err().contains("http"));
    }
}
