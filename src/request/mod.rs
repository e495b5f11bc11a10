//! `wx.request`: the method ([`method`]), the options ([`options`]), the
//! response and result ([`response`]), the task handle, and the prepared
//! call a worker runs.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::call::{CallCtl, CallHandle, EndGuard, PreparedCall, TaskEvents, once};
use crate::charset;
use crate::client::{Client, Engine};
use crate::coding;
use crate::data::{RequestData, append_query, form_pairs};
use crate::error::{Api, Error, ErrorKind, Result};
use crate::http::{self, Exchange, find_header, user_headers};
use crate::listener::{Delivered, Keep, ListenerId};
use crate::policy::ApiKind;
use crate::profile::Profile;

mod method;
mod options;
mod response;

pub use method::Method;
pub use options::RequestOptions;
pub use response::{
    DataType, HeadersReceived, Redirect, RequestSuccess, ResponseData, ResponseType,
};

const API: Api = Api::Request;

/// The handle of a request (`RequestTask`): abort the call, wait for its result, or
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
/// let task = Arc::new(client.request(wxnet::RequestOptions::new(url)));
/// let other = task.clone();
/// std::thread::spawn(move || other.abort()).join().unwrap();
/// let task = Arc::into_inner(task).unwrap();
/// assert_eq!(task.wait().unwrap_err().kind(), wxnet::ErrorKind::Abort);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RequestTask {
    handle: CallHandle<PreparedRequest>,
    events: Arc<Events>,
}

/// A request's listeners: the head, and the body's chunks.
type Events = TaskEvents<Vec<u8>>;

impl Drop for RequestTask {
    fn drop(&mut self) {
        self.events.close();
    }
}

impl std::fmt::Debug for RequestTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestTask")
            .field("finished", &self.handle.is_finished())
            .finish()
    }
}

