//! Loopback test fixtures: a test CA (rcgen), an HTTPS/1.1 server with
//! counters, a raw TCP server, a connect blackhole and a watchdog.
//!
//! Shared by the integration tests (`mod common;`) and the quickstart
//! example (`#[path]`), so every demo runs against the same server the
//! tests exercise.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A server identity: certificate chain and key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// A throw-away certificate authority.
pub struct TestPki {
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - days(2);
    params.not_after = now + days(365);
    params
}

fn new_ca(name: &str) -> (CertificateDer<'static>, String, Issuer<'static, KeyPair>) {
    let params = ca_params(name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.der().clone(), cert.pem(), Issuer::new(params, key))
}

/// How to make a leaf: its names (the first is also the CN), validity in
/// days around now, whether it has the serverAuth extended key usage,
/// and the URL of its issuer (Authority Information Access), if any.
#[derive(Clone, Copy)]
pub struct LeafSpec<'a> {
    pub names: &'a [&'a str],
    pub from: i64,
    pub to: i64,
    pub server_auth: bool,
    pub issuer_url: Option<&'a str>,
}

impl<'a> LeafSpec<'a> {
    /// Valid from yesterday for 30 days, with serverAuth.
    pub fn new(names: &'a [&'a str]) -> LeafSpec<'a> {
        LeafSpec {
            names,
            from: -1,
            to: 30,
            server_auth: true,
            issuer_url: None,
        }
    }
}

/// DER of an AuthorityInfoAccess with one caIssuers URI (short lengths).
fn aia_der(url: &str) -> Vec<u8> {
    let mut desc = vec![0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    desc.push(0x86);
    desc.push(url.len() as u8);
    desc.extend_from_slice(url.as_bytes());
    let mut ad = vec![0x30, desc.len() as u8];
    ad.extend(desc);
    let mut out = vec![0x30, ad.len() as u8];
    out.extend(ad);
    out
}

fn leaf_params(names: &[&str], from: i64, to: i64) -> CertificateParams {
    leaf_spec_params(&LeafSpec {
        from,
        to,
        ..LeafSpec::new(names)
    })
}

fn leaf_spec_params(spec: &LeafSpec) -> CertificateParams {
    let names = spec.names;
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    if spec.server_auth {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + days(spec.from);
    params.not_after = now + days(spec.to);
    if let Some(url) = spec.issuer_url {
        params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 1],
            aia_der(url),
        )];
    }
    params
}

