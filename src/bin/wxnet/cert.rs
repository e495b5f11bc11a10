//! `wxnet cert`: a certificate file, before it is deployed.

use std::path::PathBuf;

use crate::common::{self, Common};

/// Check a certificate chain file before deploying it
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The chain as the server will send it (PEM)
    file: PathBuf,
    /// The host name the certificate must serve
    #[arg(long, value_name = "NAME")]
    host: String,
    /// Judge certificate dates at this Unix time instead of now
    #[arg(long, value_name = "UNIX_SECONDS")]
    at: Option<u64>,
    #[command(flatten)]
    common: Common,
}

pub fn run(a: Args) -> crate::Outcome {
    let checker = common::at(common::checker(&a.common)?, a.at);
    let pem = common::read(&a.file)?;
    common::report(checker.check_chain(&a.host, &pem), a.common.json)
}
