//! The connection layer under ureq: a resolver that applies the policy to
//! every hop (ureq calls it for each redirect, before it looks in its
//! pool) and a connector that opens TCP + rustls itself, so that an abort
//! can shut the socket down in any phase, the deadline bounds DNS, connect
//! and handshake, and timings and peer facts are recorded for the profile.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

use crate::call::{self, CallCtl, CallSocket};
use crate::error::{Api, Error, ErrorKind};
use crate::policy::{ApiKind, Policy};
use crate::proxy::{self, Proxy};

/// Host names mapped to fixed addresses (`ClientBuilder::resolve`).
pub(crate) type ResolveMap = HashMap<String, SocketAddr>;

/// Turns a host name and port into the addresses to try, in order.
type LookupFn = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

/// How a host name becomes addresses when a new connection needs them: the
/// system resolver, unless the client was given another one (tests use
/// that to fail or answer lookups without leaving the machine).
#[derive(Clone, Default)]
pub(crate) struct Lookup(Option<Arc<LookupFn>>);

impl Lookup {
    pub(crate) fn new(f: Arc<LookupFn>) -> Lookup {
        Lookup(Some(f))
    }

    fn addresses(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        match &self.0 {
            Some(f) => f(host, port),
            None => (host, port).to_socket_addrs().map(Iterator::collect),
        }
    }
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Lookup(custom)"
        } else {
            "Lookup(system)"
        })
    }
}

/// A stand-in address meaning "not looked up yet": the name is resolved by
/// the connector only when a new connection is needed, so requests on a
/// pooled connection cost no DNS query.
pub(crate) const UNRESOLVED: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// Stack for the short-lived thread that runs DNS + connect so the worker
/// can be woken by an abort (neither can be interrupted in std).
const CONNECT_STACK: usize = 128 * 1024;

/// The error ureq sees when our layer has stashed the precise one.
pub(crate) fn stashed() -> ureq::Error {
    ureq::Error::Io(io::Error::other("wxnet: see stashed error"))
}

/// The error reported when I/O stops because the call was cancelled. Not
/// `Interrupted` (std and rustls retry that forever), not a reset or EOF
/// (ureq could take those for the end of a close-delimited body).
fn cancelled_io() -> io::Error {
    io::Error::other("wxnet: call cancelled")
}

/// A connection reset (or abort) seen while reading. Not passed to ureq
/// with its own kind: while reading a body ureq takes `ConnectionReset`
/// for the end of the stream, so a body that runs to the close of the
/// connection would end as a success, truncated. A reset is an abort, not
/// an end.
#[derive(Debug)]
pub(crate) struct PeerReset(pub io::Error);

impl std::fmt::Display for PeerReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for PeerReset {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The system's error behind an io failure of a connection: a hidden
/// reset unwrapped, so the caller's `source()` is the OS error itself.
pub(crate) fn io_cause(io: io::Error) -> io::Error {
    if !io.get_ref().is_some_and(|i| i.is::<PeerReset>()) {
        return io;
    }
    match io.into_inner().map(|b| b.downcast::<PeerReset>()) {
        Some(Ok(reset)) => reset.0,
        // Not reached: checked just above.
        _ => io::ErrorKind::ConnectionReset.into(),
    }
}

/// Hide a reset from ureq (see [`PeerReset`]).
fn hide_reset(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            io::Error::other(PeerReset(e))
        }
        _ => e,
    }
}

/// Applies the policy to every hop and maps names given to `resolve`.
#[derive(Debug)]
pub(crate) struct PolicyResolver {
    pub policy: Arc<Policy>,
    pub map: Arc<ResolveMap>,
}

impl Resolver for PolicyResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let ctl = call::current();
        let api = ctl.as_ref().map_or(ApiKind::Request, |c| c.api);
        let mut out = self.empty();
        if let Some(ctl) = &ctl {
            ctl.trace().start_hop();
            // The hop the call's own loop has just checked: no second parse.
            if let Some(a) = ctl.allowed().as_ref().filter(|a| {
                uri.scheme_str() == Some(a.scheme.as_str())
                    && uri.authority().map(|x| x.as_str()) == Some(a.authority.as_str())
            }) {
                out.push(address_for(&self.map, &a.host, a.port));
                return Ok(out);
            }
        }
        let target = match self.policy.check(api, &uri.to_string()) {
            Ok(t) => t,
            Err(e) => {
                if let Some(ctl) = &ctl {
                    ctl.stash(e);
                }
                return Err(stashed());
            }
        };
        out.push(address_for(&self.map, target.host(), target.port()));
        Ok(out)
    }
}

