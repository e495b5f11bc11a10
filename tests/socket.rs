//! `connect_socket`, `SocketTask` and the global socket functions
//! (opening, messages, closing, the five-socket limit) against loopback
//! `wss://` servers.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{ServerWs, TestPki, Upgrade, WsServer, watchdog};
use tungstenite::Message;
use wxnet::{
    Client, ConnectSocketOptions, ErrorKind, ReadyState, SocketClose, SocketMessage, SocketTask,
};

const WS: &str = "wss://ws.example.com";
const SECS: Duration = Duration::from_secs(5);

fn client_for(pki: &TestPki, addr: std::net::SocketAddr) -> Client {
    Client::builder()
        .app_id("wxtest")
        .socket_domains([WS])
        .add_root_certificate(pki.ca_pem())
        .unwrap()
        .resolve("ws.example.com", addr)
        .build()
        .unwrap()
}

fn server(handler: impl Fn(ServerWs, Upgrade) + Send + Sync + 'static) -> (WsServer, Client) {
    let pki = TestPki::new();
    let s = WsServer::start(
        pki.server_config(&pki.identity(&["ws.example.com"])),
        handler,
    );
    let c = client_for(&pki, s.addr());
    (s, c)
}

fn echo() -> (WsServer, Client) {
    let pki = TestPki::new();
    let s = WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
    let c = client_for(&pki, s.addr());
    (s, c)
}

/// Every event of a socket, in order, as text.
fn record(task: &SocketTask) -> (Arc<Mutex<Vec<String>>>, mpsc::Receiver<SocketClose>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    task.on_open(move |_| l.lock().unwrap().push("open".into()));
    let l = log.clone();
    task.on_message(move |m| l.lock().unwrap().push(format!("message {m:?}")));
    let l = log.clone();
    task.on_error(move |e| l.lock().unwrap().push(format!("error {}", e.err_msg())));
    let l = log.clone();
    task.on_close(move |c| {
        l.lock()
            .unwrap()
            .push(format!("close {} {}", c.code, c.reason));
        let _ = tx.send(c.clone());
    });
    (log, rx)
}

#[test]
fn echo_text_and_binary_with_protocol_headers_and_referer() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = echo();
        let task = client.connect_socket(
            ConnectSocketOptions::new(format!("{WS}/chat?room=1"))
                .header("x-token", "abc")
                .header("Referer", "https://evil.example.net/")
                .protocols(["chat.v2", "chat.v1"]),
        );
        let open = task.wait_open(SECS).unwrap();
        assert_eq!(open.header.get("sec-websocket-protocol"), Some("chat.v2"));
        assert_eq!(open.header.get("x-server"), Some("wxnet-test"));
        assert!(open.profile.ssl_connection_end.is_some());
        assert_eq!(task.ready_state(), ReadyState::Open);
        task.send(SocketMessage::Text("你好".into())).unwrap();
        task.send(SocketMessage::Binary(vec![0, 1, 255])).unwrap();
        assert_eq!(
            task.recv(SECS).unwrap(),
            Some(SocketMessage::Text("你好".into()))
        );
        assert_eq!(
            task.recv(SECS).unwrap(),
            Some(SocketMessage::Binary(vec![0, 1, 255]))
        );
        let up = &server.upgrades()[0];
        assert_eq!(up.path, "/chat?room=1");
        assert_eq!(up.header("x-token"), Some("abc"));
        assert_eq!(
            up.header("referer"),
            Some("https://servicewechat.com/wxtest/0/page-frame.html")
        );
        let (log, closed) = record(&task);
        task.close(1000, "bye").unwrap();
        let c = closed.recv_timeout(SECS).unwrap();
        assert_eq!((c.code, c.reason.as_str()), (1000, "bye"));
        assert_eq!(task.ready_state(), ReadyState::Closed);
        // The open event was delivered to the late on_open; one close.
        assert_eq!(*log.lock().unwrap(), ["open", "close 1000 bye"]);
        assert_eq!(
            task.send("late".into()).unwrap_err().err_msg(),
            "SocketTask.send:fail SocketTask.readyState is not OPEN"
        );
    });
}

