//! `wx.uploadFile`: a multipart/form-data POST whose file part is streamed
//! from disk with an exact Content-Length.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::call::{self, CallCtl, CallHandle, EndGuard, PreparedCall, TaskEvents, once};
use crate::charset;
use crate::client::{Client, Engine};
use crate::error::{Api, Error, ErrorKind, Result};
use crate::header::Header;
use crate::http::{self, Exchange, Payload, user_headers};
use crate::listener::Keep;
use crate::multipart::Multipart;
use crate::policy::ApiKind;
use crate::profile::Profile;
use crate::progress::{Throttle, Tick};
use crate::request::Method;
use crate::sync::lock;

mod options;

pub use options::UploadFileOptions;

const API: Api = Api::UploadFile;

/// Upload progress (`onProgressUpdate`): throttled to about one event per
/// percent, never going backwards, ending with exactly one 100% event when
/// the upload succeeds.
///
/// New fields may be added; to make one (say, to test your own listener),
/// start from `Default` (nothing sent yet) and set the fields.
///
/// ```
/// let mut p = wxnet::UploadProgress::default();
/// assert_eq!((p.progress, p.total_bytes_sent, p.total_bytes_expected_to_send), (0, 0, 0));
/// p.total_bytes_sent = 5;
/// p.total_bytes_expected_to_send = 10;
/// p.progress = 50;
/// assert_eq!(p.progress, 50);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct UploadProgress {
    /// Percent done, 0 to 100.
    pub progress: u8,
    /// Bytes of the request body sent so far.
    #[doc(alias = "totalBytesSent")]
    pub total_bytes_sent: u64,
    /// Length of the whole request body.
    #[doc(alias = "totalBytesExpectedToSend")]
    pub total_bytes_expected_to_send: u64,
}

/// The result of a successful upload: any HTTP status is a success.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UploadFileSuccess {
    /// The response body as text (converted to UTF-8, never parsed as
    /// JSON).
    pub data: String,
    /// HTTP status.
    #[doc(alias = "statusCode")]
    pub status_code: u16,
    /// Response headers.
    pub header: Header,
    /// Raw `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// Timings and connection facts.
    pub profile: Profile,
}

/// The handle of an upload (`UploadTask`): abort the call, wait for its result, or
/// drop it (the call goes on and its callbacks still run).
///
/// `Send + Sync`: another thread may abort a call that this one waits for.
///
/// ```
/// use std::sync::Arc;
/// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
/// // A server that accepts the connection and never answers.
/// let (url, _server) = doc::silent();
/// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
/// let task = Arc::new(client.upload_file(wxnet::UploadFileOptions::new(url, "Cargo.toml", "f")));
/// let other = task.clone();
/// std::thread::spawn(move || other.abort()).join().unwrap();
/// let task = Arc::into_inner(task).unwrap();
/// assert_eq!(task.wait().unwrap_err().kind(), wxnet::ErrorKind::Abort);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct UploadTask {
    handle: CallHandle<PreparedUpload>,
    events: Arc<Events>,
}

/// An upload's listeners: the head, and progress.
type Events = TaskEvents<UploadProgress>;

call::transfer_listeners!(
    UploadTask,
    UploadProgress,
    start: "client.upload_file(wxnet::UploadFileOptions::new(
    url,
    concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/Cargo.toml\"),
    \"file\",
))",
    done: "assert_eq!(res.data, \"ok\");"
);

impl std::fmt::Debug for UploadTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadTask")
            .field("finished", &self.handle.is_finished())
            .finish()
    }
}

