//! `--write`: what a live capture saw, saved as pcapng with a size cap and rotation.
//!
//! `FILE.pcapng` is written until it reaches the size cap; it is then renamed `FILE.1.pcapng`
//! (older files move up to `FILE.2.pcapng`, ... and the oldest beyond the file count is
//! removed) and a new `FILE.pcapng` starts, so the newest packets are always in `FILE.pcapng` and
//! the disk holds at most size × files. Each file is a whole pcapng (section header, interface
//! with nanosecond resolution, packets) that `faultline analyze` and Wireshark read. A file is
//! started through [`SafeFile`]: never over an input, never by truncating an existing file.

use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use crate::evidence::{EvidenceWriter, SafeFile};
use crate::source::Frame;

/// Where and how much to write.
#[derive(Debug, Clone)]
pub struct RotationOptions {
    /// `FILE.pcapng`: the newest packets.
    pub path: PathBuf,
    /// A file is rotated once it holds this many bytes.
    pub max_bytes: u64,
    /// At most this many files are kept (the current one included).
    pub max_files: u32,
    /// Files this run reads (the `--ca-file`): never written over, compared by device and inode.
    pub inputs: Vec<PathBuf>,
}

/// The pcapng writer with rotation.
pub struct RotatingWriter {
    options: RotationOptions,
    writer: EvidenceWriter<BufWriter<SafeFile>>,
    written: u64,
    /// Files started so far (the first included).
    pub files_started: u64,
    /// Packets written over all files.
    pub packets: u64,
}

impl std::fmt::Debug for RotatingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingWriter")
            .field("options", &self.options)
            .field("written", &self.written)
            .finish()
    }
}

impl RotatingWriter {
    /// Creates `options.path`; each file describes the link types of the frames written to it.
    pub fn create(options: RotationOptions) -> io::Result<Self> {
        let writer = start_file(&options)?;
        Ok(Self {
            options,
            writer,
            written: 0,
            files_started: 1,
            packets: 0,
        })
    }

    /// After root was dropped to `user`: a warning when `user` may not create files in the
    /// directory of the output (the open file is still written, but rotating it will fail).
    pub fn rotation_warning(&self, user: &str) -> Option<String> {
        let dir = match self.options.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let writable = nix::unistd::access(
            dir,
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        );
        writable.is_err().then(|| {
            format!(
                "--write: user {user} may not create files in {}: {} is written, but rotating it \
                 at --write-size will fail (give {user} write access to the directory, or choose \
                 another --user)",
                dir.display(),
                self.options.path.display()
            )
        })
    }

    /// Appends one frame, rotating first when the current file is full.
    pub fn write(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        if self.written >= self.options.max_bytes {
            self.rotate()?;
        }
        self.writer.write(frame, &[])?;
        self.written = self.writer.bytes();
        self.packets += 1;
        Ok(())
    }

    /// Pushes what is buffered to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// The path of the `index`-th older file: `FILE.1.pcapng`, `FILE.2.pcapng`, ...
    pub fn rotated_path(&self, index: u32) -> PathBuf {
        rotated_path(&self.options.path, index)
    }

    /// The files on disk, newest first.
    pub fn files(&self) -> Vec<PathBuf> {
        let kept = self
            .files_started
            .min(u64::from(self.options.max_files.max(1)));
        let older = (1..kept).map(|i| self.rotated_path(i as u32));
        std::iter::once(self.options.path.clone())
            .chain(older)
            .collect()
    }

    fn rotate(&mut self) -> io::Result<()> {
        let path = self.options.path.display().to_string();
        self.rotate_files()
            .map_err(|e| io::Error::new(e.kind(), format!("rotating {path}: {e}")))
    }

    fn rotate_files(&mut self) -> io::Result<()> {
        self.flush()?;
        let keep_older = self.options.max_files.saturating_sub(1);
        if keep_older == 0 {
            // Only one file: start it over.
        } else {
            let _ = std::fs::remove_file(self.rotated_path(keep_older));
            for index in (1..keep_older).rev() {
                let from = self.rotated_path(index);
                if from.exists() {
                    std::fs::rename(&from, self.rotated_path(index + 1))?;
                }
            }
            std::fs::rename(&self.options.path, self.rotated_path(1))?;
        }
        self.writer = start_file(&self.options)?;
        self.written = 0;
        self.files_started += 1;
        Ok(())
    }
}

/// `dir/name.pcapng` → `dir/name.INDEX.pcapng` (the extension kept last so tools recognise it).
pub fn rotated_path(path: &Path, index: u32) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{index}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{index}"),
    };
    path.with_file_name(name)
}

/// Starts `options.path` afresh: refused when it is an input; made under a temporary name and
/// renamed into place at once (the file is visible while it grows), so an older file that had
/// the name, or another name of it (a hard link), is replaced, never truncated.
fn start_file(options: &RotationOptions) -> io::Result<EvidenceWriter<BufWriter<SafeFile>>> {
    let inputs: Vec<&Path> = options.inputs.iter().map(PathBuf::as_path).collect();
    let mut file = SafeFile::create(&options.path, &inputs)?;
    file.commit()?;
    EvidenceWriter::new(BufWriter::with_capacity(1 << 16, file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::LinkType;

    #[test]
    fn rotated_names_keep_the_extension_last() {
        assert_eq!(
            rotated_path(Path::new("/tmp/cap.pcapng"), 2),
            PathBuf::from("/tmp/cap.2.pcapng")
        );
        assert_eq!(rotated_path(Path::new("cap"), 1), PathBuf::from("cap.1"));
    }

    #[test]
    fn a_full_file_rotates_and_the_oldest_beyond_the_count_is_removed() {
        let dir = std::env::temp_dir().join(format!("faultline-rotate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cap.pcapng");
        let options = RotationOptions {
            path: path.clone(),
            max_bytes: 1000,
            max_files: 3,
            inputs: Vec::new(),
        };
        let mut writer = RotatingWriter::create(options).unwrap();
        let bytes = [0x45u8; 300];
        for number in 1..=20 {
            let frame = Frame {
                number,
                ts_ns: 1_700_000_000_123_456_789,
                link_type: LinkType::RAW,
                bytes: &bytes,
                orig_len: 300,
            };
            writer.write(&frame).unwrap();
        }
        writer.flush().unwrap();
        assert_eq!(writer.packets, 20);
        assert!(writer.files_started >= 5);
        assert!(path.exists() && rotated_path(&path, 1).exists());
        assert!(rotated_path(&path, 2).exists());
        assert!(!rotated_path(&path, 3).exists(), "at most 3 files are kept");
        assert_eq!(
            writer.files(),
            [path.clone(), rotated_path(&path, 1), rotated_path(&path, 2)]
        );
        // Every file is a capture the file reader takes, nanoseconds intact.
        let mut reader = crate::source::open_path(path.to_str().unwrap()).unwrap();
        let mut stamps = Vec::new();
        reader.for_each_frame(|f| stamps.push(f.ts_ns));
        assert!(!stamps.is_empty());
        assert!(stamps.iter().all(|&t| t == 1_700_000_000_123_456_789));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
