//! Content-Encoding undone, with bounded output: gzip (`x-gzip`), deflate (zlib-wrapped as RFC
//! 9110 says, or raw deflate as some servers send), br and zstd, and lists of them (`gzip, br`
//! is undone br first).
//!
//! Output never exceeds the limit: the decoders are read as streams and stopped there, so a
//! decompression bomb costs the limit, not its size. The decoders' own windows are bounded too:
//! 32 KiB for deflate, at most 16 MiB for brotli (its largest standard window), at most
//! [`ZSTD_MAX_WINDOW`] for zstd (RFC 8878 3.1.1.1.2 allows refusing larger ones for HTTP).
//!
//! Input may be cut (the capture missed the end, or the collector stopped at its limit): what
//! was decoded before the cut is returned, with [`Decoded::short`] saying why it is not all.
//! Only when nothing at all came out is it an error.

use std::borrow::Cow;
use std::io::{self, Read};

/// The largest zstd window accepted (8 MiB, the limit RFC 8878 sets for the `zstd` content
/// coding).
pub const ZSTD_MAX_WINDOW: u64 = 8 * 1024 * 1024;
/// The most codings undone in one body (HTTP servers apply one; a longer list is refused).
const MAX_CODINGS: usize = 4;
/// How much of an unknown coding's name an error keeps.
const MAX_NAME: usize = 40;

/// Why a body could not be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A coding this reader does not know (`compress`, `exi`, anything invented), or a list of
    /// more than four; the name (the list) is clipped and stripped of control characters.
    #[error("unknown content encoding \"{0}\"")]
    Unknown(String),
    /// The data is not in the coding it claims, or ends before its first byte of output.
    #[error("{encoding} data could not be decoded: {reason}")]
    Corrupt {
        encoding: &'static str,
        reason: String,
    },
}

/// Why fewer than all of a body's bytes came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Short {
    /// The output reached the limit; the rest was not decoded.
    Limit,
    /// The compressed data ended or broke after some bytes had come out (the body was cut,
    /// or corrupt): those bytes are given. The text says which coding and why.
    Broken(String),
}

/// A decoded body: at most `limit` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The bytes (borrowed when no coding was applied).
    pub bytes: Cow<'a, [u8]>,
    /// `None` when the whole body was decoded, else why not.
    pub short: Option<Short>,
}

impl Decoded<'_> {
    /// Whether `bytes` is the whole decoded body.
    pub fn complete(&self) -> bool {
        self.short.is_none()
    }
}

/// The codings this reader undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// `body` with the codings of `content_encoding` undone (last applied first), at most `limit`
/// bytes of it. No header, `identity` or an empty list: the body itself, cut at `limit`.
pub fn decode<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
    limit: usize,
) -> Result<Decoded<'a>, DecodeError> {
    let mut codings = Vec::new();
    for token in content_encoding.unwrap_or_default().split(',') {
        let token = token.trim();
        let coding = match token.to_ascii_lowercase().as_str() {
            "" | "identity" => continue,
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            "br" => Coding::Brotli,
            "zstd" => Coding::Zstd,
            _ => return Err(DecodeError::Unknown(clean_name(token))),
        };
        if codings.len() == MAX_CODINGS {
            return Err(DecodeError::Unknown(clean_name(
                content_encoding.unwrap_or_default(),
            )));
        }
        codings.push(coding);
    }
    if codings.is_empty() {
        let short = (body.len() > limit).then_some(Short::Limit);
        let bytes = body.get(..limit).unwrap_or(body);
        return Ok(Decoded {
            bytes: Cow::Borrowed(bytes),
            short,
        });
    }
    let mut data: Cow<'a, [u8]> = Cow::Borrowed(body);
    let mut short = None;
    // Each layer is bounded by the limit too: a prefix of a compressed layer still decodes to
    // a prefix of the body (usually a longer one, compression being what it is).
    for coding in codings.into_iter().rev() {
        let (out, layer_short) = undo(coding, &data, limit)?;
        data = Cow::Owned(out);
        // A later layer fed a cut input says so itself; the first reason stands.
        short = short.or(layer_short);
    }
    Ok(Decoded { bytes: data, short })
}