impl UploadTask {
    /// Abort the call: it fails with `uploadFile:fail abort` (errno 1)
    /// promptly, whether queued or in flight, even while a read is
    /// blocked. Does nothing once the call has ended.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A server that accepts the connection and never answers.
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let task = client.upload_file(wxnet::UploadFileOptions::new(url, "Cargo.toml", "f"));
    /// task.abort();
    /// let e = task.wait().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Abort);
    /// assert_eq!(e.err_msg(), "uploadFile:fail abort");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn abort(&self) {
        self.handle.abort();
    }

    /// Block until the call ends and return its result, after its
    /// callbacks have run; a call refused before it ran returns its error
    /// at once, while its callbacks run on a library thread. Called right
    /// after a call without callbacks or listeners was made, with one of
    /// the 10 worker slots free, it runs the call on this thread (still
    /// counted among the 10) instead of handing it to a worker and
    /// waiting to be woken.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// let client = wxnet::Client::builder().upload_domains(["https://a.example.com"]).build()?;
    /// let (done, completed) = mpsc::channel();
    /// // Not in the domain list: the call fails before any traffic.
    /// let options = wxnet::UploadFileOptions::new("https://b.example.com/", "Cargo.toml", "f")
    ///     .complete(move || done.send(std::thread::current().id()).unwrap());
    /// let e = client.upload_file(options).wait().unwrap_err();
    /// assert_eq!(e.errno(), 600002);
    /// // `complete` ran on a library thread, after the call returned.
    /// let on = completed.recv_timeout(Duration::from_secs(5))?;
    /// assert_ne!(on, std::thread::current().id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(self) -> Result<UploadFileSuccess> {
        self.events.close();
        self.handle.wait()
    }

    /// Whether the call has ended (its callbacks have run).
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let pending = client.upload_file(wxnet::UploadFileOptions::new(url, "Cargo.toml", "f"));
    /// assert!(!pending.is_finished()); // the server never answers
    /// pending.abort();
    ///
    /// let strict = wxnet::Client::builder().build()?;
    /// let options = wxnet::UploadFileOptions::new("https://b.example.com/", "Cargo.toml", "f");
    /// let refused = strict.upload_file(options);
    /// assert!(refused.is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl Client {
    /// Upload a file (`wx.uploadFile`): a multipart/form-data POST with
    /// the file under field `name` and the `form_data` fields, the file
    /// streamed from disk (memory use does not grow with its size).
    ///
    /// A missing file fails with `uploadFile:fail file not found` before
    /// any network traffic.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers 200 "ok".
    /// let (url, request) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// // `skip_domain_check` lets the example use plain HTTP to 127.0.0.1.
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    /// let (tx, percents) = mpsc::channel();
    /// let options = wxnet::UploadFileOptions::new(url, file, "file")
    ///     .form_data("user", "42")
    ///     .on_progress_update(move |p| tx.send(p.progress).unwrap());
    /// let res = client.upload_file(options).wait()?;
    /// assert_eq!((res.status_code, res.data.as_str()), (200, "ok"));
    /// assert_eq!(percents.try_iter().last(), Some(100));
    /// let sent = request.recv()?;
    /// assert!(sent.starts_with("POST / HTTP/1.1\r\n"));
    /// assert!(sent.contains("content-type: multipart/form-data; boundary="));
    /// assert!(sent.contains(&std::fs::read_to_string(file)?));
    ///
    /// let options = wxnet::UploadFileOptions::new("http://127.0.0.1:9/", "no-such-file", "file");
    /// let e = client.upload_file(options).wait().unwrap_err();
    /// assert_eq!(e.err_msg(), "uploadFile:fail file not found");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upload_file(&self, options: UploadFileOptions) -> UploadTask {
        let events = TaskEvents::new(Keep::Latest, self.late_threads());
        let theirs = events.clone();
        UploadTask {
            handle: self.start(ApiKind::UploadFile, options, move |engine, o| {
                PreparedUpload::prepare(engine, o, theirs)
            }),
            events,
        }
    }
}

/// Everything a worker needs to run one upload.
pub(crate) struct PreparedUpload {
    engine: Arc<Engine>,
    url: url::Url,
    origin: Arc<crate::policy::Allowed>,
    path: PathBuf,
    headers: Vec<(String, String)>,
    multipart: Multipart,
    events: Arc<Events>,
}

impl PreparedUpload {
    fn prepare(
        engine: &Arc<Engine>,
        o: UploadFileOptions,
        events: Arc<Events>,
    ) -> Result<PreparedUpload> {
        let target = engine.policy.check(ApiKind::UploadFile, &o.url)?;
        let meta = std::fs::metadata(&o.file_path).map_err(|e| Error::from_file_io(API, e))?;
        if !meta.is_file() {
            return Err(Error::with_reason(
                API,
                ErrorKind::FileAccess,
                "file error: not a regular file",
            ));
        }
        // Opening now reports an unreadable file before any traffic.
        File::open(&o.file_path).map_err(|e| Error::from_file_io(API, e))?;
        let filename = o
            .file_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let multipart = Multipart::new(&o.form_data, &o.name, &filename, meta.len());
        let mut headers = user_headers(API, &o.header)?;
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        headers.push(("content-type".into(), multipart.content_type()));
        let mut url = target.url;
        let origin = target.origin;
        url.set_fragment(None);
        if let Some(f) = o.on_headers_received {
            events.listen(|e| &e.headers, once(f));
        }
        if let Some(f) = o.on_progress_update {
            events.listen(|e| &e.body, f);
        }
        Ok(PreparedUpload {
            engine: engine.clone(),
            url,
            origin,
            path: o.file_path,
            headers,
            multipart,
            events,
        })
    }
}