fn identity_of(cert: rcgen::Certificate, key: KeyPair) -> Identity {
    Identity {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

impl TestPki {
    pub fn new() -> TestPki {
        let (ca_der, ca_pem, issuer) = new_ca("wxnet test CA");
        TestPki {
            ca_der,
            ca_pem,
            issuer,
        }
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        self.ca_pem.clone().into_bytes()
    }

    pub fn ca_der(&self) -> Vec<u8> {
        self.ca_der.to_vec()
    }

    fn signed(&self, names: &[&str], from: i64, to: i64) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(names, from, to)
            .signed_by(&key, &self.issuer)
            .unwrap();
        identity_of(cert, key)
    }

    /// An intermediate CA named `name`, issued by this one; its
    /// `ca_der`/`ca_pem` are the intermediate's, and the leaves it signs
    /// need it sent after them to chain to this CA.
    pub fn intermediate(&self, name: &str) -> TestPki {
        let params = ca_params(name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        TestPki {
            ca_der: cert.der().clone(),
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf made as `spec` says, signed by this CA (the chain holds
    /// the leaf only).
    pub fn leaf(&self, spec: &LeafSpec) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = leaf_spec_params(spec)
            .signed_by(&key, &self.issuer)
            .unwrap();
        identity_of(cert, key)
    }

    /// A leaf for `names`, valid from yesterday for 30 days.
    pub fn identity(&self, names: &[&str]) -> Identity {
        self.signed(names, -1, 30)
    }

    pub fn expired_identity(&self, names: &[&str]) -> Identity {
        self.signed(names, -30, -1)
    }

    pub fn not_yet_valid_identity(&self, names: &[&str]) -> Identity {
        self.signed(names, 1, 30)
    }

    pub fn self_signed_identity(&self, names: &[&str]) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(names, -1, 30).self_signed(&key).unwrap();
        identity_of(cert, key)
    }

    /// Signed by a CA nobody trusts.
    pub fn foreign_ca_identity(&self, names: &[&str]) -> Identity {
        let (_, _, issuer) = new_ca("foreign CA");
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(names, -1, 30).signed_by(&key, &issuer).unwrap();
        identity_of(cert, key)
    }

    pub fn server_config(&self, id: &Identity) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(id.chain.clone(), id.key.clone_key())
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

/// How long a connection may sit silent (handshake, request, keep-alive
/// idle) before the server gives up on it, so no test thread hangs forever.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The handler's view of one connection.
pub struct Conn {
    reader: BufReader<Tls>,
    /// A second handle on the socket: it can be shut down or peeked at
    /// while the TLS stream is borrowed by the reader.
    tcp: TcpStream,
    id: u64,
    close: bool,
    hard_reset: bool,
    /// Method of the request being handled: a response to HEAD has no body.
    method: String,
}

impl Conn {
    fn tls(&mut self) -> &mut Tls {
        self.reader.get_mut()
    }

    /// A complete response. `Content-Length` is added unless the caller
    /// gives its own framing header, in which case the head and body go out
    /// verbatim. The body is never sent for HEAD or for 1xx/204/304, as a
    /// real server would not (it would corrupt the next response on a
    /// kept-alive connection); use `write_raw` to misbehave on purpose.
    pub fn respond(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let no_body_status = (100..200).contains(&status) || status == 204 || status == 304;
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        let framed = headers.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
        });
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if !framed && !no_body_status {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if !no_body_status && !self.method.eq_ignore_ascii_case("HEAD") {
            out.extend_from_slice(body);
        }
        // A client that went away is the test's business, not the server's.
        let _ = self.write_raw(&out);
        let _ = self.flush();
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tls().write_all(bytes)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.tls().flush()
    }

    /// Bytes straight onto the TCP stream, bypassing TLS (after flushing
    /// what TLS holds, so the order on the wire is the order of calls): a
    /// plaintext record in the middle of an encrypted stream.
    pub fn write_tcp(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.flush()?;
        self.tcp.write_all(bytes)
    }

    /// End the TLS session with a close_notify alert, now: the client sees
    /// a clean TLS end of stream, whatever the HTTP framing promised. No
    /// keep-alive after this handler returns.
    pub fn send_close_notify(&mut self) -> io::Result<()> {
        self.tls().conn.send_close_notify();
        self.close = true;
        self.flush()
    }

    /// Make the server's rustls send a fatal alert, encrypted as any real
    /// server's alert is: it is fed an application-data record that does
    /// not decrypt, answers with `bad_record_mac`, and the alert is written
    /// out. No keep-alive after this handler returns.
    pub fn send_fatal_alert(&mut self) -> io::Result<()> {
        self.flush()?;
        self.close = true;
        let tls = self.tls();
        let mut bogus = vec![0x17, 0x03, 0x03, 0x00, 0x20];
        bogus.extend_from_slice(&[0u8; 0x20]);
        tls.conn.read_tls(&mut &bogus[..])?;
        if tls.conn.process_new_packets().is_ok() {
            return Err(io::Error::other("rustls accepted a bogus record"));
        }
        while tls.conn.wants_write() {
            tls.conn.write_tls(&mut tls.sock)?;
        }
        Ok(())
    }

    /// No keep-alive after this handler returns.
    pub fn close(&mut self) {
        self.close = true;
    }

    /// Drop the connection at once, without a TLS close_notify: the client
    /// sees a plain TCP EOF (FIN). Bytes already written are still
    /// delivered first, so "send half a body, then reset" works. This is
    /// deliberately not an RST (see `reset_hard`): SO_LINGER 0 would
    /// discard the unsent half body.
    pub fn reset(&mut self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
        self.close = true;
    }

    /// Abort the connection with a TCP RST (SO_LINGER 0, set through
    /// socket2 so no `unsafe`). The RST goes out when this handler returns;
    /// anything written but not yet sent is discarded, and the client's
    /// next read or write fails with `ConnectionReset`.
    pub fn reset_hard(&mut self) {
        let _ = socket2::SockRef::from(&self.tcp).set_linger(Some(Duration::ZERO));
        self.hard_reset = true;
        self.close = true;
    }

    /// Block until the client closes the connection or `max` passes;
    /// true if it closed. Whatever the client sends meanwhile is discarded,
    /// so this is for holding a request open until the client aborts.
    pub fn peer_closed_wait(&mut self, max: Duration) -> bool {
        let end = Instant::now() + max;
        let mut buf = [0u8; 4096];
        let closed = loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            let _ = self.tcp.set_read_timeout(Some(left));
            match self.tcp.peek(&mut buf) {
                Ok(0) => break true,
                // Bytes are TLS records (a close_notify alert, or data):
                // let rustls consume them; a partial record just times out.
                Ok(_) => match self.tls().read(&mut buf) {
                    Ok(0) => break true,
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => break true,
                },
                Err(e) if is_timeout(&e) => {}
                Err(_) => break true,
            }
        };
        // The socket option is shared with the TLS stream: put it back, or
        // the keep-alive loop would drop an idle client after `left`.
        let _ = self.tcp.set_read_timeout(Some(IO_TIMEOUT));
        closed
    }

    /// Sequential number of this connection on its server, from 0.
    pub fn connection_id(&self) -> u64 {
        self.id
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// How many requests `requests_log` keeps (the newest).
const LOG_LIMIT: usize = 10_000;

#[derive(Default)]
struct Stats {
    accepted: AtomicUsize,
    handshakes: AtomicUsize,
    tls_failures: AtomicUsize,
    requests: AtomicUsize,
    current: AtomicUsize,
    in_handler: AtomicUsize,
    max_in_handler: AtomicUsize,
    log: Mutex<std::collections::VecDeque<Request>>,
}

/// Holds one unit of a gauge and gives it back when dropped, so a handler
/// that panics (a failed assertion inside it) or an early return cannot
/// leave `current_connections` or the concurrency figure stuck.
struct Gauge<'a>(&'a AtomicUsize);

impl<'a> Gauge<'a> {
    /// Returns the guard and the gauge's value including this unit.
    fn enter(gauge: &'a AtomicUsize) -> (Gauge<'a>, usize) {
        let now = gauge.fetch_add(1, Ordering::SeqCst) + 1;
        (Gauge(gauge), now)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

type Handler = dyn Fn(&Request, &mut Conn) + Send + Sync;

/// A loopback HTTPS/1.1 server; stops accepting when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    arrivals: Mutex<mpsc::Receiver<String>>,
}

impl HttpServer {
    /// Serves each connection on its own thread: TLS handshake, then a
    /// keep-alive loop calling `handler` once per request.
    pub fn start(
        config: Arc<ServerConfig>,
        handler: impl Fn(&Request, &mut Conn) + Send + Sync + 'static,
    ) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        // Bounded like the log: a long run nobody waits on must not grow.
        let (arrived_tx, arrived_rx) = mpsc::sync_channel(LOG_LIMIT);
        let (s, st) = (stats.clone(), stop.clone());
        thread::spawn(move || {
            let mut next_id = 0u64;
            for tcp in listener.incoming() {
                // Checked after accept: Drop wakes us with a connection
                // of its own, which must not count or be served.
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(tcp) = tcp else { continue };
                // Counted here, not on the new thread, and before
                // `accepted`: once a test sees a connection accepted,
                // `current_connections` includes it until it ends.
                s.current.fetch_add(1, Ordering::SeqCst);
                s.accepted.fetch_add(1, Ordering::SeqCst);
                let id = next_id;
                next_id += 1;
                let (s, h, cfg, tx) = (
                    s.clone(),
                    handler.clone(),
                    config.clone(),
                    arrived_tx.clone(),
                );
                thread::spawn(move || serve_connection(tcp, cfg, id, &s, &*h, &tx));
            }
        });
        HttpServer {
            addr,
            stats,
            stop,
            arrivals: Mutex::new(arrived_rx),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// TCP connections accepted, whatever became of them.
    pub fn connections_accepted(&self) -> usize {
        self.stats.accepted.load(Ordering::SeqCst)
    }

    /// TLS handshakes completed.
    pub fn tls_handshakes(&self) -> usize {
        self.stats.handshakes.load(Ordering::SeqCst)
    }

    /// Connections that ended before their TLS handshake completed (the
    /// client rejected the certificate, spoke no TLS, or went away).
    pub fn tls_failures(&self) -> usize {
        self.stats.tls_failures.load(Ordering::SeqCst)
    }

    /// Requests parsed completely and handed to the handler.
    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }

    pub fn current_connections(&self) -> usize {
        self.stats.current.load(Ordering::SeqCst)
    }

    /// The most handler calls that ran at the same time.
    pub fn max_concurrent_requests(&self) -> usize {
        self.stats.max_in_handler.load(Ordering::SeqCst)
    }

    /// Requests in arrival order (the newest 10,000).
    pub fn requests_log(&self) -> Vec<Request> {
        self.stats.log.lock().unwrap().iter().cloned().collect()
    }

    /// Block until `n` more requests have reached the handler; returns
    /// their paths in arrival order. Panics if they do not come in `max`
    /// (each).
    pub fn wait_for_requests(&self, n: usize, max: Duration) -> Vec<String> {
        let rx = self.arrivals.lock().unwrap();
        (0..n)
            .map(|i| {
                rx.recv_timeout(max)
                    .unwrap_or_else(|_| panic!("only {i} of {n} requests arrived"))
            })
            .collect()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor blocked in accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn serve_connection(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    id: u64,
    stats: &Stats,
    handler: &Handler,
    arrived: &mpsc::SyncSender<String>,
) {
    // Takes over the unit the acceptor counted.
    let _open = Gauge(&stats.current);
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let Ok(dup) = tcp.try_clone() else { return };
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            stats.tls_failures.fetch_add(1, Ordering::SeqCst);
            return;
        }
    }
    stats.handshakes.fetch_add(1, Ordering::SeqCst);
    let mut conn = Conn {
        reader: BufReader::new(tls),
        tcp: dup,
        id,
        close: false,
        hard_reset: false,
        method: String::new(),
    };
    let mut graceful = false;
    while let Some(req) = read_request(&mut conn.reader) {
        stats.requests.fetch_add(1, Ordering::SeqCst);
        {
            let mut log = stats.log.lock().unwrap();
            if log.len() >= LOG_LIMIT {
                log.pop_front();
            }
            log.push_back(req.clone());
        }
        conn.method.clone_from(&req.method);
        let (busy, now) = Gauge::enter(&stats.in_handler);
        stats.max_in_handler.fetch_max(now, Ordering::SeqCst);
        let _ = arrived.try_send(req.path.clone());
        handler(&req, &mut conn);
        drop(busy);
        if conn.close
            || req
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            graceful = true;
            break;
        }
    }
    if conn.hard_reset {
        // Closing both handles with SO_LINGER 0 sends the RST; a shutdown
        // first would send a FIN instead.
        return;
    }
    if graceful {
        // A graceful end says so at the TLS level, as real servers do, so
        // close-delimited bodies end cleanly. Bounded: the client may have
        // stopped reading.
        let _ = conn.tcp.set_write_timeout(Some(Duration::from_secs(1)));
        conn.tls().conn.send_close_notify();
        let _ = conn.flush();
    }
    let _ = conn.tcp.shutdown(Shutdown::Both);
}

/// One CRLF- (or LF-) terminated line; bytes that are not UTF-8 are kept
/// lossily rather than dropping the connection.
fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    match r.read_until(b'\n', &mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(
            String::from_utf8_lossy(&line)
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
    }
}

/// The next request, or None when the client closed, timed out or sent
/// something unparseable (each simply ends the connection).
fn read_request(r: &mut BufReader<Tls>) -> Option<Request> {
    let line = read_line(r)?;
    let mut parts = line.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let l = read_line(r)?;
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    // A client that asks waits for this before sending the body.
    if req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let tls = r.get_mut();
        tls.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
        tls.flush().ok()?;
    }
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            let size = usize::from_str_radix(read_line(r)?.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, up to the blank line.
                while !read_line(r)?.is_empty() {}
                break;
            }
            let mut chunk = vec![0u8; size];
            r.read_exact(&mut chunk).ok()?;
            req.body.extend_from_slice(&chunk);
            if !read_line(r)?.is_empty() {
                return None;
            }
        }
    } else if let Some(n) = req.header("content-length") {
        let mut body = vec![0u8; n.parse::<usize>().ok()?];
        r.read_exact(&mut body).ok()?;
        req.body = body;
    }
    Some(req)
}

