//! The journey search: `key:order-42 status:failed duration>500ms billing`.
//!
//! Terms are ANDed. `trace:`, `key:` and `id:` match exactly (ids are exact by nature; a
//! key prefix would find `order-4` in `order-42`); `type:`, `service:` and `topic:` match a
//! case-insensitive substring; a bare word matches any of them. `status:` takes `ok`,
//! `failed`, `incomplete` or `inflight`; `duration>` and `duration<` take a humantime
//! duration such as `250ms` or `2s`.

use std::time::Duration;

use super::summary::{JourneyStatus, JourneySummary};

/// Why a search could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `field:` with a field that does not exist.
    #[error("unknown search field `{0}` (use trace, key, id, type, service, topic, status, duration)")]
    UnknownField(String),
    /// `status:` with a value that does not exist.
    #[error("unknown status `{0}` (use ok, failed, incomplete, inflight)")]
    UnknownStatus(String),
    /// A duration that did not parse.
    #[error("bad duration `{0}`: {1}")]
    BadDuration(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Trace(String),
    Key(String),
    MessageId(String),
    EventType(String),
    Service(String),
    Topic(String),
    ServiceIs(String),
    TopicIs(String),
    Status(JourneyStatus),
    Longer(u64),
    Shorter(u64),
    Text(String),
}

/// A parsed search; the empty query matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JourneyQuery {
    terms: Vec<Term>,
}

fn contains(haystack: &str, needle_lower: &str) -> bool {
    haystack.to_lowercase().contains(needle_lower)
}

fn duration_nanos(text: &str) -> Result<u64, QueryError> {
    let d: Duration =
        humantime::parse_duration(text.trim()).map_err(|e| QueryError::BadDuration(text.into(), e.to_string()))?;
    Ok(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl JourneyQuery {
    /// Parses a search string.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            if let Some(rest) = word.strip_prefix("duration>") {
                terms.push(Term::Longer(duration_nanos(rest)?));
                continue;
            }
            if let Some(rest) = word.strip_prefix("duration<") {
                terms.push(Term::Shorter(duration_nanos(rest)?));
                continue;
            }
            let Some((field, value)) = word.split_once(':') else {
                terms.push(Term::Text(word.to_lowercase()));
                continue;
            };
            terms.push(match field.to_lowercase().as_str() {
                "trace" => Term::Trace(value.to_lowercase()),
                "key" => Term::Key(value.to_owned()),
                "id" => Term::MessageId(value.to_owned()),
                "type" => Term::EventType(value.to_lowercase()),
                "service" => Term::Service(value.to_lowercase()),
                "topic" => Term::Topic(value.to_lowercase()),
                "status" => Term::Status(match value.to_lowercase().as_str() {
                    "ok" => JourneyStatus::Ok,
                    "failed" => JourneyStatus::Failed,
                    "incomplete" => JourneyStatus::Incomplete,
                    "inflight" | "in-flight" => JourneyStatus::InFlight,
                    other => return Err(QueryError::UnknownStatus(other.into())),
                }),
                other => return Err(QueryError::UnknownField(other.into())),
            });
        }
        Ok(Self { terms })
    }

    /// Also require passing through this service (exact name), e.g. the node selected in
    /// the flow graph.
    pub fn through_service(mut self, service: &str) -> Self {
        self.terms.push(Term::ServiceIs(service.to_owned()));
        self
    }

    /// Also require passing through this destination (exact name).
    pub fn through_topic(mut self, topic: &str) -> Self {
        self.terms.push(Term::TopicIs(topic.to_owned()));
        self
    }

    /// True when the query has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether a journey matches every term.
    pub fn matches(&self, j: &JourneySummary) -> bool {
        self.terms.iter().all(|t| match t {
            Term::Trace(hex) => j.trace_ids.iter().any(|id| id.to_hex() == *hex),
            Term::Key(k) => j.keys.iter().any(|x| **x == **k),
            Term::MessageId(id) => j.message_ids.iter().any(|x| **x == **id),
            Term::EventType(t) => contains(&j.event_type, t),
            Term::Service(s) => j.services.iter().any(|x| contains(x, s)),
            Term::Topic(s) => j.topics.iter().any(|x| contains(x, s)),
            Term::ServiceIs(s) => j.services.iter().any(|x| **x == **s),
            Term::TopicIs(s) => j.topics.iter().any(|x| **x == **s),
            Term::Status(s) => j.status == *s,
            Term::Longer(n) => j.duration_nanos() > *n,
            Term::Shorter(n) => j.duration_nanos() < *n,
            Term::Text(w) => {
                contains(&j.event_type, w)
                    || j.services
                        .iter()
                        .chain(j.topics.iter())
                        .chain(j.keys.iter())
                        .chain(j.message_ids.iter())
                        .any(|x| contains(x, w))
                    || j.trace_ids.iter().any(|id| id.to_hex().starts_with(w.as_str()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_fields_statuses_and_durations_are_explained() {
        assert_eq!(JourneyQuery::parse("colour:red"), Err(QueryError::UnknownField("colour".into())));
        assert_eq!(JourneyQuery::parse("status:meh"), Err(QueryError::UnknownStatus("meh".into())));
        assert!(matches!(JourneyQuery::parse("duration>soon"), Err(QueryError::BadDuration(..))));
        assert!(JourneyQuery::parse("  ").is_ok_and(|q| q.is_empty()));
    }
}
