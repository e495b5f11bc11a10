//! Threads that run user code the caller must not wait for: the client's
//! callback thread, which runs the `fail` / `complete` of calls ended
//! before they ran (refused, aborted while queued), and short-lived
//! threads for late listeners and for what happens after shutdown.
//!
//! The callbacks of refused calls get a thread of their own rather than
//! the pool's timer: a callback that blocks (one that retries with
//! `wait()`) must not hold up queued calls' deadlines or the background
//! interrupt. One thread keeps them in order (fail before complete, and
//! first refused, first called); it starts with the first such call.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};

use crate::call::contain;
use crate::sync::{lock, wait};

/// Callbacks to run on another thread soon.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Stack of the callback thread and of short-lived threads: user code
/// runs there.
pub(crate) const LATE_STACK: usize = 256 * 1024;

/// Starts every thread of one client. With a limit (a hidden builder
/// setting for fault tests) it refuses threads past the limit the way the
/// system does when it runs out, so that path can be tested where the
/// system's own limits do not apply (root ignores `RLIMIT_NPROC`).
#[derive(Clone, Default)]
pub(crate) struct Spawner {
    left: Option<Arc<AtomicUsize>>,
}

impl Spawner {
    /// At most `limit` threads over the client's life, if any limit.
    pub(crate) fn new(limit: Option<usize>) -> Spawner {
        Spawner {
            left: limit.map(|n| Arc::new(AtomicUsize::new(n))),
        }
    }

    pub(crate) fn spawn<T: Send + 'static>(
        &self,
        name: String,
        stack: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<JoinHandle<T>> {
        if let Some(left) = &self.left {
            let take = |n: usize| n.checked_sub(1);
            if left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, take)
                .is_err()
            {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "Resource temporarily unavailable (thread limit)",
                ));
            }
        }
        thread::Builder::new().name(name).stack_size(stack).spawn(f)
    }
}

/// The short-lived threads of one client, joined at shutdown.
#[derive(Default)]
pub(crate) struct LateThreads {
    spawner: Spawner,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl LateThreads {
    pub(crate) fn new(spawner: Spawner) -> LateThreads {
        LateThreads {
            spawner,
            handles: Mutex::default(),
        }
    }

    /// What starts these threads, and every other thread of the client.
    #[cfg(feature = "websocket")]
    pub(crate) fn spawner(&self) -> &Spawner {
        &self.spawner
    }

    /// Run `f` on a new thread named `name`, joined by [`join`](Self::join).
    pub(crate) fn spawn(
        &self,
        name: String,
        stack: usize,
        f: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<()> {
        let handle = self.spawner.spawn(name, stack, f)?;
        let mut handles = lock(&self.handles);
        // Finished threads only hold their result: no need to keep them.
        handles.retain(|h| !h.is_finished());
        handles.push(handle);
        Ok(())
    }

    /// Join every thread started so far, and those they start, except the
    /// current one (a listener dropping the last client handle).
    pub(crate) fn join(&self) {
        let me = thread::current().id();
        loop {
            let handles = std::mem::take(&mut *lock(&self.handles));
            if handles.is_empty() {
                return;
            }
            for h in handles {
                if h.thread().id() != me {
                    let _ = h.join();
                }
            }
        }
    }

    /// Run `job` on a short-lived thread, or here if no thread can start
    /// (better here than never, as every call ends).
    pub(crate) fn run(&self, job: Job) {
        let slot = Arc::new(Mutex::new(Some(job)));
        let theirs = slot.clone();
        let spawned = self.spawn("wxnet-late".into(), LATE_STACK, move || {
            if let Some(job) = lock(&theirs).take() {
                contain(job);
            }
        });
        if let Err(e) = spawned {
            log::error!("wxnet: no thread for the callbacks of a call: {e}");
            if let Some(job) = lock(&slot).take() {
                contain(job);
            }
        }
    }
}

#[derive(Default)]
struct Queue {
    spawner: Spawner,
    jobs: VecDeque<Job>,
    thread: Option<JoinHandle<()>>,
    /// No job is accepted any more; the thread ends once the queue is empty.
    closed: bool,
}

/// The callback thread of one client (see the module docs).
#[derive(Default)]
pub(crate) struct CallbackThread {
    queue: Arc<(Mutex<Queue>, Condvar)>,
}

impl CallbackThread {
    pub(crate) fn new(spawner: Spawner) -> CallbackThread {
        let queue = Queue {
            spawner,
            ..Queue::default()
        };
        CallbackThread {
            queue: Arc::new((Mutex::new(queue), Condvar::new())),
        }
    }

    /// Queue `job`, starting the thread if needed; `Err` gives it back once
    /// closed or when no thread can start.
    pub(crate) fn push(&self, job: Job) -> Result<(), Job> {
        let (m, cv) = &*self.queue;
        let mut q = lock(m);
        if q.closed {
            return Err(job);
        }
        if q.thread.is_none() {
            let queue = self.queue.clone();
            let spawned = q
                .spawner
                .spawn("wxnet-callbacks".into(), LATE_STACK, move || run(&queue));
            match spawned {
                Ok(t) => q.thread = Some(t),
                Err(e) => {
                    log::error!("wxnet: no thread for deferred callbacks: {e}");
                    return Err(job);
                }
            }
        }
        q.jobs.push_back(job);
        drop(q);
        cv.notify_one();
        Ok(())
    }

    /// Refuse new jobs and, with `join` and unless called from the callback
    /// thread itself, wait until the queued ones have run.
    pub(crate) fn close(&self, join: bool) {
        let (m, cv) = &*self.queue;
        let thread = {
            let mut q = lock(m);
            q.closed = true;
            q.thread.take()
        };
        cv.notify_one();
        if let Some(t) = thread.filter(|_| join) {
            if t.thread().id() != thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

fn run(queue: &(Mutex<Queue>, Condvar)) {
    let (m, cv) = queue;
    let mut q = lock(m);
    loop {
        if let Some(job) = q.jobs.pop_front() {
            drop(q);
            contain(job);
            q = lock(m);
        } else if q.closed {
            return;
        } else {
            q = wait(cv, q);
        }
    }
}
