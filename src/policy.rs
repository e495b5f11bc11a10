//! The domain and URL policy (网络使用说明), shared by every API and checked
//! again on every redirect hop.
//!
//! A URL passes when its scheme is the API's (`https`, or `wss` for sockets),
//! its host is a DNS name (not an IP address in any notation, not
//! `localhost`, not `api.weixin.qq.com`) and its origin is in the API's
//! domain list under the port rule: an entry without a port matches only
//! URLs without a port, an entry with a port only that port, and sockets
//! ignore ports.

use std::fmt;
use std::sync::{Arc, Mutex};

use url::{Host, Url};

use crate::config::ClientBuilder;
use crate::error::{Api, Error, ErrorKind, Result};

/// The four API kinds, each with its own domain list.
///
/// ```
/// assert_eq!(wxnet::ApiKind::UploadFile.wx_name(), "uploadFile");
/// assert_eq!(wxnet::ApiKind::ConnectSocket.scheme(), "wss");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKind {
    /// `wx.request`, checked against the request domain list.
    Request,
    /// `wx.uploadFile`, checked against the uploadFile domain list.
    UploadFile,
    /// `wx.downloadFile`, checked against the downloadFile domain list.
    DownloadFile,
    /// `wx.connectSocket`, checked against the socket domain list.
    ConnectSocket,
}

impl ApiKind {
    pub(crate) const ALL: [ApiKind; 4] = [
        ApiKind::Request,
        ApiKind::UploadFile,
        ApiKind::DownloadFile,
        ApiKind::ConnectSocket,
    ];

    /// The wx name used in errMsg: `request`, `uploadFile`, `downloadFile`,
    /// `connectSocket`.
    ///
    /// ```
    /// assert_eq!(wxnet::ApiKind::Request.wx_name(), "request");
    /// ```
    pub fn wx_name(self) -> &'static str {
        Api::from(self).wx_name()
    }

    /// The only scheme this API accepts outside `skip_domain_check` mode.
    ///
    /// ```
    /// assert_eq!(wxnet::ApiKind::DownloadFile.scheme(), "https");
    /// ```
    pub fn scheme(self) -> &'static str {
        match self {
            ApiKind::ConnectSocket => "wss",
            _ => "https",
        }
    }

    fn insecure_scheme(self) -> &'static str {
        match self {
            ApiKind::ConnectSocket => "ws",
            _ => "http",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The key of this API's list in `wxnet.json` (`socket` for sockets).
    pub(crate) fn list_name(self) -> &'static str {
        match self {
            ApiKind::ConnectSocket => "socket",
            other => other.wx_name(),
        }
    }
}

impl fmt::Display for ApiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wx_name())
    }
}

/// At most this many entries per domain list, as in the mp backend.
pub(crate) const MAX_DOMAINS: usize = 20;

/// The one host no mini program may call directly.
const WEIXIN_API_HOST: &str = "api.weixin.qq.com";

/// One allowed origin: lower-case host without a trailing dot, and the
/// port written in the entry, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    host: String,
    port: Option<u16>,
}

/// A URL that passed the policy, with what the connection layer needs.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The normalised URL (default port dropped, fragment kept).
    pub url: Url,
    /// Its origin, shared by every call to it that the policy allowed.
    pub origin: Arc<Allowed>,
}

impl Target {
    /// Lower-case host without a trailing dot; for IPv6 without brackets.
    pub(crate) fn host(&self) -> &str {
        &self.origin.host
    }

    /// The port to connect to (the scheme default when none is written).
    pub(crate) fn port(&self) -> u16 {
        self.origin.port
    }
}

/// The domain lists of one client and whether checks are skipped.
#[derive(Debug)]
pub(crate) struct Policy {
    lists: [Vec<Origin>; 4],
    skip: bool,
    allowed: Verdicts,
}

/// Origins most recently allowed, per API, keyed by the URL text up to
/// the end of its authority (scheme, user, host and port as written):
/// the rules read nothing else, so a later URL with the same text there
/// gets the same verdict without running them again. Only verdicts that
/// allow are kept; a refusal runs the rules, which name its reason.
#[derive(Debug, Default)]
struct Verdicts(Mutex<Vec<Verdict>>);

