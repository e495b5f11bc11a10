//! The pool, deadlines, abort, background and shutdown:
//! every call ends in exactly one success-or-fail and one complete.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use common::{Conn, HttpServer, Request, TestPki, watchdog};
use wxnet::{Client, ErrorKind, RequestOptions};

const API: &str = "https://api.example.com";

fn setup_with(
    configure: impl FnOnce(wxnet::ClientBuilder) -> wxnet::ClientBuilder,
    handler: impl Fn(&Request, &mut Conn) + Send + Sync + 'static,
) -> (HttpServer, Client) {
    let pki = TestPki::new();
    let server = HttpServer::start(
        pki.server_config(&pki.identity(&["api.example.com"])),
        handler,
    );
    let builder = common::client_builder(&pki, &server).request_domains([API]);
    (server, configure(builder).build().unwrap())
}

/// Handler that holds `/stall` requests until the client goes away.
fn stalling(r: &Request, c: &mut Conn) {
    if r.path.starts_with("/stall") {
        c.peer_closed_wait(Duration::from_secs(20));
        c.close();
    } else {
        c.respond(200, &[], b"ok");
    }
}

fn stalled(client: &Client, n: usize) -> Vec<wxnet::RequestTask> {
    (0..n)
        .map(|i| client.request(RequestOptions::new(format!("{API}/stall/{i}"))))
        .collect()
}

/// Occupy `n` workers with stalled calls, one at a time so the queue
/// never holds them: each is on the server before the next is made.
fn occupy(server: &HttpServer, client: &Client, n: usize) -> Vec<wxnet::RequestTask> {
    (0..n)
        .map(|i| {
            let t = client.request(RequestOptions::new(format!("{API}/stall/busy{i}")));
            server.wait_for_requests(1, Duration::from_secs(5));
            t
        })
        .collect()
}

#[test]
fn never_more_than_ten_requests_at_once_and_the_rest_queue() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(
            |b| b,
            |_, c| {
                std::thread::sleep(Duration::from_millis(40));
                c.respond(200, &[], b"ok")
            },
        );
        let tasks: Vec<_> = (0..50)
            .map(|i| client.request(RequestOptions::new(format!("{API}/{i}"))))
            .collect();
        for t in tasks {
            assert_eq!(t.wait().unwrap().status_code, 200);
        }
        assert_eq!(server.requests(), 50);
        assert!(server.max_concurrent_requests() <= 10);
        assert!(server.max_concurrent_requests() >= 2);
        assert!(server.connections_accepted() <= 10);
    });
}

#[test]
fn a_full_queue_fails_at_once_with_600007() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b.queue_capacity(2), stalling);
        let busy = occupy(&server, &client, 10);
        let queued = stalled(&client, 2);
        let (tx, fails) = mpsc::channel();
        let t0 = Instant::now();
        let refused = client.request(RequestOptions::new(format!("{API}/x")).fail(move |e| {
            tx.send((e.errno(), std::thread::current().id())).unwrap();
        }));
        // Refused before `request` returned; `fail` runs on a library
        // thread, never on this one.
        assert!(refused.is_finished());
        let (errno, on) = fails.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(errno, 600007);
        assert_ne!(on, std::thread::current().id());
        assert!(fails.try_recv().is_err());
        let e = refused.wait().unwrap_err();
        assert_eq!(e.err_msg(), "request:fail exceed max task count");
        assert_eq!(e.kind(), ErrorKind::QueueFull);
        assert!(t0.elapsed() < Duration::from_secs(1));
        for t in busy.iter().chain(&queued) {
            t.abort();
        }
        for t in busy.into_iter().chain(queued) {
            assert_eq!(t.wait().unwrap_err().kind(), ErrorKind::Abort);
        }
    });
}