#[test]
fn listeners_registered_late_miss_neither_open_nor_early_messages() {
    watchdog(Duration::from_secs(10), || {
        let (sent_tx, sent_rx) = mpsc::channel();
        let sent_tx = Mutex::new(sent_tx);
        let (_server, client) = server(move |mut ws, _| {
            for i in 0..3 {
                ws.send(Message::Text(format!("early {i}").into())).unwrap();
            }
            sent_tx.lock().unwrap().send(()).unwrap();
            while ws.read().is_ok() {}
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        sent_rx.recv_timeout(SECS).unwrap();
        // Wait until the client has surely read them: a round trip.
        let (log, _closed) = {
            task.wait_open(SECS).unwrap();
            record(&task)
        };
        let deadline = Instant::now() + SECS;
        while log.lock().unwrap().len() < 4 {
            assert!(Instant::now() < deadline, "{:?}", log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            *log.lock().unwrap(),
            [
                "open",
                "message Text(\"early 0\")",
                "message Text(\"early 1\")",
                "message Text(\"early 2\")"
            ]
        );
    });
}

#[test]
fn a_sixth_socket_fails_and_a_closed_one_frees_its_slot() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        let tasks: Vec<_> = (0..wxnet::MAX_SOCKETS)
            .map(|_| client.connect_socket(ConnectSocketOptions::new(format!("{WS}/"))))
            .collect();
        for t in &tasks {
            t.wait_open(SECS).unwrap();
        }
        let fails = Arc::new(AtomicUsize::new(0));
        let f = fails.clone();
        let (done_tx, done_rx) = mpsc::channel();
        let sixth = client.connect_socket(
            ConnectSocketOptions::new(format!("{WS}/"))
                .fail(move |e| {
                    assert_eq!(
                        e.err_msg(),
                        "connectSocket:fail exceed max concurrent count"
                    );
                    f.fetch_add(1, Ordering::SeqCst);
                })
                .complete(move || done_tx.send(()).unwrap()),
        );
        // Refused at once; the callbacks follow on a library thread.
        assert_eq!(sixth.ready_state(), ReadyState::Closed);
        done_rx.recv_timeout(SECS).unwrap();
        assert_eq!(fails.load(Ordering::SeqCst), 1);
        let (_, closed) = record(&tasks[0]);
        tasks[0].close(1000, "").unwrap();
        closed.recv_timeout(SECS).unwrap();
        let again = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        assert!(again.wait_open(SECS).is_ok());
    });
}

#[test]
fn close_arguments_are_validated() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        for code in [0u16, 999, 1001, 1005, 2999, 5000] {
            let e = task.close(code, "").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{code}");
            assert!(
                e.err_msg()
                    .starts_with("SocketTask.close:fail invalid argument")
            );
        }
        let e = task.close(1000, &"x".repeat(124)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(task.ready_state(), ReadyState::Open);
        let (_, closed) = record(&task);
        task.close(4999, &"é".repeat(61)).unwrap();
        assert_eq!(closed.recv_timeout(SECS).unwrap().code, 4999);
    });
}

#[test]
fn send_before_open_fails_with_the_ready_state_error() {
    watchdog(Duration::from_secs(10), || {
        let hole = common::blackhole();
        let client = Client::builder()
            .socket_domains([WS])
            .resolve("ws.example.com", hole.addr)
            .build()
            .unwrap();
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        assert_eq!(task.ready_state(), ReadyState::Connecting);
        let e = task.send("x".into()).unwrap_err();
        assert_eq!(
            e.err_msg(),
            "SocketTask.send:fail SocketTask.readyState is not OPEN"
        );
        // Closing while connecting abandons the attempt promptly.
        let (log, closed) = record(&task);
        task.close(3001, "never mind").unwrap();
        let c = closed.recv_timeout(SECS).unwrap();
        assert_eq!((c.code, c.reason.as_str()), (3001, "never mind"));
        assert_eq!(*log.lock().unwrap(), ["close 3001 never mind"]);
    });
}

#[test]
fn server_close_is_reported_once_with_its_code() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = server(|mut ws, _| {
            ws.close(Some(tungstenite::protocol::CloseFrame {
                code: 4000.into(),
                reason: "server bye".into(),
            }))
            .unwrap();
            while ws.read().is_ok() {}
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        let (log, closed) = record(&task);
        let c = closed.recv_timeout(SECS).unwrap();
        assert_eq!((c.code, c.reason.as_str()), (4000, "server bye"));
        assert!(closed.recv_timeout(Duration::from_millis(200)).is_err());
        assert_eq!(*log.lock().unwrap(), ["open", "close 4000 server bye"]);
    });
}

