//! Reads a session file, keeping every good record and reporting the bad lines. Files
//! compressed with zstd (recognised by their first bytes, whatever their name) are decoded on
//! the fly; one cut short by a crash reads up to its last complete record. Lines are read
//! with a limit ([`MAX_LINE_BYTES`]), so a file from a stranger cannot grow memory by having
//! no newline; a longer line, or one that is not UTF-8 or JSON, is skipped and reported by
//! number.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::header::{CaptureHeader, FORMAT_NAME, FORMAT_VERSION};
use super::lines::{LineEnd, LineReader, MAX_LINE_BYTES, SkippedLine, SkippedLines, too_long, utf8};
use crate::model::record::Record;

/// The longest header line: a header is a few fields, so a first line longer than this is
/// no session, and checking it reads no further (not to the end of `/dev/zero`).
const MAX_HEADER_BYTES: usize = 64 * 1024;

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

/// A session file's contents, all in memory: for tests, benchmarks and small files. The
/// commands read with [`CaptureReader`] or [`replay_records`], which hold one record at a time.
#[derive(Debug)]
pub struct Capture {
    /// The header.
    pub header: CaptureHeader,
    /// Every good record, in file order.
    pub records: Vec<Record>,
    /// Lines that were skipped (e.g. a last line cut short by a crash).
    pub skipped: SkippedLines,
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
    lines: LineReader<Box<dyn BufRead + Send>>,
    /// The line being decoded, its buffer reused.
    line: Vec<u8>,
    compressed: bool,
    read: Arc<AtomicU64>,
    total: u64,
    ended: bool,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader").field("path", &self.path).field("line", &self.lines.line_number()).finish()
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
        let mut lines = LineReader::new(source);
        let mut line = Vec::new();
        let not_session = |reason: String| CaptureError::NotASession { path: path.to_owned(), reason };
        match lines.read_line(&mut line, MAX_HEADER_BYTES).map_err(io)? {
            None => return Err(not_session("the file is empty".into())),
            Some(LineEnd::TooLong) => {
                return Err(not_session(format!("its first line is longer than {} KiB", MAX_HEADER_BYTES / 1024)));
            }
            Some(LineEnd::Complete) => {}
        }
        let header: CaptureHeader =
            serde_json::from_slice(&line).map_err(|e| not_session(format!("bad header line: {e}")))?;
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
        Ok(Self { path: path.to_owned(), header, lines, line, compressed, read, total, ended: false })
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
            let line = match self.lines.read_line(&mut self.line, MAX_LINE_BYTES) {
                Ok(None) => {
                    self.ended = true;
                    return Ok(None);
                }
                Ok(Some(end)) => end,
                // A compressed file whose writer was killed ends inside a frame: what was
                // flushed before decodes, the rest is reported.
                Err(e) if self.compressed => {
                    self.ended = true;
                    let number = self.lines.line_number() + 1;
                    return Ok(Some(CaptureItem::Skipped(SkippedLine {
                        line: number,
                        reason: format!(
                            "the compressed stream ends early ({e}); nothing after line {} could be read",
                            number - 1
                        ),
                    })));
                }
                Err(source) => return Err(CaptureError::Io { path: self.path.clone(), source }),
            };
            let number = self.lines.line_number();
            if line == LineEnd::TooLong {
                return Ok(Some(CaptureItem::Skipped(SkippedLine { line: number, reason: too_long(MAX_LINE_BYTES) })));
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let decoded =
                utf8(&self.line).and_then(|text| serde_json::from_str::<Record>(text).map_err(|e| e.to_string()));
            return Ok(Some(match decoded {
                Ok(mut record) => {
                    record.derive();
                    CaptureItem::Record(Box::new(record))
                }
                Err(reason) => CaptureItem::Skipped(SkippedLine { line: number, reason }),
            }));
        }
    }
}

/// Reads a session file record by record, handing each good record to `apply` as it is read
/// (nothing is collected, so a file of any size replays in the memory of one record), and
/// returns the lines it skipped.
pub fn replay_records(path: &Path, apply: impl FnMut(Record)) -> Result<SkippedLines, CaptureError> {
    drain(&mut CaptureReader::open(path)?, apply)
}

fn drain(reader: &mut CaptureReader, mut apply: impl FnMut(Record)) -> Result<SkippedLines, CaptureError> {
    let mut skipped = SkippedLines::default();
    while let Some(item) = reader.next_item()? {
        match item {
            CaptureItem::Record(r) => apply(*r),
            CaptureItem::Skipped(s) => {
                skipped.push(s);
            }
        }
    }
    Ok(skipped)
}

/// Reads a whole session file into memory (tests, benchmarks, small files; see [`Capture`]).
pub fn read_capture(path: &Path) -> Result<Capture, CaptureError> {
    let mut reader = CaptureReader::open(path)?;
    let mut records = Vec::new();
    let skipped = drain(&mut reader, |r| records.push(r))?;
    Ok(Capture { header: reader.header, records, skipped })
}