/// One kept verdict: the API, the URL text it was given for, the origin.
type Verdict = (ApiKind, Box<str>, Arc<Allowed>);

/// Origins a [`Verdicts`] holds at most (the oldest goes first).
const MAX_VERDICTS: usize = 32;

impl Verdicts {
    fn get(&self, api: ApiKind, key: &str) -> Option<Arc<Allowed>> {
        let list = crate::sync::lock(&self.0);
        let hit = list.iter().find(|(a, k, _)| *a == api && **k == *key);
        hit.map(|(_, _, origin)| origin.clone())
    }

    fn put(&self, api: ApiKind, key: &str, origin: &Arc<Allowed>) {
        let mut list = crate::sync::lock(&self.0);
        if list.len() == MAX_VERDICTS {
            list.remove(0);
        }
        list.push((api, key.into(), origin.clone()));
    }
}

impl Policy {
    /// Validate every entry of the four lists (in [`ApiKind::ALL`] order).
    pub(crate) fn new(lists: [&[String]; 4], skip: bool) -> Result<Policy, Error> {
        let mut out: [Vec<Origin>; 4] = Default::default();
        for api in ApiKind::ALL {
            let entries = lists[api.index()];
            if entries.len() > MAX_DOMAINS {
                return Err(config_error(&format!(
                    "{} domain list has {} entries, at most {MAX_DOMAINS} are allowed",
                    api.list_name(),
                    entries.len()
                )));
            }
            for entry in entries {
                let origin = parse_entry(api, entry).map_err(|rule| {
                    config_error(&format!("{} domain \"{entry}\": {rule}", api.list_name()))
                })?;
                if !out[api.index()].contains(&origin) {
                    out[api.index()].push(origin);
                }
            }
        }
        Ok(Policy {
            lists: out,
            skip,
            allowed: Verdicts::default(),
        })
    }

    /// The policy of a client built from `b`.
    pub(crate) fn of(b: &ClientBuilder) -> Result<Policy> {
        let [r, u, d, s] = &b.domains;
        Policy::new([r, u, d, s].map(Vec::as_slice), b.skip_domain_check)
    }

    /// Check `raw` for `api`; `Ok` means no rule forbids a connection to it.
    pub(crate) fn check(&self, api: ApiKind, raw: &str) -> Result<Target, Error> {
        let name = Api::from(api);
        let invalid = || Error::invalid_url(name, raw);
        if raw.is_empty() || raw.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(invalid());
        }
        let url = Url::parse(raw).map_err(|e| invalid().source_from(e))?;
        // The text the rules read: everything before the path.
        let key = split_authority(raw).map(|(_, rest)| &raw[..raw.len() - rest.len()]);
        if let Some(origin) = key.and_then(|k| self.allowed.get(api, k)) {
            return Ok(Target { url, origin });
        }
        let scheme = url.scheme();
        let secure = scheme == api.scheme();
        if !(secure || (self.skip && scheme == api.insecure_scheme())) {
            return Err(invalid());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid());
        }
        let Some(port) = url.port_or_known_default() else {
            return Err(invalid());
        };
        let explicit_port = explicit_port(raw).map_err(|_| invalid())?;
        let denied = || Error::new(name, ErrorKind::DomainNotAllowed);
        let host = match url.host() {
            Some(Host::Domain(d)) => normalise_host(d),
            Some(Host::Ipv4(ip)) if self.skip => ip.to_string(),
            Some(Host::Ipv6(ip)) if self.skip => ip.to_string(),
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => return Err(denied()),
            None => return Err(invalid()),
        };
        if host.is_empty() {
            return Err(invalid());
        }
        if host == WEIXIN_API_HOST {
            return Err(denied());
        }
        if !self.skip {
            if is_localhost(&host) {
                return Err(denied());
            }
            let allowed = self.lists[api.index()].iter().any(|o| {
                o.host == host && (api == ApiKind::ConnectSocket || o.port == explicit_port)
            });
            if !allowed {
                return Err(denied());
            }
        }
        let origin = Arc::new(Allowed::from_parts(&url, host, port));
        if let Some(key) = key {
            self.allowed.put(api, key, &origin);
        }
        Ok(Target { url, origin })
    }
}

