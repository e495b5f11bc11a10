//! The control block of one call ([`CallCtl`]: deadline, cancellation,
//! the socket to shut down on abort, timings, bytes counted) and the
//! call a thread is running now ([`current`]).
//!
//! The control block of the call a thread runs sits in a thread-local, so
//! the connection layer (which ureq drives and which outlives any one call
//! when pooled) can find the current call on every I/O: to honour an
//! abort, count bytes and record timings.

use std::cell::RefCell;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Api, Error, ErrorKind};
use crate::policy::{Allowed, ApiKind};
use crate::profile::Trace;
use crate::sync::lock;

/// Why a call was cancelled from outside its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Cancel {
    Abort = 1,
    Interrupted = 2,
}

impl Cancel {
    fn kind(self) -> ErrorKind {
        match self {
            Cancel::Abort => ErrorKind::Abort,
            Cancel::Interrupted => ErrorKind::Interrupted,
        }
    }
}

/// Wakes a wait of the call's worker on something other than its socket.
pub(crate) type Waker = Box<dyn Fn() + Send>;

/// A socket and the call using it. A pooled connection moves from call to
/// call; an abort of a call that has already let go of it must not touch
/// the call that uses it now.
pub(crate) struct CallSocket {
    pub stream: TcpStream,
    owner: AtomicU64,
}

impl CallSocket {
    pub(crate) fn new(stream: TcpStream) -> CallSocket {
        CallSocket {
            stream,
            owner: AtomicU64::new(0),
        }
    }

    pub(crate) fn owner(&self) -> u64 {
        self.owner.load(Ordering::Acquire)
    }

    fn shutdown_for(&self, id: u64) {
        if self.owner() == id {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The control block of one call.
pub(crate) struct CallCtl {
    pub id: u64,
    pub api: ApiKind,
    pub invoked: Instant,
    pub invoked_wall: SystemTime,
    pub deadline: Instant,
    cancel: AtomicU8,
    socket: Mutex<Option<Arc<CallSocket>>>,
    waker: Mutex<Option<Waker>>,
    /// Set for a retry: pooled connections must not be reused.
    pub fresh_only: AtomicBool,
    /// The call is staged in the pool, waiting for its caller's next move.
    staged: AtomicBool,
    /// The origin the policy allowed for the current hop.
    allowed: Mutex<Option<Arc<Allowed>>>,
    pub trace: Mutex<Trace>,
    /// A precise failure recorded by the connection layer (policy on a
    /// redirect hop, TLS verdict), which ureq only sees as a generic error.
    stash: Mutex<Option<Error>>,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
}

impl CallCtl {
    pub(crate) fn new(api: ApiKind, invoked: Instant, timeout: Duration) -> CallCtl {
        CallCtl {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            api,
            invoked,
            invoked_wall: SystemTime::now(),
            deadline: invoked + timeout,
            cancel: AtomicU8::new(0),
            socket: Mutex::new(None),
            waker: Mutex::new(None),
            fresh_only: AtomicBool::new(false),
            staged: AtomicBool::new(false),
            allowed: Mutex::new(None),
            trace: Mutex::new(Trace::default()),
            stash: Mutex::new(None),
            bytes_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
        }
    }

    pub(crate) fn api_name(&self) -> Api {
        self.api.into()
    }

    /// Cancel the call; the first reason wins. Blocked I/O is woken by
    /// shutting the socket down, a pending connect through its waker.
    pub(crate) fn cancel(&self, why: Cancel) -> bool {
        if self
            .cancel
            .compare_exchange(0, why as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        if let Some(s) = lock(&self.socket).as_ref() {
            s.shutdown_for(self.id);
        }
        if let Some(w) = lock(&self.waker).as_ref() {
            w();
        }
        true
    }

    /// The cancellation, if any, as the error kind it reports.
    pub(crate) fn cancelled(&self) -> Option<ErrorKind> {
        match self.cancel.load(Ordering::Acquire) {
            0 => None,
            1 => Some(Cancel::Abort.kind()),
            _ => Some(Cancel::Interrupted.kind()),
        }
    }

    /// The socket this call is using now; an abort shuts it down.
    pub(crate) fn bind_socket(&self, s: Arc<CallSocket>) {
        s.owner.store(self.id, Ordering::Release);
        *lock(&self.socket) = Some(s);
    }

    /// The call no longer uses a socket (its connection may be pooled and
    /// serve another call now).
    pub(crate) fn unbind_socket(&self) {
        lock(&self.socket).take();
    }

    /// Install (or clear) the waker of a blocking wait on another thread.
    pub(crate) fn set_waker(&self, w: Option<Waker>) {
        *lock(&self.waker) = w;
    }

    pub(crate) fn set_staged(&self, on: bool) {
        self.staged.store(on, Ordering::Release);
    }

    /// Whether the call is staged in the pool (see `pool`).
    pub(crate) fn is_staged(&self) -> bool {
        self.staged.load(Ordering::Acquire)
    }

    /// Record that the policy allowed `origin` for this call.
    pub(crate) fn allow(&self, origin: Arc<Allowed>) {
        *lock(&self.allowed) = Some(origin);
    }

    /// The origin the policy allowed for this call, if any.
    pub(crate) fn allowed(&self) -> MutexGuard<'_, Option<Arc<Allowed>>> {
        lock(&self.allowed)
    }

    pub(crate) fn stash(&self, e: Error) {
        let mut s = lock(&self.stash);
        if s.is_none() {
            *s = Some(e);
        }
    }

    pub(crate) fn has_stash(&self) -> bool {
        lock(&self.stash).is_some()
    }

    pub(crate) fn take_stash(&self) -> Option<Error> {
        lock(&self.stash).take()
    }

    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub(crate) fn trace(&self) -> MutexGuard<'_, Trace> {
        lock(&self.trace)
    }

    pub(crate) fn error(&self, kind: ErrorKind) -> Error {
        Error::new(self.api_name(), kind)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<CallCtl>>> = const { RefCell::new(None) };
}

/// The control block of the call running on this thread, if any.
pub(crate) fn current() -> Option<Arc<CallCtl>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Makes `ctl` the current call of this thread until dropped, then puts
/// back the one before: a callback may wait on a call of its own, which
/// then runs nested on the same thread.
pub(crate) struct CurrentGuard(Option<Arc<CallCtl>>);

impl CurrentGuard {
    pub(crate) fn set(ctl: Arc<CallCtl>) -> CurrentGuard {
        CurrentGuard(CURRENT.with(|c| c.borrow_mut().replace(ctl)))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let before = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = before);
    }
}
