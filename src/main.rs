//! The `faultline` command: a thin shell over the library.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use faultline::analysis::{self, Analysis, Config, FindingsMode};
use faultline::app::http::BodyLimit;
use faultline::app::tls::{KeyLog, TrustStore};
use faultline::diagnose::{Category, Confidence, Finding};
use faultline::escape::Escaped;
use faultline::evidence;
use faultline::report::{
    self, AnalyzeReport, CauseMatch, ConnsWriter, FindingFilter, HostMatch, TimeBound,
};

mod cli;

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
    /// Analyse captures: the cause of every failed call, then a summary of the capture.
    Analyze(AnalyzeArgs),
    /// One row per TCP connection: Wireshark's stream index, Zeek's state and history, counts.
    Conns(cli::conns::ConnsArgs),
    /// Capture from an interface and name failed calls as they happen (cargo feature `live`).
    Live(live_cmd::LiveArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(cli::generate::CompletionsArgs),
    /// Print the man page of faultline or of one subcommand (roff; `| man -l -` shows it).
    Man(cli::generate::ManArgs),
}

#[derive(Debug, clap::Args)]
struct CaptureArgs {
    /// pcap or pcapng files (`-` reads standard input; `.gz` is read transparently).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Read the files as one capture in time order, as `mergecap` merges them: rotated files
    /// (tcpdump -C/-W, dumpcap ring buffers) or captures of the same period from several
    /// points. A connection that spans files is then one connection, and frame numbers are
    /// the merged capture's (`mergecap -w OUT FILE...` numbers them the same).
    #[arg(long)]
    merge: bool,
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
    /// Write the frames of the failed calls to this pcapng, each evidence frame carrying a
    /// packet comment with its finding (analyze only; the capture is read a second time).
    #[arg(long, value_name = "FILE.pcapng")]
    evidence: Option<String>,
    /// Write only the headers to the --evidence file: payload bytes become zeros (lengths,
    /// sequence numbers and timing kept), so it can be shared without the calls' contents.
    #[arg(long, requires = "evidence")]
    evidence_redact: bool,
    /// TLS key log in the NSS format `SSLKEYLOGFILE` writes (repeatable): connections whose
    /// client random it holds are decrypted. A capture's own secrets blocks are read too.
    #[arg(long, value_name = "FILE")]
    keylog: Vec<std::path::PathBuf>,
    /// Also write the TLS secrets of the connections the --evidence file holds into it (a
    /// Decryption Secrets Block), so it opens decrypted in Wireshark: the file then holds
    /// secrets that decrypt those connections.
    #[arg(long, requires = "evidence", conflicts_with = "evidence_redact")]
    evidence_keys: bool,
    /// Bytes of an error response's body read for what the server said (4xx/5xx, and GraphQL
    /// answers), after decompression; 0 reads none. Only error fields are kept, redacted.
    #[arg(long, value_name = "N", default_value_t = faultline::app::http::BodyLimit::default().0)]
    error_body_bytes: usize,
}

#[derive(Debug, clap::Args)]
struct AnalyzeArgs {
    #[command(flatten)]
    capture: CaptureArgs,
    #[command(flatten)]
    filters: FilterArgs,
    /// Exit with status 1 when a shown finding has one of these cause codes or is in one of
    /// these categories (`any`: any finding), e.g. `--fail-on firewall,tls.certificate_expired`
    /// in a CI pipeline (codes: docs/causes.md).
    #[arg(long, value_name = "CODE|CATEGORY|any", value_delimiter = ',')]
    fail_on: Vec<cli::FailOn>,
    /// Colour in the text report: `auto` follows the terminal and `NO_COLOR`.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    /// Report every failed call on its own instead of folding many that failed the same way
    /// against the same server into one aggregate finding. With `--format ndjson` (and no
    /// `--evidence`) each finding is written as soon as it is decided and none is held; other
    /// formats hold them all until the report is written.
    #[arg(long)]
    all_findings: bool,
    /// Findings shown in full per incident group in text, Markdown and HTML (the group's
    /// counts always cover every call; JSON and NDJSON list every finding).
    #[arg(long, value_name = "N", default_value_t = report::DEFAULT_MAX_PER_GROUP)]
    max_per_group: usize,
    /// The most characters `--format markdown` writes, for a ticket or comment (GitHub takes
    /// 65,536, Jira 32,767): details are collapsed, then left out, never the groups' numbers.
    /// 0: no limit.
    #[arg(long, value_name = "N", default_value_t = report::DEFAULT_MAX_CHARS)]
    max_chars: usize,
    /// Add a per-endpoint table to the text report: calls, failed, degraded, success rate,
    /// connect/TLS/TTFB/total latency percentiles and bytes per server endpoint and HTTP route
    /// (Markdown, HTML and JSON always carry it).
    #[arg(long)]
    stats: bool,
}

