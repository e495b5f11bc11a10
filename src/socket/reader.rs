//! The reader loop: read the socket without holding the connection lock,
//! drain what tungstenite can decode, hand messages to listeners, and
//! decide how the socket ended.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use tungstenite::Message;
use tungstenite::error::ProtocolError;
use tungstenite::protocol::CloseFrame;

use super::API;
use super::close;
use super::connect::Ending;
use super::event::{ReadyState, SocketClose, SocketMessage};
use super::shared::{Conn, Shared};
use crate::error::{Error, ErrorKind};
use crate::sync::lock;
use crate::transport::is_timeout;

/// How much the reader reads from the socket at once: the largest TLS
/// record and then some.
const READ_CHUNK: usize = 17 * 1024;

/// What waiting on the socket found.
enum Wake {
    Bytes(usize),
    Eof,
    /// The read timeout passed: time to check the close timeout.
    Idle,
    Lost(io::Error),
}

/// What one drain of the connection produced.
#[derive(Default)]
struct Drained {
    received: Vec<SocketMessage>,
    end: Option<Ending>,
    /// `end` fails the connection, and its close frame goes out only after
    /// `received` is delivered, so replies to those messages still can.
    fail_after: bool,
    /// Whether anything was decoded at all (a control frame counts).
    progressed: bool,
}

/// Why we are closing, if we are: ended from outside (shutdown,
/// background), or a close frame we sent.
struct Ours {
    ended_by: Option<(SocketClose, Option<Error>)>,
    closing: Option<SocketClose>,
}

impl Ours {
    fn of(c: &Conn) -> Ours {
        Ours {
            ended_by: c.ended_by.clone(),
            closing: c.closing.as_ref().map(|(close, _)| close.clone()),
        }
    }

    /// Our own reason to close wins over whatever the peer did.
    fn ending(&self) -> Option<Ending> {
        if let Some((close, error)) = &self.ended_by {
            return Some(Ending {
                error: error.clone(),
                close: close.clone(),
            });
        }
        self.closing.clone().map(Ending::clean)
    }

    fn or(&self, peer: SocketClose) -> Ending {
        self.ending().unwrap_or_else(|| Ending::clean(peer))
    }
}

/// Read until the connection ends; how it ended.
pub(super) fn read_until_end(s: &Arc<Shared>) -> Ending {
    let Some(source) = lock(&s.socket)
        .as_ref()
        .and_then(|c| c.stream.try_clone().ok())
    else {
        return Ending::abnormal(Error::new(API, ErrorKind::Network));
    };
    let mut buf = [0u8; READ_CHUNK];
    let mut eof_spins = 0;
    // The handshake may have read frames that followed the server's
    // response: drain those first, without reading the socket.
    let mut input = Input::Buffered;
    loop {
        let eof = matches!(input, Input::Eof);
        let drained = drain(s, input, &buf);
        if !drained.received.is_empty() {
            s.emit_messages(drained.received);
        }
        if let Some(end) = drained.end {
            return if drained.fail_after {
                start_failing(s, end)
            } else {
                end
            };
        }
        // A peer that keeps sending never lets the reader go idle; only a
        // close in progress has anything to check (it leaves `Open`).
        if drained.progressed && s.state() != ReadyState::Open {
            if let Some(end) = on_idle(s) {
                return end;
            }
        }
        if eof && !drained.progressed {
            // The peer closed and nothing more will come.
            eof_spins += 1;
            if eof_spins >= 2 {
                return on_eof(s);
            }
        } else {
            eof_spins = 0;
        }
        input = loop {
            match read_socket(&source, &mut buf) {
                Wake::Bytes(n) => break Input::Bytes(n),
                Wake::Eof => break Input::Eof,
                Wake::Idle => match on_idle(s) {
                    Some(end) => return end,
                    None => continue,
                },
                Wake::Lost(e) => return on_lost(s, e),
            }
        };
    }
}

/// What a drain decodes besides what is already buffered.
#[derive(Clone, Copy)]
enum Input {
    Buffered,
    /// The first `n` bytes of the reader's buffer.
    Bytes(usize),
    Eof,
}

