//! `wx.connectSocket`, `SocketTask` and the global socket functions.

use std::collections::VecDeque;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use rustls::StreamOwned;
use tungstenite::error::ProtocolError;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use super::stream::{GatedTcp, WsStream};
use crate::call::{CallCtl, CallSocket, Callbacks, Cancel, contain};
use crate::client::{Client, Engine};
use crate::error::{Api, Error, ErrorKind, Result};
use crate::header::Header;
use crate::http::build_headers;
use crate::policy::ApiKind;
use crate::profile::Profile;
use crate::sync::lock;
use crate::transport::{self, is_timeout};

const API: Api = Api::ConnectSocket;

/// At most this many sockets at once, as in the mini-program runtime.
pub const MAX_SOCKETS: usize = 5;

/// How long a close handshake may take before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the reader wakes while idle, to enforce the close timeout.
const TICK: Duration = Duration::from_millis(250);

/// A blocked send gives up after this long (the peer stopped reading).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages kept for `recv` (or a late `on_message`) before the reader
/// stops reading and lets TCP flow control slow the server down.
const INBOX_LIMIT: usize = 1024;

/// The reader thread runs user callbacks and, in debug builds, needs room
/// for the TLS handshake.
const SOCKET_STACK: usize = 256 * 1024;

type Ws = WebSocket<WsStream>;

/// A WebSocket message, sent or received.
///
/// ```
/// let m = wxnet::SocketMessage::from("hi");
/// assert_eq!(m, wxnet::SocketMessage::Text("hi".into()));
/// assert_eq!(wxnet::SocketMessage::from(vec![1u8]).len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketMessage {
    /// A text message.
    Text(String),
    /// A binary message (`ArrayBuffer`).
    Binary(Vec<u8>),
}

impl SocketMessage {
    /// Length of the payload in bytes.
    ///
    /// ```
    /// assert_eq!(wxnet::SocketMessage::Text("é".into()).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            SocketMessage::Text(s) => s.len(),
            SocketMessage::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    ///
    /// ```
    /// assert!(wxnet::SocketMessage::Binary(vec![]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&str> for SocketMessage {
    fn from(s: &str) -> Self {
        SocketMessage::Text(s.to_owned())
    }
}

impl From<String> for SocketMessage {
    fn from(s: String) -> Self {
        SocketMessage::Text(s)
    }
}

impl From<Vec<u8>> for SocketMessage {
    fn from(b: Vec<u8>) -> Self {
        SocketMessage::Binary(b)
    }
}

/// The open event: the handshake response headers and connect timings.
///
/// ```
/// let o = wxnet::SocketOpen { header: wxnet::Header::new(), profile: wxnet::Profile::default() };
/// assert!(o.header.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SocketOpen {
    /// Headers of the server's handshake response.
    pub header: Header,
    /// DNS, connect and TLS timings of the connection.
    pub profile: Profile,
}

/// The close event.
///
/// ```
/// let c = wxnet::SocketClose { code: 1000, reason: "bye".into() };
/// assert_eq!(c.code, 1000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketClose {
    /// The close code: the peer's, the one given to `close`, the one the
    /// connection was failed with when the peer broke the protocol (1002;
    /// 1007 for a text message that is not UTF-8; 1009 for a message over
    /// the cap), or 1006 when the connection ended without a close frame.
    pub code: u16,
    /// The close reason.
    pub reason: String,
}

/// `SocketTask.readyState`.
///
/// ```
/// assert_eq!(wxnet::ReadyState::Open as u8, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReadyState {
    /// The connection is being made.
    Connecting = 0,
    /// Messages can be sent.
    Open = 1,
    /// A close handshake is under way.
    Closing = 2,
    /// The connection is over.
    Closed = 3,
}

impl ReadyState {
    fn from_u8(v: u8) -> ReadyState {
        match v {
            0 => ReadyState::Connecting,
            1 => ReadyState::Open,
            2 => ReadyState::Closing,
            _ => ReadyState::Closed,
        }
    }
}

type OpenFn = Box<dyn FnMut(&SocketOpen) + Send>;
type MessageFn = Box<dyn FnMut(&SocketMessage) + Send>;
type ErrorFn = Box<dyn FnMut(&Error) + Send>;
type CloseFn = Box<dyn FnMut(&SocketClose) + Send>;

/// The options of [`Client::connect_socket`].
///
/// ```
/// use std::time::Duration;
/// let o = wxnet::ConnectSocketOptions::new("wss://ws.example.com/chat")
///     .header("x-token", "t")
///     .protocols(["chat.v2", "chat.v1"])
///     .tcp_no_delay(true)
///     .timeout(Duration::from_secs(5));
/// assert_eq!(o.url(), "wss://ws.example.com/chat");
/// ```
pub struct ConnectSocketOptions {
    url: String,
    header: Vec<(String, String)>,
    protocols: Vec<String>,
    tcp_no_delay: bool,
    timeout: Option<Duration>,
    callbacks: Callbacks<()>,
}

impl std::fmt::Debug for ConnectSocketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSocketOptions")
            .field("url", &self.url)
            .field("header", &self.header)
            .field("protocols", &self.protocols)
            .field("tcp_no_delay", &self.tcp_no_delay)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

crate::options::call_setters!(
    ConnectSocketOptions,
    new: "wxnet::ConnectSocketOptions::new(\"wss://ws.example.com/\")",
    network_timeout: "connect_socket"
);

