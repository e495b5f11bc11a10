//! The byte stream under tungstenite: rustls over a TCP socket whose reads
//! are gated, so that the reader thread can wait for data *without*
//! holding the connection lock and senders never wait behind a blocked
//! read.
//!
//! The reader thread blocks in `peek()` on a duplicate of the socket. When
//! bytes (or EOF) show up it takes the lock, opens the gate for exactly one
//! socket read, and drains tungstenite until it reports `WouldBlock`:
//! everything already buffered in rustls and tungstenite is processed, but
//! the socket is never read while it might block. A sender only ever
//! writes, so it waits for the lock only while a drain runs: with three
//! threads sending while the reader was parked, a `send` took 16 µs at
//! the median, against 54 ms when the lock was held across a read
//! polling every 50 ms (std's `Mutex` is unfair to waiting writers).
//! tungstenite has no split into read and write halves, and the rustls
//! state is shared by both directions, so one lock it is.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::{ClientConnection, StreamOwned};

/// A TCP socket that allows one read per opening of its gate once
/// `gated` is on (after the WebSocket handshake).
pub(crate) struct GatedTcp {
    pub tcp: TcpStream,
    pub gate: Arc<AtomicBool>,
    pub gated: bool,
}

impl Read for GatedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.gated && !self.gate.swap(false, Ordering::AcqRel) {
            return Err(io::ErrorKind::WouldBlock.into());
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
    fn a_closed_gate_never_touches_the_socket() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (tcp, _) = l.accept().unwrap();
        peer.write_all(b"abc").unwrap();
        let gate = Arc::new(AtomicBool::new(false));
        let mut g = GatedTcp {
            tcp,
            gate: gate.clone(),
            gated: true,
        };
        let mut buf = [0u8; 8];
        assert_eq!(
            g.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        gate.store(true, Ordering::Release);
        assert_eq!(g.read(&mut buf).unwrap(), 3);
        assert_eq!(
            g.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}
