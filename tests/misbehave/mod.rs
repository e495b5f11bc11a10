//! A server that misbehaves on command, and a rig that calls `request`,
//! `uploadFile` and `downloadFile` against it and checks how each call
//! ends. Shared by the fault tests and the leak test.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use wxnet::{
    Client, DownloadFileOptions, Error, ErrorKind, Method, NetworkTimeout, RequestOptions,
    UploadFileOptions,
};

use crate::common::{self, Conn, Identity, Request, TempDir, TestPki};

pub const API: &str = "https://api.example.com";
pub const UP: &str = "https://up.example.com";
pub const DL: &str = "https://dl.example.com";
pub const HOSTS: [&str; 3] = ["api.example.com", "up.example.com", "dl.example.com"];

/// The in-memory and download caps of the rig: small, so an endless body
/// reaches them at once.
pub const CAP: u64 = 256 * 1024;

/// What the rig's client waits for a call at most, unless a test says
/// otherwise: a call that should fail fast and hangs instead fails the test
/// well before the watchdog.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The three HTTP APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Request,
    Upload,
    Download,
}

pub const APIS: [Api; 3] = [Api::Request, Api::Upload, Api::Download];

impl Api {
    /// The wx name that starts every errMsg of the API.
    pub fn name(self) -> &'static str {
        match self {
            Api::Request => "request",
            Api::Upload => "uploadFile",
            Api::Download => "downloadFile",
        }
    }

    pub fn url(self, path: &str) -> String {
        let origin = match self {
            Api::Request => API,
            Api::Upload => UP,
            Api::Download => DL,
        };
        format!("{origin}{path}")
    }
}

/// What a failed call must look like: kind, errno and the reason after
/// `"<api>:fail "`.
#[derive(Debug, Clone)]
pub struct Expect {
    pub kind: ErrorKind,
    pub errno: i32,
    pub reason: String,
}

pub fn expect(kind: ErrorKind, errno: i32, reason: &str) -> Expect {
    Expect {
        kind,
        errno,
        reason: reason.into(),
    }
}

/// A network failure of no narrower kind (errno 600001) with `reason`.
pub fn network(reason: &str) -> Expect {
    expect(ErrorKind::Network, 600001, reason)
}

/// Nothing listens at the address.
pub fn refused() -> Expect {
    expect(ErrorKind::ConnectionRefused, 600001, "connection refused")
}

/// The peer reset the connection (RST).
pub fn reset() -> Expect {
    expect(ErrorKind::ConnectionReset, 600001, "connection reset")
}

/// The peer closed the connection (FIN) before the response was complete.
pub fn closed() -> Expect {
    expect(ErrorKind::ConnectionReset, 600001, "connection closed")
}

/// The response breaks HTTP.
pub fn invalid_response() -> Expect {
    expect(ErrorKind::InvalidResponse, 600001, "invalid response")
}

pub fn timeout() -> Expect {
    expect(ErrorKind::Timeout, 5, "timeout")
}

/// The size cap of each API: the in-memory cap for request and upload
/// responses, the file cap for downloads.
pub fn too_large(api: Api) -> Expect {
    match api {
        Api::Download => expect(ErrorKind::FileTooLarge, 603301, "exceed max file size"),
        _ => expect(
            ErrorKind::ResponseTooLarge,
            600001,
            &format!("exceed max size: {CAP} bytes"),
        ),
    }
}

/// A client for the three test hosts with small caps, a download directory
/// of its own, and a small file to upload.
pub struct Rig {
    pub client: Client,
    pub downloads: TempDir,
    files: TempDir,
    pub upload: PathBuf,
}

/// Callbacks of one call, in the order they ran.
type Log = Arc<Mutex<Vec<String>>>;

/// Set the success, fail and complete callbacks (and the timeout) on any
/// options type: they share the setter names, not a trait.
macro_rules! instrument {
    ($options:expr, $log:expr, $done:expr, $timeout:expr) => {{
        let (s, f, c) = ($log.clone(), $log.clone(), $log.clone());
        let done = $done;
        let o = $options
            .success(move |_| s.lock().unwrap().push("success".to_string()))
            .fail(move |e| f.lock().unwrap().push(format!("fail {}", e.err_msg())))
            .complete(move || {
                c.lock().unwrap().push("complete".to_string());
                let _ = done.send(());
            });
        match $timeout {
            Some(t) => o.timeout(t),
            None => o,
        }
    }};
}

impl Rig {
    /// A rig whose test hosts all lead to `addr`, trusting `pki`.
    pub fn new(pki: &TestPki, addr: SocketAddr) -> Rig {
        Rig::with(pki, addr, |b| b)
    }