/// Where to connect for `host`: its `resolve` mapping, the address itself
/// for an IP literal (`skip_domain_check`), else "look it up when
/// connecting".
pub(crate) fn address_for(map: &ResolveMap, host: &str, port: u16) -> SocketAddr {
    match map.get(host) {
        Some(mapped) => *mapped,
        None => match host.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => SocketAddr::new(UNRESOLVED, port),
        },
    }
}

/// Opens TCP (with DNS when needed) and rustls for ureq, as one transport
/// with one set of buffers.
#[derive(Debug)]
pub(crate) struct WxConnector {
    pub proxy: Option<Arc<Proxy>>,
    pub tls: Arc<ClientConfig>,
    pub allow_plain: bool,
    pub lookup: Lookup,
}

impl Connector<()> for WxConnector {
    type Out = WxTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<WxTransport>, ureq::Error> {
        let ctl = call::current();
        let ctl = ctl.as_deref();
        let api_name = ctl.map_or(Api::Request, |c| c.api_name());
        if !details.needs_tls() && !self.allow_plain {
            if let Some(c) = ctl {
                c.stash(Error::invalid_url(api_name, &details.uri.to_string()));
            }
            return Err(stashed());
        }
        let deadline = deadline_of(ctl, &details.timeout);
        let host = bare_host(details.uri);
        let addr = details
            .addrs
            .first()
            .copied()
            .ok_or(ureq::Error::HostNotFound)?;
        if let Some(c) = ctl {
            c.trace().reused = false;
        }

        let proxy = self.proxy.as_deref();
        let stream = proxy::connect(ctl, proxy, &self.lookup, &host, addr, deadline)?;
        let _ = stream.set_nodelay(true);
        let sock = Arc::new(CallSocket::new(stream));
        let peer = sock.stream.peer_addr().ok();
        if let Some(c) = ctl {
            c.trace().peer = peer;
            c.bind_socket(sock.clone());
            if c.cancelled().is_some() {
                return Err(ureq::Error::Io(cancelled_io()));
            }
        }
        proxy::open(ctl, proxy, &sock.stream, &host, addr, deadline)?;
        let tls = if details.needs_tls() {
            Some(Box::new(handshake(
                ctl,
                &self.tls,
                &host,
                &sock.stream,
                deadline,
            )?))
        } else {
            None
        };
        let config = details.config;
        Ok(Some(WxTransport {
            sock,
            peer,
            tls,
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            read_timeout: Armed::default(),
            write_timeout: Armed::default(),
        }))
    }
}

/// The host of `uri` as DNS and SNI want it: no brackets, no trailing dot.
pub(crate) fn bare_host(uri: &Uri) -> String {
    let h = uri.host().unwrap_or_default();
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    h.trim_end_matches('.').to_owned()
}

/// The earlier of ureq's budget and the call's own deadline.
fn deadline_of(ctl: Option<&CallCtl>, timeout: &NextTimeout) -> Instant {
    let now = Instant::now();
    let ureq_deadline = match timeout.after {
        ureq::unversioned::transport::time::Duration::Exact(d) => now + d,
        ureq::unversioned::transport::time::Duration::NotHappening => now + Duration::from_secs(60),
    };
    match ctl {
        Some(c) => c.deadline.min(ureq_deadline),
        None => ureq_deadline,
    }
}

fn timed_out() -> ureq::Error {
    ureq::Error::Timeout(ureq::Timeout::Global)
}

