//! `wxnet check`: a live server, as the mini program will see it.

use crate::common::{self, Common};

/// Check a live server as the mini program will see it
///
/// TLS versions, the certificate chain, protocol and, when the URL has a
/// path, a sample response; each result is PASS, WARN, FAIL, INFO or
/// UNKNOWN with a fix for each failure. It connects directly, never through
/// a proxy.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// An https:// or wss:// URL (a path adds the response checks), or
    /// host[:port]
    target: String,
    /// Judge certificate dates at this Unix time instead of now
    #[arg(long, value_name = "UNIX_SECONDS")]
    at: Option<u64>,
    /// Report an IP or localhost target as a failure of T-01 but go on with
    /// the other checks
    #[arg(long)]
    allow_local: bool,
    /// Also write the report as one self-contained HTML page to this file
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
    /// When no OCSP response is stapled, ask the certificate's OCSP
    /// responder over HTTP
    #[arg(long)]
    online: bool,
    #[command(flatten)]
    common: Common,
}

pub fn run(a: Args) -> crate::Outcome {
    let checker = common::at(common::checker(&a.common)?, a.at)
        .allow_local(a.allow_local)
        .online(a.online);
    let report = checker.check(&a.target);
    if let (Some(path), Ok(r)) = (&a.html, &report) {
        std::fs::write(path, r.to_html())
            .map_err(|e| crate::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    common::report(report, a.common.json)
}