impl RequestTask {
    /// Abort the call: it fails with `request:fail abort` (errno 1)
    /// promptly, whether queued or in flight, even while a read is
    /// blocked. Does nothing once the call has ended.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A server that accepts the connection and never answers.
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let task = client.request(wxnet::RequestOptions::new(url));
    /// task.abort();
    /// let e = task.wait().unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Abort);
    /// assert_eq!(e.err_msg(), "request:fail abort");
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
    /// let client = wxnet::Client::builder().request_domains(["https://a.example.com"]).build()?;
    /// let (done, completed) = mpsc::channel();
    /// // Not in the domain list: the call fails before any traffic.
    /// let options = wxnet::RequestOptions::new("https://b.example.com/")
    ///     .complete(move || done.send(std::thread::current().id()).unwrap());
    /// let e = client.request(options).wait().unwrap_err();
    /// assert_eq!(e.errno(), 600002);
    /// // `complete` ran on a library thread, after the call returned.
    /// let on = completed.recv_timeout(Duration::from_secs(5))?;
    /// assert_ne!(on, std::thread::current().id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(self) -> Result<RequestSuccess> {
        self.events.close();
        self.handle.wait()
    }

    /// Whether the call has ended (its callbacks have run).
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let pending = client.request(wxnet::RequestOptions::new(url));
    /// assert!(!pending.is_finished()); // the server never answers
    /// pending.abort();
    ///
    /// let strict = wxnet::Client::builder().build()?;
    /// assert!(strict.request(wxnet::RequestOptions::new("https://b.example.com/")).is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Listen for the response head (`onHeadersReceived`); any number of
    /// listeners, each with its id for
    /// [`off_headers_received`](RequestTask::off_headers_received). The
    /// head is kept: a listener added after it arrived, even after the
    /// call ended, gets it once, from a library thread (never inside this
    /// call).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, _) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let (done, ended) = mpsc::channel();
    /// let options = wxnet::RequestOptions::new(url).complete(move || done.send(()).unwrap());
    /// let task = client.request(options);
    /// let (tx, heads) = mpsc::channel();
    /// let (tx2, late) = (tx.clone(), tx.clone());
    /// task.on_headers_received(move |h| tx.send(("first", h.status_code)).unwrap());
    /// task.on_headers_received(move |h| tx2.send(("second", h.status_code)).unwrap());
    /// ended.recv_timeout(Duration::from_secs(5))?;
    /// // Added after the call ended: still gets the head, once.
    /// task.on_headers_received(move |h| late.send(("late", h.status_code)).unwrap());
    /// let mut got: Vec<_> = heads.iter().take(3).collect();
    /// got.sort();
    /// assert_eq!(got, [("first", 200), ("late", 200), ("second", 200)]);
    /// assert!(heads.recv_timeout(Duration::from_millis(100)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "onHeadersReceived")]
    pub fn on_headers_received(
        &self,
        f: impl FnMut(&HeadersReceived) + Send + 'static,
    ) -> ListenerId {
        self.events.listen(|e| &e.headers, Box::new(f))
    }

    /// Remove the head listener `id`, or every one with `None`; whether
    /// any was removed. A removed listener is dropped at once (or right
    /// after the call it is in).
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let task = client.request(wxnet::RequestOptions::new(url));
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let id = task.on_headers_received(move |_| tx.send(()).unwrap());
    /// task.on_headers_received(|_| {});
    /// assert!(task.off_headers_received(Some(id)));
    /// assert!(rx.recv().is_err()); // the listener, and its sender, are gone
    /// assert!(!task.off_headers_received(Some(id)));
    /// assert!(task.off_headers_received(None));
    /// assert!(!task.off_headers_received(None));
    /// task.abort();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "offHeadersReceived")]
    pub fn off_headers_received(&self, id: Option<ListenerId>) -> bool {
        Events::unlisten(&self.events.headers, id)
    }

    /// Listen for pieces of the body as they arrive, with
    /// [`RequestOptions::enable_chunked`] on (`onChunkReceived`); any
    /// number of listeners, each with its id for
    /// [`off_chunk_received`](RequestTask::off_chunk_received). Pieces
    /// that arrived before the first chunk listener are kept and given to
    /// it first, in order, from a library thread; while kept they count
    /// against `max_response_size`, and past it the call fails with
    /// [`ErrorKind::ResponseTooLarge`] (`exceed max size`).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, _) = doc::serve_once("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let task = client.request(wxnet::RequestOptions::new(url).enable_chunked(true));
    /// let (tx, chunks) = mpsc::channel();
    /// task.on_chunk_received(move |c| tx.send(c.to_vec()).unwrap());
    /// let res = task.wait()?;
    /// assert_eq!(res.data.as_bytes(), None);
    /// assert_eq!(chunks.iter().flatten().collect::<Vec<u8>>(), b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "onChunkReceived")]
    pub fn on_chunk_received(&self, mut f: impl FnMut(&[u8]) + Send + 'static) -> ListenerId {
        self.events
            .listen(|e| &e.body, Box::new(move |c: &Vec<u8>| f(c)))
    }

    /// Remove the chunk listener `id`, or every one with `None`; whether
    /// any was removed.
    ///
    /// ```
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// let (url, _server) = doc::silent();
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let task = client.request(wxnet::RequestOptions::new(url).enable_chunked(true));
    /// let a = task.on_chunk_received(|_| {});
    /// let b = task.on_chunk_received(|_| {});
    /// assert_ne!(a, b);
    /// assert!(task.off_chunk_received(Some(a)));
    /// assert!(!task.off_chunk_received(Some(a)));
    /// assert!(task.off_chunk_received(None)); // removes `b`
    /// assert!(!task.off_chunk_received(Some(b)));
    /// task.abort();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "offChunkReceived")]
    pub fn off_chunk_received(&self, id: Option<ListenerId>) -> bool {
        Events::unlisten(&self.events.body, id)
    }
}

