//! The outcome cell of a call: finished exactly once (its callbacks run
//! then), waited on by the task handle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::{CallCtl, Callbacks};
use crate::error::{Error, ErrorKind, Result};
use crate::sync::{lock, wait};

enum Slot<T> {
    Pending,
    Done(Result<T>),
    Taken,
}

/// The outcome cell of a call: finished exactly once, waited on by
/// the task handle's `wait`.
pub(crate) struct Outcome<T> {
    pub ctl: Arc<CallCtl>,
    finished: AtomicBool,
    slot: Mutex<Slot<T>>,
    cv: Condvar,
    callbacks: Mutex<Option<Callbacks<T>>>,
}

impl<T> Outcome<T> {
    pub(crate) fn new(ctl: Arc<CallCtl>, callbacks: Callbacks<T>) -> Outcome<T> {
        Outcome {
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

    /// End a call refused before it ran with `e` at once (waiters get it
    /// now), and hand back its callbacks to run later on another thread.
    pub(crate) fn settle(&self, e: Error) -> Option<(Callbacks<T>, Error)> {
        if self.finished.swap(true, Ordering::AcqRel) {
            return None;
        }
        let callbacks = lock(&self.callbacks).take();
        *lock(&self.slot) = Slot::Done(Err(e.clone()));
        self.cv.notify_all();
        callbacks.map(|cb| (cb, e))
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
                    slot = wait(&self.cv, slot);
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
