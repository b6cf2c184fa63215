//! How to reach one NATS server: its URL (credentials may be in it, as the NATS tools take
//! them), a credentials file, TLS files, and the poll interval.

use std::path::PathBuf;
use std::time::Duration;

use crate::ingest::url_credentials;

/// Polls of JetStream, unless told otherwise: as often as Kafka's.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Credentials given in the URL, as the NATS tools take them.
#[derive(Clone, PartialEq, Eq)]
pub enum UrlAuth {
    /// `nats://USER:PASS@host`.
    UserPassword(String, String),
    /// `nats://TOKEN@host`.
    Token(String),
}

/// One NATS server to watch.
#[derive(Clone)]
pub struct NatsConfig {
    /// The URL to connect to, without credentials; also the server's name in EventLens.
    pub name: String,
    /// The credentials the URL held; never shown.
    pub auth: Option<UrlAuth>,
    /// A `.creds` file (JWT and NKey seed), as `nats --creds` takes it.
    pub creds: Option<PathBuf>,
    /// A file holding an NKey seed (`SU...`), as `nats --nkey` takes it.
    pub nkey: Option<PathBuf>,
    /// CA certificate to trust, as `nats --tlsca`.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key, as `nats --tlscert` and `--tlskey`.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// How often streams and consumers are read.
    pub poll_interval: Duration,
}

impl NatsConfig {
    /// A server by URL; `nats://` is assumed when no scheme is given.
    pub fn new(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("a NATS server URL is empty".to_owned());
        }
        let url = if url.contains("://") { url.to_owned() } else { format!("nats://{url}") };
        let (name, auth) = split_credentials(&url)?;
        Ok(Self {
            name,
            auth,
            creds: None,
            nkey: None,
            tls_ca: None,
            tls_client: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
        })
    }

    /// Logs in as `user` (with `password`), or with a token (`user` alone), as `nats --user`
    /// and `--password` take them: these win over credentials in the URL.
    pub fn log_in(&mut self, user: Option<&str>, password: Option<&str>) {
        self.auth = match (user, password) {
            (Some(user), Some(password)) => Some(UrlAuth::UserPassword(user.to_owned(), password.to_owned())),
            (Some(token), None) => Some(UrlAuth::Token(token.to_owned())),
            (None, _) => return,
        };
    }
}

impl std::fmt::Debug for NatsConfig {
    // The URL may hold a password: only the name is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConfig")
            .field("name", &self.name)
            .field("creds", &self.creds)
            .field("nkey", &self.nkey)
            .field("tls_ca", &self.tls_ca)
            .field("tls_client", &self.tls_client)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

/// `nats://user:pass@host:4222` → (`nats://host:4222`, the user and password); a lone
/// user-info is a token. async-nats does not read credentials from a URL.
fn split_credentials(url: &str) -> Result<(String, Option<UrlAuth>), String> {
    let (name, credentials) = url_credentials::split(url)?;
    let auth = credentials.map(|c| match c.password {
        Some(password) => UrlAuth::UserPassword(c.user, password),
        None => UrlAuth::Token(c.user),
    });
    Ok((name, auth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_url_are_taken_out_and_never_shown() {
        let c = NatsConfig::new("nats://app:s3cret%40x@10.0.0.5:4222").unwrap();
        assert_eq!(c.name, "nats://10.0.0.5:4222");
        assert!(c.auth == Some(UrlAuth::UserPassword("app".into(), "s3cret@x".into())));
        assert!(!format!("{c:?}").contains("s3cret"));
        let token = NatsConfig::new("tls://t0ken@nats.example:4222").unwrap();
        assert!(token.auth == Some(UrlAuth::Token("t0ken".into())));
        assert_eq!(token.name, "tls://nats.example:4222");
        assert_eq!(NatsConfig::new("localhost:4222").unwrap().name, "nats://localhost:4222");
        assert!(NatsConfig::new(" ").is_err());
        assert!(NatsConfig::new("nats://a:%zz@h:4222").unwrap_err().contains("%zz"));
    }

    #[test]
    fn a_user_and_password_given_apart_win_over_the_urls_and_a_user_alone_is_a_token() {
        let mut c = NatsConfig::new("nats://app:old@10.0.0.5:4222").unwrap();
        c.log_in(None, None);
        assert!(c.auth == Some(UrlAuth::UserPassword("app".into(), "old".into())), "nothing given: the URL's");
        c.log_in(Some("watcher"), Some("new"));
        assert!(c.auth == Some(UrlAuth::UserPassword("watcher".into(), "new".into())));
        c.log_in(Some("t0ken"), None);
        assert!(c.auth == Some(UrlAuth::Token("t0ken".into())));
    }
}
