//! Invariants under load (its own test binary, so /proc/self counts are
//! this test's alone): 20,000 mixed calls from 16 threads against a server
//! that fails about 10% of them, with aborts, short timeouts and a
//! background/foreground toggle. Every call ends exactly once, every
//! failure is the one injected, no partial file is left, and afterwards
//! threads, file descriptors and memory are back near their idle values.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::procfs::{fds, rss_kib, threads};
use common::{HttpServer, TempDir, TestPki, eventually, watchdog};
use wxnet::{DownloadFileOptions, ErrorKind, Method, RequestOptions, UploadFileOptions};

const THREADS: usize = 16;
const PER_THREAD: usize = 1250;
const CALLS: usize = THREADS * PER_THREAD;

/// A small deterministic generator: the run is the same every time.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// What a call was made to meet, so its ending can be judged.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Plan {
    Ok,
    ServerError,
    ResetEarly,
    ResetMidBody,
    Stall,
    Abort,
    Upload,
    Download,
}

fn plan(r: u64) -> Plan {
    match r % 100 {
        0..=3 => Plan::ResetEarly,
        4..=7 => Plan::ResetMidBody,
        8 => Plan::Stall,
        9..=10 => Plan::ServerError,
        11..=15 => Plan::Abort,
        16..=23 => Plan::Upload,
        24..=31 => Plan::Download,
        _ => Plan::Ok,
    }
}

/// Whether `result` is an acceptable ending for `plan`.
fn acceptable(plan: Plan, result: &Result<u16, ErrorKind>) -> bool {
    match (plan, result) {
        (Plan::Ok | Plan::Upload | Plan::Download, Ok(200)) => true,
        (Plan::ServerError, Ok(500)) => true,
        (Plan::ResetEarly | Plan::ResetMidBody, Err(ErrorKind::ConnectionReset)) => true,
        (Plan::Stall, Err(ErrorKind::Timeout)) => true,
        // Aborted right after the call: usually before it starts, but a
        // fast worker may have finished it already.
        (Plan::Abort, Err(ErrorKind::Abort) | Ok(200)) => true,
        _ => false,
    }
}

