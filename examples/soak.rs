//! Soak run (not part of CI): mixed traffic for a long time, printing
//! this process's resident memory, threads and open file descriptors every
//! minute. They must stay flat.
//!
//! `cargo run --release --example soak -- --minutes 60`
//!
//! The TLS and WSS servers run in a child process (this example run again
//! with `--serve`), so their memory is not counted as the library's: the
//! child's resident memory gets a column of its own. The mix: requests,
//! server resets, aborts, timeouts, gzip bodies, uploads, downloads,
//! WebSockets, calls through tinyproxy (when installed), background
//! toggles, and once a minute an overload burst (200 threads on a second
//! client with a small queue for 3 s, then a 5 s background interrupt,
//! then that client is dropped). `SOAK_THREADS` (default 4) sets the
//! steady workers, `SOAK_ONLY=<0-8>` repeats one kind of call.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procfs;
use wxnet::{
    Client, ClientBuilder, ConnectSocketOptions, DownloadFileOptions, RequestOptions, ResponseData,
    SocketMessage, UploadFileOptions,
};

const NAMES: [&str; 3] = ["api.example.com", "up.example.com", "dl.example.com"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--serve") {
        return serve();
    }
    let minutes: u64 = args
        .iter()
        .position(|a| a == "--minutes")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(60);
    run(minutes);
}