/// A plain TCP server whose handler gets each raw connection.
pub struct RawServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl RawServer {
    pub fn start(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let (a, st) = (accepted.clone(), stop.clone());
        thread::spawn(move || {
            for tcp in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(tcp) = tcp else { continue };
                a.fetch_add(1, Ordering::SeqCst);
                let h = handler.clone();
                thread::spawn(move || h(tcp));
            }
        });
        RawServer {
            addr,
            accepted,
            stop,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn connections_accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// A listener whose accept queue is full, so a connect to it hangs
/// (SYNs to a full queue are dropped, and the client keeps retrying).
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _fill: Vec<socket2::Socket>,
}

/// A connect blackhole on loopback: a listener with a backlog of zero
/// that never accepts, its queue filled by connections made first.
///
/// socket2 rather than std because std's `TcpListener::bind` listens with a
/// backlog of 128 (measured: 129 connects complete before one hangs), so
/// filling it costs 129 sockets and about 55 ms; with `listen(0)` Linux
/// queues one connection and then drops further SYNs. An address that
/// merely looks unroutable is no substitute: in this sandbox something
/// answers for it.
pub fn blackhole() -> Blackhole {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fill = Vec::new();
    // Fill the queue until a connect no longer completes at once; the one
    // that hung stays open too, its SYN retries occupying nothing.
    let mut full = false;
    for _ in 0..64 {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let done = s
            .connect_timeout(&addr.into(), Duration::from_millis(50))
            .is_ok();
        fill.push(s);
        if !done {
            full = true;
            break;
        }
    }
    assert!(
        full,
        "blackhole: 64 connects to a listen(0) socket all completed; this \
         kernel does not drop SYNs to a full accept queue"
    );
    Blackhole {
        addr,
        _listener: listener,
        _fill: fill,
    }
}

/// Poll `cond` every few milliseconds until it holds (true) or `max`
/// passes (false): for figures a server thread updates just after the
/// client has seen the outcome.
pub fn eventually(max: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + max;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Run `f` on a thread; panic if it takes longer than `limit`, and
/// re-raise its panic if it panicked. A test that hangs thus fails with a
/// message instead of stalling the suite (its thread is left behind: a
/// thread cannot be killed).
pub fn watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    // The test's own name, so panic messages from inside still say which
    // test failed.
    let name = thread::current().name().unwrap_or("watched").to_string();
    let (tx, rx) = mpsc::channel();
    let t = thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let r = f();
            let _ = tx.send(());
            r
        })
        .unwrap();
    match rx.recv_timeout(limit) {
        // Finished, or panicked (the sender dropped without sending).
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: {name} still running after {limit:?}")
        }
    }
}

