//! A WebSocket peer that misbehaves after a real handshake, writing raw
//! frames: each fault gives exactly one error event and then one close
//! event with the RFC 6455 code, tells the peer that code, and frees the
//! socket's slot.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{ServerWs, TestPki, Upgrade, WsServer, server_frame as frame, watchdog, write_raw};
use tungstenite::Message;
use wxnet::{Client, ConnectSocketOptions, ErrorKind, SocketMessage, SocketTask};

const WS: &str = "wss://ws.example.com";
const SECS: Duration = Duration::from_secs(5);
const LIMIT: Duration = Duration::from_secs(10);
/// The client's incoming message cap in these tests.
const MAX_MESSAGE: usize = 256 * 1024;

/// What the peer saw of the client's side of a connection.
type Seen = Arc<Mutex<mpsc::Sender<String>>>;

/// A server whose handler is picked by the upgrade path, and a client
/// for it. The handler reports what it saw through the returned channel.
fn setup(
    handler: impl Fn(&str, ServerWs, &Seen) + Send + Sync + 'static,
) -> (WsServer, Client, mpsc::Receiver<String>) {
    let pki = TestPki::new();
    let (tx, rx) = mpsc::channel();
    let seen: Seen = Arc::new(Mutex::new(tx));
    let server = WsServer::start(
        pki.server_config(&pki.identity(&["ws.example.com"])),
        move |ws, up: Upgrade| {
            if up.path == "/echo" {
                echo(ws);
            } else {
                handler(&up.path, ws, &seen);
            }
        },
    );
    let client = Client::builder()
        .app_id("wxtest")
        .socket_domains([WS])
        .add_root_certificate(pki.ca_pem())
        .unwrap()
        .resolve("ws.example.com", server.addr())
        .max_message_size(MAX_MESSAGE)
        .build()
        .unwrap();
    (server, client, rx)
}

fn echo(mut ws: ServerWs) {
    while let Ok(m) = ws.read() {
        if (m.is_text() || m.is_binary()) && ws.send(m).is_err() {
            return;
        }
    }
}

fn report(seen: &Seen, what: String) {
    let _ = seen.lock().unwrap().send(what);
}

/// After a fault: read what the client sends until its close frame, and
/// report that frame's code (or how the read ended).
fn report_close(mut ws: ServerWs, seen: &Seen) {
    loop {
        match ws.read() {
            Ok(Message::Close(Some(f))) => return report(seen, format!("close {}", f.code)),
            Ok(Message::Close(None)) => return report(seen, "close without code".into()),
            Ok(_) => {}
            Err(e) => return report(seen, format!("read error {e}")),
        }
    }
}

/// Every event of a socket as text, in order; the close event also goes
/// to the returned channel.
fn record(task: &SocketTask) -> (Arc<Mutex<Vec<String>>>, mpsc::Receiver<()>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    task.on_open(move |_| l.lock().unwrap().push("open".into()));
    let l = log.clone();
    task.on_message(move |m| l.lock().unwrap().push(format!("message {m:?}")));
    let l = log.clone();
    task.on_error(move |e| {
        l.lock().unwrap().push(format!(
            "error {:?} {} {}",
            e.kind(),
            e.errno(),
            e.err_msg()
        ))
    });
    let l = log.clone();
    task.on_close(move |c| {
        l.lock()
            .unwrap()
            .push(format!("close {} {}", c.code, c.reason));
        let _ = tx.send(());
    });
    (log, rx)
}

/// Connect to `path`, wait for the close event, make sure no event
/// follows it, and return the events.
fn events_of(client: &Client, path: &str) -> Vec<String> {
    let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}{path}")));
    let (log, closed) = record(&task);
    closed
        .recv_timeout(SECS)
        .unwrap_or_else(|_| panic!("{path}: no close event: {:?}", log.lock().unwrap()));
    assert!(
        closed.recv_timeout(Duration::from_millis(50)).is_err(),
        "{path}: a second close"
    );
    assert_eq!(task.ready_state(), wxnet::ReadyState::Closed);
    log.lock().unwrap().clone()
}

