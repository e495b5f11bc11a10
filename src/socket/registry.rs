//! The sockets of one client (at most [`MAX_SOCKETS`]), and the client's
//! global socket functions, which act on the earliest socket not yet
//! closed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use super::event::{ReadyState, SocketClose, SocketMessage, SocketOpen};
use super::shared::{Events, Shared};
use super::task::SocketTask;
use crate::call::Cancel;
use crate::client::Client;
use crate::error::{Api, Error, ErrorKind, Result};
use crate::listener::{Keep, ListenerId, Listeners};
use crate::sync::lock;

/// At most this many sockets at once, as in the mini-program runtime.
///
/// ```
/// assert_eq!(wxnet::MAX_SOCKETS, 5);
/// ```
pub const MAX_SOCKETS: usize = 5;

/// Global listeners registered while no socket was open; they move to the
/// next socket created.
struct Pending {
    open: Listeners<SocketOpen>,
    message: Listeners<SocketMessage>,
    error: Listeners<Error>,
    close: Listeners<SocketClose>,
}

/// The sockets of one client, in creation order.
pub(crate) struct Registry {
    pub(super) sockets: Mutex<Vec<Arc<Shared>>>,
    pending: Pending,
    pub(super) threads: Mutex<Vec<thread::JoinHandle<()>>>,
    pub(super) closed: AtomicBool,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            sockets: Mutex::new(Vec::new()),
            pending: Pending {
                open: Listeners::new(Keep::Nothing),
                message: Listeners::new(Keep::Nothing),
                error: Listeners::new(Keep::Nothing),
                close: Listeners::new(Keep::Nothing),
            },
            threads: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// The earliest socket not yet closed.
    fn first(&self) -> Option<SocketTask> {
        lock(&self.sockets).first().cloned().map(SocketTask::from)
    }

    /// Take a slot for `s`; `false` when all are taken.
    pub(super) fn admit(&self, s: &Arc<Shared>) -> bool {
        let mut sockets = lock(&self.sockets);
        if sockets.len() >= MAX_SOCKETS {
            return false;
        }
        sockets.push(s.clone());
        drop(sockets);
        // Global listeners set while no socket was open belong to this one.
        let (p, to): (&Pending, &Events) = (&self.pending, &s.events);
        move_all(&p.open, &to.open);
        move_all(&p.message, &to.message);
        move_all(&p.error, &to.error);
        move_all(&p.close, &to.close);
        true
    }

    /// Give back the slot of `s`, which never started, and the global
    /// listeners it took, for the next socket.
    pub(super) fn release(&self, s: &Shared) {
        self.remove(s.id);
        let (from, p): (&Events, &Pending) = (&s.events, &self.pending);
        move_all(&from.open, &p.open);
        move_all(&from.message, &p.message);
        move_all(&from.error, &p.error);
        move_all(&from.close, &p.close);
    }

    pub(super) fn remove(&self, id: u64) {
        lock(&self.sockets).retain(|s| s.id != id);
    }

    /// Keep `t` so that shutdown can wait for it.
    pub(super) fn keep_thread(&self, t: thread::JoinHandle<()>) {
        let mut threads = lock(&self.threads);
        // Dropping the handle of a finished thread releases it.
        threads.retain(|t| !t.is_finished());
        threads.push(t);
    }

    /// End every socket: 1001 for shutdown, and for the background
    /// interrupt also an `interrupted` error.
    pub(crate) fn end_all(&self, why: Cancel) {
        let sockets: Vec<_> = lock(&self.sockets).clone();
        for s in sockets {
            let (reason, error) = match why {
                Cancel::Abort => ("client shut down", None),
                Cancel::Interrupted => (
                    "interrupted",
                    Some(Error::new(super::API, ErrorKind::Interrupted)),
                ),
            };
            let close = SocketClose {
                code: 1001,
                reason: reason.into(),
            };
            s.end_from_outside(close, error);
        }
        if why == Cancel::Abort {
            self.closed.store(true, Ordering::Release);
            let me = thread::current().id();
            let threads = std::mem::take(&mut *lock(&self.threads));
            for t in threads {
                if t.thread().id() != me {
                    let _ = t.join();
                }
            }
        }
    }
}

