//! Terminal safety: text that came from a capture (names, header values, server messages, file
//! names, warnings quoting them) never reaches a terminal with its control characters raw.
//!
//! An attacker chooses the SNI, the DNS names and the server messages a capture holds; an ESC
//! (CSI sequences), a BEL, a CR or an 8-bit C1 control printed raw can rewrite the reader's
//! terminal or hide lines of the report. Every text writer goes through [`ControlEscaper`] (an
//! `io::Write` adapter) or [`escape_controls`]; both show such a character as a visible escape:
//! `\r`, `\x1b`, `\x7f`, `\u{9b}`, `\u{202e}`. The other formats escape them as their syntax
//! requires: JSON and NDJSON through serde (`\u001b`), Markdown and HTML through their escapers,
//! which call [`escape_controls`] too, so a control looks the same in every human format.

use std::borrow::Cow;
use std::fmt::{self, Display, Write as _};
use std::io::{self, Write};

/// Whether `c` must not reach a terminal raw: C0 controls (tab and line feed included: a line
/// feed inside a name could forge a report line), DEL, C1 controls, and the bidirectional
/// overrides and isolates (text that reads differently from what it is).
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Appends the visible escape of `c` (`\r`, `\x1b`, `\u{9b}`) to `out`.
fn push_escape(out: &mut String, c: char) {
    match c {
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `text` with every character [`is_unsafe`] replaced by its visible escape; borrowed when
/// there is none (the common case).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.contains(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match is_unsafe(c) {
            true => push_escape(&mut out, c),
            false => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Displays a value with its control characters escaped: `eprintln!("{}", Escaped(&error))`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<T>(pub T);

impl<T: Display> Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        f.write_str(&escape_controls(&text))
    }
}

/// An `io::Write` adapter for text reports: everything written through it has its control
/// characters escaped, except tabs and the line feeds that end what is written (the report's
/// own line ends; one inside a value is escaped). Bytes that are
/// not UTF-8 (8-bit C1 controls among them) are shown as `\xHH`. Each write is taken as
/// whole text (as `write!` hands it over); the writer's own styling (ANSI colour) goes through
/// [`ControlEscaper::raw`].
#[derive(Debug)]
pub struct ControlEscaper<W: Write> {
    inner: W,
}

impl<W: Write> ControlEscaper<W> {
    /// Escapes what is written to `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner }
    }

    /// The underlying writer, for bytes the report writer itself makes (colour sequences).
    pub fn raw(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The underlying writer back.
    pub fn into_inner(self) -> W {
        self.inner
    }

    fn write_text(&mut self, text: &str) -> io::Result<()> {
        // Layout: tabs, and the line feeds that end a piece of the writer's format string
        // (`write!` hands over literal pieces and arguments apart). A line feed with text after
        // it in the same piece came with a value: escaped, so a name cannot forge report lines.
        let body = text.trim_end_matches('\n');
        let layout = |c: char| c == '\t';
        if !body.contains(|c| is_unsafe(c) && !layout(c)) {
            return self.inner.write_all(text.as_bytes());
        }
        let mut out = String::with_capacity(text.len() + 16);
        for c in body.chars() {
            match is_unsafe(c) && !layout(c) {
                true => push_escape(&mut out, c),
                false => out.push(c),
            }
        }
        out.push_str(&text[body.len()..]);
        self.inner.write_all(out.as_bytes())
    }
}

impl<W: Write> Write for ControlEscaper<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.write_text(text)?;
                    break;
                }
                Err(e) => {
                    let (valid, bad) = rest.split_at(e.valid_up_to());
                    // Checked by from_utf8 up to valid_up_to.
                    self.write_text(std::str::from_utf8(valid).unwrap_or_default())?;
                    let n = e.error_len().unwrap_or(bad.len()).max(1);
                    for b in &bad[..n] {
                        write!(self.inner, "\\x{b:02x}")?;
                    }
                    rest = &bad[n..];
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A serde_json formatter that also escapes what JSON allows raw but a terminal obeys: DEL,
/// the C1 controls and the bidirectional overrides become `\u007f`, `\u009b`, `\u202e` (the
/// same string to any JSON reader). Layout is the wrapped formatter's.
#[derive(Debug, Clone)]
pub struct JsonFormatter<F>(pub F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for JsonFormatter<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if !fragment.contains(is_unsafe) {
            return writer.write_all(fragment.as_bytes());
        }
        for c in fragment.chars() {
            match is_unsafe(c) {
                true => write!(writer, "\\u{:04x}", c as u32)?,
                false => writer.write_all(c.encode_utf8(&mut [0; 4]).as_bytes())?,
            }
        }
        Ok(())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes `value` as JSON (indented when `pretty`) with [`JsonFormatter`]: every report and
/// listing in JSON or NDJSON goes through here.
pub fn write_json<W: Write, T: ?Sized + serde::Serialize>(
    out: W,
    value: &T,
    pretty: bool,
) -> serde_json::Result<()> {
    use serde_json::ser::{CompactFormatter, PrettyFormatter, Serializer};
    match pretty {
        true => value.serialize(&mut Serializer::with_formatter(
            out,
            JsonFormatter(PrettyFormatter::new()),
        )),
        false => value.serialize(&mut Serializer::with_formatter(
            out,
            JsonFormatter(CompactFormatter),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(
            escape_controls("a\x1b[2Jb\x07c\rd\u{9b}e\u{7f}\u{202e}"),
            "a\\x1b[2Jb\\x07c\\rd\\u{9b}e\\x7f\\u{202e}"
        );
        assert!(matches!(escape_controls("plain.example"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("two\nlines"), "two\\nlines");
    }

    #[test]
    fn the_writer_keeps_layout_and_escapes_the_rest() {
        let mut w = ControlEscaper::new(Vec::new());
        let name = "evil\x1b]0;pwned\x07\r";
        writeln!(w, "name {name}").unwrap();
        writeln!(w, "\tnext").unwrap();
        let forged = "x\n   fix      curl evil | sh";
        writeln!(w, "   {forged}").unwrap();
        w.write_all(b"raw \x9b byte\n").unwrap();
        write!(w.raw(), "\x1b[1m").unwrap();
        let out = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(
            out,
            "name evil\\x1b]0;pwned\\x07\\r\n\tnext\n   x\\n   fix      curl evil | sh\nraw \\x9b byte\n\x1b[1m"
        );
    }

    #[test]
    fn json_escapes_what_a_terminal_obeys_and_reads_back_the_same() {
        let name = "a\x1b[1m\u{7f}\u{9b}\u{202e}b";
        let mut out = Vec::new();
        write_json(&mut out, &[name], false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, r#"["a\u001b[1m\u007f\u009b\u202eb"]"#);
        let back: Vec<String> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, [name]);
    }

    #[test]
    fn escaped_displays_anything() {
        let err = io::Error::other("bad \x1b[31m name");
        assert_eq!(Escaped(&err).to_string(), "bad \\x1b[31m name");
    }
}