/// Every socket slot is free: `MAX_SOCKETS` sockets open at once.
fn every_slot_is_free(client: &Client) {
    let tasks: Vec<_> = (0..wxnet::MAX_SOCKETS)
        .map(|_| client.connect_socket(ConnectSocketOptions::new(format!("{WS}/echo"))))
        .collect();
    for t in &tasks {
        t.wait_open(SECS).unwrap();
        t.send(SocketMessage::Text("still here".into())).unwrap();
        assert_eq!(
            t.recv(SECS).unwrap(),
            Some(SocketMessage::Text("still here".into()))
        );
    }
}

/// The error event of a connection failed with `kind` and `reason`: all
/// of them share errno 600001.
fn error_event(kind: ErrorKind, reason: &str) -> String {
    format!("error {kind:?} 600001 connectSocket:fail {reason}")
}

/// The malformed frames, by path: each is a protocol error (1002).
fn malformed(path: &str) -> Option<Vec<u8>> {
    let hi = b"hi";
    Some(match path {
        "/rsv1" => frame(0xC1, hi),
        "/rsv2" => frame(0xA1, hi),
        "/rsv3" => frame(0x91, hi),
        "/reserved-data-opcode" => frame(0x83, hi),
        "/reserved-control-opcode" => frame(0x8B, hi),
        // Server frames must not be masked: mask bit, key, masked "hi".
        "/masked" => {
            let key = [1u8, 2, 3, 4];
            let mut f = vec![0x81, 0x80 | 2];
            f.extend_from_slice(&key);
            f.extend(hi.iter().zip(key).map(|(b, k)| b ^ k));
            f
        }
        "/fragmented-ping" => frame(0x09, hi),
        "/long-ping" => {
            let mut f = vec![0x89, 126, 0, 126];
            f.extend_from_slice(&[b'p'; 126]);
            f
        }
        "/continuation-without-start" => frame(0x80, hi),
        "/text-inside-fragmented-message" => [frame(0x01, b"a"), frame(0x81, b"b")].concat(),
        _ => return None,
    })
}

const MALFORMED: [&str; 10] = [
    "/rsv1",
    "/rsv2",
    "/rsv3",
    "/reserved-data-opcode",
    "/reserved-control-opcode",
    "/masked",
    "/fragmented-ping",
    "/long-ping",
    "/continuation-without-start",
    "/text-inside-fragmented-message",
];

/// A valid message, then `bad`; reports the client's close code.
fn valid_then(mut ws: ServerWs, bad: &[u8], seen: &Seen) {
    write_raw(&mut ws, &frame(0x81, b"before"));
    write_raw(&mut ws, bad);
    report_close(ws, seen);
}

#[test]
fn malformed_frames_fail_the_connection_with_1002() {
    watchdog(LIMIT, || {
        let (_server, client, seen) = setup(|path, ws, seen| {
            if let Some(bad) = malformed(path) {
                valid_then(ws, &bad, seen);
            }
        });
        for path in MALFORMED {
            assert_eq!(
                events_of(&client, path),
                [
                    "open".to_string(),
                    "message Text(\"before\")".into(),
                    error_event(ErrorKind::InvalidResponse, "protocol error"),
                    "close 1002 protocol error".into(),
                ],
                "{path}"
            );
            assert_eq!(seen.recv_timeout(SECS).unwrap(), "close 1002", "{path}");
        }
        every_slot_is_free(&client);
    });
}