/// Move every listener of `from` to `to` (a new socket: nothing is kept
/// there yet, so nothing is due).
fn move_all<T: Send + Sync + 'static>(from: &Listeners<T>, to: &Listeners<T>) {
    for (id, f) in from.take_all() {
        to.adopt(id, f);
    }
}

impl Client {
    fn sockets(&self) -> &Registry {
        &self.engine().sockets
    }

    /// `wx.onSocketOpen`: listen for the open event of the earliest socket
    /// not yet closed (or of the next socket, when none is). The id works
    /// with that socket's [`SocketTask::off_open`].
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// client.on_socket_open(move |_| tx.send(()).unwrap()); // kept for the next socket
    /// assert!(client.send_socket_message("x".into()).is_err());
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn on_socket_open(&self, f: impl FnMut(&SocketOpen) + Send + 'static) -> ListenerId {
        match self.sockets().first() {
            Some(t) => t.on_open(f),
            None => self.sockets().pending.open.add(Box::new(f)).0,
        }
    }

    /// `wx.onSocketMessage`, for the earliest socket not yet closed (or
    /// the next one).
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let a = client.on_socket_message(|m| println!("{m:?}"));
    /// assert_ne!(a, client.on_socket_message(|_| {}));
    /// assert!(client.close_socket(1000, "").is_err());
    /// ```
    pub fn on_socket_message(&self, f: impl FnMut(&SocketMessage) + Send + 'static) -> ListenerId {
        match self.sockets().first() {
            Some(t) => t.on_message(f),
            None => self.sockets().pending.message.add(Box::new(f)).0,
        }
    }

    /// `wx.onSocketError`, for the earliest socket not yet closed (or the
    /// next one).
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let a = client.on_socket_error(|e| eprintln!("{e}"));
    /// assert_ne!(a, client.on_socket_error(|_| {}));
    /// assert!(client.close_socket(1000, "").is_err());
    /// ```
    pub fn on_socket_error(&self, f: impl FnMut(&Error) + Send + 'static) -> ListenerId {
        match self.sockets().first() {
            Some(t) => t.on_error(f),
            None => self.sockets().pending.error.add(Box::new(f)).0,
        }
    }

    /// `wx.onSocketClose`, for the earliest socket not yet closed (or the
    /// next one).
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let a = client.on_socket_close(|c| println!("{}", c.code));
    /// assert_ne!(a, client.on_socket_close(|_| {}));
    /// assert!(client.close_socket(1000, "").is_err());
    /// ```
    pub fn on_socket_close(&self, f: impl FnMut(&SocketClose) + Send + 'static) -> ListenerId {
        match self.sockets().first() {
            Some(t) => t.on_close(f),
            None => self.sockets().pending.close.add(Box::new(f)).0,
        }
    }

    /// `wx.sendSocketMessage`: send on the earliest socket not yet closed;
    /// `sendSocketMessage:fail WebSocket is not connected` when there is
    /// none.
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let e = client.send_socket_message("x".into()).unwrap_err();
    /// assert_eq!(e.err_msg(), "sendSocketMessage:fail WebSocket is not connected");
    /// ```
    pub fn send_socket_message(&self, message: SocketMessage) -> Result<()> {
        let api = Api::SendSocketMessage;
        match self.sockets().first() {
            Some(t) if t.ready_state() == ReadyState::Open => t.shared().send(message, api),
            _ => Err(Error::new(api, ErrorKind::NotConnected)),
        }
    }

    /// `wx.closeSocket`: close the earliest socket not yet closed;
    /// `closeSocket:fail WebSocket is not connected` when there is none.
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let e = client.close_socket(1000, "").unwrap_err();
    /// assert_eq!(e.err_msg(), "closeSocket:fail WebSocket is not connected");
    /// ```
    pub fn close_socket(&self, code: u16, reason: &str) -> Result<()> {
        let api = Api::CloseSocket;
        match self.sockets().first() {
            Some(t) => t.shared().close(code, reason, api),
            None => Err(Error::new(api, ErrorKind::NotConnected)),
        }
    }
}
