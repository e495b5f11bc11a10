//! Client settings: the app identity, the four domain lists, timeouts,
//! limits and TLS roots, each with its documented default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::client::Client;
use crate::error::{Api, Error, ErrorKind, Result};
use crate::policy::ApiKind;
use crate::proxy::Proxy;
use crate::transport::Lookup;

/// The longest any call may take, whatever its settings say.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Number of worker threads serving the HTTP APIs together, as the
/// mini-program runtime allows 10 concurrent requests.
pub const WORKERS: usize = 10;

/// The build of the mini program, which decides the version in the fixed
/// `Referer` header.
///
/// ```
/// use wxnet::EnvVersion;
/// assert_eq!(EnvVersion::Develop.referer_version(), "0");
/// assert_eq!(EnvVersion::Trial.referer_version(), "0");
/// assert_eq!(EnvVersion::DevTools.referer_version(), "devtools");
/// assert_eq!(EnvVersion::Release("1.2.0".into()).referer_version(), "1.2.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EnvVersion {
    /// A development build (`develop`): version `0`.
    #[default]
    Develop,
    /// A trial build (`trial`): version `0`.
    Trial,
    /// The WeChat devtools: version `devtools`.
    DevTools,
    /// A released build with its version string.
    Release(String),
}

impl EnvVersion {
    /// The version part of `https://servicewechat.com/{appid}/{version}/page-frame.html`.
    pub fn referer_version(&self) -> &str {
        match self {
            EnvVersion::Develop | EnvVersion::Trial => "0",
            EnvVersion::DevTools => "devtools",
            EnvVersion::Release(v) => v,
        }
    }
}

/// Default timeouts per API (`networkTimeout` in `app.json`). Each is
/// capped at 60 s; a call's own `timeout` takes precedence.
///
/// ```
/// use std::time::Duration;
/// let t = wxnet::NetworkTimeout { request: Duration::from_secs(5), ..Default::default() };
/// assert_eq!(t.request, Duration::from_secs(5));
/// assert_eq!(t.download_file, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkTimeout {
    /// For `request`. Defaults to 60 s.
    pub request: Duration,
    /// For `connect_socket` (the handshake). Defaults to 60 s.
    pub connect_socket: Duration,
    /// For `upload_file`. Defaults to 60 s.
    pub upload_file: Duration,
    /// For `download_file`. Defaults to 60 s.
    pub download_file: Duration,
}

impl Default for NetworkTimeout {
    fn default() -> Self {
        NetworkTimeout {
            request: MAX_TIMEOUT,
            connect_socket: MAX_TIMEOUT,
            upload_file: MAX_TIMEOUT,
            download_file: MAX_TIMEOUT,
        }
    }
}

impl NetworkTimeout {
    /// The timeout of `api`, capped at 60 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = wxnet::NetworkTimeout { request: Duration::from_secs(99), ..Default::default() };
    /// assert_eq!(t.for_api(wxnet::ApiKind::Request), Duration::from_secs(60));
    /// ```
    pub fn for_api(&self, api: ApiKind) -> Duration {
        let t = match api {
            ApiKind::Request => self.request,
            ApiKind::UploadFile => self.upload_file,
            ApiKind::DownloadFile => self.download_file,
            ApiKind::ConnectSocket => self.connect_socket,
        };
        t.min(MAX_TIMEOUT)
    }
}

