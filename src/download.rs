//! `wx.downloadFile`: a GET streamed to a partial file that is renamed
//! into place only when the whole body arrived; any failure leaves no file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Client, Engine};
use crate::error::{Api, Error, ErrorKind, Result};
use crate::header::Header;
use crate::http::{self, Exchange, Method, Payload, build_headers};
use crate::job::{Callbacks, JobCtl, Work};
use crate::policy::ApiKind;
use crate::profile::Profile;
use crate::progress::{Throttle, Tick};

const API: Api = Api::DownloadFile;

/// Size of each read from the network and write to the file.
const CHUNK: usize = 32 * 1024;

/// Download progress (`onProgressUpdate`): throttled to about one event
/// per percent (per 100 ms when the size is unknown), never going
/// backwards, ending with exactly one 100% event when the download
/// succeeds.
///
/// ```
/// let p = wxnet::DownloadProgress { progress: 10, total_bytes_written: 1, total_bytes_expected_to_write: Some(10) };
/// assert_eq!(p.total_bytes_expected_to_write, Some(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Percent done, 0 to 100 (0 until the end when the size is unknown).
    pub progress: u8,
    /// Bytes written to the file so far.
    #[doc(alias = "totalBytesWritten")]
    pub total_bytes_written: u64,
    /// The size from `Content-Length`; `None` (the mini program's `-1`)
    /// when the server sends none, until the final event.
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

type ProgressFn = Box<dyn FnMut(&DownloadProgress) + Send>;

/// The options of [`Client::download_file`].
///
/// ```
/// let o = wxnet::DownloadFileOptions::new("https://dl.example.com/a.zip").file_path("/tmp/a.zip");
/// assert_eq!(o.url(), "https://dl.example.com/a.zip");
/// ```
pub struct DownloadFileOptions {
    url: String,
    file_path: Option<PathBuf>,
    header: Vec<(String, String)>,
    timeout: Option<Duration>,
    on_progress_update: Option<ProgressFn>,
    on_headers_received: Option<http::HeadersFn>,
    callbacks: Callbacks<DownloadFileSuccess>,
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

crate::options::call_setters!(
    DownloadFileOptions,
    new: "wxnet::DownloadFileOptions::new(\"https://dl.example.com/f\")",
    network_timeout: "download_file",
    success: DownloadFileSuccess
);

impl DownloadFileOptions {
    /// Download `url` to a new file in the client's download directory.
    ///
    /// ```
    /// let o = wxnet::DownloadFileOptions::new("https://dl.a.com/f");
    /// assert!(format!("{o:?}").contains("file_path: None"));
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
    /// assert_eq!(wxnet::DownloadFileOptions::new("https://dl.a.com/f").url(), "https://dl.a.com/f");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Write the file here (its directory must exist; an existing file is
    /// replaced only when the download succeeds). Defaults to a new file
    /// in the client's download directory.
    ///
    /// ```
    /// let o = wxnet::DownloadFileOptions::new("https://dl.a.com/f").file_path("out.bin");
    /// assert!(format!("{o:?}").contains("out.bin"));
    /// ```
    pub fn file_path(mut self, p: impl Into<PathBuf>) -> Self {
        self.file_path = Some(p.into());
        self
    }

