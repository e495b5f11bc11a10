//! The one error type of the crate.
//!
//! Every failure, whatever API produced it, is an [`Error`]: a boxed value
//! with a [`kind`](Error::kind) to match on, the mini-program style
//! [`err_msg`](Error::err_msg) (`"request:fail timeout"`), the official
//! [`errno`](Error::errno), and the underlying ureq / rustls / io error as its
//! [`source`](std::error::Error::source).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

use crate::policy::ApiKind;

/// A specialised `Result` whose error is [`Error`].
///
/// ```
/// fn fetch(client: &wxnet::Client, url: &str) -> wxnet::Result<u16> {
///     let res = client.request(wxnet::RequestOptions::new(url)).wait()?;
///     Ok(res.status_code)
/// }
/// let client = wxnet::Client::builder().build()?;
/// // Plain http is refused before any connection is made.
/// let e = fetch(&client, "http://api.example.com/").unwrap_err();
/// assert_eq!(e.kind(), wxnet::ErrorKind::InvalidUrl);
/// # Ok::<(), wxnet::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a value to match on.
///
/// Each kind has one fixed errMsg reason and one errno from the official
/// mini-program table; [`ErrorKind::reason`] and [`ErrorKind::errno`] give
/// them. New kinds may be added in minor releases, so matches need a `_` arm.
///
/// The connection failures share errno 600001 with `Network`; their kind
/// tells them apart:
///
/// ```
/// use wxnet::ErrorKind;
/// assert_eq!(ErrorKind::Timeout.errno(), 5);
/// assert_eq!(ErrorKind::DomainNotAllowed.reason(), "url not in domain list");
///
/// // A loopback port with nothing listening refuses the connection.
/// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
/// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
/// let options = wxnet::RequestOptions::new(format!("http://127.0.0.1:{port}/"));
/// let e = client.request(options).wait().unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
/// assert_eq!(e.errno(), 600001);
/// assert_eq!(e.err_msg(), "request:fail connection refused");
/// let retry = match e.kind() {
///     ErrorKind::Dns | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => true,
///     _ => false,
/// };
/// assert!(retry);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The URL is malformed, relative, or has the wrong scheme for the API
    /// (errno 600009).
    InvalidUrl,
    /// The URL's origin is not in the domain list of the API, or is an IP
    /// address, `localhost` or `api.weixin.qq.com` (errno 600002).
    DomainNotAllowed,
    /// The TLS handshake failed: unknown issuer, expired or wrong-host
    /// certificate, protocol mismatch (errno 600001).
    Tls,
    /// The host name could not be resolved (errno 600001, reason
    /// `dns lookup failed`).
    Dns,
    /// The server refused the connection, or its network or host is
    /// unreachable (errno 600001, reason `connection refused` or
    /// `network unreachable`).
    ConnectionRefused,
    /// The connection was reset, or closed before the response was
    /// complete (errno 600001, reason `connection reset` or
    /// `connection closed`); a WebSocket that ended without a close frame
    /// (reason `connection closed abnormally`, close code 1006).
    ConnectionReset,
    /// The response breaks the protocol: not HTTP, a bad status line or
    /// chunk size, headers too large or endless (errno 600001, reason
    /// `invalid response`); a coded body that does not decode (reason
    /// `invalid response: corrupt gzip body`, or `truncated`, or
    /// `deflate`), or a coding wxnet cannot undo for text (reason
    /// `unsupported content encoding: <coding>`); a WebSocket upgrade the
    /// server refused (`websocket handshake failed: status 403`) or a
    /// WebSocket peer that broke the protocol (`protocol error`, close code
    /// 1002) or sent text that is not UTF-8 (`invalid payload data`, close
    /// code 1007).
    InvalidResponse,
    /// Any other network failure below HTTP, such as a TLS record that
    /// fails after the handshake or an OS error opening a socket
    /// (errno 600001, reason `network error`, followed by the OS text for
    /// an OS error), or a WebSocket message larger than the client takes
    /// (reason `message too big`, close code 1009).
    Network,
    /// The call's deadline passed, queue wait included (errno 5).
    Timeout,
    /// The call was aborted by its task or by the client shutting down
    /// (errno 1).
    Abort,
    /// The app stayed in the background for 5 s (errno 600003).
    Interrupted,
    /// The queue of waiting calls is full (errno 600007).
    QueueFull,
    /// More than 15 redirects (errno 600008).
    TooManyRedirects,
    /// The response text cannot be converted to UTF-8 without loss
    /// (errno 602302).
    ConvertFailed,
    /// The response body is larger than the in-memory cap
    /// (errno 600001).
    ResponseTooLarge,
    /// A downloaded file is larger than its cap (errno 603301).
    FileTooLarge,
    /// A local file does not exist (errno 1300002).
    FileNotFound,
    /// A local file cannot be read or written: permissions, a directory
    /// where a file was expected, a full disk (errno 1300013).
    FileAccess,
    /// An argument of the call is not acceptable, such as a header with a
    /// line break (errno 1).
    InvalidArgument,
    /// A client setting is not acceptable; returned by
    /// [`ClientBuilder::build`](crate::ClientBuilder::build) (errno 1).
    Config,
    /// A user callback panicked while the call was running (errno 1).
    CallbackPanicked,
    /// A socket operation needs an open connection (errno 1).
    NotConnected,
    /// Too many sockets are open at once (errno 1).
    TooManySockets,
}

