//! [`DownloadFileOptions`]: the object passed to `wx.downloadFile`, as a
//! builder.

use std::path::PathBuf;
use std::time::Duration;

use super::{DownloadFileSuccess, DownloadProgress};
use crate::HeadersReceived;
use crate::call::Callbacks;
use crate::error::Error;
use crate::http;
use crate::options::CallOptions;

pub(super) type ProgressFn = Box<dyn FnMut(&DownloadProgress) + Send>;

/// The options of [`Client::download_file`](crate::Client::download_file).
///
/// ```
/// let o = wxnet::DownloadFileOptions::new("https://dl.example.com/a.zip").file_path("/tmp/a.zip");
/// assert_eq!(o.url(), "https://dl.example.com/a.zip");
/// ```
pub struct DownloadFileOptions {
    pub(super) url: String,
    pub(super) file_path: Option<PathBuf>,
    pub(super) header: Vec<(String, String)>,
    pub(super) timeout: Option<Duration>,
    pub(super) on_progress_update: Option<ProgressFn>,
    pub(super) on_headers_received: Option<http::HeadersFn>,
    pub(super) callbacks: Callbacks<DownloadFileSuccess>,
}

impl std::fmt::Debug for DownloadFileOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadFileOptions")
            .field("url", &self.url)
            .field("file_path", &self.file_path)
            .field("header", &self.header)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl DownloadFileOptions {
    /// Download `url` to a new file in the client's download directory.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let dir = std::env::temp_dir().join(format!("wxnet-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let client = wxnet::Client::builder().skip_domain_check(true).download_dir(&dir).build()?;
    /// let res = client.download_file(wxnet::DownloadFileOptions::new(url)).wait()?;
    /// assert!(res.path().starts_with(&dir));
    /// assert_eq!(res.temp_file_path.as_deref(), Some(res.path()));
    /// assert_eq!(std::fs::read(res.path())?, b"ok");
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        DownloadFileOptions {
            url: url.into(),
            file_path: None,
            header: Vec::new(),
            timeout: None,
            on_progress_update: None,
            on_headers_received: None,
            callbacks: Callbacks::default(),
        }
    }

    /// The URL.
    ///
    /// ```
    /// let o = wxnet::DownloadFileOptions::new("https://dl.a.com/f");
    /// assert_eq!(o.url(), "https://dl.a.com/f");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Write the file here (its directory must exist; an existing file is
    /// replaced only when the download succeeds). Defaults to a new file
    /// in the client's download directory.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let path = std::env::temp_dir().join(format!("wxnet-doc-{}.bin", std::process::id()));
    /// let options = wxnet::DownloadFileOptions::new(url).file_path(&path);
    /// let res = client.download_file(options).wait()?;
    /// assert_eq!(res.file_path.as_deref(), Some(path.as_path()));
    /// assert_eq!(res.temp_file_path, None);
    /// assert_eq!(std::fs::read(&path)?, b"ok");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn file_path(mut self, p: impl Into<PathBuf>) -> Self {
        self.file_path = Some(p.into());
        self
    }

    /// Called as the file is written; see [`DownloadProgress`]. Shorthand
    /// for [`DownloadTask::on_progress_update`](crate::DownloadTask::on_progress_update)
    /// right after the call.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let path = std::env::temp_dir().join(format!("wxnet-doc-{}.bin", std::process::id()));
    /// let (tx, events) = mpsc::channel();
    /// let options = wxnet::DownloadFileOptions::new(url)
    ///     .file_path(&path)
    ///     .on_progress_update(move |p| tx.send(*p).unwrap());
    /// client.download_file(options).wait()?;
    /// let last = events.try_iter().last().unwrap();
    /// assert_eq!(last.progress, 100);
    /// assert_eq!((last.total_bytes_written, last.total_bytes_expected_to_write), (2, Some(2)));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_progress_update(mut self, f: impl FnMut(&DownloadProgress) + Send + 'static) -> Self {
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
    /// let path = std::env::temp_dir().join(format!("wxnet-doc-{}.bin", std::process::id()));
    /// let options = wxnet::DownloadFileOptions::new(&url).file_path(&path)
    ///     .header("x-token", "t")
    ///     .header("referer", "x");
    /// let res = client.download_file(options).wait()?;
    /// let sent = request.recv()?;
    /// assert!(sent.contains("\r\nx-token: t\r\n"));
    /// assert!(sent.contains("servicewechat.com") && !sent.contains("referer: x"));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.header.push((name.into(), value.into()));
        self
    }

    /// This call's timeout, counted from the moment of the call (queue
    /// wait included) and capped at 60 s. Defaults to the client's
    /// `network_timeout.download_file`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A server that accepts the connection and never answers.
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let path = std::env::temp_dir().join(format!("wxnet-doc-{}.bin", std::process::id()));
    /// let t0 = Instant::now();
    /// let options = wxnet::DownloadFileOptions::new(url).file_path(&path)
    ///     .timeout(Duration::from_millis(200));
    /// let e = client.download_file(options).wait().unwrap_err();
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
    /// [`DownloadTask::on_headers_received`](crate::DownloadTask::on_headers_received)
    /// right after the call.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let path = std::env::temp_dir().join(format!("wxnet-doc-{}.bin", std::process::id()));
    /// let (tx, heads) = mpsc::channel();
    /// let options = wxnet::DownloadFileOptions::new(url).file_path(&path)
    ///     .on_headers_received(move |h| tx.send(h.status_code).unwrap());
    /// let res = client.download_file(options).wait()?;
    /// assert_eq!(heads.recv()?, 200);
    /// std::fs::remove_file(&path)?;
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
    /// let path = std::env::temp_dir().join(format!("wxnet-doc-{}.bin", std::process::id()));
    /// let (tx, results) = mpsc::channel();
    /// let options = wxnet::DownloadFileOptions::new(url).file_path(&path)
    ///     .success(move |r| tx.send(r.status_code).unwrap());
    /// let res = client.download_file(options).wait()?;
    /// assert_eq!(results.recv()?, 200);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn success(mut self, f: impl FnOnce(&DownloadFileSuccess) + Send + 'static) -> Self {
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
    /// let options = wxnet::DownloadFileOptions::new("https://dl.example.com/f");
    /// client.download_file(options.fail(move |e| tx.send(e.errno()).unwrap()));
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
    /// let options = wxnet::DownloadFileOptions::new("https://dl.example.com/f")
    ///     .fail(move |_| a.lock().unwrap().push("fail"))
    ///     .complete(move || {
    ///         b.lock().unwrap().push("complete");
    ///         done.send(()).unwrap();
    ///     });
    /// client.download_file(options).wait().unwrap_err();
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

impl CallOptions for DownloadFileOptions {
    type Output = DownloadFileSuccess;

    fn take_common(&mut self) -> (Callbacks<DownloadFileSuccess>, Option<Duration>) {
        (std::mem::take(&mut self.callbacks), self.timeout)
    }

    fn has_listeners(&self) -> bool {
        self.on_headers_received.is_some() || self.on_progress_update.is_some()
    }
}