    pub fn with(
        pki: &TestPki,
        addr: SocketAddr,
        configure: impl FnOnce(wxnet::ClientBuilder) -> wxnet::ClientBuilder,
    ) -> Rig {
        let downloads = TempDir::new("faults-dl");
        let files = TempDir::new("faults-up");
        let upload = files.path().join("payload.bin");
        std::fs::write(&upload, common::pattern(4096)).unwrap();
        let mut b = Client::builder()
            .app_id("wxtest")
            .add_root_certificate(pki.ca_pem())
            .unwrap()
            .request_domains([API])
            .upload_domains([UP])
            .download_domains([DL])
            .max_response_size(CAP)
            .max_download_size(CAP)
            .download_dir(downloads.path())
            .network_timeout(NetworkTimeout {
                request: CALL_TIMEOUT,
                upload_file: CALL_TIMEOUT,
                download_file: CALL_TIMEOUT,
                connect_socket: CALL_TIMEOUT,
            });
        for h in HOSTS {
            b = b.resolve(h, addr);
        }
        Rig {
            client: configure(b).build().unwrap(),
            downloads,
            files,
            upload,
        }
    }

    /// A file of `len` bytes to upload.
    pub fn file(&self, name: &str, len: usize) -> PathBuf {
        let p = self.files.path().join(name);
        std::fs::write(&p, common::pattern(len)).unwrap();
        p
    }

    /// One call of `api` to `path` (uploading `self.upload`); returns the
    /// outcome, how long it took, and the callbacks in the order they ran,
    /// once the complete callback has run.
    pub fn call(
        &self,
        api: Api,
        path: &str,
        timeout: Option<Duration>,
    ) -> (Result<Option<PathBuf>, Error>, Duration, Vec<String>) {
        self.call_with(
            api,
            path,
            timeout,
            |o| o,
            |url, file| UploadFileOptions::new(url, file, "file"),
        )
    }

    /// [`Rig::call`] with a say in the request options, and making the
    /// upload options from the URL and the rig's file.
    pub fn call_with(
        &self,
        api: Api,
        path: &str,
        timeout: Option<Duration>,
        request: impl FnOnce(RequestOptions) -> RequestOptions,
        upload: impl FnOnce(String, &Path) -> UploadFileOptions,
    ) -> (Result<Option<PathBuf>, Error>, Duration, Vec<String>) {
        let log: Log = Arc::default();
        let (done_tx, done_rx) = mpsc::channel();
        let t0 = Instant::now();
        let result = match api {
            Api::Request => {
                let o = request(RequestOptions::new(api.url(path)));
                self.client
                    .request(instrument!(o, log, done_tx, timeout))
                    .wait()
                    .map(|_| None)
            }
            Api::Upload => {
                let o = upload(api.url(path), &self.upload);
                self.client
                    .upload_file(instrument!(o, log, done_tx, timeout))
                    .wait()
                    .map(|_| None)
            }
            Api::Download => {
                let o = DownloadFileOptions::new(api.url(path));
                self.client
                    .download_file(instrument!(o, log, done_tx, timeout))
                    .wait()
                    .map(|r| Some(r.path().to_path_buf()))
            }
        };
        let took = t0.elapsed();
        done_rx
            .recv_timeout(CALL_TIMEOUT)
            .unwrap_or_else(|_| panic!("{api:?} {path}: no complete callback"));
        // A second complete would be a call ending twice.
        assert!(
            done_rx.recv_timeout(Duration::from_millis(30)).is_err(),
            "{api:?} {path}: complete ran twice"
        );
        let log = log.lock().unwrap().clone();
        (result, took, log)
    }

    /// One call that must fail as `want` says: exactly one fail callback
    /// then one complete, no success, and no file left in the download
    /// directory. Returns the error and how long the call took.
    pub fn fails(
        &self,
        api: Api,
        path: &str,
        timeout: Option<Duration>,
        want: &Expect,
    ) -> (Error, Duration) {
        self.check_failure(api, path, self.call(api, path, timeout), want)
    }

    /// Checks a finished call against `want` (see [`Rig::fails`]).
    pub fn check_failure(
        &self,
        api: Api,
        path: &str,
        (result, took, log): (Result<Option<PathBuf>, Error>, Duration, Vec<String>),
        want: &Expect,
    ) -> (Error, Duration) {
        let e = match result {
            Ok(_) => panic!("{api:?} {path}: succeeded"),
            Err(e) => e,
        };
        let msg = format!("{}:fail {}", api.name(), want.reason);
        assert_eq!(
            (e.kind(), e.errno(), e.err_msg()),
            (want.kind, want.errno, msg.as_str()),
            "{api:?} {path}: {e:?}"
        );
        assert_eq!(e.api(), api.name());
        assert_eq!(
            log,
            [format!("fail {msg}"), "complete".to_string()],
            "{api:?} {path}"
        );
        assert!(
            self.downloads.files().is_empty(),
            "{api:?} {path}: left {:?}",
            self.downloads.files()
        );
        (e, took)
    }