impl ErrorKind {
    /// The fixed errMsg reason of this kind, the text after `"<api>:fail "`.
    ///
    /// Some errors add a detail to it (the URL of an invalid URL, the limit
    /// of a size error); [`Error::err_msg`] has the full text.
    ///
    /// ```
    /// assert_eq!(wxnet::ErrorKind::Abort.reason(), "abort");
    /// ```
    pub fn reason(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid url",
            ErrorKind::DomainNotAllowed => "url not in domain list",
            ErrorKind::Tls => "ssl hand shake error",
            ErrorKind::Dns => "dns lookup failed",
            ErrorKind::ConnectionRefused => "connection refused",
            ErrorKind::ConnectionReset => "connection reset",
            ErrorKind::InvalidResponse => "invalid response",
            ErrorKind::Network => "network error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Abort => "abort",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::QueueFull => "exceed max task count",
            ErrorKind::TooManyRedirects => "reach the max redirect count",
            ErrorKind::ConvertFailed => "response data convert to UTF8 fail",
            ErrorKind::ResponseTooLarge => "exceed max size",
            ErrorKind::FileTooLarge => "exceed max file size",
            ErrorKind::FileNotFound => "file not found",
            ErrorKind::FileAccess => "file error",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Config => "invalid config",
            ErrorKind::CallbackPanicked => "callback panicked",
            ErrorKind::NotConnected => "WebSocket is not connected",
            ErrorKind::TooManySockets => "exceed max concurrent count",
        }
    }

    /// The errno of this kind, from the official mini-program table.
    ///
    /// ```
    /// assert_eq!(wxnet::ErrorKind::QueueFull.errno(), 600007);
    /// ```
    pub fn errno(self) -> i32 {
        match self {
            ErrorKind::InvalidUrl => 600009,
            ErrorKind::DomainNotAllowed => 600002,
            ErrorKind::Tls
            | ErrorKind::Dns
            | ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::InvalidResponse
            | ErrorKind::Network
            | ErrorKind::ResponseTooLarge => 600001,
            ErrorKind::Timeout => 5,
            ErrorKind::Interrupted => 600003,
            ErrorKind::QueueFull => 600007,
            ErrorKind::TooManyRedirects => 600008,
            ErrorKind::ConvertFailed => 602302,
            ErrorKind::FileTooLarge => 603301,
            ErrorKind::FileNotFound => 1300002,
            ErrorKind::FileAccess => 1300013,
            ErrorKind::Abort
            | ErrorKind::InvalidArgument
            | ErrorKind::Config
            | ErrorKind::CallbackPanicked
            | ErrorKind::NotConnected
            | ErrorKind::TooManySockets => 1,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// The wx API a failure belongs to: the `<api>` of `"<api>:fail <reason>"`.
///
/// Compare it with the wx name directly, or match on it; new APIs may be
/// added in minor releases, so matches need a `_` arm.
///
/// ```
/// use wxnet::Api;
/// assert_eq!(Api::UploadFile.wx_name(), "uploadFile");
/// assert_eq!(Api::SocketTaskSend.to_string(), "SocketTask.send");
/// assert!(Api::Request == "request");
/// assert!(Api::Request != "uploadFile");
///
/// // A URL outside the domain list fails before any connection is made.
/// let client = wxnet::Client::builder().build()?;
/// let task = client.download_file(wxnet::DownloadFileOptions::new("https://dl.example.com/a"));
/// let e = task.wait().unwrap_err();
/// assert_eq!(e.api(), Api::DownloadFile);
/// assert_eq!(e.api(), "downloadFile");
/// # Ok::<(), wxnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// `wx.request`.
    Request,
    /// `wx.uploadFile`.
    UploadFile,
    /// `wx.downloadFile`.
    DownloadFile,
    /// `wx.connectSocket`.
    ConnectSocket,
    /// `SocketTask.send`.
    SocketTaskSend,
    /// `SocketTask.close`.
    SocketTaskClose,
    /// [`SocketTask::wait_open`](crate::SocketTask::wait_open), named
    /// `SocketTask.waitOpen`.
    SocketTaskWaitOpen,
    /// [`SocketTask::recv`](crate::SocketTask::recv), named
    /// `SocketTask.recv`.
    SocketTaskRecv,
    /// `wx.sendSocketMessage`, the client-wide send.
    SendSocketMessage,
    /// `wx.closeSocket`, the client-wide close.
    CloseSocket,
    /// [`ClientBuilder::build`](crate::ClientBuilder::build).
    ClientBuilderBuild,
    /// Loading a `wxnet.json` project file, named `ClientBuilder.fromJson`.
    ClientBuilderFromJson,
    /// The TLS and domain checker, named `check`.
    Check,
}

impl Api {
    /// The name of the API in errMsg, as the mini-program runtime spells it.
    ///
    /// ```
    /// assert_eq!(wxnet::Api::ClientBuilderBuild.wx_name(), "ClientBuilder.build");
    /// assert_eq!(wxnet::Api::SendSocketMessage.wx_name(), "sendSocketMessage");
    /// ```
    pub fn wx_name(self) -> &'static str {
        match self {
            Api::Request => "request",
            Api::UploadFile => "uploadFile",
            Api::DownloadFile => "downloadFile",
            Api::ConnectSocket => "connectSocket",
            Api::SocketTaskSend => "SocketTask.send",
            Api::SocketTaskClose => "SocketTask.close",
            Api::SocketTaskWaitOpen => "SocketTask.waitOpen",
            Api::SocketTaskRecv => "SocketTask.recv",
            Api::SendSocketMessage => "sendSocketMessage",
            Api::CloseSocket => "closeSocket",
            Api::ClientBuilderBuild => "ClientBuilder.build",
            Api::ClientBuilderFromJson => "ClientBuilder.fromJson",
            Api::Check => "check",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wx_name())
    }
}

