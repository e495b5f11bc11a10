//! The device failing under the library: a full disk or a file-size
//! limit, file descriptors or threads running out, the network flapping,
//! an overloaded queue. Each call must end in exactly one success or fail
//! and then one complete, with a clear errMsg and errno, leave no partial
//! file and no leak, and the client must work again once the fault is
//! gone. Cases that set process limits or count threads run in a child
//! process of their own (this binary run again for one test); the servers
//! stay in the parent.

mod common;

use std::error::Error as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::child::{self, is_child};
use common::{Flapper, HttpServer, TempDir, TestPki, WsServer, files_in, procfs, watchdog};
use wxnet::{
    Client, ClientBuilder, ConnectSocketOptions, DownloadFileOptions, ErrorKind, Method,
    RequestOptions, SocketClose, SocketMessage,
};

const SECS: Duration = Duration::from_secs(5);
const CHILD_LIMIT: Duration = Duration::from_secs(9);
const BIG: usize = 1024 * 1024;
const NAMES: [&str; 3] = ["api.example.com", "dl.example.com", "up.example.com"];

/// The servers every case talks to: HTTPS (with a POST counter) and a
/// WebSocket echo.
struct Servers {
    http: HttpServer,
    ws: WsServer,
    ca: String,
    posts: Arc<Mutex<Vec<String>>>,
}

fn servers() -> Servers {
    let pki = TestPki::new();
    let posts: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = posts.clone();
    let http = HttpServer::start(
        pki.server_config(&pki.identity(&NAMES)),
        move |r, c| match r.path.as_str() {
            "/big" => c.respond(200, &[], &common::pattern(BIG)),
            "/small" => c.respond(200, &[], b"small file"),
            "/close" => {
                c.respond(200, &[("connection", "close")], b"{}");
                c.close();
            }
            "/slow" => {
                std::thread::sleep(Duration::from_millis(20));
                c.respond(200, &[], b"{}");
            }
            p if r.method == "POST" => {
                seen.lock().unwrap().push(p.to_string());
                c.respond(200, &[], b"{}");
            }
            _ => c.respond(200, &[("content-type", "application/json")], b"{\"ok\":1}"),
        },
    );
    let ws = WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
    Servers {
        http,
        ws,
        ca: String::from_utf8(pki.ca_pem()).unwrap(),
        posts,
    }
}

impl Servers {
    /// What a child needs to reach the servers.
    fn vars(&self, dir: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("WXNET_HTTP", self.http.addr().to_string()),
            ("WXNET_WS", self.ws.addr().to_string()),
            ("WXNET_CA", self.ca.clone()),
            ("WXNET_DIR", dir.display().to_string()),
        ]
    }

    fn builder(&self) -> ClientBuilder {
        builder_for(&self.ca, self.http.addr(), self.ws.addr())
    }
}

fn builder_for(ca: &str, http: std::net::SocketAddr, ws: std::net::SocketAddr) -> ClientBuilder {
    let mut b = Client::builder()
        .app_id("wxtest")
        .add_root_certificate(ca)
        .unwrap()
        .request_domains(["https://api.example.com"])
        .download_domains(["https://dl.example.com"])
        .upload_domains(["https://up.example.com"])
        .socket_domains(["wss://ws.example.com"])
        .resolve("ws.example.com", ws);
    for n in NAMES {
        b = b.resolve(n, http);
    }
    b
}

/// In a child: the client builder for the parent's servers, and the
/// parent's directory.
fn child_builder() -> (ClientBuilder, PathBuf) {
    let addr = |v: &str| child::env(v).parse().unwrap();
    let b = builder_for(
        &child::env("WXNET_CA"),
        addr("WXNET_HTTP"),
        addr("WXNET_WS"),
    );
    (b, PathBuf::from(child::env("WXNET_DIR")))
}

/// Run `body` in a child process of its own (this binary running only
/// `test`, under `wrapper`), with the servers in this process; `prepare`
/// fills the directory shared with the child first. Returns that
/// directory for checks afterwards (`None` in the child).
fn in_child(
    test: &str,
    wrapper: &[&str],
    body: fn(),
    prepare: impl FnOnce(&Path),
) -> Option<TempDir> {
    if is_child() {
        body();
        return None;
    }
    let s = servers();
    let dir = TempDir::new("child");
    prepare(dir.path());
    child::run_child(test, wrapper, &s.vars(dir.path()), CHILD_LIMIT);
    Some(dir)
}

