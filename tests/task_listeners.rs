//! Listeners on `RequestTask`, `UploadTask` and `DownloadTask`: any
//! number, removed by id or all at once, and the events kept for
//! listeners that come late (after the call returned, or ended).

mod common;

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use common::{Conn, HttpServer, Request, TempDir, TestPki, pattern, sha256_hex, watchdog};
use wxnet::{
    Client, DownloadFileOptions, DownloadProgress, ErrorKind, RequestOptions, UploadFileOptions,
    UploadProgress,
};

const API: &str = "https://api.example.com";
const DL: &str = "https://dl.example.com";
const UP: &str = "https://up.example.com";
const BODY_LEN: usize = 200 * 1024;
const QUIET: Duration = Duration::from_millis(150);
const LONG: Duration = Duration::from_secs(5);

/// A server that answers `/gate` only once the test opens the gate, and
/// everything else at once with `BODY_LEN` bytes of pattern (uploads: "ok").
fn setup_with(
    configure: impl FnOnce(wxnet::ClientBuilder) -> wxnet::ClientBuilder,
) -> (HttpServer, Client, mpsc::Sender<()>) {
    let (open, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let pki = TestPki::new();
    let names = ["api.example.com", "dl.example.com", "up.example.com"];
    let server = HttpServer::start(
        pki.server_config(&pki.identity(&names)),
        move |r: &Request, c: &mut Conn| {
            if r.path.starts_with("/headfirst") {
                // The head now, the body once the gate opens.
                let head = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n";
                let _ = c.write_raw(head).and_then(|()| c.flush());
                let _ = gate.lock().unwrap().recv_timeout(LONG);
                let _ = c.write_raw(b"ok").and_then(|()| c.flush());
                return;
            }
            if r.path.starts_with("/gate") {
                let _ = gate.lock().unwrap().recv_timeout(LONG);
            }
            if r.method == "POST" {
                c.respond(200, &[], b"ok");
            } else {
                c.respond(201, &[("x-kept", "yes")], &pattern(BODY_LEN));
            }
        },
    );
    let client = configure(
        common::client_builder(&pki, &server)
            .request_domains([API])
            .download_domains([DL])
            .upload_domains([UP]),
    )
    .build()
    .unwrap();
    (server, client, open)
}

fn setup() -> (HttpServer, Client, mpsc::Sender<()>) {
    setup_with(|b| b)
}

/// Everything received within `QUIET` of the last event (after the first,
/// waited for up to `LONG`).
fn drain<T>(rx: &Receiver<T>) -> Vec<T> {
    let mut out: Vec<T> = rx.recv_timeout(LONG).into_iter().collect();
    while let Ok(v) = rx.recv_timeout(QUIET) {
        out.push(v);
    }
    out
}

fn progress_to(
    tx: mpsc::Sender<(&'static str, u8)>,
    name: &'static str,
) -> impl FnMut(&DownloadProgress) + Send + 'static {
    move |p| tx.send((name, p.progress)).unwrap()
}

#[test]
fn several_progress_listeners_each_get_every_event_and_off_removes_one_or_all() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, open) = setup();
        let dir = TempDir::new("listeners");
        let file = dir.path().join("a.bin");
        let task =
            client.download_file(DownloadFileOptions::new(format!("{DL}/gate")).file_path(&file));
        let (tx, rx) = mpsc::channel();
        let a = task.on_progress_update(progress_to(tx.clone(), "a"));
        let b = task.on_progress_update(progress_to(tx.clone(), "b"));
        task.on_progress_update(progress_to(tx.clone(), "c"));
        assert_ne!(a, b);
        assert!(task.off_progress_update(Some(b)));
        assert!(!task.off_progress_update(Some(b)));
        open.send(()).unwrap();
        let res = task.wait().unwrap();
        assert_eq!(res.data_length, BODY_LEN as u64);
        let got: Vec<_> = rx.try_iter().collect();
        let of = |n: &str| -> Vec<u8> { got.iter().filter(|e| e.0 == n).map(|e| e.1).collect() };
        assert!(of("b").is_empty());
        assert_eq!(of("a"), of("c"));
        assert!(of("a").windows(2).all(|w| w[0] < w[1]));
        assert_eq!(of("a").iter().filter(|&&p| p == 100).count(), 1);
        assert_eq!(of("a").last(), Some(&100));

        // Every listener removed: none is called.
        let task =
            client.download_file(DownloadFileOptions::new(format!("{DL}/gate")).file_path(&file));
        task.on_progress_update(progress_to(tx.clone(), "d"));
        task.on_progress_update(progress_to(tx.clone(), "e"));
        assert!(task.off_progress_update(None));
        assert!(!task.off_progress_update(None));
        open.send(()).unwrap();
        task.wait().unwrap();
        assert!(rx.try_recv().is_err());
    });
}

