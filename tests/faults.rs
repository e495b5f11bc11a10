//! A server that misbehaves on command: every fault ends the call with the
//! right error kind, exactly one fail and one complete, and the workers
//! stay usable.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::{Conn, Request, TempDir, TestPki, watchdog};
use wxnet::{
    Client, DownloadFileOptions, Error, ErrorKind, Method, RequestOptions, UploadFileOptions,
};

const API: &str = "https://api.example.com";

fn misbehave(r: &Request, c: &mut Conn) {
    match r.path.as_str() {
        "/reset-before-headers" => c.reset(),
        "/reset-mid-headers" => {
            let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/pl");
            let _ = c.flush();
            c.reset();
        }
        "/reset-mid-body" => {
            let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly a little");
            let _ = c.flush();
            c.reset();
        }
        "/truncated-chunked" => {
            let _ = c.write_raw(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nshort",
            );
            let _ = c.flush();
            c.reset();
        }
        "/huge-headers" => {
            let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..2000 {
                head.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(40)).as_bytes());
            }
            head.extend_from_slice(b"Content-Length: 0\r\n\r\n");
            let _ = c.write_raw(&head);
            let _ = c.flush();
            c.close();
        }
        "/endless-headers" => {
            let _ = c.write_raw(b"HTTP/1.1 200 OK\r\n");
            for i in 0..100_000 {
                if c.write_raw(format!("X-{i}: y\r\n").as_bytes()).is_err() {
                    return;
                }
            }
            c.close();
        }
        "/endless-body" => {
            let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'z'; 64 * 1024];
            for _ in 0..1000 {
                if c.write_raw(&chunk).is_err() {
                    return;
                }
            }
            c.close();
        }
        "/close-notify-mid-body" => {
            // A clean TLS close (close_notify) before the announced length.
            let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly a little");
            let _ = c.flush();
            c.close();
        }
        "/trickle" => {
            let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            for _ in 0..100 {
                if c.write_raw(b"x").and_then(|()| c.flush()).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        "/bad-status" => {
            let _ = c.write_raw(b"HTTP/1.1 abc Weird\r\n\r\n");
            c.close();
        }
        _ => c.respond(200, &[], b"fine"),
    }
}

#[test]
fn every_fault_ends_once_with_the_right_kind_and_the_pool_recovers() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let server = common::HttpServer::start(
            pki.server_config(&pki.identity(&["api.example.com"])),
            misbehave,
        );
        let client = common::client_builder(&pki, &server)
            .request_domains([API])
            .max_response_size(1024 * 1024)
            .build()
            .unwrap();
        for (path, method, kind) in [
            ("/reset-before-headers", Method::Post, ErrorKind::Network),
            ("/reset-before-headers", Method::Get, ErrorKind::Network),
            ("/reset-mid-headers", Method::Get, ErrorKind::Network),
            ("/reset-mid-body", Method::Get, ErrorKind::Network),
            ("/truncated-chunked", Method::Get, ErrorKind::Network),
            ("/huge-headers", Method::Get, ErrorKind::Network),
            ("/endless-headers", Method::Get, ErrorKind::Network),
            ("/endless-body", Method::Get, ErrorKind::ResponseTooLarge),
            ("/bad-status", Method::Get, ErrorKind::Network),
        ] {
            let fails = Arc::new(AtomicUsize::new(0));
            let (done_tx, done_rx) = mpsc::channel();
            let f = fails.clone();
            let task = client.request(
                RequestOptions::new(format!("{API}{path}"))
                    .method(method)
                    .fail(move |_| {
                        f.fetch_add(1, Ordering::SeqCst);
                    })
                    .complete(move || done_tx.send(()).unwrap()),
            );
            let e = task.wait().unwrap_err();
            assert_eq!(e.kind(), kind, "{path} {method}: {e:?}");
            assert_eq!(e.errno(), 600001, "{path}");
            done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
            assert!(done_rx.recv_timeout(Duration::from_millis(20)).is_err());
            assert_eq!(fails.load(Ordering::SeqCst), 1, "{path}");
        }
        // Every worker still serves calls.
        let tasks: Vec<_> = (0..wxnet::WORKERS * 2)
            .map(|i| client.request(RequestOptions::new(format!("{API}/ok/{i}"))))
            .collect();
        for t in tasks {
            assert_eq!(t.wait().unwrap().data.as_text(), Some("fine"));
        }
    });
}

