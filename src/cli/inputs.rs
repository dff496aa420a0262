//! The captures of a run: which files each analysis reads (one, or several merged with
//! `--merge`), and naming each finding's file when several are reported together.

use anyhow::Result;

use faultline::analysis::Analysis;

/// The captures a run analyses, each as the files it is read from: every file on its own, or
/// all of them merged into one capture with `--merge`.
pub fn inputs(files: &[String], merge: bool) -> Vec<Vec<String>> {
    match merge {
        true => vec![files.to_vec()],
        false => files.iter().map(|f| vec![f.clone()]).collect(),
    }
}

/// Said when several files analysed apart look like one capture cut into pieces.
pub const ROTATION_HINT: &str =
    "these files look like one rotated capture; --merge reads them as one";

/// Opens one input: a single file (with a progress bar when it is big and standard error a
/// terminal), or several merged in time order.
pub fn open_input(input: &[String]) -> Result<faultline::source::Capture> {
    if let [path] = input
        && let Some(watched) = super::progress::watched_file(path)?
    {
        return Ok(watched.into());
    }
    Ok(faultline::source::Capture::open(input)?)
}

/// Several captures reported together: each finding names the file its frame numbers count
/// in. (A merged capture is one capture: its frames are numbered in the merged order.)
pub fn name_files(inputs: &[Vec<String>], analyses: &mut [Analysis]) {
    if inputs.len() < 2 {
        return;
    }
    for (input, analysis) in inputs.iter().zip(analyses) {
        for finding in &mut analysis.findings {
            finding.file = Some(input[0].clone());
        }
    }
}

/// Every finding with the capture it came from (`a.pcap + b.pcap` when merged).
pub fn findings_by_file<'a>(
    inputs: &[Vec<String>],
    analyses: &'a [Analysis],
) -> Vec<(String, &'a faultline::diagnose::Finding)> {
    inputs
        .iter()
        .zip(analyses)
        .flat_map(|(input, a)| a.findings.iter().map(move |f| (input.join(" + "), f)))
        .collect()
}
