//! The handshake: TCP, TLS and the WebSocket upgrade, within the call's
//! one deadline.

use std::net::TcpStream;
use std::sync::Arc;

use rustls::StreamOwned;
use tungstenite::ClientRequestBuilder;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;

use super::API;
use super::options::ConnectSocketOptions;
use super::shared::{Shared, TICK, Ws};
use super::stream::{GatedTcp, WsStream};
use crate::call::{CallCtl, CallSocket};
use crate::client::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::header::Header;
use crate::policy::Target;
use crate::proxy;
use crate::sync::lock;
use crate::transport::{self, is_timeout};

/// A blocked send gives up after this long (the peer stopped reading).
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Connect `target` and upgrade to a WebSocket: the socket and the
/// headers of the server's response.
pub(super) fn connect(
    s: &Shared,
    engine: &Engine,
    target: &Target,
    headers: &[(String, String)],
    options: &ConnectSocketOptions,
) -> Result<(Ws, Header)> {
    let ctl = &*s.ctl;
    let _current = crate::call::CurrentGuard::set(s.ctl.clone());
    let (sock, stream) = open_stream(s, engine, target, options)?;
    let request = upgrade_request(engine, target, headers, options)?;
    // tungstenite zeroes this much before every read, twice per message
    // (the read that finds it and the one that finds nothing more).
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(engine.max_message_size.max(64 * 1024) * 2)
        .max_message_size(Some(engine.max_message_size))
        .max_frame_size(Some(engine.max_message_size));
    let (mut ws, header) = upgrade(ctl, &sock.stream, request, stream, config)?;
    // From now on only the reader thread reads the socket.
    ws.get_mut().gated().gated = true;
    let _ = sock.stream.set_read_timeout(Some(TICK));
    let _ = sock.stream.set_write_timeout(Some(SEND_TIMEOUT));
    Ok((ws, header))
}

/// TCP, then TLS for `wss://`, under a stream only the reader reads once open.
fn open_stream(
    s: &Shared,
    engine: &Engine,
    target: &Target,
    options: &ConnectSocketOptions,
) -> Result<(Arc<CallSocket>, WsStream)> {
    let ctl = &*s.ctl;
    let map_err = |e: ureq::Error| crate::http::map_error(ctl, e);
    let deadline = ctl.deadline;
    let addr = transport::address_for(&engine.resolve, target.host(), target.port());
    let proxy = engine.proxy.as_deref();
    let tcp = proxy::connect(
        Some(ctl),
        proxy,
        &engine.lookup,
        target.host(),
        addr,
        deadline,
    )
    .map_err(map_err)?;
    let _ = tcp.set_nodelay(options.tcp_no_delay);
    ctl.trace().peer = tcp.peer_addr().ok();
    let sock = Arc::new(CallSocket::new(tcp));
    ctl.bind_socket(sock.clone());
    *lock(&s.socket) = Some(sock.clone());
    if let Some(kind) = ctl.cancelled() {
        return Err(ctl.error(kind));
    }
    proxy::open(
        Some(ctl),
        proxy,
        &sock.stream,
        target.host(),
        addr,
        deadline,
    )
    .map_err(map_err)?;
    let tls = if target.url.scheme() == "wss" {
        let tls = transport::handshake(
            Some(ctl),
            &engine.tls,
            target.host(),
            &sock.stream,
            deadline,
        )
        .map_err(map_err)?;
        Some(tls)
    } else {
        None
    };
    let io_err = |e: std::io::Error| Error::from_network_io(API, &e).source_from(e);
    let gated = GatedTcp::new(sock.stream.try_clone().map_err(io_err)?);
    // Plain ws:// is only reachable with skip_domain_check.
    let stream = match tls {
        Some(tls) => WsStream::Tls(Box::new(StreamOwned::new(tls, gated))),
        None => WsStream::Plain(gated),
    };
    Ok((sock, stream))
}

/// The upgrade request: the call's headers (a user agent unless given),
/// and the subprotocols offered.
fn upgrade_request(
    engine: &Engine,
    target: &Target,
    headers: &[(String, String)],
    options: &ConnectSocketOptions,
) -> Result<ClientRequestBuilder> {
    let uri: tungstenite::http::Uri = target
        .url
        .as_str()
        .parse()
        .map_err(|_| Error::invalid_url(API, target.url.as_str()))?;
    let mut request = ClientRequestBuilder::new(uri);
    let mut has_ua = false;
    for (k, v) in headers {
        has_ua |= k.eq_ignore_ascii_case("user-agent");
        request = request.with_header(k.clone(), v.clone());
    }
    if !has_ua {
        request = request.with_header("user-agent", engine.user_agent.clone());
    }
    for p in &options.protocols {
        request = request.with_sub_protocol(p.clone());
    }
    Ok(request)
}

/// Drive the upgrade until it completes, fails, is cancelled or runs out
/// of time.
fn upgrade(
    ctl: &CallCtl,
    tcp: &TcpStream,
    request: ClientRequestBuilder,
    stream: WsStream,
    config: WebSocketConfig,
) -> Result<(Ws, Header)> {
    let set_timeouts = || {
        let left = ctl.remaining();
        let left = (!left.is_zero()).then_some(left);
        let _ = tcp.set_read_timeout(left);
        let _ = tcp.set_write_timeout(left);
        left.is_some()
    };
    if !set_timeouts() {
        return Err(ctl.error(ErrorKind::Timeout));
    }
    let mut hs = tungstenite::client::client_with_config(request, stream, Some(config));
    loop {
        match hs {
            Ok((ws, response)) => return Ok((ws, Header::from_http(response.headers()).0)),
            Err(HandshakeError::Interrupted(mid)) => {
                if let Some(kind) = ctl.cancelled() {
                    return Err(ctl.error(kind));
                }
                if !set_timeouts() {
                    return Err(ctl.error(ErrorKind::Timeout));
                }
                hs = mid.handshake();
            }
            Err(HandshakeError::Failure(e)) => {
                if let Some(kind) = ctl.cancelled() {
                    return Err(ctl.error(kind));
                }
                return Err(failed(ctl, e));
            }
        }
    }
}

/// The error for an upgrade the server or the connection refused: a
/// server that answers anything but a valid upgrade gives an invalid
/// response; a connection that fails under the handshake says how.
fn failed(ctl: &CallCtl, e: tungstenite::Error) -> Error {
    match e {
        tungstenite::Error::Http(r) => Error::with_reason(
            API,
            ErrorKind::InvalidResponse,
            &format!("websocket handshake failed: status {}", r.status().as_u16()),
        ),
        tungstenite::Error::Io(io) if is_timeout(&io) => {
            ctl.error(ErrorKind::Timeout).source_from(io)
        }
        tungstenite::Error::Io(io) => Error::from_network_io(API, &io).source_from(io),
        other => Error::with_reason(
            API,
            ErrorKind::InvalidResponse,
            "websocket handshake failed",
        )
        .source_from(other),
    }
}