/// One call of `api` to `path`, through callbacks and `wait`: its error,
/// and how many fail and complete callbacks ran.
fn call(client: &Client, api: &str, path: &str, file: &std::path::Path) -> (Error, usize, usize) {
    let fails = Arc::new(AtomicUsize::new(0));
    let completes = Arc::new(AtomicUsize::new(0));
    let (f, c) = (fails.clone(), completes.clone());
    let fail = move |_: &Error| {
        f.fetch_add(1, Ordering::SeqCst);
    };
    let complete = move || {
        c.fetch_add(1, Ordering::SeqCst);
    };
    let timeout = Duration::from_millis(1500);
    let e = match api {
        "uploadFile" => client
            .upload_file(
                UploadFileOptions::new(format!("https://up.example.com{path}"), file, "file")
                    .timeout(timeout)
                    .fail(fail)
                    .complete(complete),
            )
            .wait()
            .map(|s| s.status_code),
        _ => client
            .download_file(
                DownloadFileOptions::new(format!("https://dl.example.com{path}"))
                    .timeout(timeout)
                    .fail(fail)
                    .complete(complete),
            )
            .wait()
            .map(|s| s.status_code),
    }
    .expect_err(path);
    (
        e,
        fails.load(Ordering::SeqCst),
        completes.load(Ordering::SeqCst),
    )
}

#[test]
fn upload_and_download_meet_every_fault_the_same_way() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let server = common::HttpServer::start(
            pki.server_config(&pki.identity(&["up.example.com", "dl.example.com"])),
            misbehave,
        );
        let dir = TempDir::new("faults-transfer");
        let downloads = dir.path().join("dl");
        let file = dir.path().join("up.bin");
        std::fs::write(&file, vec![1u8; 64 * 1024]).unwrap();
        let client = common::client_builder(&pki, &server)
            .upload_domains(["https://up.example.com"])
            .download_domains(["https://dl.example.com"])
            .download_dir(&downloads)
            .max_response_size(1024 * 1024)
            .max_download_size(1024 * 1024)
            .build()
            .unwrap();
        for api in ["uploadFile", "downloadFile"] {
            for (path, kind, errno) in [
                ("/reset-before-headers", ErrorKind::Network, 600001),
                ("/reset-mid-headers", ErrorKind::Network, 600001),
                ("/reset-mid-body", ErrorKind::Network, 600001),
                ("/truncated-chunked", ErrorKind::Network, 600001),
                ("/close-notify-mid-body", ErrorKind::Network, 600001),
                ("/huge-headers", ErrorKind::Network, 600001),
                ("/endless-headers", ErrorKind::Network, 600001),
                ("/bad-status", ErrorKind::Network, 600001),
                ("/trickle", ErrorKind::Timeout, 5),
            ] {
                let (e, fails, completes) = call(&client, api, path, &file);
                assert_eq!(e.kind(), kind, "{api} {path}: {e:?}");
                assert_eq!(e.errno(), errno, "{api} {path}");
                assert!(
                    e.err_msg().starts_with(&format!("{api}:fail")),
                    "{}",
                    e.err_msg()
                );
                assert_eq!((fails, completes), (1, 1), "{api} {path}");
            }
        }
        // The endless body hits each API's own cap.
        let (e, ..) = call(&client, "downloadFile", "/endless-body", &file);
        assert_eq!((e.kind(), e.errno()), (ErrorKind::FileTooLarge, 603301));
        let (e, ..) = call(&client, "uploadFile", "/endless-body", &file);
        assert_eq!(e.kind(), ErrorKind::ResponseTooLarge);
        // No partial download anywhere, and every worker still serves.
        assert_eq!(std::fs::read_dir(&downloads).map_or(0, |d| d.count()), 0);
        let tasks: Vec<_> = (0..wxnet::WORKERS * 2)
            .map(|i| {
                client.download_file(DownloadFileOptions::new(format!(
                    "https://dl.example.com/ok/{i}"
                )))
            })
            .collect();
        for t in tasks {
            assert_eq!(t.wait().unwrap().status_code, 200);
        }
    });
}

