//! The `wxnet` command line: check a backend the way the mini program will
//! see it, validate a `wxnet.json`, and make calls from scripts.
//!
//! Exit status: 0 when nothing failed, 1 when a check or the call failed,
//! 2 on a usage error.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use lexopt::prelude::*;
use serde_json::{Value, json};
use wxnet::check::{Checker, Report, Status};

const USAGE: &str = "\
usage:
  wxnet check <https-or-wss-url | host[:port]> [--json] [--at UNIX_SECONDS] [--allow-local]
  wxnet cert <chain.pem> --host NAME [--json] [--at UNIX_SECONDS]   (a certificate file, before deploying it)
  wxnet doctor <wxnet.json> [--json]
  wxnet request <url> [-X METHOD] [-H 'name: value']... [-d DATA]
  wxnet download <url> [-o FILE]
  wxnet upload <url> <file> [--name FIELD] [-F key=value]...
  wxnet ws <wss-url> [--send TEXT]... [--wait SECONDS]
every command also takes:
  --resolve host:port:addr   connect to addr for host:port (names and certificates still use host)
  --cacert FILE              trust this root too (PEM or DER)
  --config wxnet.json        the app's settings (domain lists, resolve, roots) for calls
  --timeout SECONDS          per call or probe (at most 60 for calls)";

struct Common {
    resolve: Vec<(String, SocketAddr)>,
    cacerts: Vec<PathBuf>,
    config: Option<PathBuf>,
    timeout: Option<Duration>,
    json: bool,
}

fn usage(why: impl std::fmt::Display) -> ExitCode {
    eprintln!("wxnet: {why}\n{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(why) => usage(why),
    }
}