/// A client builder that trusts the test CA, names the test app `wxtest`,
/// and maps every test host name to `server`.
pub fn client_builder(pki: &TestPki, server: &HttpServer) -> wxnet::ClientBuilder {
    let mut b = wxnet::Client::builder()
        .app_id("wxtest")
        .add_root_certificate(pki.ca_pem())
        .unwrap();
    for host in [
        "api.example.com",
        "other.example.com",
        "up.example.com",
        "dl.example.com",
        "ws.example.com",
    ] {
        b = b.resolve(host, server.addr());
    }
    b
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "wxnet-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// The names of the files in the directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` bytes of a fixed, non-repeating-looking pattern (cheap to make,
/// different at every offset within a 251-byte cycle).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ ((i >> 11) as u8))
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One part of a multipart body: name, filename, content type, data.
pub type Part = (String, Option<String>, Option<String>, Vec<u8>);

/// Parse a multipart/form-data body.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .split_once("boundary=")
        .unwrap()
        .1
        .trim_matches('"');
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(rest, &delim).expect("first boundary");
    rest = &rest[start + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after boundary");
        let head_end = find(rest, b"\r\n\r\n").expect("part head");
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        rest = &rest[head_end + 4..];
        let mut end_delim = b"\r\n".to_vec();
        end_delim.extend_from_slice(&delim);
        let end = find(rest, &end_delim).expect("part end");
        let data = rest[..end].to_vec();
        rest = &rest[end + end_delim.len()..];
        let param = |key: &str| {
            head.split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{key}=\"")))
                .map(|v| {
                    v.trim_end_matches(['"', '\r', '\n'])
                        .split('"')
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
        };
        let ctype = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .map(str::to_string);
        parts.push((
            param("name").unwrap_or_default(),
            param("filename"),
            ctype,
            data,
        ));
    }
    parts
}

