//! `wx.downloadFile`: a GET streamed to a partial file that is renamed
//! into place only when the whole body arrived; any failure leaves no file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::call::{self, CallCtl, CallHandle, EndGuard, PreparedCall, TaskEvents, once};
use crate::client::{Client, Engine};
use crate::error::{Api, Error, ErrorKind, Result};
use crate::header::Header;
use crate::http::{self, Exchange, Payload, user_headers};
use crate::listener::Keep;
use crate::policy::ApiKind;
use crate::profile::Profile;
use crate::progress::{Throttle, Tick};
use crate::request::Method;

mod options;

pub use options::DownloadFileOptions;

const API: Api = Api::DownloadFile;

/// Size of each read from the network and write to the file.
const CHUNK: usize = 32 * 1024;

/// Download progress (`onProgressUpdate`): throttled to about one event
/// per percent (per 100 ms when the size is unknown), never going
/// backwards, ending with exactly one 100% event when the download
/// succeeds.
///
/// New fields may be added; to make one (say, to test your own listener),
/// start from `Default` (nothing written, size unknown) and set the fields.
///
/// ```
/// let mut p = wxnet::DownloadProgress::default();
/// assert_eq!((p.progress, p.total_bytes_written), (0, 0));
/// assert_eq!(p.total_bytes_expected_to_write, None);
/// p.total_bytes_written = 1;
/// p.total_bytes_expected_to_write = Some(10);
/// p.progress = 10;
/// assert_eq!(p.total_bytes_expected_to_write, Some(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DownloadProgress {
    /// Percent done, 0 to 100 (0 until the end when the size is unknown).
    pub progress: u8,
    /// Bytes written to the file so far.
    #[doc(alias = "totalBytesWritten")]
    pub total_bytes_written: u64,
    /// The size from `Content-Length`; `None` (the mini program's `-1`)
    /// when the server sends none or the body is compressed (its decoded
    /// size is known only at the end), until the final event.
    #[doc(alias = "totalBytesExpectedToWrite")]
    pub total_bytes_expected_to_write: Option<u64>,
}

/// The result of a successful download: any HTTP status is a success (the
/// body is the file).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DownloadFileSuccess {
    /// Where the file is, when no `file_path` was given: a new file in the
    /// client's download directory.
    #[doc(alias = "tempFilePath")]
    pub temp_file_path: Option<PathBuf>,
    /// The `file_path` given in the options, now holding the file.
    #[doc(alias = "filePath")]
    pub file_path: Option<PathBuf>,
    /// HTTP status.
    #[doc(alias = "statusCode")]
    pub status_code: u16,
    /// Response headers.
    pub header: Header,
    /// Raw `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// Bytes written.
    #[doc(alias = "dataLength")]
    pub data_length: u64,
    /// Timings and connection facts.
    pub profile: Profile,
}

impl DownloadFileSuccess {
    /// The file's path, whichever of `file_path` and `temp_file_path` is
    /// set.
    pub fn path(&self) -> &Path {
        self.file_path
            .as_deref()
            .or(self.temp_file_path.as_deref())
            .unwrap_or(Path::new(""))
    }
}

/// The handle of a download (`DownloadTask`): abort the call, wait for its result, or
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
/// let task = Arc::new(client.download_file(wxnet::DownloadFileOptions::new(url)));
/// let other = task.clone();
/// std::thread::spawn(move || other.abort()).join().unwrap();
/// let task = Arc::into_inner(task).unwrap();
/// assert_eq!(task.wait().unwrap_err().kind(), wxnet::ErrorKind::Abort);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DownloadTask {
    handle: CallHandle<PreparedDownload>,
    events: Arc<Events>,
}

/// A download's listeners: the head, and progress.
type Events = TaskEvents<DownloadProgress>;

call::transfer_listeners!(
    DownloadTask,
    DownloadProgress,
    start: "client.download_file(wxnet::DownloadFileOptions::new(url))",
    done: "std::fs::remove_file(res.temp_file_path.unwrap())?;"
);

impl std::fmt::Debug for DownloadTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadTask")
            .field("finished", &self.handle.is_finished())
            .finish()
    }
}

