//! `wxnet.json`: an app's network settings in one file, so a device and
//! the tools that check its backend read the same lists.
//!
//! ```json
//! {
//!   "appid": "wx0123456789abcdef",
//!   "envVersion": "release",
//!   "version": "1.2.0",
//!   "domains": {
//!     "request": ["https://api.example.com"],
//!     "uploadFile": ["https://up.example.com"],
//!     "downloadFile": ["https://dl.example.com"],
//!     "socket": ["wss://ws.example.com"]
//!   },
//!   "networkTimeout": {
//!     "request": 10000, "connectSocket": 10000, "uploadFile": 60000, "downloadFile": 60000
//!   },
//!   "resolve": { "api.example.com": "10.0.0.5:443" },
//!   "rootCertificates": ["certs/private-ca.pem"],
//!   "proxy": "http://127.0.0.1:8888",
//!   "skipDomainCheck": false
//! }
//! ```
//!
//! Every key is optional; unknown keys are errors (a typo must not silently
//! drop a setting). Timeouts are milliseconds, capped at 60 000 as
//! `app.json`'s `networkTimeout` is. Certificate paths are relative to the
//! file.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{ClientBuilder, EnvVersion, NetworkTimeout};
use crate::error::{Api, Error, ErrorKind, Result};

const API: Api = Api::ClientBuilderFromJson;

fn bad(field: &str, rule: &str) -> Error {
    Error::with_reason(API, ErrorKind::Config, &format!("\"{field}\" {rule}"))
}

fn only_keys(obj: &Map<String, Value>, prefix: &str, allowed: &[&str]) -> Result<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(
            &format!("{prefix}{k}"),
            &format!("is not a known key (known: {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn string<'a>(v: &'a Value, field: &str) -> Result<&'a str> {
    v.as_str().ok_or_else(|| bad(field, "must be a string"))
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| bad(field, "must be an object"))
}

fn strings(v: &Value, field: &str) -> Result<Vec<String>> {
    let items = v
        .as_array()
        .ok_or_else(|| bad(field, "must be an array of strings"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, s)| string(s, &format!("{field}[{i}]")).map(str::to_owned))
        .collect()
}

impl ClientBuilder {
    /// Settings from the text of a `wxnet.json` (see the module docs of
    /// the format); certificate paths are taken relative to the current
    /// directory. Errors name the field and the rule it breaks.
    ///
    /// ```
    /// let b = wxnet::ClientBuilder::from_json(r#"{
    ///     "appid": "wx0123456789abcdef",
    ///     "domains": { "request": ["https://api.example.com"] },
    ///     "networkTimeout": { "request": 5000 }
    /// }"#)?;
    /// let client = b.build()?;
    /// assert!(client.check_url(wxnet::ApiKind::Request, "https://api.example.com/x").is_ok());
    /// assert_eq!(client.network_timeout().request, std::time::Duration::from_secs(5));
    ///
    /// let e = wxnet::ClientBuilder::from_json(r#"{ "domain": {} }"#).unwrap_err();
    /// assert!(e.err_msg().contains("\"domain\" is not a known key"));
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<ClientBuilder> {
        ClientBuilder::from_json_in(text, Path::new("."))
    }