#[test]
fn twenty_thousand_mixed_calls_each_end_once_and_leave_nothing_behind() {
    watchdog(Duration::from_secs(30), || {
        let threads_before = threads();
        let fds_before = fds();
        let rss_before = rss_kib();
        let dir = TempDir::new("invariants");
        let upload = dir.path().join("upload.bin");
        std::fs::write(&upload, vec![7u8; 2048]).unwrap();
        let downloads = dir.path().join("downloads");

        let pki = TestPki::new();
        let server = HttpServer::start(
            pki.server_config(&pki.identity(&[
                "api.example.com",
                "up.example.com",
                "dl.example.com",
            ])),
            |r, c| match r.path.split('?').next().unwrap_or_default() {
                "/reset-early" => c.reset(),
                "/reset-mid" => {
                    let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial");
                    let _ = c.flush();
                    c.reset();
                }
                "/stall" => {
                    c.peer_closed_wait(Duration::from_secs(5));
                    c.close();
                }
                "/500" => c.respond(500, &[], b"oops"),
                "/file" => c.respond(200, &[], &[1u8; 16 * 1024]),
                _ => c.respond(200, &[("content-type", "application/json")], br#"{"ok":1}"#),
            },
        );
        let client = common::client_builder(&pki, &server)
            .request_domains(["https://api.example.com"])
            .upload_domains(["https://up.example.com"])
            .download_domains(["https://dl.example.com"])
            .download_dir(&downloads)
            .build()
            .unwrap();

        // Per call: results seen (success or fail) and completes seen;
        // a complete must come after its result.
        let results: Arc<Vec<AtomicU8>> = Arc::new((0..CALLS).map(|_| AtomicU8::new(0)).collect());
        let completes: Arc<Vec<AtomicU8>> =
            Arc::new((0..CALLS).map(|_| AtomicU8::new(0)).collect());
        let out_of_order = Arc::new(AtomicUsize::new(0));
        let wrong: Arc<Mutex<Vec<String>>> = Arc::default();
        let downloaded = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = mpsc::channel::<()>();

        // The app goes to the background and back, well within the 5 s
        // grace: nothing may be interrupted by it.
        let toggling = Arc::new(AtomicBool::new(true));
        let toggler = {
            let (client, toggling) = (client.clone(), toggling.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while toggling.load(Ordering::Relaxed) {
                    client.enter_background();
                    std::thread::sleep(Duration::from_millis(20));
                    client.enter_foreground();
                    std::thread::sleep(Duration::from_millis(20));
                    n += 1;
                }
                n
            })
        };

        let callers: Vec<_> = (0..THREADS)
            .map(|t| {
                let client = client.clone();
                let (results, completes, out_of_order, wrong) = (
                    results.clone(),
                    completes.clone(),
                    out_of_order.clone(),
                    wrong.clone(),
                );
                let (downloaded, done_tx, upload) =
                    (downloaded.clone(), done_tx.clone(), upload.clone());
                std::thread::spawn(move || {
                    let mut rng = Lcg(t as u64 + 1);
                    for k in 0..PER_THREAD {
                        let id = t * PER_THREAD + k;
                        let r = rng.next();
                        let p = plan(r);
                        let wait_here = r % 3 == 0;
                        let judge = {
                            let (results, wrong) = (results.clone(), wrong.clone());
                            move |res: Result<u16, ErrorKind>| {
                                results[id].fetch_add(1, Ordering::SeqCst);
                                if !acceptable(p, &res) {
                                    wrong.lock().unwrap().push(format!("{id} {p:?}: {res:?}"));
                                }
                            }
                        };
                        let complete = {
                            let (results, completes, out_of_order, done_tx) = (
                                results.clone(),
                                completes.clone(),
                                out_of_order.clone(),
                                done_tx.clone(),
                            );
                            move || {
                                if results[id].load(Ordering::SeqCst) != 1 {
                                    out_of_order.fetch_add(1, Ordering::SeqCst);
                                }
                                completes[id].fetch_add(1, Ordering::SeqCst);
                                let _ = done_tx.send(());
                            }
                        };
                        let (ok, fail) = (judge.clone(), judge);
                        match p {
                            Plan::Upload => {
                                let task = client.upload_file(
                                    UploadFileOptions::new(
                                        "https://up.example.com/u",
                                        &upload,
                                        "file",
                                    )
                                    .form_data("k", "v")
                                    .success(move |s| ok(Ok(s.status_code)))
                                    .fail(move |e| fail(Err(e.kind())))
                                    .complete(complete),
                                );
                                if wait_here {
                                    let _ = task.wait();
                                }
                            }
                            Plan::Download => {
                                let downloaded = downloaded.clone();
                                let task = client.download_file(
                                    DownloadFileOptions::new("https://dl.example.com/file")
                                        .success(move |s| {
                                            downloaded.fetch_add(1, Ordering::SeqCst);
                                            ok(Ok(s.status_code))
                                        })
                                        .fail(move |e| fail(Err(e.kind())))
                                        .complete(complete),
                                );
                                if wait_here {
                                    let _ = task.wait();
                                }
                            }
                            _ => {
                                let path = match p {
                                    Plan::ResetEarly => "/reset-early",
                                    Plan::ResetMidBody => "/reset-mid",
                                    Plan::Stall => "/stall",
                                    Plan::ServerError => "/500",
                                    _ => "/ok",
                                };
                                let method = if r % 2 == 0 {
                                    Method::Get
                                } else {
                                    Method::Post
                                };
                                let mut o =
                                    RequestOptions::new(format!("https://api.example.com{path}"))
                                        .method(method)
                                        .data(serde_json::json!({ "id": id }))
                                        .success(move |s| ok(Ok(s.status_code)))
                                        .fail(move |e| fail(Err(e.kind())))
                                        .complete(complete);
                                if p == Plan::Stall {
                                    o = o.timeout(Duration::from_millis(100));
                                }
                                let task = client.request(o);
                                if p == Plan::Abort {
                                    task.abort();
                                } else if wait_here {
                                    let _ = task.wait();
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        drop(done_tx);
        for c in callers {
            c.join().unwrap();
        }
        for n in 0..CALLS {
            done_rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("only {n} of {CALLS} calls completed"));
        }
        toggling.store(false, Ordering::Relaxed);
        assert!(toggler.join().unwrap() > 0);

        let wrong = wrong.lock().unwrap();
        assert!(
            wrong.is_empty(),
            "{} unexpected endings: {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(10)]
        );
        for id in 0..CALLS {
            assert_eq!(results[id].load(Ordering::SeqCst), 1, "call {id}: results");
            assert_eq!(
                completes[id].load(Ordering::SeqCst),
                1,
                "call {id}: completes"
            );
        }
        assert_eq!(out_of_order.load(Ordering::SeqCst), 0);
        // Successful downloads left their file; failures left nothing.
        let files: Vec<String> = std::fs::read_dir(&downloads)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            files.iter().all(|f| !f.contains(".part-")),
            "partial files left"
        );
        assert_eq!(files.len(), downloaded.load(Ordering::SeqCst));

        drop(client);
        drop(server);
        // Server connection threads end as their clients went away.
        assert!(
            eventually(Duration::from_secs(10), || threads() <= threads_before),
            "threads: {} before, {} after",
            threads_before,
            threads()
        );
        assert!(
            eventually(Duration::from_secs(5), || fds() <= fds_before),
            "fds: {} before, {} after",
            fds_before,
            fds()
        );
        // The allocator keeps some freed pages; a leak of 20,000 calls'
        // worth would be far above this.
        let grown = rss_kib().saturating_sub(rss_before);
        assert!(grown < 48 * 1024, "RSS grew by {grown} KiB");
    });
}