#[test]
fn invalid_utf8_in_a_text_message_closes_with_1007() {
    watchdog(LIMIT, || {
        let (_server, client, seen) = setup(|path, ws, seen| {
            let bad = match path {
                "/invalid" => frame(0x81, &[b'o', b'k', 0xC3, 0x28]),
                // Each fragment is fine on its own terms; together they
                // are not UTF-8.
                "/invalid-across-fragments" => {
                    [frame(0x01, &[b'o', b'k', 0xE2, 0x82]), frame(0x80, &[0x28])].concat()
                }
                // Ends in the middle of a character.
                "/truncated" => frame(0x81, &[b'o', b'k', 0xE2, 0x82]),
                // "é" split across two fragments is valid.
                "/split-character" => {
                    let mut ws = ws;
                    write_raw(
                        &mut ws,
                        &[frame(0x01, &[b'c', b'a', b'f', 0xC3]), frame(0x80, &[0xA9])].concat(),
                    );
                    return report_close(ws, seen);
                }
                _ => return,
            };
            valid_then(ws, &bad, seen);
        });
        for path in ["/invalid", "/invalid-across-fragments", "/truncated"] {
            assert_eq!(
                events_of(&client, path),
                [
                    "open".to_string(),
                    "message Text(\"before\")".into(),
                    error_event(ErrorKind::InvalidResponse, "invalid payload data"),
                    "close 1007 invalid payload data".into(),
                ],
                "{path}"
            );
            assert_eq!(seen.recv_timeout(SECS).unwrap(), "close 1007", "{path}");
        }
        let task =
            client.connect_socket(ConnectSocketOptions::new(format!("{WS}/split-character")));
        let (log, closed) = record(&task);
        let (msg_tx, messages) = mpsc::channel();
        task.on_message(move |m| {
            let _ = msg_tx.send(m.clone());
        });
        assert_eq!(
            messages.recv_timeout(SECS).unwrap(),
            SocketMessage::Text("café".into())
        );
        task.close(1000, "").unwrap();
        assert_eq!(seen.recv_timeout(SECS).unwrap(), "close 1000");
        closed.recv_timeout(SECS).unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            ["open", "message Text(\"café\")", "close 1000 "]
        );
        every_slot_is_free(&client);
    });
}

#[test]
fn an_oversized_message_closes_with_1009_before_it_arrives() {
    watchdog(LIMIT, || {
        let (_server, client, seen) = setup(|path, ws, seen| {
            let bad = match path {
                // A frame header announcing 1 GiB; none of it follows.
                "/huge-frame" => {
                    let mut f = vec![0x82, 127];
                    f.extend_from_slice(&(1u64 << 30).to_be_bytes());
                    f
                }
                // Fragments of 64 KiB, each well under the cap, never ending.
                "/endless-fragments" => {
                    let mut f = vec![0x02, 127];
                    f.extend_from_slice(&65536u64.to_be_bytes());
                    f.extend_from_slice(&[b'f'; 65536]);
                    let mut cont = vec![0x00, 127];
                    cont.extend_from_slice(&65536u64.to_be_bytes());
                    cont.extend_from_slice(&[b'f'; 65536]);
                    for _ in 0..(MAX_MESSAGE / 65536) {
                        f.extend_from_slice(&cont);
                    }
                    f
                }
                _ => return,
            };
            valid_then(ws, &bad, seen);
        });
        for path in ["/huge-frame", "/endless-fragments"] {
            assert_eq!(
                events_of(&client, path),
                [
                    "open".to_string(),
                    "message Text(\"before\")".into(),
                    error_event(ErrorKind::Network, "message too big"),
                    "close 1009 message too big".into(),
                ],
                "{path}"
            );
            assert_eq!(seen.recv_timeout(SECS).unwrap(), "close 1009", "{path}");
        }
        every_slot_is_free(&client);
    });
}

