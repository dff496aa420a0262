//! Opening a capture by path: `-` is standard input, gzip is detected by its magic bytes.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

use super::{CaptureReader, SourceError};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens `path` (or standard input for `-`), transparently decompressing gzip.
pub fn open_path(path: &str) -> Result<CaptureReader, SourceError> {
    let io_error = |source| SourceError::Io {
        path: path.into(),
        source,
    };
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(path).map_err(io_error)?)
    };
    open_reader(path, raw)
}

/// Reads a capture from `raw` (named `path` in messages), transparently decompressing gzip: for
/// a caller that watches the bytes go by (a progress bar) or has its own stream.
pub fn open_reader(path: &str, raw: Box<dyn Read + Send>) -> Result<CaptureReader, SourceError> {
    let io_error = |source| SourceError::Io {
        path: path.into(),
        source,
    };
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let head = buffered.fill_buf().map_err(io_error)?;
    if head.is_empty() {
        return Err(SourceError::Empty { path: path.into() });
    }
    let reader: Box<dyn Read + Send> = if head.starts_with(&GZIP_MAGIC) {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    CaptureReader::new(path, reader)
}
