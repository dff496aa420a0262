//! The `faultline` command: a thin shell over the library.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use faultline::analysis::{self, Analysis, Config};
use faultline::app::tls::TrustStore;
use faultline::report::{self, AnalyzeReport, ConnsWriter};

mod live_cmd;

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
    /// Capture from an interface and name failed calls as they happen (cargo feature `live`).
    Live(live_cmd::LiveArgs),
}

#[derive(Debug, clap::Args)]
struct CaptureArgs {
    /// pcap or pcapng files (`-` reads standard input; `.gz` is read transparently).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Output format (text on a terminal, otherwise as chosen).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Private CA certificates (PEM) trusted besides the Mozilla roots when server
    /// certificates are checked.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<String>,
    /// Do not trust the host's CA bundle (`SSL_CERT_FILE`, or Debian's and Red Hat's bundle
    /// paths) besides the Mozilla roots: results then do not depend on the machine.
    #[arg(long)]
    no_system_ca: bool,
}

/// Where hosts keep their CA bundle (the first that exists is read).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The trust store for the whole run: the Mozilla roots, the host's bundle (unless
/// `--no-system-ca`) and the private CAs `--ca-file` names.
fn trust_store(args: &CaptureArgs) -> Result<Option<&'static TrustStore>> {
    let mut store = match &args.ca_file {
        Some(path) => {
            let pem =
                std::fs::read_to_string(path).with_context(|| format!("{path}: cannot read"))?;
            TrustStore::with_pem(&pem).map_err(|e| anyhow::anyhow!("{path}: {e}"))?
        }
        None => TrustStore::new(),
    };
    if !args.no_system_ca {
        let from_env = std::env::var("SSL_CERT_FILE").ok();
        let bundle = from_env
            .iter()
            .map(String::as_str)
            .chain(SYSTEM_BUNDLES.iter().copied())
            .find_map(|path| std::fs::read_to_string(path).ok());
        if let Some(pem) = bundle {
            store.add_bundle(&pem);
        }
    }
    // Lives as long as the process: every analysis of the run reads it.
    Ok(Some(Box::leak(Box::new(store))))
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
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    match &cli.command {
        Command::Analyze(args) => {
            let mut analyses = analyze_all(&args.files, trust_store(args)?)?;
            faultline::diagnose::number_findings(
                analyses.iter_mut().flat_map(|a| a.findings.iter_mut()),
            );
            let report = AnalyzeReport::new(&args.files, &analyses);
            match args.format {
                Format::Json => report::write_analyze_json(&mut out, &report),
                Format::Text => report::write_analyze_text(&mut out, &report),
            }
            .context("writing the report")?;
        }
        Command::Conns(args) => list_connections(args, &mut out)?,
        Command::Live(args) => return live_cmd::run(args),
    }
    out.flush().context("writing to standard output")?;
    Ok(())
}

/// Streams the connection listing: rows are written as connections finish, so memory follows
/// the active connections, not the capture.
fn list_connections(args: &CaptureArgs, out: &mut impl Write) -> Result<()> {
    let json = args.format == Format::Json;
    let trust = trust_store(args)?;
    let mut writer = ConnsWriter::new(out, json, args.files.len() > 1)?.with_trust(trust);
    for path in &args.files {
        check_stdin(path)?;
        writer.start_file(path)?;
        let mut write_error = None;
        let config = Config {
            trust,
            ..Config::default()
        };
        let analysis = analysis::analyze_path_streaming(path, config, |conn| {
            if write_error.is_none()
                && let Err(e) = writer.row_with_app(path, &conn.tcp, &conn.app)
            {
                write_error = Some(e);
            }
        })?;
        if let Some(e) = write_error {
            return Err(e).context("writing the connection listing");
        }
        warn(&analysis);
    }
    writer.finish().context("writing the connection listing")?;
    Ok(())
}

fn check_stdin(path: &str) -> Result<()> {
    if path == "-" && io::stdin().is_terminal() {
        anyhow::bail!("-: standard input is a terminal, not a capture (pipe one in)");
    }
    Ok(())
}

fn warn(analysis: &Analysis) {
    for warning in &analysis.capture.warnings {
        eprintln!("faultline: warning: {warning}");
    }
}

/// Analyses every file in turn; warnings (a truncated file) go to standard error.
fn analyze_all(files: &[String], trust: Option<&'static TrustStore>) -> Result<Vec<Analysis>> {
    let mut analyses = Vec::with_capacity(files.len());
    for path in files {
        check_stdin(path)?;
        // The connection list is not part of the report: count connections, keep none.
        // Only the findings are kept (and sorted): connections need not wait for stream order.
        let config = Config {
            delivery: analysis::Delivery::AsFinished,
            trust,
            ..Config::default()
        };
        let analysis = analysis::analyze_path_streaming(path, config, |_| {})?;
        warn(&analysis);
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