#[test]
fn two_thousand_calls_from_twenty_threads_each_end_exactly_once() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(
            |b| b.queue_capacity(4096),
            |r, c| {
                if r.path.ends_with("/404") {
                    c.respond(404, &[], b"no")
                } else {
                    c.respond(200, &[], b"{}")
                }
            },
        );
        let ends = Arc::new((0..2000).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let completes = Arc::new((0..2000).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let (done_tx, done_rx) = mpsc::channel();
        let threads: Vec<_> = (0..20)
            .map(|t| {
                let (client, ends, completes, done) = (
                    client.clone(),
                    ends.clone(),
                    completes.clone(),
                    done_tx.clone(),
                );
                std::thread::spawn(move || {
                    for k in 0..100 {
                        let i = t * 100 + k;
                        let url = match i % 4 {
                            0 => format!("{API}/{i}/404"),
                            1 => "https://unlisted.example.com/".to_string(),
                            _ => format!("{API}/{i}"),
                        };
                        let (e1, e2, c, d) =
                            (ends.clone(), ends.clone(), completes.clone(), done.clone());
                        let task = client.request(
                            RequestOptions::new(url)
                                .success(move |_| {
                                    e1[i].fetch_add(1, Ordering::SeqCst);
                                })
                                .fail(move |_| {
                                    e2[i].fetch_add(1, Ordering::SeqCst);
                                })
                                .complete(move || {
                                    c[i].fetch_add(1, Ordering::SeqCst);
                                    d.send(i).unwrap();
                                }),
                        );
                        if i % 10 == 7 {
                            task.abort();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for _ in 0..2000 {
            done_rx.recv_timeout(Duration::from_secs(8)).unwrap();
        }
        for i in 0..2000 {
            assert_eq!(ends[i].load(Ordering::SeqCst), 1, "call {i}");
            assert_eq!(completes[i].load(Ordering::SeqCst), 1, "call {i}");
        }
    });
}

#[test]
fn a_trickling_server_is_cut_at_the_deadline() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(
            |b| b,
            |_, c| {
                c.write_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                    .unwrap();
                for _ in 0..100 {
                    if c.write_raw(b"x").is_err() || c.flush().is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            },
        );
        let deadline = Duration::from_millis(1500);
        let t0 = Instant::now();
        let e = client
            .request(RequestOptions::new(format!("{API}/trickle")).timeout(deadline))
            .wait()
            .unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!(e.err_msg(), "request:fail timeout");
        assert_eq!(e.errno(), 5);
        assert!(took >= deadline, "{took:?}");
        assert!(took < deadline + Duration::from_millis(300), "{took:?}");
    });
}

#[test]
fn the_deadline_counts_time_spent_in_the_queue() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b, stalling);
        let busy = occupy(&server, &client, 10);
        let t0 = Instant::now();
        let e = client
            .request(
                RequestOptions::new(format!("{API}/queued")).timeout(Duration::from_millis(400)),
            )
            .wait()
            .unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_millis(900),
            "{took:?}"
        );
        assert!(server.requests_log().iter().all(|r| r.path != "/queued"));
        for t in &busy {
            t.abort();
        }
    });
}

#[test]
fn the_client_network_timeout_applies_and_is_capped() {
    watchdog(Duration::from_secs(10), || {
        let t = wxnet::NetworkTimeout {
            request: Duration::from_millis(300),
            ..Default::default()
        };
        let (_server, client) = setup_with(|b| b.network_timeout(t), stalling);
        let t0 = Instant::now();
        let e = client
            .request(RequestOptions::new(format!("{API}/stall")))
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(t0.elapsed() < Duration::from_millis(800));
    });
}

#[test]
fn abort_ends_queued_and_in_flight_calls_promptly() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b, stalling);
        let busy = occupy(&server, &client, 10);
        let queued = client.request(RequestOptions::new(format!("{API}/stall/q")));
        let t0 = Instant::now();
        queued.abort();
        let e = queued.wait().unwrap_err();
        assert_eq!(e.err_msg(), "request:fail abort");
        assert_eq!(e.errno(), 1);
        for t in &busy {
            t.abort();
        }
        for t in busy {
            assert_eq!(t.wait().unwrap_err().kind(), ErrorKind::Abort);
        }
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        // The workers are free again.
        let ok = client
            .request(RequestOptions::new(format!("{API}/ok")))
            .wait();
        assert_eq!(ok.unwrap().status_code, 200);
    });
}

#[test]
fn abort_after_the_end_changes_nothing() {
    let (_server, client) = setup_with(|b| b, stalling);
    let task = client.request(RequestOptions::new(format!("{API}/ok")));
    let (tx, rx) = mpsc::channel();
    let done = client
        .request(RequestOptions::new(format!("{API}/ok")).complete(move || tx.send(()).unwrap()));
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    done.abort();
    assert!(done.wait().is_ok());
    assert!(task.wait().is_ok());
}

#[test]
fn background_interrupts_pending_calls_after_five_seconds() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b, stalling);
        let pending = occupy(&server, &client, 2);
        let t0 = Instant::now();
        client.enter_background();
        // Calls inside the grace period are accepted and share the fate.
        let late = client.request(RequestOptions::new(format!("{API}/stall/late")));
        for t in pending.into_iter().chain([late]) {
            let e = t.wait().unwrap_err();
            assert_eq!(e.err_msg(), "request:fail interrupted");
            assert_eq!(e.errno(), 600003);
        }
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_secs(5) && took < Duration::from_secs(7),
            "{took:?}"
        );
        assert!(client.is_interrupted());
        let e = client
            .request(RequestOptions::new(format!("{API}/ok")))
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Interrupted);
        client.enter_foreground();
        let ok = client
            .request(RequestOptions::new(format!("{API}/ok")))
            .wait();
        assert_eq!(ok.unwrap().status_code, 200);
    });
}