#[test]
fn abrupt_tcp_close_gives_one_error_and_close_1006() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = server(|mut ws, _| {
            ws.send(Message::Text("last".into())).unwrap();
            let _ = ws.get_mut().sock.shutdown(std::net::Shutdown::Both);
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        let (log, closed) = record(&task);
        assert_eq!(closed.recv_timeout(SECS).unwrap().code, 1006);
        let log = log.lock().unwrap().clone();
        assert_eq!(log[0], "open");
        assert_eq!(log[1], "message Text(\"last\")");
        assert!(log[2].starts_with("error connectSocket:fail"), "{log:?}");
        assert_eq!(log[3], "close 1006 abnormal closure");
        assert_eq!(log.len(), 4);
        let e = task.recv(SECS).unwrap_err();
        assert_eq!((e.kind(), e.errno()), (ErrorKind::ConnectionReset, 600001));
    });
}

#[test]
fn connection_failures_give_one_error_and_close_and_free_the_slot() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        // Unknown CA.
        let s = WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
        let untrusting = Client::builder()
            .socket_domains([WS])
            .resolve("ws.example.com", s.addr())
            .build()
            .unwrap();
        let task = untrusting.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        let (log, closed) = record(&task);
        assert_eq!(closed.recv_timeout(SECS).unwrap().code, 1006);
        assert_eq!(
            *log.lock().unwrap(),
            [
                "error connectSocket:fail ssl hand shake error",
                "close 1006 abnormal closure"
            ]
        );
        let e = task.wait_open(SECS).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);

        // Handshake rejected with 403.
        let http = common::HttpServer::start(
            pki.server_config(&pki.identity(&["ws.example.com"])),
            |_, c| c.respond(403, &[], b"go away"),
        );
        let client = client_for(&pki, http.addr());
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        let (log, closed) = record(&task);
        closed.recv_timeout(SECS).unwrap();
        assert_eq!(
            log.lock().unwrap()[0],
            "error connectSocket:fail websocket handshake failed: status 403"
        );
        let e = task.wait_open(SECS).unwrap_err();
        assert_eq!((e.kind(), e.errno()), (ErrorKind::InvalidResponse, 600001));

        // Upgrade never answered: handshake timeout.
        let silent = common::HttpServer::start(
            pki.server_config(&pki.identity(&["ws.example.com"])),
            |_, c| {
                c.peer_closed_wait(Duration::from_secs(8));
            },
        );
        let client = client_for(&pki, silent.addr());
        let t0 = Instant::now();
        let task = client.connect_socket(
            ConnectSocketOptions::new(format!("{WS}/")).timeout(Duration::from_millis(500)),
        );
        let (log, closed) = record(&task);
        closed.recv_timeout(SECS).unwrap();
        assert!(
            t0.elapsed() < Duration::from_millis(1500),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(
            *log.lock().unwrap(),
            [
                "error connectSocket:fail timeout",
                "close 1006 abnormal closure"
            ]
        );
        // Every slot is free again.
        let ok = WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
        let client = client_for(&pki, ok.addr());
        let tasks: Vec<_> = (0..wxnet::MAX_SOCKETS)
            .map(|_| client.connect_socket(ConnectSocketOptions::new(format!("{WS}/"))))
            .collect();
        assert!(tasks.iter().all(|t| t.wait_open(SECS).is_ok()));
    });
}

#[test]
fn sends_from_four_threads_lose_and_mix_nothing() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done_rx) = mpsc::channel();
        let g = got.clone();
        task.on_message(move |m| {
            let mut v = g.lock().unwrap();
            v.push(m.clone());
            if v.len() == 1000 {
                done_tx.send(()).unwrap();
            }
        });
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let task = task.clone();
                std::thread::spawn(move || {
                    for i in 0..250 {
                        let body = format!("{t}:{i}:{}", "x".repeat(i % 97));
                        if i % 2 == 0 {
                            task.send(SocketMessage::Text(body)).unwrap();
                        } else {
                            task.send(SocketMessage::Binary(body.into_bytes())).unwrap();
                        }
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        done_rx.recv_timeout(SECS).unwrap();
        let got = got.lock().unwrap();
        let mut seen: Vec<String> = got
            .iter()
            .map(|m| match m {
                SocketMessage::Text(s) => s.clone(),
                SocketMessage::Binary(b) => String::from_utf8(b.clone()).unwrap(),
            })
            .collect();
        seen.sort();
        let mut want: Vec<String> = (0..4)
            .flat_map(|t| (0..250).map(move |i| format!("{t}:{i}:{}", "x".repeat(i % 97))))
            .collect();
        want.sort();
        assert_eq!(seen, want);
    });
}

