//! [`RequestOptions`]: the object passed to `wx.request`, as a builder.

use std::time::Duration;

use super::{DataType, Redirect, RequestSuccess, ResponseType};
use crate::call::Callbacks;
use crate::data::RequestData;
use crate::error::Error;
use crate::http;
use crate::options::CallOptions;
use crate::request::{HeadersReceived, Method};

pub(super) type ChunkFn = Box<dyn FnMut(&[u8]) + Send>;

/// The options of [`Client::request`](crate::Client::request):
/// `RequestOptions::new(url)` and setters, as the object passed to
/// `wx.request`.
///
/// ```
/// use std::time::Duration;
/// let o = wxnet::RequestOptions::new("https://api.example.com/x")
///     .method(wxnet::Method::Post)
///     .header("x-token", "t")
///     .data(serde_json::json!({"a": 1}))
///     .timeout(Duration::from_secs(5));
/// assert_eq!(o.url(), "https://api.example.com/x");
/// ```
pub struct RequestOptions {
    pub(super) url: String,
    pub(super) method: Method,
    pub(super) header: Vec<(String, String)>,
    pub(super) data: Option<RequestData>,
    pub(super) timeout: Option<Duration>,
    pub(super) data_type: DataType,
    pub(super) response_type: ResponseType,
    pub(super) enable_chunked: bool,
    pub(super) redirect: Redirect,
    pub(super) on_headers_received: Option<http::HeadersFn>,
    pub(super) on_chunk_received: Option<ChunkFn>,
    pub(super) callbacks: Callbacks<RequestSuccess>,
}

impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestOptions")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("header", &self.header)
            .field("data", &self.data)
            .field("timeout", &self.timeout)
            .field("data_type", &self.data_type)
            .field("response_type", &self.response_type)
            .field("enable_chunked", &self.enable_chunked)
            .field("redirect", &self.redirect)
            .finish_non_exhaustive()
    }
}

