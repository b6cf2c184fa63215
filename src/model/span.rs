//! The normalized span: what every source turns OpenTelemetry input into.
//!
//! It keeps the whole span (attributes, events, links, resource) so that recordings lose
//! nothing and later views (span details, journeys) can show it, plus the messaging facts
//! already read out of the attributes ([`Messaging`]), so the graph never parses strings twice.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ids::{SpanId, SpanRef, TraceId};
use super::messaging::Messaging;

/// The OpenTelemetry span kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// Kind not given.
    #[default]
    Unspecified,
    /// An operation inside one service.
    Internal,
    /// The receiving side of a synchronous call.
    Server,
    /// The calling side of a synchronous call.
    Client,
    /// Sends (or creates) a message.
    Producer,
    /// Receives or processes a message.
    Consumer,
}

impl SpanKind {
    /// Maps the OTLP enum value; unknown values become [`SpanKind::Unspecified`].
    pub fn from_otlp(value: i32) -> Self {
        match value {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    /// The OTLP enum value.
    pub fn to_otlp(self) -> i32 {
        match self {
            Self::Unspecified => 0,
            Self::Internal => 1,
            Self::Server => 2,
            Self::Client => 3,
            Self::Producer => 4,
            Self::Consumer => 5,
        }
    }
}

/// An attribute value, shaped like OTLP's `AnyValue` so recordings read like OTLP/JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrValue {
    /// A string.
    StringValue(String),
    /// A boolean.
    BoolValue(bool),
    /// A signed 64-bit integer.
    IntValue(i64),
    /// A double. NaN and the infinities, which JSON numbers cannot hold (serde_json would
    /// write `null` and then refuse to read it back, losing the whole record), are written as
    /// the strings `"NaN"`, `"Infinity"` and `"-Infinity"`, as the protobuf JSON mapping
    /// (and so OTLP/JSON) writes them; see [`double`].
    DoubleValue(#[serde(with = "double")] f64),
    /// Raw bytes, hex-encoded in recordings.
    BytesValue(#[serde(with = "hex")] Vec<u8>),
    /// An array of values.
    ArrayValue(Vec<AttrValue>),
    /// A nested list of key/values.
    KvlistValue(Vec<Attribute>),
}

/// A double attribute in session files: a JSON number when finite, else `"NaN"`,
/// `"Infinity"` or `"-Infinity"`. Reading also takes any number as a string (`"1.5"`, as
/// protobuf JSON allows) and `null`, which versions before this wrote for NaN and the
/// infinities alike, as NaN, so their spans replay instead of being skipped.
pub mod double {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a double as a number, or as the name of a value JSON numbers cannot hold.
    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        match *value {
            v if v.is_finite() => serializer.serialize_f64(v),
            v if v.is_nan() => serializer.serialize_str("NaN"),
            v if v > 0.0 => serializer.serialize_str("Infinity"),
            _ => serializer.serialize_str("-Infinity"),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Number(f64),
        Text(String),
    }

    /// Reads what [`serialize`] writes, and `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        match Option::<Written>::deserialize(deserializer)? {
            Some(Written::Number(v)) => Ok(v),
            // Rust reads "NaN", "inf", "Infinity" and "-Infinity" in any case.
            Some(Written::Text(text)) => {
                text.trim().parse().map_err(|_| serde::de::Error::custom(format!("{text:?} is not a double")))
            }
            None => Ok(f64::NAN),
        }
    }
}

impl AttrValue {
    /// The value as text when it is a scalar; messaging ids arrive as strings or ints
    /// depending on the instrumentation, and the model wants one form.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Self::StringValue(s) => Some(s.clone()),
            Self::IntValue(i) => Some(i.to_string()),
            Self::BoolValue(b) => Some(b.to_string()),
            Self::DoubleValue(d) => Some(d.to_string()),
            Self::BytesValue(_) | Self::ArrayValue(_) | Self::KvlistValue(_) => None,
        }
    }

    /// The value as an integer when it is one, or a string holding one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::IntValue(i) => Some(*i),
            Self::StringValue(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// One key/value attribute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// Attribute name, e.g. `messaging.system`.
    pub key: String,
    /// Attribute value.
    pub value: AttrValue,
}

