//! The options of `connect_socket`.

use std::time::Duration;

use crate::call::Callbacks;

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

crate::options::call_setters!(
    ConnectSocketOptions,
    new: "wxnet::ConnectSocketOptions::new(\"wss://ws.example.com/\")",
    network_timeout: "connect_socket"
);

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

    /// Send small messages at once instead of batching them (Nagle off).
    /// Defaults to `true`: latency matters more than packet count here.
    ///
    /// ```
    /// let o = wxnet::ConnectSocketOptions::new("wss://a.com/").tcp_no_delay(false);
    /// assert!(format!("{o:?}").contains("tcp_no_delay: false"));
    /// ```
    pub fn tcp_no_delay(mut self, on: bool) -> Self {
        self.tcp_no_delay = on;
        self
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
}