fn run() -> Result<ExitCode, lexopt::Error> {
    let mut p = lexopt::Parser::from_env();
    let Some(cmd) = p.next()? else {
        return Ok(usage("no command"));
    };
    let cmd = match cmd {
        Value(v) => v.string()?,
        Long("help") | Short('h') => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        other => return Err(other.unexpected()),
    };
    let mut c = Common {
        resolve: Vec::new(),
        cacerts: Vec::new(),
        config: None,
        timeout: None,
        json: false,
    };
    let mut positional: Vec<String> = Vec::new();
    let (mut method, mut headers, mut data, mut out, mut name, mut form, mut sends) =
        (None, Vec::new(), None, None, None, Vec::new(), Vec::new());
    let (mut at, mut allow_local, mut wait) = (None, false, 5u64);
    let mut host: Option<String> = None;
    while let Some(arg) = p.next()? {
        match arg {
            Long("resolve") => c.resolve.push(parse_resolve(&p.value()?.string()?)?),
            Long("cacert") => c.cacerts.push(p.value()?.into()),
            Long("config") => c.config = Some(p.value()?.into()),
            Long("timeout") => c.timeout = Some(Duration::from_secs(p.value()?.parse()?)),
            Long("json") => c.json = true,
            Long("at") => at = Some(p.value()?.parse::<u64>()?),
            Long("allow-local") => allow_local = true,
            Short('X') | Long("method") => method = Some(p.value()?.string()?),
            Short('H') | Long("header") => headers.push(p.value()?.string()?),
            Short('d') | Long("data") => data = Some(p.value()?.string()?),
            Short('o') | Long("output") => out = Some(PathBuf::from(p.value()?)),
            Long("name") => name = Some(p.value()?.string()?),
            Short('F') | Long("form") => form.push(p.value()?.string()?),
            Long("send") => sends.push(p.value()?.string()?),
            Long("host") => host = Some(p.value()?.string()?),
            Long("wait") => wait = p.value()?.parse()?,
            Value(v) => positional.push(v.string()?),
            other => return Err(other.unexpected()),
        }
    }
    let arg = |i: usize, what: &str| -> Result<String, lexopt::Error> {
        positional
            .get(i)
            .cloned()
            .ok_or_else(|| lexopt::Error::from(format!("missing {what}")))
    };
    Ok(match cmd.as_str() {
        "check" => {
            let mut checker = checker(&c)?.allow_local(allow_local);
            if let Some(s) = at {
                checker = checker.at(std::time::UNIX_EPOCH + Duration::from_secs(s));
            }
            check(&checker, &arg(0, "target")?, c.json)
        }
        "doctor" => doctor(&c, Path::new(&arg(0, "wxnet.json")?))?,
        "cert" => {
            let mut checker = checker(&c)?;
            if let Some(s) = at {
                checker = checker.at(std::time::UNIX_EPOCH + Duration::from_secs(s));
            }
            let pem = read(Path::new(&arg(0, "certificate file")?))?;
            let host = host.ok_or("--host NAME is needed")?;
            match checker.check_chain(&host, &pem) {
                Ok(r) => {
                    print_report(&r, c.json);
                    ExitCode::from(u8::from(r.failed()))
                }
                Err(e) => usage(e),
            }
        }
        "request" => {
            let url = arg(0, "url")?;
            let client = client(&c, &url, wxnet::ApiKind::Request)?;
            let mut o = wxnet::RequestOptions::new(url);
            if let Some(m) = method {
                o = o.method(m.parse::<wxnet::Method>().map_err(|e| e.to_string())?);
            }
            for h in headers {
                let (n, v) = h.split_once(':').ok_or("a header is 'name: value'")?;
                o = o.header(n.trim(), v.trim());
            }
            if let Some(d) = data {
                o = match serde_json::from_str::<Value>(&d) {
                    Ok(v) if v.is_object() || v.is_array() => o.data(v),
                    _ => o.data(d),
                };
            }
            if let Some(t) = c.timeout {
                o = o.timeout(t);
            }
            finish(client.request(o).wait().map(|r| {
                json!({
                    "statusCode": r.status_code,
                    "header": header_json(&r.header),
                    "cookies": r.cookies,
                    "data": match r.data {
                        wxnet::ResponseData::Json(v) => v,
                        wxnet::ResponseData::Text(s) => Value::String(s),
                        wxnet::ResponseData::Bytes(b) => json!({ "bytes": b.len() }),
                    },
                })
            }))
        }
        "download" => {
            let url = arg(0, "url")?;
            let client = client(&c, &url, wxnet::ApiKind::DownloadFile)?;
            let mut o = wxnet::DownloadFileOptions::new(url);
            if let Some(path) = out {
                o = o.file_path(path);
            }
            if let Some(t) = c.timeout {
                o = o.timeout(t);
            }
            finish(client.download_file(o).wait().map(|r| {
                json!({
                    "statusCode": r.status_code,
                    "tempFilePath": r.temp_file_path,
                    "filePath": r.file_path,
                    "header": header_json(&r.header),
                })
            }))
        }
        "upload" => {
            let url = arg(0, "url")?;
            let file = arg(1, "file")?;
            let client = client(&c, &url, wxnet::ApiKind::UploadFile)?;
            let mut o = wxnet::UploadFileOptions::new(url, file, name.unwrap_or("file".into()));
            for f in form {
                let (k, v) = f.split_once('=').ok_or("a form field is key=value")?;
                o = o.form_data(k, v);
            }
            if let Some(t) = c.timeout {
                o = o.timeout(t);
            }
            finish(client.upload_file(o).wait().map(|r| {
                json!({
                    "statusCode": r.status_code,
                    "header": header_json(&r.header),
                    "data": r.data,
                })
            }))
        }
        "ws" => ws(&c, &arg(0, "url")?, &sends, Duration::from_secs(wait))?,
        other => usage(format!("unknown command {other:?}")),
    })
}

