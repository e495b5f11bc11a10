//! The HTTP exchange shared by `request`, `upload_file` and
//! `download_file`: headers (fixed Referer, default content-type), the
//! per-call ureq configuration (deadline, redirects), the one retry on a
//! stale pooled connection, and the mapping of every failure to [`Error`].

use std::borrow::Cow;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ureq::http::{HeaderName, HeaderValue, Response};
use ureq::{Body, SendBody};

use crate::call::CallCtl;
use crate::client::Engine;
use crate::coding::{self, ACCEPT_ENCODING};
use crate::error::{Api, Error, ErrorKind, Result};
use crate::policy::Allowed;
use crate::request::Method;

/// Headers a caller may not set: the fixed Referer, and the framing
/// headers the HTTP layer computes (a wrong one would corrupt the stream).
fn is_reserved(name: &str) -> bool {
    [
        "referer",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
    ]
    .iter()
    .any(|r| name.eq_ignore_ascii_case(r))
}

/// The headers of a call: the caller's (validated, reserved ones dropped)
/// and the fixed Referer: a socket's handshake headers.
#[cfg(feature = "websocket")]
pub(crate) fn build_headers(
    api: Api,
    engine: &Engine,
    user: &[(String, String)],
) -> Result<Vec<(String, String)>> {
    let mut out = user_headers(api, user)?;
    if engine.decompress && find_header(&out, "accept-encoding").is_none() {
        out.push(("accept-encoding".into(), ACCEPT_ENCODING.into()));
    }
    out.push(("referer".into(), engine.referer.clone()));
    Ok(out)
}

/// [`build_headers`] without the headers every HTTP call gets
/// (Accept-Encoding, Referer): [`send`] adds those, from values made once
/// per client.
pub(crate) fn user_headers(api: Api, user: &[(String, String)]) -> Result<Vec<(String, String)>> {
    // No allocation for a call without headers of its own.
    let mut out = Vec::new();
    if !user.is_empty() {
        out.reserve(user.len() + 1);
    }
    for (name, value) in user {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(Error::invalid_argument(
                api,
                &format!("header name {name:?} is not valid"),
            ));
        }
        if HeaderValue::from_str(value).is_err() {
            return Err(Error::invalid_argument(
                api,
                &format!("header {name:?} has a value that is not valid"),
            ));
        }
        if !is_reserved(name) {
            out.push((name.clone(), value.clone()));
        }
    }
    Ok(out)
}

/// The content type `request` sends when the caller gives none.
pub(crate) const JSON: &str = "application/json";

/// The value of header `name` among `headers`, in any case.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Opens a streamed request body; called again for each hop that resends
/// it (a 307/308 redirect).
pub(crate) type OpenBody<'a> = &'a (dyn Fn() -> Result<Box<dyn Read>> + Sync);

/// The body of a request.
#[derive(Clone, Copy)]
pub(crate) enum Payload<'a> {
    None,
    Bytes(&'a [u8]),
    /// Streamed with an exact length, never held in memory whole.
    Stream {
        len: u64,
        open: OpenBody<'a>,
    },
}

/// One HTTP exchange to make.
pub(crate) struct Exchange<'a> {
    pub method: Method,
    /// A URL the policy has allowed (a checked [`crate::policy::Target`]'s).
    pub url: &'a url::Url,
    /// Its origin, from the same [`crate::policy::Target`].
    pub origin: &'a Arc<Allowed>,
    /// From [`user_headers`]; Accept-Encoding and Referer are added.
    pub headers: &'a [(String, String)],
    /// Sent as the content type when `headers` give none (`request`'s
    /// default, without a copy per call).
    pub default_content_type: Option<&'static str>,
    pub body: Payload<'a>,
    pub manual_redirect: bool,
}

/// The final response head and how many redirects led to it.
pub(crate) struct Sent {
    pub response: Response<Body>,
    pub redirects: u32,
}

/// An `on_headers_received` listener.
pub(crate) type HeadersFn = Box<dyn FnOnce(&crate::HeadersReceived) + Send>;

/// Status, headers and cookies of a response head.
pub(crate) fn head(response: &Response<Body>) -> (u16, crate::Header, Vec<String>) {
    let (header, cookies) = crate::Header::from_http(response.headers());
    (response.status().as_u16(), header, cookies)
}

/// The content codings of `response` to a `method` request, as this
/// client undoes them.
pub(crate) fn decoding(
    engine: &Engine,
    response: &Response<Body>,
    method: Method,
) -> coding::Decoding {
    coding::Decoding::of(
        response.headers(),
        response.status().as_u16(),
        method == Method::Head,
        engine.decompress,
    )
}

/// Redirects followed at most; the 16th fails.
const MAX_REDIRECTS: u32 = 15;

/// How much of a redirect's body is read so its connection can be reused.
const REDIRECT_DRAIN: u64 = 64 * 1024;

