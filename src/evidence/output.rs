//! Writing a capture file without ever destroying an input: the evidence pcapng (`--evidence`)
//! and `live --write`'s files.
//!
//! Two guards. The output is refused when it is the same file as an input, compared by device
//! and inode, so a hard link, a symlink, `./name` or `/dev/fd/N` naming the input is caught where
//! comparing paths is not. And the output is written to a temporary file in the same directory
//! and renamed into place: a failure leaves no half file behind, and the rename replaces the
//! directory entry rather than truncating the inode it named (which another name may share).
//! An output that exists and is not a regular file (`/dev/null`, a FIFO) is written directly.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary files made by this process so far (keeps their names apart).
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// Whether `a` and `b` are the same file (same device and inode; symlinks followed).
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

/// Refuses `output` when it names the same file as one of `inputs` (device and inode, symlinks
/// followed; `-` and inputs that cannot be read are skipped).
pub fn refuse_input(output: &Path, inputs: &[&Path]) -> io::Result<()> {
    let Ok(target) = std::fs::metadata(output) else {
        return Ok(());
    };
    for input in inputs.iter().filter(|p| p.as_os_str() != "-") {
        let same = match std::fs::metadata(input) {
            Ok(meta) => same_file(&meta, &target),
            Err(_) => false,
        };
        #[cfg(not(unix))]
        let same = same || std::fs::canonicalize(input).ok() == std::fs::canonicalize(output).ok();
        if same {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{}: is the input {} (same file), refusing to write over it",
                    output.display(),
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// A file being written under a temporary name, renamed to its real name by [`commit`]; removed
/// when dropped uncommitted.
///
/// [`commit`]: SafeFile::commit
#[derive(Debug)]
pub struct SafeFile {
    file: File,
    /// The temporary name; `None` once renamed, or when writing directly.
    temp: Option<PathBuf>,
    path: PathBuf,
}

impl SafeFile {
    /// Starts writing `path` (after [`refuse_input`] against `inputs`).
    pub fn create(path: &Path, inputs: &[&Path]) -> io::Result<Self> {
        refuse_input(path, inputs)?;
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
        {
            if meta.is_dir() {
                return Err(named(io::Error::other("is a directory")));
            }
            let file = OpenOptions::new().write(true).open(path).map_err(named)?;
            return Ok(Self {
                file,
                temp: None,
                path: path.to_path_buf(),
            });
        }
        let name = path
            .file_name()
            .ok_or_else(|| named(io::Error::other("not a file name")))?;
        let temp = path.with_file_name(format!(
            ".{}.{}-{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(named)?;
        Ok(Self {
            file,
            temp: Some(temp),
            path: path.to_path_buf(),
        })
    }

    /// Gives the file its real name now, replacing whatever had that name (writing may go on:
    /// `live --write` shows its newest file under its name while capturing).
    pub fn commit(&mut self) -> io::Result<()> {
        if let Some(temp) = self.temp.take()
            && let Err(e) = std::fs::rename(&temp, &self.path)
        {
            let _ = std::fs::remove_file(&temp);
            return Err(io::Error::new(
                e.kind(),
                format!("{}: cannot rename into place ({e})", self.path.display()),
            ));
        }
        Ok(())
    }
}

impl Write for SafeFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for SafeFile {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("faultline-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn a_hard_link_of_an_input_is_refused_and_left_intact() {
        let input = scratch("in.pcap");
        std::fs::write(&input, b"capture bytes").unwrap();
        let link = scratch("link.pcapng");
        let _ = std::fs::remove_file(&link);
        std::fs::hard_link(&input, &link).unwrap();
        let err = SafeFile::create(&link, &[&input]).unwrap_err();
        assert!(err.to_string().contains("same file"), "{err}");
        assert_eq!(std::fs::read(&input).unwrap(), b"capture bytes");
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing_and_a_committed_one_replaces_the_name() {
        let path = scratch("out.pcapng");
        std::fs::write(&path, b"old").unwrap();
        let other = scratch("other-name.pcapng");
        let _ = std::fs::remove_file(&other);
        std::fs::hard_link(&path, &other).unwrap();
        {
            let mut f = SafeFile::create(&path, &[]).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let mut f = SafeFile::create(&path, &[]).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        drop(f);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // The other name of the old file still has its bytes: nothing was truncated.
        assert_eq!(std::fs::read(&other).unwrap(), b"old");
        let dir = path.parent().unwrap();
        let leftovers = std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}
