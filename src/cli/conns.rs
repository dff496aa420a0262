//! The flags of `faultline conns`: its own, so `conns --help` offers only what it does (text or
//! JSON rows; no report formats, no evidence file).

use clap::ValueEnum;

/// Flags of `faultline conns`.
#[derive(Debug, clap::Args)]
pub struct ConnsArgs {
    /// pcap or pcapng files (`-` reads standard input; `.gz` is read transparently).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Output format: a table, or one JSON object per connection.
    #[arg(long, value_enum, default_value_t = ConnsFormat::Text)]
    pub format: ConnsFormat,
    /// Private CA certificates (PEM) trusted besides the Mozilla roots when server
    /// certificates are checked.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<String>,
    /// Do not trust the host's CA bundle (`SSL_CERT_FILE`, or Debian's and Red Hat's bundle
    /// paths) besides the Mozilla roots: results then do not depend on the machine.
    #[arg(long)]
    pub no_system_ca: bool,
    /// TLS key log in the NSS format `SSLKEYLOGFILE` writes (repeatable): connections whose
    /// client random it holds are decrypted. A capture's own secrets blocks are read too.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<std::path::PathBuf>,
    /// Bytes of an error response's body read for what the server said (4xx/5xx, and GraphQL
    /// answers), after decompression; 0 reads none.
    #[arg(long, value_name = "N", default_value_t = faultline::app::http::BodyLimit::default().0)]
    pub error_body_bytes: usize,
    /// Read the files as one capture in time order, as `mergecap` merges them (rotated files
    /// from tcpdump -C/-W or a dumpcap ring buffer): a connection that spans files is one
    /// connection, and frame numbers are the merged capture's.
    #[arg(long)]
    pub merge: bool,
    /// Accepted only to say that it belongs to `faultline analyze`.
    #[arg(long, value_name = "FILE.pcapng", hide = true)]
    pub evidence: Option<String>,
}

/// What `conns` prints. The report formats are accepted (hidden) only to say where they apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConnsFormat {
    Text,
    Json,
    #[value(hide = true)]
    Ndjson,
    #[value(hide = true)]
    Markdown,
    #[value(hide = true)]
    Html,
}

impl ConnsArgs {
    /// Refuses what belongs to `faultline analyze`, naming where it applies.
    pub fn check(&self) -> anyhow::Result<()> {
        if matches!(
            self.format,
            ConnsFormat::Ndjson | ConnsFormat::Markdown | ConnsFormat::Html
        ) {
            anyhow::bail!(
                "conns prints text or json: ndjson, markdown and html apply to `faultline analyze`"
            );
        }
        if self.evidence.is_some() {
            anyhow::bail!("--evidence and the report formats apply to `faultline analyze`");
        }
        Ok(())
    }
}