/// Builds a [`Client`]; every setter states its default.
///
/// ```
/// let client = wxnet::Client::builder()
///     .app_id("wx0123456789abcdef")
///     .request_domains(["https://api.example.com"])
///     .build()?;
/// assert!(client.check_url(wxnet::ApiKind::Request, "https://api.example.com/x").is_ok());
/// # Ok::<(), wxnet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(crate) app_id: String,
    pub(crate) env_version: EnvVersion,
    pub(crate) domains: [Vec<String>; 4],
    pub(crate) network_timeout: NetworkTimeout,
    pub(crate) resolve: Vec<(String, SocketAddr)>,
    pub(crate) lookup: Lookup,
    pub(crate) roots: Vec<CertificateDer<'static>>,
    pub(crate) skip_domain_check: bool,
    pub(crate) max_response_size: u64,
    pub(crate) max_download_size: u64,
    pub(crate) download_dir: Option<PathBuf>,
    pub(crate) queue_capacity: usize,
    pub(crate) thread_limit: Option<usize>,
    pub(crate) max_message_size: usize,
    pub(crate) user_agent: String,
    /// Parsed when set; the error is kept for `build()`.
    pub(crate) proxy: Option<std::result::Result<Proxy, String>>,
    pub(crate) decompress: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            app_id: "touristappid".into(),
            env_version: EnvVersion::Develop,
            domains: Default::default(),
            network_timeout: NetworkTimeout::default(),
            resolve: Vec::new(),
            lookup: Lookup::default(),
            roots: Vec::new(),
            skip_domain_check: false,
            max_response_size: 10 * 1024 * 1024,
            max_download_size: 200 * 1024 * 1024,
            download_dir: None,
            queue_capacity: 1024,
            thread_limit: None,
            max_message_size: 1024 * 1024,
            user_agent: concat!("wxnet/", env!("CARGO_PKG_VERSION")).into(),
            proxy: None,
            decompress: true,
        }
    }
}