impl DownloadTask {
    /// Abort the call: it fails with `downloadFile:fail abort` (errno 1)
    /// promptly, whether queued or in flight, even while a read is
    /// blocked. Does nothing once the call has ended.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A server that accepts the connection and never answers.
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let task = client.download_file(wxnet::DownloadFileOptions::new(url));
    /// task.abort();
    /// let e = task.wait().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Abort);
    /// assert_eq!(e.err_msg(), "downloadFile:fail abort");
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
    /// let client = wxnet::Client::builder().download_domains(["https://a.example.com"]).build()?;
    /// let (done, completed) = mpsc::channel();
    /// // Not in the domain list: the call fails before any traffic.
    /// let options = wxnet::DownloadFileOptions::new("https://b.example.com/f")
    ///     .complete(move || done.send(std::thread::current().id()).unwrap());
    /// let e = client.download_file(options).wait().unwrap_err();
    /// assert_eq!(e.errno(), 600002);
    /// // `complete` ran on a library thread, after the call returned.
    /// let on = completed.recv_timeout(Duration::from_secs(5))?;
    /// assert_ne!(on, std::thread::current().id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(self) -> Result<DownloadFileSuccess> {
        self.events.close();
        self.handle.wait()
    }

    /// Whether the call has ended (its callbacks have run).
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let pending = client.download_file(wxnet::DownloadFileOptions::new(url));
    /// assert!(!pending.is_finished()); // the server never answers
    /// pending.abort();
    ///
    /// let strict = wxnet::Client::builder().build()?;
    /// let options = wxnet::DownloadFileOptions::new("https://b.example.com/f");
    /// let refused = strict.download_file(options);
    /// assert!(refused.is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl Client {
    /// Download a file (`wx.downloadFile`): a GET streamed to disk, into a
    /// partial file renamed into place only on success. A failed, aborted,
    /// timed-out or interrupted download leaves no file. Files over
    /// `max_download_size` fail with `exceed max file size` (603301) as
    /// soon as the size is known or passed.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that answers with an 8-byte file.
    /// let (url, _) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nfirmware");
    /// // `skip_domain_check` lets the example use plain HTTP to 127.0.0.1.
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let path = std::env::temp_dir().join(format!("wxnet-doc-{}.bin", std::process::id()));
    /// let (tx, percents) = mpsc::channel();
    /// let options = wxnet::DownloadFileOptions::new(url)
    ///     .file_path(&path)
    ///     .on_progress_update(move |p| tx.send(p.progress).unwrap());
    /// let res = client.download_file(options).wait()?;
    /// assert_eq!((res.status_code, res.data_length), (200, 8));
    /// assert_eq!(std::fs::read(res.path())?, b"firmware");
    /// assert_eq!(percents.try_iter().last(), Some(100));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn download_file(&self, options: DownloadFileOptions) -> DownloadTask {
        let events = TaskEvents::new(Keep::Latest, self.late_threads());
        let theirs = events.clone();
        DownloadTask {
            handle: self.start(ApiKind::DownloadFile, options, move |engine, o| {
                PreparedDownload::prepare(engine, o, theirs)
            }),
            events,
        }
    }
}

/// Everything a worker needs to run one download.
pub(crate) struct PreparedDownload {
    engine: Arc<Engine>,
    url: url::Url,
    origin: Arc<crate::policy::Allowed>,
    headers: Vec<(String, String)>,
    file_path: Option<PathBuf>,
    extension: String,
    events: Arc<Events>,
}

/// A short, safe file extension taken from the URL path (`.zip`), or none.
fn extension_of(url: &url::Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    match last.rsplit_once('.') {
        Some((_, ext))
            if !ext.is_empty()
                && ext.len() <= 8
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            format!(".{}", ext.to_ascii_lowercase())
        }
        _ => String::new(),
    }
}

impl PreparedDownload {
    fn prepare(
        engine: &Arc<Engine>,
        o: DownloadFileOptions,
        events: Arc<Events>,
    ) -> Result<PreparedDownload> {
        let target = engine.policy.check(ApiKind::DownloadFile, &o.url)?;
        if let Some(p) = &o.file_path {
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            // The system's own error, so errMsg carries its text.
            let dir_error = match fs::metadata(dir) {
                Ok(m) if m.is_dir() => None,
                Ok(_) => Some(io::Error::from(io::ErrorKind::NotADirectory)),
                Err(e) => Some(e),
            };
            if let Some(e) = dir_error {
                return Err(Error::from_file_io(API, e));
            }
            if p.is_dir() {
                // Opening a directory for writing changes nothing.
                let e = OpenOptions::new().write(true).open(p).err();
                let e = e.unwrap_or_else(|| io::ErrorKind::IsADirectory.into());
                return Err(Error::from_file_io(API, e));
            }
        }
        let mut url = target.url;
        let origin = target.origin;
        url.set_fragment(None);
        let headers = user_headers(API, &o.header)?;
        if let Some(f) = o.on_headers_received {
            events.listen(|e| &e.headers, once(f));
        }
        if let Some(f) = o.on_progress_update {
            events.listen(|e| &e.body, f);
        }
        Ok(PreparedDownload {
            engine: engine.clone(),
            extension: extension_of(&url),
            url,
            origin,
            headers,
            file_path: o.file_path,
            events,
        })
    }

