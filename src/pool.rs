//! The fixed pool of worker threads shared by `request`, `upload_file` and
//! `download_file`, its bounded FIFO queue, and the timer that fails
//! queued calls at their deadline and interrupts calls in the background.
//!
//! The queue is a `VecDeque` under the same mutex as the pool state rather
//! than a channel, because queued calls must be removable: an abort, a
//! deadline, the background interrupt and shutdown all take a call out of
//! the queue and finish it at once instead of leaving it to hold a slot
//! until a worker is free.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crate::error::ErrorKind;
use crate::job::{Cancel, Job, lock};

/// How long calls may go on after `enter_background` before they are
/// interrupted, as in the mini-program runtime.
pub(crate) const BACKGROUND_GRACE: Duration = Duration::from_secs(5);

/// Stack of each worker: a rustls handshake needs up to 160 KiB in debug
/// builds (48 KiB in release), and user callbacks run here too.
const WORKER_STACK: usize = 256 * 1024;
/// The timer only moves calls out of the queue and runs their callbacks.
const TIMER_STACK: usize = 128 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Background {
    Foreground,
    Since(Instant),
    Interrupted,
}

/// Something besides pool calls (sockets) that the background interrupt
/// and shutdown must also end.
pub(crate) type Hook = Box<dyn Fn(Cancel) + Send + Sync>;

struct State {
    queue: VecDeque<Arc<dyn Job>>,
    running: Vec<Option<Arc<dyn Job>>>,
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
    hooks: Mutex<Vec<Hook>>,
}

/// The worker pool of one client.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    thread_ids: Vec<ThreadId>,
}

impl Pool {
    /// Start `workers` threads and the timer; the queue holds at most
    /// `capacity` waiting calls.
    pub(crate) fn start(workers: usize, capacity: usize) -> std::io::Result<Pool> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity.min(1024)),
                running: (0..workers).map(|_| None).collect(),
                idle: 0,
                closed: false,
                background: Background::Foreground,
                timer_at: None,
            }),
            work_cv: Condvar::new(),
            timer_cv: Condvar::new(),
            capacity,
            hooks: Mutex::new(Vec::new()),
        });
        let mut threads = Vec::with_capacity(workers + 1);
        let spawned = (|| {
            for i in 0..workers {
                let s = shared.clone();
                threads.push(
                    thread::Builder::new()
                        .name(format!("wxnet-worker-{i}"))
                        .stack_size(WORKER_STACK)
                        .spawn(move || worker_loop(&s, i))?,
                );
            }
            let s = shared.clone();
            threads.push(
                thread::Builder::new()
                    .name("wxnet-timer".into())
                    .stack_size(TIMER_STACK)
                    .spawn(move || timer_loop(&s))?,
            );
            Ok(())
        })();
        let thread_ids = threads.iter().map(|t| t.thread().id()).collect();
        let pool = Pool {
            shared,
            threads: Mutex::new(threads),
            thread_ids,
        };
        spawned.map(|()| pool)
    }

    /// Queue a call; `Err` gives it back with the reason it was refused.
    pub(crate) fn submit(&self, job: Arc<dyn Job>) -> Result<(), (Arc<dyn Job>, ErrorKind)> {
        let mut st = lock(&self.shared.state);
        if st.closed {
            return Err((job, ErrorKind::Abort));
        }
        if st.background == Background::Interrupted {
            return Err((job, ErrorKind::Interrupted));
        }
        if st.queue.len() >= self.shared.capacity {
            return Err((job, ErrorKind::QueueFull));
        }
        let deadline = job.ctl().deadline;
        st.queue.push_back(job);
        if st.idle > 0 {
            self.shared.work_cv.notify_one();
        }
        // The timer only needs to know about calls that will wait for a
        // worker; waking it for every call would cost a context switch.
        let will_wait = st.queue.len() > st.idle;
        if will_wait && st.timer_at.is_none_or(|t| deadline < t) {
            st.timer_at = Some(deadline);
            self.shared.timer_cv.notify_one();
        }
        Ok(())
    }

    /// Take the call with control-block id `id` out of the queue, if it is
    /// still waiting there.
    pub(crate) fn remove_queued(&self, id: u64) -> Option<Arc<dyn Job>> {
        let mut st = lock(&self.shared.state);
        let at = st.queue.iter().position(|j| j.ctl().id == id)?;
        st.queue.remove(at)
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
    /// last client handle), which then end on their own.
    pub(crate) fn shutdown(&self) {
        let (queued, running) = {
            let mut st = lock(&self.shared.state);
            if st.closed {
                return;
            }
            st.closed = true;
            self.shared.work_cv.notify_all();
            self.shared.timer_cv.notify_all();
            let queued: Vec<_> = st.queue.drain(..).collect();
            let running: Vec<_> = st.running.iter().flatten().cloned().collect();
            (queued, running)
        };
        for job in queued {
            job.fail(ErrorKind::Abort);
        }
        for job in running {
            job.ctl().cancel(Cancel::Abort);
        }
        run_hooks(&self.shared, Cancel::Abort);
        let me = thread::current().id();
        if self.thread_ids.contains(&me) {
            return;
        }
        let threads = std::mem::take(&mut *lock(&self.threads));
        for t in threads {
            let _ = t.join();
        }
    }

    /// Number of calls waiting in the queue.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        lock(&self.shared.state).queue.len()
    }
}