/// The child: the servers, until the parent closes our stdin.
fn serve() {
    let pki = common::TestPki::new();
    let json = format!("[{}0]", r#"{"item":"soak","n":12345},"#.repeat(2000));
    let gz = Arc::new(gzip(json.as_bytes()));
    let http = common::HttpServer::start(pki.server_config(&pki.identity(&NAMES)), move |r, c| {
        match r.path.split('?').next().unwrap_or_default() {
            "/fail" => c.reset(),
            "/file" => c.respond(200, &[], &[7u8; 256 * 1024]),
            "/gz" => c.respond(
                200,
                &[
                    ("content-type", "application/json"),
                    ("content-encoding", "gzip"),
                ],
                &gz,
            ),
            // Held until the client aborts or times out.
            "/hold" => {
                c.peer_closed_wait(Duration::from_secs(15));
                c.reset();
            }
            _ => c.respond(200, &[("content-type", "application/json")], br#"{"ok":1}"#),
        }
    });
    let ws = common::WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
    let dir = common::TempDir::new("soak-serve");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    println!(
        "READY {} {} {}",
        http.port(),
        ws.addr().port(),
        ca.display()
    );
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Where the child's servers are.
struct Servers {
    child: Child,
    http: SocketAddr,
    ws: SocketAddr,
    ca: Vec<u8>,
}

fn start_servers() -> Servers {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.first(), Some(&"READY"), "server child said {line:?}");
    let addr = |p: &str| SocketAddr::from(([127, 0, 0, 1], p.parse().unwrap()));
    Servers {
        http: addr(f[1]),
        ws: addr(f[2]),
        ca: std::fs::read(f[3]).unwrap(),
        child,
    }
}

fn builder(s: &Servers, dir: &std::path::Path) -> ClientBuilder {
    let mut b = Client::builder()
        .app_id("wxtest")
        .add_root_certificate(&s.ca)
        .unwrap()
        .request_domains(["https://api.example.com"])
        .upload_domains(["https://up.example.com"])
        .download_domains(["https://dl.example.com"])
        .socket_domains(["wss://ws.example.com"])
        .resolve("ws.example.com", s.ws)
        .download_dir(dir.join("dl"));
    for n in NAMES {
        b = b.resolve(n, s.http);
    }
    b
}

/// Calls and failures by kind, since the last minute's line.
#[derive(Clone, Default)]
struct Tally {
    calls: Arc<AtomicU64>,
    failures: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl Tally {
    fn record<T>(&self, r: wxnet::Result<T>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = r {
            let kind = format!("{:?}", e.kind());
            *self.failures.lock().unwrap().entry(kind).or_default() += 1;
        }
    }

    fn take(&self) -> (u64, BTreeMap<String, u64>) {
        let calls = self.calls.swap(0, Ordering::Relaxed);
        (calls, std::mem::take(&mut *self.failures.lock().unwrap()))
    }
}

/// One call of kind `pick`.
fn one_call(
    client: &Client,
    proxied: Option<&Client>,
    upload: &std::path::Path,
    pick: u64,
) -> wxnet::Result<()> {
    let api = |path: &str| RequestOptions::new(format!("https://api.example.com{path}"));
    match pick {
        0 => client
            .upload_file(UploadFileOptions::new(
                "https://up.example.com/u",
                upload,
                "file",
            ))
            .wait()
            .map(drop),
        1 => client
            .download_file(DownloadFileOptions::new("https://dl.example.com/file"))
            .wait()
            .map(|d| {
                let _ = std::fs::remove_file(d.path());
            }),
        2 => client.request(api("/fail")).wait().map(drop),
        3 => {
            let task = client.request(api("/hold"));
            std::thread::sleep(Duration::from_millis(20));
            task.abort();
            task.wait().map(drop)
        }
        4 => client
            .request(api("/hold").timeout(Duration::from_millis(300)))
            .wait()
            .map(drop),
        5 => client.request(api("/gz")).wait().map(|r| {
            assert!(matches!(r.data, ResponseData::Json(_)), "gzip body decoded");
        }),
        6 => {
            let s = client.connect_socket(ConnectSocketOptions::new("wss://ws.example.com/"));
            let r = s.wait_open(Duration::from_secs(5)).and_then(|_| {
                s.send(SocketMessage::Text("ping".into()))?;
                s.recv(Duration::from_secs(5)).map(drop)
            });
            let _ = s.close(1000, "");
            r
        }
        7 if proxied.is_some() => proxied.unwrap().request(api("/p")).wait().map(drop),
        _ => client.request(api("/ok")).wait().map(drop),
    }
}

/// 200 threads on a client with a small queue for 3 s; then a call left
/// pending through a 5 s background interrupt; then the client goes.
fn burst(b: ClientBuilder, tally: &Tally) {
    let client = b.queue_capacity(64).build().unwrap();
    let end = Instant::now() + Duration::from_secs(3);
    std::thread::scope(|s| {
        for _ in 0..200 {
            let (client, tally) = (&client, tally);
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn_scoped(s, move || {
                    while Instant::now() < end {
                        let o = RequestOptions::new("https://api.example.com/ok");
                        let r = client.request(o).wait();
                        // Refused at once: back off a little rather than spin.
                        if r.as_ref()
                            .is_err_and(|e| e.kind() == wxnet::ErrorKind::QueueFull)
                        {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        tally.record(r);
                    }
                })
                .unwrap();
        }
    });
    let held = client.request(RequestOptions::new("https://api.example.com/hold"));
    client.enter_background();
    tally.record(held.wait());
    client.enter_foreground();
}

fn run(minutes: u64) {
    let mut servers = start_servers();
    let dir = common::TempDir::new("soak");
    let upload = dir.path().join("up.bin");
    std::fs::write(&upload, vec![1u8; 4 * 1024]).unwrap();
    let client = builder(&servers, dir.path()).build().unwrap();
    let tinyproxy = std::panic::catch_unwind(|| common::tinyproxy(None)).ok();
    let proxied = tinyproxy.as_ref().map(|p| {
        let url = format!("http://{}", p.addr());
        builder(&servers, dir.path()).proxy(&url).build().unwrap()
    });

    let tally = Tally::default();
    let stop = Arc::new(AtomicBool::new(false));
    let only: Option<u64> = std::env::var("SOAK_ONLY").ok().and_then(|v| v.parse().ok());
    let threads: u64 = std::env::var("SOAK_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let mut workers: Vec<_> = (0..threads)
        .map(|t| {
            let (client, proxied, stop, tally, upload) = (
                client.clone(),
                proxied.clone(),
                stop.clone(),
                tally.clone(),
                upload.clone(),
            );
            std::thread::spawn(move || {
                let mut i: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let pick = only.unwrap_or((i + t) % 9);
                    tally.record(one_call(&client, proxied.as_ref(), &upload, pick));
                }
            })
        })
        .collect();
    // Background toggles shorter than the 5 s interrupt: no call may fail.
    workers.push({
        let (client, stop) = (client.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(9));
                client.enter_background();
                std::thread::sleep(Duration::from_secs(1));
                client.enter_foreground();
            }
        })
    });

    let start = Instant::now();
    println!(
        "# servers: child pid {}, proxy: {}",
        servers.child.id(),
        tinyproxy.is_some()
    );
    println!(
        "minute  calls  rss_min  rss_max  thr_min  thr_max  fd_min  fd_max  child_rss  failures"
    );
    for minute in 1..=minutes {
        let (mut rss, mut thr, mut fds) = ((u64::MAX, 0), (usize::MAX, 0), (usize::MAX, 0));
        let mut burst_thread = None;
        for second in 0..60u64 {
            let due = start + Duration::from_secs((minute - 1) * 60 + second + 1);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if second == 20 {
                let (b, tally) = (builder(&servers, dir.path()), tally.clone());
                burst_thread = Some(std::thread::spawn(move || burst(b, &tally)));
            }
            // Sampled outside the burst and its client's teardown.
            if burst_thread.as_ref().is_some_and(|t| !t.is_finished()) {
                continue;
            }
            if let Some(t) = burst_thread.take() {
                t.join().unwrap();
            }
            let (r, t, f) = (procfs::rss_kib(), procfs::threads(), procfs::fds());
            rss = (rss.0.min(r), rss.1.max(r));
            thr = (thr.0.min(t), thr.1.max(t));
            fds = (fds.0.min(f), fds.1.max(f));
        }
        let (calls, failures) = tally.take();
        println!(
            "{minute:>6} {calls:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>10}  {failures:?}",
            rss.0,
            rss.1,
            thr.0,
            thr.1,
            fds.0,
            fds.1,
            procfs::rss_kib_of(servers.child.id()).unwrap_or(0),
        );
        std::io::stdout().flush().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    drop(servers.child.stdin.take());
    let end = Instant::now() + Duration::from_secs(3);
    while servers.child.try_wait().unwrap().is_none() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = servers.child.kill();
    let _ = servers.child.wait();
}
