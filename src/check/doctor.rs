//! `doctor`: the domain lists of a client's settings judged entry by
//! entry with the client's own policy, so that every bad entry is named
//! at once (building a client stops at the first).

use crate::ClientBuilder;
use crate::error::{Error, ErrorKind};
use crate::policy::{ApiKind, MAX_DOMAINS, parse_entry};

use super::{API, Checker};

/// One domain-list entry, as `doctor` sees it.
///
/// ```
/// let b = wxnet::Client::builder().request_domains(["https://10.0.0.1"]);
/// let v = &wxnet::check::domain_verdicts(&b)[0];
/// assert_eq!((v.list.as_str(), v.entry.as_str()), ("request", "https://10.0.0.1"));
/// assert_eq!(v.problem.as_deref(), Some("IP addresses are not allowed"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryVerdict {
    /// The list: `request`, `uploadFile`, `downloadFile` or `socket`.
    pub list: String,
    /// The entry as written.
    pub entry: String,
    /// `None` when the policy accepts the entry, else the rule it breaks.
    pub problem: Option<String>,
}

/// The verdict on every entry of the four domain lists of `builder` (as
/// [`ClientBuilder::build`] would judge them: scheme, IP, localhost,
/// wildcards, paths, `api.weixin.qq.com`, at most 20 per list), in list
/// order, without stopping at the first bad one.
///
/// ```
/// let b = wxnet::Client::builder()
///     .request_domains(["https://a.com", "https://*.a.com"])
///     .socket_domains(["https://ws.a.com"]);
/// let v = wxnet::check::domain_verdicts(&b);
/// assert_eq!(v.len(), 3);
/// assert_eq!(v[0].problem, None);
/// assert!(v[1].problem.as_deref().unwrap().contains("wildcard"));
/// assert_eq!(v[2].list, "socket");
/// assert!(v[2].problem.as_deref().unwrap().contains("wss://"));
/// assert!(b.build().is_err(), "the build refuses what doctor names");
/// ```
pub fn domain_verdicts(builder: &ClientBuilder) -> Vec<EntryVerdict> {
    ApiKind::ALL
        .into_iter()
        .flat_map(|api| {
            let list = builder.domains[api as usize]
                .iter()
                .map(|e| Some(e.as_str()));
            list_verdicts(api, list)
        })
        .collect()
}

/// The verdicts on one list; `None` stands for an entry that is not a
/// string.
fn list_verdicts<'a>(
    api: ApiKind,
    entries: impl Iterator<Item = Option<&'a str>>,
) -> Vec<EntryVerdict> {
    entries
        .enumerate()
        .map(|(i, entry)| {
            let mut problem = match entry {
                Some(e) => parse_entry(api, e).err(),
                None => Some("must be a string".into()),
            };
            if i >= MAX_DOMAINS && problem.is_none() {
                problem = Some(format!("over the limit of {MAX_DOMAINS} entries per list"));
            }
            EntryVerdict {
                list: api.list_name().to_owned(),
                entry: entry.unwrap_or_default().to_owned(),
                problem,
            }
        })
        .collect()
}

/// [`domain_verdicts`] for the `domains` of a `wxnet.json` text; its
/// other settings are not read. `Err` when the text is not JSON or a list
/// is not an array of strings.
///
/// ```
/// let json = r#"{"domains":{"request":["https://a.com","https://1.2.3.4"]}}"#;
/// let v = wxnet::check::domain_entries(json).unwrap();
/// assert_eq!(v[0].problem, None);
/// assert!(v[1].problem.as_deref().unwrap().contains("IP"));
/// ```
pub fn domain_entries(wxnet_json: &str) -> Result<Vec<EntryVerdict>, Error> {
    let bad = |why: String| Error::with_reason(API, ErrorKind::Config, &why);
    let root: serde_json::Value =
        serde_json::from_str(wxnet_json).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let mut out = Vec::new();
    let Some(domains) = root.get("domains") else {
        return Ok(out);
    };
    for api in ApiKind::ALL {
        let key = api.list_name();
        let Some(list) = domains.get(key) else {
            continue;
        };
        let entries = list
            .as_array()
            .ok_or_else(|| bad(format!("domains.{key} must be an array of strings")))?;
        out.extend(list_verdicts(api, entries.iter().map(|e| e.as_str())));
    }
    Ok(out)
}

/// The proxy a client built from `builder` would reach servers through,
/// as a URL without its credentials; `None` when it connects directly or
/// the proxy URL is not valid (the build names the fault). The checks of
/// a [`Checker`] always connect directly, whatever this says.
///
/// ```
/// let b = wxnet::Client::builder().proxy("http://me:secret@127.0.0.1:8888");
/// assert_eq!(wxnet::check::configured_proxy(&b).as_deref(), Some("http://127.0.0.1:8888"));
/// assert_eq!(wxnet::check::configured_proxy(&wxnet::Client::builder()), None);
/// ```
pub fn configured_proxy(builder: &ClientBuilder) -> Option<String> {
    match &builder.proxy {
        Some(Ok(p)) => Some(p.to_string()),
        _ => None,
    }
}

impl Checker {
    /// A checker that connects and trusts as a client built from
    /// `builder` would: its `resolve` map and its added roots.
    ///
    /// ```
    /// let addr = "127.0.0.1:8443".parse().unwrap();
    /// let b = wxnet::Client::builder().resolve("api.example.com", addr);
    /// let c = wxnet::check::Checker::for_client(&b);
    /// assert!(format!("{c:?}").contains("8443"));
    /// ```
    pub fn for_client(builder: &ClientBuilder) -> Checker {
        let mut c = Checker::new();
        for (host, addr) in &builder.resolve {
            c = c.resolve(host, *addr);
        }
        c.roots.extend(builder.roots.iter().cloned());
        c
    }
}
