//! One call in flight: its control block (deadline, cancellation, the
//! socket to shut down on abort, timings) and its completion cell (exactly
//! one success-or-fail, then one complete).
//!
//! The control block of the call a worker is running sits in a
//! thread-local, so the connection layer (which ureq drives and which
//! outlives any one call when pooled) can find the current call on every
//! I/O: to honour an abort, count bytes and record timings.

use std::cell::RefCell;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Api, Error, ErrorKind, Result};
use crate::policy::{Allowed, ApiKind};

/// Lock a mutex, recovering the data if a panicking thread poisoned it:
/// every structure guarded here stays consistent between statements.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

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

/// Raw timings and connection facts of a call; [`crate::Profile`] is made
/// from it. Hop fields are reset at the start of every hop (redirect or
/// retry), so they describe the last one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace {
    pub queue_end: Option<Instant>,
    pub dns_start: Option<Instant>,
    pub dns_end: Option<Instant>,
    pub connect_start: Option<Instant>,
    pub connect_end: Option<Instant>,
    pub tls_start: Option<Instant>,
    pub tls_end: Option<Instant>,
    pub request_start: Option<Instant>,
    pub response_start: Option<Instant>,
    pub response_end: Option<Instant>,
    pub peer: Option<SocketAddr>,
    pub reused: bool,
}