#[test]
fn pings_are_answered_and_oversized_messages_close_with_1009() {
    watchdog(Duration::from_secs(10), || {
        let (pong_tx, pong_rx) = mpsc::channel();
        let pong_tx = Mutex::new(pong_tx);
        let (_server, client) = server(move |mut ws, _| {
            ws.send(Message::Ping(b"srv".to_vec().into())).unwrap();
            loop {
                match ws.read() {
                    Ok(Message::Pong(p)) => {
                        pong_tx.lock().unwrap().send(p.to_vec()).unwrap();
                        ws.send(Message::Binary(vec![0u8; 2 * 1024 * 1024].into()))
                            .unwrap();
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        let (log, closed) = record(&task);
        assert_eq!(pong_rx.recv_timeout(SECS).unwrap(), b"srv");
        let c = closed.recv_timeout(SECS).unwrap();
        assert_eq!(c.code, 1009);
        assert_eq!(
            log.lock().unwrap()[1],
            "error connectSocket:fail message too big"
        );
        let e = task.recv(SECS).unwrap_err();
        assert_eq!((e.kind(), e.errno()), (ErrorKind::Network, 600001));
    });
}

#[test]
fn global_functions_act_on_the_earliest_open_socket() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        let e = client.send_socket_message("x".into()).unwrap_err();
        assert_eq!(
            e.err_msg(),
            "sendSocketMessage:fail WebSocket is not connected"
        );
        let e = client.close_socket(1000, "").unwrap_err();
        assert_eq!(e.err_msg(), "closeSocket:fail WebSocket is not connected");

        // Listeners set before any socket attach to the next one.
        let (open_tx, open_rx) = mpsc::channel();
        let open_tx = Mutex::new(open_tx);
        client.on_socket_open(move |_| open_tx.lock().unwrap().send(()).unwrap());
        let (msg_tx, msg_rx) = mpsc::channel();
        let msg_tx = Mutex::new(msg_tx);
        client.on_socket_message(move |m| msg_tx.lock().unwrap().send(m.clone()).unwrap());
        let (close_tx, close_rx) = mpsc::channel();
        let close_tx = Mutex::new(close_tx);
        client.on_socket_close(move |c| close_tx.lock().unwrap().send(c.code).unwrap());

        let first = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/1")));
        open_rx.recv_timeout(SECS).unwrap();
        let second = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/2")));
        second.wait_open(SECS).unwrap();
        client.send_socket_message("to the first".into()).unwrap();
        assert_eq!(
            msg_rx.recv_timeout(SECS).unwrap(),
            SocketMessage::Text("to the first".into())
        );
        client.close_socket(1000, "done").unwrap();
        assert_eq!(close_rx.recv_timeout(SECS).unwrap(), 1000);
        assert_eq!(first.ready_state(), ReadyState::Closed);
        // Now the second is the earliest.
        client.send_socket_message("to the second".into()).unwrap();
        assert_eq!(
            second.recv(SECS).unwrap(),
            Some(SocketMessage::Text("to the second".into()))
        );
    });
}

#[test]
fn dropping_the_client_closes_sockets_with_1001() {
    watchdog(Duration::from_secs(10), || {
        let (code_tx, code_rx) = mpsc::channel();
        let code_tx = Mutex::new(code_tx);
        let (_server, client) = server(move |mut ws, _| {
            loop {
                match ws.read() {
                    Ok(Message::Close(f)) => {
                        code_tx
                            .lock()
                            .unwrap()
                            .send(f.map(|f| u16::from(f.code)))
                            .unwrap();
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        let (_, closed) = record(&task);
        drop(client);
        assert_eq!(code_rx.recv_timeout(SECS).unwrap(), Some(1001));
        let c = closed.recv_timeout(SECS).unwrap();
        assert_eq!(c.code, 1001);
        assert_eq!(task.ready_state(), ReadyState::Closed);
    });
}

#[test]
fn background_closes_sockets_after_five_seconds() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        let (log, closed) = record(&task);
        let t0 = Instant::now();
        client.enter_background();
        let c = closed.recv_timeout(Duration::from_secs(8)).unwrap();
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_secs(5) && took < Duration::from_secs(7),
            "{took:?}"
        );
        assert_eq!(c.code, 1001);
        assert_eq!(
            *log.lock().unwrap(),
            [
                "open",
                "error connectSocket:fail interrupted",
                "close 1001 interrupted"
            ]
        );
        let e = client
            .connect_socket(ConnectSocketOptions::new(format!("{WS}/")))
            .wait_open(SECS)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Interrupted);
        client.enter_foreground();
        assert!(
            client
                .connect_socket(ConnectSocketOptions::new(format!("{WS}/")))
                .wait_open(SECS)
                .is_ok()
        );
    });
}

#[test]
fn refused_urls_fail_at_once() {
    let (server, client) = echo();
    for (url, msg) in [
        (
            "ws://ws.example.com/",
            "connectSocket:fail invalid url \"ws://ws.example.com/\"",
        ),
        (
            "wss://other.example.com/",
            "connectSocket:fail url not in domain list",
        ),
        (
            "wss://127.0.0.1/",
            "connectSocket:fail url not in domain list",
        ),
    ] {
        let (tx, rx) = mpsc::channel();
        let task = client.connect_socket(
            ConnectSocketOptions::new(url).fail(move |e| tx.send(e.err_msg().to_owned()).unwrap()),
        );
        assert_eq!(task.ready_state(), ReadyState::Closed);
        assert_eq!(rx.recv_timeout(SECS).unwrap(), msg);
    }
    assert_eq!(server.connections_accepted(), 0);
}

#[test]
fn skip_domain_check_allows_plain_ws_to_an_ip() {
    watchdog(Duration::from_secs(10), || {
        let plain = common::RawServer::start(|tcp| {
            let Ok(mut ws) = tungstenite::accept(tcp) else {
                return;
            };
            while let Ok(m) = ws.read() {
                if m.is_text() && ws.send(m).is_err() {
                    return;
                }
            }
        });
        let client = Client::builder().skip_domain_check(true).build().unwrap();
        let task = client.connect_socket(ConnectSocketOptions::new(format!(
            "ws://127.0.0.1:{}/",
            plain.addr().port()
        )));
        task.wait_open(SECS).unwrap();
        task.send("plain".into()).unwrap();
        assert_eq!(
            task.recv(SECS).unwrap(),
            Some(SocketMessage::Text("plain".into()))
        );
    });
}

#[test]
fn several_listeners_hear_each_message_and_off_removes_one_or_all() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        let (tx, rx) = mpsc::channel();
        let listener = |name: &'static str| {
            let tx = Mutex::new(tx.clone());
            move |m: &SocketMessage| tx.lock().unwrap().send((name, m.clone())).unwrap()
        };
        let a = task.on_message(listener("a"));
        let b = task.on_message(listener("b"));
        assert_ne!(a, b);
        task.send("1".into()).unwrap();
        let got = [
            rx.recv_timeout(SECS).unwrap(),
            rx.recv_timeout(SECS).unwrap(),
        ];
        assert_eq!(got, [("a", "1".into()), ("b", "1".into())]);

        assert!(task.off_message(Some(a)));
        assert!(!task.off_message(Some(a)));
        task.send("2".into()).unwrap();
        assert_eq!(rx.recv_timeout(SECS).unwrap(), ("b", "2".into()));

        assert!(task.off_message(None));
        task.send("3".into()).unwrap();
        // Without listeners the message is kept for recv again.
        assert_eq!(task.recv(SECS).unwrap(), Some("3".into()));
        assert!(rx.try_recv().is_err());
    });
}