#[test]
fn a_ping_flood_is_answered_and_the_socket_keeps_working() {
    const PINGS: u32 = 5000;
    watchdog(LIMIT, || {
        let (_server, client, seen) = setup(|_, mut ws, seen| {
            let mut flood = Vec::with_capacity(PINGS as usize * 6);
            for i in 0..PINGS {
                flood.extend_from_slice(&frame(0x89, &i.to_be_bytes()));
            }
            flood.extend_from_slice(&frame(0x81, b"after the flood"));
            write_raw(&mut ws, &flood);
            // Pongs may be merged (RFC 6455 §5.5.3: only the newest ping
            // needs one), but the newest must be answered.
            let (mut pongs, mut newest, mut text) = (0u32, None, None);
            while newest != Some(PINGS - 1) || text.is_none() {
                match ws.read() {
                    Ok(Message::Pong(p)) => {
                        pongs += 1;
                        newest = Some(u32::from_be_bytes(p[..].try_into().unwrap()));
                    }
                    Ok(Message::Text(t)) => text = Some(t),
                    Ok(other) => return report(seen, format!("unexpected {other:?}")),
                    Err(e) => return report(seen, format!("read error {e}")),
                }
            }
            report(seen, format!("pongs {}", pongs > 0));
            ws.send(Message::Text(format!("echo {}", text.unwrap()).into()))
                .unwrap();
            report_close(ws, seen);
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/flood")));
        let (log, closed) = record(&task);
        let (msg_tx, messages) = mpsc::channel();
        task.on_message(move |m| {
            let _ = msg_tx.send(m.clone());
        });
        assert_eq!(
            messages.recv_timeout(SECS).unwrap(),
            SocketMessage::Text("after the flood".into())
        );
        let t0 = Instant::now();
        task.send(SocketMessage::Text("hello".into())).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        assert_eq!(seen.recv_timeout(SECS).unwrap(), "pongs true");
        assert_eq!(
            messages.recv_timeout(SECS).unwrap(),
            SocketMessage::Text("echo hello".into())
        );
        task.close(1000, "done").unwrap();
        closed.recv_timeout(SECS).unwrap();
        assert_eq!(seen.recv_timeout(SECS).unwrap(), "close 1000");
        assert_eq!(
            *log.lock().unwrap(),
            [
                "open",
                "message Text(\"after the flood\")",
                "message Text(\"echo hello\")",
                "close 1000 done"
            ]
        );
        every_slot_is_free(&client);
    });
}

#[test]
fn tcp_closed_without_a_close_frame_gives_one_error_and_close_1006() {
    watchdog(LIMIT, || {
        let (_server, client, _seen) = setup(|path, mut ws, _| {
            write_raw(&mut ws, &frame(0x81, b"before"));
            match path {
                // Half a frame, then FIN (no TLS close_notify either).
                "/fin-mid-frame" => {
                    write_raw(&mut ws, &[0x81, 10, b'h', b'a']);
                    let _ = ws.get_ref().sock.shutdown(std::net::Shutdown::Both);
                }
                // A clean TLS end, but no WebSocket close frame.
                "/close-notify" => {
                    ws.get_mut().conn.send_close_notify();
                    let _ = ws.get_mut().flush();
                    let _ = ws.get_ref().sock.shutdown(std::net::Shutdown::Both);
                }
                "/rst" => {
                    let tcp = &ws.get_ref().sock;
                    let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
                }
                _ => {}
            }
        });
        for path in ["/fin-mid-frame", "/close-notify", "/rst"] {
            let events = events_of(&client, path);
            assert_eq!(events.len(), 4, "{path}: {events:?}");
            assert_eq!(events[..2], ["open", "message Text(\"before\")"], "{path}");
            assert!(
                events[2].starts_with(&format!(
                    "error {:?} 600001 connectSocket:fail ",
                    ErrorKind::ConnectionReset
                )),
                "{path}: {events:?}"
            );
            assert_eq!(events[3], "close 1006 abnormal closure", "{path}");
        }
        every_slot_is_free(&client);
    });
}

#[test]
fn plain_ws_closed_without_a_close_frame_gives_one_error_and_close_1006() {
    watchdog(LIMIT, || {
        let server = common::RawServer::start(|tcp| {
            let Ok(mut ws) = tungstenite::accept(tcp) else {
                return;
            };
            let _ = ws.send(Message::Text("before".into()));
            let _ = ws.get_ref().shutdown(std::net::Shutdown::Both);
        });
        let client = Client::builder().skip_domain_check(true).build().unwrap();
        let path = format!("ws://{}/", server.addr());
        let task = client.connect_socket(ConnectSocketOptions::new(path));
        let (log, closed) = record(&task);
        closed.recv_timeout(SECS).unwrap();
        assert!(closed.recv_timeout(Duration::from_millis(50)).is_err());
        let events = log.lock().unwrap().clone();
        assert_eq!(events.len(), 4, "{events:?}");
        assert_eq!(events[..2], ["open", "message Text(\"before\")"]);
        assert_eq!(
            events[2],
            error_event(ErrorKind::ConnectionReset, "connection closed abnormally"),
            "{events:?}"
        );
        assert_eq!(events[3], "close 1006 abnormal closure");
    });
}

#[test]
fn a_peer_that_never_answers_our_close_is_dropped_after_the_close_timeout() {
    watchdog(LIMIT, || {
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let g = gate.clone();
        let (_server, client, seen) = setup(move |_, ws, seen| {
            // Read nothing until the client has given up on us.
            let (open, cv) = &*g;
            let open = open.lock().unwrap();
            drop(cv.wait_timeout_while(open, LIMIT, |o| !*o).unwrap());
            report_close(ws, seen);
        });
        let others: Vec<_> = (1..wxnet::MAX_SOCKETS)
            .map(|_| client.connect_socket(ConnectSocketOptions::new(format!("{WS}/echo"))))
            .collect();
        for t in &others {
            t.wait_open(SECS).unwrap();
        }
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/mute")));
        let (log, closed) = record(&task);
        task.wait_open(SECS).unwrap();
        let t0 = Instant::now();
        task.close(4000, "bye").unwrap();
        // The slot is held until the close event.
        let refused = client
            .connect_socket(ConnectSocketOptions::new(format!("{WS}/echo")))
            .wait_open(SECS)
            .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::TooManySockets);
        closed.recv_timeout(LIMIT - Duration::from_secs(2)).unwrap();
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_secs(4) && took < Duration::from_secs(7),
            "{took:?}"
        );
        assert!(closed.recv_timeout(Duration::from_millis(50)).is_err());
        assert_eq!(*log.lock().unwrap(), ["open", "close 4000 bye"]);
        // Our close frame did go out.
        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
        assert_eq!(seen.recv_timeout(SECS).unwrap(), "close 4000");
        // The freed slot takes a new socket.
        let again = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/echo")));
        again.wait_open(SECS).unwrap();
        drop(others);
    });
}

