//! Trace and span identifiers.
//!
//! OTLP carries ids as raw bytes (protobuf) or hex strings (JSON); the model keeps them as
//! fixed-size arrays so that lookups hash 16 or 8 bytes instead of heap strings, and rejects
//! wrong lengths at the edge instead of deep inside the graph.
//!
//! ```
//! use eventlens::model::ids::{IdError, TraceId};
//!
//! // OTLP/JSON senders may use upper case; EventLens prints lower case, as W3C does.
//! let id = TraceId::from_hex("5B8EFFF798038103D269B633813FC60C")?;
//! assert_eq!(id.to_string(), "5b8efff798038103d269b633813fc60c");
//! assert!(matches!(TraceId::from_bytes(&[0; 16]), Err(IdError::AllZero(_))));
//! # Ok::<(), IdError>(())
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an id could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id had the wrong number of bytes.
    #[error("{what} must be {expected} bytes, got {actual}")]
    WrongLength {
        /// Which id was wrong.
        what: &'static str,
        /// The length the protocol requires.
        expected: usize,
        /// The length that arrived.
        actual: usize,
    },
    /// The id was all zeros, which OTLP defines as invalid.
    #[error("{0} is all zeros")]
    AllZero(&'static str),
    /// A hex id did not decode.
    #[error("{0} is not valid hex")]
    NotHex(&'static str),
}

macro_rules! fixed_id {
    ($name:ident, $len:expr, $what:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Reads an id from raw bytes, rejecting wrong lengths and the all-zero id.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
                let array: [u8; $len] = bytes.try_into().map_err(|_| IdError::WrongLength {
                    what: $what,
                    expected: $len,
                    actual: bytes.len(),
                })?;
                if array == [0; $len] {
                    return Err(IdError::AllZero($what));
                }
                Ok(Self(array))
            }

            /// Reads an id from a hex string (either case), as OTLP/JSON and `traceparent` carry it.
            pub fn from_hex(text: &str) -> Result<Self, IdError> {
                // Every browsed message's `traceparent` comes through here: the usual length
                // decodes in place; any other is decoded whole to say what is wrong with it.
                let mut array = [0u8; $len];
                if hex::decode_to_slice(text, &mut array).is_ok() {
                    return Self::from_bytes(&array);
                }
                let bytes = hex::decode(text).map_err(|_| IdError::NotHex($what))?;
                Self::from_bytes(&bytes)
            }

            /// Lower-case hex, the form W3C trace context and most tools print.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for byte in self.0 {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

fixed_id!(TraceId, 16, "trace id", "A 16-byte W3C trace id.");
fixed_id!(SpanId, 8, "span id", "An 8-byte W3C span id.");

/// A (trace id, span id) pair: the address of one span anywhere in the system.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct SpanRef {
    /// The trace the span belongs to.
    pub trace_id: TraceId,
    /// The span within that trace.
    pub span_id: SpanId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_accepts_upper_case() {
        let id = TraceId::from_hex("5B8EFFF798038103D269B633813FC60C").unwrap();
        assert_eq!(id.to_hex(), "5b8efff798038103d269b633813fc60c");
        assert_eq!(TraceId::from_hex(&id.to_hex()).unwrap(), id);
    }

    #[test]
    fn wrong_length_and_zero_ids_are_rejected() {
        assert_eq!(
            SpanId::from_bytes(&[1, 2, 3]),
            Err(IdError::WrongLength { what: "span id", expected: 8, actual: 3 })
        );
        assert_eq!(SpanId::from_bytes(&[0; 8]), Err(IdError::AllZero("span id")));
        assert_eq!(TraceId::from_hex("zz"), Err(IdError::NotHex("trace id")));
    }
}