#[test]
fn calls_finished_within_the_grace_period_succeed() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(|b| b, stalling);
        client.enter_background();
        let ok = client
            .request(RequestOptions::new(format!("{API}/ok")))
            .wait();
        assert_eq!(ok.unwrap().status_code, 200);
        client.enter_foreground();
        assert!(!client.is_interrupted());
    });
}

#[test]
fn shutdown_aborts_everything_and_refuses_new_calls() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b, stalling);
        let busy = occupy(&server, &client, 10);
        let queued = stalled(&client, 5);
        let t0 = Instant::now();
        client.shutdown();
        for t in busy.into_iter().chain(queued) {
            assert_eq!(t.wait().unwrap_err().kind(), ErrorKind::Abort);
        }
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert!(client.is_shut_down());
        let e = client
            .request(RequestOptions::new(format!("{API}/ok")))
            .wait()
            .unwrap_err();
        assert_eq!(e.err_msg(), "request:fail abort");
    });
}

#[test]
fn dropping_the_last_handle_aborts_and_ends_threads() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b, stalling);
        let busy = occupy(&server, &client, 3);
        let clone = client.clone();
        drop(client);
        // A clone keeps the client alive.
        let ok = clone
            .request(RequestOptions::new(format!("{API}/ok")))
            .wait();
        assert!(ok.is_ok());
        drop(clone);
        for t in busy {
            assert_eq!(t.wait().unwrap_err().kind(), ErrorKind::Abort);
        }
    });
}

#[test]
fn dropping_the_client_inside_a_callback_does_not_deadlock() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(|b| b, stalling);
        let (tx, rx) = mpsc::channel();
        let holder = std::sync::Mutex::new(Some(client.clone()));
        let task = client.request(RequestOptions::new(format!("{API}/ok")).complete(move || {
            drop(holder.lock().unwrap().take());
            tx.send(()).unwrap();
        }));
        drop(client);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(task.wait().is_ok());
    });
}

#[test]
fn connection_refused_and_blackholed_connects_fail_cleanly() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        // A port with nothing listening.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let client = Client::builder()
            .request_domains([API])
            .add_root_certificate(pki.ca_pem())
            .unwrap()
            .resolve("api.example.com", addr)
            .build()
            .unwrap();
        let e = client
            .request(RequestOptions::new(format!("{API}/")))
            .wait()
            .unwrap_err();
        assert_eq!(e.err_msg(), "request:fail connection refused");
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        assert_eq!(e.errno(), 600001);

        let hole = common::blackhole();
        let client = Client::builder()
            .request_domains([API])
            .resolve("api.example.com", hole.addr)
            .build()
            .unwrap();
        let t0 = Instant::now();
        let task = client
            .request(RequestOptions::new(format!("{API}/")).timeout(Duration::from_millis(500)));
        let e = task.wait().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(
            t0.elapsed() < Duration::from_millis(900),
            "{:?}",
            t0.elapsed()
        );

        // Abort is prompt while connecting.
        let task = client.request(RequestOptions::new(format!("{API}/")));
        std::thread::sleep(Duration::from_millis(100));
        let t0 = Instant::now();
        task.abort();
        assert_eq!(task.wait().unwrap_err().kind(), ErrorKind::Abort);
        assert!(t0.elapsed() < Duration::from_millis(300));
    });
}

#[test]
fn peers_that_never_speak_tls_or_http_fail_cleanly() {
    watchdog(Duration::from_secs(10), || {
        // Accepts TCP, reads whatever comes, never answers.
        let silent = common::RawServer::start(|s| {
            let mut buf = [0u8; 1024];
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            while matches!(std::io::Read::read(&mut &s, &mut buf), Ok(n) if n > 0) {}
        });
        let client = Client::builder()
            .request_domains([API])
            .resolve("api.example.com", silent.addr())
            .build()
            .unwrap();
        let t0 = Instant::now();
        let e = client
            .request(RequestOptions::new(format!("{API}/")).timeout(Duration::from_millis(400)))
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(t0.elapsed() < Duration::from_millis(800));

        let garbage = common::RawServer::start(|mut s| {
            let _ = std::io::Write::write_all(&mut s, b"SSH-2.0-OpenSSH_9.0\r\n");
        });
        let client = Client::builder()
            .request_domains([API])
            .resolve("api.example.com", garbage.addr())
            .build()
            .unwrap();
        let e = client
            .request(RequestOptions::new(format!("{API}/")))
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert_eq!(e.errno(), 600001);
    });
}

#[test]
fn garbage_instead_of_http_is_a_network_error() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(
            |b| b,
            |_, c| {
                let _ = c.write_raw(b"this is not http\r\n\r\n");
                c.close();
            },
        );
        let e = client
            .request(RequestOptions::new(format!("{API}/")))
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert_eq!(e.errno(), 600001);
        assert_eq!(e.err_msg(), "request:fail invalid response");
        assert!(std::error::Error::source(&e).is_some());
    });
}