/// `host:port:addr`, as curl takes it.
fn parse_resolve(s: &str) -> Result<(String, SocketAddr), lexopt::Error> {
    let bad = || lexopt::Error::from(format!("--resolve {s:?}: expected host:port:addr"));
    let (host, rest) = s.split_once(':').ok_or_else(bad)?;
    let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip: std::net::IpAddr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| bad())?;
    Ok((host.to_string(), SocketAddr::new(ip, port)))
}

fn read(path: &Path) -> Result<Vec<u8>, lexopt::Error> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

fn checker(c: &Common) -> Result<Checker, lexopt::Error> {
    let mut k = Checker::new();
    for (h, a) in &c.resolve {
        k = k.resolve(h, *a);
    }
    for path in &c.cacerts {
        k = k
            .add_root_certificate(&read(path)?)
            .map_err(|e| e.to_string())?;
    }
    if let Some(t) = c.timeout {
        k = k.timeout(t);
    }
    Ok(k)
}

fn print_report(r: &Report, as_json: bool) {
    if as_json {
        println!("{}", r.to_json());
    } else {
        print!("{}", r.to_text());
    }
}

fn check(checker: &Checker, target: &str, as_json: bool) -> ExitCode {
    match checker.check(target) {
        Ok(r) => {
            print_report(&r, as_json);
            ExitCode::from(u8::from(r.failed()))
        }
        Err(e) => usage(e),
    }
}