/// The callbacks one call ran, in order.
#[derive(Clone, Default)]
struct Ends(Arc<(Mutex<Vec<&'static str>>, Condvar)>);

impl Ends {
    fn push(&self, what: &'static str) {
        self.0.0.lock().unwrap().push(what);
        self.0.1.notify_all();
    }

    /// Waits for `complete`, then checks it came once, after exactly one
    /// `outcome` (`"success"` or `"fail"`).
    fn assert_ended(&self, outcome: &str) {
        let log = self.0.0.lock().unwrap();
        let (log, _) = self
            .0
            .1
            .wait_timeout_while(log, SECS, |l| !l.contains(&"complete"))
            .unwrap();
        assert_eq!(*log, [outcome, "complete"], "callbacks of one call");
    }
}

/// Options with `success` / `fail` / `complete` recording into `ends`.
macro_rules! recorded {
    (socket $options:expr, $ends:expr) => {{
        let (a, b, c) = ($ends.clone(), $ends.clone(), $ends.clone());
        $options
            .success(move || a.push("success"))
            .fail(move |_| b.push("fail"))
            .complete(move || c.push("complete"))
    }};
    ($options:expr, $ends:expr) => {{
        let (a, b, c) = ($ends.clone(), $ends.clone(), $ends.clone());
        $options
            .success(move |_| a.push("success"))
            .fail(move |_| b.push("fail"))
            .complete(move || c.push("complete"))
    }};
}

/// The io error behind `e`.
fn io_source(e: &wxnet::Error) -> &io::Error {
    e.source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .unwrap_or_else(|| panic!("no io error behind {e:?}"))
}

fn download(client: &Client, url: &str, to: Option<&Path>) -> (wxnet::Result<()>, Ends) {
    let ends = Ends::default();
    let mut o = DownloadFileOptions::new(url);
    if let Some(p) = to {
        o = o.file_path(p);
    }
    let r = client.download_file(recorded!(o, ends)).wait().map(drop);
    (r, ends)
}

const OLD: &[u8] = b"the file that was here before";

/// A download that hits the file-size limit (`RLIMIT_FSIZE`, SIGXFSZ
/// ignored) fails with the system's text, removes its partial file, keeps
/// the file it would have replaced, and the next one after the limit is
/// lifted succeeds.
#[test]
fn a_download_over_the_file_size_limit_fails_and_leaves_no_file() {
    common::require("prlimit", "util-linux");
    // SIG_IGN survives exec, so the limit fails the write with EFBIG
    // instead of killing the process.
    let wrapper = [
        "sh",
        "-c",
        "trap '' XFSZ; exec \"$@\"",
        "sh",
        "prlimit",
        "--fsize=262144:unlimited",
        "--",
    ];
    let test = "a_download_over_the_file_size_limit_fails_and_leaves_no_file";
    let keep = |d: &Path| std::fs::write(d.join("keep.bin"), OLD).unwrap();
    let Some(dir) = in_child(test, &wrapper, file_size_child, keep) else {
        return;
    };
    let kept = std::fs::read(dir.path().join("keep.bin")).unwrap();
    assert_eq!(
        common::sha256_hex(&kept),
        common::sha256_hex(&common::pattern(BIG))
    );
}

fn file_size_child() {
    let (b, dir) = child_builder();
    let client = b.download_dir(dir.join("dl")).build().unwrap();
    let keep = dir.join("keep.bin");
    let url = "https://dl.example.com/big";
    for to in [Some(keep.as_path()), None] {
        let (r, ends) = download(&client, url, to);
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FileAccess, "{e:?}");
        assert_eq!(e.errno(), 1300013);
        assert_eq!(
            e.err_msg(),
            "downloadFile:fail file error: File too large (os error 27)"
        );
        assert_eq!(io_source(&e).raw_os_error(), Some(27));
        ends.assert_ended("fail");
        assert_eq!(std::fs::read(&keep).unwrap(), OLD, "the old file is intact");
        let left: Vec<String> = files_in(&dir).into_iter().filter(|f| f != "dl").collect();
        assert_eq!(left, ["keep.bin"], "no partial file");
        assert!(files_in(&dir.join("dl")).is_empty(), "no partial file");
    }
    let pid = std::process::id().to_string();
    let lifted = Command::new("prlimit")
        .args(["--pid", &pid, "--fsize=unlimited:unlimited"])
        .status()
        .unwrap();
    assert!(lifted.success());
    let (r, ends) = download(&client, url, Some(&keep));
    r.unwrap();
    ends.assert_ended("success");
    assert_eq!(std::fs::read(&keep).unwrap().len(), BIG);
}

/// Unmounts a tmpfs when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The same on a full disk: a 256 KiB tmpfs. Where mounting is refused
/// (not root, no CAP_SYS_ADMIN) the test checks that it was refused for
/// lack of privilege and says so, rather than passing silently.
#[test]
fn a_download_onto_a_full_disk_fails_and_leaves_no_file() {
    common::require("mount", "mount");
    watchdog(Duration::from_secs(9), || {
        let s = servers();
        let dir = TempDir::new("tmpfs");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(dir.path())
            .output();
        let refused = match &mounted {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(String::from_utf8_lossy(&o.stderr).to_lowercase()),
            Err(e) => Some(e.to_string().to_lowercase()),
        };
        if let Some(why) = refused {
            assert!(
                [
                    "permission",
                    "superuser",
                    "not permitted",
                    "root",
                    "not found"
                ]
                .iter()
                .any(|w| why.contains(w)),
                "mount failed for another reason than privilege: {why}"
            );
            eprintln!("tmpfs not mounted ({why}); the file-size limit test covers the fault");
            return;
        }
        let _mount = Mount(dir.path().to_path_buf());
        let keep = dir.path().join("keep.bin");
        std::fs::write(&keep, OLD).unwrap();
        let client = s
            .builder()
            .download_dir(dir.path().join("dl"))
            .build()
            .unwrap();
        for to in [Some(keep.as_path()), None] {
            let (r, ends) = download(&client, "https://dl.example.com/big", to);
            let e = r.unwrap_err();
            assert_eq!(e.errno(), 1300013);
            assert_eq!(
                e.err_msg(),
                "downloadFile:fail file error: No space left on device (os error 28)"
            );
            assert_eq!(io_source(&e).raw_os_error(), Some(28));
            ends.assert_ended("fail");
            assert_eq!(std::fs::read(&keep).unwrap(), OLD);
            assert!(
                files_in(&dir.path().join("dl")).is_empty(),
                "no partial file"
            );
        }
        let (r, ends) = download(&client, "https://dl.example.com/small", Some(&keep));
        r.unwrap();
        ends.assert_ended("success");
        assert_eq!(std::fs::read(&keep).unwrap(), b"small file");
    });
}

/// Paths that cannot be written fail with the system's text and create
/// nothing.
#[test]
fn download_paths_that_cannot_be_written_fail_with_the_system_text() {
    watchdog(Duration::from_secs(9), || {
        let s = servers();
        let dir = TempDir::new("paths");
        let file = dir.path().join("a-file");
        std::fs::write(&file, OLD).unwrap();
        let client = s.builder().download_dir(file.join("dl")).build().unwrap();
        let url = "https://dl.example.com/small";
        // A folder that does not exist: the runtime's "file not found".
        let (r, ends) = download(&client, url, Some(&dir.path().join("missing").join("x")));
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FileNotFound, "{e:?}");
        assert_eq!(e.errno(), 1300002);
        assert_eq!(e.err_msg(), "downloadFile:fail file not found");
        assert_eq!(io_source(&e).raw_os_error(), Some(2));
        ends.assert_ended("fail");
        let cases = [
            (
                Some(dir.path().to_path_buf()),
                "Is a directory (os error 21)",
            ),
            // The download folder would be made under a regular file.
            (None, "Not a directory (os error 20)"),
        ];
        for (to, text) in cases {
            let (r, ends) = download(&client, url, to.as_deref());
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::FileAccess, "{e:?}");
            assert_eq!(e.errno(), 1300013);
            assert_eq!(e.err_msg(), format!("downloadFile:fail file error: {text}"));
            io_source(&e);
            ends.assert_ended("fail");
            assert_eq!(files_in(dir.path()), ["a-file"], "nothing created");
        }
    });
}

