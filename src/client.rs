//! The client: a cheap-to-clone handle on one worker pool, one policy, one
//! ureq agent (one connection pool) and one TLS configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use ureq::Agent;

use crate::call::{Call, CallCtl, CallHandle, Callbacks, PreparedCall};
use crate::config::{ClientBuilder, MAX_TIMEOUT, NetworkTimeout, WORKERS};
use crate::deferred::Job;
use crate::error::{Error, ErrorKind, Result};
use crate::policy::{ApiKind, Policy};
use crate::pool::Pool;
use crate::proxy::Proxy;
use crate::transport::{Lookup, PolicyResolver, ResolveMap, WxConnector};

/// What every call of one client shares.
pub(crate) struct Engine {
    pub agent: Agent,
    pub policy: Arc<Policy>,
    pub referer: String,
    /// [`Engine::referer`] ready to send (`None` if it is not a valid
    /// header value, which the send then reports).
    pub referer_value: Option<ureq::http::HeaderValue>,
    pub user_agent: String,
    pub network_timeout: NetworkTimeout,
    pub max_response_size: u64,
    pub max_download_size: u64,
    /// Ask for and undo content codings (only with the `gzip` feature).
    pub decompress: bool,
    pub download_dir: PathBuf,
    pub max_message_size: usize,
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub tls: Arc<ClientConfig>,
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub resolve: Arc<ResolveMap>,
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub lookup: Lookup,
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub proxy: Option<Arc<Proxy>>,
    pub sockets: Arc<crate::socket::Registry>,
}

impl Engine {
    /// The deadline of a call to `api` made now with its own `timeout`:
    /// the call's timeout, else the client's for the API, never over 60 s.
    pub(crate) fn timeout_for(&self, api: ApiKind, own: Option<Duration>) -> Duration {
        own.unwrap_or_else(|| self.network_timeout.for_api(api))
            .min(MAX_TIMEOUT)
    }
}

struct Inner {
    engine: Arc<Engine>,
    pool: Arc<Pool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.pool.shutdown();
        self.engine.agent.clone().shutdown();
    }
}

