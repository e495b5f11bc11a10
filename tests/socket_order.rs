//! Messages that arrive in the same read as a protocol error or a close
//! frame: delivered first, in order; replies to them still go out before a
//! protocol error closes the socket, and are refused as not open once the
//! peer's close frame was read.

mod common;

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::{ServerWs, TestPki, Upgrade, WsServer, server_frame, watchdog, write_raw};
use tungstenite::Message;
use wxnet::{Client, ConnectSocketOptions, ReadyState, SocketMessage, SocketTask};

const WS: &str = "wss://ws.example.com";
const SECS: Duration = Duration::from_secs(5);
const LIMIT: Duration = Duration::from_secs(10);
/// Each test runs this many times: the order must hold every time.
const RUNS: usize = 5;
const NOT_OPEN: &str = "SocketTask.send:fail SocketTask.readyState is not OPEN";

/// The bad frames, by path, each a protocol error (1002).
const BAD: [(&str, [u8; 4]); 3] = [
    ("/rsv1", [0xC1, 2, b'h', b'i']),
    ("/reserved-opcode", [0x83, 2, b'h', b'i']),
    ("/continuation-without-start", [0x80, 2, b'h', b'i']),
];

/// The peer's close frame: code 4000, reason "bye".
const PEER_CLOSE: [u8; 7] = [0x88, 5, 0x0F, 0xA0, b'b', b'y', b'e'];

/// A server that waits for the client's "go", then writes "one", "two"
/// and the frame for the path in one write, then reports every message
/// the client sent after that, up to its close frame.
fn setup() -> (WsServer, Client, mpsc::Receiver<Vec<String>>) {
    let pki = TestPki::new();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = WsServer::start(
        pki.server_config(&pki.identity(&["ws.example.com"])),
        move |ws, up: Upgrade| {
            let seen = after_go(ws, &up.path);
            let _ = tx.lock().unwrap().send(seen);
        },
    );
    let client = Client::builder()
        .socket_domains([WS])
        .add_root_certificate(pki.ca_pem())
        .unwrap()
        .resolve("ws.example.com", server.addr())
        .build()
        .unwrap();
    (server, client, rx)
}

fn after_go(mut ws: ServerWs, path: &str) -> Vec<String> {
    match ws.read() {
        Ok(Message::Text(t)) if t.as_str() == "go" => {}
        other => return vec![format!("expected go, got {other:?}")],
    }
    let last = match BAD.iter().find(|(p, _)| *p == path) {
        Some((_, bad)) => bad.to_vec(),
        None => PEER_CLOSE.to_vec(),
    };
    let batch = [server_frame(0x81, b"one"), server_frame(0x81, b"two"), last].concat();
    write_raw(&mut ws, &batch);
    let mut seen = Vec::new();
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => seen.push(format!("text {}", t.as_str())),
            Ok(Message::Close(Some(f))) => {
                seen.push(format!("close {}", f.code));
                return seen;
            }
            Ok(_) => {}
            Err(e) => {
                seen.push(format!("read error {e}"));
                return seen;
            }
        }
    }
}

/// Connect to `path` with listeners that log every event and answer each
/// message, logging the state and the outcome of the answer; send "go"
/// once open. Returns the log, once the close event came.
fn answered(client: &Client, path: &str) -> Vec<String> {
    let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}{path}")));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l, t) = (log.clone(), task.clone());
    task.on_message(move |m| {
        let SocketMessage::Text(text) = m else { return };
        let state = t.ready_state();
        let sent = match t.send(SocketMessage::Text(format!("re {text}"))) {
            Ok(()) => "Ok".to_string(),
            Err(e) => e.err_msg().to_string(),
        };
        l.lock()
            .unwrap()
            .push(format!("message {text} {state:?} send {sent}"));
    });
    let l = log.clone();
    task.on_error(move |e| l.lock().unwrap().push(format!("error {}", e.err_msg())));
    let (closed_tx, closed) = mpsc::channel();
    let l = log.clone();
    task.on_close(move |c| {
        l.lock()
            .unwrap()
            .push(format!("close {} {}", c.code, c.reason));
        let _ = closed_tx.send(());
    });
    task.wait_open(SECS).unwrap();
    task.send(SocketMessage::Text("go".into())).unwrap();
    closed
        .recv_timeout(SECS)
        .unwrap_or_else(|_| panic!("{path}: no close event: {:?}", log.lock().unwrap()));
    assert_eq!(task.ready_state(), ReadyState::Closed, "{path}");
    // The message listener holds a clone of the task: let it go.
    task.off_message(None);
    log.lock().unwrap().clone()
}

#[test]
fn messages_before_a_protocol_error_are_delivered_and_answered_first() {
    watchdog(LIMIT, || {
        let (_server, client, seen) = setup();
        for _ in 0..RUNS {
            for (path, _) in BAD {
                assert_eq!(
                    answered(&client, path),
                    [
                        "message one Open send Ok",
                        "message two Open send Ok",
                        "error connectSocket:fail protocol error",
                        "close 1002 protocol error",
                    ],
                    "{path}"
                );
                assert_eq!(
                    seen.recv_timeout(SECS).unwrap(),
                    ["text re one", "text re two", "close 1002"],
                    "{path}"
                );
            }
        }
    });
}

#[test]
fn messages_before_a_peer_close_are_delivered_while_closing() {
    watchdog(LIMIT, || {
        let (_server, client, seen) = setup();
        for _ in 0..RUNS {
            assert_eq!(
                answered(&client, "/close"),
                [
                    format!("message one Closing send {NOT_OPEN}"),
                    format!("message two Closing send {NOT_OPEN}"),
                    "close 4000 bye".into(),
                ]
            );
            // Nothing after the peer's close: only our echo of it.
            assert_eq!(seen.recv_timeout(SECS).unwrap(), ["close 4000"]);
        }
    });
}

/// Connect to `path` without listeners, send "go" once open, and take
/// the messages with `recv` until it fails.
fn received(client: &Client, path: &str) -> (Vec<SocketMessage>, String) {
    let task: SocketTask = client.connect_socket(ConnectSocketOptions::new(format!("{WS}{path}")));
    task.wait_open(SECS).unwrap();
    task.send(SocketMessage::Text("go".into())).unwrap();
    let mut messages = Vec::new();
    loop {
        match task.recv(SECS) {
            Ok(Some(m)) => messages.push(m),
            Ok(None) => panic!("{path}: nothing within {SECS:?} after {messages:?}"),
            Err(e) => return (messages, e.err_msg().to_string()),
        }
    }
}

#[test]
fn recv_takes_the_messages_before_a_protocol_error_or_a_peer_close() {
    watchdog(LIMIT, || {
        let (_server, client, seen) = setup();
        let both = vec![
            SocketMessage::Text("one".into()),
            SocketMessage::Text("two".into()),
        ];
        for _ in 0..RUNS {
            for (path, _) in BAD {
                assert_eq!(
                    received(&client, path),
                    (both.clone(), "SocketTask.recv:fail protocol error".into()),
                    "{path}"
                );
                assert_eq!(seen.recv_timeout(SECS).unwrap(), ["close 1002"], "{path}");
            }
            let (messages, _) = received(&client, "/close");
            assert_eq!(messages, both);
            assert_eq!(seen.recv_timeout(SECS).unwrap(), ["close 4000"]);
        }
    });
}