    /// Settings from a `wxnet.json` file; certificate paths are relative
    /// to the file's directory.
    ///
    /// ```
    /// let e = wxnet::ClientBuilder::from_file("/no/such/wxnet.json").unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Config);
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<ClientBuilder> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::with_reason(
                API,
                ErrorKind::Config,
                &format!("cannot read {}: {e}", path.display()),
            )
            .source_from(e)
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        ClientBuilder::from_json_in(&text, dir)
    }

    fn from_json_in(text: &str, dir: &Path) -> Result<ClientBuilder> {
        let root: Value = serde_json::from_str(text).map_err(|e| {
            Error::with_reason(API, ErrorKind::Config, &format!("not valid JSON: {e}"))
                .source_from(e)
        })?;
        let obj = object(&root, "(top level)")?;
        only_keys(
            obj,
            "",
            &[
                "appid",
                "envVersion",
                "version",
                "domains",
                "networkTimeout",
                "resolve",
                "rootCertificates",
                "skipDomainCheck",
                "proxy",
            ],
        )?;
        let mut b = ClientBuilder::default();
        if let Some(v) = obj.get("appid") {
            b = b.app_id(string(v, "appid")?);
        }
        let version = obj
            .get("version")
            .map(|v| string(v, "version"))
            .transpose()?;
        if let Some(v) = obj.get("envVersion") {
            b = b.env_version(env_version(v, version)?);
        }
        if let Some(v) = obj.get("domains") {
            b = domains(b, v)?;
        }
        if let Some(v) = obj.get("networkTimeout") {
            b = b.network_timeout(network_timeout(v)?);
        }
        if let Some(v) = obj.get("resolve") {
            for (host, addr) in object(v, "resolve")? {
                let field = format!("resolve.{host}");
                let addr = string(addr, &field)?
                    .parse()
                    .map_err(|_| bad(&field, "must be an address like \"10.0.0.5:443\""))?;
                b = b.resolve(host, addr);
            }
        }
        if let Some(v) = obj.get("rootCertificates") {
            for (i, p) in strings(v, "rootCertificates")?.into_iter().enumerate() {
                let path = dir.join(&p);
                let pem = std::fs::read(&path).map_err(|e| {
                    bad(
                        &format!("rootCertificates[{i}]"),
                        &format!("cannot be read from {}: {e}", path.display()),
                    )
                })?;
                b = b.add_root_certificate(pem)?;
            }
        }
        if let Some(v) = obj.get("proxy") {
            let url = string(v, "proxy")?;
            if let Err(e) = crate::proxy::Proxy::parse(url) {
                return Err(bad("proxy", &format!("is not a proxy URL: {e}")));
            }
            b = b.proxy(url);
        }
        if let Some(v) = obj.get("skipDomainCheck") {
            let skip = v
                .as_bool()
                .ok_or_else(|| bad("skipDomainCheck", "must be true or false"))?;
            b = b.skip_domain_check(skip);
        }
        Ok(b)
    }
}

/// `envVersion`, with `version` for a release.
fn env_version(v: &Value, version: Option<&str>) -> Result<EnvVersion> {
    Ok(match string(v, "envVersion")? {
        "develop" => EnvVersion::Develop,
        "trial" => EnvVersion::Trial,
        "devtools" => EnvVersion::DevTools,
        "release" => EnvVersion::Release(
            version
                .ok_or_else(|| bad("version", "is required when envVersion is \"release\""))?
                .to_owned(),
        ),
        _ => {
            return Err(bad(
                "envVersion",
                "must be one of \"develop\", \"trial\", \"devtools\", \"release\"",
            ));
        }
    })
}

/// `domains`: the four lists, each replacing the builder's.
fn domains(b: ClientBuilder, v: &Value) -> Result<ClientBuilder> {
    let d = object(v, "domains")?;
    only_keys(
        d,
        "domains.",
        &["request", "uploadFile", "downloadFile", "socket"],
    )?;
    let list = |k: &str| -> Result<Vec<String>> {
        d.get(k)
            .map_or(Ok(Vec::new()), |v| strings(v, &format!("domains.{k}")))
    };
    Ok(b.request_domains(list("request")?)
        .upload_domains(list("uploadFile")?)
        .download_domains(list("downloadFile")?)
        .socket_domains(list("socket")?))
}