/// Which findings the report shows; a finding must pass every filter given.
#[derive(Debug, clap::Args)]
struct FilterArgs {
    /// Calls to or from this address, CIDR block or name (DNS name, SNI or Host; a name also
    /// matches the names under it). Repeatable.
    #[arg(long, value_name = "ADDR|CIDR|NAME")]
    host: Vec<HostMatch>,
    /// Calls with this client or server port. Repeatable.
    #[arg(long, value_name = "PORT")]
    port: Vec<u16>,
    /// Only these categories, comma-separated or repeated: network, firewall, tls, dns,
    /// server, client.
    #[arg(long, value_delimiter = ',', value_name = "CATEGORY")]
    category: Vec<Category>,
    /// Only findings with these cause codes (or of these categories), comma-separated or
    /// repeated, e.g. `--code server.http_503,tls.certificate_expired` (codes: docs/causes.md).
    #[arg(long, value_delimiter = ',', value_name = "CODE|CATEGORY")]
    code: Vec<CauseMatch>,
    /// Hide findings less sure than this: low, medium or high.
    #[arg(long, value_name = "LEVEL")]
    min_confidence: Option<Confidence>,
    /// Calls with evidence at or after this time: RFC 3339, or an offset into the capture
    /// (`+90s`).
    #[arg(long, value_name = "TIME")]
    since: Option<TimeBound>,
    /// Calls with evidence at or before this time: RFC 3339, or an offset into the capture.
    #[arg(long, value_name = "TIME")]
    until: Option<TimeBound>,
}

impl FilterArgs {
    fn filter(&self) -> FindingFilter {
        FindingFilter {
            hosts: self.host.clone(),
            ports: self.port.clone(),
            categories: self.category.clone(),
            codes: self.code.clone(),
            min_confidence: self.min_confidence,
            since: self.since,
            until: self.until,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    fn enabled(self) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                anstream::AutoStream::choice(&io::stdout()) != anstream::ColorChoice::Never
            }
        }
    }
}

/// The key log of the run: every `--keylog` file read whole (one that cannot be read is an
/// error naming it). Malformed lines wait in it as warnings: the first capture analysed reports
/// them (standard error and the report's notes).
fn load_keys(files: &[std::path::PathBuf]) -> Result<KeyLog> {
    let keys = KeyLog::new();
    for path in files {
        keys.load_file(path)?;
    }
    Ok(keys)
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
    load_trust(args.ca_file.as_deref(), args.no_system_ca).map(Some)
}