/// One coding undone: its output (never empty unless the input decodes to nothing) and why it
/// is short, or an error when nothing came out of a broken input.
fn undo(
    coding: Coding,
    input: &[u8],
    limit: usize,
) -> Result<(Vec<u8>, Option<Short>), DecodeError> {
    if input.is_empty() {
        return Ok((Vec::new(), None));
    }
    let mut out = Vec::new();
    let result = match coding {
        Coding::Gzip => drain(flate2::read::MultiGzDecoder::new(input), limit, &mut out),
        Coding::Deflate if is_zlib_header(input) => {
            let zlib = drain(flate2::read::ZlibDecoder::new(input), limit, &mut out);
            if zlib.is_err() && out.is_empty() {
                // Two bytes that happen to look like a zlib header, then raw deflate.
                drain(flate2::read::DeflateDecoder::new(input), limit, &mut out)
            } else {
                zlib
            }
        }
        Coding::Deflate => drain(flate2::read::DeflateDecoder::new(input), limit, &mut out),
        Coding::Brotli => drain(
            brotli_decompressor::Decompressor::new(input, 4096),
            limit,
            &mut out,
        ),
        Coding::Zstd => return zstd(input, limit),
    };
    finish(coding, out, result)
}

/// The output of one layer and how its reading ended, as [`undo`] gives them.
fn finish(
    coding: Coding,
    out: Vec<u8>,
    result: io::Result<bool>,
) -> Result<(Vec<u8>, Option<Short>), DecodeError> {
    match result {
        Ok(true) => Ok((out, None)),
        Ok(false) => Ok((out, Some(Short::Limit))),
        // Raw deflate and brotli have no magic number and no check before their end: text that
        // is not in the coding may "decode" to some garbage before failing. Error bodies are
        // text; a broken decoding that gave none is taken for corrupt.
        Err(e) if out.is_empty() || !plausible_text(&out) => Err(DecodeError::Corrupt {
            encoding: coding.name(),
            reason: reason(&e),
        }),
        Err(e) => Ok((
            out,
            Some(Short::Broken(format!(
                "{} data {}",
                coding.name(),
                reason(&e)
            ))),
        )),
    }
}

/// Reads `reader` into `out` until its end (`Ok(true)`), until `limit` bytes are out with more
/// to come (`Ok(false)`), or until an error (what came before it stays in `out`).
fn drain(mut reader: impl Read, limit: usize, out: &mut Vec<u8>) -> io::Result<bool> {
    let mut buf = [0u8; 4096];
    loop {
        // One byte beyond the limit tells "exactly the limit" from "more".
        let want = limit
            .saturating_add(1)
            .saturating_sub(out.len())
            .min(buf.len());
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => return Ok(true),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.extend_from_slice(&buf[..n]);
        if out.len() > limit {
            out.truncate(limit);
            return Ok(false);
        }
    }
}

/// Whether `bytes` may be text (in any ASCII-compatible encoding): no NUL, and at most one
/// byte in 16 another control character than tab, CR, LF.
fn plausible_text(bytes: &[u8]) -> bool {
    let controls = bytes
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n') || b == 0x7f)
        .count();
    !bytes.contains(&0) && controls.saturating_mul(16) <= bytes.len()
}

/// A short reason from a decoder's error.
fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "cut before its end".to_string(),
        _ => {
            let text = e.to_string();
            if text.is_empty() || text.len() > 80 {
                "corrupt".to_string()
            } else {
                format!("corrupt ({text})")
            }
        }
    }
}

