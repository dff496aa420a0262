//! `faultline completions SHELL` and `faultline man`: shell completions (clap_complete) and
//! man pages (clap_mangen) generated from the command-line definition itself, so they never
//! drift from it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// Flags of `faultline completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for; e.g. `faultline completions bash > ~/.local/share/bash-completion/completions/faultline`.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Flags of `faultline man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The subcommand whose page to print (`faultline-analyze(1)`); none prints
    /// `faultline(1)`. E.g. `faultline man analyze | man -l -`.
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
    /// Write every page (faultline.1, faultline-analyze.1, ...) into this directory instead.
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    pub dir: Option<PathBuf>,
}

/// Writes the completion script for `args.shell` of the command `cli`.
pub fn completions(args: &CompletionsArgs, mut cli: clap::Command, out: &mut dyn Write) {
    let name = cli.get_name().to_owned();
    clap_complete::generate(args.shell, &mut cli, name, out);
}

/// Writes the man page `args` asks for, or every page into `args.dir`.
pub fn man(args: &ManArgs, cli: clap::Command, out: &mut dyn Write) -> Result<()> {
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        return clap_mangen::generate_to(cli, dir)
            .with_context(|| format!("writing the man pages into {}", dir.display()));
    }
    // Built as clap_mangen builds it for a directory: a subcommand's page is then named
    // `faultline-analyze` and its synopsis says `faultline analyze`.
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    let page = match &args.subcommand {
        None => cli,
        Some(name) => match cli.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let known: Vec<&str> = cli.get_subcommands().map(|s| s.get_name()).collect();
                anyhow::bail!(
                    "no subcommand {name:?}: the pages are those of {}",
                    known.join(", ")
                );
            }
        },
    };
    clap_mangen::Man::new(page)
        .render(out)
        .context("writing the man page")
}
