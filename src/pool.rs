//! The fixed pool of worker threads shared by `request`, `upload_file` and
//! `download_file`, its bounded FIFO queue, and the timer that fails
//! queued calls at their deadline and interrupts calls in the background.
//!
//! The queue is a `VecDeque` under the same mutex as the pool state rather
//! than a channel, because queued calls must be removable: an abort, a
//! deadline, the background interrupt and shutdown all take a call out of
//! the queue and finish it at once instead of leaving it to hold a slot
//! until a worker is free.
//!
//! A call whose caller is about to block in `wait()` does not need a
//! worker: handing it to one and the result back costs two thread
//! wake-ups, which on a small device is most of the price of a keep-alive
//! request. So a new call is first *staged*: it waits, for at most
//! [`STAGE_GRACE`], for its handle's next move. `wait()` runs it on the
//! waiting thread if one of the `workers` slots is free (it counts toward
//! the limit like any running call); anything else (the handle dropped,
//! another call from the same thread, the grace running out) moves it to
//! the back of the queue and wakes a worker. Staged calls count toward
//! the queue capacity and are ended by deadlines, abort, the background
//! interrupt and shutdown exactly like queued ones. A call with callbacks
//! or listeners is not staged: it goes to the queue at once.
//!
//! Calls ended before they ran (refused, aborted while queued, ended by
//! shutdown) have their outcome fixed at once and their callbacks handed
//! to the client's callback thread, so they never run inside the call
//! that ended them, nor hold up the timer.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crate::call::{AnyCall, Cancel};
use crate::deferred::{CallbackThread, Job, LateThreads, Spawner};
use crate::error::ErrorKind;
use crate::sync::{lock, wait, wait_timeout};

/// How long calls may go on after `enter_background` before they are
/// interrupted, as in the mini-program runtime.
pub(crate) const BACKGROUND_GRACE: Duration = Duration::from_secs(5);

/// Stack of each worker: a rustls handshake needs up to 160 KiB in debug
/// builds (48 KiB in release), and user callbacks run here too.
const WORKER_STACK: usize = 256 * 1024;
/// The timer only moves calls out of the queue and runs their callbacks.
const TIMER_STACK: usize = 128 * 1024;

/// How long a new call waits for its caller to `wait()` on it before it
/// is handed to a worker anyway (a handle kept for a later `abort()`).
pub(crate) const STAGE_GRACE: Duration = Duration::from_millis(1);

thread_local! {
    /// Whether this thread may have staged calls (cleared when the thread
    /// releases them; the timer releasing them leaves it stale, which only
    /// costs one lock).
    static STAGED_HERE: Cell<bool> = const { Cell::new(false) };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Background {
    Foreground,
    Since(Instant),
    Interrupted,
}

/// Something besides pool calls (sockets) that the background interrupt
/// and shutdown must also end.
pub(crate) type Hook = Box<dyn Fn(Cancel) + Send + Sync>;

/// A call waiting for its caller's next move (see the module docs).
struct Staged {
    call: Arc<dyn AnyCall>,
    by: ThreadId,
    at: Instant,
}

struct State {
    queue: VecDeque<Arc<dyn AnyCall>>,
    staged: Vec<Staged>,
    running: Vec<Option<Arc<dyn AnyCall>>>,
    /// Calls run by their waiting callers.
    claimed: Vec<Arc<dyn AnyCall>>,
    /// Calls running now, on workers or waiting callers; at most `workers`.
    active: usize,
    idle: usize,
    closed: bool,
    background: Background,
    /// When the timer will next wake on its own; `None` = not before notified.
    timer_at: Option<Instant>,
}

struct Shared {
    state: Mutex<State>,
    work_cv: Condvar,
    timer_cv: Condvar,
    capacity: usize,
    workers: usize,
    hooks: Mutex<Vec<Hook>>,
}

/// The worker pool of one client.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    thread_ids: Vec<ThreadId>,
    callbacks: CallbackThread,
    late: Arc<LateThreads>,
}

