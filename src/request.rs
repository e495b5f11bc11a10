//! `wx.request`: options, result, task handle, and the blocking core that
//! a worker runs.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::charset;
use crate::client::{Client, Engine};
use crate::data::{RequestData, append_query, form_pairs};
use crate::error::{Api, ErrorKind, Result};
use crate::header::Header;
use crate::http::{self, Exchange, Method, build_headers, find_header};
use crate::job::{Callbacks, JobCtl, Work};
use crate::policy::ApiKind;
use crate::profile::Profile;

const API: Api = Api::Request;

/// How a text response is interpreted (`dataType`).
///
/// ```
/// assert_eq!(wxnet::DataType::default(), wxnet::DataType::Json);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataType {
    /// Parse the text as JSON; text that is not JSON is kept as a string.
    #[default]
    Json,
    /// Keep the text as a string.
    Other,
}

/// How the response body is delivered (`responseType`).
///
/// ```
/// assert_eq!(wxnet::ResponseType::default(), wxnet::ResponseType::Text);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    /// Decode to UTF-8 text (then JSON with [`DataType::Json`]).
    #[default]
    Text,
    /// The raw bytes, untouched.
    #[doc(alias = "arraybuffer")]
    ArrayBuffer,
}

/// Whether redirects are followed (`redirect`).
///
/// ```
/// assert_eq!(wxnet::Redirect::default(), wxnet::Redirect::Follow);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Redirect {
    /// Follow 301, 302, 303, 307 and 308, up to 15 times, each hop checked
    /// against the domain list.
    #[default]
    Follow,
    /// Stop at the 3xx and return it as the result.
    Manual,
}

/// The response body of a request.
///
/// ```
/// let d = wxnet::ResponseData::Text("hi".into());
/// assert_eq!(d.as_text(), Some("hi"));
/// assert!(d.as_json().is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseData {
    /// Text (UTF-8 after conversion), when not parsed as JSON.
    Text(String),
    /// Parsed JSON, with [`DataType::Json`] and a JSON body.
    Json(Value),
    /// Raw bytes, with [`ResponseType::ArrayBuffer`].
    Bytes(Vec<u8>),
}

impl ResponseData {
    /// The text, if this is [`ResponseData::Text`].
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ResponseData::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The JSON value, if this is [`ResponseData::Json`].
    ///
    /// ```
    /// let d = wxnet::ResponseData::Json(serde_json::json!({"a": 1}));
    /// assert_eq!(d.as_json().unwrap()["a"], 1);
    /// ```
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            ResponseData::Json(v) => Some(v),
            _ => None,
        }
    }

    /// The bytes, if this is [`ResponseData::Bytes`].
    ///
    /// ```
    /// let d = wxnet::ResponseData::Bytes(vec![1, 2]);
    /// assert_eq!(d.as_bytes(), Some(&[1u8, 2][..]));
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            ResponseData::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// The response head, given to `on_headers_received` before the body.
///
/// ```
/// let h = wxnet::HeadersReceived { header: wxnet::Header::new(), cookies: vec![], status_code: 204 };
/// assert_eq!(h.status_code, 204);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HeadersReceived {
    /// Response headers.
    pub header: Header,
    /// Raw `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// HTTP status.
    #[doc(alias = "statusCode")]
    pub status_code: u16,
}

/// The result of a successful request: any HTTP status is a success.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RequestSuccess {
    /// The body: text, JSON or bytes by `data_type` / `response_type`
    /// (empty with `enable_chunked`, whose body went to
    /// `on_chunk_received`).
    pub data: ResponseData,
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

type ChunkFn = Box<dyn FnMut(&[u8]) + Send>;

/// The options of [`Client::request`]: `RequestOptions::new(url)` and
/// setters, as the object passed to `wx.request`.
///
/// ```
/// use std::time::Duration;
/// let o = wxnet::RequestOptions::new("https://api.example.com/x")
///     .method(wxnet::Method::Post)
///     .header("x-token", "t")
///     .data(serde_json::json!({"a": 1}))
///     .timeout(Duration::from_secs(5));
/// assert_eq!(o.url(), "https://api.example.com/x");
/// ```
pub struct RequestOptions {
    url: String,
    method: Method,
    header: Vec<(String, String)>,
    data: Option<RequestData>,
    timeout: Option<Duration>,
    data_type: DataType,
    response_type: ResponseType,
    enable_chunked: bool,
    redirect: Redirect,
    on_headers_received: Option<http::HeadersFn>,
    on_chunk_received: Option<ChunkFn>,
    callbacks: Callbacks<RequestSuccess>,
}

impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestOptions")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("header", &self.header)
            .field("data", &self.data)
            .field("timeout", &self.timeout)
            .field("data_type", &self.data_type)
            .field("response_type", &self.response_type)
            .field("enable_chunked", &self.enable_chunked)
            .field("redirect", &self.redirect)
            .finish_non_exhaustive()
    }
}

crate::options::call_setters!(
    RequestOptions,
    new: "wxnet::RequestOptions::new(\"https://api.example.com/x\")",
    network_timeout: "request",
    success: RequestSuccess
);

impl RequestOptions {
    /// A GET of `url` with every other option at its default.
    ///
    /// ```
    /// let o = wxnet::RequestOptions::new("https://a.com/");
    /// assert_eq!(o.url(), "https://a.com/");
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        RequestOptions {
            url: url.into(),
            method: Method::Get,
            header: Vec::new(),
            data: None,
            timeout: None,
            data_type: DataType::Json,
            response_type: ResponseType::Text,
            enable_chunked: false,
            redirect: Redirect::Follow,
            on_headers_received: None,
            on_chunk_received: None,
            callbacks: Callbacks::default(),
        }
    }

    /// The URL.
    ///
    /// ```
    /// assert_eq!(wxnet::RequestOptions::new("https://a.com/b").url(), "https://a.com/b");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The HTTP method. Defaults to GET.
    ///
    /// ```
    /// let o = wxnet::RequestOptions::new("https://a.com/").method(wxnet::Method::Delete);
    /// assert!(format!("{o:?}").contains("Delete"));
    /// ```
    pub fn method(mut self, m: Method) -> Self {
        self.method = m;
        self
    }

    /// The data to send: see [`RequestData`]. Defaults to none.
    ///
    /// ```
    /// let o = wxnet::RequestOptions::new("https://a.com/").data("raw text");
    /// assert!(format!("{o:?}").contains("raw text"));
    /// ```
    pub fn data(mut self, d: impl Into<RequestData>) -> Self {
        self.data = Some(d.into());
        self
    }

    /// How text is interpreted. Defaults to [`DataType::Json`].
    ///
    /// ```
    /// let o = wxnet::RequestOptions::new("https://a.com/").data_type(wxnet::DataType::Other);
    /// assert!(format!("{o:?}").contains("Other"));
    /// ```
    pub fn data_type(mut self, t: DataType) -> Self {
        self.data_type = t;
        self
    }

    /// How the body is delivered. Defaults to [`ResponseType::Text`].
    ///
    /// ```
    /// let o = wxnet::RequestOptions::new("https://a.com/").response_type(wxnet::ResponseType::ArrayBuffer);
    /// assert!(format!("{o:?}").contains("ArrayBuffer"));
    /// ```
    pub fn response_type(mut self, t: ResponseType) -> Self {
        self.response_type = t;
        self
    }

    /// Stream the body to `on_chunk_received` as it arrives instead of
    /// collecting it (no size cap applies). Defaults to `false`.
    ///
    /// ```
    /// let o = wxnet::RequestOptions::new("https://a.com/").enable_chunked(true);
    /// assert!(format!("{o:?}").contains("enable_chunked: true"));
    /// ```
    pub fn enable_chunked(mut self, on: bool) -> Self {
        self.enable_chunked = on;
        self
    }

    /// Follow redirects or return the 3xx. Defaults to
    /// [`Redirect::Follow`].
    ///
    /// ```
    /// let o = wxnet::RequestOptions::new("https://a.com/").redirect(wxnet::Redirect::Manual);
    /// assert!(format!("{o:?}").contains("Manual"));
    /// ```
    pub fn redirect(mut self, r: Redirect) -> Self {
        self.redirect = r;
        self
    }

    /// Called with each piece of the body as it arrives, when
    /// `enable_chunked` is on.
    ///
    /// ```
    /// let o = wxnet::RequestOptions::new("https://a.com/")
    ///     .enable_chunked(true)
    ///     .on_chunk_received(|chunk: &[u8]| assert!(!chunk.is_empty()));
    /// # drop(o);
    /// ```
    pub fn on_chunk_received(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Self {
        self.on_chunk_received = Some(Box::new(f));
        self
    }
}

