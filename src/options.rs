//! What the client takes out of any HTTP call's options before the rest
//! is prepared: the callbacks and the call's own timeout, and whether
//! anyone listens. Each options type (`RequestOptions`,
//! `UploadFileOptions`, `DownloadFileOptions`) implements it next to its
//! setters.

use std::time::Duration;

use crate::call::Callbacks;

/// The parts of a call's options the client handles the same way for
/// every API.
pub(crate) trait CallOptions {
    type Output;
    fn take_common(&mut self) -> (Callbacks<Self::Output>, Option<Duration>);
    /// Whether a listener (`on_*`) is set.
    fn has_listeners(&self) -> bool;
}