impl Pool {
    /// Start `workers` threads and the timer; the queue holds at most
    /// `capacity` waiting calls. If a thread cannot start, those already
    /// started end before the error is returned.
    pub(crate) fn start(
        workers: usize,
        capacity: usize,
        spawner: Spawner,
    ) -> std::io::Result<Pool> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity.min(1024)),
                staged: Vec::new(),
                running: (0..workers).map(|_| None).collect(),
                claimed: Vec::new(),
                active: 0,
                idle: 0,
                closed: false,
                background: Background::Foreground,
                timer_at: None,
            }),
            work_cv: Condvar::new(),
            timer_cv: Condvar::new(),
            capacity,
            workers,
            hooks: Mutex::new(Vec::new()),
        });
        let mut threads = Vec::with_capacity(workers + 1);
        let spawned = (|| {
            for i in 0..workers {
                let s = shared.clone();
                let name = format!("wxnet-worker-{i}");
                threads.push(spawner.spawn(name, WORKER_STACK, move || worker_loop(&s, i))?);
            }
            let s = shared.clone();
            let name = "wxnet-timer".to_string();
            threads.push(spawner.spawn(name, TIMER_STACK, move || timer_loop(&s))?);
            Ok(())
        })();
        let thread_ids = threads.iter().map(|t| t.thread().id()).collect();
        let pool = Pool {
            shared,
            threads: Mutex::new(threads),
            thread_ids,
            callbacks: CallbackThread::new(spawner.clone()),
            late: Arc::new(LateThreads::new(spawner)),
        };
        if let Err(e) = spawned {
            pool.shutdown();
            return Err(e);
        }
        Ok(pool)
    }

    /// What starts the client's threads.
    #[cfg(feature = "websocket")]
    pub(crate) fn spawner(&self) -> &Spawner {
        self.late.spawner()
    }

    /// Queue a call (with `stage`, staged first when a worker slot is
    /// free, so that a caller about to wait can run it); `Err` gives it
    /// back with the reason it was refused.
    pub(crate) fn submit(
        &self,
        call: Arc<dyn AnyCall>,
        stage: bool,
    ) -> Result<(), (Arc<dyn AnyCall>, ErrorKind)> {
        let mut st = lock(&self.shared.state);
        if st.closed {
            return Err((call, ErrorKind::Abort));
        }
        if st.background == Background::Interrupted {
            return Err((call, ErrorKind::Interrupted));
        }
        if st.queue.len() + st.staged.len() >= self.shared.capacity {
            return Err((call, ErrorKind::QueueFull));
        }
        let me = thread::current().id();
        // An earlier call of this thread was not waited on right away.
        let mut wake = release_by(&mut st, me);
        let now = Instant::now();
        let timer_at = if stage && st.active + st.queue.len() < self.shared.workers {
            call.ctl().set_staged(true);
            st.staged.push(Staged {
                call,
                by: me,
                at: now,
            });
            STAGED_HERE.with(|c| c.set(true));
            Some(now + STAGE_GRACE)
        } else {
            let deadline = call.ctl().deadline;
            st.queue.push_back(call);
            wake += 1;
            // The timer only needs to know about calls that will wait for
            // a worker; waking it for every call would cost a switch.
            (st.queue.len() > st.idle).then_some(deadline)
        };
        let notify_timer = match timer_at {
            Some(at) if st.timer_at.is_none_or(|t| at < t) => {
                st.timer_at = Some(at);
                true
            }
            _ => false,
        };
        let wake = wake.min(st.idle);
        drop(st);
        self.wake_workers(wake);
        if notify_timer {
            self.shared.timer_cv.notify_one();
        }
        Ok(())
    }

    fn wake_workers(&self, n: usize) {
        for _ in 0..n {
            self.shared.work_cv.notify_one();
        }
    }

    /// Run the staged call `id` on this (waiting) thread if a worker slot
    /// is free; otherwise hand it to the workers. Either way this thread's
    /// other staged calls go to the workers, as the thread is about to be
    /// busy. Returns once the call has run here, or at once.
    pub(crate) fn run_or_release(&self, id: u64) {
        if !STAGED_HERE.with(|c| c.replace(false)) {
            return;
        }
        let mut st = lock(&self.shared.state);
        let claimed = match st.staged.iter().position(|s| s.call.ctl().id == id) {
            Some(at) if !st.closed && st.active + st.queue.len() < self.shared.workers => {
                let call = st.staged.swap_remove(at).call;
                call.ctl().set_staged(false);
                st.active += 1;
                st.claimed.push(call.clone());
                Some(call)
            }
            _ => None,
        };
        let wake = release_by(&mut st, thread::current().id()).min(st.idle);
        drop(st);
        self.wake_workers(wake);
        let Some(call) = claimed else {
            return;
        };
        call.run();
        let mut st = lock(&self.shared.state);
        st.active -= 1;
        st.claimed.retain(|j| j.ctl().id != id);
        let wake = usize::from(!st.queue.is_empty()).min(st.idle);
        drop(st);
        self.wake_workers(wake);
    }

    /// Hand the staged call `id` to the workers (its handle went away
    /// without waiting).
    pub(crate) fn release(&self, id: u64) {
        let mut st = lock(&self.shared.state);
        let Some(at) = st.staged.iter().position(|s| s.call.ctl().id == id) else {
            return;
        };
        let staged = st.staged.remove(at);
        enqueue(&mut st, staged.call);
        let wake = 1.min(st.idle);
        drop(st);
        self.wake_workers(wake);
    }

    /// Take the call with control-block id `id` out of the queue (or the
    /// stage), if it is still waiting there.
    pub(crate) fn remove_queued(&self, id: u64) -> Option<Arc<dyn AnyCall>> {
        let mut st = lock(&self.shared.state);
        if let Some(at) = st.staged.iter().position(|s| s.call.ctl().id == id) {
            let call = st.staged.remove(at).call;
            call.ctl().set_staged(false);
            return Some(call);
        }
        let at = st.queue.iter().position(|j| j.ctl().id == id)?;
        st.queue.remove(at)
    }

    /// Run `job` soon on the callback thread, after the jobs deferred
    /// before it; once shut down, on a short-lived thread.
    pub(crate) fn defer(&self, job: Job) {
        if let Err(job) = self.callbacks.push(job) {
            self.late.run(job);
        }
    }

    /// The short-lived threads of this client, joined at shutdown.
    pub(crate) fn late(&self) -> &Arc<LateThreads> {
        &self.late
    }

    /// Register something the background interrupt and shutdown also end.
    pub(crate) fn add_hook(&self, hook: Hook) {
        lock(&self.shared.hooks).push(hook);
    }

    pub(crate) fn enter_background(&self) {
        let mut st = lock(&self.shared.state);
        if st.background == Background::Foreground {
            let at = Instant::now() + BACKGROUND_GRACE;
            st.background = Background::Since(Instant::now());
            if st.timer_at.is_none_or(|t| at < t) {
                st.timer_at = Some(at);
                self.shared.timer_cv.notify_one();
            }
        }
    }

    pub(crate) fn enter_foreground(&self) {
        lock(&self.shared.state).background = Background::Foreground;
    }

    /// Whether new calls are refused because the app was interrupted in
    /// the background.
    pub(crate) fn is_interrupted(&self) -> bool {
        lock(&self.shared.state).background == Background::Interrupted
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.shared.state).closed
    }

    /// Fail queued calls, abort running ones, end every thread. Joins the
    /// threads unless called from one of them (a callback dropping the
    /// last client handle), which then end on their own. The callbacks of
    /// the queued calls it fails run afterwards on a short-lived thread
    /// it does not wait for: the caller may hold a lock they take.
    pub(crate) fn shutdown(&self) {
        let (queued, running) = {
            let mut st = lock(&self.shared.state);
            if st.closed {
                return;
            }
            st.closed = true;
            self.shared.work_cv.notify_all();
            self.shared.timer_cv.notify_all();
            let mut queued: Vec<_> = st.queue.drain(..).collect();
            queued.extend(take_staged(&mut st));
            let mut running: Vec<_> = st.running.iter().flatten().cloned().collect();
            running.extend(st.claimed.iter().cloned());
            (queued, running)
        };
        let jobs: Vec<Job> = queued
            .iter()
            .filter_map(|call| call.abandon(ErrorKind::Abort))
            .collect();
        for call in running {
            call.ctl().cancel(Cancel::Abort);
        }
        run_hooks(&self.shared, Cancel::Abort);
        let me = thread::current().id();
        let join = !self.thread_ids.contains(&me);
        self.callbacks.close(join);
        if join {
            let threads = std::mem::take(&mut *lock(&self.threads));
            for t in threads {
                let _ = t.join();
            }
            self.late.join();
        }
        if !jobs.is_empty() {
            self.late.run(Box::new(move || {
                for job in jobs {
                    crate::call::contain(job);
                }
            }));
        }
    }

    /// Number of calls waiting in the queue or staged.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        let st = lock(&self.shared.state);
        st.queue.len() + st.staged.len()
    }
}