#[test]
fn connection_refused_fails_every_api_at_once() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let dir = TempDir::new("faults-refused");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let client = Client::builder()
            .request_domains([API])
            .upload_domains(["https://up.example.com"])
            .download_domains(["https://dl.example.com"])
            .download_dir(dir.path().join("dl"))
            .add_root_certificate(pki.ca_pem())
            .unwrap()
            .resolve("api.example.com", dead)
            .resolve("up.example.com", dead)
            .resolve("dl.example.com", dead)
            .build()
            .unwrap();
        let e = client
            .request(RequestOptions::new(format!("{API}/")))
            .wait()
            .unwrap_err();
        assert_eq!((e.kind(), e.errno()), (ErrorKind::Network, 600001));
        assert_eq!(e.err_msg(), "request:fail connection refused");
        for api in ["uploadFile", "downloadFile"] {
            let (e, fails, completes) = call(&client, api, "/", &file);
            assert_eq!(e.err_msg(), format!("{api}:fail connection refused"));
            assert_eq!((fails, completes), (1, 1));
        }
    });
}

#[test]
fn a_server_that_never_reads_the_upload_times_out() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let config = pki.server_config(&pki.identity(&["up.example.com"]));
        let (hold_tx, hold_rx) = mpsc::channel::<()>();
        let hold = std::sync::Mutex::new(hold_rx);
        // Completes the TLS handshake, then reads nothing at all.
        let server = common::RawServer::start(move |mut tcp| {
            let mut tls = rustls::ServerConnection::new(config.clone()).unwrap();
            while tls.is_handshaking() {
                if tls.complete_io(&mut tcp).is_err() {
                    return;
                }
            }
            let _ = hold.lock().unwrap().recv_timeout(Duration::from_secs(8));
        });
        let dir = TempDir::new("faults-unread");
        let file = dir.path().join("big.bin");
        std::fs::write(&file, vec![0u8; 16 * 1024 * 1024]).unwrap();
        let client = Client::builder()
            .upload_domains(["https://up.example.com"])
            .add_root_certificate(pki.ca_pem())
            .unwrap()
            .resolve("up.example.com", server.addr())
            .build()
            .unwrap();
        let t0 = std::time::Instant::now();
        let (e, fails, completes) = call(&client, "uploadFile", "/u", &file);
        assert_eq!((e.kind(), e.errno()), (ErrorKind::Timeout, 5), "{e:?}");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        assert_eq!((fails, completes), (1, 1));
        drop(hold_tx);
    });
}

#[test]
fn a_certificate_changed_between_connections_fails_the_next_call() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let good = pki.server_config(&pki.identity(&["api.example.com"]));
        let bad = pki.server_config(&pki.foreign_ca_identity(&["api.example.com"]));
        let connections = Arc::new(AtomicUsize::new(0));
        let n = connections.clone();
        // Each connection answers one request and closes; from the second
        // on, the server presents a certificate from an unknown CA.
        let server = common::RawServer::start(move |tcp| {
            let config = if n.fetch_add(1, Ordering::SeqCst) == 0 {
                good.clone()
            } else {
                bad.clone()
            };
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match std::io::Read::read(&mut tls, &mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => return,
                }
            }
            let _ = std::io::Write::write_all(
                &mut tls,
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            );
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
        });
        let client = Client::builder()
            .request_domains([API])
            .add_root_certificate(pki.ca_pem())
            .unwrap()
            .resolve("api.example.com", server.addr())
            .build()
            .unwrap();
        let first = client
            .request(RequestOptions::new(format!("{API}/1")))
            .wait()
            .unwrap();
        assert_eq!(first.status_code, 200);
        let e = client
            .request(RequestOptions::new(format!("{API}/2")))
            .wait()
            .unwrap_err();
        assert_eq!((e.kind(), e.errno()), (ErrorKind::Tls, 600001), "{e:?}");
        assert_eq!(e.err_msg(), "request:fail ssl hand shake error");
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    });
}