impl ClientBuilder {
    /// Check `url` against the policy of `api` as a client built from
    /// these settings would, without building one (no threads, no
    /// connections): `Ok` when a call may go there, else the error the
    /// call would get, or the build's `Config` error when a domain list
    /// itself is invalid. [`Client::check_url`](crate::Client::check_url)
    /// gives the same verdicts.
    ///
    /// ```
    /// let b = wxnet::Client::builder().request_domains(["https://a.com"]);
    /// assert!(b.check_url(wxnet::ApiKind::Request, "https://a.com/x").is_ok());
    /// let e = b.check_url(wxnet::ApiKind::Request, "https://a.com:443/").unwrap_err();
    /// assert_eq!(e.err_msg(), "request:fail url not in domain list");
    /// assert_eq!(e.errno(), 600002);
    ///
    /// // The same question for the settings of a wxnet.json.
    /// let b = wxnet::ClientBuilder::from_json(r#"{"domains":{"socket":["wss://ws.a.com"]}}"#)?;
    /// assert!(b.check_url(wxnet::ApiKind::ConnectSocket, "wss://ws.a.com:8443/").is_ok());
    /// assert!(b.check_url(wxnet::ApiKind::Request, "https://ws.a.com/").is_err());
    ///
    /// let bad = wxnet::Client::builder().request_domains(["https://1.2.3.4"]);
    /// let e = bad.check_url(wxnet::ApiKind::Request, "https://a.com/").unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Config);
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn check_url(&self, api: ApiKind, url: &str) -> Result<()> {
        Policy::of(self)?.check(api, url).map(|_| ())
    }
}

/// The origin of a URL the policy allowed for a call, as the connection
/// layer sees it, so that hops to the same origin (the first one, a retry,
/// a same-origin redirect) are not checked twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Allowed {
    pub scheme: String,
    /// `host[:port]` exactly as the URL serialises it.
    pub authority: String,
    /// As in [`Target::host`].
    pub host: String,
    pub port: u16,
}

impl Allowed {
    /// The origin of `url` whose host (as in [`Target::host`]) and port
    /// are already known.
    fn from_parts(url: &Url, host: String, port: u16) -> Allowed {
        let host_str = url.host_str().unwrap_or_default();
        Allowed {
            scheme: url.scheme().to_owned(),
            authority: match url.port() {
                Some(p) => format!("{host_str}:{p}"),
                None => host_str.to_owned(),
            },
            host,
            port,
        }
    }
}

fn config_error(detail: &str) -> Error {
    Error::with_reason(Api::ClientBuilderBuild, ErrorKind::Config, detail)
}

fn normalise_host(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}

fn is_localhost(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

/// The authority of `raw` as written, and what follows it.
///
/// The URL parser drops a default port (`:443`), but the port rule needs
/// to know whether one was written, so the authority is read from the
/// original text (special schemes allow `\` for `/` and any number of
/// slashes, as the parser does).
fn split_authority(raw: &str) -> Option<(&str, &str)> {
    // Byte scans: every call of every API comes through here.
    let colon = raw.bytes().position(|b| b == b':')?;
    let rest = &raw[colon + 1..];
    let start = rest
        .bytes()
        .position(|b| b != b'/' && b != b'\\')
        .unwrap_or(rest.len());
    let rest = &rest[start..];
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'\\' | b'?' | b'#'))
        .unwrap_or(rest.len());
    Some((&rest[..end], &rest[end..]))
}

/// The port written in `raw`, `None` if none (or an empty one) is written.
fn explicit_port(raw: &str) -> Result<Option<u16>, ()> {
    let (authority, _) = split_authority(raw).ok_or(())?;
    let after = |s: &'_ str, c: u8| s.bytes().rposition(|b| b == c).map(|i| i + 1);
    let host_port = &authority[after(authority, b'@').unwrap_or(0)..];
    let port = if let Some(after_bracket) = host_port.strip_prefix('[') {
        match after_bracket.split_once(']') {
            Some((_, tail)) => tail.strip_prefix(':'),
            None => return Err(()),
        }
    } else {
        after(host_port, b':').map(|i| &host_port[i..])
    };
    match port {
        None | Some("") => Ok(None),
        Some(p) => p.parse::<u16>().map(Some).map_err(|_| ()),
    }
}

