//! The `success` / `fail` / `complete` callbacks of a call, and the panic
//! containment that keeps a panicking callback from skipping the others
//! or killing the thread that runs it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, Result};

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
    /// Whether any callback is set.
    pub(crate) fn any(&self) -> bool {
        self.success.is_some() || self.fail.is_some() || self.complete.is_some()
    }

    /// Run success or fail, then complete; a panic in one is contained so
    /// the others still run and the thread survives.
    pub(crate) fn run(self, result: &Result<T>) {
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
