//! The `faultline live` subcommand (binary side): its flags, and the hand-over to
//! `faultline::live` when the binary was built with the cargo feature `live`.

use anyhow::Result;

/// Flags of `faultline live`.
#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// Interface to capture on (`any` for all of them, as Linux cooked captures).
    #[arg(
        short = 'i',
        long,
        value_name = "IFACE",
        required_unless_present = "list"
    )]
    interface: Option<String>,
    /// Capture filter in tcpdump (BPF) syntax, e.g. "tcp port 443 or port 53".
    #[arg(short = 'f', long, value_name = "BPF")]
    filter: Option<String>,
    /// List the interfaces that can be captured on, and exit.
    #[arg(long)]
    list: bool,
    /// Output: text, or one JSON object per line (each finding, then the summary).
    #[arg(long, value_enum, default_value_t = LiveFormatArg::Text)]
    format: LiveFormatArg,
    /// After opening the capture, root drops to this user (`root` keeps root).
    #[arg(long, value_name = "USER", default_value = "nobody")]
    user: String,
    /// Also save what is captured as pcapng (rotated: FILE.pcapng is the newest, then
    /// FILE.1.pcapng, FILE.2.pcapng, ...). Created as --user once root is dropped.
    #[arg(short = 'w', long, value_name = "FILE.pcapng")]
    write: Option<std::path::PathBuf>,
    /// Rotate the --write file when it reaches this many megabytes (10^6 bytes).
    #[arg(long, value_name = "MB", default_value_t = 100)]
    write_size: u64,
    /// Keep at most this many --write files (the oldest is removed).
    #[arg(long, value_name = "N", default_value_t = 10)]
    write_files: u32,
    /// Private CA certificates (PEM) trusted besides the Mozilla roots.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<String>,
    /// Do not trust the host's CA bundle besides the Mozilla roots (as for `analyze`).
    #[arg(long)]
    no_system_ca: bool,
    /// TLS key log (NSS format, repeatable), followed while capturing: clients append a line
    /// a connection, and connections are decrypted once their secrets arrive.
    #[arg(long, value_name = "FILE")]
    keylog: Vec<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LiveFormatArg {
    Text,
    Ndjson,
}

/// Runs `faultline live` without the `live` feature: a clear error.
#[cfg(not(feature = "live"))]
pub fn run(_args: &LiveArgs) -> Result<()> {
    anyhow::bail!(
        "this faultline was built without live capture: rebuild with `cargo build --release \
         --features live` (needs libpcap-dev)"
    )
}

/// Runs `faultline live`: findings on standard output as they are decided, the summary at the
/// end (SIGINT or SIGTERM).
#[cfg(feature = "live")]
pub fn run(args: &LiveArgs) -> Result<()> {
    use std::io::Write;

    use anyhow::Context;
    use faultline::live::{self, LiveFormat, LiveOptions, RotationOptions};

    if args.list {
        let mut out = std::io::stdout().lock();
        for (name, description) in faultline::source::live::list_interfaces()? {
            match description {
                Some(d) => writeln!(out, "{name}\t{d}")?,
                None => writeln!(out, "{name}")?,
            }
        }
        return Ok(());
    }
    // The same trust as `analyze`: Mozilla roots, the host's bundle, --ca-file; read before
    // root is dropped.
    let trust = Some(super::load_trust(
        args.ca_file.as_deref(),
        args.no_system_ca,
    )?);
    if args.write_size == 0 || args.write_files == 0 {
        anyhow::bail!("--write-size and --write-files must be at least 1");
    }
    let options = LiveOptions {
        interface: args.interface.clone().unwrap_or_default(),
        filter: args.filter.clone(),
        format: match args.format {
            LiveFormatArg::Text => LiveFormat::Text,
            LiveFormatArg::Ndjson => LiveFormat::Ndjson,
        },
        user: args.user.clone(),
        write: args.write.clone().map(|path| RotationOptions {
            path,
            max_bytes: args.write_size.saturating_mul(1_000_000),
            max_files: args.write_files,
            inputs: args
                .ca_file
                .iter()
                .map(std::path::PathBuf::from)
                .chain(args.keylog.iter().cloned())
                .collect(),
        }),
        keylog: args.keylog.clone(),
        config: faultline::analysis::Config {
            trust,
            ..Default::default()
        },
    };
    let stop = live::stop_on_signals().context("installing the SIGINT/SIGTERM handlers")?;
    let mut out = std::io::stdout().lock();
    live::run(&options, &mut out, stop)?;
    Ok(())
}
