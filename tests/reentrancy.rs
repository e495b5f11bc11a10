//! No callback runs inside the call that registered it: a call refused
//! before it ran (policy, bad header, full queue, shut down, background)
//! is over at once, and its `fail` / `complete` run later on a library
//! thread. Each test holds a lock across the call and takes it in the
//! callbacks, as ported code does; a callback inside the call deadlocks.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use common::{Conn, HttpServer, Request, TestPki, eventually, watchdog};
use wxnet::{Client, DownloadFileOptions, ErrorKind, RequestOptions, UploadFileOptions};

const API: &str = "https://api.example.com";
const LONG: Duration = Duration::from_secs(5);

/// A callback seen: which one, with what errno, on which thread, and
/// whether the call that registered it had returned.
#[derive(Debug)]
struct Seen {
    which: &'static str,
    errno: Option<i32>,
    on: ThreadId,
    after_return: bool,
}

/// The lock the caller holds across the call, and the flag it sets once
/// the call returned.
#[derive(Clone, Default)]
struct Probe {
    lock: Arc<Mutex<()>>,
    returned: Arc<AtomicBool>,
}

type Fail = Box<dyn FnOnce(&wxnet::Error) + Send>;
type Complete = Box<dyn FnOnce() + Send>;

impl Probe {
    /// `fail` and `complete` callbacks that take the lock and report.
    fn callbacks(&self) -> (Fail, Complete, Receiver<Seen>) {
        let (tx, rx) = mpsc::channel();
        let (p, tx2) = (self.clone(), tx.clone());
        let fail: Fail = Box::new(move |e: &wxnet::Error| {
            let _held = p.lock.lock().unwrap();
            let seen = Seen {
                which: "fail",
                errno: Some(e.errno()),
                on: thread::current().id(),
                after_return: p.returned.load(Ordering::SeqCst),
            };
            tx.send(seen).unwrap();
        });
        let p = self.clone();
        let complete: Complete = Box::new(move || {
            let _held = p.lock.lock().unwrap();
            let seen = Seen {
                which: "complete",
                errno: None,
                on: thread::current().id(),
                after_return: p.returned.load(Ordering::SeqCst),
            };
            tx2.send(seen).unwrap();
        });
        (fail, complete, rx)
    }

    /// Make a call with the lock held; check that it is over at once,
    /// that `wait` does not wait for the callbacks (they need the lock),
    /// then that they ran afterwards, in order, on another thread.
    fn check<T>(
        &self,
        errno: i32,
        kind: ErrorKind,
        call: impl FnOnce(Fail, Complete) -> T,
        settle: impl FnOnce(&T) -> bool,
        wait: impl FnOnce(T) -> wxnet::Result<()>,
    ) {
        let (fail, complete, rx) = self.callbacks();
        let held = self.lock.lock().unwrap();
        self.returned.store(false, Ordering::SeqCst);
        let task = call(fail, complete);
        self.returned.store(true, Ordering::SeqCst);
        assert!(settle(&task), "a refused call is over at once");
        let e = wait(task).unwrap_err();
        assert_eq!((e.kind(), e.errno()), (kind, errno));
        drop(held);
        let seen: Vec<Seen> = (0..2).map(|_| rx.recv_timeout(LONG).unwrap()).collect();
        assert_eq!(seen[0].which, "fail");
        assert_eq!(seen[0].errno, Some(errno));
        assert_eq!(seen[1].which, "complete");
        for s in &seen {
            assert!(s.after_return, "{s:?} ran inside the call");
            assert_ne!(s.on, thread::current().id());
        }
        assert!(rx.try_recv().is_err());
    }

    fn request(&self, client: &Client, options: RequestOptions, kind: ErrorKind, errno: i32) {
        self.check(
            errno,
            kind,
            |f, c| {
                let task = client.request(options.fail(f).complete(c));
                task.abort(); // does nothing: the outcome is fixed
                task
            },
            |t| t.is_finished(),
            |t| t.wait().map(drop),
        );
    }
}

/// `/stall` answers only when the connection goes away.
fn setup_with(
    configure: impl FnOnce(wxnet::ClientBuilder) -> wxnet::ClientBuilder,
) -> (HttpServer, Client) {
    let pki = TestPki::new();
    let server = HttpServer::start(
        pki.server_config(&pki.identity(&["api.example.com"])),
        |r: &Request, c: &mut Conn| {
            if r.path.starts_with("/stall") {
                c.peer_closed_wait(Duration::from_secs(20));
                c.close();
            } else {
                c.respond(200, &[], b"ok");
            }
        },
    );
    let client = configure(common::client_builder(&pki, &server).request_domains([API]))
        .build()
        .unwrap();
    (server, client)
}

