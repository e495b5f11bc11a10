//! The setters every call's options share: `header`, `timeout`, `fail`,
//! `complete` and (for the HTTP APIs) `success`.

/// Implements the shared setters on an options type whose fields are
/// `header`, `timeout` and `callbacks`.
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
    ($ty:ident, new: $new:literal, network_timeout: $field:literal, success: $out:ident) => {
        $crate::options::call_setters!($ty, new: $new, network_timeout: $field);

        impl $ty {
            /// Called with the result when the call succeeds (any HTTP
            /// status is a success).
            ///
            #[doc = concat!("```\nlet o = ", $new, ".success(|r: &wxnet::", stringify!($out), "| println!(\"{}\", r.status_code));\n# drop(o);\n```")]
            pub fn success(mut self, f: impl FnOnce(&$out) + Send + 'static) -> Self {
                self.callbacks.success = Some(Box::new(f));
                self
            }

            /// Called once with the final response head, before the body
            /// is read.
            ///
            #[doc = concat!("```\nlet o = ", $new, ".on_headers_received(|h: &wxnet::HeadersReceived| assert!(h.status_code >= 100));\n# drop(o);\n```")]
            pub fn on_headers_received(
                mut self,
                f: impl FnOnce(&$crate::HeadersReceived) + Send + 'static,
            ) -> Self {
                self.on_headers_received = Some(Box::new(f));
                self
            }
        }

        impl $crate::options::CallOptions for $ty {
            type Output = $out;

            fn take_common(
                &mut self,
            ) -> ($crate::job::Callbacks<$out>, Option<std::time::Duration>) {
                (std::mem::take(&mut self.callbacks), self.timeout)
            }
        }
    };
}
pub(crate) use call_setters;

/// What the client takes out of any HTTP call's options before the rest
/// is prepared into work.
pub(crate) trait CallOptions {
    type Output;
    fn take_common(
        &mut self,
    ) -> (
        crate::job::Callbacks<Self::Output>,
        Option<std::time::Duration>,
    );
}
