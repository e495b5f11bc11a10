//! The proxy tunnel: HTTP `CONNECT` (RFC 9110 §9.3.6) or SOCKS5 (RFC 1928,
//! with RFC 1929 user/password), opened on a fresh TCP connection to the
//! proxy before TLS. One piece of code for the three HTTP APIs and the
//! WebSocket, so they all reach a target the same way.
//!
//! Credentials live only in [`Proxy`], whose `Debug`, `Display` and every
//! error built here leave them out.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Instant;

use crate::call::CallCtl;
use crate::error::{Api, Error, ErrorKind};
use crate::transport::{self, Lookup, UNRESOLVED, is_timeout};

/// The longest `CONNECT` response head read before giving up on it.
const MAX_HEAD: usize = 16 * 1024;

/// Which protocol the proxy speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Http,
    Socks5,
}

/// A configured proxy (`ClientBuilder::proxy`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    kind: Kind,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl std::fmt::Display for Proxy {
    /// The URL without credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.kind {
            Kind::Http => "http",
            Kind::Socks5 => "socks5",
        };
        write!(f, "{scheme}://{}", self.address())
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("url", &self.to_string())
            .field("credentials", &self.credentials.is_some())
            .finish()
    }
}

impl Proxy {
    /// Parse `http://[user:pass@]host:port` or `socks5://…`. The error
    /// never repeats the URL, which may hold a password.
    pub(crate) fn parse(raw: &str) -> Result<Proxy, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("proxy URL is not valid ({e})"))?;
        let kind = match url.scheme() {
            "http" => Kind::Http,
            "socks5" => Kind::Socks5,
            _ => return Err("proxy URL must start with http:// or socks5://".into()),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err("proxy URL has no host".into()),
        };
        if host.is_empty() {
            return Err("proxy URL has no host".into());
        }
        // `url` drops port 80 for http: the default is the explicit one.
        // `url` forgets an explicit default port: look at the text.
        let port = url
            .port_or_known_default()
            .filter(|_| url.port().is_some() || names_port(raw))
            .ok_or("proxy URL must name a port")?;
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err("proxy URL must have no path, query or fragment".into());
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, pass) => Some((decode(user), decode(pass.unwrap_or_default()))),
        };
        if let Some((user, pass)) = &credentials {
            if kind == Kind::Socks5 && (user.len() > 255 || pass.len() > 255) {
                return Err("socks5 user name and password must be at most 255 bytes".into());
            }
        }
        Ok(Proxy {
            kind,
            host,
            port,
            credentials,
        })
    }

    /// `host:port` as configured, with brackets around an IPv6 address:
    /// what errors name.
    pub(crate) fn address(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    /// The error for a connection to the proxy that failed with `e`: the
    /// kind and reason it would have without a proxy, naming the proxy.
    fn io_error(&self, api: Api, e: &io::Error) -> Error {
        let plain = Error::from_network_io(api, e);
        self.error(api, plain.kind(), &format!(": {}", plain.reason()))
    }

    /// An error of `kind` whose reason names the proxy: "proxy
    /// <address>" then `what` (which starts with its separator).
    fn error(&self, api: Api, kind: ErrorKind, what: &str) -> Error {
        Error::with_reason(api, kind, &format!("proxy {}{what}", self.address()))
    }
}

/// Whether the authority of `raw` ends in `:<digits>`.
fn names_port(raw: &str) -> bool {
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host_port.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Keep `e` as the call's error and hand ureq the marker for it.
fn stash_error(ctl: &CallCtl, e: Error) -> ureq::Error {
    ctl.stash(e);
    transport::stashed()
}

/// TCP to the proxy when there is one, else to `addr` (the target's
/// address, or [`UNRESOLVED`] to look `host` up). A proxy that cannot be
/// reached fails with an error naming it.
pub(crate) fn connect(
    ctl: Option<&CallCtl>,
    proxy: Option<&Proxy>,
    lookup: &Lookup,
    host: &str,
    addr: SocketAddr,
    deadline: Instant,
) -> Result<TcpStream, ureq::Error> {
    let Some(p) = proxy else {
        return transport::connect_tcp(ctl, lookup, host, addr, deadline);
    };
    let at = match p.host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, p.port),
        Err(_) => SocketAddr::new(UNRESOLVED, p.port),
    };
    transport::connect_tcp(ctl, lookup, &p.host, at, deadline).map_err(|e| match (ctl, e) {
        (Some(c), ureq::Error::Io(io)) if c.cancelled().is_none() && !is_timeout(&io) => {
            let e = p.io_error(c.api_name(), &io).source_from(io);
            stash_error(c, e)
        }
        (_, e) => e,
    })
}