#[test]
fn late_listeners_get_the_kept_open_and_close_once_on_a_library_thread() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        let (_, closed) = record(&task);
        task.close(1000, "bye").unwrap();
        closed.recv_timeout(SECS).unwrap();

        let me = std::thread::current().id();
        let (tx, rx) = mpsc::channel();
        for name in ["x", "y"] {
            let t = Mutex::new(tx.clone());
            task.on_open(move |_| {
                let on = std::thread::current().id();
                t.lock()
                    .unwrap()
                    .send((name, "open".to_owned(), on))
                    .unwrap()
            });
            let t = Mutex::new(tx.clone());
            task.on_close(move |c| {
                let on = std::thread::current().id();
                t.lock()
                    .unwrap()
                    .send((name, format!("close {}", c.code), on))
                    .unwrap()
            });
        }
        let got: Vec<_> = (0..4).map(|_| rx.recv_timeout(SECS).unwrap()).collect();
        assert!(
            got.iter().all(|(_, _, on)| *on != me),
            "ran on the caller's thread"
        );
        // Each listener's events in order: open before close.
        for name in ["x", "y"] {
            let mine: Vec<_> = got.iter().filter(|g| g.0 == name).map(|g| &g.1).collect();
            assert_eq!(mine, ["open", "close 1000"], "{name}");
        }
        // Exactly once.
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    });
}