impl PartialEq<str> for Api {
    fn eq(&self, other: &str) -> bool {
        self.wx_name() == other
    }
}

impl PartialEq<&str> for Api {
    fn eq(&self, other: &&str) -> bool {
        self.wx_name() == *other
    }
}

impl PartialEq<Api> for str {
    fn eq(&self, other: &Api) -> bool {
        self == other.wx_name()
    }
}

impl PartialEq<Api> for &str {
    fn eq(&self, other: &Api) -> bool {
        *self == other.wx_name()
    }
}

impl From<ApiKind> for Api {
    fn from(kind: ApiKind) -> Api {
        match kind {
            ApiKind::Request => Api::Request,
            ApiKind::UploadFile => Api::UploadFile,
            ApiKind::DownloadFile => Api::DownloadFile,
            ApiKind::ConnectSocket => Api::ConnectSocket,
        }
    }
}

/// The error of every wxnet call.
///
/// `Display` prints [`err_msg`](Error::err_msg). The error that caused it
/// (an io error, a rustls certificate error, a ureq protocol error) is kept
/// as [`source`](std::error::Error::source); its type is not part of the API.
/// Cloning is cheap and keeps the source.
///
/// ```
/// use std::error::Error as _;
/// use wxnet::{Api, ErrorKind, RequestOptions};
/// let client = wxnet::Client::builder().request_domains(["https://api.example.com"]).build()?;
/// // A header value with a line break is refused before any connection is made.
/// let options = RequestOptions::new("https://api.example.com/").header("x-token", "a\nb");
/// let e = client.request(options).wait().unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::InvalidArgument);
/// assert_eq!(e.api(), Api::Request);
/// let reason = "invalid argument: header \"x-token\" has a value that is not valid";
/// assert_eq!(e.err_msg(), format!("request:fail {reason}"));
/// assert_eq!(e.to_string(), e.err_msg());
/// assert_eq!(e.errno(), 1);
/// assert!(e.source().is_none());
/// # Ok::<(), wxnet::Error>(())
/// ```
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    api: Api,
    msg: String,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl Error {
    /// An error of `kind` for the wx API `api`, with the kind's fixed reason.
    pub(crate) fn new(api: Api, kind: ErrorKind) -> Error {
        Error::with_reason(api, kind, kind.reason())
    }

    /// An error whose reason text is `reason` instead of the kind's fixed one.
    pub(crate) fn with_reason(api: Api, kind: ErrorKind, reason: &str) -> Error {
        Error(Box::new(Inner {
            kind,
            api,
            msg: format!("{api}:fail {reason}"),
            source: None,
        }))
    }

    /// An error whose reason is the kind's reason followed by `: detail`.
    pub(crate) fn with_detail(api: Api, kind: ErrorKind, detail: &str) -> Error {
        Error::with_reason(api, kind, &format!("{}: {detail}", kind.reason()))
    }

    /// `<api>:fail invalid url "<url>"`.
    pub(crate) fn invalid_url(api: Api, url: &str) -> Error {
        Error::with_reason(
            api,
            ErrorKind::InvalidUrl,
            &format!("invalid url \"{url}\""),
        )
    }

    /// An [`ErrorKind::InvalidArgument`] error for the wx API `api`, with a
    /// detail saying what was wrong.
    pub(crate) fn invalid_argument(api: Api, detail: &str) -> Error {
        Error::with_detail(api, ErrorKind::InvalidArgument, detail)
    }

    /// The error for a connection that failed with `e`: the narrow kind
    /// its io kind names, with that kind's reason; any other OS error is
    /// [`ErrorKind::Network`] with the OS text after the reason. The
    /// caller attaches the source.
    pub(crate) fn from_network_io(api: Api, e: &io::Error) -> Error {
        use io::ErrorKind as K;
        let (kind, reason) = match e.kind() {
            K::ConnectionRefused => (ErrorKind::ConnectionRefused, "connection refused"),
            K::HostUnreachable | K::NetworkUnreachable | K::NetworkDown => {
                (ErrorKind::ConnectionRefused, "network unreachable")
            }
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                (ErrorKind::ConnectionReset, "connection reset")
            }
            K::UnexpectedEof => (ErrorKind::ConnectionReset, "connection closed"),
            // The connector reports a failed lookup as `NotFound`; nothing
            // else on a connection does.
            K::NotFound => (ErrorKind::Dns, "dns lookup failed"),
            _ if e.raw_os_error().is_some() => {
                return Error::with_detail(api, ErrorKind::Network, &e.to_string());
            }
            _ => (ErrorKind::Network, "network error"),
        };
        Error::with_reason(api, kind, reason)
    }

    /// The error for a local file that cannot be read or written: `file
    /// not found`, or `file error: <OS text>`, with `e` as the source.
    pub(crate) fn from_file_io(api: Api, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::NotFound {
            return Error::new(api, ErrorKind::FileNotFound).source_from(e);
        }
        Error::with_detail(api, ErrorKind::FileAccess, &e.to_string()).source_from(e)
    }

    /// Attach the underlying error.
    pub(crate) fn source_from(mut self, e: impl Into<Box<dyn StdError + Send + Sync>>) -> Error {
        self.0.source = Some(Arc::from(e.into()));
        self
    }

    /// The same error reported for another API name.
    pub(crate) fn for_api(self, api: Api) -> Error {
        if self.0.api == api {
            return self;
        }
        let reason = self.reason().to_owned();
        let mut e = Error::with_reason(api, self.0.kind, &reason);
        e.0.source = self.0.source;
        e
    }

    /// What went wrong, to match on.
    ///
    /// ```
    /// let client = wxnet::Client::builder().build()?; // empty domain lists
    /// let options = wxnet::RequestOptions::new("https://api.example.com/");
    /// let e = client.request(options).wait().unwrap_err();
    /// assert!(matches!(e.kind(), wxnet::ErrorKind::DomainNotAllowed));
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The mini-program errMsg: `"<api>:fail <reason>"`, for example
    /// `"request:fail url not in domain list"`.
    ///
    /// ```
    /// let client = wxnet::Client::builder().build()?; // empty domain lists
    /// let options = wxnet::RequestOptions::new("https://api.example.com/");
    /// let e = client.request(options).wait().unwrap_err();
    /// assert_eq!(e.err_msg(), "request:fail url not in domain list");
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    #[doc(alias = "errMsg")]
    pub fn err_msg(&self) -> &str {
        &self.0.msg
    }

    /// The errno from the official mini-program table (600002 for a domain
    /// outside the list, 5 for a timeout, 1 for an abort, …).
    ///
    /// ```
    /// let client = wxnet::Client::builder().build()?; // empty domain lists
    /// let options = wxnet::RequestOptions::new("https://api.example.com/");
    /// let e = client.request(options).wait().unwrap_err();
    /// assert_eq!(e.errno(), 600002);
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn errno(&self) -> i32 {
        self.0.kind.errno()
    }

    /// The API that failed; it compares equal to its wx name
    /// (`"request"`, `"uploadFile"`, `"SocketTask.send"`, …).
    ///
    /// ```
    /// let client = wxnet::Client::builder().build()?; // empty domain lists
    /// let options = wxnet::UploadFileOptions::new("https://up.example.com/", "a.txt", "file");
    /// let e = client.upload_file(options).wait().unwrap_err();
    /// assert_eq!(e.api(), wxnet::Api::UploadFile);
    /// assert_eq!(e.api(), "uploadFile");
    /// assert!(e.err_msg().starts_with(e.api().wx_name()));
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn api(&self) -> Api {
        self.0.api
    }

    /// The reason part of the errMsg, after `"<api>:fail "`.
    ///
    /// ```
    /// let client = wxnet::Client::builder().build()?; // empty domain lists
    /// let options = wxnet::RequestOptions::new("https://api.example.com/");
    /// let e = client.request(options).wait().unwrap_err();
    /// assert_eq!(e.reason(), "url not in domain list");
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn reason(&self) -> &str {
        &self.0.msg[self.0.api.wx_name().len() + ":fail ".len()..]
    }

    /// Whether this is a timeout ([`ErrorKind::Timeout`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// // A loopback server that accepts the connection and never answers.
    /// let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let url = format!("http://{}/", server.local_addr().unwrap());
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let options = wxnet::RequestOptions::new(url).timeout(Duration::from_millis(100));
    /// let e = client.request(options).wait().unwrap_err();
    /// assert!(e.is_timeout());
    /// assert_eq!(e.errno(), 5);
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.0.kind == ErrorKind::Timeout
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.msg)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind)
            .field("errno", &self.errno())
            .field("err_msg", &self.0.msg);
        if let Some(s) = &self.0.source {
            d.field("source", &format_args!("{s}"));
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert_eq!(
            std::mem::size_of::<Result<()>>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn io_errors_of_a_connection_map_to_kind_and_reason() {
        use io::ErrorKind as K;
        let table = [
            (
                K::ConnectionRefused,
                ErrorKind::ConnectionRefused,
                "connection refused",
            ),
            (
                K::NetworkUnreachable,
                ErrorKind::ConnectionRefused,
                "network unreachable",
            ),
            (
                K::HostUnreachable,
                ErrorKind::ConnectionRefused,
                "network unreachable",
            ),
            (
                K::ConnectionReset,
                ErrorKind::ConnectionReset,
                "connection reset",
            ),
            (
                K::ConnectionAborted,
                ErrorKind::ConnectionReset,
                "connection reset",
            ),
            (
                K::BrokenPipe,
                ErrorKind::ConnectionReset,
                "connection reset",
            ),
            (
                K::UnexpectedEof,
                ErrorKind::ConnectionReset,
                "connection closed",
            ),
            (K::NotFound, ErrorKind::Dns, "dns lookup failed"),
            (K::InvalidData, ErrorKind::Network, "network error"),
        ];
        for (io_kind, kind, reason) in table {
            let e = Error::from_network_io(Api::Request, &io::Error::from(io_kind));
            assert_eq!((e.kind(), e.reason()), (kind, reason), "{io_kind:?}");
            assert_eq!(e.errno(), 600001);
        }
        // EMFILE: an OS error of no narrower kind keeps its text.
        let os = io::Error::from_raw_os_error(24);
        let e = Error::from_network_io(Api::ConnectSocket, &os);
        assert_eq!(e.kind(), ErrorKind::Network);
        assert_eq!(
            e.err_msg(),
            format!("connectSocket:fail network error: {os}")
        );
    }

    #[test]
    fn file_errors_keep_the_os_text_and_the_source() {
        let e = Error::from_file_io(Api::DownloadFile, io::Error::from_raw_os_error(28));
        assert_eq!(e.kind(), ErrorKind::FileAccess);
        assert!(
            e.err_msg().starts_with("downloadFile:fail file error: "),
            "{e:?}"
        );
        assert!(e.err_msg().ends_with("(os error 28)"), "{e:?}");
        let source = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(source.and_then(io::Error::raw_os_error), Some(28));
        let e = Error::from_file_io(Api::UploadFile, io::ErrorKind::NotFound.into());
        assert_eq!(e.err_msg(), "uploadFile:fail file not found");
        assert_eq!(e.errno(), 1300002);
    }

    #[test]
    fn for_api_keeps_reason_and_source() {
        let e = Error::with_detail(Api::Request, ErrorKind::ResponseTooLarge, "10 bytes")
            .source_from(std::io::Error::other("x"))
            .for_api(Api::UploadFile);
        assert_eq!(e.err_msg(), "uploadFile:fail exceed max size: 10 bytes");
        assert!(e.source().is_some());
    }
}