/// Put a staged call at the back of the queue.
fn enqueue(st: &mut State, call: Arc<dyn AnyCall>) {
    call.ctl().set_staged(false);
    st.queue.push_back(call);
}

/// Move the calls staged by thread `by` to the queue; how many moved.
fn release_by(st: &mut State, by: ThreadId) -> usize {
    let mut moved = 0;
    let mut i = 0;
    while i < st.staged.len() {
        if st.staged[i].by == by {
            let call = st.staged.remove(i).call;
            enqueue(st, call);
            moved += 1;
        } else {
            i += 1;
        }
    }
    moved
}

/// Every staged call, out of the stage.
fn take_staged(st: &mut State) -> Vec<Arc<dyn AnyCall>> {
    st.staged
        .drain(..)
        .map(|s| {
            s.call.ctl().set_staged(false);
            s.call
        })
        .collect()
}

fn run_hooks(shared: &Shared, why: Cancel) {
    for hook in lock(&shared.hooks).iter() {
        crate::call::contain(|| hook(why));
    }
}

fn worker_loop(shared: &Shared, index: usize) {
    let mut st = lock(&shared.state);
    loop {
        st.running[index] = None;
        while (st.queue.is_empty() || st.active >= shared.workers) && !st.closed {
            st.idle += 1;
            st = wait(&shared.work_cv, st);
            st.idle -= 1;
        }
        let Some(call) = st.queue.pop_front() else {
            return; // closed and drained
        };
        st.running[index] = Some(call.clone());
        st.active += 1;
        drop(st);
        call.run();
        drop(call);
        st = lock(&shared.state);
        st.active -= 1;
    }
}