impl Client {
    /// Make a request (`wx.request`). Returns at once; the call runs on a
    /// worker, or on the thread that calls [`RequestTask::wait`] right
    /// away when one of the 10 slots is free (no hand-off between
    /// threads). Use `wait` for the result, or the callbacks.
    ///
    /// A call with a callback or a listener in its options goes to a
    /// worker at once. A call the policy refuses, or one that cannot be
    /// queued, is over when this returns (`is_finished`); its `fail` and
    /// `complete` run soon after on a library thread, never inside this
    /// call, so a lock held across it may be taken in them.
    ///
    /// ```
    /// use serde_json::json;
    /// # mod doc { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doctest/server.rs")); }
    /// // A loopback server that records the request and answers with JSON.
    /// let (url, request) = doc::serve_once(
    ///     "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n\
    ///      {\"items\":3}",
    /// );
    /// // `skip_domain_check` lets the example use plain HTTP to 127.0.0.1.
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let options = wxnet::RequestOptions::new(format!("{url}items")).data(json!({"page": 1}));
    /// let res = client.request(options).wait()?;
    /// assert_eq!(res.status_code, 200);
    /// assert_eq!(res.data.as_json().unwrap()["items"], 3);
    /// assert!(request.recv()?.starts_with("GET /items?page=1 HTTP/1.1\r\n"));
    ///
    /// // Refused by the domain list: over before `request` returns.
    /// let strict = wxnet::Client::builder().request_domains(["https://api.a.com"]).build()?;
    /// assert!(strict.request(wxnet::RequestOptions::new("https://b.com/")).is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn request(&self, options: RequestOptions) -> RequestTask {
        let cap = usize::try_from(self.max_response_size()).unwrap_or(usize::MAX);
        let keep = Keep::ForFirst {
            cap,
            weight: Vec::len,
        };
        let events = TaskEvents::new(keep, self.late_threads());
        let theirs = events.clone();
        RequestTask {
            handle: self.start(ApiKind::Request, options, move |engine, o| {
                PreparedRequest::prepare(engine, o, theirs)
            }),
            events,
        }
    }
}

/// Everything a worker needs to run one request.
pub(crate) struct PreparedRequest {
    engine: Arc<Engine>,
    method: Method,
    url: url::Url,
    origin: Arc<crate::policy::Allowed>,
    headers: Vec<(String, String)>,
    default_content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    data_type: DataType,
    response_type: ResponseType,
    chunked: bool,
    manual_redirect: bool,
    events: Arc<Events>,
}

impl PreparedRequest {
    /// Check the URL and turn the options into the request to send; runs
    /// on the caller's thread so refusals are immediate.
    fn prepare(
        engine: &Arc<Engine>,
        o: RequestOptions,
        events: Arc<Events>,
    ) -> Result<PreparedRequest> {
        let target = engine.policy.check(ApiKind::Request, &o.url)?;
        let mut url = target.url;
        let origin = target.origin;
        url.set_fragment(None);
        let headers = user_headers(API, &o.header)?;
        // The default is sent from a constant, not kept among the headers.
        let given = find_header(&headers, "content-type");
        let default_content_type = given.is_none().then_some(http::JSON);
        let content_type = given.or(default_content_type).unwrap_or("");
        const FORM: &[u8] = b"application/x-www-form-urlencoded";
        // No lower-cased copy per call.
        let form = content_type
            .as_bytes()
            .windows(FORM.len())
            .any(|w| w.eq_ignore_ascii_case(FORM));
        let body = match (o.method, o.data) {
            (_, None) => None,
            (Method::Get, Some(RequestData::Json(v @ (Value::Object(_) | Value::Array(_))))) => {
                append_query(&mut url, &form_pairs(&v));
                None
            }
            (Method::Get, Some(RequestData::Json(Value::String(s))))
            | (Method::Get, Some(RequestData::Text(s))) => {
                append_query(&mut url, &s);
                None
            }
            (_, Some(RequestData::Json(Value::String(s)))) => Some(s.into_bytes()),
            (_, Some(RequestData::Json(v @ (Value::Object(_) | Value::Array(_))))) if form => {
                Some(form_pairs(&v).into_bytes())
            }
            (_, Some(RequestData::Json(v))) => Some(v.to_string().into_bytes()),
            (_, Some(RequestData::Text(s))) => Some(s.into_bytes()),
            (_, Some(RequestData::Bytes(b))) => Some(b),
        };
        if let Some(f) = o.on_headers_received {
            events.listen(|e| &e.headers, once(f));
        }
        if let Some(mut f) = o.on_chunk_received {
            events.listen(|e| &e.body, Box::new(move |c: &Vec<u8>| f(c)));
        }
        Ok(PreparedRequest {
            engine: engine.clone(),
            method: o.method,
            url,
            origin,
            headers,
            default_content_type,
            body,
            data_type: o.data_type,
            response_type: o.response_type,
            chunked: o.enable_chunked,
            manual_redirect: o.redirect == Redirect::Manual,
            events,
        })
    }
}