impl ClientBuilder {
    /// The AppID, used in the `Referer` header. Defaults to
    /// `touristappid`, the mini-program tourist mode id.
    ///
    /// ```
    /// let c = wxnet::Client::builder().app_id("wx0123456789abcdef").build().unwrap();
    /// assert_eq!(c.referer(), "https://servicewechat.com/wx0123456789abcdef/0/page-frame.html");
    /// ```
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = app_id.into();
        self
    }

    /// Which build runs: decides the `Referer` version. Defaults to
    /// [`EnvVersion::Develop`] (version `0`).
    ///
    /// ```
    /// let c = wxnet::Client::builder()
    ///     .env_version(wxnet::EnvVersion::Release("2.0.1".into()))
    ///     .build().unwrap();
    /// assert!(c.referer().ends_with("/2.0.1/page-frame.html"));
    /// ```
    pub fn env_version(mut self, v: EnvVersion) -> Self {
        self.env_version = v;
        self
    }

    /// The request domain list: origins `https://host[:port]`, at most
    /// 20. Defaults to empty (no request is allowed).
    ///
    /// ```
    /// use wxnet::ApiKind::Request;
    /// let c = wxnet::Client::builder().request_domains(["https://api.a.com"]).build()?;
    /// assert!(c.check_url(Request, "https://api.a.com/v1").is_ok());
    /// assert_eq!(c.check_url(Request, "https://b.com/").unwrap_err().errno(), 600002);
    ///
    /// let e = wxnet::Client::builder().request_domains(["http://a.com"]).build().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Config);
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn request_domains<I, S>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.domains_for(ApiKind::Request, origins)
    }

    /// The uploadFile domain list: origins `https://host[:port]`, at
    /// most 20. Defaults to empty.
    ///
    /// ```
    /// let c = wxnet::Client::builder().upload_domains(["https://up.a.com"]).build()?;
    /// assert!(c.check_url(wxnet::ApiKind::UploadFile, "https://up.a.com/u").is_ok());
    /// assert!(c.check_url(wxnet::ApiKind::Request, "https://up.a.com/u").is_err());
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn upload_domains<I, S>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.domains_for(ApiKind::UploadFile, origins)
    }

    /// The downloadFile domain list: origins `https://host[:port]`, at
    /// most 20. Defaults to empty.
    ///
    /// ```
    /// let c = wxnet::Client::builder().download_domains(["https://dl.a.com"]).build()?;
    /// assert!(c.check_url(wxnet::ApiKind::DownloadFile, "https://dl.a.com/f").is_ok());
    /// assert!(c.check_url(wxnet::ApiKind::UploadFile, "https://dl.a.com/f").is_err());
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn download_domains<I, S>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.domains_for(ApiKind::DownloadFile, origins)
    }

    /// The socket domain list: origins `wss://host[:port]` (the port is
    /// ignored when matching), at most 20. Defaults to empty.
    ///
    /// ```
    /// let c = wxnet::Client::builder().socket_domains(["wss://ws.a.com"]).build()?;
    /// assert!(c.check_url(wxnet::ApiKind::ConnectSocket, "wss://ws.a.com:8443/chat").is_ok());
    /// assert!(c.check_url(wxnet::ApiKind::ConnectSocket, "wss://a.com/chat").is_err());
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn socket_domains<I, S>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.domains_for(ApiKind::ConnectSocket, origins)
    }

    /// Replace the domain list of `api`.
    fn domains_for<I, S>(mut self, api: ApiKind, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.domains[api as usize] = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Per-API default timeouts (`networkTimeout`). Defaults to 60 s for
    /// each; values above 60 s are capped.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = wxnet::NetworkTimeout { request: Duration::from_secs(3), ..Default::default() };
    /// let c = wxnet::Client::builder().network_timeout(t).build().unwrap();
    /// assert_eq!(c.network_timeout().request, Duration::from_secs(3));
    /// ```
    pub fn network_timeout(mut self, t: NetworkTimeout) -> Self {
        self.network_timeout = t;
        self
    }

    /// Connect to `addr` whenever a URL names `host` (like curl
    /// `--resolve`, but for every port), while SNI, certificate checks and
    /// the domain lists still use the name. Defaults to none: names are
    /// looked up in DNS.
    ///
    /// ```
    /// let c = wxnet::Client::builder()
    ///     .request_domains(["https://api.example.com"])
    ///     .resolve("api.example.com", "127.0.0.1:8443".parse().unwrap())
    ///     .build().unwrap();
    /// assert!(c.check_url(wxnet::ApiKind::Request, "https://api.example.com/").is_ok());
    /// ```
    pub fn resolve(mut self, host: &str, addr: SocketAddr) -> Self {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.resolve.retain(|(h, _)| *h != host);
        self.resolve.push((host, addr));
        self
    }

    /// Look host names up with `lookup` instead of the system resolver, for
    /// names that [`resolve`](ClientBuilder::resolve) does not map. Meant
    /// for tests that must not reach a DNS server; not part of the stable
    /// API.
    ///
    /// ```
    /// use std::io;
    /// let client = wxnet::Client::builder()
    ///     .request_domains(["https://nowhere.example.com"])
    ///     .resolver(|host, _port| Err(io::Error::new(io::ErrorKind::NotFound, host)))
    ///     .build()?;
    /// let options = wxnet::RequestOptions::new("https://nowhere.example.com/");
    /// let e = client.request(options).wait().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Dns);
    /// assert_eq!(e.err_msg(), "request:fail dns lookup failed");
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    #[doc(hidden)]
    pub fn resolver<F>(mut self, lookup: F) -> Self
    where
        F: Fn(&str, u16) -> std::io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    {
        self.lookup = Lookup::new(std::sync::Arc::new(lookup));
        self
    }

    /// Trust `cert` (PEM, possibly several certificates, or one DER
    /// certificate) as a root in addition to webpki-roots. Defaults to
    /// webpki-roots only.
    ///
    /// ```
    /// let e = wxnet::Client::builder().add_root_certificate(b"junk").unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Config);
    /// ```
    pub fn add_root_certificate(mut self, cert: impl AsRef<[u8]>) -> Result<Self> {
        let certs = crate::tls::parse_certificates(cert.as_ref())?;
        self.roots.extend(certs);
        Ok(self)
    }

    /// The devtools option "不校验合法域名、TLS 版本及 HTTPS 证书": no domain
    /// list, `http`/`ws`, IP addresses and `localhost` allowed, and
    /// certificates **not verified**. Defaults to `false`; a client built
    /// with it logs a warning. For development only.
    ///
    /// ```
    /// let c = wxnet::Client::builder().skip_domain_check(true).build().unwrap();
    /// assert!(c.check_url(wxnet::ApiKind::Request, "http://127.0.0.1:8080/").is_ok());
    /// ```
    pub fn skip_domain_check(mut self, skip: bool) -> Self {
        self.skip_domain_check = skip;
        self
    }

    /// Largest response body `request` keeps in memory, counted after a
    /// content coding is undone; larger ones fail with `exceed max size`.
    /// Bodies streamed with `enable_chunked` are not limited. Defaults to
    /// 10 MiB.
    ///
    /// ```
    /// let c = wxnet::Client::builder().max_response_size(1 << 20).build().unwrap();
    /// assert_eq!(c.max_response_size(), 1 << 20);
    /// ```
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Largest file `download_file` writes (decoded bytes for a
    /// compressed body); larger ones fail with errno
    /// 603301 and leave no file. Defaults to 200 MiB.
    ///
    /// ```
    /// let c = wxnet::Client::builder().max_download_size(1 << 30).build().unwrap();
    /// assert_eq!(c.max_download_size(), 1 << 30);
    /// ```
    pub fn max_download_size(mut self, bytes: u64) -> Self {
        self.max_download_size = bytes;
        self
    }

    /// Directory for downloads without a `file_path`. Defaults to
    /// `wxnet` under the system temporary directory.
    ///
    /// ```
    /// let c = wxnet::Client::builder().download_dir("/var/tmp/dl").build().unwrap();
    /// assert_eq!(c.download_dir(), std::path::Path::new("/var/tmp/dl"));
    /// ```
    pub fn download_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.download_dir = Some(dir.into());
        self
    }

    /// How many calls may wait for a worker; one more fails at once with
    /// `exceed max task count` (600007). Bounded so a burst cannot grow
    /// memory without limit. Defaults to 1024; at least 1.
    ///
    /// ```
    /// let e = wxnet::Client::builder().queue_capacity(0).build().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Config);
    /// ```
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n;
        self
    }

    /// For fault tests: the client starts at most `n` threads over its
    /// life (workers, timer, sockets, callback threads), and refuses more
    /// the way the system does when it runs out of threads. A client that
    /// cannot start its 10 workers and timer is not built.
    ///
    /// ```
    /// use std::error::Error as _;
    /// let e = wxnet::Client::builder().thread_limit(3).build().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Config);
    /// assert!(e.err_msg().contains("cannot start threads: Resource temporarily unavailable"));
    /// assert!(e.source().is_some());
    /// ```
    #[doc(hidden)]
    pub fn thread_limit(mut self, n: usize) -> Self {
        self.thread_limit = Some(n);
        self
    }

    /// Largest incoming WebSocket message. Defaults to 1 MiB, sized for
    /// small devices (tungstenite's own default is 64 MiB).
    ///
    /// ```
    /// let c = wxnet::Client::builder().max_message_size(64 * 1024).build().unwrap();
    /// assert_eq!(c.max_message_size(), 64 * 1024);
    /// ```
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The `User-Agent` header, unless a call sets its own. Defaults to
    /// `wxnet/<version>`.
    ///
    /// ```
    /// let c = wxnet::Client::builder().user_agent("probe/1").build().unwrap();
    /// assert_eq!(c.user_agent(), "probe/1");
    /// ```
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Reach every target through a proxy: `http://[user:pass@]host:port`
    /// asks an HTTP proxy for a `CONNECT` tunnel, `socks5://…` a SOCKS5
    /// proxy (RFC 1928, user/password of RFC 1929), for all four APIs.
    /// TLS runs end to end inside the tunnel, so a debugging proxy that
    /// shows the traffic (Charles, mitmproxy) needs its CA trusted with
    /// [`add_root_certificate`](ClientBuilder::add_root_certificate).
    ///
    /// The domain lists apply to the target URLs exactly as without a
    /// proxy; the proxy itself is never checked against them. With a
    /// [`resolve`](ClientBuilder::resolve) entry for the target's name the
    /// proxy is asked for the mapped address (SNI and the certificate check
    /// still use the name), otherwise for the name. Credentials (percent
    /// encoded in the URL) never appear in `Debug`, logs or errMsg; a
    /// failing proxy fails the call with errno 600001 and a reason naming
    /// its address. Defaults to none (direct connections); the environment
    /// (`HTTPS_PROXY` and the like) is never read.
    ///
    /// A URL that is not one of the two forms fails [`build`](Self::build).
    ///
    /// ```
    /// let b = wxnet::Client::builder().proxy("http://user:secret@127.0.0.1:8888");
    /// assert!(!format!("{b:?}").contains("secret"));
    /// let client = b.build()?;
    /// assert_eq!(client.proxy().as_deref(), Some("http://127.0.0.1:8888"));
    ///
    /// let e = wxnet::Client::builder().proxy("ftp://127.0.0.1:21").build().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Config);
    /// assert_eq!(
    ///     e.err_msg(),
    ///     "ClientBuilder.build:fail proxy URL must start with http:// or socks5://"
    /// );
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = Some(Proxy::parse(url));
        self
    }

    /// Ask for compressed responses and decode them: unless a call sets
    /// its own `Accept-Encoding`, send `Accept-Encoding: gzip, deflate`,
    /// and undo `gzip` / `x-gzip` and `deflate` bodies (whether asked for
    /// or not) before the size caps, `data_length` and progress count
    /// them. `header` still shows the `content-encoding` the server sent.
    /// Defaults to `true` with the `gzip` feature (on by default); without
    /// that feature, or with `false`, nothing is asked for and a coded body
    /// is kept as sent for `arraybuffer` and downloads and fails text
    /// requests with `unsupported content encoding: <coding>`.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// client.request(wxnet::RequestOptions::new(url)).wait()?;
    /// let asked = request.recv()?.contains("\r\naccept-encoding: gzip, deflate\r\n");
    /// assert_eq!(asked, cfg!(feature = "gzip"));
    ///
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let plain = wxnet::Client::builder().skip_domain_check(true).decompress(false).build()?;
    /// plain.request(wxnet::RequestOptions::new(url)).wait()?;
    /// assert!(!request.recv()?.contains("accept-encoding"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decompress(mut self, on: bool) -> Self {
        self.decompress = on;
        self
    }

    /// Validate every setting and start the client (its 10 workers and
    /// timer thread).
    ///
    /// Fails with [`ErrorKind::Config`] naming the entry and the rule for
    /// a bad domain entry (another scheme, an IP address, `localhost`,
    /// `api.weixin.qq.com`, a wildcard, a path, user info, more than 20
    /// entries), a bad AppID or version, or a zero queue capacity.
    ///
    /// ```
    /// let e = wxnet::Client::builder()
    ///     .request_domains(["https://127.0.0.1"])
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(
    ///     e.err_msg(),
    ///     "ClientBuilder.build:fail request domain \"https://127.0.0.1\": \
    ///      IP addresses are not allowed"
    /// );
    /// ```
    pub fn build(self) -> Result<Client> {
        let bad = |d: &str| Error::with_reason(Api::ClientBuilderBuild, ErrorKind::Config, d);
        if !is_token(&self.app_id) {
            return Err(bad(&format!(
                "app id \"{}\" is not a valid AppID",
                self.app_id
            )));
        }
        if !is_token(self.env_version.referer_version()) {
            return Err(bad(&format!(
                "version \"{}\" is not a valid version string",
                self.env_version.referer_version()
            )));
        }
        if let Some(Err(e)) = &self.proxy {
            return Err(bad(e));
        }
        if self.queue_capacity == 0 {
            return Err(bad("queue capacity must be at least 1"));
        }
        if ureq::http::HeaderValue::from_str(&self.user_agent).is_err() {
            return Err(bad("user agent is not a valid header value"));
        }
        Client::from_builder(self)
    }
}

/// Visible ASCII without `/`: safe inside the Referer path.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\')
}
