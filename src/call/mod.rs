//! One HTTP call from the moment it is made until its callbacks have run.
//!
//! How the parts meet:
//! - the caller's options are turned, on the caller's thread, into a
//!   [`PreparedCall`] (`PreparedRequest`, `PreparedUpload`,
//!   `PreparedDownload`): the checked URL, headers and body to send;
//! - [`control`]: the call's [`CallCtl`] (deadline, cancellation, timings)
//!   is made at the same moment; while the call runs it is the thread's
//!   [`current`] call, which the connection layer consults on every I/O;
//! - a [`Call`] holds both plus its [`Outcome`] (the result cell, which
//!   runs the [`Callbacks`] exactly once); the pool queues it as an
//!   [`AnyCall`] and runs it on a worker or on the waiting caller;
//! - the caller keeps a [`CallHandle`] (inside `RequestTask`, `UploadTask`,
//!   `DownloadTask`) to abort or wait.

mod callbacks;
pub(crate) mod control;
mod events;
mod handle;
mod outcome;
mod transfer;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub(crate) use callbacks::{Callbacks, contain};
pub(crate) use control::{CallCtl, CallSocket, Cancel, CurrentGuard, current};
pub(crate) use events::{EndGuard, TaskEvents, once};
pub(crate) use handle::CallHandle;
pub(crate) use outcome::Outcome;
pub(crate) use transfer::transfer_listeners;

use crate::deferred::Job;
use crate::error::{Error, ErrorKind, Result};
use crate::sync::lock;

/// What a call sends, prepared from its options on the caller's thread;
/// a worker (or the waiting caller) runs it once.
pub(crate) trait PreparedCall: Send + 'static {
    type Output: Send + 'static;
    fn run(self, ctl: &Arc<CallCtl>) -> Result<Self::Output>;
}

/// A call as the pool queues and runs it, with its type erased.
pub(crate) trait AnyCall: Send + Sync {
    fn ctl(&self) -> &Arc<CallCtl>;
    /// Run on this thread and finish the call.
    fn run(&self);
    /// Finish the call with `kind` without running it.
    fn fail(&self, kind: ErrorKind);
    /// End the call with `kind` without running it: its outcome is fixed
    /// now, its callbacks come back as a job for another thread.
    fn abandon(&self, kind: ErrorKind) -> Option<Job>;
}

/// A call: what it sends (taken when it runs) and its outcome.
pub(crate) struct Call<P: PreparedCall> {
    pub outcome: Outcome<P::Output>,
    prepared: Mutex<Option<P>>,
}

impl<P: PreparedCall> Call<P> {
    pub(crate) fn new(ctl: Arc<CallCtl>, prepared: P, callbacks: Callbacks<P::Output>) -> Call<P> {
        Call {
            outcome: Outcome::new(ctl, callbacks),
            prepared: Mutex::new(Some(prepared)),
        }
    }

    /// A call refused before it could be queued; the caller refuses it.
    pub(crate) fn refused(ctl: Arc<CallCtl>, callbacks: Callbacks<P::Output>) -> Call<P> {
        Call {
            outcome: Outcome::new(ctl, callbacks),
            prepared: Mutex::new(None),
        }
    }

    /// End a call refused before it ran with `e`: its outcome is fixed
    /// now, and its callbacks come back as a job for another thread.
    pub(crate) fn refuse(&self, e: Error) -> Option<Job> {
        drop(lock(&self.prepared).take());
        let (callbacks, e) = self.outcome.settle(e)?;
        if !callbacks.any() {
            return None;
        }
        Some(Box::new(move || callbacks.run(&Err(e))))
    }
}

impl<P: PreparedCall> AnyCall for Call<P> {
    fn ctl(&self) -> &Arc<CallCtl> {
        &self.outcome.ctl
    }

    fn run(&self) {
        let Some(prepared) = lock(&self.prepared).take() else {
            return;
        };
        let ctl = &self.outcome.ctl;
        ctl.trace().queue_end = Some(Instant::now());
        let result = if let Some(kind) = ctl.cancelled() {
            Err(ctl.error(kind))
        } else if ctl.remaining().is_zero() {
            Err(ctl.error(ErrorKind::Timeout))
        } else {
            let _current = CurrentGuard::set(ctl.clone());
            let r = catch_unwind(AssertUnwindSafe(|| prepared.run(ctl)))
                .unwrap_or_else(|_| Err(ctl.error(ErrorKind::CallbackPanicked)));
            ctl.unbind_socket();
            r
        };
        // A cancellation that raced with a late success still wins: the
        // caller was told the call is over.
        let result = match (result, ctl.cancelled()) {
            (Ok(_), Some(kind)) => Err(ctl.error(kind)),
            (r, _) => r,
        };
        self.outcome.finish(result);
    }

    fn fail(&self, kind: ErrorKind) {
        drop(lock(&self.prepared).take());
        self.outcome.finish(Err(self.outcome.ctl.error(kind)));
    }

    fn abandon(&self, kind: ErrorKind) -> Option<Job> {
        self.refuse(self.outcome.ctl.error(kind))
    }
}