/// With every file descriptor taken, new connections fail with 600001 and
/// the system's text, sockets end with error and close, no thread dies,
/// and all works again once descriptors are free.
#[test]
fn out_of_file_descriptors_calls_fail_clearly_and_recover() {
    common::require("prlimit", "util-linux");
    let test = "out_of_file_descriptors_calls_fail_clearly_and_recover";
    let wrapper = ["prlimit", "--nofile=256:256", "--"];
    in_child(test, &wrapper, descriptors_child, |_| ());
}

fn descriptors_child() {
    let (b, _) = child_builder();
    let client = b.build().unwrap();
    // A thread takes its name once it runs.
    assert!(common::eventually(SECS, || lasting_threads() == 11));
    let lasting = lasting_threads();
    let mut hog = Vec::new();
    let full = loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) => break e,
        }
    };
    assert_eq!(full.raw_os_error(), Some(24), "{full}");
    let ends = Ends::default();
    let o = RequestOptions::new("https://api.example.com/ok");
    let e = client.request(recorded!(o, ends)).wait().unwrap_err();
    assert_eq!(e.errno(), 600001);
    assert_eq!(
        e.err_msg(),
        "request:fail network error: Too many open files (os error 24)"
    );
    assert_eq!(io_source(&e).raw_os_error(), Some(24));
    ends.assert_ended("fail");

    // The task is made (the runtime's connectSocket success); its
    // connection then fails.
    let text = "connectSocket:fail network error: Too many open files (os error 24)";
    assert_socket_fails(&client, "success", text);

    drop(hog);
    // Counting threads needs a descriptor: only now.
    assert_eq!(lasting_threads(), lasting, "no thread died");
    let r = client.request(RequestOptions::new("https://api.example.com/ok"));
    r.wait().unwrap();
    let task = client.connect_socket(ConnectSocketOptions::new("wss://ws.example.com/"));
    task.wait_open(SECS).unwrap();
    task.send(SocketMessage::Text("back".into())).unwrap();
    assert_eq!(
        task.recv(SECS).unwrap(),
        Some(SocketMessage::Text("back".into()))
    );
}

