//! What a socket sends and reports: messages, the open and close events,
//! and the ready state.

use crate::header::Header;
use crate::profile::Profile;

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
/// New fields may come; `Default` gives an empty one for tests.
///
/// ```
/// let o = wxnet::SocketOpen::default();
/// assert!(o.header.is_empty());
/// assert_eq!(o.profile, wxnet::Profile::default());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SocketOpen {
    /// Headers of the server's handshake response.
    pub header: Header,
    /// DNS, connect and TLS timings of the connection.
    pub profile: Profile,
}

/// The close event. New fields may come: build one with
/// [`SocketClose::new`].
///
/// ```
/// let c = wxnet::SocketClose::new(1000, "bye");
/// assert_eq!((c.code, c.reason.as_str()), (1000, "bye"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketClose {
    /// The close code: the peer's, the one given to `close`, the one the
    /// connection was failed with when the peer broke the protocol (1002;
    /// 1007 for a text message that is not UTF-8; 1009 for a message over
    /// the cap), or 1006 when the connection ended without a close frame.
    pub code: u16,
    /// The close reason.
    pub reason: String,
}

impl SocketClose {
    /// A close event with `code` and `reason` (for a caller's own tests).
    ///
    /// ```
    /// let c = wxnet::SocketClose::new(4000, "server bye");
    /// assert_eq!(c, wxnet::SocketClose::new(4000, "server bye"));
    /// assert_ne!(c.code, 1000);
    /// ```
    pub fn new(code: u16, reason: impl Into<String>) -> SocketClose {
        SocketClose {
            code,
            reason: reason.into(),
        }
    }
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
    pub(super) fn from_u8(v: u8) -> ReadyState {
        match v {
            0 => ReadyState::Connecting,
            1 => ReadyState::Open,
            2 => ReadyState::Closing,
            _ => ReadyState::Closed,
        }
    }
}