/// Parse one domain-list entry; `Err` names the rule it breaks.
pub(crate) fn parse_entry(api: ApiKind, entry: &str) -> Result<Origin, String> {
    let want = api.scheme();
    if entry.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err("contains white space or a control character".into());
    }
    if entry.contains('*') {
        return Err("wildcards are not allowed".into());
    }
    let url = Url::parse(entry).map_err(|e| format!("not a valid origin ({e})"))?;
    if url.scheme() != want {
        return Err(format!("the scheme must be {want}://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("user names and passwords are not allowed".into());
    }
    let (_, tail) = split_authority(entry).ok_or("not a valid origin")?;
    if !(tail.is_empty() || tail == "/") {
        return Err("must be an origin without path, query or fragment".into());
    }
    let host = match url.host() {
        Some(Host::Domain(d)) => normalise_host(d),
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
            return Err("IP addresses are not allowed".into());
        }
        None => return Err("has no host".into()),
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    if is_localhost(&host) {
        return Err("localhost is not allowed".into());
    }
    if host == WEIXIN_API_HOST {
        return Err(format!(
            "{WEIXIN_API_HOST} cannot be called from a mini program"
        ));
    }
    let port = explicit_port(entry).map_err(|_| "has an invalid port".to_string())?;
    Ok(Origin { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_builder_and_its_client_give_the_same_verdicts() {
        let b = ClientBuilder::default()
            .request_domains(["https://a.com", "https://b.com:8443"])
            .socket_domains(["wss://ws.a.com"]);
        let client = b.clone().build().unwrap();
        let urls = [
            "https://a.com/x",
            "https://a.com:443/",
            "https://b.com:8443/",
            "https://b.com/",
            "http://a.com/",
            "https://1.2.3.4/",
            "https://localhost/",
            "https://api.weixin.qq.com/",
            "wss://ws.a.com:9/",
            "not a url",
        ];
        for api in ApiKind::ALL {
            for url in urls {
                let (x, y) = (b.check_url(api, url), client.check_url(api, url));
                assert_eq!(
                    x.as_ref().map_err(|e| e.err_msg().to_owned()),
                    y.as_ref().map_err(|e| e.err_msg().to_owned()),
                    "{api} {url}"
                );
            }
        }
    }

    #[test]
    fn a_kept_verdict_is_the_verdict_of_the_rules() {
        let lists = [
            vec!["https://a.com".to_owned(), "https://b.com:8443".to_owned()],
            vec![],
            vec![],
            vec!["wss://a.com".to_owned()],
        ];
        let urls = [
            "https://a.com/x",
            "https://a.com/y?q#f",
            "https://A.com./z",
            "https://a.com:443/",
            "https://b.com:8443/p",
            "https://b.com/",
            "https://u@a.com/",
            "wss://a.com:9/",
            "https:a.com/",
        ];
        for skip in [false, true] {
            let kept = Policy::new(lists.each_ref().map(Vec::as_slice), skip).unwrap();
            for _ in 0..2 {
                for api in ApiKind::ALL {
                    for url in urls {
                        let fresh = Policy::new(lists.each_ref().map(Vec::as_slice), skip);
                        let want = fresh.unwrap().check(api, url);
                        let got = kept.check(api, url);
                        let show = |r: &Result<Target>| match r {
                            Ok(t) => Ok((t.url.to_string(), (*t.origin).clone())),
                            Err(e) => Err(e.err_msg().to_owned()),
                        };
                        assert_eq!(show(&got), show(&want), "{api} {url}");
                    }
                }
            }
        }
    }

    #[test]
    fn explicit_port_is_read_from_the_text() {
        assert_eq!(explicit_port("https://a.com/x"), Ok(None));
        assert_eq!(explicit_port("https://a.com:443/x"), Ok(Some(443)));
        assert_eq!(explicit_port("https://u:p@a.com:8/x"), Ok(Some(8)));
        assert_eq!(explicit_port("https://[::1]:9/"), Ok(Some(9)));
        assert_eq!(explicit_port("https://[::1]/"), Ok(None));
        assert_eq!(explicit_port("https:\\\\a.com:7\\x"), Ok(Some(7)));
        assert_eq!(explicit_port("https://a.com:/"), Ok(None));
        assert_eq!(explicit_port("https://a.com:99999/"), Err(()));
    }
}
