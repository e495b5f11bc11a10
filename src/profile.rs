//! Timings and connection facts of one call: [`Trace`] as the connection
//! layer records them, [`Profile`] as a caller reads them (`res.profile`).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use crate::call::CallCtl;

/// Raw timings and connection facts of a call; [`Profile`] is made
/// from it. Hop fields are reset at the start of every hop (redirect or
/// retry), so they describe the last one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace {
    pub queue_end: Option<Instant>,
    pub dns_start: Option<Instant>,
    pub dns_end: Option<Instant>,
    pub connect_start: Option<Instant>,
    pub connect_end: Option<Instant>,
    pub tls_start: Option<Instant>,
    pub tls_end: Option<Instant>,
    pub request_start: Option<Instant>,
    pub response_start: Option<Instant>,
    pub response_end: Option<Instant>,
    pub peer: Option<SocketAddr>,
    pub reused: bool,
}

impl Trace {
    /// A new hop begins: forget the previous hop's connection facts.
    pub(crate) fn start_hop(&mut self) {
        *self = Trace {
            queue_end: self.queue_end,
            reused: true,
            ..Trace::default()
        };
    }
}

/// Where the time of a call went, and over which connection.
///
/// Times are milliseconds since the call was made (`invoke_start`), with
/// sub-millisecond precision; `None` when the phase did not happen (no
/// DNS, connect or TLS on a reused connection). Phases describe the last
/// hop of a redirected call.
///
/// ```
/// let p = wxnet::Profile::default();
/// assert_eq!(p.protocol, "http1.1");
/// assert!(p.domain_lookup_start.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Profile {
    /// Wall-clock time of the call.
    #[doc(alias = "invokeStart")]
    pub invoke_start: SystemTime,
    /// The call entered the queue.
    #[doc(alias = "queueStart")]
    pub queue_start: f64,
    /// A worker took the call.
    #[doc(alias = "queueEnd")]
    pub queue_end: Option<f64>,
    /// Number of redirects followed.
    pub redirect_count: u32,
    /// DNS lookup started.
    #[doc(alias = "domainLookUpStart")]
    pub domain_lookup_start: Option<f64>,
    /// DNS lookup ended.
    #[doc(alias = "domainLookUpEnd")]
    pub domain_lookup_end: Option<f64>,
    /// TCP connect started.
    #[doc(alias = "connectStart")]
    pub connect_start: Option<f64>,
    /// TCP connect ended.
    #[doc(alias = "connectEnd")]
    pub connect_end: Option<f64>,
    /// TLS handshake started.
    #[doc(alias = "SSLconnectionStart")]
    pub ssl_connection_start: Option<f64>,
    /// TLS handshake ended.
    #[doc(alias = "SSLconnectionEnd")]
    pub ssl_connection_end: Option<f64>,
    /// The first byte of the request was written.
    #[doc(alias = "requestStart")]
    pub request_start: Option<f64>,
    /// The first byte of the response arrived.
    #[doc(alias = "responseStart")]
    pub response_start: Option<f64>,
    /// The whole response was read.
    #[doc(alias = "responseEnd")]
    pub response_end: Option<f64>,
    /// Address of the server.
    #[doc(alias = "peerIP")]
    pub peer_ip: Option<IpAddr>,
    /// Port of the server.
    pub port: Option<u16>,
    /// Whether a pooled keep-alive connection was reused.
    #[doc(alias = "socketReused")]
    pub socket_reused: bool,
    /// Bytes written to the socket (TLS records included).
    #[doc(alias = "sendBytesCount")]
    pub send_bytes_count: u64,
    /// Bytes read from the socket (TLS records included).
    #[doc(alias = "receivedBytedCount")]
    pub received_bytes_count: u64,
    /// Always `"http1.1"`: HTTP/2 and QUIC are not offered.
    pub protocol: &'static str,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            invoke_start: SystemTime::UNIX_EPOCH,
            queue_start: 0.0,
            queue_end: None,
            redirect_count: 0,
            domain_lookup_start: None,
            domain_lookup_end: None,
            connect_start: None,
            connect_end: None,
            ssl_connection_start: None,
            ssl_connection_end: None,
            request_start: None,
            response_start: None,
            response_end: None,
            peer_ip: None,
            port: None,
            socket_reused: false,
            send_bytes_count: 0,
            received_bytes_count: 0,
            protocol: "http1.1",
        }
    }
}

impl Profile {
    pub(crate) fn from_ctl(ctl: &CallCtl, redirects: u32) -> Profile {
        let t = ctl.trace().clone();
        let ms = |i: Option<Instant>| {
            i.map(|i| i.saturating_duration_since(ctl.invoked).as_secs_f64() * 1e3)
        };
        Profile {
            invoke_start: ctl.invoked_wall,
            queue_start: 0.0,
            queue_end: ms(t.queue_end),
            redirect_count: redirects,
            domain_lookup_start: ms(t.dns_start),
            domain_lookup_end: ms(t.dns_end),
            connect_start: ms(t.connect_start),
            connect_end: ms(t.connect_end),
            ssl_connection_start: ms(t.tls_start),
            ssl_connection_end: ms(t.tls_end),
            request_start: ms(t.request_start),
            response_start: ms(t.response_start),
            response_end: ms(t.response_end),
            peer_ip: t.peer.map(|p| p.ip()),
            port: t.peer.map(|p| p.port()),
            socket_reused: t.reused,
            send_bytes_count: ctl.bytes_sent.load(Ordering::Relaxed),
            received_bytes_count: ctl.bytes_received.load(Ordering::Relaxed),
            protocol: "http1.1",
        }
    }
}
