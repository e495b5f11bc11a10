//! The caller's handle on one queued or running call, inside the public
//! `RequestTask`, `UploadTask` and `DownloadTask`.

use std::sync::{Arc, Weak};

use super::{AnyCall, Call, Cancel, PreparedCall};
use crate::error::{ErrorKind, Result};
use crate::pool::Pool;

/// The handle of one queued or running call.
pub(crate) struct CallHandle<P: PreparedCall> {
    call: Arc<Call<P>>,
    pool: Weak<Pool>,
}

impl<P: PreparedCall> CallHandle<P> {
    pub(crate) fn new(call: Arc<Call<P>>, pool: Weak<Pool>) -> CallHandle<P> {
        CallHandle { call, pool }
    }

    /// End the call with `abort`: at once if it is still queued,
    /// otherwise by shutting its connection down so the worker stops.
    pub(crate) fn abort(&self) {
        let id = self.call.ctl().id;
        if let Some(pool) = self.pool.upgrade() {
            if let Some(queued) = pool.remove_queued(id) {
                // Over at once, but the callbacks run on another thread:
                // the caller may hold a lock they take.
                if let Some(job) = queued.abandon(ErrorKind::Abort) {
                    pool.defer(job);
                }
                return;
            }
        }
        if !self.call.outcome.is_finished() {
            self.call.ctl().cancel(Cancel::Abort);
        }
    }

    /// Run the call on this thread if it is still staged and a worker
    /// slot is free (saving two thread hand-offs), then block until it
    /// has ended.
    pub(crate) fn wait(&self) -> Result<P::Output> {
        if !self.call.outcome.is_finished() {
            if let Some(pool) = self.pool.upgrade() {
                pool.run_or_release(self.call.ctl().id);
            }
        }
        self.call.outcome.wait()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.call.outcome.is_finished()
    }
}

impl<P: PreparedCall> Drop for CallHandle<P> {
    fn drop(&mut self) {
        if self.call.ctl().is_staged() {
            if let Some(pool) = self.pool.upgrade() {
                pool.release(self.call.ctl().id);
            }
        }
    }
}