/// DNS (if the resolver left the name unresolved) and TCP connect, on a
/// helper thread so that an abort wakes the worker at once.
pub(crate) fn connect_tcp(
    ctl: Option<&CallCtl>,
    lookup: &Lookup,
    host: &str,
    addr: SocketAddr,
    deadline: Instant,
) -> Result<TcpStream, ureq::Error> {
    let trace_ctl = call::current();
    let host = host.to_owned();
    let lookup = lookup.clone();
    let run = move || dns_and_connect(trace_ctl.as_deref(), &lookup, &host, addr, deadline);
    let Some(ctl) = ctl else {
        return run().map_err(ureq::Error::Io);
    };
    // `None` on the channel is the abort waking the wait.
    let (tx, rx) = mpsc::sync_channel::<Option<io::Result<TcpStream>>>(2);
    let wake = tx.clone();
    ctl.set_waker(Some(Box::new(move || {
        let _ = wake.try_send(None);
    })));
    let helper = std::thread::Builder::new()
        .name("wxnet-connect".into())
        .stack_size(CONNECT_STACK)
        .spawn(move || {
            let _ = tx.send(Some(run()));
        });
    let result = match helper {
        Err(e) => Err(ureq::Error::Io(e)),
        Ok(_) => loop {
            if ctl.cancelled().is_some() {
                break Err(ureq::Error::Io(cancelled_io()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Some(r)) => break r.map_err(ureq::Error::Io),
                Ok(None) => continue,
                Err(RecvTimeoutError::Timeout) => break Err(timed_out()),
                Err(RecvTimeoutError::Disconnected) => {
                    break Err(ureq::Error::Io(io::Error::other("connect thread ended")));
                }
            }
        },
    };
    ctl.set_waker(None);
    result
}

fn dns_and_connect(
    ctl: Option<&CallCtl>,
    lookup: &Lookup,
    host: &str,
    addr: SocketAddr,
    deadline: Instant,
) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = if addr.ip() == UNRESOLVED {
        if let Some(c) = ctl {
            c.trace().dns_start = Some(Instant::now());
        }
        // `NotFound` is how the error mapping tells a failed lookup.
        let found = lookup.addresses(host, addr.port()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("dns lookup of {host} failed: {e}"),
            )
        })?;
        if let Some(c) = ctl {
            c.trace().dns_end = Some(Instant::now());
        }
        found
    } else {
        vec![addr]
    };
    if let Some(c) = ctl {
        c.trace().connect_start = Some(Instant::now());
    }
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"));
    for (i, a) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        // Later addresses get what is left; the first gets at most half of
        // it when there are others to try.
        let budget = if i + 1 < addrs.len() { left / 2 } else { left };
        match TcpStream::connect_timeout(a, budget.max(Duration::from_millis(10))) {
            Ok(s) => {
                if let Some(c) = ctl {
                    c.trace().connect_end = Some(Instant::now());
                }
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Run the rustls handshake on the worker (abortable: the socket is
/// already bound to the call).
pub(crate) fn handshake(
    ctl: Option<&CallCtl>,
    config: &Arc<ClientConfig>,
    host: &str,
    stream: &TcpStream,
    deadline: Instant,
) -> Result<ClientConnection, ureq::Error> {
    let api = ctl.map_or(Api::Request, |c| c.api_name());
    let tls_fail = |e: Error| {
        if let Some(c) = ctl {
            c.stash(e);
        }
        stashed()
    };
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| tls_fail(Error::new(api, ErrorKind::Tls).source_from(e)))?;
    let mut conn = ClientConnection::new(config.clone(), name)
        .map_err(|e| tls_fail(Error::new(api, ErrorKind::Tls).source_from(e)))?;
    if let Some(c) = ctl {
        c.trace().tls_start = Some(Instant::now());
    }
    let mut io = SockIo { s: stream, ctl };
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        let _ = stream.set_read_timeout(Some(left));
        let _ = stream.set_write_timeout(Some(left));
        if let Err(e) = conn.complete_io(&mut io) {
            if ctl.is_some_and(|c| c.cancelled().is_some()) {
                return Err(ureq::Error::Io(cancelled_io()));
            }
            if is_timeout(&e) {
                return Err(timed_out());
            }
            return Err(tls_fail(Error::new(api, ErrorKind::Tls).source_from(e)));
        }
    }
    if let Some(c) = ctl {
        c.trace().tls_end = Some(Instant::now());
    }
    Ok(conn)
}

/// Whether `e` is a socket timeout: a read or write timeout shows as
/// `WouldBlock` on Unix and `TimedOut` on Windows.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Socket I/O on behalf of the current call: refuses to start once the
/// call is cancelled, reports a cancel as such, counts bytes.
struct SockIo<'a> {
    s: &'a TcpStream,
    ctl: Option<&'a CallCtl>,
}

impl SockIo<'_> {
    fn check(&self) -> io::Result<()> {
        match self.ctl {
            Some(c) if c.cancelled().is_some() => Err(cancelled_io()),
            _ => Ok(()),
        }
    }

    fn after(&self, r: io::Result<usize>, sent: bool) -> io::Result<usize> {
        match (r, self.ctl) {
            (_, Some(c)) if c.cancelled().is_some() => Err(cancelled_io()),
            (Ok(n), Some(c)) => {
                let counter = if sent {
                    &c.bytes_sent
                } else {
                    &c.bytes_received
                };
                counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                Ok(n)
            }
            (r, _) => r,
        }
    }
}

impl Read for SockIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            self.check()?;
            match self.s.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return self.after(r, false),
            }
        }
    }
}

impl Write for SockIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            self.check()?;
            match self.s.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return self.after(r, true),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One connection (TCP, or TCP + TLS) as ureq's transport. It may be
/// pooled and later used by another call, so it binds itself to whatever
/// call is current at each I/O.
pub(crate) struct WxTransport {
    sock: Arc<CallSocket>,
    /// Asked once: every call on the connection reports it.
    peer: Option<SocketAddr>,
    tls: Option<Box<ClientConnection>>,
    buffers: LazyBuffers,
    read_timeout: Armed,
    write_timeout: Armed,
}

