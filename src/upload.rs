//! `wx.uploadFile`: a multipart/form-data POST whose file part is streamed
//! from disk with an exact Content-Length.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::charset;
use crate::client::{Client, Engine};
use crate::error::{Api, Error, ErrorKind, Result};
use crate::header::Header;
use crate::http::{self, Exchange, Method, Payload, build_headers};
use crate::job::{self, Callbacks, JobCtl, Work, lock};
use crate::multipart::Multipart;
use crate::policy::ApiKind;
use crate::profile::Profile;
use crate::progress::{Throttle, Tick};

const API: Api = Api::UploadFile;

/// Upload progress (`onProgressUpdate`): throttled to about one event per
/// percent, never going backwards, ending with exactly one 100% event when
/// the upload succeeds.
///
/// ```
/// let p = wxnet::UploadProgress { progress: 50, total_bytes_sent: 5, total_bytes_expected_to_send: 10 };
/// assert_eq!(p.progress, 50);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

type ProgressFn = Box<dyn FnMut(&UploadProgress) + Send>;

/// The options of [`Client::upload_file`].
///
/// ```
/// let o = wxnet::UploadFileOptions::new("https://up.example.com/u", "/tmp/photo.jpg", "file")
///     .form_data("user", "42")
///     .header("x-token", "t");
/// assert_eq!(o.url(), "https://up.example.com/u");
/// ```
pub struct UploadFileOptions {
    url: String,
    file_path: PathBuf,
    name: String,
    header: Vec<(String, String)>,
    form_data: Vec<(String, String)>,
    timeout: Option<Duration>,
    on_progress_update: Option<ProgressFn>,
    on_headers_received: Option<http::HeadersFn>,
    callbacks: Callbacks<UploadFileSuccess>,
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

crate::options::call_setters!(
    UploadFileOptions,
    new: "wxnet::UploadFileOptions::new(\"https://up.example.com/u\", \"a.jpg\", \"file\")",
    network_timeout: "upload_file",
    success: UploadFileSuccess
);

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
    /// assert_eq!(wxnet::UploadFileOptions::new("https://u.a.com/", "f", "n").url(), "https://u.a.com/");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The file to upload.
    ///
    /// ```
    /// assert_eq!(wxnet::UploadFileOptions::new("https://u.a.com/", "f", "n").file_path().to_str(), Some("f"));
    /// ```
    pub fn file_path(&self) -> &Path {
        &self.file_path
    }

    /// Add a form field sent before the file (`formData`). Defaults to
    /// none.
    ///
    /// ```
    /// let o = wxnet::UploadFileOptions::new("https://u.a.com/", "f", "n").form_data("k", "v");
    /// assert!(format!("{o:?}").contains("\"k\""));
    /// ```
    pub fn form_data(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.form_data.push((name.into(), value.into()));
        self
    }

    /// Called as the body is sent; see [`UploadProgress`].
    ///
    /// ```
    /// let o = wxnet::UploadFileOptions::new("https://u.a.com/", "f", "n")
    ///     .on_progress_update(|p: &wxnet::UploadProgress| assert!(p.progress <= 100));
    /// # drop(o);
    /// ```
    pub fn on_progress_update(mut self, f: impl FnMut(&UploadProgress) + Send + 'static) -> Self {
        self.on_progress_update = Some(Box::new(f));
        self
    }
}

crate::client::task_handle!(
    /// The handle of an upload (`UploadTask`).
    ///
    /// ```no_run
    /// let client = wxnet::Client::builder().upload_domains(["https://up.example.com"]).build()?;
    /// let task = client.upload_file(wxnet::UploadFileOptions::new("https://up.example.com/u", "big.bin", "file"));
    /// task.abort();
    /// assert_eq!(task.wait().unwrap_err().err_msg(), "uploadFile:fail abort");
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    UploadTask,
    UploadWork,
    UploadFileSuccess,
    refused: "client.upload_file(wxnet::UploadFileOptions::new(\"https://up.example.com/\", \"Cargo.toml\", \"f\"))"
);

impl Client {
    /// Upload a file (`wx.uploadFile`): a multipart/form-data POST with
    /// the file under field `name` and the `form_data` fields, the file
    /// streamed from disk (memory use does not grow with its size).
    ///
    /// A missing file fails with `uploadFile:fail file not found` before
    /// any network traffic.
    ///
    /// ```no_run
    /// let client = wxnet::Client::builder().upload_domains(["https://up.example.com"]).build()?;
    /// let res = client
    ///     .upload_file(wxnet::UploadFileOptions::new("https://up.example.com/avatar", "me.jpg", "file")
    ///         .form_data("user", "42")
    ///         .on_progress_update(|p| println!("{}%", p.progress)))
    ///     .wait()?;
    /// println!("{} {}", res.status_code, res.data);
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn upload_file(&self, options: UploadFileOptions) -> UploadTask {
        UploadTask {
            handle: self.start(ApiKind::UploadFile, options, UploadWork::prepare),
        }
    }
}

/// Everything a worker needs to run one upload.
pub(crate) struct UploadWork {
    engine: Arc<Engine>,
    url: url::Url,
    path: PathBuf,
    headers: Vec<(String, String)>,
    multipart: Multipart,
    on_progress: Option<ProgressFn>,
    on_headers: Option<http::HeadersFn>,
}

impl UploadWork {
    fn prepare(engine: &Arc<Engine>, o: UploadFileOptions) -> Result<UploadWork> {
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
        let mut headers = build_headers(API, engine, &o.header, None)?;
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        headers.push(("content-type".into(), multipart.content_type()));
        let mut url = target.url;
        url.set_fragment(None);
        Ok(UploadWork {
            engine: engine.clone(),
            url,
            path: o.file_path,
            headers,
            multipart,
            on_progress: o.on_progress_update,
            on_headers: o.on_headers_received,
        })
    }
}

/// Progress of the body as ureq reads it, shared by every opening of the
/// body (a 307 redirect sends it again).
struct Sent {
    throttle: Throttle,
    on_progress: Option<ProgressFn>,
    total: u64,
}

impl Sent {
    fn emit(&mut self, tick: Option<Tick>) {
        if let (Some(t), Some(f)) = (tick, self.on_progress.as_mut()) {
            f(&UploadProgress {
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
    ctl: Option<Arc<JobCtl>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.done += n as u64;
                let mut sent = lock(&self.sent);
                let tick = sent.throttle.update(self.done);
                sent.emit(tick);
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

impl Work for UploadWork {
    type Output = UploadFileSuccess;

    fn run(mut self, ctl: &Arc<JobCtl>) -> Result<UploadFileSuccess> {
        let total = self.multipart.len();
        let sent = Arc::new(Mutex::new(Sent {
            throttle: Throttle::new(Some(total)),
            on_progress: self.on_progress.take(),
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
                    ctl: job::current(),
                }))
            }
        };
        let exchange = Exchange {
            method: Method::Post,
            url: &self.url,
            headers: &self.headers,
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
        let (status_code, header, cookies) = http::head(&response, self.on_headers.take());
        let mut body = response.into_body();
        let raw = http::read_capped(ctl, &mut body, self.engine.max_response_size)?;
        ctl.trace().response_end = Some(Instant::now());
        let data = charset::decode_text(raw, header.get("content-type"))
            .map_err(|()| ctl.error(ErrorKind::ConvertFailed))?;
        {
            let mut s = lock(&sent);
            let tick = s.throttle.finish(total);
            s.emit(tick);
        }
        Ok(UploadFileSuccess {
            data,
            status_code,
            header,
            cookies,
            profile: Profile::from_ctl(ctl, redirects),
        })
    }
}