/// Open the tunnel to the target on `stream` (connected to the proxy,
/// already bound to the call so an abort shuts it down). The target is
/// the mapped address when `addr` is one (a `resolve` entry or an IP
/// literal), else `host` by name. Does nothing without a proxy.
pub(crate) fn open(
    ctl: Option<&CallCtl>,
    proxy: Option<&Proxy>,
    stream: &TcpStream,
    host: &str,
    addr: SocketAddr,
    deadline: Instant,
) -> Result<(), ureq::Error> {
    let Some(p) = proxy else {
        return Ok(());
    };
    let api = ctl.map_or(Api::Request, |c| c.api_name());
    let target = if addr.ip() == UNRESOLVED {
        Target::Name(host)
    } else {
        Target::Ip(addr.ip())
    };
    let result = tunnel(stream, p, target, addr.port(), deadline);
    let e = match result {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if ctl.is_some_and(|c| c.cancelled().is_some()) {
        return Err(ureq::Error::Io(e));
    }
    if is_timeout(&e) {
        return Err(ureq::Error::Timeout(ureq::Timeout::Global));
    }
    let error = match e.get_ref().and_then(|i| i.downcast_ref::<Refusal>()) {
        Some(r) => p.error(api, r.kind, &r.what),
        None => match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                p.error(api, ErrorKind::ConnectionReset, " closed the tunnel")
            }
            _ => p.io_error(api, &e),
        },
    };
    match ctl {
        Some(c) => Err(stash_error(c, error.source_from(e))),
        None => Err(ureq::Error::Io(e)),
    }
}

/// What the tunnel asks the proxy for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'a> {
    Name(&'a str),
    Ip(IpAddr),
}

/// The proxy said no, or broke its protocol: the kind and what to say
/// after "proxy <address>".
#[derive(Debug)]
struct Refusal {
    kind: ErrorKind,
    what: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Refusal {}

fn refused(what: impl Into<String>) -> io::Error {
    io::Error::other(Refusal {
        kind: ErrorKind::ConnectionRefused,
        what: what.into(),
    })
}

fn invalid(what: &str) -> io::Error {
    io::Error::other(Refusal {
        kind: ErrorKind::InvalidResponse,
        what: format!(" sent an invalid reply ({what})"),
    })
}

/// Ask `proxy` (at the other end of `stream`) for a tunnel to
/// `target`:`port`, within `deadline`. On success the stream carries the
/// target's bytes from the next one on.
pub(crate) fn tunnel(
    stream: &TcpStream,
    proxy: &Proxy,
    target: Target<'_>,
    port: u16,
    deadline: Instant,
) -> io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    stream.set_read_timeout(Some(left))?;
    stream.set_write_timeout(Some(left))?;
    let mut s = stream;
    match proxy.kind {
        Kind::Http => http_connect(&mut s, proxy, target, port),
        Kind::Socks5 => socks5(&mut s, proxy, target, port),
    }
}

