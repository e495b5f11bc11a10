//! The HTTP checks, over one plain HTTP/1.1 exchange on a TLS connection:
//! HSTS (H-01) and, for a URL with a path, whether the sample response is
//! UTF-8 without a BOM (U-01). Also the small fetcher of an issuer
//! certificate from an `http://` AIA URL and of an OCSP responder's answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::report::Status;
use super::{Checker, Run};
use crate::tls::AcceptAny;

/// Most bytes of a sample response read; the checks need only its start.
const MAX_RESPONSE: usize = 1024 * 1024;
/// Most bytes read of an issuer certificate or an OCSP response.
const MAX_FETCH: u64 = 256 * 1024;

impl Run<'_> {
    /// H-01 and, with a path, U-01.
    pub(super) fn http_checks(&mut self, addr: SocketAddr) {
        let t = self.target;
        if t.scheme != "https" {
            return;
        }
        let path = t.path.clone().unwrap_or_else(|| "/".into());
        let (head, body) = match self.fetch(addr, &path) {
            Ok(r) => r,
            Err(why) => {
                return self
                    .out
                    .unknown("H-01", format!("GET {path} failed: {why}"));
            }
        };
        match header_value(&head, "strict-transport-security") {
            Some(v) => self
                .out
                .pass("H-01", format!("Strict-Transport-Security: {v}")),
            None => self.out.info(
                "H-01",
                format!("no Strict-Transport-Security on GET {path}"),
                "add Strict-Transport-Security: max-age=31536000",
            ),
        }
        if t.path.is_some() {
            self.utf8(&path, &head, &body);
        }
    }

    /// U-01: the sample response's bytes against its declared charset.
    fn utf8(&mut self, path: &str, head: &str, body: &[u8]) {
        let ctype = header_value(head, "content-type").unwrap_or_default();
        let declared = ctype.to_ascii_lowercase().split(';').skip(1).find_map(|p| {
            p.trim()
                .strip_prefix("charset=")
                .map(|c| c.trim_matches('"').to_string())
        });
        let bom = body.starts_with(b"\xEF\xBB\xBF");
        let utf8 = std::str::from_utf8(body).is_ok();
        let (status, msg, fix) = match (utf8, bom, declared.as_deref()) {
            (true, false, Some("utf-8") | None) => (
                Status::Pass,
                format!("{} bytes of UTF-8 ({ctype})", body.len()),
                "",
            ),
            (true, true, _) => (
                Status::Warn,
                "UTF-8 with a BOM: the mini program strips it, other clients may not".into(),
                "send UTF-8 without a byte-order mark",
            ),
            (true, false, Some(other)) => (
                Status::Warn,
                format!("valid UTF-8 but declared charset={other}"),
                "declare charset=utf-8",
            ),
            (false, _, Some(cs)) => (
                Status::Info,
                format!("not UTF-8; declared charset={cs} is converted by the mini program"),
                "prefer UTF-8",
            ),
            (false, _, None) => (
                Status::Warn,
                "not UTF-8 and no charset declared: the mini program guesses \
                 (or fails with 602302)"
                    .into(),
                "send UTF-8, or declare the charset in Content-Type",
            ),
        };
        self.out
            .add("U-01", status, format!("GET {path}: {msg}"), fix);
    }

    /// `GET path` over TLS (any certificate: the certificate rules judge
    /// it); the response head and the body, de-chunked.
    fn fetch(&self, addr: SocketAddr, path: &str) -> Result<(String, Vec<u8>), String> {
        let recorder = Arc::new(AcceptAny::new(
            ring::default_provider().signature_verification_algorithms,
            None,
            false,
        ));
        let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(recorder)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = ServerName::try_from(self.target.host.clone()).map_err(|e| e.to_string())?;
        let conn = ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        let tcp = connect(addr, self.checker.timeout)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let host = match self.target.port {
            443 => self.target.host.clone(),
            p => format!("{}:{p}", self.target.host),
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: wxnet-check\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n"
        );
        tls.write_all(req.as_bytes())
            .map_err(|e| super::probe::io_plain(&e))?;
        let raw = read_response(&mut tls)?;
        let (head, mut body) = split_head(&raw).ok_or("no HTTP response head")?;
        if header_value(&head, "transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            body = dechunk(&body);
        } else if let Some(n) =
            header_value(&head, "content-length").and_then(|v| v.parse::<usize>().ok())
        {
            body.truncate(n);
        }
        Ok((head, body))
    }
}