/// Looks an attribute up by name in a list (attribute lists are short; a scan beats a map).
pub fn find_attr<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a AttrValue> {
    attributes.iter().find(|a| a.key == key).map(|a| &a.value)
}

/// The logical service a span came from: `service.name`, qualified by `service.namespace`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceName {
    /// `service.name`; SDKs default it to `unknown_service[:process]`.
    pub name: String,
    /// `service.namespace`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl ServiceName {
    /// A service with no namespace.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), namespace: None }
    }

    /// True for the SDKs' placeholder name, i.e. the service did not say who it is.
    pub fn is_unknown(&self) -> bool {
        self.name.is_empty() || self.name.starts_with("unknown_service")
    }
}

impl std::fmt::Display for ServiceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The resource that emitted a batch of spans; shared by all its spans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// The service the resource names.
    pub service: ServiceName,
    /// All resource attributes, including `service.name`.
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

/// The outcome a span reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StatusCode {
    /// Not set by the instrumentation.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed.
    Error,
}

impl StatusCode {
    /// Maps the OTLP status code; any other value is no status (OTLP input reads it as unset,
    /// a kept span's decoder as corrupt).
    pub fn from_otlp(code: i32) -> Option<Self> {
        match code {
            0 => Some(Self::Unset),
            1 => Some(Self::Ok),
            2 => Some(Self::Error),
            _ => None,
        }
    }

    /// The OTLP status code.
    pub fn to_otlp(self) -> i32 {
        match self {
            Self::Unset => 0,
            Self::Ok => 1,
            Self::Error => 2,
        }
    }
}

/// A timestamped event inside a span, e.g. an `exception`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    /// Event name.
    pub name: String,
    /// When it happened, Unix nanoseconds.
    pub time_unix_nano: u64,
    /// Event attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

/// A link to another span, possibly in another trace: how consumers point at producers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanLink {
    /// The span linked to.
    #[serde(flatten)]
    pub target: SpanRef,
    /// Link attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

/// One span, normalized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id, absent for a root span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    /// Operation name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// End, Unix nanoseconds.
    pub end_unix_nano: u64,
    /// Status code.
    #[serde(default)]
    pub status: StatusCode,
    /// Status message (set with an error).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status_message: String,
    /// The emitting resource.
    pub resource: Arc<Resource>,
    /// Instrumentation scope name, shared by the scope's spans.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub scope: Arc<str>,
    /// Span attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Span events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<SpanEvent>,
    /// Links to other spans.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<SpanLink>,
    /// Attributes left out of this span, its events and its links, by the sender's SDK (the
    /// counts OTLP carries) or by EventLens's per-span limits, so a view can tell the span is
    /// not whole. One count for all three: what was dropped matters, not from where. Files
    /// written before it read as zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_attributes_count: u32,
    /// Events left out, by the sender or by EventLens's limits.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_events_count: u32,
    /// Links left out, by the sender or by EventLens's limits.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_links_count: u32,
    /// Messaging facts read from the attributes, when the span is a messaging operation.
    /// Derived, so never written: readers call [`Span::derive_messaging`].
    #[serde(skip)]
    pub messaging: Option<Messaging>,
}

fn is_zero(count: &u32) -> bool {
    *count == 0
}

impl Span {
    /// Reads the messaging facts from the attributes; the attributes are the only truth.
    pub fn derive_messaging(&mut self) {
        self.messaging = Messaging::from_attributes(self.kind, &self.attributes);
    }

    /// This span's address.
    pub fn span_ref(&self) -> SpanRef {
        SpanRef { trace_id: self.trace_id, span_id: self.span_id }
    }

    /// The parent's address (same trace), if any.
    pub fn parent_ref(&self) -> Option<SpanRef> {
        self.parent_span_id.map(|span_id| SpanRef { trace_id: self.trace_id, span_id })
    }

    /// The emitting service.
    pub fn service(&self) -> &ServiceName {
        &self.resource.service
    }

    /// Wall duration in nanoseconds (zero if the clock went backwards).
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    /// A failure is an ERROR status or a recorded `exception` event.
    pub fn is_failure(&self) -> bool {
        self.status == StatusCode::Error || self.events.iter().any(|e| e.name == "exception")
    }
}
