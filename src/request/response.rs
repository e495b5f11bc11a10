//! What a request gives back: the response head (`on_headers_received`),
//! the body by `data_type` / `response_type`, and the result.

use serde_json::Value;

use crate::header::Header;
use crate::profile::Profile;

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
/// New fields may be added; to make one (say, to test your own listener),
/// start from `Default` (status 0, no headers) and set the fields.
///
/// ```
/// let mut h = wxnet::HeadersReceived::default();
/// assert_eq!(h.status_code, 0);
/// assert!(h.header.is_empty() && h.cookies.is_empty());
/// h.status_code = 204;
/// assert_eq!(h.status_code, 204);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
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
