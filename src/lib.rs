//! # wxnet
//!
//! The WeChat Mini Program network API — `request`, `uploadFile`,
//! `downloadFile`, `connectSocket` — as a small, **blocking** Rust library
//! (no async runtime) for devices, edge boxes and scripts, with the rules
//! the mini-program runtime enforces:
//!
//! - a domain list per API, `https`/`wss` only, no IP addresses or
//!   `localhost`, and the port rule (an entry without a port matches only
//!   URLs without one);
//! - TLS 1.2 or 1.3 through rustls with verified certificates
//!   (webpki-roots plus the roots you add);
//! - the fixed `Referer: https://servicewechat.com/{appid}/{version}/page-frame.html`;
//! - one deadline per call, at most 60 s, counted from the call;
//! - 10 HTTP calls at once, more are queued (a full queue fails with
//!   errno 600007);
//! - any HTTP status is a success; text is converted to UTF-8 without
//!   loss, BOM stripped;
//! - background interruption after 5 s; every call ends in exactly one
//!   success-or-fail and one complete.
//!
//! ```no_run
//! use std::time::Duration;
//! use wxnet::{Client, RequestOptions, Method, ResponseData};
//!
//! let client = Client::builder()
//!     .app_id("wx0123456789abcdef")
//!     .env_version(wxnet::EnvVersion::Release("1.2.0".into()))
//!     .request_domains(["https://api.example.com"])
//!     .build()?;
//!
//! // The script way: block for the result.
//! let res = client
//!     .request(RequestOptions::new("https://api.example.com/login")
//!         .method(Method::Post)
//!         .data(serde_json::json!({"code": "abc"}))
//!         .timeout(Duration::from_secs(5)))
//!     .wait()?;
//! if let ResponseData::Json(v) = &res.data {
//!     println!("{} {}", res.status_code, v["token"]);
//! }
//!
//! // The mini-program way: callbacks, run on a worker thread (or on the
//! // thread that waits for the call, when it runs it itself).
//! client.request(RequestOptions::new("https://api.example.com/ping")
//!     .success(|r| println!("status {}", r.status_code))
//!     .fail(|e| eprintln!("{}", e.err_msg()))
//!     .complete(|| println!("done")));
//! # Ok::<(), wxnet::Error>(())
//! ```
//!
//! Files are streamed: uploads read from disk with an exact
//! `Content-Length`, downloads go to a partial file renamed into place only
//! on success (a failure leaves no file):
//!
//! ```no_run
//! # let client = wxnet::Client::builder().build()?;
//! let up = client
//!     .upload_file(wxnet::UploadFileOptions::new("https://up.example.com/a", "me.jpg", "file")
//!         .form_data("user", "42")
//!         .on_progress_update(|p| println!("{}%", p.progress)))
//!     .wait()?;
//! println!("{} {}", up.status_code, up.data);
//! let down = client
//!     .download_file(wxnet::DownloadFileOptions::new("https://dl.example.com/fw.bin"))
//!     .wait()?;
//! println!("{} bytes at {}", down.data_length, down.path().display());
//! # Ok::<(), wxnet::Error>(())
//! ```
//!
//! Compressed responses (feature `gzip`, on by default) are asked for with
//! `Accept-Encoding: gzip, deflate` and decoded before `data`, the saved
//! file, progress and the size caps see them; see
//! [`ClientBuilder::decompress`].
//!
//! WebSockets (feature `websocket`, on by default) have one reader thread
//! each; events reach the task's listeners, and events that arrive before
//! a listener is registered are kept for it:
//!
//! ```no_run
//! # use std::time::Duration;
//! # let client = wxnet::Client::builder().build()?;
//! let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/chat"));
//! task.on_message(|m| println!("{m:?}"));
//! task.on_close(|c| println!("closed {} {}", c.code, c.reason));
//! task.wait_open(Duration::from_secs(5))?;
//! task.send(wxnet::SocketMessage::Text("hi".into()))?;
//! task.close(1000, "bye")?;
//! # Ok::<(), wxnet::Error>(())
//! ```
//!
//! Errors carry the mini-program `errMsg` and `errno`:
//!
//! ```
//! let client = wxnet::Client::builder().request_domains(["https://api.example.com"]).build()?;
//! let options = wxnet::RequestOptions::new("https://evil.example.net/");
//! let err = client.request(options).wait().unwrap_err();
//! assert_eq!(err.err_msg(), "request:fail url not in domain list");
//! assert_eq!(err.errno(), 600002);
//! # Ok::<(), wxnet::Error>(())
//! ```
//!
//! ## Checking a server
//!
//! With the `check` feature, `wxnet::check::Checker` inspects a backend
//! the way the mini program will see it (TLS versions and suites, the
//! certificate chain, Apple's rules), one verdict per rule with a fix; the
//! `cli` feature builds the `wxnet` command line around it.
//!
//! ## Known differences from the mini-program runtime
//!
//! - HTTP/1.1 only: `enable_http2` / `enable_quic` are not offered.
//! - No permessage-deflate, no HttpDNS, no LAN-IP exception.
//! - TLS 1.0/1.1 servers, and TLS 1.2 servers without ECDHE + AEAD
//!   suites, cannot be reached (rustls): stricter than some phones, and
//!   exactly what the docs require.
//! - errMsg reasons are one fixed English table, not the platform's
//!   localised text.
//! - Response header names are lower case (as the HTTP layer delivers
//!   them); lookups ignore case.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
mod call;
mod charset;
#[cfg(feature = "check")]
pub mod check;
mod client;
mod coding;
mod config;
mod data;
mod deferred;
mod download;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod header;
mod http;
mod listener;
mod multipart;
mod options;
mod policy;
mod pool;
mod profile;
mod progress;
mod proxy;
mod request;
mod socket;
mod sync;
mod tls;
mod transport;
mod upload;
mod wxnet_json;

pub use client::Client;
pub use config::{ClientBuilder, EnvVersion, MAX_TIMEOUT, NetworkTimeout, WORKERS};
pub use data::RequestData;
pub use download::{DownloadFileOptions, DownloadFileSuccess, DownloadProgress, DownloadTask};
pub use error::{Api, Error, ErrorKind, Result};
pub use header::Header;
pub use listener::ListenerId;
pub use policy::ApiKind;
pub use profile::Profile;
pub use request::{
    DataType, HeadersReceived, Method, Redirect, RequestOptions, RequestSuccess, RequestTask,
    ResponseData, ResponseType,
};
#[cfg(feature = "websocket")]
pub use socket::{
    ConnectSocketOptions, MAX_SOCKETS, ReadyState, SocketClose, SocketMessage, SocketOpen,
    SocketTask,
};
pub use upload::{UploadFileOptions, UploadFileSuccess, UploadProgress, UploadTask};
