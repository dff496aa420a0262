//! Parts of the command-line program that are not analysis: the progress bar, the inputs.

pub mod inputs;
pub mod progress;