/// Messages of 64 KiB: the client keeps 15 for a listener and then stops
/// reading, so 32 of them fill its kept cap and the network between.
const FLOOD_MESSAGE: usize = 64 * 1024;
const FLOOD_COUNT: usize = 32;

/// Flood a client nobody reads from, then (unless `answer` is false)
/// answer its close; it must still close, and free its slot.
fn a_flooded_socket_nobody_reads_can_close(answer: bool) {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let done_rx = Mutex::new(done_rx);
    let (_server, client, seen) = setup(move |_, mut ws, seen| {
        for i in 1..=FLOOD_COUNT {
            if ws
                .send(Message::Binary(vec![b'x'; FLOOD_MESSAGE].into()))
                .is_err()
            {
                return report(seen, "send failed".into());
            }
            if i == 17 {
                // Past what the client keeps: its reader waits for room.
                report(seen, "flooded".into());
            }
        }
        if !answer {
            // Hold the connection, read nothing, until the test ends.
            let _ = done_rx.lock().unwrap().recv_timeout(LIMIT);
            return;
        }
        loop {
            match ws.read() {
                Ok(Message::Close(f)) => {
                    let _ = ws.flush();
                    return report(seen, format!("close {:?}", f.map(|f| u16::from(f.code))));
                }
                Ok(_) => {}
                Err(e) => return report(seen, format!("read error {e}")),
            }
        }
    });
    let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/flood")));
    let (closed_tx, closed) = mpsc::channel();
    let (errors_tx, errors) = mpsc::channel();
    task.on_close(move |c| {
        let _ = closed_tx.send((c.code, c.reason.clone()));
    });
    task.on_error(move |e| {
        let _ = errors_tx.send(e.err_msg().to_owned());
    });
    task.wait_open(SECS).unwrap();
    assert_eq!(seen.recv_timeout(SECS).unwrap(), "flooded");
    let t0 = Instant::now();
    task.close(1000, "").unwrap();
    let close = closed.recv_timeout(LIMIT - Duration::from_secs(2)).unwrap();
    let took = t0.elapsed();
    assert_eq!(close, (1000, String::new()));
    if answer {
        assert_eq!(seen.recv_timeout(SECS).unwrap(), "close Some(1000)");
        assert!(took < Duration::from_secs(4), "{took:?}");
    } else {
        assert!(
            took >= Duration::from_secs(4) && took < Duration::from_secs(7),
            "{took:?}"
        );
    }
    assert!(closed.recv_timeout(Duration::from_millis(50)).is_err());
    assert!(errors.try_recv().is_err());
    assert_eq!(task.ready_state(), wxnet::ReadyState::Closed);
    every_slot_is_free(&client);
    drop(done_tx);
}

#[test]
fn a_flooded_socket_nobody_reads_closes_when_the_peer_answers() {
    watchdog(LIMIT, || a_flooded_socket_nobody_reads_can_close(true));
}

#[test]
fn a_flooded_socket_nobody_reads_closes_after_the_close_timeout() {
    watchdog(LIMIT, || a_flooded_socket_nobody_reads_can_close(false));
}
