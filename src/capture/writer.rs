//! Appends records to a session file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::header::CaptureHeader;
use crate::model::record::Record;

/// Writes a session file, one complete line per record.
#[derive(Debug)]
pub struct CaptureWriter {
    path: PathBuf,
    out: BufWriter<File>,
    records: u64,
    line: Vec<u8>,
}

/// A write failure, with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("cannot write session file {path}: {source}")]
pub struct CaptureWriteError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

impl CaptureWriter {
    /// Creates (or truncates) `path` and writes the header line.
    pub fn create(path: &Path, created_unix_nano: u64) -> Result<Self, CaptureWriteError> {
        let wrap = |source| CaptureWriteError { path: path.to_owned(), source };
        let file = File::create(path).map_err(wrap)?;
        let mut writer = Self { path: path.to_owned(), out: BufWriter::new(file), records: 0, line: Vec::new() };
        let header = serde_json::to_vec(&CaptureHeader::new(created_unix_nano)).map_err(|e| wrap(e.into()))?;
        writer.write_line(&header)?;
        writer.flush()?;
        Ok(writer)
    }

    /// Appends one record as one line. The line is serialized whole before any byte is
    /// written, so a serialization failure never leaves half a line behind.
    pub fn append(&mut self, record: &Record) -> Result<(), CaptureWriteError> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let result = serde_json::to_writer(&mut line, record)
            .map_err(|e| CaptureWriteError { path: self.path.clone(), source: e.into() })
            .and_then(|()| self.write_line(&line));
        self.line = line;
        result?;
        self.records += 1;
        Ok(())
    }

    fn write_line(&mut self, bytes: &[u8]) -> Result<(), CaptureWriteError> {
        self.out
            .write_all(bytes)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|source| CaptureWriteError { path: self.path.clone(), source })
    }

    /// Pushes buffered lines to the file.
    pub fn flush(&mut self) -> Result<(), CaptureWriteError> {
        self.out.flush().map_err(|source| CaptureWriteError { path: self.path.clone(), source })
    }

    /// Records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
