//! Parts of the command-line program that are not analysis: the progress bar.

pub mod progress;
