//! The listener methods `UploadTask` and `DownloadTask` share: progress
//! and the response head, generated for each with its own examples.

/// Implements `on_progress_update`, `off_progress_update`,
/// `on_headers_received` and `off_headers_received` on a task with fields
/// `events: Arc<TaskEvents<$progress>>`, and closes its events on drop.
/// `$start` is an expression making the task from `client` and `url`;
/// `$done` checks the result `res`.
macro_rules! transfer_listeners {
    ($task:ident, $progress:ident, start: $start:literal, done: $done:literal) => {
        impl Drop for $task {
            fn drop(&mut self) {
                self.events.close();
            }
        }

        impl $task {
            /// Listen for progress (`onProgressUpdate`); any number of
            /// listeners, each with its id for `off_progress_update`. A
            /// listener added late first gets the latest event, so the
            /// final 100 % is never missed; from a library thread, never
            /// inside this call.
            ///
            #[doc = concat!("```
use std::sync::mpsc;
# mod doc { include!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/tests/doctest/server.rs\")); }
let (url, _) = doc::serve_once(\"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok\");
let client = wxnet::Client::builder().skip_domain_check(true).build()?;
let task = ", $start, ";
let (tx, events) = mpsc::channel();
let tx2 = tx.clone();
task.on_progress_update(move |p| tx.send((\"a\", p.progress)).unwrap());
task.on_progress_update(move |p| tx2.send((\"b\", p.progress)).unwrap());
let res = task.wait()?;
", $done, "
let got: Vec<_> = events.try_iter().collect();
for name in [\"a\", \"b\"] {
    let mine: Vec<u8> = got.iter().filter(|e| e.0 == name).map(|e| e.1).collect();
    assert!(mine.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(mine.last(), Some(&100));
}
# Ok::<(), Box<dyn std::error::Error>>(())
```")]
            #[doc(alias = "onProgressUpdate")]
            pub fn on_progress_update(
                &self,
                f: impl FnMut(&$progress) + Send + 'static,
            ) -> $crate::ListenerId {
                self.events.listen(|e| &e.body, Box::new(f))
            }

            /// Remove the progress listener `id`, or every one with
            /// `None`; whether any was removed. A removed listener is
            /// dropped at once (or right after the call it is in).
            ///
            #[doc = concat!("```
# mod doc { include!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/tests/doctest/server.rs\")); }
let (url, _server) = doc::silent();
let client = wxnet::Client::builder().skip_domain_check(true).build()?;
let task = ", $start, ";
let (tx, rx) = std::sync::mpsc::channel::<()>();
let id = task.on_progress_update(move |_| tx.send(()).unwrap());
let other = task.on_progress_update(|_| {});
assert!(task.off_progress_update(Some(id)));
assert!(rx.recv().is_err()); // the listener, and its sender, are gone
assert!(!task.off_progress_update(Some(id)));
assert!(task.off_progress_update(None));
assert!(!task.off_progress_update(Some(other)));
task.abort();
# Ok::<(), Box<dyn std::error::Error>>(())
```")]
            #[doc(alias = "offProgressUpdate")]
            pub fn off_progress_update(&self, id: Option<$crate::ListenerId>) -> bool {
                $crate::call::TaskEvents::<$progress>::unlisten(&self.events.body, id)
            }

            /// Listen for the response head (`onHeadersReceived`); any
            /// number of listeners, each with its id for
            /// `off_headers_received`. The head is kept: a listener added
            /// after it arrived, even after the call ended, gets it once,
            /// from a library thread (never inside this call).
            ///
            #[doc = concat!("```
use std::sync::mpsc;
# mod doc { include!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/tests/doctest/server.rs\")); }
let (url, _) = doc::serve_once(\"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok\");
let client = wxnet::Client::builder().skip_domain_check(true).build()?;
let task = ", $start, ";
let (tx, heads) = mpsc::channel();
task.on_headers_received(move |h| tx.send(h.status_code).unwrap());
let res = task.wait()?;
", $done, "
assert_eq!(heads.try_iter().collect::<Vec<_>>(), [200]);
# Ok::<(), Box<dyn std::error::Error>>(())
```")]
            #[doc(alias = "onHeadersReceived")]
            pub fn on_headers_received(
                &self,
                f: impl FnMut(&$crate::HeadersReceived) + Send + 'static,
            ) -> $crate::ListenerId {
                self.events.listen(|e| &e.headers, Box::new(f))
            }

            /// Remove the head listener `id`, or every one with `None`;
            /// whether any was removed.
            ///
            #[doc = concat!("```
# mod doc { include!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/tests/doctest/server.rs\")); }
let (url, _server) = doc::silent();
let client = wxnet::Client::builder().skip_domain_check(true).build()?;
let task = ", $start, ";
let a = task.on_headers_received(|_| {});
let b = task.on_headers_received(|_| {});
assert_ne!(a, b);
assert!(task.off_headers_received(Some(a)));
assert!(!task.off_headers_received(Some(a)));
assert!(task.off_headers_received(None)); // removes `b`
assert!(!task.off_headers_received(Some(b)));
task.abort();
# Ok::<(), Box<dyn std::error::Error>>(())
```")]
            #[doc(alias = "offHeadersReceived")]
            pub fn off_headers_received(&self, id: Option<$crate::ListenerId>) -> bool {
                $crate::call::TaskEvents::<$progress>::unlisten(&self.events.headers, id)
            }
        }
    };
}
pub(crate) use transfer_listeners;