#[test]
fn a_late_progress_listener_gets_the_final_event_once_on_a_library_thread() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, _open) = setup();
        let (done, ended) = mpsc::channel();
        let options = DownloadFileOptions::new(format!("{DL}/x")).complete(move || {
            done.send(()).unwrap();
        });
        let task = client.download_file(options);
        ended.recv_timeout(LONG).unwrap();
        assert!(task.is_finished());
        let (tx, rx) = mpsc::channel();
        task.on_progress_update(move |p: &DownloadProgress| {
            tx.send((*p, thread::current().id())).unwrap();
        });
        let got = drain(&rx);
        assert_eq!(got.len(), 1, "{got:?}");
        let (p, on) = got[0];
        assert_eq!(p.progress, 100);
        assert_eq!(p.total_bytes_written, BODY_LEN as u64);
        assert_ne!(on, thread::current().id());
        drop(task);
    });
}

#[test]
fn every_late_headers_listener_gets_the_kept_head_once() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, _open) = setup();
        let (done, ended) = mpsc::channel();
        let task = client.request(RequestOptions::new(format!("{API}/x")).complete(move || {
            done.send(()).unwrap();
        }));
        let (tx, rx) = mpsc::channel::<(usize, u16, Option<String>, ThreadId)>();
        let early = tx.clone();
        task.on_headers_received(move |h| {
            let kept = h.header.get("x-kept").map(str::to_owned);
            early
                .send((0, h.status_code, kept, thread::current().id()))
                .unwrap();
        });
        ended.recv_timeout(LONG).unwrap();
        for i in 1..=3 {
            let tx = tx.clone();
            task.on_headers_received(move |h| {
                let kept = h.header.get("x-kept").map(str::to_owned);
                tx.send((i, h.status_code, kept, thread::current().id()))
                    .unwrap();
            });
        }
        let mut got = drain(&rx);
        got.sort_by_key(|e| e.0);
        let me = thread::current().id();
        assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [0, 1, 2, 3]);
        for (_, status, kept, on) in got {
            assert_eq!((status, kept.as_deref()), (201, Some("yes")));
            assert_ne!(on, me);
        }
    });
}

#[test]
fn a_late_chunk_listener_gets_the_kept_chunks_in_order() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, _open) = setup();
        let (done, ended) = mpsc::channel();
        let options = RequestOptions::new(format!("{API}/x"))
            .enable_chunked(true)
            .complete(move || done.send(()).unwrap());
        let task = client.request(options);
        ended.recv_timeout(LONG).unwrap();
        let (tx, rx) = mpsc::channel();
        task.on_chunk_received(move |c| tx.send((c.to_vec(), thread::current().id())).unwrap());
        let (tx2, second) = mpsc::channel::<Vec<u8>>();
        task.on_chunk_received(move |c| tx2.send(c.to_vec()).unwrap());
        let got = drain(&rx);
        let body: Vec<u8> = got.iter().flat_map(|(c, _)| c.clone()).collect();
        assert!(got.len() > 1);
        assert!(got.iter().all(|(_, on)| *on != thread::current().id()));
        assert_eq!(body.len(), BODY_LEN);
        assert_eq!(sha256_hex(&body), sha256_hex(&pattern(BODY_LEN)));
        // Kept chunks go to the first listener only.
        assert!(second.recv_timeout(QUIET).is_err());
    });
}

#[test]
fn kept_chunks_past_max_response_size_fail_the_call() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, _open) = setup_with(|b| b.max_response_size(64 * 1024));
        let (tx, failed) = mpsc::channel();
        let options = RequestOptions::new(format!("{API}/x"))
            .enable_chunked(true)
            .fail(move |e| tx.send((e.kind(), e.errno())).unwrap());
        // Kept, so a chunk listener could still come: the chunks are kept.
        let task = client.request(options);
        let (kind, errno) = failed.recv_timeout(LONG).unwrap();
        assert_eq!((kind, errno), (ErrorKind::ResponseTooLarge, 600001));
        assert!(task.is_finished());

        // What a listener takes is not capped.
        let body = Arc::new(Mutex::new(Vec::new()));
        let sink = body.clone();
        let task = client.request(RequestOptions::new(format!("{API}/gate")).enable_chunked(true));
        task.on_chunk_received(move |c| sink.lock().unwrap().extend_from_slice(c));
        _open.send(()).unwrap();
        task.wait().unwrap();
        assert_eq!(body.lock().unwrap().len(), BODY_LEN);
    });
}