/// A socket that cannot connect: `outcome` then `complete`, one error
/// event reading `text`, one close event with 1006.
fn assert_socket_fails(client: &Client, outcome: &str, text: &str) {
    let ends = Ends::default();
    let task = client.connect_socket(recorded!(
        socket ConnectSocketOptions::new("wss://ws.example.com/"),
        ends
    ));
    let (closes, errors) = socket_ends(&task);
    ends.assert_ended(outcome);
    assert!(common::eventually(SECS, || {
        closes.lock().unwrap().len() == 1 && errors.lock().unwrap().len() == 1
    }));
    assert_eq!(*closes.lock().unwrap(), [1006]);
    assert_eq!(*errors.lock().unwrap(), [text]);
}

/// The client's lasting threads: workers and timer.
fn lasting_threads() -> usize {
    procfs::threads_named("wxnet-worker") + procfs::threads_named("wxnet-timer")
}

type Log<T> = Arc<Mutex<Vec<T>>>;

/// The close codes and error messages a socket reports.
fn socket_ends(task: &wxnet::SocketTask) -> (Log<u16>, Log<String>) {
    let (closes, errors): (Log<u16>, Log<String>) = Default::default();
    let (c2, e2) = (closes.clone(), errors.clone());
    task.on_close(move |c: &SocketClose| c2.lock().unwrap().push(c.code));
    task.on_error(move |e| e2.lock().unwrap().push(e.err_msg().to_string()));
    (closes, errors)
}

/// A client whose threads cannot start is not built, and leaves no thread
/// behind; a socket whose thread cannot start ends with error and close;
/// no panic anywhere. Root ignores `RLIMIT_NPROC`, so the client's own
/// thread limit stands in for the system's.
#[test]
fn threads_refused_fail_the_build_or_the_socket_and_leak_nothing() {
    let test = "threads_refused_fail_the_build_or_the_socket_and_leak_nothing";
    in_child(test, &[], threads_child, |_| ());
}

/// This process is back to `n` threads (a joined thread may linger in
/// /proc for a moment).
fn assert_threads(n: usize) {
    let settled = common::eventually(SECS, || procfs::threads() == n);
    assert!(settled, "not {n} threads: {:?}", procfs::thread_names());
}