/// A mini-program network runtime: `request`, `upload_file`,
/// `download_file` and `connect_socket` under one set of rules.
///
/// `Client` is a cheap handle (`Clone` shares everything) and is `Send +
/// Sync`: use it from any thread. When the last handle is dropped, or on
/// [`shutdown`](Client::shutdown), queued and running calls fail with
/// `abort` and every thread of the client ends.
///
/// ```
/// let client = wxnet::Client::builder()
///     .request_domains(["https://api.example.com"])
///     .build()?;
/// let other = client.clone();
/// std::thread::spawn(move || drop(other)).join().unwrap();
/// assert!(client.check_url(wxnet::ApiKind::Request, "https://api.example.com/").is_ok());
/// # Ok::<(), wxnet::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("referer", &self.inner.engine.referer)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Start configuring a client.
    ///
    /// ```
    /// let c = wxnet::Client::builder().build().unwrap();
    /// assert!(c.check_url(wxnet::ApiKind::Request, "https://a.com/").is_err());
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub(crate) fn from_builder(b: ClientBuilder) -> Result<Client> {
        let policy = Arc::new(Policy::of(&b)?);
        if b.skip_domain_check {
            log::warn!(
                "wxnet client built with skip_domain_check: domain lists are not checked and \
                 TLS certificates are NOT verified; never ship this"
            );
        }
        let tls = crate::tls::client_config(&b.roots, b.skip_domain_check)?;
        let proxy = b.proxy.clone().and_then(Result::ok).map(Arc::new);
        let resolve: Arc<ResolveMap> = Arc::new(b.resolve.iter().cloned().collect());
        let config = Agent::config_builder()
            .proxy(None)
            .https_only(false)
            .http_status_as_error(false)
            // Redirects are followed by `http::send`, which knows the
            // browser rules (307/308 repeat the body) and counts hops.
            .max_redirects(0)
            .save_redirect_history(false)
            .user_agent(b.user_agent.as_str())
            .input_buffer_size(32 * 1024)
            .output_buffer_size(16 * 1024)
            .max_response_header_size(32 * 1024)
            .max_idle_connections(3 * WORKERS)
            .max_idle_connections_per_host(WORKERS)
            // No ureq timeouts: the transport bounds every connect, read
            // and write by the call's own deadline (at most 60 s), which
            // also spares ureq its timeout bookkeeping on every I/O.
            .build();
        let agent = Agent::with_parts(
            config,
            WxConnector {
                proxy: proxy.clone(),
                tls: tls.clone(),
                allow_plain: b.skip_domain_check,
                lookup: b.lookup.clone(),
            },
            PolicyResolver {
                policy: policy.clone(),
                map: resolve.clone(),
            },
        );
        let referer = format!(
            "https://servicewechat.com/{}/{}/page-frame.html",
            b.app_id,
            b.env_version.referer_version()
        );
        let engine = Arc::new(Engine {
            agent,
            policy,
            referer_value: ureq::http::HeaderValue::from_str(&referer).ok(),
            referer,
            user_agent: b.user_agent,
            network_timeout: b.network_timeout,
            max_response_size: b.max_response_size,
            max_download_size: b.max_download_size,
            decompress: b.decompress && cfg!(feature = "gzip"),
            download_dir: b
                .download_dir
                .unwrap_or_else(|| std::env::temp_dir().join("wxnet")),
            max_message_size: b.max_message_size,
            tls,
            resolve,
            lookup: b.lookup,
            proxy,
            sockets: Arc::new(crate::socket::Registry::new()),
        });
        let spawner = crate::deferred::Spawner::new(b.thread_limit);
        let pool = Pool::start(WORKERS, b.queue_capacity, spawner).map_err(|e| {
            Error::with_detail(
                crate::Api::ClientBuilderBuild,
                ErrorKind::Config,
                &format!("cannot start threads: {e}"),
            )
            .source_from(e)
        })?;
        let sockets = Arc::downgrade(&engine.sockets);
        pool.add_hook(Box::new(move |why| {
            if let Some(s) = sockets.upgrade() {
                s.end_all(why);
            }
        }));
        Ok(Client {
            inner: Arc::new(Inner {
                engine,
                pool: Arc::new(pool),
            }),
        })
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// Check `url` against the policy of `api` without making a call:
    /// `Ok` when a call may go there, else the error the call would get.
    ///
    /// ```
    /// let c = wxnet::Client::builder().request_domains(["https://a.com"]).build().unwrap();
    /// let e = c.check_url(wxnet::ApiKind::Request, "https://a.com:443/").unwrap_err();
    /// assert_eq!(e.err_msg(), "request:fail url not in domain list");
    /// assert_eq!(e.errno(), 600002);
    /// ```
    pub fn check_url(&self, api: ApiKind, url: &str) -> Result<()> {
        self.inner.engine.policy.check(api, url).map(|_| ())
    }

    /// The proxy every call goes through, as a URL without credentials;
    /// `None` for direct connections.
    ///
    /// ```
    /// let c = wxnet::Client::builder().proxy("socks5://u:p@127.0.0.1:1080").build()?;
    /// assert_eq!(c.proxy().as_deref(), Some("socks5://127.0.0.1:1080"));
    /// assert_eq!(wxnet::Client::builder().build()?.proxy(), None);
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn proxy(&self) -> Option<String> {
        self.inner.engine.proxy.as_ref().map(|p| p.to_string())
    }

    /// The fixed `Referer` every call carries.
    ///
    /// ```
    /// let c = wxnet::Client::builder().build().unwrap();
    /// assert_eq!(c.referer(), "https://servicewechat.com/touristappid/0/page-frame.html");
    /// ```
    pub fn referer(&self) -> &str {
        &self.inner.engine.referer
    }

    /// The `User-Agent` sent unless a call sets its own.
    ///
    /// ```
    /// assert!(wxnet::Client::builder().build().unwrap().user_agent().starts_with("wxnet/"));
    /// ```
    pub fn user_agent(&self) -> &str {
        &self.inner.engine.user_agent
    }

    /// The per-API default timeouts.
    ///
    /// ```
    /// let c = wxnet::Client::builder().build().unwrap();
    /// assert_eq!(c.network_timeout(), wxnet::NetworkTimeout::default());
    /// ```
    pub fn network_timeout(&self) -> NetworkTimeout {
        self.inner.engine.network_timeout
    }

    /// The in-memory response cap of `request`.
    ///
    /// ```
    /// assert_eq!(wxnet::Client::builder().build().unwrap().max_response_size(), 10 << 20);
    /// ```
    pub fn max_response_size(&self) -> u64 {
        self.inner.engine.max_response_size
    }

    /// The file size cap of `download_file`.
    ///
    /// ```
    /// assert_eq!(wxnet::Client::builder().build().unwrap().max_download_size(), 200 << 20);
    /// ```
    pub fn max_download_size(&self) -> u64 {
        self.inner.engine.max_download_size
    }

    /// Where downloads without a `file_path` go.
    ///
    /// ```
    /// let c = wxnet::Client::builder().build().unwrap();
    /// assert!(c.download_dir().ends_with("wxnet"));
    /// ```
    pub fn download_dir(&self) -> &Path {
        &self.inner.engine.download_dir
    }

    /// The incoming WebSocket message cap.
    ///
    /// ```
    /// assert_eq!(wxnet::Client::builder().build().unwrap().max_message_size(), 1 << 20);
    /// ```
    pub fn max_message_size(&self) -> usize {
        self.inner.engine.max_message_size
    }

    /// The app went to the background: calls still pending 5 s from now
    /// fail with `interrupted` (600003), sockets are closed the same way,
    /// and from then on new calls fail at once until
    /// [`enter_foreground`](Client::enter_foreground). Calls made within
    /// the 5 s are accepted and share that fate if still pending.
    ///
    /// ```
    /// let c = wxnet::Client::builder().build().unwrap();
    /// c.enter_background();
    /// c.enter_foreground();
    /// assert!(!c.is_interrupted());
    /// ```
    pub fn enter_background(&self) {
        self.inner.pool.enter_background();
    }

    /// The app is back in the foreground: new calls are accepted again.
    ///
    /// ```
    /// let c = wxnet::Client::builder().build().unwrap();
    /// c.enter_foreground();
    /// assert!(!c.is_interrupted());
    /// ```
    pub fn enter_foreground(&self) {
        self.inner.pool.enter_foreground();
    }

    /// Whether the background interrupt has happened and new calls are
    /// refused.
    ///
    /// ```
    /// assert!(!wxnet::Client::builder().build().unwrap().is_interrupted());
    /// ```
    pub fn is_interrupted(&self) -> bool {
        self.inner.pool.is_interrupted()
    }

    /// Fail queued and running calls with `abort`, close sockets with code
    /// 1001 and end every thread of the client (also what dropping the
    /// last handle does). Later calls fail at once with `abort`. The
    /// `fail` / `complete` of the queued calls it ends run just after, on
    /// a thread it does not wait for, so they may take a lock held across
    /// `shutdown()`.
    ///
    /// ```
    /// let c = wxnet::Client::builder().build().unwrap();
    /// c.shutdown();
    /// assert!(c.is_shut_down());
    /// ```
    pub fn shutdown(&self) {
        self.inner.pool.shutdown();
        self.inner.engine.agent.clone().shutdown();
    }

    /// Whether [`shutdown`](Client::shutdown) was called.
    ///
    /// ```
    /// assert!(!wxnet::Client::builder().build().unwrap().is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.inner.pool.is_closed()
    }

    /// Start an HTTP call: take its callbacks and timeout, prepare the
    /// rest on this thread (policy, headers, body; listeners set on the
    /// options go to the task's lists), queue it.
    pub(crate) fn start<O, P>(
        &self,
        api: ApiKind,
        mut options: O,
        prepare: impl FnOnce(&Arc<Engine>, O) -> Result<P>,
    ) -> CallHandle<P>
    where
        O: crate::options::CallOptions<Output = P::Output>,
        P: PreparedCall,
    {
        let (callbacks, timeout) = options.take_common();
        // A call someone listens to goes to a worker at once; one without
        // is staged for its handle's `wait()`.
        let stage = !callbacks.any() && !options.has_listeners();
        let prepared = prepare(self.engine(), options);
        self.submit(api, timeout, prepared, callbacks, stage)
    }

    /// Queue the prepared call (or end it at once with `prepared`'s
    /// error) and return its handle.
    fn submit<P: PreparedCall>(
        &self,
        api: ApiKind,
        timeout: Option<Duration>,
        prepared: Result<P>,
        callbacks: Callbacks<P::Output>,
        stage: bool,
    ) -> CallHandle<P> {
        let invoked = Instant::now();
        let ctl = Arc::new(CallCtl::new(
            api,
            invoked,
            self.inner.engine.timeout_for(api, timeout),
        ));
        let pool = Arc::downgrade(&self.inner.pool);
        let call = match prepared {
            Ok(prepared) => Arc::new(Call::new(ctl, prepared, callbacks)),
            Err(e) => {
                let call = Arc::new(Call::<P>::refused(ctl, callbacks));
                self.run_later(call.refuse(e.for_api(api.into())));
                return CallHandle::new(call, pool);
            }
        };
        if let Err((_, kind)) = self.inner.pool.submit(call.clone(), stage) {
            let e = call.outcome.ctl.error(kind);
            self.run_later(call.refuse(e));
        }
        CallHandle::new(call, pool)
    }

    /// Run the callbacks of a refused call on a library thread after the
    /// call returned.
    fn run_later(&self, job: Option<Job>) {
        if let Some(job) = job {
            self.inner.pool.defer(job);
        }
    }

    /// What starts this client's threads.
    #[cfg(feature = "websocket")]
    pub(crate) fn spawner(&self) -> &crate::deferred::Spawner {
        self.inner.pool.spawner()
    }

    /// The short-lived threads of this client, joined at shutdown.
    pub(crate) fn late_threads(&self) -> &Arc<crate::deferred::LateThreads> {
        self.inner.pool.late()
    }
}
