//! `wxnet completions`: a shell completion script.

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
    let mut cmd = crate::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "wxnet", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
