//! What every handle of one socket and its reader thread share: the
//! connection, the state callers wait on, and the listener lists.

use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::error::ProtocolError;
use tungstenite::{Message, WebSocket};

use super::close;
use super::event::{ReadyState, SocketClose, SocketMessage, SocketOpen};
use super::registry::Registry;
use super::stream::WsStream;
use crate::call::{CallCtl, CallSocket, Cancel};
use crate::error::{Api, Error, ErrorKind, Result};
use crate::listener::{Delivered, Keep, Listener, ListenerId, Listeners};
use crate::sync::{lock, wait_timeout};
use crate::transport::is_timeout;

pub(super) type Ws = WebSocket<WsStream>;

/// How long a close handshake may take before the connection is dropped.
pub(super) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the reader wakes while idle, to enforce the close timeout.
pub(super) const TICK: Duration = Duration::from_millis(250);

/// Bytes of messages kept for `recv` (or a late `on_message`) before the
/// reader stops reading and lets TCP flow control slow the server down.
/// Each message also counts [`MESSAGE_OVERHEAD`], so many tiny messages
/// are bounded too; one message is kept whatever its size.
const KEPT_MESSAGE_BYTES: usize = 1024 * 1024;

/// What one kept message costs besides its payload.
const MESSAGE_OVERHEAD: usize = 64;

fn weight(m: &SocketMessage) -> usize {
    m.len() + MESSAGE_OVERHEAD
}

/// The connection, under the lock that senders and the reader share.
#[derive(Default)]
pub(super) struct Conn {
    pub ws: Option<Ws>,
    /// `close` was called before the connection opened.
    pub close_request: Option<SocketClose>,
    /// The close frame we sent, and when to give up waiting for the echo.
    pub closing: Option<(SocketClose, Instant)>,
    /// Why the connection is being ended from outside (shutdown, background).
    pub ended_by: Option<(SocketClose, Option<Error>)>,
}

/// What `wait_open` and `recv` wait for.
#[derive(Default)]
pub(super) struct Status {
    pub opened: Option<SocketOpen>,
    pub failed: Option<Error>,
    pub closed: Option<SocketClose>,
    /// Threads blocked in `recv`: a batch wakes them only when there are.
    pub recv_waiters: usize,
    /// The reader waits for room among the kept messages: `recv` wakes it.
    pub reader_blocked: bool,
}

/// The listeners of each event. Open, error and close are kept for every
/// late listener; messages nobody listened to are kept for the first
/// `on_message` listener (or `recv`).
pub(super) struct Events {
    pub open: Listeners<SocketOpen>,
    pub message: Listeners<SocketMessage>,
    pub error: Listeners<Error>,
    pub close: Listeners<SocketClose>,
}

impl Events {
    pub(super) fn new() -> Events {
        Events {
            open: Listeners::new(Keep::ForEveryLate),
            message: Listeners::new(Keep::ForFirst {
                cap: KEPT_MESSAGE_BYTES,
                weight,
            }),
            error: Listeners::new(Keep::ForEveryLate),
            close: Listeners::new(Keep::ForEveryLate),
        }
    }

    /// Hand late listeners their kept events, in the order events happen.
    fn flush(&self) {
        self.open.flush();
        self.message.flush();
        self.error.flush();
        self.close.flush();
    }
}

pub(super) struct Shared {
    pub id: u64,
    state: AtomicU8,
    pub conn: Mutex<Conn>,
    /// Shut down to wake the reader (close timeout, shutdown).
    pub socket: Mutex<Option<Arc<CallSocket>>>,
    pub ctl: Arc<CallCtl>,
    pub status: Mutex<Status>,
    pub changed: Condvar,
    pub events: Events,
    /// One delivery at a time across the four lists, so that events reach
    /// listeners in the order they happened.
    dispatch: Mutex<()>,
    pub registry: Weak<Registry>,
    pub finished: AtomicBool,
}

