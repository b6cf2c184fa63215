//! Credentials written into a broker URL (`nats://user:pass@host`, `http://user:pass@host`),
//! taken out so the URL can be shown and recorded without them. Percent escapes in them are
//! decoded, as URLs require for `@`, `:` and `/` in a password.

/// What a URL's user-info held: a user (or token) and, after a `:`, a password.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlCredentials {
    /// The user name, or the whole user-info when there is no `:` (a token).
    pub user: String,
    /// The password, after the `:`.
    pub password: Option<String>,
}

impl std::fmt::Debug for UrlCredentials {
    // The password is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlCredentials").field("user", &self.user).finish_non_exhaustive()
    }
}

/// `scheme://user:pass@host:port/path` → (`scheme://host:port/path`, the credentials).
pub fn split(url: &str) -> Result<(String, Option<UrlCredentials>), String> {
    let Some((scheme, rest)) = url.split_once("://") else { return Ok((url.to_owned(), None)) };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return Ok((url.to_owned(), None)) };
    let (info, host) = (&rest[..at], &rest[at + 1..]);
    let bad = |e: String| format!("the credentials in {scheme}://…@{host}: {e}");
    let (user, password) = match info.split_once(':') {
        Some((user, password)) => (decoded(user).map_err(bad)?, Some(decoded(password).map_err(bad)?)),
        None => (decoded(info).map_err(bad)?, None),
    };
    Ok((format!("{scheme}://{host}"), Some(UrlCredentials { user, password })))
}

/// `p%40ss` → `p@ss`.
fn decoded(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or("a % escape is cut short")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("%{hex} is not a % escape"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the % escapes are not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_out_decoded_and_the_rest_stays() {
        let (url, c) = split("http://admin:p%40ss%3Aw@rabbit:15672/api").unwrap();
        assert_eq!(url, "http://rabbit:15672/api");
        let c = c.unwrap();
        assert_eq!((c.user.as_str(), c.password.as_deref()), ("admin", Some("p@ss:w")));
        let (url, c) = split("tls://t0ken@nats:4222").unwrap();
        assert_eq!((url.as_str(), c.map(|c| (c.user, c.password))), ("tls://nats:4222", Some(("t0ken".into(), None))));
        assert_eq!(split("nats://nats:4222").unwrap().0, "nats://nats:4222");
        // An @ after the host is not user-info.
        assert!(split("http://rabbit:15672/a@b").unwrap().1.is_none());
        assert!(split("nats://a:%zz@h:4222").unwrap_err().contains("%zz"));
    }
}