    /// Every API fails on `path` as `want(api)` says.
    pub fn all_fail(&self, path: &str, want: impl Fn(Api) -> Expect) {
        for api in APIS {
            self.fails(api, path, None, &want(api));
        }
    }

    /// One call that must succeed: one success then one complete. A
    /// downloaded file is checked to hold `fine` and removed.
    pub fn succeeds(&self, api: Api, path: &str) {
        let (result, _, log) = self.call(api, path, None);
        match result {
            Err(e) => panic!("{api:?} {path}: {e:?}"),
            Ok(Some(file)) => {
                assert_eq!(std::fs::read(&file).unwrap(), b"fine");
                std::fs::remove_file(file).unwrap();
            }
            Ok(None) => {}
        }
        assert_eq!(log, ["success", "complete"], "{api:?} {path}");
    }

    /// `n` calls of each API to `/ok`, all started before any is waited
    /// on, all succeed: no worker was lost to a fault. Leaves the download
    /// directory empty again.
    pub fn serves_everyone(&self, n: usize) {
        let requests: Vec<_> = (0..n)
            .map(|_| {
                self.client
                    .request(RequestOptions::new(format!("{API}/ok")))
            })
            .collect();
        let uploads: Vec<_> = (0..n)
            .map(|_| {
                self.client.upload_file(UploadFileOptions::new(
                    format!("{UP}/ok"),
                    &self.upload,
                    "file",
                ))
            })
            .collect();
        let downloads: Vec<_> = (0..n)
            .map(|_| {
                self.client
                    .download_file(DownloadFileOptions::new(format!("{DL}/ok")))
            })
            .collect();
        for t in requests {
            assert_eq!(t.wait().unwrap().data.as_text(), Some("fine"));
        }
        for t in uploads {
            assert_eq!(t.wait().unwrap().data, "fine");
        }
        for t in downloads {
            let res = t.wait().unwrap();
            assert_eq!(std::fs::read(res.path()).unwrap(), b"fine");
            std::fs::remove_file(res.path()).unwrap();
        }
        assert!(self.downloads.files().is_empty());
    }
}

fn raw(c: &mut Conn, bytes: &[u8]) {
    let _ = c.write_raw(bytes);
    let _ = c.flush();
}

/// Writes `chunk` until the client stops reading (at most `limit` times).
fn endless(c: &mut Conn, chunk: &[u8], limit: usize) {
    for _ in 0..limit {
        if c.write_raw(chunk).is_err() {
            return;
        }
    }
    let _ = c.flush();
}

/// Sends `bytes` one at a time, `gap` apart, until the client goes away.
fn trickle(c: &mut Conn, bytes: &[u8], gap: Duration) {
    for b in bytes {
        if c.write_raw(&[*b]).is_err() || c.flush().is_err() {
            return;
        }
        std::thread::sleep(gap);
    }
}

const LENGTH_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
const CHUNKED_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