#[test]
fn many_clients_start_and_stop_cleanly() {
    watchdog(Duration::from_secs(10), || {
        let barrier = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = barrier.clone();
                std::thread::spawn(move || {
                    b.wait();
                    (0..5).all(|_| {
                        let c = Client::builder().build().unwrap();
                        c.shutdown();
                        c.is_shut_down()
                    })
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().unwrap());
        }
    });
}

/// Where a call without callbacks ran: seen by a head listener added to
/// its task (which does not send it to a worker, as a callback would).
fn ran_on(client: &Client, url: String) -> std::thread::ThreadId {
    let (tx, rx) = mpsc::channel();
    let task = client.request(RequestOptions::new(url));
    task.on_headers_received(move |_| {
        tx.send(std::thread::current().id()).unwrap();
    });
    let res = task.wait().unwrap();
    assert_eq!(res.status_code, 200);
    rx.recv().unwrap()
}

#[test]
fn a_waiting_caller_runs_its_call_when_a_slot_is_free() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(|b| b, stalling);
        let me = std::thread::current().id();
        // Normally every time; a preemption longer than the 1 ms stage
        // grace between request() and wait() hands a call to a worker.
        let here = (0..20)
            .filter(|i| ran_on(&client, format!("{API}/{i}")) == me)
            .count();
        assert!(here >= 1, "no call ran on its waiting thread");
        // With every slot taken, a waiting caller waits for a worker.
        let busy = occupy(&_server, &client, 10);
        let t = client.request(RequestOptions::new(format!("{API}/queued")));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!t.is_finished());
        busy[0].abort();
        assert_eq!(t.wait().unwrap().status_code, 200);
    });
}

#[test]
fn waiting_callers_and_callback_calls_share_the_ten_slots() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(
            |b| b,
            |_, c| {
                std::thread::sleep(Duration::from_millis(10));
                c.respond(200, &[], b"ok")
            },
        );
        let start = Arc::new(Barrier::new(20));
        let waiters: Vec<_> = (0..20)
            .map(|i| {
                let (client, start) = (client.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for j in 0..3 {
                        let url = format!("{API}/w{i}/{j}");
                        let res = client.request(RequestOptions::new(url)).wait().unwrap();
                        assert_eq!(res.status_code, 200);
                    }
                })
            })
            .collect();
        let (done, finished) = mpsc::channel();
        for i in 0..20 {
            let done = done.clone();
            client.request(
                RequestOptions::new(format!("{API}/cb{i}"))
                    .complete(move || done.send(()).unwrap()),
            );
        }
        for w in waiters {
            w.join().unwrap();
        }
        for _ in 0..20 {
            finished.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert_eq!(server.requests(), 80);
        assert!(server.max_concurrent_requests() <= 10);
    });
}

#[test]
fn a_kept_handle_still_runs_and_a_staged_call_can_be_aborted() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(|b| b, stalling);
        let (tx, rx) = mpsc::channel();
        // Kept, neither waited on nor dropped: a worker takes it.
        let kept = client.request(
            RequestOptions::new(format!("{API}/kept"))
                .success(move |r| tx.send(r.status_code).unwrap()),
        );
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 200);
        assert!(kept.is_finished());
        // Aborted at once, before anything picked it up.
        let t = client.request(RequestOptions::new(format!("{API}/stall/never")));
        t.abort();
        assert_eq!(t.wait().unwrap_err().kind(), ErrorKind::Abort);
    });
}

#[test]
fn a_callback_may_wait_on_a_call_of_its_own() {
    watchdog(Duration::from_secs(10), || {
        let big = vec![b'x'; 200_000];
        let (_server, client) = setup_with(
            |b| b,
            move |r, c| {
                let body: &[u8] = if r.path == "/big" { &big } else { b"ok" };
                c.respond(200, &[("content-type", "text/plain")], body)
            },
        );
        let (tx, rx) = mpsc::channel();
        let inner_client = client.clone();
        // The nested call runs while the outer one is between its head
        // and its body, on the same thread.
        let outer = client
            .request(
                RequestOptions::new(format!("{API}/big")).on_headers_received(move |_| {
                    let inner = inner_client
                        .request(RequestOptions::new(format!("{API}/inner")))
                        .wait();
                    tx.send(inner.map(|r| r.status_code)).unwrap();
                }),
            )
            .wait()
            .unwrap();
        assert_eq!(rx.recv().unwrap().unwrap(), 200);
        assert_eq!(outer.status_code, 200);
        assert!(matches!(&outer.data, wxnet::ResponseData::Text(t) if t.len() == 200_000));
        // The outer call was still the thread's current call for its body.
        assert!(outer.profile.received_bytes_count >= 200_000);
    });
}