fn doctor(c: &Common, path: &Path) -> Result<ExitCode, lexopt::Error> {
    let text = String::from_utf8(read(path)?).map_err(|_| "wxnet.json is not UTF-8")?;
    let entries = match wxnet::check::domain_entries(&text) {
        Ok(v) => v,
        Err(e) => return Ok(usage(e)),
    };
    let mut k = checker(c)?;
    // The file's own resolve map and roots, as a device would use them.
    let root: Value = serde_json::from_str(&text).unwrap_or_default();
    if let Some(map) = root.get("resolve").and_then(Value::as_object) {
        for (host, addr) in map {
            if let Some(a) = addr.as_str().and_then(|a| a.parse().ok()) {
                k = k.resolve(host, a);
            }
        }
    }
    if let Some(list) = root.get("rootCertificates").and_then(Value::as_array) {
        let dir = path.parent().unwrap_or(Path::new("."));
        for p in list.iter().filter_map(Value::as_str) {
            k = k
                .add_root_certificate(&read(&dir.join(p))?)
                .map_err(|e| e.to_string())?;
        }
    }
    let mut failed = false;
    let mut rows = Vec::new();
    let mut reports: Vec<(String, Report)> = Vec::new();
    for e in &entries {
        let report = match &e.problem {
            Some(_) => None,
            None => match reports.iter().find(|(t, _)| *t == e.entry) {
                Some((_, r)) => Some(r.clone()),
                None => {
                    let r = k.check(&e.entry).ok();
                    if let Some(r) = &r {
                        reports.push((e.entry.clone(), r.clone()));
                    }
                    r
                }
            },
        };
        let count = |s: Status| {
            report
                .as_ref()
                .map_or(0, |r| r.results.iter().filter(|x| x.status == s).count())
        };
        let verdict = match (&e.problem, &report) {
            (Some(p), _) => format!("FAIL entry: {p}"),
            (None, Some(r)) if r.failed() => format!(
                "FAIL {} ({})",
                count(Status::Fail),
                r.results
                    .iter()
                    .filter(|x| x.status == Status::Fail)
                    .map(|x| x.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (None, Some(_)) => format!(
                "ok (WARN {}, UNKNOWN {})",
                count(Status::Warn),
                count(Status::Unknown)
            ),
            (None, None) => "FAIL cannot be checked".into(),
        };
        failed |= verdict.starts_with("FAIL");
        rows.push(json!({
            "list": e.list,
            "entry": e.entry,
            "problem": e.problem,
            "verdict": verdict,
            "report": report.map(|r| r.to_json()),
        }));
    }
    if c.json {
        println!("{}", json!({ "failed": failed, "entries": rows }));
    } else {
        println!("{:<13} {:<40} verdict", "list", "entry");
        for r in &rows {
            println!(
                "{:<13} {:<40} {}",
                r["list"].as_str().unwrap_or_default(),
                r["entry"].as_str().unwrap_or_default(),
                r["verdict"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::from(u8::from(failed)))
}

/// A client for one call: the settings of `--config`, or else one that
/// allows just the URL's own origin.
fn client(c: &Common, url: &str, api: wxnet::ApiKind) -> Result<wxnet::Client, lexopt::Error> {
    let listed = |origin: Option<String>| -> Result<wxnet::ClientBuilder, lexopt::Error> {
        let b = match &c.config {
            Some(path) => {
                return wxnet::ClientBuilder::from_file(path).map_err(|e| e.to_string().into());
            }
            None => wxnet::Client::builder(),
        };
        let list: Vec<String> = origin.into_iter().collect();
        Ok(match api {
            wxnet::ApiKind::Request => b.request_domains(list),
            wxnet::ApiKind::UploadFile => b.upload_domains(list),
            wxnet::ApiKind::DownloadFile => b.download_domains(list),
            _ => b.socket_domains(list),
        })
    };
    // Without --config the URL's own origin is listed, when the policy
    // accepts it as an entry; otherwise the call meets the policy's verdict.
    let origin = url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| {
            let key = match api {
                wxnet::ApiKind::Request => "request",
                wxnet::ApiKind::UploadFile => "uploadFile",
                wxnet::ApiKind::DownloadFile => "downloadFile",
                _ => "socket",
            };
            let doc = json!({ "domains": { key: [o] } }).to_string();
            wxnet::check::domain_entries(&doc).is_ok_and(|v| v.iter().all(|e| e.problem.is_none()))
        });
    let mut b = listed(origin)?;
    for (h, a) in &c.resolve {
        b = b.resolve(h, *a);
    }
    for path in &c.cacerts {
        b = b
            .add_root_certificate(&read(path)?)
            .map_err(|e| e.to_string())?;
    }
    b.build().map_err(|e| e.to_string().into())
}

fn header_json(h: &wxnet::Header) -> Value {
    Value::Object(
        h.iter()
            .map(|(n, v)| (n.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

/// Print a call's result as JSON; exit 1 on failure.
fn finish(r: wxnet::Result<Value>) -> ExitCode {
    match r {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}", json!({ "errMsg": e.err_msg(), "errno": e.errno() }));
            ExitCode::from(1)
        }
    }
}

fn ws(c: &Common, url: &str, sends: &[String], wait: Duration) -> Result<ExitCode, lexopt::Error> {
    let client = client(c, url, wxnet::ApiKind::ConnectSocket)?;
    let task = client.connect_socket(wxnet::ConnectSocketOptions::new(url));
    if let Err(e) = task.wait_open(wait) {
        println!("{}", json!({ "errMsg": e.err_msg(), "errno": e.errno() }));
        return Ok(ExitCode::from(1));
    }
    println!("{}", json!({ "event": "open" }));
    for s in sends {
        if let Err(e) = task.send(wxnet::SocketMessage::Text(s.clone())) {
            println!("{}", json!({ "errMsg": e.err_msg() }));
            return Ok(ExitCode::from(1));
        }
        match task.recv(wait) {
            Ok(Some(wxnet::SocketMessage::Text(t))) => println!("{}", json!({ "message": t })),
            Ok(Some(wxnet::SocketMessage::Binary(b))) => {
                println!("{}", json!({ "binary": b.len() }))
            }
            Ok(None) => println!("{}", json!({ "event": "no message" })),
            Err(e) => {
                println!("{}", json!({ "errMsg": e.err_msg() }));
                return Ok(ExitCode::from(1));
            }
        }
    }
    let _ = task.close(1000, "");
    println!("{}", json!({ "event": "close" }));
    Ok(ExitCode::SUCCESS)
}