/// The misbehaving server: the path says what goes wrong. The same for
/// the three APIs (an upload's body has been read by the time this runs).
pub fn misbehave(r: &Request, c: &mut Conn) {
    match r.path.as_str() {
        "/fin-before-headers" => c.reset(),
        "/rst-before-headers" => c.reset_hard(),
        "/fin-mid-headers" => {
            raw(c, b"HTTP/1.1 200 OK\r\nContent-Type: text/pl");
            c.reset();
        }
        "/rst-mid-headers" => {
            raw(c, b"HTTP/1.1 200 OK\r\nContent-Type: text/pl");
            c.reset_hard();
        }
        "/fin-mid-length-body" => {
            raw(c, &[LENGTH_HEAD, b"only a little"].concat());
            c.reset();
        }
        "/rst-mid-length-body" => {
            raw(c, &[LENGTH_HEAD, b"only a little"].concat());
            c.reset_hard();
        }
        "/rst-mid-close-delimited-body" => {
            raw(
                c,
                b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nonly a little",
            );
            c.reset_hard();
        }
        "/fin-mid-chunked-body" => {
            raw(c, &[CHUNKED_HEAD, b"5\r\nhello\r\n"].concat());
            c.reset();
        }
        "/rst-mid-chunked-body" => {
            raw(c, &[CHUNKED_HEAD, b"5\r\nhello\r\n"].concat());
            c.reset_hard();
        }
        "/truncated-chunk" => {
            raw(c, &[CHUNKED_HEAD, b"5\r\nhello\r\n10\r\nshort"].concat());
            c.reset();
        }
        "/bad-chunk-size" => {
            raw(c, &[CHUNKED_HEAD, b"zz\r\nhello\r\n0\r\n\r\n"].concat());
            c.close();
        }
        "/garbage" => {
            raw(c, b"this is not http\r\n\r\n");
            c.close();
        }
        "/bad-status" => {
            raw(c, b"HTTP/1.1 abc Weird\r\n\r\n");
            c.close();
        }
        "/huge-headers" => {
            let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..2000 {
                head.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(40)).as_bytes());
            }
            head.extend_from_slice(b"Content-Length: 0\r\n\r\n");
            raw(c, &head);
            c.close();
        }
        "/endless-headers" => {
            let _ = c.write_raw(b"HTTP/1.1 200 OK\r\n");
            endless(c, b"X-More: yes\r\n", 1_000_000);
            c.close();
        }
        "/endless-body" => {
            let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            endless(c, &[b'z'; 64 * 1024], 1024);
            c.close();
        }
        "/endless-chunked-body" => {
            let _ = c.write_raw(CHUNKED_HEAD);
            let mut chunk = b"10000\r\n".to_vec();
            chunk.extend_from_slice(&[b'z'; 0x10000]);
            chunk.extend_from_slice(b"\r\n");
            endless(c, &chunk, 1024);
            c.close();
        }
        "/trickle-headers" => {
            trickle(
                c,
                b"HTTP/1.1 200 OK\r\nX-Slow: a header that takes its time\r\n\r\n",
                Duration::from_millis(100),
            );
            c.close();
        }
        "/trickle-body" => {
            raw(c, LENGTH_HEAD);
            trickle(c, &[b'.'; 1000], Duration::from_millis(100));
            c.close();
        }
        "/close-notify-mid-length-body" => {
            raw(c, &[LENGTH_HEAD, b"only a little"].concat());
            let _ = c.send_close_notify();
        }
        "/close-notify-mid-chunked-body" => {
            raw(c, &[CHUNKED_HEAD, b"5\r\nhello\r\n"].concat());
            let _ = c.send_close_notify();
        }
        "/fatal-alert-mid-body" => {
            raw(c, &[LENGTH_HEAD, b"only a little"].concat());
            c.send_fatal_alert().unwrap();
        }
        "/plaintext-alert-mid-body" => {
            raw(c, &[LENGTH_HEAD, b"only a little"].concat());
            // A fatal handshake_failure alert record, unencrypted.
            let _ = c.write_tcp(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
            c.reset();
        }
        "/ok" => c.respond(200, &[], b"fine"),
        other => c.respond(404, &[], format!("no fault called {other}").as_bytes()),
    }
}

/// The rustls signing key of an identity, for a certificate resolver.
fn certified(id: &Identity) -> Arc<CertifiedKey> {
    Arc::new(CertifiedKey::new(
        id.chain.clone(),
        rustls::crypto::ring::sign::any_supported_type(&id.key).unwrap(),
    ))
}

/// Hands out the identities of a list in turn, one per TLS handshake, the
/// last one for good once the list is used up.
#[derive(Debug)]
struct InTurn {
    keys: Vec<Arc<CertifiedKey>>,
    next: std::sync::atomic::AtomicUsize,
}

impl ResolvesServerCert for InTurn {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let n = self
            .next
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            .min(self.keys.len() - 1);
        Some(self.keys[n].clone())
    }
}

/// A server config that shows `ids[0]` on the first connection, `ids[1]`
/// on the second, and so on: a certificate changed between connections.
/// No session is resumed (a resumed session shows no certificate; a
/// server with a new certificate is a new server to the client).
pub fn certificates_in_turn(ids: &[&Identity]) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(InTurn {
            keys: ids.iter().map(|id| certified(id)).collect(),
            next: Default::default(),
        }));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Arc::new(config)
}

/// A latch: `wait` blocks until `open` (or a time limit).
#[derive(Default)]
pub struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }

    /// True if the gate opened within `max`.
    pub fn wait(&self, max: Duration) -> bool {
        let g = self.open.lock().unwrap();
        let (g, _) = self.cv.wait_timeout_while(g, max, |open| !*open).unwrap();
        *g
    }
}

/// A TLS server that completes the handshake, then holds each connection
/// without reading a byte until `release` opens.
pub fn never_reading_server(config: Arc<ServerConfig>, release: Arc<Gate>) -> common::RawServer {
    common::RawServer::start(move |mut tcp| {
        let Ok(mut conn) = rustls::ServerConnection::new(config.clone()) else {
            return;
        };
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return;
            }
        }
        release.wait(Duration::from_secs(30));
    })
}

/// A POST of `body` (made before the call starts, so that making it does
/// not count against the call's deadline), for `request`.
pub fn post_of(body: Vec<u8>) -> impl FnOnce(RequestOptions) -> RequestOptions {
    move |o| o.method(Method::Post).data(body)
}
