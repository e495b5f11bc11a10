//! A TCP relay in front of a server that can flap like a link or a server
//! restart: drop every connection at once, stop listening (connections are
//! refused) and listen again on the same port.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

#[derive(Default)]
struct State {
    down: AtomicBool,
    /// Both sides of every relayed connection, to drop them all.
    conns: Mutex<Vec<TcpStream>>,
}

/// A relay to `backend` on a loopback port of its own.
pub struct Flapper {
    addr: SocketAddr,
    state: Arc<State>,
    start: Option<mpsc::Sender<()>>,
    moved: mpsc::Receiver<()>,
}

impl Flapper {
    pub fn start(backend: SocketAddr) -> Flapper {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = first.local_addr().unwrap();
        let state = Arc::new(State::default());
        let (start_tx, start_rx) = mpsc::channel::<()>();
        let (moved_tx, moved_rx) = mpsc::channel();
        let st = state.clone();
        thread::spawn(move || {
            let mut listener = Some(first);
            loop {
                // The port was just released by this thread: binding it
                // again succeeds (std sets SO_REUSEADDR).
                let l = match listener.take() {
                    Some(l) => l,
                    None => TcpListener::bind(addr).unwrap(),
                };
                let _ = moved_tx.send(());
                for tcp in l.incoming() {
                    if st.down.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(tcp) = tcp {
                        let _ = relay(tcp, backend, &st);
                    }
                }
                drop(l);
                let _ = moved_tx.send(());
                if start_rx.recv().is_err() {
                    return;
                }
            }
        });
        moved_rx.recv().unwrap();
        Flapper {
            addr,
            state,
            start: Some(start_tx),
            moved: moved_rx,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drop every relayed connection at once (a server restart that is
    /// back before anyone reconnects).
    pub fn drop_connections(&self) {
        for c in self.state.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    /// Stop listening and drop every connection: new connections are
    /// refused until [`up`](Self::up).
    pub fn down(&self) {
        self.state.down.store(true, Ordering::SeqCst);
        // Wake the acceptor; it sees `down` and closes the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        self.moved.recv().unwrap();
        self.drop_connections();
    }

    /// Listen again on the same port.
    pub fn up(&self) {
        self.state.down.store(false, Ordering::SeqCst);
        self.start.as_ref().unwrap().send(()).unwrap();
        self.moved.recv().unwrap();
    }
}

impl Drop for Flapper {
    fn drop(&mut self) {
        if !self.state.down.load(Ordering::SeqCst) {
            self.down();
        }
        self.start.take();
    }
}

fn relay(client: TcpStream, backend: SocketAddr, state: &State) -> io::Result<()> {
    let server = TcpStream::connect(backend)?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    {
        let mut conns = state.conns.lock().unwrap();
        conns.push(client.try_clone()?);
        conns.push(server.try_clone()?);
    }
    let (c2, s2) = (client.try_clone()?, server.try_clone()?);
    thread::spawn(move || pipe(client, server));
    thread::spawn(move || pipe(s2, c2));
    Ok(())
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
