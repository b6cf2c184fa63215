//! Reads a session file, keeping every good record and reporting the bad lines. Files
//! compressed with zstd (recognised by their first bytes, whatever their name) are decoded on
//! the fly; one cut short by a crash reads up to its last complete record.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Counts the bytes read from the file (compressed bytes for a compressed file), for progress.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads a session file record by record, so a large file never sits in memory whole and a
/// reader can show its progress.
pub struct CaptureReader {
    path: PathBuf,
    header: CaptureHeader,
    lines: std::io::Split<Box<dyn BufRead + Send>>,
    compressed: bool,
    line_number: usize,
    read: Arc<AtomicU64>,
    total: u64,
    ended: bool,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader").field("path", &self.path).field("line", &self.line_number).finish()
    }
}

/// One step of a [`CaptureReader`].
#[derive(Debug)]
pub enum CaptureItem {
    /// A good record.
    Record(Box<Record>),
    /// A line that was skipped, and why.
    Skipped(SkippedLine),
}

impl CaptureReader {
    /// Opens a session file and checks its header.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let io = |source| CaptureError::Io { path: path.to_owned(), source };
        let file = File::open(path).map_err(io)?;
        let total = file.metadata().map_err(io)?.len();
        let read = Arc::new(AtomicU64::new(0));
        let mut file = BufReader::new(Counting { inner: file, read: Arc::clone(&read) });
        let compressed = file.fill_buf().map_err(io)?.starts_with(&ZSTD_MAGIC);
        let source: Box<dyn BufRead + Send> = if compressed {
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
        Ok(Self { path: path.to_owned(), header, lines, compressed, line_number: 1, read, total, ended: false })
    }

    /// The header.
    pub fn header(&self) -> &CaptureHeader {
        &self.header
    }

    /// Bytes of the file read so far, and the file's size.
    pub fn progress(&self) -> (u64, u64) {
        (self.read.load(Ordering::Relaxed).min(self.total), self.total)
    }

    /// The next record or skipped line; `None` at the end. A read error of an uncompressed
    /// file is an error; a compressed stream cut short is reported as a skipped line and ends
    /// the file.
    pub fn next_item(&mut self) -> Result<Option<CaptureItem>, CaptureError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            let Some(line) = self.lines.next() else {
                self.ended = true;
                return Ok(None);
            };
            self.line_number += 1;
            let line = match line {
                Ok(line) => line,
                // A compressed file whose writer was killed ends inside a frame: what was
                // flushed before decodes, the rest is reported.
                Err(e) if self.compressed => {
                    self.ended = true;
                    return Ok(Some(CaptureItem::Skipped(SkippedLine {
                        line: self.line_number,
                        reason: format!(
                            "the compressed stream ends early ({e}); nothing after line {} could be read",
                            self.line_number - 1
                        ),
                    })));
                }
                Err(source) => return Err(CaptureError::Io { path: self.path.clone(), source }),
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(match serde_json::from_slice::<Record>(&line) {
                Ok(mut record) => {
                    record.derive();
                    CaptureItem::Record(Box::new(record))
                }
                Err(e) => CaptureItem::Skipped(SkippedLine { line: self.line_number, reason: e.to_string() }),
            }));
        }
    }
}

/// Reads a whole session file.
pub fn read_capture(path: &Path) -> Result<Capture, CaptureError> {
    let mut reader = CaptureReader::open(path)?;
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    while let Some(item) = reader.next_item()? {
        match item {
            CaptureItem::Record(r) => records.push(*r),
            CaptureItem::Skipped(s) => skipped.push(s),
        }
    }
    Ok(Capture { header: reader.header, records, skipped })
}
