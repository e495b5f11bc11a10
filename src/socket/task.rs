//! `SocketTask`: what a caller does with one socket.

use std::sync::{Arc, Condvar, MutexGuard};
use std::time::{Duration, Instant};

use super::event::{ReadyState, SocketClose, SocketMessage, SocketOpen};
use super::shared::{Shared, Status};
use crate::error::{Api, Error, ErrorKind, Result};
use crate::listener::ListenerId;
use crate::sync::{lock, wait_timeout};

/// A WebSocket connection (`SocketTask`). Cheap to clone; every clone is
/// the same connection.
///
/// Events go to the listeners registered with `on_open`, `on_message`,
/// `on_error` and `on_close`, on the socket's reader thread, in order.
/// Nothing is missed between `connect_socket` returning and the listeners
/// being set: the open, error and close events are kept and given once to
/// every listener registered after them, and messages that arrived while
/// no `on_message` listener was registered are kept for the first one.
/// Kept events are delivered from a library thread, never inside the
/// `on_*` call. Kept messages are bounded at about 1 MiB: past that the
/// reader stops reading (TCP slows the server down) until `recv` or a
/// listener takes them. Once `close` was called (or the client shut
/// down), messages that find the kept ones full are dropped, so that the
/// close handshake completes.
/// Scripts can instead block with
/// [`wait_open`](SocketTask::wait_open) and [`recv`](SocketTask::recv).
///
/// Messages that arrived before a protocol error or the server's close
/// frame are delivered first, in order. After a protocol error the close
/// frame goes out only once they are delivered, so replies sent while
/// handling them still go out; after the server's close frame the socket
/// is already `Closing` while they are delivered, and no reply may follow.
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

impl From<Arc<Shared>> for SocketTask {
    fn from(shared: Arc<Shared>) -> SocketTask {
        SocketTask { shared }
    }
}

impl std::fmt::Debug for SocketTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketTask")
            .field("ready_state", &self.ready_state())
            .finish()
    }
}

