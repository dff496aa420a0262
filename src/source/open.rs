//! Opening a capture by path: `-` is standard input, gzip is detected by its magic bytes.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, OnceLock};

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
    if !head.starts_with(&GZIP_MAGIC) {
        return CaptureReader::new(path, Box::new(buffered));
    }
    // A cut or corrupt gzip ends the capture where the damage is, as a cut plain file does:
    // the frames before it are analysed and the reader says why it stopped.
    let damage = Arc::new(OnceLock::new());
    let decoder = StopAtDamage {
        inner: MultiGzDecoder::new(buffered),
        damage: Arc::clone(&damage),
        decompressed: 0,
    };
    match CaptureReader::new(path, Box::new(decoder)) {
        Ok(reader) => Ok(reader.with_damage(damage)),
        // Damage before the capture header: that is the reason, not an empty file.
        Err(error) => Err(match damage.get() {
            Some(reason) => SourceError::Io {
                path: path.into(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason.clone()),
            },
            None => error,
        }),
    }
}

/// A decompressor whose first error ends the stream (`Ok(0)`) instead of failing the read: what
/// was decompressed before the damage is kept, and the reason waits in `damage`.
struct StopAtDamage<R> {
    inner: R,
    damage: Arc<OnceLock<String>>,
    /// Capture bytes handed out so far.
    decompressed: u64,
}

impl<R: Read> Read for StopAtDamage<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.damage.get().is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.decompressed += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let _ = self.damage.set(format!(
                    "the gzip data is cut short or damaged after {} bytes of capture ({e})",
                    self.decompressed
                ));
                Ok(0)
            }
        }
    }
}