fn run_hooks(shared: &Shared, why: Cancel) {
    for hook in lock(&shared.hooks).iter() {
        crate::job::contain(|| hook(why));
    }
}

fn worker_loop(shared: &Shared, index: usize) {
    let mut st = lock(&shared.state);
    loop {
        st.running[index] = None;
        while st.queue.is_empty() && !st.closed {
            st.idle += 1;
            st = wait(&shared.work_cv, st);
            st.idle -= 1;
        }
        let Some(job) = st.queue.pop_front() else {
            return; // closed and drained
        };
        st.running[index] = Some(job.clone());
        drop(st);
        job.run();
        drop(job);
        st = lock(&shared.state);
    }
}

fn wait<'a>(cv: &Condvar, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    cv.wait(g).unwrap_or_else(|e| e.into_inner())
}

fn timer_loop(shared: &Shared) {
    let mut st = lock(&shared.state);
    loop {
        if st.closed {
            return;
        }
        let now = Instant::now();
        let mut expired = Vec::new();
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
                cancel_running.extend(st.running.iter().flatten().cloned());
            }
        }
        if !expired.is_empty() || interrupt {
            drop(st);
            for job in expired {
                job.fail(ErrorKind::Timeout);
            }
            for job in interrupted {
                job.fail(ErrorKind::Interrupted);
            }
            for job in cancel_running {
                job.ctl().cancel(Cancel::Interrupted);
            }
            if interrupt {
                run_hooks(shared, Cancel::Interrupted);
            }
            st = lock(&shared.state);
            continue;
        }
        let queue_next = st.queue.iter().map(|j| j.ctl().deadline).min();
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
                shared
                    .timer_cv
                    .wait_timeout(st, d)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => shared.timer_cv.wait(st).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Call, Callbacks, JobCtl, Work};
    use crate::policy::ApiKind;
    use std::sync::mpsc;

    struct Sleepy(mpsc::Receiver<()>);
    impl Work for Sleepy {
        type Output = ();
        fn run(self, _: &Arc<JobCtl>) -> crate::Result<()> {
            let _ = self.0.recv_timeout(Duration::from_secs(5));
            Ok(())
        }
    }

    fn call(rx: mpsc::Receiver<()>, timeout: Duration) -> Arc<Call<Sleepy>> {
        let ctl = Arc::new(JobCtl::new(ApiKind::Request, Instant::now(), timeout));
        Arc::new(Call::new(ctl, Sleepy(rx), Callbacks::default()))
    }

    #[test]
    fn queued_call_times_out_while_workers_are_busy() {
        let pool = Pool::start(1, 4).unwrap();
        let (tx, rx) = mpsc::channel();
        let busy = call(rx, Duration::from_secs(5));
        pool.submit(busy.clone()).map_err(|_| ()).unwrap();
        let (_tx2, rx2) = mpsc::channel();
        let queued = call(rx2, Duration::from_millis(100));
        let t0 = Instant::now();
        pool.submit(queued.clone()).map_err(|_| ()).unwrap();
        let err = queued.task.wait().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert_eq!(pool.queued(), 0);
        tx.send(()).unwrap();
        assert!(busy.task.wait().is_ok());
        pool.shutdown();
    }

    #[test]
    fn full_queue_refuses() {
        let pool = Pool::start(1, 1).unwrap();
        let (tx, rx) = mpsc::channel();
        let (_t2, r2) = mpsc::channel();
        let (_t3, r3) = mpsc::channel();
        let a = call(rx, Duration::from_secs(5));
        pool.submit(a.clone()).map_err(|_| ()).unwrap();
        // Wait until the worker took `a`, so the queue is empty.
        while pool.queued() > 0 {
            thread::yield_now();
        }
        pool.submit(call(r2, Duration::from_secs(5)))
            .map_err(|_| ())
            .unwrap();
        let refused = pool.submit(call(r3, Duration::from_secs(5)));
        assert!(matches!(refused, Err((_, ErrorKind::QueueFull))));
        tx.send(()).unwrap();
        pool.shutdown();
        assert!(a.task.wait().is_ok() || a.task.is_finished());
    }
}