/// Block in `read` on a duplicate of the socket, without any lock.
fn read_socket(mut source: &TcpStream, buf: &mut [u8]) -> Wake {
    loop {
        return match source.read(buf) {
            Ok(0) => Wake::Eof,
            Ok(n) => Wake::Bytes(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => Wake::Idle,
            Err(e) => Wake::Lost(e),
        };
    }
}

/// Nothing to read: end if ended from outside, or if the peer never
/// answered our close in time.
fn on_idle(s: &Shared) -> Option<Ending> {
    let mut c = lock(&s.conn);
    if let Some((close, error)) = c.ended_by.take() {
        return Some(Ending { error, close });
    }
    let (close, at) = c.closing.clone()?;
    if Instant::now() < at {
        return None;
    }
    c.closing = None;
    drop(c);
    s.shutdown_socket();
    Some(Ending::clean(close))
}

/// The socket failed under us.
fn on_lost(s: &Shared, e: io::Error) -> Ending {
    let c = lock(&s.conn);
    let ours = Ours::of(&c);
    drop(c);
    ours.ending().unwrap_or_else(|| {
        let lost = Error::with_reason(API, ErrorKind::ConnectionReset, "connection reset");
        Ending::abnormal(lost.source_from(e))
    })
}

/// The peer closed TCP and nothing more decodes.
fn on_eof(s: &Shared) -> Ending {
    match lock(&s.conn).closing.clone() {
        Some((close, _)) => Ending::clean(close),
        None => Ending::abnormal(close::error(1006)),
    }
}

/// Hand what the socket gave (if anything) to the stream and decode
/// until tungstenite would block.
fn drain(s: &Shared, input: Input, buf: &[u8]) -> Drained {
    let mut d = Drained::default();
    let mut c = lock(&s.conn);
    let ours = Ours::of(&c);
    let Some(ws) = c.ws.as_mut() else {
        d.end = Some(Ending::clean(close::abnormal()));
        return d;
    };
    match input {
        Input::Buffered => {}
        Input::Bytes(n) => ws.get_mut().gated().deliver(&buf[..n]),
        Input::Eof => ws.get_mut().gated().deliver_eof(),
    }
    loop {
        let message = match ws.read() {
            Ok(m) => m,
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                if d.end.is_none() {
                    d.end = Some(ours.or(close::event(1005)));
                }
                break;
            }
            Err(e) => {
                // The peer dropped TCP after the close handshake (often
                // without a TLS close_notify): a clean end.
                d.end = d.end.take().or_else(|| ours.ending());
                if d.end.is_none() {
                    d.end = Some(failure(e));
                    d.fail_after = true;
                }
                break;
            }
        };
        d.progressed = true;
        match message {
            Message::Text(t) => d.received.push(SocketMessage::Text(t.as_str().to_owned())),
            Message::Binary(b) => d.received.push(SocketMessage::Binary(b.to_vec())),
            Message::Close(frame) => {
                d.end = Some(ours.or(peer_close(frame)));
                // Before the messages read ahead of it are delivered: no
                // data may follow a received close, so `send` refuses.
                s.set_state(ReadyState::Closing);
            }
            _ => {}
        }
    }
    d
}

fn peer_close(frame: Option<CloseFrame>) -> SocketClose {
    match frame {
        Some(f) => SocketClose {
            code: u16::from(f.code),
            reason: f.reason.as_str().to_owned(),
        },
        None => close::event(1005),
    }
}

/// The peer broke the protocol or the connection was lost without a
/// close frame: how the connection fails, with the code for it (RFC 6455
/// §7.4.1). A connection lost without a close frame is 1006 (§7.1.5),
/// whatever the transport said (a clean TLS end included).
fn failure(e: tungstenite::Error) -> Ending {
    let code = match &e {
        tungstenite::Error::Capacity(_) => 1009,
        tungstenite::Error::Utf8(_) => 1007,
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => 1006,
        tungstenite::Error::Protocol(_) => 1002,
        _ => 1006,
    };
    Ending {
        error: Some(close::error(code).source_from(e)),
        close: close::event(code),
    }
}

/// Fail the connection once the messages read before the failure are
/// delivered: send its close frame (none for 1006) and refuse `send`
/// from now on. A close that started meanwhile (a listener called
/// `close`, or a shutdown) went out first and is the one reported.
fn start_failing(s: &Shared, end: Ending) -> Ending {
    let mut c = lock(&s.conn);
    let ours = Ours::of(&c);
    if let Some(first) = ours.ending() {
        return first;
    }
    if end.close.code != 1006 {
        if let Some(ws) = c.ws.as_mut() {
            close::send_close(ws, &end.close);
        }
    }
    s.set_state(ReadyState::Closing);
    end
}