#[test]
fn a_call_outside_the_domain_list_calls_back_after_it_returned() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(|b| b);
        let probe = Probe::default();
        let options = RequestOptions::new("https://unlisted.example.com/");
        probe.request(&client, options, ErrorKind::DomainNotAllowed, 600002);
        probe.check(
            600002,
            ErrorKind::DomainNotAllowed,
            |f, c| {
                let o = UploadFileOptions::new("https://unlisted.example.com/", "Cargo.toml", "f");
                client.upload_file(o.fail(f).complete(c))
            },
            |t| t.is_finished(),
            |t| t.wait().map(drop),
        );
        probe.check(
            600002,
            ErrorKind::DomainNotAllowed,
            |f, c| {
                let o = DownloadFileOptions::new("https://unlisted.example.com/");
                client.download_file(o.fail(f).complete(c))
            },
            |t| t.is_finished(),
            |t| t.wait().map(drop),
        );
    });
}

#[test]
fn a_bad_header_calls_back_after_the_call_returned() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b);
        let probe = Probe::default();
        let options = RequestOptions::new(format!("{API}/x")).header("bad name", "v");
        probe.request(&client, options, ErrorKind::InvalidArgument, 1);
        assert_eq!(server.requests(), 0);
    });
}

#[test]
fn a_full_queue_calls_back_after_the_call_returned() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b.queue_capacity(1));
        let busy: Vec<_> = (0..wxnet::WORKERS)
            .map(|i| {
                let t = client.request(RequestOptions::new(format!("{API}/stall/{i}")));
                server.wait_for_requests(1, LONG);
                t
            })
            .collect();
        let queued = client.request(RequestOptions::new(format!("{API}/stall/q")));
        let probe = Probe::default();
        let options = RequestOptions::new(format!("{API}/x"));
        probe.request(&client, options, ErrorKind::QueueFull, 600007);
        for t in busy.iter().chain([&queued]) {
            t.abort();
        }
    });
}

#[test]
fn a_call_after_shutdown_calls_back_from_a_short_lived_thread() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(|b| b);
        client.shutdown();
        let probe = Probe::default();
        let options = RequestOptions::new(format!("{API}/x"));
        probe.request(&client, options, ErrorKind::Abort, 1);
        // A refused call outside the domain list, too.
        let options = RequestOptions::new("https://unlisted.example.com/");
        probe.request(&client, options, ErrorKind::DomainNotAllowed, 600002);
    });
}

#[test]
fn a_call_in_the_background_calls_back_after_the_call_returned() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup_with(|b| b);
        client.enter_background();
        assert!(eventually(Duration::from_secs(7), || client.is_interrupted()));
        let probe = Probe::default();
        let options = RequestOptions::new(format!("{API}/x"));
        probe.request(&client, options, ErrorKind::Interrupted, 600003);
    });
}

/// Fill every worker with a call that stalls until aborted.
fn fill_workers(server: &HttpServer, client: &Client) -> Vec<wxnet::RequestTask> {
    (0..wxnet::WORKERS)
        .map(|i| {
            let t = client.request(RequestOptions::new(format!("{API}/stall/{i}")));
            server.wait_for_requests(1, LONG);
            t
        })
        .collect()
}

#[test]
fn a_blocking_callback_of_a_refused_call_does_not_hold_up_deadlines() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b.queue_capacity(1));
        let busy = fill_workers(&server, &client);
        let queued = client.request(
            RequestOptions::new(format!("{API}/stall/q")).timeout(Duration::from_millis(300)),
        );
        let (entered_tx, entered) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let left = Arc::new(AtomicBool::new(false));
        let theirs = left.clone();
        let refused = client.request(RequestOptions::new(format!("{API}/x")).fail(move |_| {
            entered_tx.send(()).unwrap();
            let _ = released.recv_timeout(LONG);
            theirs.store(true, Ordering::SeqCst);
        }));
        assert_eq!(refused.wait().unwrap_err().kind(), ErrorKind::QueueFull);
        entered.recv_timeout(LONG).unwrap();
        // The refused call's `fail` is still blocked, yet the queued call
        // times out on time.
        let e = queued.wait().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(
            !left.load(Ordering::SeqCst),
            "the deadline waited for the callback"
        );
        release.send(()).unwrap();
        for t in &busy {
            t.abort();
        }
    });
}

#[test]
fn aborting_a_queued_call_under_a_lock_its_callbacks_take_does_not_deadlock() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b);
        let busy = fill_workers(&server, &client);
        let probe = Probe::default();
        probe.check(
            1,
            ErrorKind::Abort,
            |f, c| {
                let o = RequestOptions::new(format!("{API}/x")).fail(f).complete(c);
                let task = client.request(o);
                assert!(!task.is_finished(), "queued behind the busy workers");
                task.abort();
                task
            },
            |t| t.is_finished(),
            |t| t.wait().map(drop),
        );
        for t in &busy {
            t.abort();
        }
    });
}

#[test]
fn shutting_down_under_a_lock_the_queued_calls_callbacks_take_does_not_deadlock() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b);
        let _busy = fill_workers(&server, &client);
        let probe = Probe::default();
        probe.check(
            1,
            ErrorKind::Abort,
            |f, c| {
                let o = RequestOptions::new(format!("{API}/x")).fail(f).complete(c);
                let task = client.request(o);
                assert!(!task.is_finished(), "queued behind the busy workers");
                client.shutdown();
                task
            },
            |t| t.is_finished(),
            |t| t.wait().map(drop),
        );
    });
}