/// `networkTimeout`: milliseconds per API, the default for those left out.
fn network_timeout(v: &Value) -> Result<NetworkTimeout> {
    let t = object(v, "networkTimeout")?;
    only_keys(
        t,
        "networkTimeout.",
        &["request", "connectSocket", "uploadFile", "downloadFile"],
    )?;
    let ms = |k: &str, default: Duration| -> Result<Duration> {
        match t.get(k) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .filter(|&n| n > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    bad(
                        &format!("networkTimeout.{k}"),
                        "must be a positive whole number of milliseconds",
                    )
                }),
        }
    };
    let d = NetworkTimeout::default();
    Ok(NetworkTimeout {
        request: ms("request", d.request)?,
        connect_socket: ms("connectSocket", d.connect_socket)?,
        upload_file: ms("uploadFile", d.upload_file)?,
        download_file: ms("downloadFile", d.download_file)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        ClientBuilder::from_json(text)
            .unwrap_err()
            .err_msg()
            .to_owned()
    }

    #[test]
    fn every_bad_field_is_named() {
        let p = "ClientBuilder.fromJson:fail ";
        assert!(err("[]").starts_with(&format!("{p}\"(top level)\" must be an object")));
        assert!(err("{").starts_with(&format!("{p}not valid JSON")));
        assert_eq!(
            err(r#"{"appid": 1}"#),
            format!("{p}\"appid\" must be a string")
        );
        assert!(err(r#"{"envVersion": "prod"}"#).contains("\"envVersion\" must be one of"));
        assert_eq!(
            err(r#"{"envVersion": "release"}"#),
            format!("{p}\"version\" is required when envVersion is \"release\"")
        );
        assert!(
            err(r#"{"domains": {"requests": []}}"#)
                .contains("\"domains.requests\" is not a known key")
        );
        assert_eq!(
            err(r#"{"domains": {"request": ["https://a.com", 3]}}"#),
            format!("{p}\"domains.request[1]\" must be a string")
        );
        assert_eq!(
            err(r#"{"networkTimeout": {"request": -5}}"#),
            format!(
                "{p}\"networkTimeout.request\" must be a positive whole number of milliseconds"
            )
        );
        assert!(
            err(r#"{"resolve": {"a.com": "nowhere"}}"#)
                .contains("\"resolve.a.com\" must be an address")
        );
        assert!(
            err(r#"{"rootCertificates": ["missing.pem"]}"#)
                .contains("\"rootCertificates[0]\" cannot be read")
        );
        assert_eq!(
            err(r#"{"proxy": "ftp://u:secret@127.0.0.1:21"}"#),
            format!(
                "{p}\"proxy\" is not a proxy URL: proxy URL must start with http:// or socks5://"
            )
        );
        let proxied = ClientBuilder::from_json(r#"{"proxy": "socks5://u:secret@127.0.0.1:1080"}"#);
        let proxied = proxied.unwrap().build().unwrap();
        assert_eq!(proxied.proxy().as_deref(), Some("socks5://127.0.0.1:1080"));
        assert_eq!(
            err(r#"{"skipDomainCheck": "no"}"#),
            format!("{p}\"skipDomainCheck\" must be true or false")
        );
    }

    #[test]
    fn a_full_file_builds_a_client_and_entries_are_still_policed() {
        let b = ClientBuilder::from_json(
            r#"{"appid": "wxabc", "envVersion": "release", "version": "2.1.0",
                "domains": {"request": ["https://a.com"], "socket": ["wss://w.a.com"]},
                "networkTimeout": {"request": 90000, "connectSocket": 3000},
                "resolve": {"a.com": "127.0.0.1:8443"}}"#,
        )
        .unwrap();
        let c = b.build().unwrap();
        assert_eq!(
            c.referer(),
            "https://servicewechat.com/wxabc/2.1.0/page-frame.html"
        );
        assert_eq!(c.network_timeout().connect_socket, Duration::from_secs(3));
        // 90 s is kept as given and capped where it is used.
        assert_eq!(
            c.network_timeout().for_api(crate::ApiKind::Request),
            Duration::from_secs(60)
        );
        let e = ClientBuilder::from_json(r#"{"domains": {"request": ["https://127.0.0.1"]}}"#)
            .unwrap()
            .build()
            .unwrap_err();
        assert!(e.err_msg().contains("IP addresses are not allowed"));
    }
}
