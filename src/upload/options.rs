//! [`UploadFileOptions`]: the object passed to `wx.uploadFile`, as a
//! builder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{UploadFileSuccess, UploadProgress};
use crate::HeadersReceived;
use crate::call::Callbacks;
use crate::error::Error;
use crate::http;
use crate::options::CallOptions;

pub(super) type ProgressFn = Box<dyn FnMut(&UploadProgress) + Send>;

/// The options of [`Client::upload_file`](crate::Client::upload_file).
///
/// ```
/// let o = wxnet::UploadFileOptions::new("https://up.example.com/u", "/tmp/photo.jpg", "file")
///     .form_data("user", "42")
///     .header("x-token", "t");
/// assert_eq!(o.url(), "https://up.example.com/u");
/// ```
pub struct UploadFileOptions {
    pub(super) url: String,
    pub(super) file_path: PathBuf,
    pub(super) name: String,
    pub(super) header: Vec<(String, String)>,
    pub(super) form_data: Vec<(String, String)>,
    pub(super) timeout: Option<Duration>,
    pub(super) on_progress_update: Option<ProgressFn>,
    pub(super) on_headers_received: Option<http::HeadersFn>,
    pub(super) callbacks: Callbacks<UploadFileSuccess>,
}

impl std::fmt::Debug for UploadFileOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadFileOptions")
            .field("url", &self.url)
            .field("file_path", &self.file_path)
            .field("name", &self.name)
            .field("header", &self.header)
            .field("form_data", &self.form_data)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl UploadFileOptions {
    /// Upload the file at `file_path` to `url` as the multipart field
    /// `name`.
    ///
    /// ```
    /// let o = wxnet::UploadFileOptions::new("https://up.example.com/u", "a.txt", "f");
    /// assert_eq!(o.file_path(), std::path::Path::new("a.txt"));
    /// ```
    pub fn new(
        url: impl Into<String>,
        file_path: impl Into<PathBuf>,
        name: impl Into<String>,
    ) -> Self {
        UploadFileOptions {
            url: url.into(),
            file_path: file_path.into(),
            name: name.into(),
            header: Vec::new(),
            form_data: Vec::new(),
            timeout: None,
            on_progress_update: None,
            on_headers_received: None,
            callbacks: Callbacks::default(),
        }
    }

    /// The URL.
    ///
    /// ```
    /// let o = wxnet::UploadFileOptions::new("https://u.a.com/", "f", "n");
    /// assert_eq!(o.url(), "https://u.a.com/");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The file to upload.
    ///
    /// ```
    /// let o = wxnet::UploadFileOptions::new("https://u.a.com/", "f", "n");
    /// assert_eq!(o.file_path().to_str(), Some("f"));
    /// ```
    pub fn file_path(&self) -> &Path {
        &self.file_path
    }

    /// Add a form field sent before the file (`formData`). Defaults to
    /// none.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    /// let options = wxnet::UploadFileOptions::new(url, file, "file").form_data("user", "42");
    /// client.upload_file(options).wait()?;
    /// let sent = request.recv()?;
    /// let field = sent.find("name=\"user\"\r\n\r\n42\r\n").unwrap();
    /// assert!(field < sent.find("name=\"file\"").unwrap());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn form_data(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.form_data.push((name.into(), value.into()));
        self
    }

    /// Called as the body is sent; see [`UploadProgress`]. Shorthand for
    /// [`UploadTask::on_progress_update`](crate::UploadTask::on_progress_update)
    /// right after the call.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    /// let (tx, events) = mpsc::channel();
    /// let options = wxnet::UploadFileOptions::new(url, file, "file")
    ///     .on_progress_update(move |p| tx.send(p.progress).unwrap());
    /// client.upload_file(options).wait()?;
    /// let percents: Vec<u8> = events.try_iter().collect();
    /// assert!(percents.windows(2).all(|w| w[0] <= w[1]));
    /// assert_eq!(percents.iter().filter(|&&p| p == 100).count(), 1);
    /// assert_eq!(percents.last(), Some(&100));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_progress_update(mut self, f: impl FnMut(&UploadProgress) + Send + 'static) -> Self {
        self.on_progress_update = Some(Box::new(f));
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
    /// let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    /// let options = wxnet::UploadFileOptions::new(&url, file, "file")
    ///     .header("x-token", "t")
    ///     .header("referer", "x");
    /// let res = client.upload_file(options).wait()?;
    /// let sent = request.recv()?;
    /// assert!(sent.contains("\r\nx-token: t\r\n"));
    /// assert!(sent.contains("servicewechat.com") && !sent.contains("referer: x"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.header.push((name.into(), value.into()));
        self
    }

    /// This call's timeout, counted from the moment of the call (queue
    /// wait included) and capped at 60 s. Defaults to the client's
    /// `network_timeout.upload_file`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A server that accepts the connection and never answers.
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    /// let t0 = Instant::now();
    /// let options = wxnet::UploadFileOptions::new(url, file, "file")
    ///     .timeout(Duration::from_millis(200));
    /// let e = client.upload_file(options).wait().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Timeout);
    /// assert!(t0.elapsed() < Duration::from_secs(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Called once with the final response head, before the body is read:
    /// shorthand for
    /// [`UploadTask::on_headers_received`](crate::UploadTask::on_headers_received)
    /// right after the call.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    /// let (tx, heads) = mpsc::channel();
    /// let options = wxnet::UploadFileOptions::new(url, file, "file")
    ///     .on_headers_received(move |h| tx.send(h.status_code).unwrap());
    /// let res = client.upload_file(options).wait()?;
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
    /// let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    /// let (tx, results) = mpsc::channel();
    /// let options = wxnet::UploadFileOptions::new(url, file, "file")
    ///     .success(move |r| tx.send(r.status_code).unwrap());
    /// let res = client.upload_file(options).wait()?;
    /// assert_eq!(results.recv()?, 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn success(mut self, f: impl FnOnce(&UploadFileSuccess) + Send + 'static) -> Self {
        self.callbacks.success = Some(Box::new(f));
        self
    }

    /// Called with the error when the call fails, before `complete`.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// let client = wxnet::Client::builder().build()?;
    /// let (tx, errors) = mpsc::channel();
    /// // Not in the (empty) domain list: refused before any traffic.
    /// let options = wxnet::UploadFileOptions::new("https://up.example.com/", "Cargo.toml", "f");
    /// client.upload_file(options.fail(move |e| tx.send(e.errno()).unwrap()));
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
    /// let options = wxnet::UploadFileOptions::new("https://up.example.com/", "Cargo.toml", "f")
    ///     .fail(move |_| a.lock().unwrap().push("fail"))
    ///     .complete(move || {
    ///         b.lock().unwrap().push("complete");
    ///         done.send(()).unwrap();
    ///     });
    /// client.upload_file(options).wait().unwrap_err();
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

impl CallOptions for UploadFileOptions {
    type Output = UploadFileSuccess;

    fn take_common(&mut self) -> (Callbacks<UploadFileSuccess>, Option<Duration>) {
        (std::mem::take(&mut self.callbacks), self.timeout)
    }

    fn has_listeners(&self) -> bool {
        self.on_headers_received.is_some() || self.on_progress_update.is_some()
    }
}