#[test]
fn shutdown_waits_for_a_refused_sockets_callbacks() {
    watchdog(Duration::from_secs(10), || {
        let client = Client::builder().socket_domains([WS]).build().unwrap();
        let (entered_tx, entered) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let (finished_tx, finished) = mpsc::channel();
        let released = Mutex::new(released);
        let refused = ConnectSocketOptions::new("wss://other.example.com/").fail(move |_| {
            entered_tx.send(()).unwrap();
            let _ = released.lock().unwrap().recv_timeout(SECS);
            finished_tx.send(()).unwrap();
        });
        let refused = client.connect_socket(refused);
        assert_eq!(refused.ready_state(), ReadyState::Closed);
        entered.recv_timeout(SECS).unwrap();

        let (returned_tx, returned) = mpsc::channel();
        let closer = client.clone();
        std::thread::spawn(move || {
            closer.shutdown();
            returned_tx.send(()).unwrap();
        });
        assert!(
            returned.recv_timeout(Duration::from_millis(200)).is_err(),
            "shutdown returned while a refused socket's fail still ran"
        );
        release.send(()).unwrap();
        returned.recv_timeout(SECS).unwrap();
        // It had finished before shutdown returned.
        finished.try_recv().unwrap();
    });
}

#[test]
fn a_listener_can_register_and_remove_listeners_from_inside_its_call() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let inner = task.clone();
        task.on_open(move |_| {
            let tx = Mutex::new(tx.lock().unwrap().clone());
            let id = inner.on_message(move |m| tx.lock().unwrap().send(m.clone()).unwrap());
            inner.send("from the open listener".into()).unwrap();
            // Adding and removing from inside a call neither deadlocks nor
            // loses the listener that stays.
            let gone = inner.on_close(|_| {});
            assert!(inner.off_close(Some(gone)));
            assert_ne!(id, gone);
        });
        assert_eq!(
            rx.recv_timeout(SECS).unwrap(),
            SocketMessage::Text("from the open listener".into())
        );
    });
}

