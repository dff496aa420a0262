//! `live --keylog`: the key log files are followed while capturing, as clients append a line
//! for each connection they open, so a connection whose secrets arrive a little after its first
//! records is still decrypted (the TLS layer looks its secrets up again when
//! [`KeyLog::generation`] moves).
//!
//! Each file is read whole when the session starts (as root, before privileges are dropped: the
//! open handle is kept), then a thread reads what was appended every [`POLL_EVERY`]. Only whole
//! lines are used; a last line without its newline waits one more poll (a writer may be in the
//! middle of it) and is used then. A file that shrank (truncated) is read again from its start;
//! a file replaced under its name (rotated) is opened again when it can be, and followed on the
//! old handle otherwise.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::app::tls::KeyLog;

/// How often the files are read for appended lines.
pub const POLL_EVERY: Duration = Duration::from_millis(200);
/// At most this much is read from one file in one poll (a key log line is under 300 bytes).
const MAX_READ: u64 = 4 << 20;
/// A "line" longer than this without a newline is not a key log line: it is used as it is
/// (and warned about) rather than held.
const MAX_PARTIAL: usize = 64 << 10;

/// One key log file being followed.
#[derive(Debug)]
struct Followed {
    path: PathBuf,
    file: File,
    /// Device and inode of the file the handle reads.
    id: (u64, u64),
    /// Bytes read so far.
    offset: u64,
    /// Lines used so far (for the line numbers of warnings).
    lines: usize,
    /// The end of the file after its last newline, waiting for the rest of its line.
    partial: Vec<u8>,
    /// The partial line was already there at the last poll.
    partial_seen: bool,
}

/// The key log files of a live session, followed into one [`KeyLog`].
#[derive(Debug)]
pub struct KeyLogFollower {
    files: Vec<Followed>,
    keys: KeyLog,
}

/// Why a key log file could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("key log {path}: {source}")]
pub struct FollowError {
    path: String,
    #[source]
    source: std::io::Error,
}

fn open(path: &Path) -> Result<(File, (u64, u64)), FollowError> {
    let error = |source| FollowError {
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(error)?;
    let meta = file.metadata().map_err(error)?;
    Ok((file, (meta.dev(), meta.ino())))
}

impl KeyLogFollower {
    /// Opens every file (an error names the first that cannot be opened) and reads what they
    /// hold now into `keys`, which is marked live ([`KeyLog::set_live`]): a connection whose
    /// secrets are not there yet keeps its first records until they arrive.
    pub fn open(paths: &[PathBuf], keys: KeyLog) -> Result<Self, FollowError> {
        keys.set_live();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let (file, id) = open(path)?;
            files.push(Followed {
                path: path.clone(),
                file,
                id,
                offset: 0,
                lines: 0,
                partial: Vec::new(),
                partial_seen: false,
            });
        }
        let mut follower = KeyLogFollower { files, keys };
        follower.poll();
        Ok(follower)
    }

    /// Reads what was appended to each file since the last poll.
    pub fn poll(&mut self) {
        for followed in &mut self.files {
            followed.poll(&self.keys);
        }
    }

    /// Follows the files on a thread until `stop` is set; malformed lines are warned about on
    /// standard error as they are read. Join the handle after setting `stop`.
    pub fn spawn(mut self, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("faultline-keylog".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(POLL_EVERY);
                    self.poll();
                    for warning in self.keys.take_warnings() {
                        eprintln!("faultline: warning: {}", crate::escape::Escaped(warning));
                    }
                }
            })
    }
}