fn threads_child() {
    let (b, _) = child_builder();
    let before = procfs::threads();
    for limit in [0, 3, 10] {
        let e = b.clone().thread_limit(limit).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(
            e.err_msg(),
            "ClientBuilder.build:fail invalid config: cannot start threads: \
             Resource temporarily unavailable (thread limit)"
        );
        assert_eq!(io_source(&e).kind(), io::ErrorKind::WouldBlock);
        assert_threads(before);
    }
    // The 10 workers and the timer, nothing more.
    let client = b.thread_limit(11).build().unwrap();
    let text = "connectSocket:fail network error: Resource temporarily unavailable (thread limit)";
    assert_socket_fails(&client, "fail", text);
    // Calls still run on the workers.
    let r = client.request(RequestOptions::new("https://api.example.com/ok"));
    r.wait().unwrap();
    drop(client);
    assert_threads(before);
}

/// The server drops every connection, or goes away and comes back, while
/// calls run: pooled connections are replaced, GETs are retried, a POST
/// reaches the server at most once, sockets end with 1006 and new ones
/// work.
#[test]
fn a_flapping_server_is_survived() {
    watchdog(Duration::from_secs(9), || {
        let s = servers();
        let http = Flapper::start(s.http.addr());
        let ws = Flapper::start(s.ws.addr());
        let client = builder_for(&s.ca, http.addr(), ws.addr()).build().unwrap();
        let get = |path: &str| {
            let o = RequestOptions::new(format!("https://api.example.com{path}"));
            client.request(o).wait()
        };
        // Several pooled connections, then all of them dropped at once.
        std::thread::scope(|sc| {
            for _ in 0..6 {
                sc.spawn(|| get("/ok").unwrap());
            }
        });
        let before = s.http.connections_accepted();
        http.drop_connections();
        for _ in 0..6 {
            get("/ok").expect("a stale pooled connection is replaced");
        }
        assert!(s.http.connections_accepted() > before);

        for round in 0..4 {
            get("/ok").unwrap();
            http.drop_connections();
            let path = format!("/post-{round}");
            let o = RequestOptions::new(format!("https://api.example.com{path}"))
                .method(Method::Post)
                .data("x");
            let r = client.request(o).wait();
            let arrived = s
                .posts
                .lock()
                .unwrap()
                .iter()
                .filter(|p| **p == path)
                .count();
            match r {
                Ok(_) => assert_eq!(arrived, 1, "a POST that succeeded arrived once"),
                Err(e) => {
                    assert!(arrived <= 1, "a POST arrived {arrived} times");
                    assert_eq!(e.errno(), 600001, "{e:?}");
                }
            }
        }

        // Down, while a socket is open and calls keep coming.
        let socket = client.connect_socket(ConnectSocketOptions::new("wss://ws.example.com/"));
        socket.wait_open(SECS).unwrap();
        let (closes, errors) = socket_ends(&socket);
        let stop = AtomicBool::new(false);
        let (calls, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|sc| {
            for _ in 0..3 {
                sc.spawn(|| {
                    while !stop.load(Ordering::SeqCst) {
                        let ends = Ends::default();
                        let o = RequestOptions::new("https://api.example.com/ok");
                        let r = client.request(recorded!(o, ends)).wait();
                        calls.fetch_add(1, Ordering::SeqCst);
                        match r {
                            Ok(_) => ends.assert_ended("success"),
                            Err(e) => {
                                assert_eq!(e.errno(), 600001, "{e:?}");
                                failed.fetch_add(1, Ordering::SeqCst);
                                ends.assert_ended("fail");
                            }
                        }
                    }
                });
            }
            http.down();
            ws.down();
            assert!(common::eventually(SECS, || failed.load(Ordering::SeqCst) >= 3));
            http.up();
            ws.up();
            let ok_from = calls.load(Ordering::SeqCst);
            assert!(common::eventually(SECS, || {
                calls.load(Ordering::SeqCst) >= ok_from + 6
            }));
            stop.store(true, Ordering::SeqCst);
        });
        get("/ok").expect("calls work once the server is back");
        assert!(common::eventually(SECS, || !closes
            .lock()
            .unwrap()
            .is_empty()));
        assert_eq!(*closes.lock().unwrap(), [1006]);
        assert_eq!(
            *errors.lock().unwrap(),
            ["connectSocket:fail connection closed abnormally"]
        );
        let again = client.connect_socket(ConnectSocketOptions::new("wss://ws.example.com/"));
        again.wait_open(SECS).unwrap();
        again.send(SocketMessage::Text("hi".into())).unwrap();
        assert_eq!(
            again.recv(SECS).unwrap(),
            Some(SocketMessage::Text("hi".into()))
        );
    });
}