/// Size of the pieces handed to `on_chunk_received`.
const CHUNK: usize = 16 * 1024;

/// The body went past `cap` bytes (`max_response_size`).
fn too_large(ctl: &CallCtl, cap: u64) -> Error {
    Error::with_detail(
        ctl.api_name(),
        ErrorKind::ResponseTooLarge,
        &format!("{cap} bytes"),
    )
}

impl PreparedCall for PreparedRequest {
    type Output = RequestSuccess;

    fn run(self, ctl: &Arc<CallCtl>) -> Result<RequestSuccess> {
        let engine = self.engine.clone();
        let events = self.events.clone();
        let _end = EndGuard(&events);
        let exchange = Exchange {
            method: self.method,
            url: &self.url,
            origin: &self.origin,
            headers: &self.headers,
            default_content_type: self.default_content_type,
            body: match &self.body {
                Some(b) => http::Payload::Bytes(b),
                None => http::Payload::None,
            },
            manual_redirect: self.manual_redirect,
        };
        let http::Sent {
            response,
            redirects,
        } = http::send(&engine, ctl, &exchange)?;
        let (status_code, header, cookies) = http::head(&response);
        events.emit_head(ctl, status_code, &header, &cookies)?;
        let decoding = http::decoding(&engine, &response, self.method);
        let mut body = response.into_body();
        let declared = body.content_length().filter(|_| !decoding.transforms());
        // Text needs the content; bytes in a coding wxnet cannot undo are
        // handed over as sent.
        let strict = self.response_type == ResponseType::Text;
        let mut reader = decoding.reader(body.with_config().limit(u64::MAX).reader(), strict);
        let raw = if self.chunked {
            // No piece alone is over the cap on what is kept for a first
            // chunk listener.
            let cap = usize::try_from(engine.max_response_size).unwrap_or(usize::MAX);
            let mut buf = vec![0u8; CHUNK.min(cap.max(1))];
            loop {
                let n = reader
                    .read(&mut buf)
                    .map_err(|e| coding::read_error(ctl, e))?;
                if n == 0 {
                    break;
                }
                // Nobody listens and nobody can any more: nothing to keep.
                if !events.wanted(&events.body) {
                    continue;
                }
                if let Delivered::Full(_) = events.emit_body(buf[..n].to_vec()) {
                    return Err(too_large(ctl, engine.max_response_size));
                }
                events.check(ctl)?;
            }
            Vec::new()
        } else {
            http::read_capped(ctl, &mut reader, engine.max_response_size, declared)?
        };
        drop(reader);
        ctl.trace().response_end = Some(Instant::now());
        let data = match self.response_type {
            ResponseType::ArrayBuffer => ResponseData::Bytes(raw),
            ResponseType::Text => {
                let text = charset::decode_text(raw, header.get("content-type"))
                    .map_err(|()| ctl.error(ErrorKind::ConvertFailed))?;
                match self.data_type {
                    DataType::Json => match serde_json::from_str(&text) {
                        Ok(v) => ResponseData::Json(v),
                        Err(_) => ResponseData::Text(text),
                    },
                    DataType::Other => ResponseData::Text(text),
                }
            }
        };
        Ok(RequestSuccess {
            data,
            status_code,
            header,
            cookies,
            profile: Profile::from_ctl(ctl, redirects),
        })
    }
}
