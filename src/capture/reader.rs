//! Reads a session file, keeping every good record and reporting the bad lines. Files
//! compressed with zstd (recognised by their first bytes, whatever their name) are decoded on
//! the fly; one cut short by a crash reads up to its last complete record.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::header::{CaptureHeader, FORMAT_NAME, FORMAT_VERSION};
use crate::model::record::Record;

/// Why a file could not be opened at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The first line is not an EventLens session header.
    #[error("{path} is not an EventLens session file: {reason}")]
    NotASession {
        /// The file.
        path: PathBuf,
        /// What was wrong with the first line.
        reason: String,
    },
    /// Written by a newer EventLens.
    #[error(
        "{path} uses session format version {found}, newer than this EventLens reads (up to {supported}); upgrade EventLens to open it"
    )]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// The file's version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
}

/// A line that was not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based line number.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// A session file's contents.
#[derive(Debug)]
pub struct Capture {
    /// The header.
    pub header: CaptureHeader,
    /// Every good record, in file order.
    pub records: Vec<Record>,
    /// Lines that were skipped (e.g. a last line cut short by a crash).
    pub skipped: Vec<SkippedLine>,
}

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Reads a whole session file.
pub fn read_capture(path: &Path) -> Result<Capture, CaptureError> {
    let io = |source| CaptureError::Io { path: path.to_owned(), source };
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let compressed = file.fill_buf().map_err(io)?.starts_with(&ZSTD_MAGIC);
    let source: Box<dyn BufRead> = if compressed {
        Box::new(BufReader::new(zstd::stream::read::Decoder::with_buffer(file).map_err(io)?))
    } else {
        Box::new(file)
    };
    let mut lines = source.split(b'\n');
    let not_session = |reason: String| CaptureError::NotASession { path: path.to_owned(), reason };
    let first = lines.next().ok_or_else(|| not_session("the file is empty".into()))?.map_err(io)?;
    let header: CaptureHeader =
        serde_json::from_slice(&first).map_err(|e| not_session(format!("bad header line: {e}")))?;
    if header.format != FORMAT_NAME {
        return Err(not_session(format!("format is {:?}, expected {FORMAT_NAME:?}", header.format)));
    }
    if header.version > FORMAT_VERSION {
        return Err(CaptureError::NewerVersion {
            path: path.to_owned(),
            found: header.version,
            supported: FORMAT_VERSION,
        });
    }
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for (index, line) in lines.enumerate() {
        let line_number = index + 2;
        let line = match line {
            Ok(line) => line,
            // A compressed file whose writer was killed ends inside a frame: what was
            // flushed before decodes, the rest is reported.
            Err(e) if compressed => {
                skipped.push(SkippedLine {
                    line: line_number,
                    reason: format!(
                        "the compressed stream ends early ({e}); nothing after line {} could be read",
                        line_number - 1
                    ),
                });
                break;
            }
            Err(e) => return Err(io(e)),
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(mut record) => {
                record.derive();
                records.push(record);
            }
            Err(e) => skipped.push(SkippedLine { line: line_number, reason: e.to_string() }),
        }
    }
    Ok(Capture { header, records, skipped })
}
