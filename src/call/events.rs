//! The listeners of an HTTP task (`RequestTask`, `UploadTask`,
//! `DownloadTask`): the response head, and the body events (chunks of a
//! request, progress of an upload or download).
//!
//! Shared by the task, where listeners are added, and the call, which
//! emits on the thread that runs it. Events kept for late listeners reach
//! them from a short-lived thread started by the `on_*` call, never inside
//! it: the call may not emit again for a long time (a body that takes
//! minutes). The thread running the call also hands them over with its
//! next event and when the call ends, whichever comes first.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{CallCtl, contain};
use crate::deferred::{LATE_STACK, LateThreads};
use crate::error::{ErrorKind, Result};
use crate::header::Header;
use crate::listener::{Delivered, Keep, Listener, ListenerId, Listeners};
use crate::request::HeadersReceived;

/// The listeners of one HTTP task; `B` is its body event.
pub(crate) struct TaskEvents<B> {
    pub headers: Listeners<HeadersReceived>,
    pub body: Listeners<B>,
    /// The task can still add listeners (not dropped, not waited on), so
    /// events nobody hears must be kept.
    open: AtomicBool,
    /// A listener panicked: the running call fails with
    /// `callback panicked`, as with a panicking callback.
    panicked: Arc<AtomicBool>,
    /// Where the short-lived threads go, to be joined at shutdown.
    late: Arc<LateThreads>,
}

impl<B: Send + Sync + 'static> TaskEvents<B> {
    pub(crate) fn new(body: Keep<B>, late: &Arc<LateThreads>) -> Arc<TaskEvents<B>> {
        Arc::new(TaskEvents {
            headers: Listeners::new(Keep::ForEveryLate),
            body: Listeners::new(body),
            open: AtomicBool::new(true),
            panicked: Arc::default(),
            late: late.clone(),
        })
    }

    /// Register `f` on the list `pick` chooses; its kept events come
    /// from a library thread, never from here.
    pub(crate) fn listen<T: Send + Sync + 'static>(
        self: &Arc<Self>,
        pick: fn(&Self) -> &Listeners<T>,
        mut f: Listener<T>,
    ) -> ListenerId {
        let panicked = self.panicked.clone();
        let f: Listener<T> = Box::new(move |v: &T| {
            if !contain(|| f(v)) {
                panicked.store(true, Ordering::Release);
            }
        });
        let (id, due) = pick(self).add(f);
        // Whether the call has ended or not: a running call may not emit
        // again for minutes.
        if due {
            self.flush_later();
        }
        id
    }

    /// Remove listener `id` from `list`, or all of them with `None`;
    /// whether any was removed.
    pub(crate) fn unlisten<T: Send + Sync + 'static>(
        list: &Listeners<T>,
        id: Option<ListenerId>,
    ) -> bool {
        list.off(id)
    }

    /// No listener can be added any more (the task was dropped or is
    /// being waited on).
    pub(crate) fn close(&self) {
        self.open.store(false, Ordering::Release);
    }

    /// Whether an event on `list` may be heard, now or by a late listener.
    pub(crate) fn wanted<T: Send + Sync + 'static>(&self, list: &Listeners<T>) -> bool {
        self.open.load(Ordering::Acquire) || !list.is_empty()
    }

    /// The response head arrived (on the thread running the call); `Err`
    /// when a listener panicked.
    pub(crate) fn emit_head(
        &self,
        ctl: &CallCtl,
        status_code: u16,
        header: &Header,
        cookies: &[String],
    ) -> Result<()> {
        self.body.flush();
        // Built only when someone can hear it: most calls are waited on
        // without listeners.
        if self.wanted(&self.headers) {
            self.headers.deliver(HeadersReceived {
                header: header.clone(),
                cookies: cookies.to_vec(),
                status_code,
            });
        }
        self.check(ctl)
    }

    /// A body event (on the thread running the call); handed back when it
    /// would take the events kept for a first listener past their cap.
    pub(crate) fn emit_body(&self, ev: B) -> Delivered<B> {
        self.headers.flush();
        self.body.deliver(ev)
    }

    /// `Err` once a listener has panicked.
    pub(crate) fn check(&self, ctl: &CallCtl) -> Result<()> {
        if self.panicked.load(Ordering::Acquire) {
            return Err(ctl.error(ErrorKind::CallbackPanicked));
        }
        Ok(())
    }

    /// The call is over: late listeners get what was kept for them now.
    pub(crate) fn end(&self) {
        self.flush();
    }

    fn flush(&self) {
        self.headers.flush();
        self.body.flush();
    }

    fn flush_later(self: &Arc<Self>) {
        let events = self.clone();
        let spawned = self
            .late
            .spawn("wxnet-late".into(), LATE_STACK, move || events.flush());
        if let Err(e) = spawned {
            // Kept for the next flush: a later listener's thread.
            log::warn!("wxnet: no thread for late task listeners: {e}");
        }
    }
}

/// A listener that is called once (the options' head listener, an
/// `FnOnce`).
pub(crate) fn once<T: 'static>(f: Box<dyn FnOnce(&T) + Send>) -> Listener<T> {
    let mut f = Some(f);
    Box::new(move |v| {
        if let Some(f) = f.take() {
            f(v);
        }
    })
}

/// Ends the events of a call when the call's run returns, on every path.
pub(crate) struct EndGuard<'a, B: Send + Sync + 'static>(pub &'a TaskEvents<B>);

impl<B: Send + Sync + 'static> Drop for EndGuard<'_, B> {
    fn drop(&mut self) {
        self.0.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    fn ctl() -> CallCtl {
        let api = crate::policy::ApiKind::Request;
        CallCtl::new(api, std::time::Instant::now(), Duration::from_secs(1))
    }

    #[test]
    fn a_listener_added_after_the_end_gets_the_head_on_another_thread() {
        let ev = TaskEvents::<u8>::new(Keep::Latest, &Arc::default());
        ev.emit_head(&ctl(), 204, &Header::default(), &[]).unwrap();
        ev.end();
        let (tx, rx) = mpsc::channel();
        ev.listen(
            |e| &e.headers,
            Box::new(move |h: &HeadersReceived| {
                tx.send((h.status_code, thread::current().id())).unwrap()
            }),
        );
        let (code, on) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(code, 204);
        assert_ne!(on, thread::current().id());
    }

    #[test]
    fn a_panicking_listener_fails_the_running_call() {
        let ev = TaskEvents::<u8>::new(Keep::Latest, &Arc::default());
        ev.listen(|e| &e.headers, Box::new(|_| panic!("listener bug")));
        let e = ev
            .emit_head(&ctl(), 200, &Header::default(), &[])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CallbackPanicked);
    }

    #[test]
    fn a_closed_task_keeps_no_head_nobody_can_hear() {
        let ev = TaskEvents::<u8>::new(Keep::Latest, &Arc::default());
        ev.close();
        ev.emit_head(&ctl(), 204, &Header::default(), &[]).unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        ev.listen(|e| &e.headers, Box::new(move |_| tx.send(()).unwrap()));
        ev.end();
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    }
}