impl Shared {
    pub(super) fn new(ctl: Arc<CallCtl>, registry: &Arc<Registry>) -> Shared {
        Shared {
            id: ctl.id,
            state: AtomicU8::new(ReadyState::Connecting as u8),
            conn: Mutex::new(Conn::default()),
            socket: Mutex::new(None),
            ctl,
            status: Mutex::new(Status::default()),
            changed: Condvar::new(),
            events: Events::new(),
            dispatch: Mutex::new(()),
            registry: Arc::downgrade(registry),
            finished: AtomicBool::new(false),
        }
    }

    pub(super) fn state(&self) -> ReadyState {
        ReadyState::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(super) fn set_state(&self, s: ReadyState) {
        self.state.store(s as u8, Ordering::Release);
    }

    pub(super) fn shutdown_socket(&self) {
        if let Some(s) = lock(&self.socket).as_ref() {
            let _ = s.stream.shutdown(Shutdown::Both);
        }
    }

    /// Register a listener on `list` (one of `self.events`); kept events
    /// go to it from a short-lived library thread, never from here.
    pub(super) fn listen<T: Send + Sync + 'static>(
        self: &Arc<Self>,
        list: impl Fn(&Events) -> &Listeners<T>,
        f: Listener<T>,
    ) -> ListenerId {
        let (id, due) = list(&self.events).add(f);
        if due {
            flush_later(self);
        }
        // The reader may wait for room among kept messages a listener took.
        self.changed.notify_all();
        id
    }

