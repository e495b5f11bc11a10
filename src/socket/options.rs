//! The options of `connect_socket`.

use std::time::Duration;

use crate::call::Callbacks;
use crate::error::Error;

/// The options of [`Client::connect_socket`](crate::Client::connect_socket).
///
/// ```
/// use std::time::Duration;
/// let o = wxnet::ConnectSocketOptions::new("wss://ws.example.com/chat")
///     .header("x-token", "t")
///     .protocols(["chat.v2", "chat.v1"])
///     .tcp_no_delay(true)
///     .timeout(Duration::from_secs(5));
/// assert_eq!(o.url(), "wss://ws.example.com/chat");
/// ```
pub struct ConnectSocketOptions {
    pub(super) url: String,
    pub(super) header: Vec<(String, String)>,
    pub(super) protocols: Vec<String>,
    pub(super) tcp_no_delay: bool,
    pub(super) timeout: Option<Duration>,
    pub(super) callbacks: Callbacks<()>,
}

impl std::fmt::Debug for ConnectSocketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSocketOptions")
            .field("url", &self.url)
            .field("header", &self.header)
            .field("protocols", &self.protocols)
            .field("tcp_no_delay", &self.tcp_no_delay)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ConnectSocketOptions {
    /// Connect to the `wss://` URL `url`.
    ///
    /// ```
    /// assert_eq!(wxnet::ConnectSocketOptions::new("wss://a.com/").url(), "wss://a.com/");
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        ConnectSocketOptions {
            url: url.into(),
            header: Vec::new(),
            protocols: Vec::new(),
            tcp_no_delay: true,
            timeout: None,
            callbacks: Callbacks::default(),
        }
    }

    /// The URL.
    ///
    /// ```
    /// assert_eq!(wxnet::ConnectSocketOptions::new("wss://a.com/x").url(), "wss://a.com/x");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Subprotocols to offer (`Sec-WebSocket-Protocol`); the server must
    /// pick one of them. Defaults to none.
    ///
    /// ```
    /// use std::io::Read;
    /// // A local server that only reads the upgrade request.
    /// let server = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let url = format!("ws://{}/", server.local_addr()?);
    /// let options = wxnet::ConnectSocketOptions::new(url).protocols(["chat.v2", "chat.v1"]);
    /// let _task = client.connect_socket(options);
    /// let (mut peer, _) = server.accept()?;
    /// let mut request = Vec::new();
    /// while !request.ends_with(b"\r\n\r\n") {
    ///     let mut byte = [0u8];
    ///     peer.read_exact(&mut byte)?;
    ///     request.push(byte[0]);
    /// }
    /// let request = String::from_utf8(request)?.to_lowercase();
    /// assert!(request.contains("sec-websocket-protocol: chat.v2, chat.v1\r\n"), "{request}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Add a header to the upgrade request. `Referer` is always replaced
    /// by the fixed `https://servicewechat.com/{appid}/{version}/page-frame.html`,
    /// and framing headers (`Content-Length`, `Transfer-Encoding`, `Host`,
    /// `Connection`) are the library's. Defaults to none.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the upgrade request and refuses it.
    /// let (url, request) = doc::serve_once("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let options = wxnet::ConnectSocketOptions::new(url.replacen("http", "ws", 1))
    ///     .header("x-token", "t")
    ///     .header("referer", "x");
    /// let _task = client.connect_socket(options);
    /// let sent = request.recv()?;
    /// assert!(sent.contains("\r\nx-token: t\r\n"), "{sent}");
    /// assert!(sent.contains("servicewechat.com") && !sent.contains("referer: x"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.header.push((name.into(), value.into()));
        self
    }

    /// How long the connection and the upgrade may take, counted from the
    /// moment of the call and capped at 60 s; an open socket has no
    /// timeout. Defaults to the client's `network_timeout.connect_socket`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A server that accepts the connection and never answers.
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let t0 = Instant::now();
    /// let options = wxnet::ConnectSocketOptions::new(url.replacen("http", "ws", 1))
    ///     .timeout(Duration::from_millis(200));
    /// let task = client.connect_socket(options);
    /// let e = task.wait_open(Duration::from_secs(10)).unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Timeout);
    /// assert!(t0.elapsed() < Duration::from_secs(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Send small messages at once instead of batching them (Nagle off).
    /// Defaults to `true`: latency matters more than packet count here.
    ///
    /// ```
    /// let o = wxnet::ConnectSocketOptions::new("wss://a.com/");
    /// assert!(o.is_tcp_no_delay());
    /// assert!(!o.tcp_no_delay(false).is_tcp_no_delay());
    /// ```
    pub fn tcp_no_delay(mut self, on: bool) -> Self {
        self.tcp_no_delay = on;
        self
    }

    /// Whether small messages go out at once (Nagle off); see
    /// [`tcp_no_delay`](Self::tcp_no_delay).
    ///
    /// ```
    /// let o = wxnet::ConnectSocketOptions::new("wss://a.com/").tcp_no_delay(false);
    /// assert!(!o.is_tcp_no_delay());
    /// ```
    pub fn is_tcp_no_delay(&self) -> bool {
        self.tcp_no_delay
    }

    /// Called when the socket task was created (the connection itself is
    /// reported by `on_open` / `on_error`).
    ///
    /// ```
    /// // A server that never answers: the task is created all the same.
    /// let hole = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let url = format!("ws://{}/", hole.local_addr()?);
    /// let options = wxnet::ConnectSocketOptions::new(url).success(move || tx.send(()).unwrap());
    /// let task = client.connect_socket(options);
    /// rx.recv()?;
    /// assert_eq!(task.ready_state(), wxnet::ReadyState::Connecting);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn success(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.callbacks.success = Some(Box::new(move |_: &()| f()));
        self
    }

    /// Called with the error when the socket task could not be created
    /// (the URL or the socket count refused it), before `complete`. A
    /// connection that fails later is reported by `on_error` and `on_close`.
    ///
    /// ```
    /// let client = wxnet::Client::builder().socket_domains(["wss://ws.example.com"]).build()?;
    /// let (tx, errors) = std::sync::mpsc::channel();
    /// // Not in the domain list: refused before any traffic.
    /// let options = wxnet::ConnectSocketOptions::new("wss://other.example.com/");
    /// let _task = client.connect_socket(options.fail(move |e| tx.send(e.errno()).unwrap()));
    /// assert_eq!(errors.recv()?, 600002);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fail(mut self, f: impl FnOnce(&Error) + Send + 'static) -> Self {
        self.callbacks.fail = Some(Box::new(f));
        self
    }

    /// Called after `success` or `fail`, exactly once.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex, mpsc};
    /// let client = wxnet::Client::builder().build()?; // empty domain lists
    /// let order = Arc::new(Mutex::new(Vec::new()));
    /// let (a, b) = (order.clone(), order.clone());
    /// let (done, finished) = mpsc::channel();
    /// let options = wxnet::ConnectSocketOptions::new("wss://ws.example.com/")
    ///     .fail(move |_| a.lock().unwrap().push("fail"))
    ///     .complete(move || {
    ///         b.lock().unwrap().push("complete");
    ///         done.send(()).unwrap();
    ///     });
    /// let _task = client.connect_socket(options);
    /// finished.recv()?;
    /// assert_eq!(*order.lock().unwrap(), ["fail", "complete"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn complete(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.callbacks.complete = Some(Box::new(f));
        self
    }
}
