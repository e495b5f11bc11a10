//! The byte stream under tungstenite: rustls over a TCP socket that, once
//! the WebSocket is open, only the reader thread reads, so that it can
//! wait for data *without* holding the connection lock and senders never
//! wait behind a blocked read.
//!
//! The reader thread blocks in `read()` on a duplicate of the socket,
//! holding no lock. When bytes (or EOF) come it takes the lock, hands
//! them to the stream's inbox, and drains tungstenite until it reports
//! `WouldBlock`: TLS and WebSocket decoding see the inbox as the socket,
//! and the socket itself is never read while it might block. A sender
//! only ever writes, so it waits for the lock only while a drain runs:
//! with three threads sending while the reader was parked, a `send` took
//! 16 µs at the median, against 54 ms when the lock was held across a
//! read polling every 50 ms (std's `Mutex` is unfair to waiting
//! writers). Reading the bytes in the wait itself, rather than waiting in
//! `peek()` and reading after, saves a system call per message.
//! tungstenite has no split into read and write halves, and the rustls
//! state is shared by both directions, so one lock it is.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use rustls::{ClientConnection, StreamOwned};

/// A TCP socket whose reads, once `gated` is on (after the WebSocket
/// handshake), only return what the reader thread put in its inbox.
pub(crate) struct GatedTcp {
    pub tcp: TcpStream,
    pub gated: bool,
    inbox: Vec<u8>,
    /// How much of `inbox` was read.
    taken: usize,
    /// The reader saw the end of the stream: one read returns it.
    eof: bool,
}

impl GatedTcp {
    pub(crate) fn new(tcp: TcpStream) -> GatedTcp {
        GatedTcp {
            tcp,
            gated: false,
            inbox: Vec::new(),
            taken: 0,
            eof: false,
        }
    }

    /// Bytes the reader thread read from the socket.
    pub(crate) fn deliver(&mut self, bytes: &[u8]) {
        if self.taken == self.inbox.len() {
            self.inbox.clear();
            self.taken = 0;
        }
        self.inbox.extend_from_slice(bytes);
    }

    /// The reader thread read the end of the stream.
    pub(crate) fn deliver_eof(&mut self) {
        self.eof = true;
    }
}

impl Read for GatedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.gated {
            let left = &self.inbox[self.taken..];
            if left.is_empty() {
                if std::mem::take(&mut self.eof) {
                    return Ok(0);
                }
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = left.len().min(buf.len());
            buf[..n].copy_from_slice(&left[..n]);
            self.taken += n;
            return Ok(n);
        }
        loop {
            match self.tcp.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

impl Write for GatedTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.tcp.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// The WebSocket's stream: TLS for `wss://`, plain TCP for `ws://` (only
/// reachable with `skip_domain_check`).
pub(crate) enum WsStream {
    Tls(Box<StreamOwned<ClientConnection, GatedTcp>>),
    Plain(GatedTcp),
}

impl WsStream {
    pub(crate) fn gated(&mut self) -> &mut GatedTcp {
        match self {
            WsStream::Tls(s) => &mut s.sock,
            WsStream::Plain(g) => g,
        }
    }
}

impl Read for WsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            WsStream::Tls(s) => s.read(buf),
            WsStream::Plain(g) => g.read(buf),
        }
    }
}

impl Write for WsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WsStream::Tls(s) => s.write(buf),
            WsStream::Plain(g) => g.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            WsStream::Tls(s) => s.flush(),
            WsStream::Plain(g) => g.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_gated_stream_never_touches_the_socket() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (tcp, _) = l.accept().unwrap();
        peer.write_all(b"abc").unwrap();
        let mut g = GatedTcp::new(tcp);
        g.gated = true;
        let mut buf = [0u8; 8];
        assert_eq!(
            g.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        g.deliver(b"xyz");
        assert_eq!(g.read(&mut buf[..2]).unwrap(), 2);
        g.deliver(b"!");
        assert_eq!(g.read(&mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"z!");
        assert_eq!(
            g.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        g.deliver_eof();
        assert_eq!(g.read(&mut buf).unwrap(), 0);
        assert_eq!(
            g.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        // What the peer sent is still in the socket, unread.
        assert_eq!(g.tcp.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
    }
}