fn timer_loop(shared: &Shared) {
    let mut st = lock(&shared.state);
    loop {
        if st.closed {
            return;
        }
        let now = Instant::now();
        let mut expired = Vec::new();
        let mut i = 0;
        while i < st.staged.len() {
            if st.staged[i].call.ctl().deadline <= now {
                let call = st.staged.remove(i).call;
                call.ctl().set_staged(false);
                expired.push(call);
            } else if st.staged[i].at + STAGE_GRACE <= now {
                let call = st.staged.remove(i).call;
                enqueue(&mut st, call);
                if st.idle > 0 {
                    shared.work_cv.notify_one();
                }
            } else {
                i += 1;
            }
        }
        st.queue.retain(|j| {
            let due = j.ctl().deadline <= now;
            if due {
                expired.push(j.clone());
            }
            !due
        });
        let mut interrupted = Vec::new();
        let mut cancel_running = Vec::new();
        let mut interrupt = false;
        if let Background::Since(t) = st.background {
            if now >= t + BACKGROUND_GRACE {
                st.background = Background::Interrupted;
                interrupt = true;
                interrupted.extend(st.queue.drain(..));
                interrupted.extend(take_staged(&mut st));
                cancel_running.extend(st.running.iter().flatten().cloned());
                cancel_running.extend(st.claimed.iter().cloned());
            }
        }
        if !expired.is_empty() || interrupt {
            drop(st);
            for call in expired {
                call.fail(ErrorKind::Timeout);
            }
            for call in interrupted {
                call.fail(ErrorKind::Interrupted);
            }
            for call in cancel_running {
                call.ctl().cancel(Cancel::Interrupted);
            }
            if interrupt {
                run_hooks(shared, Cancel::Interrupted);
            }
            st = lock(&shared.state);
            continue;
        }
        let queue_next = st
            .queue
            .iter()
            .map(|j| j.ctl().deadline)
            .chain(st.staged.iter().map(|s| s.at + STAGE_GRACE))
            .min();
        let background_next = match st.background {
            Background::Since(t) => Some(t + BACKGROUND_GRACE),
            _ => None,
        };
        let next = match (queue_next, background_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        st.timer_at = next;
        st = match next {
            Some(t) => {
                let d = t.saturating_duration_since(now);
                wait_timeout(&shared.timer_cv, st, d)
            }
            None => wait(&shared.timer_cv, st),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{Call, CallCtl, Callbacks, PreparedCall};
    use crate::policy::ApiKind;
    use std::sync::mpsc;

    struct Sleepy(mpsc::Receiver<()>);
    impl PreparedCall for Sleepy {
        type Output = ();
        fn run(self, _: &Arc<CallCtl>) -> crate::Result<()> {
            let _ = self.0.recv_timeout(Duration::from_secs(5));
            Ok(())
        }
    }

    fn call(rx: mpsc::Receiver<()>, timeout: Duration) -> Arc<Call<Sleepy>> {
        let ctl = Arc::new(CallCtl::new(ApiKind::Request, Instant::now(), timeout));
        Arc::new(Call::new(ctl, Sleepy(rx), Callbacks::default()))
    }

    #[test]
    fn queued_call_times_out_while_workers_are_busy() {
        let pool = Pool::start(1, 4, Spawner::default()).unwrap();
        let (tx, rx) = mpsc::channel();
        let busy = call(rx, Duration::from_secs(5));
        pool.submit(busy.clone(), true).map_err(|_| ()).unwrap();
        let (_tx2, rx2) = mpsc::channel();
        let queued = call(rx2, Duration::from_millis(100));
        let t0 = Instant::now();
        pool.submit(queued.clone(), true).map_err(|_| ()).unwrap();
        let err = queued.outcome.wait().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert_eq!(pool.queued(), 0);
        tx.send(()).unwrap();
        assert!(busy.outcome.wait().is_ok());
        pool.shutdown();
    }

    #[test]
    fn full_queue_refuses() {
        let pool = Pool::start(1, 1, Spawner::default()).unwrap();
        let (tx, rx) = mpsc::channel();
        let (t2, r2) = mpsc::channel();
        let (_t3, r3) = mpsc::channel();
        let a = call(rx, Duration::from_secs(5));
        pool.submit(a.clone(), true).map_err(|_| ()).unwrap();
        // Wait until the worker took `a`, so the queue is empty.
        while pool.queued() > 0 {
            thread::yield_now();
        }
        pool.submit(call(r2, Duration::from_secs(5)), true)
            .map_err(|_| ())
            .unwrap();
        let refused = pool.submit(call(r3, Duration::from_secs(5)), true);
        assert!(matches!(refused, Err((_, ErrorKind::QueueFull))));
        tx.send(()).unwrap();
        // Whether the second call starts before shutdown or not, it must
        // not sleep: its sender is gone.
        drop(t2);
        pool.shutdown();
        assert!(a.outcome.wait().is_ok() || a.outcome.is_finished());
    }
}
