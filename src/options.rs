//! What the client takes out of any HTTP call's options before the rest
//! is prepared: the callbacks and the call's own timeout. Each options
//! type (`RequestOptions`, `UploadFileOptions`, `DownloadFileOptions`)
//! implements it next to its setters.
//!
//! Also the setters the socket options share with them, generated.

use std::time::Duration;

use crate::call::Callbacks;

/// The parts of a call's options the client handles the same way for
/// every API.
pub(crate) trait CallOptions {
    type Output;
    fn take_common(&mut self) -> (Callbacks<Self::Output>, Option<Duration>);
}

/// Implements `header`, `timeout`, `fail` and `complete` on an options
/// type whose fields are `header`, `timeout` and `callbacks` (the socket
/// options; the HTTP options write theirs out with examples of their own).
#[cfg_attr(not(feature = "websocket"), allow(unused_macros))]
macro_rules! call_setters {
    ($ty:ident, new: $new:literal, network_timeout: $field:literal) => {
        impl $ty {
            /// Add a request header. `Referer` is always replaced by the
            /// fixed `https://servicewechat.com/{appid}/{version}/page-frame.html`,
            /// and framing headers (`Content-Length`, `Transfer-Encoding`,
            /// `Host`, `Connection`) are the library's. Defaults to none.
            ///
            #[doc = concat!("```\nlet o = ", $new, ".header(\"x-token\", \"t\");\nassert!(format!(\"{o:?}\").contains(\"x-token\"));\n```")]
            pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
                self.header.push((name.into(), value.into()));
                self
            }

            /// This call's timeout, counted from the moment of the call
            /// (queue wait included) and capped at 60 s. Defaults to the
            #[doc = concat!("client's `network_timeout.", $field, "`.")]
            ///
            #[doc = concat!("```\nlet o = ", $new, ".timeout(std::time::Duration::from_secs(7));\nassert!(format!(\"{o:?}\").contains(\"7s\"));\n```")]
            pub fn timeout(mut self, t: std::time::Duration) -> Self {
                self.timeout = Some(t);
                self
            }

            /// Called with the error when the call fails.
            ///
            #[doc = concat!("```\nlet o = ", $new, ".fail(|e: &wxnet::Error| eprintln!(\"{}\", e.err_msg()));\n# drop(o);\n```")]
            pub fn fail(mut self, f: impl FnOnce(&$crate::Error) + Send + 'static) -> Self {
                self.callbacks.fail = Some(Box::new(f));
                self
            }

            /// Called after `success` or `fail`, exactly once.
            ///
            #[doc = concat!("```\nlet o = ", $new, ".complete(|| println!(\"done\"));\n# drop(o);\n```")]
            pub fn complete(mut self, f: impl FnOnce() + Send + 'static) -> Self {
                self.callbacks.complete = Some(Box::new(f));
                self
            }
        }
    };
}
#[cfg_attr(not(feature = "websocket"), allow(unused_imports))]
pub(crate) use call_setters;