/// The Mozilla roots, plus the PEM certificates in `ca_file`, plus the host's CA bundle
/// (`SSL_CERT_FILE`, else the first of [`SYSTEM_BUNDLES`] that exists) unless `no_system_ca`.
/// Read once; it lives as long as the process, since every analysis of the run reads it.
fn load_trust(ca_file: Option<&str>, no_system_ca: bool) -> Result<&'static TrustStore> {
    let mut store = match ca_file {
        Some(path) => {
            let pem =
                std::fs::read_to_string(path).with_context(|| format!("{path}: cannot read"))?;
            TrustStore::with_pem(&pem).map_err(|e| anyhow::anyhow!("{path}: {e}"))?
        }
        None => TrustStore::new(),
    };
    if !no_system_ca {
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
    Ok(Box::leak(Box::new(store)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    /// One finding per line and a summary line, in the Elastic Common Schema.
    Ndjson,
    /// A ticket-ready report (GitHub-flavoured Markdown).
    Markdown,
    /// One self-contained HTML page with a ladder diagram per failed call.
    Html,
}

/// How a run that did not fail ends.
enum Outcome {
    /// The analysis ran (exit 0).
    Done,
    /// The analysis ran and found what `--fail-on` names (exit 1).
    FailuresFound,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::FailuresFound) => ExitCode::from(1),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("faultline: {}", Escaped(cli::error_chain(&error)));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<Outcome> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let outcome = match &cli.command {
        Command::Analyze(args) => analyze(args, &mut out)?,
        Command::Conns(args) => {
            list_connections(args, &mut out)?;
            Outcome::Done
        }
        Command::Live(args) => {
            live_cmd::run(args)?;
            Outcome::Done
        }
        Command::Completions(args) => {
            cli::generate::completions(args, Cli::command(), &mut out);
            Outcome::Done
        }
        Command::Man(args) => {
            cli::generate::man(args, Cli::command(), &mut out)?;
            Outcome::Done
        }
    };
    out.flush().context("writing to standard output")?;
    Ok(outcome)
}

/// The analyze command: every file analysed, the findings chosen by the filters, one report.
fn analyze(args: &AnalyzeArgs, out: &mut impl Write) -> Result<Outcome> {
    let capture = &args.capture;
    let second_pass = capture.evidence.is_some() || capture.format == Format::Html;
    if second_pass {
        evidence::check_rereadable(&capture.files)?;
        // Never written over an input: a capture or a key log.
        let inputs: Vec<String> = (capture.files.iter().cloned())
            .chain(capture.keylog.iter().map(|p| p.display().to_string()))
            .collect();
        evidence::check_output(capture.evidence.as_deref(), &inputs)?;
    }
    if args.all_findings && capture.format == Format::Ndjson && !second_pass {
        return stream_all_findings(args, out);
    }
    let mode = match args.all_findings {
        true => FindingsMode::Every,
        false => FindingsMode::Aggregated,
    };
    let keys = load_keys(&capture.keylog)?;
    let inputs = cli::inputs::inputs(&capture.files, capture.merge);
    let mut analyses = analyze_all(
        &inputs,
        trust_store(capture)?,
        mode,
        &keys,
        BodyLimit(capture.error_body_bytes),
    )?;
    cli::inputs::name_files(&inputs, &mut analyses);
    let filter = args.filters.filter();
    let hidden = report::select_findings(&mut analyses, &filter);
    let mut report = AnalyzeReport::new(&capture.files, &analyses, &filter, hidden);
    report.capture.merged = inputs.len() == 1 && capture.files.len() > 1;
    report.max_per_group = args.max_per_group;
    report.max_chars = args.max_chars;
    let spans: Vec<_> = (analyses.iter())
        .map(|a| a.capture.first_ts_ns.zip(a.capture.last_ts_ns))
        .collect();
    if inputs.len() > 1 && faultline::source::looks_rotated(&capture.files, &spans) {
        report.capture.hint = Some(cli::inputs::ROTATION_HINT.into());
    }
    report.show_stats = args.stats;
    // The frames of the findings shown: each capture's findings against that capture (read
    // merged again when it was merged, so the frame numbers are the same).
    let passes = match second_pass {
        true => evidence_pass(capture, &inputs, &analyses, &keys)?,
        false => evidence::EvidenceRun::default(),
    };
    report.evidence_file = passes.section.clone().map(|mut s| {
        s.order_like(&report.findings);
        s
    });
    match capture.format {
        Format::Json => report::write_analyze_json(out, &report),
        Format::Text => report::write_analyze_text(out, &report, args.color.enabled()),
        Format::Ndjson => report::write_analyze_ndjson(out, &report),
        Format::Markdown => report::write_analyze_markdown(out, &report),
        Format::Html => report::write_analyze_html(out, &report, &passes),
    }
    .context("writing the report")?;
    if let Some(section) = &report.evidence_file {
        let by_file = cli::inputs::findings_by_file(&inputs, &analyses);
        match capture.format {
            Format::Text => evidence::write_mapping_text(out, section, &by_file)
                .context("writing the report")?,
            // Data formats stay parseable: the mapping goes to standard error (JSON and HTML
            // carry it inside the report).
            Format::Ndjson | Format::Markdown => {
                evidence::write_mapping_text(&mut io::stderr(), section, &by_file)
                    .context("writing the evidence mapping")?
            }
            Format::Json | Format::Html => {}
        }
    }
    let fails = (report.findings.iter()).any(|f| args.fail_on.iter().any(|on| on.matches(f)));
    Ok(if fails {
        Outcome::FailuresFound
    } else {
        Outcome::Done
    })
}

/// Streams the connection listing: rows are written as connections finish, so memory follows
/// the active connections, not the capture.
fn list_connections(args: &cli::conns::ConnsArgs, out: &mut impl Write) -> Result<()> {
    args.check()?;
    let json = args.format == cli::conns::ConnsFormat::Json;
    let trust = Some(load_trust(args.ca_file.as_deref(), args.no_system_ca)?);
    let keys = load_keys(&args.keylog)?;
    let inputs = cli::inputs::inputs(&args.files, args.merge);
    let mut writer = ConnsWriter::new(out, json, inputs.len() > 1)?.with_trust(trust);
    for input in &inputs {
        let path = &input.join(" + ");
        input.iter().try_for_each(|p| check_stdin(p))?;
        writer.start_file(path)?;
        let mut write_error = None;
        // A row as each connection ends (its `stream` says where Wireshark lists it): nothing
        // waits behind a long-lived connection, so memory follows the open connections.
        let config = Config {
            trust,
            delivery: analysis::Delivery::AsFinished,
            keys: keys.clone(),
            error_body: BodyLimit(args.error_body_bytes),
            ..Config::default()
        };
        let capture = faultline::source::Capture::open(input)?;
        let analysis = analysis::analyze_reader_streaming(capture, config, |conn| {
            if write_error.is_none()
                && let Err(e) = writer.row_with_app(path, &conn.tcp, &conn.app)
            {
                write_error = Some(e);
            }
        });
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
        eprintln!("faultline: warning: {}", Escaped(warning));
    }
}

/// `analyze --all-findings --format ndjson`: each finding the filters show is written as it is
/// decided (numbered in that order), then the summary line; nothing is held.
fn stream_all_findings(args: &AnalyzeArgs, out: &mut impl Write) -> Result<Outcome> {
    let capture = &args.capture;
    let filter = args.filters.filter();
    let trust = trust_store(capture)?;
    let keys = load_keys(&capture.keylog)?;
    let (mut tally, mut hidden, mut fails) = (report::FindingTally::default(), 0u64, false);
    let mut write_error = None;
    let inputs = cli::inputs::inputs(&capture.files, capture.merge);
    let mut analyses = Vec::with_capacity(inputs.len());
    for input in &inputs {
        input.iter().try_for_each(|p| check_stdin(p))?;
        // Several captures reported together: each finding names its own.
        let file = (inputs.len() > 1).then(|| input[0].clone());
        let config = Config {
            delivery: analysis::Delivery::AsFinished,
            trust,
            findings: FindingsMode::Every,
            keys: keys.clone(),
            error_body: BodyLimit(capture.error_body_bytes),
            ..Config::default()
        };
        // Time filters count from the capture's first frame: this file's.
        let mut each = |mut finding: Finding, start: Option<i64>| {
            finding.file.clone_from(&file);
            if !filter.matches(&finding, start.unwrap_or(0)) {
                hidden += 1;
                return;
            }
            tally.add(&finding);
            fails |= args.fail_on.iter().any(|on| on.matches(&finding));
            finding.id = format!("F{}", tally.total);
            if write_error.is_none()
                && let Err(e) = report::write_finding_ndjson(out, &finding)
            {
                write_error = Some(e);
            }
        };
        let reader = cli::inputs::open_input(input)?;
        let mut analysis = analysis::analyze_reader_with(
            reader,
            config,
            |_| {},
            |f, facts| each(f, facts.first_ts_ns),
        );
        let start = analysis.capture.first_ts_ns;
        for finding in std::mem::take(&mut analysis.findings) {
            each(finding, start);
        }
        warn(&analysis);
        analyses.push(analysis);
    }
    if let Some(e) = write_error {
        return Err(e).context("writing the report");
    }
    let mut report = AnalyzeReport::new(&capture.files, &analyses, &filter, hidden);
    report.capture.merged = inputs.len() == 1 && capture.files.len() > 1;
    report.streamed = Some(tally);
    report::write_summary_ndjson(out, &report).context("writing the report")?;
    Ok(if fails {
        Outcome::FailuresFound
    } else {
        Outcome::Done
    })
}

/// Analyses every input in turn; warnings (a truncated file) go to standard error.
fn analyze_all(
    inputs: &[Vec<String>],
    trust: Option<&'static TrustStore>,
    findings: FindingsMode,
    keys: &KeyLog,
    error_body: BodyLimit,
) -> Result<Vec<Analysis>> {
    let mut analyses = Vec::with_capacity(inputs.len());
    for input in inputs {
        input.iter().try_for_each(|p| check_stdin(p))?;
        // The connection list is not part of the report: count connections, keep none.
        // Only the findings are kept (and sorted): connections need not wait for stream order.
        let config = Config {
            delivery: analysis::Delivery::AsFinished,
            trust,
            findings,
            keys: keys.clone(),
            error_body,
            ..Config::default()
        };
        let analysis =
            analysis::analyze_reader_streaming(cli::inputs::open_input(input)?, config, |_| {});
        warn(&analysis);
        analyses.push(analysis);
    }
    Ok(analyses)
}

/// The second pass for `--evidence` and the HTML ladders: each file's findings against that file.
fn evidence_pass(
    args: &CaptureArgs,
    inputs: &[Vec<String>],
    analyses: &[Analysis],
    keys: &KeyLog,
) -> Result<evidence::EvidenceRun> {
    let per_file: Vec<&[faultline::diagnose::Finding]> =
        analyses.iter().map(|a| a.findings.as_slice()).collect();
    let output = args
        .evidence
        .as_deref()
        .map(|path| evidence::EvidenceOutput {
            path,
            headers_only: args.evidence_redact,
            keys: args.evidence_keys.then_some(keys),
        });
    if let Some(output) = &output {
        eprintln!(
            "faultline: note: {}",
            Escaped(evidence::payload_notice(output))
        );
    }
    let run = evidence::run_captures(inputs, &per_file, output)?;
    if let Some(output) = output.as_ref().filter(|o| o.keys.is_some()) {
        eprintln!(
            "faultline: warning: {}",
            Escaped(evidence::keys_notice(output, run.secret_sessions))
        );
    }
    for warning in &run.warnings {
        eprintln!("faultline: warning: {}", Escaped(warning));
    }
    Ok(run)
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
