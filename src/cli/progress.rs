//! A progress bar on standard error for big capture files, only when standard error is a
//! terminal: standard output carries data only.

use std::fs::File;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

use faultline::source::{self, CaptureReader};

/// Files smaller than this are read too fast for a bar to help.
const MIN_BYTES: u64 = 64 << 20;

/// Opens `path` with a progress bar over its bytes when it is a big file and standard error a
/// terminal; `None` when no bar is wanted (the caller opens the file itself).
pub fn watched_file(path: &str) -> Result<Option<CaptureReader>> {
    if path == "-" || !std::io::stderr().is_terminal() {
        return Ok(None);
    }
    let file = File::open(path).with_context(|| format!("{path}: cannot open"))?;
    let size = file
        .metadata()
        .with_context(|| format!("{path}: cannot read its size"))?
        .len();
    if size < MIN_BYTES {
        return Ok(None);
    }
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .context("progress bar template")?
    .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr())
        .with_style(style)
        .with_prefix(display_name(path))
        .with_finish(ProgressFinish::AndClear);
    bar.enable_steady_tick(Duration::from_millis(200));
    Ok(Some(source::open_reader(
        path,
        Box::new(bar.wrap_read(file)),
    )?))
}

/// The file's name without its folders, so the bar fits a line; control characters escaped.
fn display_name(path: &str) -> String {
    let name = std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
    faultline::escape::escape_controls(&name).into_owned()
}