fn http_connect(
    s: &mut &TcpStream,
    proxy: &Proxy,
    target: Target<'_>,
    port: u16,
) -> io::Result<()> {
    let authority = match target {
        Target::Name(h) => format!("{h}:{port}"),
        Target::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        Target::Ip(ip) => format!("{ip}:{port}"),
    };
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some((user, pass)) = &proxy.credentials {
        let token = base64(format!("{user}:{pass}").as_bytes());
        head.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    let head = read_head(s)?;
    let status = std::str::from_utf8(&head)
        .ok()
        .and_then(|h| h.strip_prefix("HTTP/1."))
        .and_then(|h| h.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| invalid("not an HTTP response"))?;
    match status {
        200..=299 => Ok(()),
        // Some proxies (tinyproxy) answer a tunnel request with 401.
        401 | 407 if proxy.credentials.is_some() => Err(refused(format!(
            " refused the credentials: status {status}"
        ))),
        code => Err(refused(format!(" refused the tunnel: status {code}"))),
    }
}

/// The response head up to its blank line, without reading a byte past
/// it (the TLS handshake follows on the same stream).
fn read_head(s: &mut &TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = s.peek(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let before = head.len();
        head.extend_from_slice(&buf[..n]);
        // Look a little before the new bytes: the blank line may straddle.
        let from = before.saturating_sub(3);
        let end = head[from..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| from + i + 4);
        let take = end.map_or(n, |e| e - before);
        head.truncate(before + take);
        s.read_exact(&mut buf[..take])?;
        if end.is_some() {
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(invalid("response head too long"));
        }
    }
}

fn socks5(s: &mut &TcpStream, proxy: &Proxy, target: Target<'_>, port: u16) -> io::Result<()> {
    // Methods: 0 = none, 2 = user/password.
    let greeting: &[u8] = match proxy.credentials {
        Some(_) => &[5, 2, 0, 2],
        None => &[5, 1, 0],
    };
    s.write_all(greeting)?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply)?;
    if reply[0] != 5 {
        return Err(invalid("not SOCKS5"));
    }
    match (reply[1], &proxy.credentials) {
        (0, _) => {}
        (2, Some((user, pass))) => {
            let mut auth = vec![1, user.len() as u8];
            auth.extend_from_slice(user.as_bytes());
            auth.push(pass.len() as u8);
            auth.extend_from_slice(pass.as_bytes());
            s.write_all(&auth)?;
            s.read_exact(&mut reply)?;
            if reply[1] != 0 {
                return Err(refused(" refused the credentials"));
            }
        }
        (0xff, _) | (2, None) => {
            return Err(refused(
                " refused the tunnel: no acceptable authentication method",
            ));
        }
        _ => return Err(invalid("unknown authentication method")),
    }
    let mut request = vec![5, 1, 0];
    match target {
        Target::Ip(IpAddr::V4(ip)) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        Target::Ip(IpAddr::V6(ip)) => {
            request.push(4);
            request.extend_from_slice(&ip.octets());
        }
        Target::Name(name) => {
            let len = u8::try_from(name.len())
                .map_err(|_| refused(" cannot be asked for a host name longer than 255 bytes"))?;
            request.push(3);
            request.push(len);
            request.extend_from_slice(name.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    s.write_all(&request)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    if head[0] != 5 {
        return Err(invalid("not SOCKS5"));
    }
    if head[1] != 0 {
        return Err(refused(format!(
            " refused the tunnel: socks5 reply {} ({})",
            head[1],
            socks5_reply(head[1])
        )));
    }
    // The bound address, which nothing here needs; read so that the
    // target's bytes start right after.
    let skip = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len)?;
            usize::from(len[0])
        }
        _ => return Err(invalid("unknown address type")),
    };
    let mut rest = [0u8; 16 + 255 + 2];
    s.read_exact(&mut rest[..skip + 2])
}

/// RFC 1928 §6's reply codes.
fn socks5_reply(code: u8) -> &'static str {
    match code {
        1 => "general failure",
        2 => "not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown",
    }
}

/// Standard base64 with padding (RFC 4648 §4), for `Proxy-Authorization`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn parse_keeps_credentials_out_of_display_and_debug() {
        let p = Proxy::parse("http://us%40er:p%3Ass+w@127.0.0.1:3128").unwrap();
        assert_eq!(
            p.credentials,
            Some(("us@er".to_owned(), "p:ss+w".to_owned()))
        );
        assert_eq!(p.to_string(), "http://127.0.0.1:3128");
        let debug = format!("{p:?}");
        assert!(
            !debug.contains("p:ss") && !debug.contains("us@er"),
            "{debug}"
        );
        let p = Proxy::parse("socks5://[::1]:1080").unwrap();
        assert_eq!(p.address(), "[::1]:1080");
        assert_eq!(Proxy::parse("http://p.example:80").unwrap().port, 80);
    }

    #[test]
    fn parse_refuses_bad_urls_without_repeating_them() {
        for bad in [
            "ftp://a:secret@h:1",
            "http://a:secret@h",
            "http://a:secret@h:1/path",
            "secret",
            "socks5://a:secret@:1",
        ] {
            let e = Proxy::parse(bad).unwrap_err();
            assert!(!e.contains("secret"), "{bad}: {e}");
        }
    }
}