/// Send the request and receive the final response head, within the
/// call's deadline, following redirects as a browser does: 301/302 turn a
/// POST into a GET, 303 turns anything but HEAD into a GET, 307/308 repeat
/// the method and body. A hop to another origin goes through the policy
/// again before any byte of it leaves (and the resolver checks any origin
/// it was not told about).
pub(crate) fn send(engine: &Engine, ctl: &CallCtl, ex: &Exchange<'_>) -> Result<Sent> {
    let mut method = ex.method;
    // Owned only after a redirect.
    let mut url = Cow::Borrowed(ex.url);
    let mut origin = ex.origin.clone();
    ctl.allow(origin.clone());
    // Copied only when a redirect drops one.
    let mut headers = Cow::Borrowed(ex.headers);
    let mut body = ex.body;
    let mut default_content_type = ex.default_content_type;
    let mut redirects = 0;
    loop {
        let hop = Exchange {
            method,
            url: &url,
            origin: &origin,
            headers: &headers,
            default_content_type,
            body,
            manual_redirect: ex.manual_redirect,
        };
        let response = send_retrying(engine, ctl, &hop)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(ureq::http::header::LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let (true, false, Some(location)) = (
            matches!(status, 301 | 302 | 303 | 307 | 308),
            ex.manual_redirect,
            location,
        ) else {
            return Ok(Sent {
                response,
                redirects,
            });
        };
        if redirects == MAX_REDIRECTS {
            return Err(ctl.error(ErrorKind::TooManyRedirects));
        }
        let mut next = url
            .join(&location)
            .map_err(|_| Error::invalid_url(ctl.api_name(), &location))?;
        next.set_fragment(None);
        let same_origin = url.origin() == next.origin();
        if !same_origin {
            // The port rule needs the port as written: check the Location
            // text itself when it is a whole URL.
            let written = if url::Url::parse(&location).is_ok() {
                location.as_str()
            } else {
                next.as_str()
            };
            origin = engine.policy.check(ctl.api, written)?.origin;
            ctl.allow(origin.clone());
        }
        // Let the connection go back to the pool when the body is small.
        let _ = response
            .into_body()
            .with_config()
            .limit(REDIRECT_DRAIN)
            .read_to_vec();
        let to_get = match status {
            301 | 302 => method == Method::Post,
            303 => method != Method::Head,
            _ => false,
        };
        if to_get {
            method = Method::Get;
            body = Payload::None;
            default_content_type = None;
            headers
                .to_mut()
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        if !same_origin {
            headers
                .to_mut()
                .retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
        }
        url = Cow::Owned(next);
        redirects += 1;
    }
}

/// One hop. An idempotent request that fails on a reused connection
/// before any response byte is retried once on a fresh connection.
fn send_retrying(engine: &Engine, ctl: &CallCtl, ex: &Exchange<'_>) -> Result<Response<Body>> {
    let mut retried = false;
    loop {
        if ctl.remaining().is_zero() {
            return Err(ctl.error(ErrorKind::Timeout));
        }
        match send_once(engine, ctl, ex) {
            Ok(r) => {
                ctl.fresh_only.store(false, Ordering::Relaxed);
                return Ok(r);
            }
            Err(e) => {
                if !retried && ex.method.is_idempotent() && is_stale_connection(ctl, &e) {
                    log::debug!("retrying on a fresh connection after: {e}");
                    retried = true;
                    ctl.fresh_only.store(true, Ordering::Relaxed);
                    continue;
                }
                ctl.fresh_only.store(false, Ordering::Relaxed);
                return Err(map_error(ctl, e));
            }
        }
    }
}

/// A failure that looks like a keep-alive connection the server (or a
/// firewall) dropped while it sat idle.
fn is_stale_connection(ctl: &CallCtl, e: &ureq::Error) -> bool {
    if ctl.cancelled().is_some() || ctl.has_stash() || ctl.remaining().is_zero() {
        return false;
    }
    let t = ctl.trace();
    t.reused && t.response_start.is_none() && matches!(e, ureq::Error::Io(_))
}

fn send_once(
    engine: &Engine,
    ctl: &CallCtl,
    ex: &Exchange<'_>,
) -> std::result::Result<Response<Body>, ureq::Error> {
    use ureq::http::header;
    let http_err = |e: ureq::http::Error| ureq::Error::Http(e);
    // The http crate's request directly: no builder moved per header, and
    // the fixed headers are cloned, not parsed and copied.
    let mut request = ureq::http::Request::new(());
    *request.method_mut() = ex.method.to_http();
    *request.uri_mut() = ex
        .url
        .as_str()
        .parse()
        .map_err(|e: ureq::http::uri::InvalidUri| http_err(e.into()))?;
    let headers = request.headers_mut();
    headers.reserve(ex.headers.len() + 3);
    for (k, v) in ex.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| http_err(e.into()))?;
        let value = HeaderValue::from_str(v).map_err(|e| http_err(e.into()))?;
        headers.append(name, value);
    }
    if let Some(ct) = ex.default_content_type {
        headers.append(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if engine.decompress && !headers.contains_key(header::ACCEPT_ENCODING) {
        headers.append(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static(ACCEPT_ENCODING),
        );
    }
    let referer = match &engine.referer_value {
        Some(v) => v.clone(),
        None => HeaderValue::from_str(&engine.referer).map_err(|e| http_err(e.into()))?,
    };
    headers.append(header::REFERER, referer);
    if let Payload::Stream { len, .. } = ex.body {
        headers.append(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    // No per-call ureq configuration: the transport bounds every connect,
    // read and write by the call's deadline itself, and cloning the
    // agent's configuration for each call would cost more than the
    // call's own header work.
    let agent = &engine.agent;
    match ex.body {
        // A method that takes a body sends an empty one; the others none.
        Payload::None if matches!(ex.method, Method::Post | Method::Put) => {
            agent.run(request.map(|()| &[][..]))
        }
        Payload::None => agent.run(request),
        Payload::Bytes(body) => agent.run(request.map(|()| body)),
        Payload::Stream { open, .. } => match open() {
            Ok(reader) => agent.run(request.map(|()| SendBody::from_owned_reader(reader))),
            Err(e) => {
                ctl.stash(e);
                Err(crate::transport::stashed())
            }
        },
    }
}

/// The most a declared `Content-Length` reserves before the body arrives.
const INITIAL_BODY_CAPACITY: u64 = 64 * 1024;

/// Read a whole response body from `reader` (the content, codings
/// undone), at most `cap` bytes; `declared` is the content's length when
/// the head gives it. Memory never grows past `cap` plus one read.
pub(crate) fn read_capped(
    ctl: &CallCtl,
    reader: &mut dyn Read,
    cap: u64,
    declared: Option<u64>,
) -> Result<Vec<u8>> {
    let too_large = || {
        Error::with_detail(
            ctl.api_name(),
            ErrorKind::ResponseTooLarge,
            &format!("{cap} bytes"),
        )
    };
    if declared.is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    // A declared length is only a hint: reserving it all up front would let
    // one hostile header claim up to `cap` before any byte arrives.
    let hint = declared.unwrap_or(0).min(INITIAL_BODY_CAPACITY);
    let mut out = Vec::with_capacity(hint as usize);
    let mut limited = Read::take(reader, cap.saturating_add(1));
    limited
        .read_to_end(&mut out)
        .map_err(|e| coding::read_error(ctl, e))?;
    if out.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(out)
}

/// The [`Error`] for a ureq failure of the call `ctl`: a cancellation or a
/// failure our connection layer recorded takes precedence over what ureq
/// saw.
pub(crate) fn map_error(ctl: &CallCtl, e: ureq::Error) -> Error {
    if let Some(kind) = ctl.cancelled() {
        return ctl.error(kind).source_from(e);
    }
    if let Some(stashed) = ctl.take_stash() {
        return stashed;
    }
    let api = ctl.api_name();
    let e = match e {
        // The OS error itself is the source, as for local files.
        ureq::Error::Io(io) if !ctl.remaining().is_zero() => {
            let io = crate::transport::io_cause(io);
            return Error::from_network_io(api, &io).source_from(io);
        }
        e => e,
    };
    let err = match &e {
        ureq::Error::Timeout(_) => ctl.error(ErrorKind::Timeout),
        _ if ctl.remaining().is_zero() => ctl.error(ErrorKind::Timeout),
        ureq::Error::HostNotFound => ctl.error(ErrorKind::Dns),
        ureq::Error::ConnectionFailed => ctl.error(ErrorKind::ConnectionRefused),
        ureq::Error::Protocol(_)
        | ureq::Error::LargeResponseHeader(..)
        | ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::RedirectFailed => ctl.error(ErrorKind::InvalidResponse),
        _ => ctl.error(ErrorKind::Network),
    };
    err.source_from(e)
}

/// The [`Error`] for an io failure while reading a body.
pub(crate) fn map_io(ctl: &CallCtl, e: io::Error) -> Error {
    if !e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        return map_error(ctl, ureq::Error::Io(e));
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<ureq::Error>()) {
        Some(Ok(inner)) => map_error(ctl, *inner),
        Some(Err(other)) => map_error(ctl, ureq::Error::Io(io::Error::new(kind, other))),
        None => map_error(ctl, ureq::Error::Io(kind.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_declared_length_reserves_at_most_64_kib_up_front() {
        let api = crate::policy::ApiKind::Request;
        let ctl = CallCtl::new(api, Instant::now(), Duration::from_secs(1));
        let cap = 100 << 20;
        let out = read_capped(&ctl, &mut &b"ok"[..], cap, Some(cap)).unwrap();
        assert_eq!(out, b"ok");
        assert!(out.capacity() <= INITIAL_BODY_CAPACITY as usize);
    }
}
