//! The HTTP methods `wx.request` offers.

use crate::error::{Api, Error, Result};

/// HTTP methods of `wx.request`.
///
/// ```
/// assert_eq!(wxnet::Method::default(), wxnet::Method::Get);
/// assert_eq!(wxnet::Method::Post.as_str(), "POST");
/// assert_eq!("put".parse::<wxnet::Method>().unwrap(), wxnet::Method::Put);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// `OPTIONS`
    Options,
    /// `GET`, the default.
    #[default]
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `TRACE`
    Trace,
    /// `CONNECT`
    Connect,
}

impl Method {
    /// The method as sent on the wire.
    ///
    /// ```
    /// assert_eq!(wxnet::Method::Options.as_str(), "OPTIONS");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Options => "OPTIONS",
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
        }
    }

    /// The method as the HTTP layer names it.
    pub(crate) fn to_http(self) -> ureq::http::Method {
        use ureq::http::Method as M;
        match self {
            Method::Options => M::OPTIONS,
            Method::Get => M::GET,
            Method::Head => M::HEAD,
            Method::Post => M::POST,
            Method::Put => M::PUT,
            Method::Delete => M::DELETE,
            Method::Trace => M::TRACE,
            Method::Connect => M::CONNECT,
        }
    }

    /// Whether repeating the request is harmless (RFC 9110 §9.2.2); only
    /// these are retried after a stale keep-alive connection.
    ///
    /// ```
    /// assert!(wxnet::Method::Put.is_idempotent());
    /// assert!(!wxnet::Method::Post.is_idempotent());
    /// ```
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Connect)
    }
}

impl std::str::FromStr for Method {
    type Err = Error;

    fn from_str(s: &str) -> Result<Method> {
        let all = [
            Method::Options,
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Trace,
            Method::Connect,
        ];
        all.into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::invalid_argument(Api::Request, &format!("unknown method {s:?}")))
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
