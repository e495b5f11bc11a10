//! A server that misbehaves on command: every fault ends the call with the
//! right error kind, exactly one fail and one complete, and the workers
//! stay usable.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::{Conn, Request, TestPki, watchdog};
use wxnet::{ErrorKind, Method, RequestOptions};

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
