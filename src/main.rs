//! The `faultline` command: a thin shell over the library.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use faultline::analysis::{self, Analysis, Config};
use faultline::report::{self, AnalyzeReport};

/// Names the cause of failed API calls from packet captures.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse captures: capture summary, calls and the cause of every failed call.
    Analyze(CaptureArgs),
    /// One row per TCP connection: Wireshark's stream index, Zeek's state and history, counts.
    Conns(CaptureArgs),
}

#[derive(Debug, clap::Args)]
struct CaptureArgs {
    /// pcap or pcapng files (`-` reads standard input; `.gz` is read transparently).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Output format (text on a terminal, otherwise as chosen).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("faultline: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let (args, conns) = match &cli.command {
        Command::Analyze(args) => (args, false),
        Command::Conns(args) => (args, true),
    };
    let analyses = analyze_all(&args.files)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    if conns {
        let files: Vec<(&str, &Analysis)> = args
            .files
            .iter()
            .map(String::as_str)
            .zip(analyses.iter())
            .collect();
        match args.format {
            Format::Json => report::write_conns_json(&mut out, &files),
            Format::Text => report::write_conns_text(&mut out, &files),
        }
        .context("writing the connection listing")?;
    } else {
        let report = AnalyzeReport::new(&args.files, &analyses);
        match args.format {
            Format::Json => report::write_analyze_json(&mut out, &report),
            Format::Text => report::write_analyze_text(&mut out, &report),
        }
        .context("writing the report")?;
    }
    out.flush().context("writing to standard output")?;
    Ok(())
}

/// Analyses every file in turn; warnings (a truncated file) go to standard error.
fn analyze_all(files: &[String]) -> Result<Vec<Analysis>> {
    let mut analyses = Vec::with_capacity(files.len());
    let stdin_is_tty = io::stdin().is_terminal();
    for path in files {
        if path == "-" && stdin_is_tty {
            anyhow::bail!("-: standard input is a terminal, not a capture (pipe one in)");
        }
        let analysis = analysis::analyze_path(path, Config::default())?;
        for warning in &analysis.capture.warnings {
            eprintln!("faultline: warning: {warning}");
        }
        analyses.push(analysis);
    }
    Ok(analyses)
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
