//! `connect_socket`: admit the socket, then run it on its own thread
//! (handshake, reader loop, the final error and close events).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::event::{ReadyState, SocketClose, SocketOpen};
use super::options::ConnectSocketOptions;
use super::shared::Shared;
use super::task::SocketTask;
use super::{API, close, handshake, reader};
use crate::call::{CallCtl, Callbacks, contain};
use crate::client::{Client, Engine};
use crate::error::{Error, ErrorKind};
use crate::http::build_headers;
use crate::policy::{ApiKind, Target};
use crate::profile::Profile;
use crate::sync::lock;

/// The reader thread runs user callbacks and, in debug builds, needs room
/// for the TLS handshake.
pub(super) const SOCKET_STACK: usize = 256 * 1024;

/// How a socket ended: the error event, if any, and the close event.
pub(super) struct Ending {
    pub error: Option<Error>,
    pub close: SocketClose,
}

impl Ending {
    pub(super) fn clean(close: SocketClose) -> Ending {
        Ending { error: None, close }
    }

    /// Lost without a close frame: `error`, then close 1006.
    pub(super) fn abnormal(error: Error) -> Ending {
        Ending {
            error: Some(error),
            close: close::abnormal(),
        }
    }
}

impl Client {
    /// Open a WebSocket (`wx.connectSocket`): `wss://` only, checked
    /// against the socket domain list (ports are ignored), at most 5 at
    /// once. Returns at once; the connection is made on the socket's own
    /// thread and reported through the task's events.
    ///
    /// A refused URL, a sixth socket (`connectSocket:fail exceed max
    /// concurrent count`) or a shut-down client fail at once: the returned
    /// task is closed, and `fail` and `complete` run on a short-lived
    /// library thread. Otherwise `success` and `complete` run first on the
    /// socket's thread. No callback ever runs inside this call, so a lock
    /// held across it may be taken in them.
    ///
    /// ```no_run
    /// let client = wxnet::Client::builder().socket_domains(["wss://ws.example.com"]).build()?;
    /// let options = wxnet::ConnectSocketOptions::new("wss://ws.example.com/chat");
    /// let task = client.connect_socket(options.protocols(["chat"]));
    /// task.on_open(|o| println!("protocol {:?}", o.header.get("sec-websocket-protocol")));
    /// task.on_message(|m| println!("{m:?}"));
    /// task.on_close(|c| println!("closed {} {}", c.code, c.reason));
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    ///
    /// A refused socket:
    ///
    /// ```
    /// let client = wxnet::Client::builder().socket_domains(["wss://ws.example.com"]).build()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let options = wxnet::ConnectSocketOptions::new("wss://other.example.com/")
    ///     .fail(move |e| tx.send(e.err_msg().to_owned()).unwrap());
    /// let task = client.connect_socket(options);
    /// assert_eq!(task.ready_state(), wxnet::ReadyState::Closed);
    /// assert_eq!(rx.recv().unwrap(), "connectSocket:fail url not in domain list");
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn connect_socket(&self, mut options: ConnectSocketOptions) -> SocketTask {
        let callbacks = std::mem::take(&mut options.callbacks);
        let engine = self.engine().clone();
        let registry = engine.sockets.clone();
        let timeout = engine.timeout_for(ApiKind::ConnectSocket, options.timeout);
        let ctl = Arc::new(CallCtl::new(
            ApiKind::ConnectSocket,
            Instant::now(),
            timeout,
        ));
        let shared = Arc::new(Shared::new(ctl, &registry));
        let task = SocketTask::from(shared.clone());
        let prepared = (|| {
            if self.is_shut_down() || registry.closed.load(Ordering::Acquire) {
                return Err(Error::new(API, ErrorKind::Abort));
            }
            if self.is_interrupted() {
                return Err(Error::new(API, ErrorKind::Interrupted));
            }
            let target = engine.policy.check(ApiKind::ConnectSocket, &options.url)?;
            let headers = build_headers(API, &engine, &options.header)?;
            Ok((target, headers))
        })();
        let (target, headers) = match prepared {
            Ok(v) => v,
            Err(e) => return refused(self, &shared, callbacks, e, task),
        };
        if !registry.admit(&shared) {
            let e = Error::new(API, ErrorKind::TooManySockets);
            return refused(self, &shared, callbacks, e, task);
        }
        // Taken back if the thread cannot start, so the call still ends.
        let slot = Arc::new(Mutex::new(Some(callbacks)));
        let run = {
            let (shared, engine, slot) = (shared.clone(), engine.clone(), slot.clone());
            move || {
                let callbacks = lock(&slot).take().unwrap_or_default();
                if let Some(f) = callbacks.success {
                    contain(|| f(&()));
                }
                if let Some(f) = callbacks.complete {
                    contain(f);
                }
                run_socket(&shared, &engine, target, headers, options)
            }
        };
        let name = format!("wxnet-socket-{}", shared.id);
        let spawned = if spawn_fails() {
            Err(std::io::Error::other("no thread"))
        } else {
            self.spawner().spawn(name, SOCKET_STACK, run)
        };
        match spawned {
            Ok(t) => registry.keep_thread(t),
            Err(e) => {
                // Its global listeners wait for the next socket, and the
                // refused socket's events are only kept, never run here.
                registry.release(&shared);
                let callbacks = lock(&slot).take().unwrap_or_default();
                let detail = e.to_string();
                let e = Error::with_detail(API, ErrorKind::Network, &detail).source_from(e);
                return refused(self, &shared, callbacks, e, task);
            }
        }
        task
    }
}