impl ConnectSocketOptions {
    /// Connect to the `wss://` URL `url`.
    ///
    /// ```
    /// assert_eq!(wxnet::ConnectSocketOptions::new("wss://a.com/").url(), "wss://a.com/");
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        ConnectSocketOptions {
            url: url.into(),
            header: Vec::new(),
            protocols: Vec::new(),
            tcp_no_delay: true,
            timeout: None,
            callbacks: Callbacks::default(),
        }
    }

    /// The URL.
    ///
    /// ```
    /// assert_eq!(wxnet::ConnectSocketOptions::new("wss://a.com/x").url(), "wss://a.com/x");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Subprotocols to offer (`Sec-WebSocket-Protocol`); the server must
    /// pick one of them. Defaults to none.
    ///
    /// ```
    /// let o = wxnet::ConnectSocketOptions::new("wss://a.com/").protocols(["chat"]);
    /// assert!(format!("{o:?}").contains("chat"));
    /// ```
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Send small messages at once instead of batching them (Nagle off).
    /// Defaults to `true`: latency matters more than packet count here.
    ///
    /// ```
    /// let o = wxnet::ConnectSocketOptions::new("wss://a.com/").tcp_no_delay(false);
    /// assert!(format!("{o:?}").contains("tcp_no_delay: false"));
    /// ```
    pub fn tcp_no_delay(mut self, on: bool) -> Self {
        self.tcp_no_delay = on;
        self
    }

    /// Called when the socket task was created (the connection itself is
    /// reported by `on_open` / `on_error`).
    ///
    /// ```
    /// let o = wxnet::ConnectSocketOptions::new("wss://a.com/").success(|| println!("created"));
    /// # drop(o);
    /// ```
    pub fn success(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.callbacks.success = Some(Box::new(move |_: &()| f()));
        self
    }
}

/// Listeners and the events that had none yet: an event nobody listens to
/// is kept and given to the first listener of its kind, so a listener
/// registered right after `connect_socket` misses nothing.
#[derive(Default)]
struct Events {
    open: Vec<OpenFn>,
    message: Vec<MessageFn>,
    error: Vec<ErrorFn>,
    close: Vec<CloseFn>,
    opened: Option<SocketOpen>,
    open_delivered: bool,
    inbox: VecDeque<SocketMessage>,
    failed: Option<Error>,
    error_delivered: bool,
    closed: Option<SocketClose>,
    close_delivered: bool,
    /// Threads blocked in `recv`: a batch wakes them only when there are.
    recv_waiters: usize,
    /// The reader waits for room in a full inbox: `recv` wakes it.
    reader_blocked: bool,
}

/// The connection, under the lock that senders and the reader share.
#[derive(Default)]
struct Conn {
    ws: Option<Ws>,
    /// `close` was called before the connection opened.
    close_request: Option<SocketClose>,
    /// The close frame we sent, and when to give up waiting for the echo.
    closing: Option<(SocketClose, Instant)>,
    /// Why the connection is being ended from outside (shutdown, background).
    ended_by: Option<(SocketClose, Option<Error>)>,
}

pub(crate) struct Shared {
    id: u64,
    state: AtomicU8,
    conn: Mutex<Conn>,
    gate: Arc<AtomicBool>,
    /// Shut down to wake the reader (close timeout, shutdown).
    socket: Mutex<Option<Arc<CallSocket>>>,
    ctl: Arc<CallCtl>,
    events: Mutex<Events>,
    changed: Condvar,
    /// Serialises delivery so events reach listeners in order.
    dispatch: Mutex<()>,
    reader: Mutex<Option<ThreadId>>,
    registry: Weak<Registry>,
    finished: AtomicBool,
}

impl Shared {
    fn state(&self) -> ReadyState {
        ReadyState::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, s: ReadyState) {
        self.state.store(s as u8, Ordering::Release);
    }

    fn on_reader_thread(&self) -> bool {
        *lock(&self.reader) == Some(thread::current().id())
    }

    /// Run `f` holding the dispatch lock, unless this is the reader thread
    /// (which holds it while it runs callbacks that may register more).
    fn serialised<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.on_reader_thread() {
            f()
        } else {
            let _g = lock(&self.dispatch);
            f()
        }
    }

    fn shutdown_socket(&self) {
        if let Some(s) = lock(&self.socket).as_ref() {
            let _ = s.stream.shutdown(Shutdown::Both);
        }
    }
}

/// The sockets of one client, in creation order.
pub(crate) struct Registry {
    sockets: Mutex<Vec<Arc<Shared>>>,
    /// Global listeners registered while no socket was open; they attach
    /// to the next socket created.
    pending: Mutex<Events>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
    closed: AtomicBool,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            sockets: Mutex::new(Vec::new()),
            pending: Mutex::new(Events::default()),
            threads: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// The earliest socket not yet closed.
    fn first(&self) -> Option<SocketTask> {
        lock(&self.sockets)
            .first()
            .map(|s| SocketTask { shared: s.clone() })
    }

    fn remove(&self, id: u64) {
        lock(&self.sockets).retain(|s| s.id != id);
    }

