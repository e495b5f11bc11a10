//! The one error type of the crate.
//!
//! Every failure, whatever API produced it, is an [`Error`]: a boxed value
//! with a [`kind`](Error::kind) to match on, the mini-program style
//! [`err_msg`](Error::err_msg) (`"request:fail timeout"`), the official
//! [`errno`](Error::errno), and the underlying ureq / rustls / io error as its
//! [`source`](std::error::Error::source).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// A specialised `Result` whose error is [`Error`].
///
/// ```
/// fn parse(url: &str) -> wxnet::Result<()> {
///     if url.starts_with("https://") { Ok(()) } else {
///         Err(wxnet::Error::invalid_argument("request", "not https"))
///     }
/// }
/// assert!(parse("http://a.com").is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a value to match on.
///
/// Each kind has one fixed errMsg reason and one errno from the official
/// mini-program table; [`ErrorKind::reason`] and [`ErrorKind::errno`] give
/// them. New kinds may be added in minor releases, so matches need a `_` arm.
///
/// ```
/// use wxnet::ErrorKind;
/// assert_eq!(ErrorKind::Timeout.errno(), 5);
/// assert_eq!(ErrorKind::DomainNotAllowed.reason(), "url not in domain list");
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
    /// A network failure below HTTP: DNS, connection refused or reset,
    /// a malformed response (errno 600001).
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
            ErrorKind::Tls | ErrorKind::Network | ErrorKind::ResponseTooLarge => 600001,
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

/// The error of every wxnet call.
///
/// `Display` prints [`err_msg`](Error::err_msg). The error that caused it
/// (an io error, a rustls certificate error, a ureq protocol error) is kept
/// as [`source`](std::error::Error::source); its type is not part of the API.
/// Cloning is cheap and keeps the source.
///
/// ```
/// use wxnet::{Error, ErrorKind};
/// let e = Error::invalid_argument("request", "header name is empty");
/// assert_eq!(e.kind(), ErrorKind::InvalidArgument);
/// assert_eq!(e.err_msg(), "request:fail invalid argument: header name is empty");
/// assert_eq!(e.to_string(), e.err_msg());
/// assert_eq!(e.errno(), 1);
/// ```
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    api: &'static str,
    msg: String,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl Error {
    /// An error of `kind` for the wx API named `api` (`"request"`,
    /// `"uploadFile"`, …), with the kind's fixed reason.
    pub(crate) fn new(api: &'static str, kind: ErrorKind) -> Error {
        Error::with_reason(api, kind, kind.reason())
    }

    /// An error whose reason text is `reason` instead of the kind's fixed one.
    pub(crate) fn with_reason(api: &'static str, kind: ErrorKind, reason: &str) -> Error {
        Error(Box::new(Inner {
            kind,
            api,
            msg: format!("{api}:fail {reason}"),
            source: None,
        }))
    }

    /// An error whose reason is the kind's reason followed by `: detail`.
    pub(crate) fn with_detail(api: &'static str, kind: ErrorKind, detail: &str) -> Error {
        Error::with_reason(api, kind, &format!("{}: {detail}", kind.reason()))
    }

    /// `<api>:fail invalid url "<url>"`.
    pub(crate) fn invalid_url(api: &'static str, url: &str) -> Error {
        Error::with_reason(
            api,
            ErrorKind::InvalidUrl,
            &format!("invalid url \"{url}\""),
        )
    }

    /// An [`ErrorKind::InvalidArgument`] error for the wx API `api`, with a
    /// detail saying what was wrong.
    ///
    /// ```
    /// let e = wxnet::Error::invalid_argument("SocketTask.close", "code 1005");
    /// assert_eq!(e.err_msg(), "SocketTask.close:fail invalid argument: code 1005");
    /// ```
    pub fn invalid_argument(api: &'static str, detail: &str) -> Error {
        Error::with_detail(api, ErrorKind::InvalidArgument, detail)
    }

    /// Attach the underlying error.
    pub(crate) fn source_from(mut self, e: impl Into<Box<dyn StdError + Send + Sync>>) -> Error {
        self.0.source = Some(Arc::from(e.into()));
        self
    }

    /// The same error reported for another API name.
    pub(crate) fn for_api(self, api: &'static str) -> Error {
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
    /// let e = wxnet::Error::invalid_argument("request", "x");
    /// assert!(matches!(e.kind(), wxnet::ErrorKind::InvalidArgument));
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The mini-program errMsg: `"<api>:fail <reason>"`, for example
    /// `"request:fail url not in domain list"`.
    ///
    /// ```
    /// let e = wxnet::Error::invalid_argument("request", "x");
    /// assert!(e.err_msg().starts_with("request:fail "));
    /// ```
    #[doc(alias = "errMsg")]
    pub fn err_msg(&self) -> &str {
        &self.0.msg
    }

    /// The errno from the official mini-program table (600002 for a domain
    /// outside the list, 5 for a timeout, 1 for an abort, …).
    ///
    /// ```
    /// assert_eq!(wxnet::Error::invalid_argument("request", "x").errno(), 1);
    /// ```
    pub fn errno(&self) -> i32 {
        self.0.kind.errno()
    }

    /// The wx name of the API that failed (`"request"`, `"uploadFile"`,
    /// `"SocketTask.send"`, …).
    ///
    /// ```
    /// assert_eq!(wxnet::Error::invalid_argument("uploadFile", "x").api(), "uploadFile");
    /// ```
    pub fn api(&self) -> &'static str {
        self.0.api
    }

    /// The reason part of the errMsg, after `"<api>:fail "`.
    ///
    /// ```
    /// assert_eq!(wxnet::Error::invalid_argument("request", "x").reason(), "invalid argument: x");
    /// ```
    pub fn reason(&self) -> &str {
        &self.0.msg[self.0.api.len() + ":fail ".len()..]
    }

    /// Whether this is a timeout ([`ErrorKind::Timeout`]).
    ///
    /// ```
    /// assert!(!wxnet::Error::invalid_argument("request", "x").is_timeout());
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
    fn for_api_keeps_reason_and_source() {
        let e = Error::with_detail("request", ErrorKind::ResponseTooLarge, "10 bytes")
            .source_from(std::io::Error::other("x"))
            .for_api("uploadFile");
        assert_eq!(e.err_msg(), "uploadFile:fail exceed max size: 10 bytes");
        assert!(e.source().is_some());
    }
}
