//! Plain TCP fixtures: a server whose handler owns each raw connection
//! (for peers that speak no TLS or misbehave below HTTP), and a connect
//! blackhole.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// A plain TCP server whose handler gets each raw connection.
pub struct RawServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl RawServer {
    pub fn start(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let (a, st) = (accepted.clone(), stop.clone());
        thread::spawn(move || {
            for tcp in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(tcp) = tcp else { continue };
                a.fetch_add(1, Ordering::SeqCst);
                let h = handler.clone();
                thread::spawn(move || h(tcp));
            }
        });
        RawServer {
            addr,
            accepted,
            stop,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn connections_accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// A listener whose accept queue is full, so a connect to it hangs
/// (SYNs to a full queue are dropped, and the client keeps retrying).
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _fill: Vec<socket2::Socket>,
}

/// A connect blackhole on loopback: a listener with a backlog of zero
/// that never accepts, its queue filled by connections made first.
///
/// socket2 rather than std because std's `TcpListener::bind` listens with a
/// backlog of 128 (measured: 129 connects complete before one hangs), so
/// filling it costs 129 sockets and about 55 ms; with `listen(0)` Linux
/// queues one connection and then drops further SYNs. An address that
/// merely looks unroutable is no substitute: in this sandbox something
/// answers for it.
pub fn blackhole() -> Blackhole {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fill = Vec::new();
    // Fill the queue until a connect no longer completes at once; the one
    // that hung stays open too, its SYN retries occupying nothing.
    let mut full = false;
    for _ in 0..64 {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let done = s
            .connect_timeout(&addr.into(), Duration::from_millis(50))
            .is_ok();
        fill.push(s);
        if !done {
            full = true;
            break;
        }
    }
    assert!(
        full,
        "blackhole: 64 connects to a listen(0) socket all completed; this \
         kernel does not drop SYNs to a full accept queue"
    );
    Blackhole {
        addr,
        _listener: listener,
        _fill: fill,
    }
}