    /// End every socket: 1001 for shutdown, and for the background
    /// interrupt also an `interrupted` error.
    pub(crate) fn end_all(&self, why: Cancel) {
        let sockets: Vec<_> = lock(&self.sockets).clone();
        for s in sockets {
            let (reason, error) = match why {
                Cancel::Abort => ("client shut down", None),
                Cancel::Interrupted => {
                    ("interrupted", Some(Error::new(API, ErrorKind::Interrupted)))
                }
            };
            end_from_outside(
                &s,
                SocketClose {
                    code: 1001,
                    reason: reason.into(),
                },
                error,
            );
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

/// Close `s` now with `close` (and first `error`), whatever its state.
fn end_from_outside(s: &Arc<Shared>, close: SocketClose, error: Option<Error>) {
    let mut c = lock(&s.conn);
    if c.ended_by.is_some() || s.finished.load(Ordering::Acquire) {
        return;
    }
    c.ended_by = Some((close.clone(), error));
    if let Some(ws) = c.ws.as_mut() {
        let _ = ws.close(Some(CloseFrame {
            code: CloseCode::from(close.code),
            reason: close.reason.as_str().into(),
        }));
        let _ = ws.flush();
    }
    drop(c);
    s.ctl.cancel(Cancel::Abort);
    s.shutdown_socket();
}

/// A WebSocket connection (`SocketTask`). Cheap to clone; every clone is
/// the same connection.
///
/// Events go to the listeners registered with `on_open`, `on_message`,
/// `on_error` and `on_close`, on the socket's reader thread. An event that
/// arrives before any listener of its kind is kept and given to the first
/// one registered, so nothing is missed between `connect_socket`
/// returning and the listeners being set. Scripts can instead block with
/// [`wait_open`](SocketTask::wait_open) and [`recv`](SocketTask::recv).
///
/// ```no_run
/// use std::time::Duration;
/// let client = wxnet::Client::builder().socket_domains(["wss://ws.example.com"]).build()?;
/// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/echo"));
/// task.wait_open(Duration::from_secs(5))?;
/// task.send("hello".into())?;
/// let reply = task.recv(Duration::from_secs(5))?;
/// assert_eq!(reply, Some(wxnet::SocketMessage::Text("hello".into())));
/// task.close(1000, "bye")?;
/// # Ok::<(), wxnet::Error>(())
/// ```
#[derive(Clone)]
pub struct SocketTask {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SocketTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketTask")
            .field("ready_state", &self.ready_state())
            .finish()
    }
}

fn close_code_ok(code: u16) -> bool {
    code == 1000 || (3000..=4999).contains(&code)
}

impl SocketTask {
    /// The connection state (`readyState`).
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// assert_eq!(task.ready_state(), wxnet::ReadyState::Closed);
    /// ```
    pub fn ready_state(&self) -> ReadyState {
        self.shared.state()
    }

    /// Send a message. Fails with `SocketTask.send:fail
    /// SocketTask.readyState is not OPEN` unless the socket is open; never
    /// waits for the reader thread.
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let e = task.send("hi".into()).unwrap_err();
    /// assert_eq!(e.err_msg(), "SocketTask.send:fail SocketTask.readyState is not OPEN");
    /// ```
    pub fn send(&self, message: SocketMessage) -> Result<()> {
        send_on(&self.shared, message, Api::SocketTaskSend)
    }

    /// Close the connection with `code` (1000, or 3000 to 4999) and a
    /// `reason` of at most 123 UTF-8 bytes; the close event follows when
    /// the server answers (or after 5 s). Closing a socket that is still
    /// connecting abandons the attempt. Closing twice does nothing.
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// assert_eq!(task.close(1001, "").unwrap_err().kind(), wxnet::ErrorKind::InvalidArgument);
    /// assert!(task.close(1000, "bye").is_ok());
    /// ```
    pub fn close(&self, code: u16, reason: &str) -> Result<()> {
        close_on(&self.shared, code, reason, Api::SocketTaskClose)
    }

    /// Listen for the open event.
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// task.on_open(|o| println!("{:?}", o.header)); // never called: the socket never opened
    /// assert_eq!(task.ready_state(), wxnet::ReadyState::Closed);
    /// ```
    pub fn on_open(&self, f: impl FnMut(&SocketOpen) + Send + 'static) {
        add_open(&self.shared, Box::new(f));
    }

    /// Listen for messages.
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// task.on_message(|m| println!("{m:?}"));
    /// assert!(task.recv(std::time::Duration::ZERO).is_err());
    /// ```
    pub fn on_message(&self, f: impl FnMut(&SocketMessage) + Send + 'static) {
        add_message(&self.shared, Box::new(f));
    }

    /// Listen for the error event (a failed connection, a broken one).
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// task.on_error(move |e| tx.send(e.errno()).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 600002); // kept until a listener came
    /// ```
    pub fn on_error(&self, f: impl FnMut(&Error) + Send + 'static) {
        add_error(&self.shared, Box::new(f));
    }

    /// Listen for the close event (exactly one per socket).
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// task.on_close(move |c| tx.send(c.code).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 1006);
    /// ```
    pub fn on_close(&self, f: impl FnMut(&SocketClose) + Send + 'static) {
        add_close(&self.shared, Box::new(f));
    }

    /// Block until the socket is open (`Ok`), or fails or closes first
    /// (`Err`), or `timeout` passes (`Err` with [`ErrorKind::Timeout`]).
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let e = task.wait_open(std::time::Duration::from_secs(1)).unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::DomainNotAllowed);
    /// ```
    pub fn wait_open(&self, timeout: Duration) -> Result<SocketOpen> {
        let end = Instant::now() + timeout;
        let mut ev = lock(&self.shared.events);
        loop {
            if let Some(o) = &ev.opened {
                return Ok(o.clone());
            }
            if let Some(e) = closed_error(&ev, Api::SocketTaskWaitOpen) {
                return Err(e);
            }
            ev = wait_until(&self.shared.changed, ev, end)
                .ok_or_else(|| Error::new(Api::SocketTaskWaitOpen, ErrorKind::Timeout))?;
        }
    }

    /// Take the next message received, waiting up to `timeout`: `Ok(None)`
    /// when none came in time, `Err` once the socket is closed and every
    /// message was taken. Messages go here only while no `on_message`
    /// listener is registered.
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// assert!(task.recv(std::time::Duration::from_millis(10)).is_err());
    /// ```
    pub fn recv(&self, timeout: Duration) -> Result<Option<SocketMessage>> {
        let end = Instant::now() + timeout;
        let mut ev = lock(&self.shared.events);
        loop {
            if let Some(m) = ev.inbox.pop_front() {
                if ev.reader_blocked {
                    self.shared.changed.notify_all();
                }
                return Ok(Some(m));
            }
            if let Some(e) = closed_error(&ev, Api::SocketTaskRecv) {
                return Err(e);
            }
            ev.recv_waiters += 1;
            match wait_until(&self.shared.changed, ev, end) {
                Some(mut g) => {
                    g.recv_waiters -= 1;
                    ev = g;
                }
                None => {
                    lock(&self.shared.events).recv_waiters -= 1;
                    return Ok(None);
                }
            }
        }
    }
}

/// The error for waiting on a socket that is over.
fn closed_error(ev: &Events, api: Api) -> Option<Error> {
    let close = ev.closed.as_ref()?;
    Some(match &ev.failed {
        Some(e) => Error::with_reason(api, e.kind(), e.reason()),
        None => Error::with_reason(
            api,
            ErrorKind::NotConnected,
            &format!("socket closed ({} {})", close.code, close.reason),
        ),
    })
}

/// Wait on `cv` until `end`; `None` when the time is up.
fn wait_until<'a, T>(
    cv: &Condvar,
    g: MutexGuard<'a, T>,
    end: Instant,
) -> Option<MutexGuard<'a, T>> {
    let left = end.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    Some(
        cv.wait_timeout(g, left)
            .unwrap_or_else(|e| e.into_inner())
            .0,
    )
}