crate::client::task_handle!(
    /// The handle of a request (`RequestTask`).
    ///
    /// ```no_run
    /// let client = wxnet::Client::builder().request_domains(["https://api.example.com"]).build()?;
    /// let task = client.request(wxnet::RequestOptions::new("https://api.example.com/slow"));
    /// task.abort();
    /// assert_eq!(task.wait().unwrap_err().kind(), wxnet::ErrorKind::Abort);
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    RequestTask,
    RequestWork,
    RequestSuccess,
    refused: "client.request(wxnet::RequestOptions::new(\"https://api.example.com/\"))"
);

impl Client {
    /// Make a request (`wx.request`). Returns at once; the call runs on a
    /// worker, or on the thread that calls [`RequestTask::wait`] right
    /// away when one of the 10 slots is free (no hand-off between
    /// threads). Use `wait` for the result, or the callbacks.
    ///
    /// A call the policy refuses, or one that cannot be queued, fails
    /// before this returns (its `fail` and `complete` run on this thread).
    ///
    /// ```no_run
    /// let client = wxnet::Client::builder().request_domains(["https://api.example.com"]).build()?;
    /// let res = client
    ///     .request(wxnet::RequestOptions::new("https://api.example.com/items").data(serde_json::json!({"page": 1})))
    ///     .wait()?;
    /// println!("{} {:?}", res.status_code, res.data);
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn request(&self, options: RequestOptions) -> RequestTask {
        RequestTask {
            handle: self.start(ApiKind::Request, options, RequestWork::prepare),
        }
    }
}

/// Everything a worker needs to run one request.
pub(crate) struct RequestWork {
    engine: Arc<Engine>,
    method: Method,
    url: url::Url,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    data_type: DataType,
    response_type: ResponseType,
    chunked: bool,
    manual_redirect: bool,
    on_headers: Option<http::HeadersFn>,
    on_chunk: Option<ChunkFn>,
}

impl RequestWork {
    /// Check the URL and turn the options into the request to send; runs
    /// on the caller's thread so refusals are immediate.
    fn prepare(engine: &Arc<Engine>, o: RequestOptions) -> Result<RequestWork> {
        let target = engine.policy.check(ApiKind::Request, &o.url)?;
        let mut url = target.url;
        url.set_fragment(None);
        let headers = build_headers(API, engine, &o.header, Some("application/json"))?;
        let content_type = find_header(&headers, "content-type").unwrap_or("");
        let form = content_type
            .to_ascii_lowercase()
            .contains("application/x-www-form-urlencoded");
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
        Ok(RequestWork {
            engine: engine.clone(),
            method: o.method,
            url,
            headers,
            body,
            data_type: o.data_type,
            response_type: o.response_type,
            chunked: o.enable_chunked,
            manual_redirect: o.redirect == Redirect::Manual,
            on_headers: o.on_headers_received,
            on_chunk: o.on_chunk_received,
        })
    }
}

/// Size of the pieces handed to `on_chunk_received`.
const CHUNK: usize = 16 * 1024;

impl Work for RequestWork {
    type Output = RequestSuccess;

    fn run(mut self, ctl: &Arc<JobCtl>) -> Result<RequestSuccess> {
        let engine = self.engine.clone();
        let exchange = Exchange {
            method: self.method,
            url: &self.url,
            headers: &self.headers,
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
        let (status_code, header, cookies) = http::head(&response, self.on_headers.take());
        let mut body = response.into_body();
        let raw = if self.chunked {
            let mut reader = body.with_config().limit(u64::MAX).reader();
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = reader.read(&mut buf).map_err(|e| http::map_io(ctl, e))?;
                if n == 0 {
                    break;
                }
                if let Some(f) = self.on_chunk.as_mut() {
                    f(&buf[..n]);
                }
            }
            Vec::new()
        } else {
            http::read_capped(ctl, &mut body, engine.max_response_size)?
        };
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
