//! WebSocket peers that misbehave after a real handshake: malformed
//! frames, ping floods, a peer that never answers our close. Each ends the
//! socket with exactly one error (when it is an error) and one close, and
//! frees its slot.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{ServerWs, TestPki, Upgrade, WsServer, watchdog};
use tungstenite::Message;
use wxnet::{Client, ConnectSocketOptions, SocketClose, SocketMessage, SocketTask};

const WS: &str = "wss://ws.example.com";
const SECS: Duration = Duration::from_secs(5);

fn server(handler: impl Fn(ServerWs, Upgrade) + Send + Sync + 'static) -> (WsServer, Client) {
    let pki = TestPki::new();
    let s = WsServer::start(
        pki.server_config(&pki.identity(&["ws.example.com"])),
        handler,
    );
    let c = Client::builder()
        .socket_domains([WS])
        .add_root_certificate(pki.ca_pem())
        .unwrap()
        .resolve("ws.example.com", s.addr())
        .build()
        .unwrap();
    (s, c)
}

/// Errors and closes of a socket, in order.
fn record(task: &SocketTask) -> (Arc<Mutex<Vec<String>>>, mpsc::Receiver<SocketClose>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    task.on_error(move |e| l.lock().unwrap().push(format!("error {}", e.err_msg())));
    let l = log.clone();
    task.on_message(move |m| l.lock().unwrap().push(format!("message {m:?}")));
    let l = log.clone();
    task.on_close(move |c| {
        l.lock().unwrap().push(format!("close {}", c.code));
        let _ = tx.send(c.clone());
    });
    (log, rx)
}

/// Write raw bytes on the server's side of the connection, under the
/// WebSocket framing (server frames are not masked).
fn raw(ws: &mut ServerWs, bytes: &[u8]) {
    let s = ws.get_mut();
    let _ = s.write_all(bytes);
    let _ = s.flush();
}

#[test]
fn malformed_frames_close_with_1002_and_one_error() {
    watchdog(Duration::from_secs(10), || {
        let frames: [(&str, &[u8]); 4] = [
            ("reserved bits", &[0xF1, 0x02, b'h', b'i']),
            ("reserved opcode", &[0x83, 0x00]),
            (
                "masked server frame",
                &[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2],
            ),
            ("invalid UTF-8 text", &[0x81, 0x02, 0xff, 0xfe]),
        ];
        for (what, frame) in frames {
            let frame = frame.to_vec();
            let (_s, client) = server(move |mut ws, _| {
                raw(&mut ws, &frame);
                // Hold the connection until the client goes away.
                while ws.read().is_ok() {}
            });
            let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
            let (log, closed) = record(&task);
            let close = closed.recv_timeout(SECS).unwrap();
            assert_eq!(close.code, 1002, "{what}: {:?}", log.lock().unwrap());
            let log = log.lock().unwrap().clone();
            assert_eq!(
                log.iter().filter(|l| l.starts_with("error")).count(),
                1,
                "{what}: {log:?}"
            );
            assert_eq!(log.last().unwrap(), "close 1002", "{what}: {log:?}");
            assert!(closed.recv_timeout(Duration::from_millis(50)).is_err());
        }
    });
}

#[test]
fn a_ping_flood_is_answered_and_the_socket_keeps_working() {
    watchdog(Duration::from_secs(10), || {
        let (pongs_tx, pongs_rx) = mpsc::channel();
        let pongs_tx = Mutex::new(pongs_tx);
        let (_s, client) = server(move |mut ws, _| {
            for i in 0..5000u32 {
                if ws
                    .write(Message::Ping(i.to_be_bytes().to_vec().into()))
                    .is_err()
                {
                    return;
                }
            }
            let _ = ws.flush();
            let _ = ws.send(Message::Text("after the flood".into()));
            let mut pongs = 0;
            while let Ok(m) = ws.read() {
                match m {
                    Message::Pong(_) => pongs += 1,
                    Message::Text(t) => {
                        let _ = ws.send(Message::Text(t));
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
                if pongs == 5000 {
                    let _ = pongs_tx.lock().unwrap().send(pongs);
                    pongs = 0;
                }
            }
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        assert_eq!(
            task.recv(SECS).unwrap(),
            Some(SocketMessage::Text("after the flood".into()))
        );
        task.send(SocketMessage::Text("still here".into())).unwrap();
        assert_eq!(
            task.recv(SECS).unwrap(),
            Some(SocketMessage::Text("still here".into()))
        );
        // Every ping got its pong.
        assert_eq!(pongs_rx.recv_timeout(SECS).unwrap(), 5000);
        task.close(1000, "bye").unwrap();
    });
}

#[test]
fn a_peer_that_never_answers_our_close_is_closed_after_the_close_timeout() {
    watchdog(Duration::from_secs(10), || {
        let (_s, client) = server(|mut ws, _| {
            // Read everything, answer nothing, keep the connection open.
            let deadline = Instant::now() + Duration::from_secs(8);
            let _ = ws
                .get_mut()
                .sock
                .set_read_timeout(Some(Duration::from_millis(100)));
            while Instant::now() < deadline {
                let mut buf = [0u8; 1024];
                if let Ok(0) = std::io::Read::read(&mut ws.get_mut().sock, &mut buf) {
                    return;
                }
            }
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        let (log, closed) = record(&task);
        task.wait_open(SECS).unwrap();
        let t0 = Instant::now();
        task.close(4000, "done").unwrap();
        let close = closed.recv_timeout(Duration::from_secs(8)).unwrap();
        let waited = t0.elapsed();
        assert_eq!((close.code, close.reason.as_str()), (4000, "done"));
        assert!(waited >= Duration::from_secs(4), "{waited:?}");
        assert!(waited < Duration::from_secs(8), "{waited:?}");
        assert_eq!(task.ready_state(), wxnet::ReadyState::Closed);
        assert!(log.lock().unwrap().iter().all(|l| !l.starts_with("error")));
        // The slot is free again: five more sockets may open.
        let more: Vec<_> = (0..5)
            .map(|_| client.connect_socket(ConnectSocketOptions::new(format!("{WS}/"))))
            .collect();
        for m in &more {
            m.wait_open(SECS).unwrap();
        }
    });
}