#[test]
fn messages_past_the_kept_cap_wait_in_the_network_and_none_is_lost() {
    watchdog(Duration::from_secs(10), || {
        // 3 MiB in 300 messages: more than is kept for recv at once.
        let (_server, client) = server(|mut ws, _| {
            for i in 0..300u32 {
                let mut body = vec![0u8; 10 * 1024];
                body[..4].copy_from_slice(&i.to_be_bytes());
                ws.send(Message::Binary(body.into())).unwrap();
            }
            while ws.read().is_ok() {}
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        for i in 0..150u32 {
            let Some(SocketMessage::Binary(b)) = task.recv(SECS).unwrap() else {
                panic!("message {i} missing");
            };
            assert_eq!(b[..4], i.to_be_bytes());
        }
        // The rest goes to a listener registered now, in order.
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        task.on_message(move |m| tx.lock().unwrap().send(m.clone()).unwrap());
        for i in 150..300u32 {
            let SocketMessage::Binary(b) = rx.recv_timeout(SECS).unwrap() else {
                panic!("message {i} not binary");
            };
            assert_eq!(b[..4], i.to_be_bytes());
        }
    });
}

#[test]
fn no_callback_runs_inside_connect_socket_or_on_open() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        // Held across each call; every callback takes it, so a callback
        // run inside a call would deadlock (and the watchdog would fire).
        let held = Arc::new(Mutex::new(()));
        let me = std::thread::current().id();
        let (tx, rx) = mpsc::channel();
        let callback = |what: &'static str| {
            let (held, tx) = (held.clone(), Mutex::new(tx.clone()));
            move || {
                let _g = held.lock().unwrap();
                let on = std::thread::current().id();
                tx.lock().unwrap().send((what, on)).unwrap();
            }
        };
        let guard = held.lock().unwrap();
        let (success, complete) = (callback("success"), callback("complete"));
        let task = client.connect_socket(
            ConnectSocketOptions::new(format!("{WS}/"))
                .success(success)
                .complete(complete),
        );
        drop(guard);
        task.wait_open(SECS).unwrap();
        let guard = held.lock().unwrap();
        let open = callback("late open");
        task.on_open(move |_| open());
        drop(guard);
        // Refused calls too.
        let guard = held.lock().unwrap();
        let (fail, complete) = (callback("fail"), callback("refused complete"));
        let refused = client.connect_socket(
            ConnectSocketOptions::new("wss://elsewhere.example.com/")
                .fail(move |_| fail())
                .complete(complete),
        );
        assert_eq!(refused.ready_state(), ReadyState::Closed);
        drop(guard);
        let mut got: Vec<_> = (0..5).map(|_| rx.recv_timeout(SECS).unwrap()).collect();
        assert!(got.iter().all(|(_, on)| *on != me), "{got:?}");
        got.sort_by_key(|g| g.0);
        let names: Vec<_> = got.iter().map(|g| g.0).collect();
        assert_eq!(
            names,
            [
                "complete",
                "fail",
                "late open",
                "refused complete",
                "success"
            ]
        );
    });
}

#[test]
fn a_global_listener_id_works_with_the_socket_it_moved_to() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = echo();
        let (tx, rx) = mpsc::channel::<u16>();
        let tx = Mutex::new(tx);
        // No socket yet: kept for the next one, under the same id.
        let id = client.on_socket_close(move |c| tx.lock().unwrap().send(c.code).unwrap());
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        assert!(task.off_close(Some(id)));
        // Removed: the listener and its sender are gone.
        assert_eq!(
            rx.recv_timeout(SECS),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
        let id = client.on_socket_open(|_| {});
        assert!(task.off_open(Some(id)));
    });
}

#[test]
fn messages_before_the_peers_close_past_the_kept_cap_are_all_taken() {
    watchdog(Duration::from_secs(10), || {
        // 2 MiB and then the close frame: the close waits behind them.
        let (_server, client) = server(|mut ws, _| {
            for i in 0..200u32 {
                let mut body = vec![0u8; 10 * 1024];
                body[..4].copy_from_slice(&i.to_be_bytes());
                ws.send(Message::Binary(body.into())).unwrap();
            }
            let _ = ws.close(None);
            while ws.read().is_ok() {}
        });
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        let (closes, closed) = mpsc::channel();
        task.on_close(move |c| {
            let _ = closes.send(c.code);
        });
        task.wait_open(SECS).unwrap();
        for i in 0..200u32 {
            let Some(SocketMessage::Binary(b)) = task.recv(SECS).unwrap() else {
                panic!("message {i} missing");
            };
            assert_eq!(b[..4], i.to_be_bytes());
        }
        assert_eq!(closed.recv_timeout(SECS).unwrap(), 1005);
        assert!(task.recv(SECS).is_err());
    });
}

#[test]
fn a_listener_that_adds_a_late_listener_then_shuts_down_returns() {
    // The added listener's kept open event waits for the listener that
    // runs now: shutdown must not wait for it from inside that listener.
    watchdog(Duration::from_secs(8), || {
        let (_server, client) = echo();
        let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        task.wait_open(SECS).unwrap();
        let (tx, rx) = mpsc::channel();
        let (inner, c) = (task.clone(), Mutex::new(Some(client.clone())));
        let tx = Mutex::new(tx);
        task.on_message(move |_| {
            inner.on_open(|_| {});
            if let Some(c) = c.lock().unwrap().take() {
                c.shutdown();
            }
            let _ = tx.lock().unwrap().send(());
        });
        task.send("x".into()).unwrap();
        rx.recv_timeout(SECS).unwrap();
    });
}