impl Trace {
    /// A new hop begins: forget the previous hop's connection facts.
    pub(crate) fn start_hop(&mut self) {
        *self = Trace {
            queue_end: self.queue_end,
            reused: true,
            ..Trace::default()
        };
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
pub(crate) struct JobCtl {
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
    allowed: Mutex<Option<Allowed>>,
    pub trace: Mutex<Trace>,
    /// A precise failure recorded by the connection layer (policy on a
    /// redirect hop, TLS verdict), which ureq only sees as a generic error.
    stash: Mutex<Option<Error>>,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
}

impl JobCtl {
    pub(crate) fn new(api: ApiKind, invoked: Instant, timeout: Duration) -> JobCtl {
        JobCtl {
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
    pub(crate) fn allow(&self, origin: Allowed) {
        *lock(&self.allowed) = Some(origin);
    }

    /// The origin the policy allowed for this call, if any.
    pub(crate) fn allowed(&self) -> MutexGuard<'_, Option<Allowed>> {
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
    static CURRENT: RefCell<Option<Arc<JobCtl>>> = const { RefCell::new(None) };
}

/// The control block of the call running on this thread, if any.
pub(crate) fn current() -> Option<Arc<JobCtl>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Makes `ctl` the current call of this thread until dropped, then puts
/// back the one before: a callback may wait on a call of its own, which
/// then runs nested on the same thread.
pub(crate) struct CurrentGuard(Option<Arc<JobCtl>>);

impl CurrentGuard {
    pub(crate) fn set(ctl: Arc<JobCtl>) -> CurrentGuard {
        CurrentGuard(CURRENT.with(|c| c.borrow_mut().replace(ctl)))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let before = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = before);
    }
}

type SuccessFn<T> = Box<dyn FnOnce(&T) + Send>;
type FailFn = Box<dyn FnOnce(&Error) + Send>;
type CompleteFn = Box<dyn FnOnce() + Send>;

/// The `success` / `fail` / `complete` callbacks of a call.
pub(crate) struct Callbacks<T> {
    pub success: Option<SuccessFn<T>>,
    pub fail: Option<FailFn>,
    pub complete: Option<CompleteFn>,
}

impl<T> Default for Callbacks<T> {
    fn default() -> Self {
        Callbacks {
            success: None,
            fail: None,
            complete: None,
        }
    }
}

impl<T> Callbacks<T> {
    /// Run success or fail, then complete; a panic in one is contained so
    /// the others still run and the thread survives.
    fn run(self, result: &Result<T>) {
        match result {
            Ok(v) => {
                if let Some(f) = self.success {
                    contain(|| f(v));
                }
            }
            Err(e) => {
                if let Some(f) = self.fail {
                    contain(|| f(e));
                }
            }
        }
        if let Some(f) = self.complete {
            contain(f);
        }
    }
}

/// Run a user callback; a panic is logged and swallowed.
pub(crate) fn contain(f: impl FnOnce()) -> bool {
    let ok = catch_unwind(AssertUnwindSafe(f)).is_ok();
    if !ok {
        log::error!("a wxnet callback panicked; the call still completes");
    }
    ok
}

enum Slot<T> {
    Pending,
    Done(Result<T>),
    Taken,
}

/// The completion cell of a call: finished exactly once, waited on by
/// [`Task::wait`].
pub(crate) struct Task<T> {
    pub ctl: Arc<JobCtl>,
    finished: AtomicBool,
    slot: Mutex<Slot<T>>,
    cv: Condvar,
    callbacks: Mutex<Option<Callbacks<T>>>,
}

impl<T> Task<T> {
    pub(crate) fn new(ctl: Arc<JobCtl>, callbacks: Callbacks<T>) -> Task<T> {
        Task {
            ctl,
            finished: AtomicBool::new(false),
            slot: Mutex::new(Slot::Pending),
            cv: Condvar::new(),
            callbacks: Mutex::new(Some(callbacks)),
        }
    }

    /// End the call with `result` unless it has already ended; runs the
    /// callbacks on this thread, then wakes waiters. Returns whether this
    /// call ended it.
    pub(crate) fn finish(&self, result: Result<T>) -> bool {
        if self.finished.swap(true, Ordering::AcqRel) {
            return false;
        }
        let callbacks = lock(&self.callbacks).take();
        if let Some(cb) = callbacks {
            cb.run(&result);
        }
        *lock(&self.slot) = Slot::Done(result);
        self.cv.notify_all();
        true
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Block until the call has ended and take its result.
    pub(crate) fn wait(&self) -> Result<T> {
        let mut slot = lock(&self.slot);
        loop {
            match std::mem::replace(&mut *slot, Slot::Taken) {
                Slot::Done(r) => return r,
                Slot::Pending => {
                    *slot = Slot::Pending;
                    slot = self.cv.wait(slot).unwrap_or_else(|e| e.into_inner());
                }
                Slot::Taken => {
                    return Err(Error::with_reason(
                        self.ctl.api_name(),
                        ErrorKind::InvalidArgument,
                        "the result was already taken",
                    ));
                }
            }
        }
    }
}

/// The work of one call, run once on a worker.
pub(crate) trait Work: Send + 'static {
    type Output: Send + 'static;
    fn run(self, ctl: &Arc<JobCtl>) -> Result<Self::Output>;
}

/// What the pool queues and runs, with its type erased.
pub(crate) trait Job: Send + Sync {
    fn ctl(&self) -> &Arc<JobCtl>;
    /// Run on a worker thread and finish the call.
    fn run(&self);
    /// Finish the call with `kind` without running it.
    fn fail(&self, kind: ErrorKind);
}

/// A call: its work (taken when it runs) and its completion cell.
pub(crate) struct Call<W: Work> {
    pub task: Task<W::Output>,
    work: Mutex<Option<W>>,
}

impl<W: Work> Call<W> {
    pub(crate) fn new(ctl: Arc<JobCtl>, work: W, callbacks: Callbacks<W::Output>) -> Call<W> {
        Call {
            task: Task::new(ctl, callbacks),
            work: Mutex::new(Some(work)),
        }
    }

    /// A call refused before it could be queued; the caller finishes it.
    pub(crate) fn failed(ctl: Arc<JobCtl>, callbacks: Callbacks<W::Output>) -> Call<W> {
        Call {
            task: Task::new(ctl, callbacks),
            work: Mutex::new(None),
        }
    }
}

impl<W: Work> Job for Call<W> {
    fn ctl(&self) -> &Arc<JobCtl> {
        &self.task.ctl
    }

    fn run(&self) {
        let Some(work) = lock(&self.work).take() else {
            return;
        };
        let ctl = &self.task.ctl;
        ctl.trace().queue_end = Some(Instant::now());
        let result = if let Some(kind) = ctl.cancelled() {
            Err(ctl.error(kind))
        } else if ctl.remaining().is_zero() {
            Err(ctl.error(ErrorKind::Timeout))
        } else {
            let _current = CurrentGuard::set(ctl.clone());
            let r = catch_unwind(AssertUnwindSafe(|| work.run(ctl)))
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
        self.task.finish(result);
    }

    fn fail(&self, kind: ErrorKind) {
        drop(lock(&self.work).take());
        self.task.finish(Err(self.task.ctl.error(kind)));
    }
}
