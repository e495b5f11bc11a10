//! The raw probe: hand-written ClientHellos for what rustls will not
//! offer (SSLv3, TLS 1.0/1.1, CBC, RSA key exchange, RC4, 3DES, export
//! and anonymous suites), reading the server's answer without finishing
//! any handshake. Before TLS 1.3 the ServerHello, the certificate chain
//! and the stapled OCSP response travel in the clear, so the probe also
//! gets the chain of servers rustls cannot talk to at all.
//!
//! `hello` writes the ClientHello, `parse` reads the reply (records split
//! across reads, messages split across records), `suites` names the
//! cipher suites and their properties, and `survey` runs the probes a
//! check needs: each version, the accepted suites in the server's order,
//! and each certificate type. Every way a probe can end is an [`Answer`].

pub(crate) mod hello;
mod parse;
mod rules;
pub(crate) mod suites;
mod survey;
#[cfg(test)]
mod tests;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub(crate) use hello::{Hello, Sigs, version_name};
pub(crate) use parse::Flight;
use parse::{Parsed, Reader};
pub(in crate::check) use rules::seen;
pub(crate) use survey::{Survey, VersionScan};

/// How one raw probe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A ServerHello (and what followed it in the clear).
    Hello(Flight),
    /// A TLS alert instead: level and description (RFC 5246 §7.2).
    Alert(u8, u8),
    /// The server closed the connection without answering.
    Closed,
    /// The connection was reset.
    Reset,
    /// No complete answer within the timeout.
    Timeout,
    /// Not a TLS reply, or a broken one.
    Malformed(String),
    /// The TCP connection failed.
    Unreachable(String),
}

impl Answer {
    /// The flight, when the server chose exactly `version`.
    pub fn accepted(&self, version: u16) -> Option<&Flight> {
        match self {
            Answer::Hello(f) if f.version == version => Some(f),
            _ => None,
        }
    }

    /// A refusal the server meant: an alert, a hang-up, or a ServerHello
    /// for another version; the others say nothing either way.
    pub fn refused(&self, version: u16) -> bool {
        match self {
            Answer::Hello(f) => f.version != version,
            Answer::Alert(..) | Answer::Closed | Answer::Reset => true,
            _ => false,
        }
    }

    /// The answer in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Answer::Hello(f) => {
                format!("{} with {}", version_name(f.version), suites::name(f.suite))
            }
            Answer::Alert(_, d) => format!("alert {}", alert_name(*d)),
            Answer::Closed => "the connection was closed without an answer".into(),
            Answer::Reset => "the connection was reset".into(),
            Answer::Timeout => "no answer within the timeout".into(),
            Answer::Malformed(why) => why.clone(),
            Answer::Unreachable(why) => why.clone(),
        }
    }
}

/// The name of an alert description (RFC 8446 §6).
fn alert_name(d: u8) -> String {
    let name = match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        109 => "missing_extension",
        112 => "unrecognized_name",
        _ => return format!("{d}"),
    };
    name.to_owned()
}

/// Send `hello` to `addr` and read the answer, all within `timeout`.
pub(crate) fn exchange(addr: SocketAddr, hello: &Hello, timeout: Duration) -> Answer {
    let end = Instant::now() + timeout;
    let mut tcp = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(t) => t,
        Err(e) => return Answer::Unreachable(format!("connect to {addr}: {e}")),
    };
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_write_timeout(Some(timeout));
    let mut random = [0u8; 32];
    // Random bytes keep servers from caching; nothing secret depends on
    // them, so a failing source is no reason to stop.
    let _ = rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut random);
    if let Err(e) = tcp.write_all(&hello.record(&random)) {
        return io_answer(&e);
    }
    let mut reader = Reader::default();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return partial(reader, Answer::Timeout);
        }
        let _ = tcp.set_read_timeout(Some(left));
        match tcp.read(&mut buf) {
            Ok(0) => return partial(reader, Answer::Closed),
            Ok(n) => match reader.push(&buf[..n]) {
                Some(Parsed::Hello(f)) => return Answer::Hello(f),
                Some(Parsed::Alert(level, d)) => return Answer::Alert(level, d),
                Some(Parsed::Malformed(why)) => return Answer::Malformed(why),
                None => {}
            },
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return partial(reader, io_answer(&e)),
        }
    }
}

/// What was read of a flight cut short, or `otherwise`.
fn partial(reader: Reader, otherwise: Answer) -> Answer {
    reader.finish().map_or(otherwise, Answer::Hello)
}

fn io_answer(e: &std::io::Error) -> Answer {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Answer::Timeout,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => Answer::Reset,
        ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe => Answer::Closed,
        _ => Answer::Malformed(e.to_string()),
    }
}
