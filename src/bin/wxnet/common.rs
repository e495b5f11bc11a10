//! Options every command takes, the checker and client they build, and
//! the output helpers the commands share.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use wxnet::check::{Checker, Report};

use crate::Usage;

/// The options of every command that reaches a server.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Connect to ADDR for HOST:PORT; names and certificates still use HOST
    /// (repeatable)
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    pub resolve: Vec<Resolve>,
    /// Trust this root certificate too, PEM or DER (repeatable)
    #[arg(long, value_name = "FILE")]
    pub cacert: Vec<PathBuf>,
    /// Seconds allowed per call or probe, at least 1 (at most 60 for calls)
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Print JSON (check, cert and doctor print text without it; the calls
    /// always print JSON)
    #[arg(long)]
    pub json: bool,
}

/// The options of the commands that make a call: [`Common`] plus the
/// app's settings.
#[derive(clap::Args, Debug, Clone)]
pub struct CallOptions {
    #[command(flatten)]
    pub common: Common,
    /// The app's settings (domain lists, resolve, roots) for the call;
    /// without it only the URL's own origin is listed
    #[arg(long, value_name = "wxnet.json")]
    pub config: Option<PathBuf>,
    /// Reach the server through this proxy: http://[user:pass@]host:port
    /// (CONNECT) or socks5://[user:pass@]host:port; replaces the config's
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
}

/// One `--resolve` mapping.
#[derive(Debug, Clone)]
pub struct Resolve {
    host: String,
    addr: SocketAddr,
}

/// `host:port:addr`, as curl takes it; an IPv6 address may be bracketed.
fn parse_resolve(s: &str) -> Result<Resolve, String> {
    let bad = || format!("{s:?}: expected host:port:addr");
    let (host, rest) = s.split_once(':').ok_or_else(bad)?;
    let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip: IpAddr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| bad())?;
    Ok(Resolve {
        host: host.to_string(),
        addr: SocketAddr::new(ip, port),
    })
}

/// Whole seconds, at least one: a zero timeout could never succeed.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1 second".into()),
        Ok(n) => Ok(Duration::from_secs(n)),
        Err(e) => Err(e.to_string()),
    }
}

/// A file's bytes, or a usage error naming the file.
pub fn read(path: &Path) -> Result<Vec<u8>, Usage> {
    std::fs::read(path).map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))
}

/// A checker with the common options applied.
pub fn checker(c: &Common) -> Result<Checker, Usage> {
    with_options(Checker::new(), c)
}

/// `k` with the common options added to what it has.
pub fn with_options(mut k: Checker, c: &Common) -> Result<Checker, Usage> {
    for r in &c.resolve {
        k = k.resolve(&r.host, r.addr);
    }
    for path in &c.cacert {
        k = k.add_root_certificate(&read(path)?)?;
    }
    if let Some(t) = c.timeout {
        k = k.timeout(t);
    }
    Ok(k)
}

/// `--at`: judge dates at that Unix time instead of now.
pub fn at(k: Checker, at: Option<u64>) -> Checker {
    match at {
        Some(s) => k.at(UNIX_EPOCH + Duration::from_secs(s)),
        None => k,
    }
}

/// Print a checker report and exit 1 when it failed.
pub fn report(r: wxnet::Result<Report>, as_json: bool) -> crate::Outcome {
    let r = r?;
    if as_json {
        println!("{}", r.to_json());
    } else {
        print!("{}", r.to_text());
    }
    Ok(ExitCode::from(u8::from(r.failed())))
}

/// A client for one call: the settings of `--config`, or else one that
/// lists just the URL's own origin.
pub fn client(o: &CallOptions, url: &str, api: wxnet::ApiKind) -> Result<wxnet::Client, Usage> {
    let mut b = match &o.config {
        Some(path) => wxnet::ClientBuilder::from_file(path)?,
        None => own_origin(wxnet::Client::builder(), url, api),
    };
    for r in &o.common.resolve {
        b = b.resolve(&r.host, r.addr);
    }
    for path in &o.common.cacert {
        b = b.add_root_certificate(read(path)?)?;
    }
    if let Some(url) = &o.proxy {
        b = b.proxy(url);
    }
    Ok(b.build()?)
}

/// List the URL's origin for `api`, unless the policy refuses it as an
/// entry (an IP, `localhost`): then the call meets the policy's own
/// verdict instead of a failed build.
fn own_origin(b: wxnet::ClientBuilder, url: &str, api: wxnet::ApiKind) -> wxnet::ClientBuilder {
    let Ok(u) = url::Url::parse(url) else {
        return b;
    };
    let list = [u.origin().ascii_serialization()];
    let listed = match api {
        wxnet::ApiKind::Request => b.clone().request_domains(list),
        wxnet::ApiKind::UploadFile => b.clone().upload_domains(list),
        wxnet::ApiKind::DownloadFile => b.clone().download_domains(list),
        _ => b.clone().socket_domains(list),
    };
    match listed.check_url(api, url) {
        Err(e) if e.kind() == wxnet::ErrorKind::Config => b,
        _ => listed,
    }
}

/// Response headers as a JSON object.
pub fn header_json(h: &wxnet::Header) -> Value {
    Value::Object(
        h.iter()
            .map(|(n, v)| (n.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

/// A failed call as the mini program reports it.
pub fn fail_json(e: &wxnet::Error) -> Value {
    json!({ "errMsg": e.err_msg(), "errno": e.errno() })
}

/// Print a call's result as JSON; exit 1 on failure.
pub fn finish(r: wxnet::Result<Value>) -> crate::Outcome {
    let (v, code) = match r {
        Ok(v) => (v, ExitCode::SUCCESS),
        Err(e) => (fail_json(&e), ExitCode::from(1)),
    };
    println!("{v}");
    Ok(code)
}