impl SocketTask {
    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

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
    /// SocketTask.readyState is not OPEN` unless the socket is open, so
    /// also from the moment a close started (ours or the server's, when
    /// [`ready_state`](SocketTask::ready_state) turns `Closing`); never
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
        self.shared.send(message, Api::SocketTaskSend)
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
        self.shared.close(code, reason, Api::SocketTaskClose)
    }

    /// Listen for the open event; the id is for
    /// [`off_open`](SocketTask::off_open).
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let a = task.on_open(|o| println!("{:?}", o.header)); // never called: never opened
    /// assert_ne!(a, task.on_open(|_| {}));
    /// assert_eq!(task.ready_state(), wxnet::ReadyState::Closed);
    /// ```
    pub fn on_open(&self, f: impl FnMut(&SocketOpen) + Send + 'static) -> ListenerId {
        self.shared.listen(|e| &e.open, Box::new(f))
    }

    /// Remove the open listener `id`, or every one with `None`; whether
    /// any was removed. A removed listener is dropped at once (or right
    /// after the call it is in).
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let id = task.on_open(move |_| tx.send(()).unwrap());
    /// assert!(task.off_open(Some(id)));
    /// assert!(rx.recv().is_err()); // the listener, and its sender, are gone
    /// assert!(!task.off_open(Some(id)));
    /// ```
    pub fn off_open(&self, id: Option<ListenerId>) -> bool {
        Shared::unlisten(&self.shared.events.open, id)
    }

    /// Listen for messages; the id is for
    /// [`off_message`](SocketTask::off_message).
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let a = task.on_message(|m| println!("{m:?}"));
    /// assert_ne!(a, task.on_message(|_| {}));
    /// assert!(task.recv(std::time::Duration::ZERO).is_err());
    /// ```
    pub fn on_message(&self, f: impl FnMut(&SocketMessage) + Send + 'static) -> ListenerId {
        self.shared.listen(|e| &e.message, Box::new(f))
    }

    /// Remove the message listener `id`, or every one with `None`; whether
    /// any was removed. Without message listeners, messages are kept again
    /// for [`recv`](SocketTask::recv) and the next listener.
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let tx2 = tx.clone();
    /// task.on_message(move |_| tx.send(()).unwrap());
    /// task.on_message(move |_| tx2.send(()).unwrap());
    /// assert!(task.off_message(None));
    /// assert!(rx.recv().is_err()); // both listeners are gone
    /// assert!(!task.off_message(None));
    /// ```
    pub fn off_message(&self, id: Option<ListenerId>) -> bool {
        let removed = Shared::unlisten(&self.shared.events.message, id);
        self.shared.changed.notify_all();
        removed
    }

    /// Listen for the error event (a failed connection, a broken one); the
    /// id is for [`off_error`](SocketTask::off_error).
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let tx2 = tx.clone();
    /// task.on_error(move |e| tx.send(e.errno()).unwrap());
    /// task.on_error(move |e| tx2.send(e.errno()).unwrap());
    /// // Kept: every listener registered later gets it once.
    /// assert_eq!(rx.recv().unwrap(), 600002);
    /// assert_eq!(rx.recv().unwrap(), 600002);
    /// ```
    pub fn on_error(&self, f: impl FnMut(&Error) + Send + 'static) -> ListenerId {
        self.shared.listen(|e| &e.error, Box::new(f))
    }

    /// Remove the error listener `id`, or every one with `None`; whether
    /// any was removed.
    ///
    /// ```
    /// // A server that never answers the handshake, then goes away.
    /// let hole = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let url = format!("ws://{}/", hole.local_addr()?);
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new(url));
    /// let (gone_tx, gone_rx) = std::sync::mpsc::channel::<()>();
    /// let id = task.on_error(move |_| gone_tx.send(()).unwrap());
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// task.on_error(move |e| tx.send(e.err_msg().to_owned()).unwrap());
    /// assert!(task.off_error(Some(id)));
    /// drop(hole);
    /// assert!(rx.recv()?.starts_with("connectSocket:fail"));
    /// assert!(gone_rx.recv().is_err()); // never called, and dropped
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn off_error(&self, id: Option<ListenerId>) -> bool {
        Shared::unlisten(&self.shared.events.error, id)
    }

    /// Listen for the close event (exactly one per socket); the id is for
    /// [`off_close`](SocketTask::off_close).
    ///
    /// ```
    /// // A URL outside the socket domain list gives a task that is already closed.
    /// let client = wxnet::Client::builder().build().unwrap();
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// task.on_close(move |c| tx.send(c.code).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 1006);
    /// ```
    pub fn on_close(&self, f: impl FnMut(&SocketClose) + Send + 'static) -> ListenerId {
        self.shared.listen(|e| &e.close, Box::new(f))
    }

    /// Remove the close listener `id`, or every one with `None`; whether
    /// any was removed.
    ///
    /// ```
    /// // A server that never answers the handshake: the socket stays connecting.
    /// let hole = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = wxnet::Client::builder().skip_domain_check(true).build()?;
    /// let url = format!("ws://{}/", hole.local_addr()?);
    /// let task = client.connect_socket(wxnet::ConnectSocketOptions::new(url));
    /// let (gone_tx, gone_rx) = std::sync::mpsc::channel::<()>();
    /// let id = task.on_close(move |_| gone_tx.send(()).unwrap());
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// task.on_close(move |c| tx.send(c.code).unwrap());
    /// assert!(task.off_close(Some(id)));
    /// task.close(3000, "never mind")?;
    /// assert_eq!(rx.recv()?, 3000);
    /// assert!(gone_rx.recv().is_err()); // never called, and dropped
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn off_close(&self, id: Option<ListenerId>) -> bool {
        Shared::unlisten(&self.shared.events.close, id)
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
        let mut st = lock(&self.shared.status);
        loop {
            if let Some(o) = &st.opened {
                return Ok(o.clone());
            }
            if let Some(e) = closed_error(&st, Api::SocketTaskWaitOpen) {
                return Err(e);
            }
            st = wait_until(&self.shared.changed, st, end)
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
        let mut st = lock(&self.shared.status);
        loop {
            // Taken under the status lock: the reader announces kept
            // messages under it, so none slips past this check.
            if let Some(m) = self.shared.events.message.pop_kept() {
                if st.reader_blocked {
                    self.shared.changed.notify_all();
                }
                return Ok(Some(m));
            }
            if let Some(e) = closed_error(&st, Api::SocketTaskRecv) {
                return Err(e);
            }
            st.recv_waiters += 1;
            match wait_until(&self.shared.changed, st, end) {
                Some(mut g) => {
                    g.recv_waiters -= 1;
                    st = g;
                }
                None => {
                    lock(&self.shared.status).recv_waiters -= 1;
                    return Ok(None);
                }
            }
        }
    }
}

/// The error for waiting on a socket that is over.
fn closed_error(st: &Status, api: Api) -> Option<Error> {
    let close = st.closed.as_ref()?;
    Some(match &st.failed {
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
    Some(wait_timeout(cv, g, left))
}