fn not_open(api: Api) -> Error {
    Error::with_reason(
        api,
        ErrorKind::NotConnected,
        "SocketTask.readyState is not OPEN",
    )
}

fn send_on(s: &Shared, message: SocketMessage, api: Api) -> Result<()> {
    if s.state() != ReadyState::Open {
        return Err(not_open(api));
    }
    let mut c = lock(&s.conn);
    let Some(ws) = c.ws.as_mut() else {
        return Err(not_open(api));
    };
    let m = match message {
        SocketMessage::Text(t) => Message::Text(t.into()),
        SocketMessage::Binary(b) => Message::Binary(b.into()),
    };
    ws.send(m).map_err(|e| {
        let kind = match &e {
            tungstenite::Error::Io(io) if is_timeout(io) => ErrorKind::Timeout,
            tungstenite::Error::AlreadyClosed | tungstenite::Error::ConnectionClosed => {
                return not_open(api);
            }
            _ => ErrorKind::Network,
        };
        Error::new(api, kind).source_from(e)
    })
}

fn close_on(s: &Arc<Shared>, code: u16, reason: &str, api: Api) -> Result<()> {
    if !close_code_ok(code) {
        return Err(Error::invalid_argument(
            api,
            &format!("close code {code} is not 1000 or 3000-4999"),
        ));
    }
    if reason.len() > 123 {
        return Err(Error::invalid_argument(
            api,
            &format!(
                "close reason is {} bytes, at most 123 are allowed",
                reason.len()
            ),
        ));
    }
    let request = SocketClose {
        code,
        reason: reason.to_owned(),
    };
    let mut c = lock(&s.conn);
    match s.state() {
        ReadyState::Connecting => {
            c.close_request = Some(request);
            drop(c);
            s.ctl.cancel(Cancel::Abort);
        }
        ReadyState::Open => {
            if let Some(ws) = c.ws.as_mut() {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                };
                let _ = ws.close(Some(frame));
                let _ = ws.flush();
            }
            c.closing = Some((request, Instant::now() + CLOSE_TIMEOUT));
            s.set_state(ReadyState::Closing);
        }
        ReadyState::Closing | ReadyState::Closed => {}
    }
    Ok(())
}

fn add_open(s: &Shared, mut f: OpenFn) {
    s.serialised(|| {
        let mut ev = lock(&s.events);
        if let (Some(o), false) = (ev.opened.clone(), ev.open_delivered) {
            ev.open_delivered = true;
            drop(ev);
            contain(|| f(&o));
            ev = lock(&s.events);
        }
        ev.open.push(f);
    });
}

fn add_message(s: &Shared, mut f: MessageFn) {
    s.serialised(|| {
        let mut ev = lock(&s.events);
        if ev.message.is_empty() {
            let backlog: Vec<_> = ev.inbox.drain(..).collect();
            s.changed.notify_all();
            drop(ev);
            for m in &backlog {
                contain(|| f(m));
            }
            ev = lock(&s.events);
        }
        ev.message.push(f);
    });
}

fn add_error(s: &Shared, mut f: ErrorFn) {
    s.serialised(|| {
        let mut ev = lock(&s.events);
        if let (Some(e), false) = (ev.failed.as_ref(), ev.error_delivered) {
            let e = e.clone();
            ev.error_delivered = true;
            drop(ev);
            contain(|| f(&e));
            ev = lock(&s.events);
        }
        ev.error.push(f);
    });
}

fn add_close(s: &Shared, mut f: CloseFn) {
    s.serialised(|| {
        let mut ev = lock(&s.events);
        if let (Some(c), false) = (ev.closed.clone(), ev.close_delivered) {
            ev.close_delivered = true;
            drop(ev);
            contain(|| f(&c));
            ev = lock(&s.events);
        }
        ev.close.push(f);
    });
}