    /// Called as the file is written; see [`DownloadProgress`].
    ///
    /// ```
    /// let o = wxnet::DownloadFileOptions::new("https://dl.a.com/f")
    ///     .on_progress_update(|p: &wxnet::DownloadProgress| assert!(p.progress <= 100));
    /// # drop(o);
    /// ```
    pub fn on_progress_update(mut self, f: impl FnMut(&DownloadProgress) + Send + 'static) -> Self {
        self.on_progress_update = Some(Box::new(f));
        self
    }
}

crate::client::task_handle!(
    /// The handle of a download (`DownloadTask`).
    ///
    /// ```no_run
    /// let client = wxnet::Client::builder().download_domains(["https://dl.example.com"]).build()?;
    /// let task = client.download_file(wxnet::DownloadFileOptions::new("https://dl.example.com/big.zip"));
    /// task.abort();
    /// assert_eq!(task.wait().unwrap_err().err_msg(), "downloadFile:fail abort");
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    DownloadTask,
    DownloadWork,
    DownloadFileSuccess,
    refused: "client.download_file(wxnet::DownloadFileOptions::new(\"https://dl.example.com/f\"))"
);

impl Client {
    /// Download a file (`wx.downloadFile`): a GET streamed to disk, into a
    /// partial file renamed into place only on success. A failed, aborted,
    /// timed-out or interrupted download leaves no file. Files over
    /// `max_download_size` fail with `exceed max file size` (603301) as
    /// soon as the size is known or passed.
    ///
    /// ```no_run
    /// let client = wxnet::Client::builder().download_domains(["https://dl.example.com"]).build()?;
    /// let res = client
    ///     .download_file(wxnet::DownloadFileOptions::new("https://dl.example.com/fw.bin")
    ///         .on_progress_update(|p| println!("{}%", p.progress)))
    ///     .wait()?;
    /// println!("{} bytes at {}", res.data_length, res.path().display());
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn download_file(&self, options: DownloadFileOptions) -> DownloadTask {
        DownloadTask {
            handle: self.start(ApiKind::DownloadFile, options, DownloadWork::prepare),
        }
    }
}

/// Everything a worker needs to run one download.
pub(crate) struct DownloadWork {
    engine: Arc<Engine>,
    url: url::Url,
    headers: Vec<(String, String)>,
    file_path: Option<PathBuf>,
    extension: String,
    on_progress: Option<ProgressFn>,
    on_headers: Option<http::HeadersFn>,
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

impl DownloadWork {
    fn prepare(engine: &Arc<Engine>, o: DownloadFileOptions) -> Result<DownloadWork> {
        let target = engine.policy.check(ApiKind::DownloadFile, &o.url)?;
        if let Some(p) = &o.file_path {
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            if !dir.is_dir() {
                return Err(Error::from_file_io(
                    API,
                    io::Error::new(io::ErrorKind::NotFound, "the directory does not exist"),
                ));
            }
            if p.is_dir() {
                return Err(Error::with_reason(
                    API,
                    ErrorKind::FileAccess,
                    "file error: file_path is a directory",
                ));
            }
        }
        let mut url = target.url;
        url.set_fragment(None);
        Ok(DownloadWork {
            engine: engine.clone(),
            extension: extension_of(&url),
            url,
            headers: build_headers(API, engine, &o.header, None)?,
            file_path: o.file_path,
            on_progress: o.on_progress_update,
            on_headers: o.on_headers_received,
        })
    }

    fn emit(&mut self, tick: Option<Tick>) {
        if let (Some(t), Some(f)) = (tick, self.on_progress.as_mut()) {
            f(&DownloadProgress {
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

impl Work for DownloadWork {
    type Output = DownloadFileSuccess;

    fn run(mut self, ctl: &Arc<JobCtl>) -> Result<DownloadFileSuccess> {
        let engine = self.engine.clone();
        let exchange = Exchange {
            method: Method::Get,
            url: &self.url,
            headers: &self.headers,
            body: Payload::None,
            manual_redirect: false,
        };
        let http::Sent {
            response,
            redirects,
        } = http::send(&engine, ctl, &exchange)?;
        let (status_code, header, cookies) = http::head(&response, self.on_headers.take());
        let mut body = response.into_body();
        let cap = engine.max_download_size;
        let expected = body.content_length();
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
        let mut reader = body.with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; CHUNK];
        let mut written: u64 = 0;
        loop {
            let n = reader.read(&mut buf).map_err(|e| http::map_io(ctl, e))?;
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
        fs::rename(&partial.path, &final_path).map_err(|e| Error::from_file_io(API, e))?;
        let mut partial = partial;
        partial.done = true;
        let tick = throttle.finish(written);
        self.emit(tick);
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