#[cfg(test)]
thread_local! {
    /// Makes the socket thread of `connect_socket` on this thread fail
    /// to start.
    static SPAWN_FAILS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
fn spawn_fails() -> bool {
    SPAWN_FAILS.with(|f| f.get())
}

#[cfg(not(test))]
fn spawn_fails() -> bool {
    false
}

/// A socket refused before it started: closed at once, with the error
/// and a close event kept for late listeners, so every socket ends with a
/// close event, even one that never connected. `fail` and `complete` run
/// on one of the client's short-lived threads, which shutdown waits for.
fn refused(
    client: &Client,
    s: &Shared,
    callbacks: Callbacks<()>,
    e: Error,
    task: SocketTask,
) -> SocketTask {
    s.set_state(ReadyState::Closed);
    s.finished.store(true, Ordering::Release);
    // Nobody listens yet: these only keep the events.
    s.emit_error(e.clone());
    s.emit_close(SocketClose {
        code: 1006,
        reason: e.reason().to_owned(),
    });
    let slot = Arc::new(Mutex::new(Some((callbacks, e))));
    let outcome = {
        let slot = slot.clone();
        move || {
            if let Some((callbacks, e)) = lock(&slot).take() {
                fail(callbacks, &e);
            }
        }
    };
    let spawned =
        client
            .late_threads()
            .spawn(format!("wxnet-late-{}", s.id), SOCKET_STACK, outcome);
    if let Err(spawn) = spawned {
        // Out of threads: better here than never, as every call ends.
        log::error!("wxnet: no thread for connectSocket callbacks: {spawn}");
        if let Some((callbacks, e)) = lock(&slot).take() {
            fail(callbacks, &e);
        }
    }
    task
}

fn fail(callbacks: Callbacks<()>, e: &Error) {
    if let Some(f) = callbacks.fail {
        contain(|| f(e));
    }
    if let Some(f) = callbacks.complete {
        contain(f);
    }
}

/// The socket's thread: connect, then read until the connection ends;
/// emits exactly one close event (after at most one error event) and
/// frees the slot.
fn run_socket(
    s: &Arc<Shared>,
    engine: &Engine,
    target: Target,
    headers: Vec<(String, String)>,
    options: ConnectSocketOptions,
) {
    let ending = match handshake::connect(s, engine, &target, &headers, &options) {
        Ok((ws, header)) => open(s, ws, header),
        Err(e) => Err(ended_while_connecting(s).unwrap_or_else(|| Ending::abnormal(e))),
    };
    let ending = match ending {
        Ok(()) => reader::read_until_end(s),
        Err(ending) => ending,
    };
    s.set_state(ReadyState::Closed);
    s.shutdown_socket();
    lock(&s.conn).ws = None;
    if let Some(e) = ending.error {
        s.emit_error(e);
    }
    s.finished.store(true, Ordering::Release);
    if let Some(r) = s.registry.upgrade() {
        r.remove(s.id);
    }
    s.emit_close(ending.close);
}

/// The socket is connected: open it, unless it was closed or ended while
/// connecting.
fn open(
    s: &Arc<Shared>,
    mut ws: super::shared::Ws,
    header: crate::header::Header,
) -> Result<(), Ending> {
    let mut c = lock(&s.conn);
    if let Some(request) = c.close_request.take() {
        drop(c);
        close::send_close(&mut ws, &request);
        return Err(Ending::clean(request));
    }
    if let Some((close, error)) = c.ended_by.take() {
        return Err(Ending { error, close });
    }
    c.ws = Some(ws);
    s.set_state(ReadyState::Open);
    drop(c);
    let profile = Profile::from_ctl(&s.ctl, 0);
    s.emit_open(SocketOpen { header, profile });
    Ok(())
}

/// Why the socket ended while connecting, when it was closed or ended from
/// outside (the connection error is then only a consequence).
fn ended_while_connecting(s: &Shared) -> Option<Ending> {
    let c = lock(&s.conn);
    if let Some(request) = c.close_request.clone() {
        return Some(Ending::clean(request));
    }
    let (close, error) = c.ended_by.clone()?;
    Some(Ending { error, close })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    use super::*;

    const SECS: Duration = Duration::from_secs(5);

    #[test]
    fn a_socket_thread_that_cannot_start_leaves_global_listeners_pending() {
        let client = Client::builder().skip_domain_check(true).build().unwrap();
        let me = thread::current().id();
        let (closes, closed) = mpsc::channel();
        client.on_socket_close(move |c| {
            let _ = closes.send((c.code, thread::current().id()));
        });
        // A loopback port nobody listens on: connecting fails at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("ws://127.0.0.1:{port}/");
        let (fails, failed) = mpsc::channel();
        let options = ConnectSocketOptions::new(url.clone()).fail(move |e| {
            let _ = fails.send((e.kind(), thread::current().id()));
        });
        SPAWN_FAILS.with(|f| f.set(true));
        let task = client.connect_socket(options);
        SPAWN_FAILS.with(|f| f.set(false));
        assert_eq!(task.ready_state(), ReadyState::Closed);
        let (kind, on) = failed.recv_timeout(SECS).unwrap();
        assert_eq!(kind, ErrorKind::Network);
        assert_ne!(on, me);
        // The task keeps its events for its own listeners.
        let (own, own_close) = mpsc::channel();
        task.on_close(move |c| {
            let _ = own.send(c.code);
        });
        assert_eq!(own_close.recv_timeout(SECS).unwrap(), 1006);
        // The global listener heard nothing of it, and moved to the next.
        assert!(closed.try_recv().is_err());
        let _next = client.connect_socket(ConnectSocketOptions::new(url));
        let (code, on) = closed.recv_timeout(SECS).unwrap();
        assert_eq!(code, 1006);
        assert_ne!(on, me);
        assert!(closed.recv_timeout(Duration::from_millis(50)).is_err());
    }
}