/// The server side of a test WebSocket.
pub type ServerWs = tungstenite::WebSocket<StreamOwned<ServerConnection, TcpStream>>;

/// What the client sent in its upgrade request.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Upgrade {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback `wss://` server: TLS with the test CA, then a tungstenite
/// handshake that picks the first subprotocol offered, then `handler`.
pub struct WsServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    /// The newest `LOG_LIMIT` upgrades (a long run must not grow).
    upgrades: Arc<Mutex<std::collections::VecDeque<Upgrade>>>,
}

impl WsServer {
    pub fn start(
        config: Arc<ServerConfig>,
        handler: impl Fn(ServerWs, Upgrade) + Send + Sync + 'static,
    ) -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let upgrades = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let handler = Arc::new(handler);
        let (a, st, up) = (accepted.clone(), stop.clone(), upgrades.clone());
        thread::spawn(move || {
            for tcp in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(tcp) = tcp else { continue };
                a.fetch_add(1, Ordering::SeqCst);
                let (h, cfg, up) = (handler.clone(), config.clone(), up.clone());
                thread::spawn(move || {
                    let _ = tcp.set_nodelay(true);
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(120)));
                    let Ok(conn) = ServerConnection::new(cfg) else {
                        return;
                    };
                    let tls = StreamOwned::new(conn, tcp);
                    let seen = Arc::new(Mutex::new(Upgrade::default()));
                    let s2 = seen.clone();
                    // The signature is tungstenite's `Callback`.
                    #[allow(clippy::result_large_err)]
                    let callback = move |req: &tungstenite::handshake::server::Request,
                                         mut resp: tungstenite::handshake::server::Response| {
                        let mut u = s2.lock().unwrap();
                        u.path = req.uri().to_string();
                        u.headers = req
                            .headers()
                            .iter()
                            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                            .collect();
                        if let Some(p) = req.headers().get("sec-websocket-protocol") {
                            let first = p.to_str().unwrap_or("").split(',').next().unwrap_or("").trim().to_string();
                            resp.headers_mut().insert("sec-websocket-protocol", first.parse().unwrap());
                        }
                        resp.headers_mut().insert("x-server", "wxnet-test".parse().unwrap());
                        Ok(resp)
                    };
                    let Ok(ws) = tungstenite::accept_hdr(tls, callback) else {
                        return;
                    };
                    let upgrade = seen.lock().unwrap().clone();
                    let mut log = up.lock().unwrap();
                    if log.len() == LOG_LIMIT {
                        log.pop_front();
                    }
                    log.push_back(upgrade.clone());
                    drop(log);
                    h(ws, upgrade);
                });
            }
        });
        WsServer {
            addr,
            accepted,
            stop,
            upgrades,
        }
    }

    /// Echoes text and binary messages until the client closes.
    pub fn echo(config: Arc<ServerConfig>) -> WsServer {
        WsServer::start(config, |mut ws, _| {
            while let Ok(m) = ws.read() {
                if (m.is_text() || m.is_binary()) && ws.send(m).is_err() {
                    return;
                }
            }
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn connections_accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn upgrades(&self) -> Vec<Upgrade> {
        self.upgrades.lock().unwrap().iter().cloned().collect()
    }
}

impl Drop for WsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Raw ureq's way to reach the loopback server under its name.
#[derive(Debug)]
struct FixedResolver(SocketAddr);

impl ureq::unversioned::resolver::Resolver for FixedResolver {
    fn resolve(
        &self,
        _: &ureq::http::Uri,
        _: &ureq::config::Config,
        _: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let mut v = self.empty();
        v.push(self.0);
        Ok(v)
    }
}

/// A plain ureq agent (its own rustls connector, default settings) that
/// trusts the CA `ca_der` and connects every name to `addr`: the baseline
/// the benchmarks compare wxnet with.
pub fn raw_ureq_agent(ca_der: &[u8], addr: SocketAddr) -> ureq::Agent {
    raw_ureq_agent_pooled(ca_der, addr, 3)
}

/// [`raw_ureq_agent`] keeping up to `per_host` idle connections per host.
pub fn raw_ureq_agent_pooled(ca_der: &[u8], addr: SocketAddr, per_host: usize) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let ca = ca_der.to_vec();
    ureq::Agent::with_parts(
        ureq::Agent::config_builder()
            .max_idle_connections_per_host(per_host)
            .max_idle_connections(per_host.max(10))
            .tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::new_with_certs(&[
                        Certificate::from_der(&ca).to_owned()
                    ]))
                    .build(),
            )
            .build(),
        ureq::unversioned::transport::DefaultConnector::new(),
        FixedResolver(addr),
    )
}