#[test]
fn upload_progress_bar_ported_the_runtime_way() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, _open) = setup();
        let dir = TempDir::new("listeners-up");
        let file = dir.path().join("photo.jpg");
        std::fs::write(&file, pattern(300 * 1024)).unwrap();
        // const t = wx.uploadFile(..); t.onProgressUpdate(..)
        let t = client.upload_file(UploadFileOptions::new(format!("{UP}/u"), &file, "file"));
        let (tx, rx) = mpsc::channel();
        t.on_progress_update(move |p: &UploadProgress| tx.send(*p).unwrap());
        let res = t.wait().unwrap();
        assert_eq!((res.status_code, res.data.as_str()), (200, "ok"));
        let events: Vec<UploadProgress> = rx.try_iter().collect();
        assert!(events.len() > 1);
        assert!(events.windows(2).all(|w| w[0].progress < w[1].progress));
        let last = events.last().unwrap();
        assert_eq!(last.progress, 100);
        assert_eq!(last.total_bytes_sent, last.total_bytes_expected_to_send);
        assert!(last.total_bytes_sent > 300 * 1024);
        assert_eq!(events.iter().filter(|p| p.progress == 100).count(), 1);
    });
}

#[test]
fn a_call_with_callbacks_or_listeners_runs_on_a_worker() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, _open) = setup();
        let me = thread::current().id();
        for i in 0..5 {
            let (tx, rx) = mpsc::channel();
            let options = RequestOptions::new(format!("{API}/{i}")).complete(move || {
                tx.send(thread::current().id()).unwrap();
            });
            client.request(options).wait().unwrap();
            assert_ne!(rx.recv_timeout(LONG).unwrap(), me);
            let (tx, rx) = mpsc::channel();
            let options =
                RequestOptions::new(format!("{API}/h{i}")).on_headers_received(move |_| {
                    tx.send(thread::current().id()).unwrap();
                });
            client.request(options).wait().unwrap();
            assert_ne!(rx.recv_timeout(LONG).unwrap(), me);
        }
    });
}

#[test]
fn a_late_headers_listener_gets_the_head_before_the_body_arrives() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, open) = setup();
        let (first_tx, first) = mpsc::channel();
        let task = client.request(
            RequestOptions::new(format!("{API}/headfirst"))
                .on_headers_received(move |h| first_tx.send(h.status_code).unwrap()),
        );
        assert_eq!(first.recv_timeout(LONG).unwrap(), 200);
        // The head is in, the body is held back: this listener is late.
        let (tx, rx) = mpsc::channel();
        task.on_headers_received(move |h| tx.send(h.status_code).unwrap());
        assert_eq!(rx.recv_timeout(LONG).unwrap(), 200);
        assert!(!task.is_finished());
        open.send(()).unwrap();
        assert_eq!(task.wait().unwrap().data.as_text(), Some("ok"));
        assert!(rx.try_recv().is_err());
    });
}

#[test]
fn a_listener_panicking_on_the_final_progress_fails_the_call() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, _open) = setup();
        let dir = TempDir::new("final-panic");
        let file = dir.path().join("a.bin");
        let task =
            client.download_file(DownloadFileOptions::new(format!("{DL}/x")).file_path(&file));
        task.on_progress_update(|p: &DownloadProgress| assert!(p.progress < 100, "at 100"));
        let e = task.wait().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CallbackPanicked);
        assert!(!file.exists(), "a failed download leaves no file");

        let src = dir.path().join("up.bin");
        std::fs::write(&src, pattern(1024)).unwrap();
        let task = client.upload_file(UploadFileOptions::new(format!("{UP}/u"), &src, "f"));
        task.on_progress_update(|p: &UploadProgress| assert!(p.progress < 100, "at 100"));
        let e = task.wait().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CallbackPanicked);
    });
}

#[test]
fn shutdown_waits_for_a_late_listener_still_running() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client, _open) = setup();
        let (done, ended) = mpsc::channel();
        let options = RequestOptions::new(format!("{API}/x")).complete(move || {
            done.send(()).unwrap();
        });
        let task = client.request(options);
        ended.recv_timeout(LONG).unwrap();
        let (entered_tx, entered) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        task.on_headers_received(move |_| {
            entered_tx.send(()).unwrap();
            let _ = released.recv_timeout(LONG);
        });
        entered.recv_timeout(LONG).unwrap();
        let (returned_tx, returned) = mpsc::channel();
        let closer = client.clone();
        thread::spawn(move || {
            closer.shutdown();
            returned_tx.send(()).unwrap();
        });
        assert!(
            returned.recv_timeout(QUIET).is_err(),
            "shutdown returned while a listener still ran"
        );
        release.send(()).unwrap();
        returned.recv_timeout(LONG).unwrap();
    });
}