impl Checker {
    /// One certificate from an `http://` issuer URL (DER, as CAs serve
    /// them; PKCS#7 bundles are not read).
    pub(super) fn fetch_der(&self, url: &str) -> Result<CertificateDer<'static>, String> {
        let body = self.plain_http(url, None)?;
        if X509Certificate::from_der(&body).is_err() {
            return Err("the response is not one DER certificate".into());
        }
        Ok(CertificateDer::from(body))
    }

    /// The body of a `200` answer from an `http://` URL (issuer
    /// certificates, OCSP responders): a GET, or a POST of `post` as
    /// (content type, body). The checker's `resolve` applies.
    pub(super) fn plain_http(
        &self,
        url: &str,
        post: Option<(&str, &[u8])>,
    ) -> Result<Vec<u8>, String> {
        let u = url::Url::parse(url).map_err(|e| e.to_string())?;
        if u.scheme() != "http" {
            return Err("only http:// URLs are fetched".into());
        }
        let host = u.host_str().ok_or("no host")?.to_ascii_lowercase();
        let port = u.port_or_known_default().unwrap_or(80);
        let addr = match self.resolved(&host).first() {
            Some(a) => *a,
            None => (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| format!("DNS lookup of {host} failed: {e}"))?
                .next()
                .ok_or("no address")?,
        };
        let mut tcp = connect(addr, self.timeout.min(Duration::from_secs(5)))?;
        let path = &url[u.origin().ascii_serialization().len()..];
        let path = if path.is_empty() { "/" } else { path };
        let (method, extra, body) = match post {
            Some((kind, body)) => (
                "POST",
                format!("Content-Type: {kind}\r\nContent-Length: {}\r\n", body.len()),
                body,
            ),
            None => ("GET", String::new(), &[][..]),
        };
        // One write: a server may answer after the first bytes and close.
        let mut request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: wxnet-check\r\n{extra}\r\n"
        )
        .into_bytes();
        request.extend_from_slice(body);
        tcp.write_all(&request).map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        tcp.take(MAX_FETCH)
            .read_to_end(&mut raw)
            .map_err(|e| e.to_string())?;
        let (head, body) = split_head(&raw).ok_or("no HTTP response")?;
        if head.split_whitespace().nth(1) != Some("200") {
            return Err(head.lines().next().unwrap_or_default().to_string());
        }
        Ok(body)
    }
}

/// A TCP connection to `addr` whose connect, reads and writes each give
/// up after `timeout`.
fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, String> {
    let tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    Ok(tcp)
}

/// Read until the peer closes (a close without close_notify, once a head
/// has arrived, ends the response too), at most [`MAX_RESPONSE`] bytes.
fn read_response(r: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_RESPONSE {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(_) if split_head(&raw).is_some() => break,
            Err(e) => return Err(super::probe::io_plain(&e)),
        }
    }
    Ok(raw)
}

/// The head (lossy text, without the blank line) and the body of a raw
/// response, once the head is complete.
fn split_head(raw: &[u8]) -> Option<(String, Vec<u8>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    Some((head, raw[end + 4..].to_vec()))
}

fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|n| *n > 0) else {
            break;
        };
        let start = end + 2;
        let stop = (start + size).min(raw.len());
        out.extend_from_slice(&raw[start..stop]);
        raw = raw.get(stop + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }

    #[test]
    fn heads_are_split_from_bodies_and_searched_by_name() {
        let (head, body) = split_head(b"HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nbody").unwrap();
        assert_eq!(body, b"body");
        assert_eq!(header_value(&head, "x-a").as_deref(), Some("1"));
        assert!(split_head(b"HTTP/1.1 200 OK\r\n").is_none());
    }
}
