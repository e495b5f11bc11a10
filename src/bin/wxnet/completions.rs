//! `wxnet completions`: a shell completion script.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// Print a shell completion script
///
/// For example `wxnet completions bash > /etc/bash_completion.d/wxnet`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell
    shell: Shell,
}

pub fn run(a: Args) -> crate::Outcome {
    // Written to a buffer first: the generator panics on a write error,
    // and `| head` closes the pipe early.
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut crate::Cli::command(), "wxnet", &mut script);
    let _ = std::io::stdout().write_all(&script);
    Ok(ExitCode::SUCCESS)
}