    fn emit(&self, tick: Option<Tick>) {
        if let Some(t) = tick {
            self.events.emit_body(DownloadProgress {
                progress: t.progress,
                total_bytes_written: t.done,
                total_bytes_expected_to_write: t.total,
            });
        }
    }
}

/// Removes the partial file unless the download completed.
struct Partial {
    path: PathBuf,
    done: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl PreparedCall for PreparedDownload {
    type Output = DownloadFileSuccess;

    fn run(self, ctl: &Arc<CallCtl>) -> Result<DownloadFileSuccess> {
        let engine = self.engine.clone();
        let events = self.events.clone();
        let _end = EndGuard(&events);
        let exchange = Exchange {
            method: Method::Get,
            url: &self.url,
            origin: &self.origin,
            headers: &self.headers,
            default_content_type: None,
            body: Payload::None,
            manual_redirect: false,
        };
        let http::Sent {
            response,
            redirects,
        } = http::send(&engine, ctl, &exchange)?;
        let (status_code, header, cookies) = http::head(&response);
        events.emit_head(ctl, status_code, &header, &cookies)?;
        let decoding = http::decoding(&engine, &response, Method::Get);
        let mut body = response.into_body();
        let cap = engine.max_download_size;
        // The size of a decoded file is known only at its end.
        let expected = body.content_length().filter(|_| !decoding.transforms());
        if expected.is_some_and(|n| n > cap) {
            return Err(ctl.error(ErrorKind::FileTooLarge));
        }

        let (final_path, is_temp) = match &self.file_path {
            Some(p) => (p.clone(), false),
            None => {
                fs::create_dir_all(&engine.download_dir)
                    .map_err(|e| Error::from_file_io(API, e))?;
                let name = format!("wxnet-{}-{}{}", std::process::id(), ctl.id, self.extension);
                (engine.download_dir.join(name), true)
            }
        };
        let mut partial_name = final_path.file_name().unwrap_or_default().to_os_string();
        partial_name.push(format!(".part-{}-{}", std::process::id(), ctl.id));
        let partial = Partial {
            path: final_path.with_file_name(partial_name),
            done: false,
        };
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial.path)
            .map_err(|e| Error::from_file_io(API, e))?;

        let mut throttle = Throttle::new(expected);
        // A file is bytes: a coding wxnet cannot undo is saved as sent.
        let mut reader = decoding.reader(body.with_config().limit(u64::MAX).reader(), false);
        let mut buf = vec![0u8; CHUNK];
        let mut written: u64 = 0;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| crate::coding::read_error(ctl, e))?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if written > cap {
                return Err(ctl.error(ErrorKind::FileTooLarge));
            }
            file.write_all(&buf[..n])
                .map_err(|e| Error::from_file_io(API, e))?;
            let tick = throttle.update(written);
            self.emit(tick);
            events.check(ctl)?;
        }
        drop(reader);
        file.flush().map_err(|e| Error::from_file_io(API, e))?;
        drop(file);
        ctl.trace().response_end = Some(Instant::now());
        // A cancellation that landed after the last byte still wins: the
        // caller was told the call is over, so no file may appear.
        if let Some(kind) = ctl.cancelled() {
            return Err(ctl.error(kind));
        }
        // Before the rename: a listener panicking on the final 100 % fails
        // the call, and a failed call leaves no file.
        let tick = throttle.finish(written);
        self.emit(tick);
        events.check(ctl)?;
        fs::rename(&partial.path, &final_path).map_err(|e| Error::from_file_io(API, e))?;
        let mut partial = partial;
        partial.done = true;
        Ok(DownloadFileSuccess {
            temp_file_path: is_temp.then(|| final_path.clone()),
            file_path: (!is_temp).then_some(final_path),
            status_code,
            header,
            cookies,
            data_length: written,
            profile: Profile::from_ctl(ctl, redirects),
        })
    }
}