    /// Remove the listener `id`, or every one of `list`; whether any was.
    pub(super) fn unlisten<T: Send + Sync + 'static>(
        list: &Listeners<T>,
        id: Option<ListenerId>,
    ) -> bool {
        list.off(id)
    }

    /// Deliver one event (reader or short-lived thread), after any kept
    /// events that late listeners still wait for.
    fn emit<T: Send + Sync + 'static>(&self, list: &Listeners<T>, ev: T) {
        let _one = lock(&self.dispatch);
        self.events.flush();
        list.deliver_past_cap(ev);
    }

    pub(super) fn emit_open(&self, open: SocketOpen) {
        lock(&self.status).opened = Some(open.clone());
        self.changed.notify_all();
        self.emit(&self.events.open, open);
    }

    pub(super) fn emit_error(&self, e: Error) {
        lock(&self.status).failed = Some(e.clone());
        self.changed.notify_all();
        self.emit(&self.events.error, e);
    }

    pub(super) fn emit_close(&self, c: SocketClose) {
        lock(&self.status).closed = Some(c.clone());
        self.changed.notify_all();
        self.emit(&self.events.close, c);
    }

    /// Deliver what one drain of the connection produced, in order. While
    /// nobody takes messages and the kept ones are at their cap, wait
    /// (TCP then slows the server down). Once we started closing, the
    /// reader must read on to the peer's close frame: a message that
    /// finds no room then is dropped.
    pub(super) fn emit_messages(&self, batch: Vec<SocketMessage>) {
        let mut kept = false;
        let mut dropped = 0usize;
        for m in batch {
            if !self.wait_for_room(weight(&m)) {
                dropped += 1;
                continue;
            }
            let _one = lock(&self.dispatch);
            self.events.flush();
            kept |= self.events.message.deliver_past_cap(m) != Delivered::ToListeners;
        }
        if dropped > 0 {
            log::debug!(
                "wxnet: socket {} closing: dropped {dropped} unread messages",
                self.id
            );
        }
        if kept {
            // A wake-up only when a thread waits in `recv`.
            if lock(&self.status).recv_waiters > 0 {
                self.changed.notify_all();
            }
        }
    }

    /// Wait until a message of `weight` can be kept; `false` when we
    /// started closing first and there is still no room.
    fn wait_for_room(&self, weight: usize) -> bool {
        // Listeners registered, or room left: no need for the status lock.
        if !self.events.message.is_full_for(weight) {
            return true;
        }
        let mut st = lock(&self.status);
        let room = loop {
            if !self.events.message.is_full_for(weight) {
                break true;
            }
            // Not on the peer's close alone: what it sent before it can
            // still be taken, and is not dropped.
            if self.close_started() {
                break false;
            }
            st.reader_blocked = true;
            self.changed.notify_all();
            st = wait_timeout(&self.changed, st, TICK);
        };
        st.reader_blocked = false;
        room
    }

    /// Whether we started closing: `close`, or ended from outside.
    fn close_started(&self) -> bool {
        let c = lock(&self.conn);
        c.closing.is_some() || c.ended_by.is_some()
    }

    /// Send `message` if the socket is open. The state is read under the
    /// connection lock, which every close takes to start: a close that
    /// started (ours or the peer's) refuses the message as not open.
    pub(super) fn send(&self, message: SocketMessage, api: Api) -> Result<()> {
        let mut c = lock(&self.conn);
        if self.state() != ReadyState::Open {
            return Err(not_open(api));
        }
        let Some(ws) = c.ws.as_mut() else {
            return Err(not_open(api));
        };
        let m = match message {
            SocketMessage::Text(t) => Message::Text(t.into()),
            SocketMessage::Binary(b) => Message::Binary(b.into()),
        };
        ws.send(m).map_err(|e| {
            let error = match &e {
                tungstenite::Error::Io(io) if is_timeout(io) => Error::new(api, ErrorKind::Timeout),
                tungstenite::Error::Io(io) => Error::from_network_io(api, io),
                tungstenite::Error::AlreadyClosed
                | tungstenite::Error::ConnectionClosed
                | tungstenite::Error::Protocol(ProtocolError::SendAfterClosing) => {
                    return not_open(api);
                }
                _ => Error::new(api, ErrorKind::Network),
            };
            error.source_from(e)
        })
    }

    /// Start closing with `code` and `reason`, or abandon the connection
    /// attempt; nothing once a close started.
    pub(super) fn close(&self, code: u16, reason: &str, api: Api) -> Result<()> {
        let request = close::requested(code, reason, api)?;
        let mut c = lock(&self.conn);
        match self.state() {
            ReadyState::Connecting => {
                c.close_request = Some(request);
                drop(c);
                self.ctl.cancel(Cancel::Abort);
            }
            ReadyState::Open => {
                if let Some(ws) = c.ws.as_mut() {
                    close::send_close(ws, &request);
                }
                c.closing = Some((request, Instant::now() + CLOSE_TIMEOUT));
                self.set_state(ReadyState::Closing);
                drop(c);
                // A reader waiting for room among kept messages reads on.
                self.changed.notify_all();
            }
            ReadyState::Closing | ReadyState::Closed => {}
        }
        Ok(())
    }

    /// Close now with `close` (and first `error`), whatever the state.
    pub(super) fn end_from_outside(&self, close: SocketClose, error: Option<Error>) {
        let mut c = lock(&self.conn);
        if c.ended_by.is_some() || self.finished.load(Ordering::Acquire) {
            return;
        }
        if let Some(ws) = c.ws.as_mut() {
            close::send_close(ws, &close);
        }
        if self.state() == ReadyState::Open {
            self.set_state(ReadyState::Closing);
        }
        c.ended_by = Some((close, error));
        drop(c);
        self.ctl.cancel(Cancel::Abort);
        self.shutdown_socket();
    }
}

pub(super) fn not_open(api: Api) -> Error {
    Error::with_reason(
        api,
        ErrorKind::NotConnected,
        "SocketTask.readyState is not OPEN",
    )
}

/// Hand late listeners their kept events from a short-lived thread, so
/// they never run inside the `on_*` call that registered them.
fn flush_later(s: &Arc<Shared>) {
    let shared = s.clone();
    let spawned = thread::Builder::new()
        .name(format!("wxnet-late-{}", s.id))
        .stack_size(super::connect::SOCKET_STACK)
        .spawn(move || {
            let _one = lock(&shared.dispatch);
            shared.events.flush();
        });
    if let Err(e) = spawned {
        // The next event the reader delivers hands them over instead.
        log::warn!("wxnet: no thread for late socket listeners: {e}");
    }
}