/// A name that stops resolving fails with the `Dns` kind; the next call
/// that resolves works. The lookup never leaves the machine.
#[test]
fn a_name_that_stops_resolving_fails_with_dns_then_recovers() {
    watchdog(Duration::from_secs(9), || {
        let s = servers();
        let addr = s.http.addr();
        let dns_up = Arc::new(AtomicBool::new(true));
        let up = dns_up.clone();
        let client = Client::builder()
            .add_root_certificate(&s.ca)
            .unwrap()
            .request_domains(["https://api.example.com"])
            .resolver(move |host, _| {
                if up.load(Ordering::SeqCst) && host == "api.example.com" {
                    Ok(vec![addr])
                } else {
                    Err(io::Error::new(io::ErrorKind::NotFound, host.to_string()))
                }
            })
            .build()
            .unwrap();
        // The server closes each connection: every call looks the name up.
        let get = || {
            let o = RequestOptions::new("https://api.example.com/close");
            client.request(o).wait()
        };
        get().unwrap();
        dns_up.store(false, Ordering::SeqCst);
        let e = get().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Dns);
        assert_eq!(e.err_msg(), "request:fail dns lookup failed");
        assert_eq!(e.errno(), 600001);
        dns_up.store(true, Ordering::SeqCst);
        get().unwrap();
    });
}

/// 200 threads keep a small queue full: calls beyond it are refused at
/// once with 600007, every accepted call ends exactly once (success, or
/// its deadline), and threads and memory come back to where they were.
#[test]
fn overload_refuses_at_once_and_ends_every_call_once() {
    let test = "overload_refuses_at_once_and_ends_every_call_once";
    in_child(test, &[], overload_child, |_| ());
}

fn overload_child() {
    let (b, _) = child_builder();
    let client = b.queue_capacity(16).build().unwrap();
    // The caller's threads: 200 come and go each round.
    let callers = || {
        let names = procfs::thread_names();
        names.iter().filter(|n| !n.starts_with("wxnet-")).count()
    };
    // A thread has its creator's name until it runs and takes its own.
    assert!(common::eventually(SECS, || lasting_threads() == 11));
    let base = callers();
    let mut threads = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..2 {
        let (refused, succeeded) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let end = std::time::Instant::now() + Duration::from_millis(1500);
        std::thread::scope(|sc| {
            for _ in 0..200 {
                std::thread::Builder::new()
                    .stack_size(128 * 1024)
                    .spawn_scoped(sc, || {
                        while std::time::Instant::now() < end {
                            let ends = Ends::default();
                            let o = RequestOptions::new("https://api.example.com/slow")
                                .timeout(Duration::from_secs(3));
                            let task = client.request(recorded!(o, ends));
                            let over_at_once = task.is_finished();
                            match task.wait() {
                                Ok(_) => {
                                    succeeded.fetch_add(1, Ordering::SeqCst);
                                    ends.assert_ended("success");
                                }
                                Err(e) if e.kind() == ErrorKind::QueueFull => {
                                    assert!(over_at_once, "refused at once");
                                    assert_eq!(e.errno(), 600007);
                                    assert_eq!(e.err_msg(), "request:fail exceed max task count");
                                    refused.fetch_add(1, Ordering::SeqCst);
                                    ends.assert_ended("fail");
                                }
                                Err(e) => {
                                    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
                                    ends.assert_ended("fail");
                                }
                            }
                        }
                    })
                    .unwrap();
            }
        });
        assert!(
            refused.load(Ordering::SeqCst) > 0,
            "the queue was never full"
        );
        assert!(succeeded.load(Ordering::SeqCst) > 0);
        // A joined thread may linger in /proc for a moment.
        let settled = common::eventually(SECS, || callers() == base);
        assert!(
            settled,
            "{base} callers before: {:?}",
            procfs::thread_names()
        );
        threads.push(procfs::thread_names());
        rss.push(procfs::rss_kib());
    }
    // The first round also started the threads that stay (the callback
    // thread of refused calls): from then on nothing may grow.
    assert_eq!(threads[1], threads[0]);
    assert!(rss[1] <= rss[0] + 4096, "memory grew: {rss:?} KiB");
}