/// What the reader thread hands to listeners.
enum Event {
    Open(Box<SocketOpen>),
    /// Everything one drain of the connection produced, in order.
    Messages(Vec<SocketMessage>),
    Error(Error),
    Close(SocketClose),
}

/// Deliver one event (reader thread). Delivery holds the dispatch lock,
/// so a listener registered from another thread takes its place in line.
fn deliver(s: &Shared, event: Event) {
    macro_rules! call_all {
        ($field:ident, $value:expr) => {{
            let mut ev = lock(&s.events);
            let mut fs = std::mem::take(&mut ev.$field);
            drop(ev);
            for f in fs.iter_mut() {
                contain(|| f($value));
            }
            let mut ev = lock(&s.events);
            fs.append(&mut ev.$field);
            ev.$field = fs;
        }};
    }
    if let Event::Messages(batch) = &event {
        // Backpressure: while nobody takes messages and the inbox is full,
        // stop reading (TCP slows the server down). Waits without the
        // dispatch lock so a listener can still be registered.
        let mut ev = lock(&s.events);
        while ev.message.is_empty()
            && ev.inbox.len() + batch.len() > INBOX_LIMIT.max(batch.len())
            && lock(&s.conn).ended_by.is_none()
        {
            ev.reader_blocked = true;
            ev = s
                .changed
                .wait_timeout(ev, TICK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        ev.reader_blocked = false;
    }
    let _dispatch = lock(&s.dispatch);
    match event {
        Event::Open(o) => {
            let mut ev = lock(&s.events);
            ev.opened = Some((*o).clone());
            ev.open_delivered = !ev.open.is_empty();
            s.changed.notify_all();
            drop(ev);
            call_all!(open, &o);
        }
        Event::Messages(batch) => {
            let mut ev = lock(&s.events);
            if ev.message.is_empty() {
                // One lock for the whole batch, and a wake-up only when a
                // thread waits in `recv`.
                ev.inbox.extend(batch);
                if ev.recv_waiters > 0 {
                    s.changed.notify_all();
                }
                return;
            }
            drop(ev);
            for m in &batch {
                call_all!(message, m);
            }
        }
        Event::Error(e) => {
            let mut ev = lock(&s.events);
            ev.error_delivered = !ev.error.is_empty();
            ev.failed = Some(e.clone());
            s.changed.notify_all();
            drop(ev);
            call_all!(error, &e);
        }
        Event::Close(c) => {
            let mut ev = lock(&s.events);
            ev.closed = Some(c.clone());
            ev.close_delivered = !ev.close.is_empty();
            s.changed.notify_all();
            drop(ev);
            call_all!(close, &c);
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
    /// concurrent count`) or a shut-down client fail at once: `fail` and
    /// `complete` run on this thread and the returned task is closed.
    ///
    /// ```no_run
    /// let client = wxnet::Client::builder().socket_domains(["wss://ws.example.com"]).build()?;
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/chat").protocols(["chat"]));
    /// task.on_open(|o| println!("open, protocol {:?}", o.header.get("sec-websocket-protocol")));
    /// task.on_message(|m| println!("{m:?}"));
    /// task.on_close(|c| println!("closed {} {}", c.code, c.reason));
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
        let shared = Arc::new(Shared {
            id: ctl.id,
            state: AtomicU8::new(ReadyState::Connecting as u8),
            conn: Mutex::new(Conn::default()),
            gate: Arc::new(AtomicBool::new(false)),
            socket: Mutex::new(None),
            ctl,
            events: Mutex::new(Events::default()),
            changed: Condvar::new(),
            dispatch: Mutex::new(()),
            reader: Mutex::new(None),
            registry: Arc::downgrade(&registry),
            finished: AtomicBool::new(false),
        });
        let task = SocketTask {
            shared: shared.clone(),
        };
        let refused = |callbacks: Callbacks<()>, e: Error| {
            shared.set_state(ReadyState::Closed);
            shared.finished.store(true, Ordering::Release);
            {
                let mut ev = lock(&shared.events);
                // Kept for late listeners, so every socket ends with a
                // close event, even one that never connected.
                ev.failed = Some(e.clone());
                ev.closed = Some(SocketClose {
                    code: 1006,
                    reason: e.reason().to_owned(),
                });
            }
            callbacks_fail(callbacks, e);
            task.clone()
        };
        let prepared = (|| {
            if self.is_shut_down() || registry.closed.load(Ordering::Acquire) {
                return Err(Error::new(API, ErrorKind::Abort));
            }
            if self.is_interrupted() {
                return Err(Error::new(API, ErrorKind::Interrupted));
            }
            let target = engine.policy.check(ApiKind::ConnectSocket, &options.url)?;
            let headers = build_headers(API, &engine, &options.header, None)?;
            Ok((target, headers))
        })();
        let (target, headers) = match prepared {
            Ok(v) => v,
            Err(e) => return refused(callbacks, e),
        };
        {
            let mut sockets = lock(&registry.sockets);
            if sockets.len() >= MAX_SOCKETS {
                drop(sockets);
                return refused(callbacks, Error::new(API, ErrorKind::TooManySockets));
            }
            sockets.push(shared.clone());
        }
        // Global listeners set while no socket was open belong to this one.
        {
            let pending = std::mem::take(&mut *lock(&registry.pending));
            let mut ev = lock(&shared.events);
            ev.open = pending.open;
            ev.message = pending.message;
            ev.error = pending.error;
            ev.close = pending.close;
        }
        let run = {
            let shared = shared.clone();
            let engine = engine.clone();
            move || {
                // Known before the first event, so callbacks that register
                // listeners on this thread never wait for themselves.
                *lock(&shared.reader) = Some(thread::current().id());
                run_socket(&shared, &engine, target, headers, options)
            }
        };
        match thread::Builder::new()
            .name(format!("wxnet-socket-{}", shared.id))
            .stack_size(SOCKET_STACK)
            .spawn(run)
        {
            Ok(t) => {
                let mut threads = lock(&registry.threads);
                // Dropping the handle of a finished thread releases it.
                threads.retain(|t| !t.is_finished());
                threads.push(t);
            }
            Err(e) => {
                registry.remove(shared.id);
                return refused(
                    callbacks,
                    Error::new(API, ErrorKind::Network).source_from(e),
                );
            }
        }
        let cb = callbacks;
        if let Some(f) = cb.success {
            contain(|| f(&()));
        }
        if let Some(f) = cb.complete {
            contain(f);
        }
        task
    }

    /// `wx.onSocketOpen`: listen for the open event of the earliest socket
    /// not yet closed (or of the next socket, when none is).
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// client.on_socket_open(|o| println!("open {:?}", o.header)); // kept for the next socket
    /// assert!(client.send_socket_message("x".into()).is_err());
    /// ```
    pub fn on_socket_open(&self, f: impl FnMut(&SocketOpen) + Send + 'static) {
        match self.engine().sockets.first() {
            Some(t) => t.on_open(f),
            None => lock(&self.engine().sockets.pending).open.push(Box::new(f)),
        }
    }

    /// `wx.onSocketMessage`, for the earliest socket not yet closed (or
    /// the next one).
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// client.on_socket_message(|m| println!("{m:?}"));
    /// assert!(client.close_socket(1000, "").is_err());
    /// ```
    pub fn on_socket_message(&self, f: impl FnMut(&SocketMessage) + Send + 'static) {
        match self.engine().sockets.first() {
            Some(t) => t.on_message(f),
            None => lock(&self.engine().sockets.pending)
                .message
                .push(Box::new(f)),
        }
    }

    /// `wx.onSocketError`, for the earliest socket not yet closed (or the
    /// next one).
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// client.on_socket_error(|e| eprintln!("{e}"));
    /// assert!(client.close_socket(1000, "").is_err());
    /// ```
    pub fn on_socket_error(&self, f: impl FnMut(&Error) + Send + 'static) {
        match self.engine().sockets.first() {
            Some(t) => t.on_error(f),
            None => lock(&self.engine().sockets.pending).error.push(Box::new(f)),
        }
    }

    /// `wx.onSocketClose`, for the earliest socket not yet closed (or the
    /// next one).
    ///
    /// ```
    /// let client = wxnet::Client::builder().build().unwrap();
    /// client.on_socket_close(|c| println!("{}", c.code));
    /// assert!(client.close_socket(1000, "").is_err());
    /// ```
    pub fn on_socket_close(&self, f: impl FnMut(&SocketClose) + Send + 'static) {
        match self.engine().sockets.first() {
            Some(t) => t.on_close(f),
            None => lock(&self.engine().sockets.pending).close.push(Box::new(f)),
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
        match self.engine().sockets.first() {
            Some(t) if t.ready_state() == ReadyState::Open => send_on(&t.shared, message, api),
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
        match self.engine().sockets.first() {
            Some(t) => close_on(&t.shared, code, reason, api),
            None => Err(Error::new(api, ErrorKind::NotConnected)),
        }
    }
}

fn callbacks_fail(cb: Callbacks<()>, e: Error) {
    if let Some(f) = cb.fail {
        contain(|| f(&e));
    }
    if let Some(f) = cb.complete {
        contain(f);
    }
}

/// The socket's thread: connect, then read until the connection ends;
/// emits exactly one close event (after at most one error event) and
/// frees the slot.
fn run_socket(
    s: &Arc<Shared>,
    engine: &Engine,
    target: crate::policy::Target,
    headers: Vec<(String, String)>,
    options: ConnectSocketOptions,
) {
    let outcome = match connect(s, engine, &target, &headers, &options) {
        Ok((ws, header)) => {
            let mut c = lock(&s.conn);
            if let Some(req) = c.close_request.take() {
                drop(c);
                let mut ws = ws;
                let _ = ws.close(Some(CloseFrame {
                    code: CloseCode::from(req.code),
                    reason: req.reason.as_str().into(),
                }));
                let _ = ws.flush();
                Err((None, req))
            } else if let Some((close, error)) = c.ended_by.take() {
                drop(c);
                Err((error, close))
            } else {
                c.ws = Some(ws);
                s.set_state(ReadyState::Open);
                drop(c);
                let profile = Profile::from_ctl(&s.ctl, 0);
                deliver(s, Event::Open(Box::new(SocketOpen { header, profile })));
                Ok(())
            }
        }
        Err(e) => {
            let c = lock(&s.conn);
            if let Some(req) = c.close_request.clone() {
                Err((None, req))
            } else if let Some((close, error)) = c.ended_by.clone() {
                Err((error, close))
            } else {
                Err((
                    Some(e),
                    SocketClose {
                        code: 1006,
                        reason: "abnormal closure".into(),
                    },
                ))
            }
        }
    };
    let (error, close) = match outcome {
        Ok(()) => read_loop(s),
        Err(v) => v,
    };
    s.set_state(ReadyState::Closed);
    s.shutdown_socket();
    lock(&s.conn).ws = None;
    if let Some(e) = error {
        deliver(s, Event::Error(e));
    }
    s.finished.store(true, Ordering::Release);
    if let Some(r) = s.registry.upgrade() {
        r.remove(s.id);
    }
    deliver(s, Event::Close(close));
}

/// TCP + TLS + WebSocket handshake within the one deadline.
fn connect(
    s: &Shared,
    engine: &Engine,
    target: &crate::policy::Target,
    headers: &[(String, String)],
    options: &ConnectSocketOptions,
) -> Result<(Ws, Header)> {
    let ctl = &*s.ctl;
    let _current = crate::call::CurrentGuard::set(s.ctl.clone());
    let map_err = |e: ureq::Error| crate::http::map_error(ctl, e);
    let deadline = ctl.deadline;
    let addr = transport::address_for(&engine.resolve, &target.host, target.port);
    let tcp = transport::connect_tcp(Some(ctl), &engine.lookup, &target.host, addr, deadline)
        .map_err(map_err)?;
    let _ = tcp.set_nodelay(options.tcp_no_delay);
    let sock = Arc::new(CallSocket::new(tcp));
    ctl.bind_socket(sock.clone());
    *lock(&s.socket) = Some(sock.clone());
    if let Some(kind) = ctl.cancelled() {
        return Err(ctl.error(kind));
    }
    let tls = if target.url.scheme() == "wss" {
        Some(
            transport::handshake(Some(ctl), &engine.tls, &target.host, &sock.stream, deadline)
                .map_err(map_err)?,
        )
    } else {
        None
    };
    let io_err = |e: std::io::Error| Error::new(API, ErrorKind::Network).source_from(e);
    let gated = GatedTcp {
        tcp: sock.stream.try_clone().map_err(io_err)?,
        gate: s.gate.clone(),
        gated: false,
    };
    // Plain ws:// is only reachable with skip_domain_check.
    let stream = match tls {
        Some(tls) => WsStream::Tls(Box::new(StreamOwned::new(tls, gated))),
        None => WsStream::Plain(gated),
    };
    let uri: tungstenite::http::Uri = target
        .url
        .as_str()
        .parse()
        .map_err(|_| Error::invalid_url(API, target.url.as_str()))?;
    let mut request = tungstenite::ClientRequestBuilder::new(uri);
    let mut has_ua = false;
    for (k, v) in headers {
        has_ua |= k.eq_ignore_ascii_case("user-agent");
        request = request.with_header(k.clone(), v.clone());
    }
    if !has_ua {
        request = request.with_header("user-agent", engine.user_agent.clone());
    }
    for p in &options.protocols {
        request = request.with_sub_protocol(p.clone());
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(engine.max_message_size.max(64 * 1024) * 2)
        .max_message_size(Some(engine.max_message_size))
        .max_frame_size(Some(engine.max_message_size));
    let left = || {
        let l = ctl.remaining();
        if l.is_zero() { None } else { Some(l) }
    };
    let set_timeouts = |t: &TcpStream| {
        let l = left();
        let _ = t.set_read_timeout(l);
        let _ = t.set_write_timeout(l);
        l.is_some()
    };
    if !set_timeouts(&sock.stream) {
        return Err(ctl.error(ErrorKind::Timeout));
    }
    let mut hs = tungstenite::client::client_with_config(request, stream, Some(config));
    let (mut ws, response) = loop {
        match hs {
            Ok(v) => break v,
            Err(HandshakeError::Interrupted(mid)) => {
                if let Some(kind) = ctl.cancelled() {
                    return Err(ctl.error(kind));
                }
                if !set_timeouts(&sock.stream) {
                    return Err(ctl.error(ErrorKind::Timeout));
                }
                hs = mid.handshake();
            }
            Err(HandshakeError::Failure(e)) => {
                if let Some(kind) = ctl.cancelled() {
                    return Err(ctl.error(kind));
                }
                return Err(match e {
                    tungstenite::Error::Http(r) => Error::with_reason(
                        API,
                        ErrorKind::Network,
                        &format!("websocket handshake failed: status {}", r.status().as_u16()),
                    ),
                    tungstenite::Error::Io(io) if is_timeout(&io) => {
                        ctl.error(ErrorKind::Timeout).source_from(io)
                    }
                    other => {
                        Error::with_reason(API, ErrorKind::Network, "websocket handshake failed")
                            .source_from(other)
                    }
                });
            }
        }
    };
    let (header, _) = Header::from_http(response.headers());
    // From now on the reader waits in peek(); reads only pass the gate.
    ws.get_mut().gated().gated = true;
    let _ = sock.stream.set_read_timeout(Some(TICK));
    let _ = sock.stream.set_write_timeout(Some(SEND_TIMEOUT));
    Ok((ws, header))
}

/// Read until the connection ends; returns the error (if any) and the
/// close event.
fn read_loop(s: &Arc<Shared>) -> (Option<Error>, SocketClose) {
    let Some(peek) = lock(&s.socket)
        .as_ref()
        .and_then(|c| c.stream.try_clone().ok())
    else {
        return (
            Some(Error::new(API, ErrorKind::Network)),
            SocketClose {
                code: 1006,
                reason: "abnormal closure".into(),
            },
        );
    };
    let abnormal = |e: Error| {
        (
            Some(e),
            SocketClose {
                code: 1006,
                reason: "abnormal closure".into(),
            },
        )
    };
    let mut eof_spins = 0;
    // The handshake may have read frames that followed the server's
    // response: drain those first, without reading the socket.
    let mut buffered_only = true;
    loop {
        let mut probe = [0u8; 1];
        let peeked = if buffered_only {
            Ok(1)
        } else {
            peek.peek(&mut probe)
        };
        let eof = match peeked {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if is_timeout(&e) => {
                let mut c = lock(&s.conn);
                if let Some((close, _)) = c.ended_by.clone() {
                    let error = c.ended_by.take().and_then(|(_, e)| e);
                    return (error, close);
                }
                if let Some((close, at)) = c.closing.clone() {
                    if Instant::now() >= at {
                        c.closing = None;
                        drop(c);
                        s.shutdown_socket();
                        return (None, close);
                    }
                }
                continue;
            }
            Err(e) => {
                let c = lock(&s.conn);
                if let Some((close, error)) = c.ended_by.clone() {
                    return (error, close);
                }
                if let Some((close, _)) = c.closing.clone() {
                    return (None, close);
                }
                return abnormal(
                    Error::with_reason(API, ErrorKind::Network, "connection reset").source_from(e),
                );
            }
        };
        let mut received = Vec::new();
        let mut end: Option<(Option<Error>, SocketClose)> = None;
        let mut progressed = false;
        {
            let mut c = lock(&s.conn);
            let closing = c.closing.clone();
            let ended_by = c.ended_by.clone();
            let Some(ws) = c.ws.as_mut() else {
                return (
                    None,
                    SocketClose {
                        code: 1006,
                        reason: "abnormal closure".into(),
                    },
                );
            };
            s.gate.store(!buffered_only, Ordering::Release);
            buffered_only = false;
            loop {
                match ws.read() {
                    Ok(Message::Text(t)) => {
                        progressed = true;
                        received.push(SocketMessage::Text(t.as_str().to_owned()))
                    }
                    Ok(Message::Binary(b)) => {
                        progressed = true;
                        received.push(SocketMessage::Binary(b.to_vec()))
                    }
                    Ok(Message::Close(frame)) => {
                        progressed = true;
                        let peer = match frame {
                            Some(f) => SocketClose {
                                code: u16::from(f.code),
                                reason: f.reason.as_str().to_owned(),
                            },
                            None => SocketClose {
                                code: 1005,
                                reason: String::new(),
                            },
                        };
                        // Our own reason to close wins over the peer's echo.
                        end = Some(match (&ended_by, &closing) {
                            (Some((close, err)), _) => (err.clone(), close.clone()),
                            (None, Some((ours, _))) => (None, ours.clone()),
                            (None, None) => (None, peer),
                        });
                        s.set_state(ReadyState::Closing);
                    }
                    Ok(_) => progressed = true,
                    Err(tungstenite::Error::Io(e))
                        if e.kind() == std::io::ErrorKind::WouldBlock =>
                    {
                        break;
                    }
                    Err(
                        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                    ) => {
                        if end.is_none() {
                            end = Some(match (&ended_by, &closing) {
                                (Some((close, err)), _) => (err.clone(), close.clone()),
                                (None, Some((close, _))) => (None, close.clone()),
                                _ => (
                                    None,
                                    SocketClose {
                                        code: 1005,
                                        reason: String::new(),
                                    },
                                ),
                            });
                        }
                        break;
                    }
                    Err(e) => {
                        if let Some((close, err)) = &ended_by {
                            end = Some((err.clone(), close.clone()));
                        } else if end.is_some() || closing.is_some() {
                            // The peer dropped TCP after the close handshake
                            // (often without a TLS close_notify): a clean end.
                            if end.is_none() {
                                end = closing.as_ref().map(|(c, _)| (None, c.clone()));
                            }
                        } else {
                            // RFC 6455 §7.4.1; a connection lost without a
                            // close frame is 1006 (§7.1.5), whatever the
                            // transport said (a clean TLS end included).
                            let (code, reason) = match &e {
                                tungstenite::Error::Capacity(_) => (1009, "message too big"),
                                tungstenite::Error::Utf8(_) => (1007, "invalid payload data"),
                                tungstenite::Error::Protocol(
                                    ProtocolError::ResetWithoutClosingHandshake,
                                ) => (1006, "abnormal closure"),
                                tungstenite::Error::Protocol(_) => (1002, "protocol error"),
                                _ => (1006, "abnormal closure"),
                            };
                            if code != 1006 {
                                let _ = ws.close(Some(CloseFrame {
                                    code: CloseCode::from(code),
                                    reason: reason.into(),
                                }));
                                let _ = ws.flush();
                            }
                            let kind_reason = match code {
                                1009 => "message too big",
                                1007 => "invalid payload data",
                                1002 => "protocol error",
                                _ => "connection closed abnormally",
                            };
                            end = Some((
                                Some(
                                    Error::with_reason(API, ErrorKind::Network, kind_reason)
                                        .source_from(e),
                                ),
                                SocketClose {
                                    code,
                                    reason: reason.into(),
                                },
                            ));
                        }
                        break;
                    }
                }
            }
            s.gate.store(false, Ordering::Release);
        }
        if !received.is_empty() {
            deliver(s, Event::Messages(received));
        }
        if let Some(end) = end {
            return end;
        }
        if eof && !progressed {
            // The peer closed and nothing more will come.
            eof_spins += 1;
            if eof_spins >= 2 {
                let c = lock(&s.conn);
                if let Some((close, _)) = c.closing.clone() {
                    return (None, close);
                }
                return abnormal(Error::with_reason(
                    API,
                    ErrorKind::Network,
                    "connection closed abnormally",
                ));
            }
        } else {
            eof_spins = 0;
        }
    }
}
