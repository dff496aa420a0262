//! faultline: names the cause of failed API calls from packet captures.
//!
//! The pipeline, one module per stage, each knowing only the one before:
//! [`source`] → [`decode`] → [`flows`] → [`tcp`] → [`app`] → [`calls`] → [`diagnose`] → [`report`].
//! Everything from [`decode`] down is sans-IO: it takes frames with capture timestamps and never
//! reads a clock, a file or a socket. [`analysis`] wires the stages together.

pub mod analysis;
pub mod app;
pub mod calls;
pub mod decode;
pub mod diagnose;
pub mod escape;
pub mod evidence;
pub mod flows;
#[cfg(feature = "live")]
pub mod live;
pub mod redact;
pub mod report;
pub mod source;
pub mod tcp;
pub mod timefmt;