/// How long a socket timeout may be left as it is: a read that starts up
/// to this long after the timeout was set ends at most this much after the
/// deadline. Saves two system calls per request on a busy connection.
const TIMEOUT_SLACK: Duration = Duration::from_millis(10);

/// When a socket timeout was last set, and the deadline it aimed at.
#[derive(Default)]
struct Armed(Option<(Instant, Instant)>);

impl Armed {
    /// Make the socket's timeout end near `deadline` for an I/O starting
    /// now, touching the socket only when the current setting is off by
    /// more than [`TIMEOUT_SLACK`].
    fn arm(&mut self, deadline: Instant, set: impl FnOnce(Option<Duration>) -> io::Result<()>) {
        let now = Instant::now();
        if let Some((at, aimed)) = self.0 {
            let drift = if aimed > deadline {
                aimed - deadline
            } else {
                deadline - aimed
            };
            if now.saturating_duration_since(at) < TIMEOUT_SLACK && drift < TIMEOUT_SLACK {
                return;
            }
        }
        let left = deadline
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        if set(Some(left)).is_ok() {
            self.0 = Some((now, deadline));
        } else {
            self.0 = None;
        }
    }
}

impl std::fmt::Debug for WxTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WxTransport")
            .field("peer", &self.peer)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl WxTransport {
    /// Bind to the current call and return the deadline of the next I/O.
    fn prepare(
        &mut self,
        ctl: Option<&Arc<CallCtl>>,
        timeout: &NextTimeout,
    ) -> Result<Instant, ureq::Error> {
        if let Some(c) = ctl {
            if c.id != self.sock.owner() {
                c.bind_socket(self.sock.clone());
            }
            if c.cancelled().is_some() {
                return Err(ureq::Error::Io(cancelled_io()));
            }
        }
        let deadline = deadline_of(ctl.map(|c| &**c), timeout);
        if deadline <= Instant::now() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        Ok(deadline)
    }

    fn io_error(&self, ctl: Option<&Arc<CallCtl>>, e: io::Error, t: &NextTimeout) -> ureq::Error {
        if ctl.is_some_and(|c| c.cancelled().is_some()) {
            return ureq::Error::Io(cancelled_io());
        }
        if is_timeout(&e) {
            return ureq::Error::Timeout(t.reason);
        }
        ureq::Error::Io(e)
    }
}

impl Transport for WxTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let ctl = call::current();
        let deadline = self.prepare(ctl.as_ref(), &timeout)?;
        if let Some(c) = &ctl {
            let mut t = c.trace();
            if t.request_start.is_none() {
                t.request_start = Some(Instant::now());
            }
            if t.peer.is_none() {
                t.peer = self.peer;
            }
        }
        let WxTransport {
            sock,
            tls,
            buffers,
            write_timeout,
            ..
        } = self;
        write_timeout.arm(deadline, |t| sock.stream.set_write_timeout(t));
        let data = &buffers.output()[..amount];
        let mut io = SockIo {
            s: &sock.stream,
            ctl: ctl.as_deref(),
        };
        let r = match tls {
            Some(conn) => rustls::Stream::new(&mut **conn, &mut io).write_all(data),
            None => io.write_all(data),
        };
        r.map_err(|e| self.io_error(ctl.as_ref(), e, &timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let ctl = call::current();
        let deadline = self.prepare(ctl.as_ref(), &timeout)?;
        let WxTransport {
            sock,
            tls,
            buffers,
            read_timeout,
            ..
        } = self;
        read_timeout.arm(deadline, |t| sock.stream.set_read_timeout(t));
        let buf = buffers.input_append_buf();
        let mut io = SockIo {
            s: &sock.stream,
            ctl: ctl.as_deref(),
        };
        let r = match tls {
            Some(conn) => match rustls::Stream::new(&mut **conn, &mut io).read(buf) {
                // Many servers close without a TLS close_notify; ureq still
                // needs to see the end of a close-delimited body.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
            None => io.read(buf),
        };
        let n = r.map_err(|e| self.io_error(ctl.as_ref(), hide_reset(e), &timeout))?;
        self.buffers.input_appended(n);
        if n > 0 {
            if let Some(c) = &ctl {
                let mut t = c.trace();
                if t.response_start.is_none() && t.request_start.is_some() {
                    t.response_start = Some(Instant::now());
                }
            }
        }
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        if call::current().is_some_and(|c| c.fresh_only.load(std::sync::atomic::Ordering::Relaxed))
        {
            return false;
        }
        probe(&self.sock.stream)
    }

    fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// Whether an idle connection still looks usable: nothing to read (data or
/// EOF on an idle connection means the server closed or misbehaved).
fn probe(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let open = matches!(s.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).is_ok() && open
}
