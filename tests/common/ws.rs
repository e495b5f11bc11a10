//! A loopback `wss://` server (TLS with the test CA, a tungstenite
//! handshake, then the test's handler), and the upgrade requests it saw.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::http::LOG_LIMIT;

/// The server side of a test WebSocket.
pub type ServerWs = tungstenite::WebSocket<StreamOwned<ServerConnection, TcpStream>>;

/// What the client sent in its upgrade request.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Upgrade {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback `wss://` server: TLS with the test CA, then a tungstenite
/// handshake that picks the first subprotocol offered, then `handler`.
pub struct WsServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    /// The newest `LOG_LIMIT` upgrades (a long run must not grow).
    upgrades: Arc<Mutex<std::collections::VecDeque<Upgrade>>>,
}

impl WsServer {
    pub fn start(
        config: Arc<ServerConfig>,
        handler: impl Fn(ServerWs, Upgrade) + Send + Sync + 'static,
    ) -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let upgrades = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let handler = Arc::new(handler);
        let (a, st, up) = (accepted.clone(), stop.clone(), upgrades.clone());
        thread::spawn(move || {
            for tcp in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(tcp) = tcp else { continue };
                a.fetch_add(1, Ordering::SeqCst);
                let (h, cfg, up) = (handler.clone(), config.clone(), up.clone());
                thread::spawn(move || {
                    let _ = tcp.set_nodelay(true);
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(120)));
                    let Ok(conn) = ServerConnection::new(cfg) else {
                        return;
                    };
                    let tls = StreamOwned::new(conn, tcp);
                    let seen = Arc::new(Mutex::new(Upgrade::default()));
                    let s2 = seen.clone();
                    // The signature is tungstenite's `Callback`.
                    #[allow(clippy::result_large_err)]
                    let callback = move |req: &tungstenite::handshake::server::Request,
                                         mut resp: tungstenite::handshake::server::Response| {
                        let mut u = s2.lock().unwrap();
                        u.path = req.uri().to_string();
                        u.headers = req
                            .headers()
                            .iter()
                            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                            .collect();
                        if let Some(p) = req.headers().get("sec-websocket-protocol") {
                            let first = p.to_str().unwrap_or("").split(',').next().unwrap_or("").trim().to_string();
                            resp.headers_mut().insert("sec-websocket-protocol", first.parse().unwrap());
                        }
                        resp.headers_mut().insert("x-server", "wxnet-test".parse().unwrap());
                        Ok(resp)
                    };
                    let Ok(ws) = tungstenite::accept_hdr(tls, callback) else {
                        return;
                    };
                    let upgrade = seen.lock().unwrap().clone();
                    let mut log = up.lock().unwrap();
                    if log.len() == LOG_LIMIT {
                        log.pop_front();
                    }
                    log.push_back(upgrade.clone());
                    drop(log);
                    h(ws, upgrade);
                });
            }
        });
        WsServer {
            addr,
            accepted,
            stop,
            upgrades,
        }
    }

    /// Echoes text and binary messages until the client closes.
    pub fn echo(config: Arc<ServerConfig>) -> WsServer {
        WsServer::start(config, |mut ws, _| {
            while let Ok(m) = ws.read() {
                if (m.is_text() || m.is_binary()) && ws.send(m).is_err() {
                    return;
                }
            }
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn connections_accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn upgrades(&self) -> Vec<Upgrade> {
        self.upgrades.lock().unwrap().iter().cloned().collect()
    }
}

impl Drop for WsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}
