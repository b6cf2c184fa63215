//! The first line of a session file.

use serde::{Deserialize, Serialize};

/// The `format` value every session file starts with.
pub const FORMAT_NAME: &str = "eventlens-session";

/// The newest format version this build writes and reads. Older versions stay readable.
pub const FORMAT_VERSION: u32 = 2;

/// The header line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureHeader {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Format version.
    pub version: u32,
    /// When recording started, Unix nanoseconds.
    pub created_unix_nano: u64,
    /// The program that wrote the file (optional for other writers).
    #[serde(default)]
    pub writer: String,
}

impl CaptureHeader {
    /// A header for a file written now by this build.
    pub fn new(created_unix_nano: u64) -> Self {
        Self {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            created_unix_nano,
            writer: format!("eventlens {}", env!("CARGO_PKG_VERSION")),
        }
    }
}