impl Followed {
    fn poll(&mut self, keys: &KeyLog) {
        // Rotated: the name now holds another file. Follow it when it can be opened.
        if let Ok(meta) = std::fs::metadata(&self.path)
            && (meta.dev(), meta.ino()) != self.id
            && let Ok((file, id)) = open(&self.path)
        {
            (self.file, self.id) = (file, id);
            self.restart();
        }
        // Truncated: read again from the start.
        if self.file.metadata().is_ok_and(|m| m.len() < self.offset) {
            self.restart();
        }
        let mut fresh = Vec::new();
        let read = self
            .file
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| (&mut self.file).take(MAX_READ).read_to_end(&mut fresh));
        let Ok(n) = read else {
            return;
        };
        self.offset += n as u64;
        if n == 0 {
            // Nothing new: a last line without its newline that waited one poll is whole.
            if !self.partial.is_empty() && self.partial_seen {
                let line = std::mem::take(&mut self.partial);
                self.add(keys, &line);
            }
            self.partial_seen = !self.partial.is_empty();
            return;
        }
        self.partial.extend(fresh);
        let whole = match self.partial.iter().rposition(|&b| b == b'\n') {
            Some(last) => last + 1,
            None if self.partial.len() > MAX_PARTIAL => self.partial.len(),
            None => 0,
        };
        let rest = self.partial.split_off(whole);
        let lines = std::mem::replace(&mut self.partial, rest);
        if !lines.is_empty() {
            self.add(keys, &lines);
        }
        self.partial_seen = false;
    }

    /// Adds whole lines to the key log, numbered after those used before.
    fn add(&mut self, keys: &KeyLog, text: &[u8]) {
        let text = zeroize::Zeroizing::new(String::from_utf8_lossy(text).into_owned());
        keys.add_text(&self.path.display().to_string(), &text, self.lines + 1);
        self.lines += text.lines().count();
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.lines = 0;
        self.partial.clear();
        self.partial_seen = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(random: u8, secret: u8) -> String {
        format!(
            "CLIENT_RANDOM {} {}\n",
            format!("{random:02x}").repeat(32),
            format!("{secret:02x}").repeat(48)
        )
    }

    fn has(keys: &KeyLog, random: u8) -> bool {
        keys.lookup(&[random; 32]).is_some()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("faultline-keyfollow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn appended_lines_partial_lines_truncation_and_rotation() {
        let path = scratch("keys.log");
        std::fs::write(&path, line(1, 1)).unwrap();
        let keys = KeyLog::new();
        let mut follower = KeyLogFollower::open(std::slice::from_ref(&path), keys.clone()).unwrap();
        assert!(has(&keys, 1));
        assert!(keys.is_live());
        // A line written in two pieces is used once whole.
        let two = line(2, 2);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&two.as_bytes()[..40]).unwrap();
        follower.poll();
        assert!(!has(&keys, 2));
        file.write_all(&two.as_bytes()[40..]).unwrap();
        follower.poll();
        assert!(has(&keys, 2));
        // A malformed line is warned about by its line number (3).
        file.write_all(b"CLIENT_RANDOM zz\n").unwrap();
        follower.poll();
        let warnings = keys.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].ends_with(":3: not three words (LABEL CLIENT_RANDOM SECRET); line skipped"),
            "{warnings:?}"
        );
        // A last line without its newline is used after waiting one poll.
        let four = line(4, 4);
        file.write_all(four.trim_end().as_bytes()).unwrap();
        follower.poll();
        follower.poll();
        assert!(!has(&keys, 4));
        follower.poll();
        assert!(has(&keys, 4));
        // Truncated and written again: read from the start.
        std::fs::write(&path, line(5, 5)).unwrap();
        follower.poll();
        assert!(has(&keys, 5));
        // Rotated: a new file under the name.
        let moved = scratch("keys.log.1");
        std::fs::rename(&path, &moved).unwrap();
        std::fs::write(&path, [line(6, 6), line(7, 7)].concat()).unwrap();
        follower.poll();
        assert!(has(&keys, 6) && has(&keys, 7));
        assert!(keys.take_warnings().is_empty());
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let path = scratch("absent.log");
        let error = KeyLogFollower::open(std::slice::from_ref(&path), KeyLog::new()).unwrap_err();
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn the_thread_stops_with_the_session() {
        let path = scratch("thread.log");
        std::fs::write(&path, "").unwrap();
        let keys = KeyLog::new();
        let stop = Arc::new(AtomicBool::new(false));
        let follower = KeyLogFollower::open(std::slice::from_ref(&path), keys.clone()).unwrap();
        let handle = follower.spawn(Arc::clone(&stop)).unwrap();
        std::fs::write(&path, line(9, 9)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !has(&keys, 9) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(has(&keys, 9), "the appended line was not read within 5 s");
        stop.store(true, Ordering::Relaxed);
        handle.join().unwrap();
    }
}