/// CMF and FLG of RFC 1950: deflate, a window of at most 32 KiB, and the check bits.
fn is_zlib_header(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// zstd frames one after the other, at most `limit` bytes of their output. A frame cut inside
/// is decoded up to its last whole block (see [`zstd_frame`]).
fn zstd(mut input: &[u8], limit: usize) -> Result<(Vec<u8>, Option<Short>), DecodeError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        if let Some(rest) = skippable_frame(input) {
            input = rest;
            continue;
        }
        let (len, cut) = match zstd_frame(input) {
            Ok(extent) => extent,
            Err(why) => return zstd_failed(out, why),
        };
        let (frame, rest) = input.split_at(len.min(input.len()));
        input = rest;
        let patched;
        let frame = match cut {
            None => frame,
            Some(last_header) => {
                // Mark the last whole block as the last one and drop the checksum flag: the
                // decoder then ends the frame there instead of failing on the cut.
                let mut copy = frame.to_vec();
                if let Some(fhd) = copy.get_mut(4) {
                    *fhd &= !0x04;
                }
                if let Some(b) = copy.get_mut(last_header) {
                    *b |= 1;
                }
                patched = copy;
                &patched[..]
            }
        };
        let room = limit.saturating_sub(out.len());
        let mut source = frame;
        let result = match ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
            &mut source,
            ZSTD_MAX_WINDOW,
        ) {
            Ok(decoder) => {
                let mut part = Vec::new();
                let result = drain(decoder, room, &mut part);
                out.extend_from_slice(&part);
                result
            }
            Err(e) => return zstd_failed(out, format!("corrupt ({e})")),
        };
        match result {
            Ok(true) if cut.is_some() => {
                return zstd_failed(out, "cut before its end".to_string());
            }
            Ok(true) => {}
            Ok(false) => return Ok((out, Some(Short::Limit))),
            Err(e) => return zstd_failed(out, reason(&e)),
        }
    }
    Ok((out, None))
}

/// What follows a skippable frame (RFC 8878 3.1.2) at the start of `input` (nothing when it is
/// cut), or `None` when `input` does not start with one.
fn skippable_frame(input: &[u8]) -> Option<&[u8]> {
    let head = input.get(..8)?;
    let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    if magic & 0xffff_fff0 != 0x184d_2a50 {
        return None;
    }
    let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    Some(input.get(8usize.saturating_add(size)..).unwrap_or_default())
}

/// What a zstd failure gives: an error when nothing came out, else the bytes that did.
fn zstd_failed(out: Vec<u8>, why: String) -> Result<(Vec<u8>, Option<Short>), DecodeError> {
    if out.is_empty() {
        Err(DecodeError::Corrupt {
            encoding: "zstd",
            reason: why,
        })
    } else {
        Ok((out, Some(Short::Broken(format!("zstd data {why}")))))
    }
}

/// The extent of the zstd frame (RFC 8878 3.1.1) at the start of `input`: its length, and when
/// it is cut, the offset of the header of its last whole block (`Err` when not even one block
/// is whole, or the frame is not zstd).
fn zstd_frame(input: &[u8]) -> Result<(usize, Option<usize>), String> {
    let magic = input
        .get(..4)
        .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]))
        .ok_or("cut before its frame header")?;
    if magic != 0xfd2f_b528 {
        return Err("corrupt (not a zstd frame)".to_string());
    }
    let fhd = *input.get(4).ok_or("cut before its frame header")?;
    let single_segment = fhd & 0x20 != 0;
    let fcs = match fhd >> 6 {
        0 if single_segment => 1,
        0 => 0,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let dict = [0, 1, 2, 4][usize::from(fhd & 3)];
    let mut pos = 5 + usize::from(!single_segment) + dict + fcs;
    let mut last_whole = None;
    while let Some(h) = input.get(pos..pos.saturating_add(3)) {
        let header = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
        let size = match (header >> 1) & 3 {
            1 => 1,
            3 => return Err("corrupt (reserved block type)".to_string()),
            _ => (header >> 3) as usize,
        };
        let end = pos.saturating_add(3).saturating_add(size);
        if end > input.len() {
            break;
        }
        if header & 1 == 1 {
            let checksum = if fhd & 0x04 != 0 { 4 } else { 0 };
            if end.saturating_add(checksum) <= input.len() {
                return Ok((end.saturating_add(checksum), None));
            }
            // Only the checksum is missing: the blocks are all there.
            return Ok((end, Some(pos)));
        }
        last_whole = Some(pos);
        pos = end;
    }
    match last_whole {
        Some(at) => Ok((pos, Some(at))),
        None => Err("cut before its first block ended".to_string()),
    }
}

/// A coding name fit for an error message: no control characters, at most [`MAX_NAME`]
/// characters.
fn clean_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    if name
        .chars()
        .filter(|c| !c.is_control())
        .nth(MAX_NAME)
        .is_some()
    {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
