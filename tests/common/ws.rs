//! A loopback `wss://` server (TLS with the test CA, a tungstenite
//! handshake, then the test's handler), and the upgrade requests it saw.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use tungstenite::handshake::server::{Request, Response};

use super::RawServer;
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
    tcp: RawServer,
    /// The newest `LOG_LIMIT` upgrades (a long run must not grow).
    upgrades: Arc<Mutex<VecDeque<Upgrade>>>,
}

impl WsServer {
    pub fn start(
        config: Arc<ServerConfig>,
        handler: impl Fn(ServerWs, Upgrade) + Send + Sync + 'static,
    ) -> WsServer {
        let upgrades = Arc::new(Mutex::new(VecDeque::new()));
        let log = upgrades.clone();
        let tcp = RawServer::start(move |tcp| {
            let Some((ws, upgrade)) = handshake(tcp, config.clone()) else {
                return;
            };
            let mut log = log.lock().unwrap();
            if log.len() == LOG_LIMIT {
                log.pop_front();
            }
            log.push_back(upgrade.clone());
            drop(log);
            handler(ws, upgrade);
        });
        WsServer { tcp, upgrades }
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
        self.tcp.addr()
    }

    pub fn connections_accepted(&self) -> usize {
        self.tcp.connections_accepted()
    }

    pub fn upgrades(&self) -> Vec<Upgrade> {
        self.upgrades.lock().unwrap().iter().cloned().collect()
    }
}

/// TLS, then the WebSocket handshake; None if the client gave up on
/// either.
fn handshake(tcp: TcpStream, config: Arc<ServerConfig>) -> Option<(ServerWs, Upgrade)> {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(120)));
    let tls = StreamOwned::new(ServerConnection::new(config).ok()?, tcp);
    let seen = Arc::new(Mutex::new(Upgrade::default()));
    let s2 = seen.clone();
    // The signature is tungstenite's `Callback`.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, mut resp: Response| {
        let mut u = s2.lock().unwrap();
        u.path = req.uri().to_string();
        u.headers = req
            .headers()
            .iter()
            .map(|(n, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.to_string(), v)
            })
            .collect();
        if let Some(p) = req.headers().get("sec-websocket-protocol") {
            let offered = p.to_str().unwrap_or("");
            let first = offered.split(',').next().unwrap_or("").trim();
            let first = first.parse().unwrap();
            resp.headers_mut().insert("sec-websocket-protocol", first);
        }
        let server = "wxnet-test".parse().unwrap();
        resp.headers_mut().insert("x-server", server);
        Ok(resp)
    };
    let ws = tungstenite::accept_hdr(tls, callback).ok()?;
    let upgrade = seen.lock().unwrap().clone();
    Some((ws, upgrade))
}

/// A server frame (unmasked) with a payload under 126 bytes, for writing
/// raw with [`write_raw`].
pub fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![first, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

/// Write `bytes` past tungstenite, in one write, and push them out.
pub fn write_raw(ws: &mut ServerWs, bytes: &[u8]) {
    ws.get_mut().write_all(bytes).unwrap();
    ws.get_mut().flush().unwrap();
}
