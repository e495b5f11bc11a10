//! The `wxnet` command line: check a backend the way the mini program will
//! see it, validate a `wxnet.json`, and make calls from scripts.
//!
//! Exit status: 0 when nothing failed, 1 when a check or the call failed,
//! 2 on a usage error (clap's own errors exit 2 as well).
#![forbid(unsafe_code)]

mod cert;
mod check;
mod common;
mod completions;
mod doctor;
mod download;
mod progress;
mod request;
mod upload;
mod ws;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Check a backend the way the WeChat mini program will see it, validate
/// a wxnet.json, and make the mini program's network calls from scripts.
///
/// Exit status: 0 when nothing failed, 1 when a check or the call failed,
/// 2 on a usage error.
#[derive(Parser, Debug)]
#[command(name = "wxnet", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Check(check::Args),
    Cert(cert::Args),
    Doctor(doctor::Args),
    Request(request::Args),
    Download(download::Args),
    Upload(upload::Args),
    Ws(ws::Args),
    Completions(completions::Args),
}

/// Why a command could not run: printed after `wxnet: `, exit status 2.
#[derive(Debug)]
pub struct Usage(String);

// `Usage` is deliberately not `Display`, so every displayable error
// converts into it with `?`.
impl<E: std::fmt::Display> From<E> for Usage {
    fn from(e: E) -> Usage {
        Usage(e.to_string())
    }
}

/// What a command returns: its exit status, or a usage error.
pub type Outcome = Result<ExitCode, Usage>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check(a) => check::run(a),
        Command::Cert(a) => cert::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Request(a) => request::run(a),
        Command::Download(a) => download::run(a),
        Command::Upload(a) => upload::run(a),
        Command::Ws(a) => ws::run(a),
        Command::Completions(a) => completions::run(a),
    };
    outcome.unwrap_or_else(|Usage(why)| {
        eprintln!("wxnet: {why}");
        ExitCode::from(2)
    })
}
