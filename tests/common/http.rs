//! A loopback HTTPS/1.1 server with counters, whose handler answers each
//! request through [`Conn`] (well-formed responses, raw bytes, TLS alerts,
//! resets), and the client builder that reaches it under the test names.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::TestPki;

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

/// How many requests `requests_log` keeps (the newest); the WebSocket
/// server keeps as many upgrades.
pub const LOG_LIMIT: usize = 10_000;

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
        Self::start_on("127.0.0.1:0".parse().unwrap(), config, handler)
    }

    /// [`start`](Self::start) on `bind` (another loopback address, or a
    /// port another server has on a different address).
    pub fn start_on(
        bind: SocketAddr,
        config: Arc<ServerConfig>,
        handler: impl Fn(&Request, &mut Conn) + Send + Sync + 'static,
    ) -> HttpServer {
        let listener = TcpListener::bind(bind).unwrap();
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