impl RequestOptions {
    /// A GET of `url` with every other option at its default.
    ///
    /// ```
    /// let o = wxnet::RequestOptions::new("https://a.com/");
    /// assert_eq!(o.url(), "https://a.com/");
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        RequestOptions {
            url: url.into(),
            method: Method::Get,
            header: Vec::new(),
            data: None,
            timeout: None,
            data_type: DataType::Json,
            response_type: ResponseType::Text,
            enable_chunked: false,
            redirect: Redirect::Follow,
            on_headers_received: None,
            on_chunk_received: None,
            callbacks: Callbacks::default(),
        }
    }

    /// The URL.
    ///
    /// ```
    /// assert_eq!(wxnet::RequestOptions::new("https://a.com/b").url(), "https://a.com/b");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The HTTP method. Defaults to GET.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// client.request(wxnet::RequestOptions::new(&url).method(wxnet::Method::Delete)).wait()?;
    /// assert!(request.recv()?.starts_with("DELETE / HTTP/1.1\r\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn method(mut self, m: Method) -> Self {
        self.method = m;
        self
    }

    /// Add a request header. `Referer` is always replaced by the fixed
    /// `https://servicewechat.com/{appid}/{version}/page-frame.html`, and
    /// framing headers (`Content-Length`, `Transfer-Encoding`, `Host`,
    /// `Connection`) are the library's. Defaults to none.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let options = wxnet::RequestOptions::new(&url)
    ///     .header("x-token", "t")
    ///     .header("referer", "x");
    /// client.request(options).wait()?;
    /// let sent = request.recv()?;
    /// assert!(sent.contains("\r\nx-token: t\r\n"));
    /// assert!(sent.contains("servicewechat.com") && !sent.contains("referer: x"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.header.push((name.into(), value.into()));
        self
    }

    /// The data to send: see [`RequestData`]. With GET, an object or a
    /// string goes into the query string; otherwise it is the body.
    /// Defaults to none.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let data = serde_json::json!({"page": 2});
    /// client.request(wxnet::RequestOptions::new(&url).data(data)).wait()?;
    /// assert!(request.recv()?.starts_with("GET /?page=2 HTTP/1.1\r\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn data(mut self, d: impl Into<RequestData>) -> Self {
        self.data = Some(d.into());
        self
    }

    /// This call's timeout, counted from the moment of the call (queue
    /// wait included) and capped at 60 s. Defaults to the client's
    /// `network_timeout.request`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A server that accepts the connection and never answers.
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let t0 = Instant::now();
    /// let options = wxnet::RequestOptions::new(url).timeout(Duration::from_millis(200));
    /// let e = client.request(options).wait().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Timeout);
    /// assert!(t0.elapsed() < Duration::from_secs(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// How text is interpreted. Defaults to [`DataType::Json`].
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, _) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{\"a\":1}");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let options = wxnet::RequestOptions::new(url).data_type(wxnet::DataType::Other);
    /// let res = client.request(options).wait()?;
    /// assert_eq!(res.data.as_text(), Some("{\"a\":1}"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn data_type(mut self, t: DataType) -> Self {
        self.data_type = t;
        self
    }

    /// How the body is delivered. Defaults to [`ResponseType::Text`].
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// use wxnet::ResponseType::ArrayBuffer;
    /// let res = client
    ///     .request(wxnet::RequestOptions::new(url).response_type(ArrayBuffer))
    ///     .wait()?;
    /// assert_eq!(res.data.as_bytes(), Some(&b"ok"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn response_type(mut self, t: ResponseType) -> Self {
        self.response_type = t;
        self
    }

    /// Stream the body to the chunk listeners as it arrives instead of
    /// collecting it (the result's `data` is then empty). No size cap
    /// applies to what listeners take; pieces kept for a first listener
    /// count against `max_response_size`. Defaults to `false`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let body = Arc::new(Mutex::new(Vec::new()));
    /// let sink = body.clone();
    /// let res = client
    ///     .request(wxnet::RequestOptions::new(url)
    ///         .enable_chunked(true)
    ///         .on_chunk_received(move |c| sink.lock().unwrap().extend_from_slice(c)))
    ///     .wait()?;
    /// assert_eq!(*body.lock().unwrap(), b"ok");
    /// assert_eq!(res.data.as_bytes(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn enable_chunked(mut self, on: bool) -> Self {
        self.enable_chunked = on;
        self
    }

    /// Follow redirects or return the 3xx. Defaults to
    /// [`Redirect::Follow`].
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, _) =
    ///     doc::serve_once("HTTP/1.1 302 Found\r\nlocation: /next\r\ncontent-length: 0\r\n\r\n");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let options = wxnet::RequestOptions::new(url).redirect(wxnet::Redirect::Manual);
    /// let res = client.request(options).wait()?;
    /// assert_eq!(res.status_code, 302);
    /// assert_eq!(res.header.get("location"), Some("/next"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn redirect(mut self, r: Redirect) -> Self {
        self.redirect = r;
        self
    }

    /// Called with each piece of the body as it arrives, when
    /// `enable_chunked` is on: shorthand for
    /// [`RequestTask::on_chunk_received`](crate::RequestTask::on_chunk_received)
    /// right after the call.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let (tx, chunks) = mpsc::channel();
    /// client
    ///     .request(wxnet::RequestOptions::new(url)
    ///         .enable_chunked(true)
    ///         .on_chunk_received(move |c| tx.send(c.to_vec()).unwrap()))
    ///     .wait()?;
    /// assert_eq!(chunks.iter().flatten().collect::<Vec<u8>>(), b"ok");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_chunk_received(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Self {
        self.on_chunk_received = Some(Box::new(f));
        self
    }

    /// Called once with the final response head, before the body is read:
    /// shorthand for
    /// [`RequestTask::on_headers_received`](crate::RequestTask::on_headers_received)
    /// right after the call.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let (tx, heads) = mpsc::channel();
    /// client
    ///     .request(wxnet::RequestOptions::new(url).on_headers_received(move |h| {
    ///         tx.send(h.status_code).unwrap();
    ///     }))
    ///     .wait()?;
    /// assert_eq!(heads.recv()?, 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_headers_received(
        mut self,
        f: impl FnOnce(&HeadersReceived) + Send + 'static,
    ) -> Self {
        self.on_headers_received = Some(Box::new(f));
        self
    }

    /// Called with the result when the call succeeds (any HTTP status is
    /// a success), before `complete`.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let (tx, results) = mpsc::channel();
    /// client
    ///     .request(wxnet::RequestOptions::new(url).success(move |r| {
    ///         tx.send(r.status_code).unwrap();
    ///     }))
    ///     .wait()?;
    /// assert_eq!(results.recv()?, 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn success(mut self, f: impl FnOnce(&RequestSuccess) + Send + 'static) -> Self {
        self.callbacks.success = Some(Box::new(f));
        self
    }

    /// Called with the error when the call fails, before `complete`.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// let client = wxnet::Client::builder().request_domains(["https://api.example.com"]).build()?;
    /// let (tx, errors) = mpsc::channel();
    /// // Not in the domain list: refused before any traffic.
    /// let options = wxnet::RequestOptions::new("https://other.example.com/");
    /// client.request(options.fail(move |e| tx.send(e.errno()).unwrap()));
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
    /// let client = wxnet::Client::builder().build()?;
    /// let order = Arc::new(Mutex::new(Vec::new()));
    /// let (a, b) = (order.clone(), order.clone());
    /// let (done, completed) = mpsc::channel();
    /// client
    ///     .request(wxnet::RequestOptions::new("https://a.com/")
    ///         .fail(move |_| a.lock().unwrap().push("fail"))
    ///         .complete(move || {
    ///             b.lock().unwrap().push("complete");
    ///             done.send(()).unwrap();
    ///         }))
    ///     .wait()
    ///     .unwrap_err();
    /// // Refused before it ran: the callbacks run on a library thread.
    /// completed.recv_timeout(std::time::Duration::from_secs(5))?;
    /// assert_eq!(*order.lock().unwrap(), ["fail", "complete"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn complete(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.callbacks.complete = Some(Box::new(f));
        self
    }
}

impl CallOptions for RequestOptions {
    type Output = RequestSuccess;

    fn take_common(&mut self) -> (Callbacks<RequestSuccess>, Option<Duration>) {
        (std::mem::take(&mut self.callbacks), self.timeout)
    }

    fn has_listeners(&self) -> bool {
        self.on_headers_received.is_some() || self.on_chunk_received.is_some()
    }
}
