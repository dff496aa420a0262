//! The "Per endpoint" section of the Markdown report (always present) and the `--stats` table
//! of the text report: the first [`SHOWN_ROWS`] endpoint rows, the most failed first.

use std::io::{self, Write};

use comfy_table::Table;
use comfy_table::presets::{ASCII_MARKDOWN, NOTHING};

use super::markdown::inline;
use super::stats::{HEADER, HumanRow, LEGEND, SHOWN_ROWS, footnotes};
use super::summary::AnalyzeReport;
use crate::escape::escape_controls;

/// Writes the "Per endpoint" section as a GitHub pipe table.
pub fn write_endpoints_markdown(
    out: &mut impl Write,
    report: &AnalyzeReport<'_>,
) -> io::Result<()> {
    writeln!(out, "\n## Per endpoint\n")?;
    let section = &report.endpoints;
    let rows = section.rows();
    if rows.is_empty() {
        writeln!(out, "No calls counted.")?;
        return Ok(());
    }
    let mut table = Table::new();
    table.load_style(ASCII_MARKDOWN);
    table.set_header(HEADER.to_vec());
    for row in rows.iter().take(SHOWN_ROWS) {
        table.add_row(
            HumanRow::of(row)
                .cells()
                .iter()
                .map(|c| inline(c))
                .collect::<Vec<_>>(),
        );
    }
    writeln!(out, "{table}\n")?;
    for note in footnotes(section, rows.len().min(SHOWN_ROWS), rows.len()) {
        writeln!(out, "{}\n", inline(&note))?;
    }
    writeln!(out, "{}", inline(LEGEND))
}

/// Writes the per-endpoint table in plain columns for a terminal (`--stats`), followed by a
/// blank line. Text from the capture is escaped by the caller's writer.
pub fn write_endpoints_text(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    let section = &report.endpoints;
    let rows = section.rows();
    writeln!(
        out,
        "Per endpoint ({} endpoint(s) and route(s))",
        rows.len()
    )?;
    if rows.is_empty() {
        return writeln!(out, "  no calls counted\n");
    }
    let mut table = Table::new();
    table.load_style(NOTHING);
    table.set_header(HEADER.to_vec());
    for row in rows.iter().take(SHOWN_ROWS) {
        let cells = HumanRow::of(row).cells();
        table.add_row(
            cells
                .iter()
                .map(|c| escape_controls(c).into_owned())
                .collect::<Vec<_>>(),
        );
    }
    // Line by line: the text writer keeps only the line feeds that end a write.
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    for note in footnotes(section, rows.len().min(SHOWN_ROWS), rows.len()) {
        writeln!(out, "  {note}")?;
    }
    writeln!(out, "  {LEGEND}\n")
}