/// Progress of the body as ureq reads it, shared by every opening of the
/// body (a 307 redirect sends it again).
struct Sent {
    throttle: Throttle,
    events: Arc<Events>,
    total: u64,
}

impl Sent {
    fn emit(&mut self, tick: Option<Tick>) {
        if let Some(t) = tick {
            self.events.emit_body(UploadProgress {
                progress: t.progress,
                total_bytes_sent: t.done,
                total_bytes_expected_to_send: self.total,
            });
        }
    }
}

/// Counts bytes as ureq reads the body, and turns a file read error into
/// the call's error (ureq would only see an io failure).
struct Counting<R> {
    inner: R,
    done: u64,
    sent: Arc<Mutex<Sent>>,
    ctl: Option<Arc<CallCtl>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.done += n as u64;
                let mut sent = lock(&self.sent);
                let tick = sent.throttle.update(self.done);
                sent.emit(tick);
                if let Some(c) = &self.ctl {
                    if let Err(e) = sent.events.check(c) {
                        c.stash(e);
                        return Err(io::Error::other("a progress listener panicked"));
                    }
                }
                Ok(n)
            }
            Err(e) => {
                if let Some(c) = &self.ctl {
                    c.stash(Error::from_file_io(
                        API,
                        io::Error::new(e.kind(), e.to_string()),
                    ));
                }
                Err(e)
            }
        }
    }
}

impl PreparedCall for PreparedUpload {
    type Output = UploadFileSuccess;

    fn run(self, ctl: &Arc<CallCtl>) -> Result<UploadFileSuccess> {
        let events = self.events.clone();
        let _end = EndGuard(&events);
        let total = self.multipart.len();
        let sent = Arc::new(Mutex::new(Sent {
            throttle: Throttle::new(Some(total)),
            events: events.clone(),
            total,
        }));
        let open = {
            let (path, multipart, sent) = (self.path.clone(), self.multipart.clone(), sent.clone());
            move || -> Result<Box<dyn Read>> {
                let file = File::open(&path).map_err(|e| Error::from_file_io(API, e))?;
                Ok(Box::new(Counting {
                    inner: multipart.reader(io::BufReader::with_capacity(32 * 1024, file)),
                    done: 0,
                    sent: sent.clone(),
                    ctl: call::current(),
                }))
            }
        };
        let exchange = Exchange {
            method: Method::Post,
            url: &self.url,
            origin: &self.origin,
            headers: &self.headers,
            default_content_type: None,
            body: Payload::Stream {
                len: total,
                open: &open,
            },
            manual_redirect: false,
        };
        let http::Sent {
            response,
            redirects,
        } = http::send(&self.engine, ctl, &exchange)?;
        let (status_code, header, cookies) = http::head(&response);
        events.emit_head(ctl, status_code, &header, &cookies)?;
        let decoding = http::decoding(&self.engine, &response, Method::Post);
        let mut body = response.into_body();
        let declared = body.content_length().filter(|_| !decoding.transforms());
        let mut reader = decoding.reader(body.with_config().limit(u64::MAX).reader(), true);
        let raw = http::read_capped(ctl, &mut reader, self.engine.max_response_size, declared)?;
        drop(reader);
        ctl.trace().response_end = Some(Instant::now());
        let data = charset::decode_text(raw, header.get("content-type"))
            .map_err(|()| ctl.error(ErrorKind::ConvertFailed))?;
        {
            let mut s = lock(&sent);
            let tick = s.throttle.finish(total);
            s.emit(tick);
        }
        // A listener panicking on the final 100 % fails the call too.
        events.check(ctl)?;
        Ok(UploadFileSuccess {
            data,
            status_code,
            header,
            cookies,
            profile: Profile::from_ctl(ctl, redirects),
        })
    }
}
