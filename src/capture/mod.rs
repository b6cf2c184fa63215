//! Session files: JSON Lines, a header line with a format version, then one record per line.
//!
//! One record per line means a file cut short (a crash, a full disk) loses at most its last
//! line; a name ending in `.zst` writes the same lines zstd-compressed. The format is
//! specified in `docs/capture-format.md`.

pub mod header;
pub mod lines;
pub mod reader;
pub mod recorder;
pub mod slice;
pub mod writer;

pub use header::{CaptureHeader, FORMAT_NAME, FORMAT_VERSION};
pub use lines::{MAX_LINE_BYTES, SkippedLine, SkippedLines};
pub use reader::{Capture, CaptureError, CaptureItem, CaptureReader, read_capture, replay_records};
pub use writer::CaptureWriter;
