//! Tests of the test harness itself (tests/common), driven by a bare
//! rustls client so a failure here points at the harness, not at wxnet.

mod common;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{
    Conn, HttpServer, Program, RawServer, Request, TestPki, eventually, require, watchdog,
};
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig, ClientConnection, StreamOwned};

const HOST: &str = "api.example.com";
const LIMIT: Duration = Duration::from_secs(2);

type Client = BufReader<StreamOwned<ClientConnection, TcpStream>>;

/// TCP to `addr`, TLS for `HOST`, handshake done (or its error).
fn connect(config: &Arc<ClientConfig>, addr: SocketAddr) -> io::Result<Client> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(LIMIT))?;
    let name = ServerName::try_from(HOST).unwrap();
    let conn = ClientConnection::new(config.clone(), name).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(BufReader::new(tls))
}

fn send(c: &mut Client, bytes: &[u8]) {
    c.get_mut().write_all(bytes).unwrap();
    c.get_mut().flush().unwrap();
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One Content-Length-framed response (the body is skipped for HEAD).
fn read_response(c: &mut Client, head_request: bool) -> Response {
    let mut line = String::new();
    c.read_line(&mut line).unwrap();
    // Strict, so stray body bytes left over from the previous response
    // show up here.
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .unwrap_or_else(|| panic!("bad status line {line:?}"))[..3]
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        c.read_line(&mut l).unwrap();
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut r = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if !head_request && let Some(n) = r.header("content-length") {
        r.body = vec![0; n.parse().unwrap()];
        c.read_exact(&mut r.body).unwrap();
    }
    r
}

fn echo_path(r: &Request, c: &mut Conn) {
    c.respond(
        200,
        &[("X-Conn", &c.connection_id().to_string())],
        r.path.as_bytes(),
    );
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let server = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), echo_path);
        let mut c = connect(&pki.client_config(), server.addr()).unwrap();
        send(
            &mut c,
            b"GET /one?q=1 HTTP/1.1\r\nHost: api.example.com\r\nX-Twice: a\r\nx-twice: b\r\n\r\n",
        );
        let first = read_response(&mut c, false);
        send(
            &mut c,
            b"GET /two HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
        );
        let second = read_response(&mut c, false);

        assert_eq!(
            (first.status, first.body.as_slice()),
            (200, &b"/one?q=1"[..])
        );
        assert_eq!(second.body, b"/two");
        assert_eq!(first.header("x-conn"), Some("0"));
        assert_eq!(second.header("x-conn"), Some("0"));
        assert_eq!(server.requests(), 2);
        assert_eq!(server.connections_accepted(), 1);
        assert_eq!(server.tls_handshakes(), 1);
        assert_eq!(server.current_connections(), 1);
        let log = server.requests_log();
        assert_eq!(log.len(), 2);
        assert_eq!(
            (log[0].method.as_str(), log[0].path.as_str()),
            ("GET", "/one?q=1")
        );
        assert_eq!(log[0].header("HOST"), Some(HOST));
        assert_eq!(log[0].header("x-twice"), Some("a"));
        assert_eq!(log[0].headers_all("X-TWICE"), ["a", "b"]);
        assert_eq!(log[1].path, "/two");

        drop(c);
        assert!(eventually(LIMIT, || server.current_connections() == 0));
    });
}

#[test]
fn chunked_and_sized_bodies_are_parsed() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let server = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), |r, c| {
            c.respond(200, &[], r.body.len().to_string().as_bytes())
        });
        let mut c = connect(&pki.client_config(), server.addr()).unwrap();
        // A chunk extension, a multi-digit hex size and a trailer.
        let mut post = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;ext=1\r\nhello\r\n"
            .to_vec();
        post.extend_from_slice(format!("{:x}\r\n", 300).as_bytes());
        post.extend_from_slice(&[b'z'; 300]);
        post.extend_from_slice(b"\r\n0\r\nX-Trailer: t\r\n\r\n");
        send(&mut c, &post);
        let chunked = read_response(&mut c, false);
        send(
            &mut c,
            b"PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\x00\x9f\xff!",
        );
        let sized = read_response(&mut c, false);

        assert_eq!(chunked.body, b"305");
        assert_eq!(sized.body, b"4");
        let log = server.requests_log();
        let mut want = b"hello".to_vec();
        want.extend_from_slice(&[b'z'; 300]);
        assert_eq!(log[0].method, "POST");
        assert_eq!(log[0].body, want);
        assert_eq!(log[1].body, b"\x00\x9f\xff!");
        assert_eq!(server.requests(), 2);
    });
}

#[test]
fn max_concurrent_requests_counts_handlers_running_together() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        // Each handler returns only once all three are inside: if the
        // server ran them one at a time this would hang (and the watchdog
        // would say so).
        let inside = Arc::new(Barrier::new(3));
        let server = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), move |_, c| {
            inside.wait();
            c.respond(200, &[], b"ok");
        });
        let config = pki.client_config();
        let clients: Vec<_> = (0..3)
            .map(|i| {
                let (config, addr) = (config.clone(), server.addr());
                std::thread::spawn(move || {
                    let mut c = connect(&config, addr).unwrap();
                    send(
                        &mut c,
                        format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
                    );
                    read_response(&mut c, false).body
                })
            })
            .collect();
        for t in clients {
            assert_eq!(t.join().unwrap(), b"ok");
        }
        assert_eq!(server.max_concurrent_requests(), 3);
        assert_eq!(server.requests(), 3);
        assert_eq!(server.connections_accepted(), 3);

        // Sequential calls afterwards do not raise the figure.
        let solo = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), echo_path);
        let mut c = connect(&config, solo.addr()).unwrap();
        for _ in 0..3 {
            send(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            read_response(&mut c, false);
        }
        assert_eq!(solo.max_concurrent_requests(), 1);
    });
}

/// The client's handshake error, as rustls reports it.
fn handshake_error(config: &Arc<ClientConfig>, addr: SocketAddr) -> rustls::Error {
    let Err(e) = connect(config, addr) else {
        panic!("handshake succeeded")
    };
    e.into_inner()
        .expect("an error from rustls")
        .downcast::<rustls::Error>()
        .map(|b| *b)
        .expect("a rustls::Error")
}

#[test]
fn bad_identities_fail_the_client_handshake_with_certificate_errors() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let config = pki.client_config();

        let expired =
            HttpServer::start(pki.server_config(&pki.expired_identity(&[HOST])), echo_path);
        let e = handshake_error(&config, expired.addr());
        // rustls 0.23 reports the context variant, and `Expired` does not
        // compare equal to it.
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { .. })
            ),
            "{e:?}"
        );
        assert!(eventually(LIMIT, || expired.tls_failures() == 1));
        assert_eq!(expired.tls_handshakes(), 0);
        assert_eq!(expired.requests(), 0);
        assert_eq!(expired.connections_accepted(), 1);

        let cases = [
            (pki.not_yet_valid_identity(&[HOST]), "NotValidYetContext"),
            (pki.self_signed_identity(&[HOST]), "UnknownIssuer"),
            (pki.foreign_ca_identity(&[HOST]), "UnknownIssuer"),
            (
                pki.identity(&["other.example.com"]),
                "NotValidForNameContext",
            ),
        ];
        for (id, want) in cases {
            let server = HttpServer::start(pki.server_config(&id), echo_path);
            let e = handshake_error(&config, server.addr());
            assert!(
                matches!(e, rustls::Error::InvalidCertificate(_)),
                "{want}: {e:?}"
            );
            assert!(format!("{e:?}").contains(want), "{want}: {e:?}");
            assert!(eventually(LIMIT, || server.tls_failures() == 1), "{want}");
        }

        // The good identity, and the server still serves after failures.
        let good = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), echo_path);
        assert!(connect(&config, good.addr()).is_ok());
        assert!(connect(&config, expired.addr()).is_err());
        assert!(eventually(LIMIT, || expired.tls_failures() == 2));
    });
}

#[test]
fn blackhole_makes_connect_time_out() {
    watchdog(LIMIT, || {
        let hole = common::blackhole();
        let start = Instant::now();
        let e = TcpStream::connect_timeout(&hole.addr, Duration::from_millis(300)).unwrap_err();
        let took = start.elapsed();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
        assert!(took >= Duration::from_millis(290), "{took:?}");
    });
}

#[test]
fn head_and_204_responses_carry_no_body_so_keep_alive_survives() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let server = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), |r, c| {
            let status = if r.path == "/204" { 204 } else { 200 };
            c.respond(status, &[], b"body")
        });
        let mut c = connect(&pki.client_config(), server.addr()).unwrap();
        send(&mut c, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
        let head = read_response(&mut c, true);
        send(&mut c, b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n");
        let empty = read_response(&mut c, false);
        send(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let get = read_response(&mut c, false);

        assert_eq!(head.header("content-length"), Some("4"));
        assert_eq!((empty.status, empty.header("content-length")), (204, None));
        assert_eq!((get.status, get.body.as_slice()), (200, &b"body"[..]));
        assert_eq!(server.connections_accepted(), 1);
    });
}

#[test]
fn close_reset_and_reset_hard_end_the_connection_as_documented() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let server = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), |r, c| {
            match r.path.as_str() {
                "/close" => {
                    let _ = c.write_raw(b"HTTP/1.1 200 OK\r\n\r\nuntil the end");
                    c.close();
                }
                "/reset" => {
                    let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhalf");
                    let _ = c.flush();
                    c.reset();
                }
                _ => c.reset_hard(),
            }
        });
        let config = pki.client_config();
        let get = |path: &str| {
            let mut c = connect(&config, server.addr()).unwrap();
            send(
                &mut c,
                format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
            );
            let mut got = Vec::new();
            let end = c.read_to_end(&mut got);
            (String::from_utf8_lossy(&got).into_owned(), end)
        };

        // close(): a close_notify, so a close-delimited body ends cleanly.
        let (got, end) = get("/close");
        assert!(got.ends_with("until the end"), "{got}");
        assert!(end.is_ok(), "{end:?}");

        // reset(): what was written arrives, then a bare EOF.
        let (got, end) = get("/reset");
        assert!(got.ends_with("half"), "{got}");
        assert_eq!(end.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);

        // reset_hard(): an RST.
        let (got, end) = get("/rst");
        assert_eq!(got, "");
        assert_eq!(end.unwrap_err().kind(), io::ErrorKind::ConnectionReset);

        assert_eq!(server.requests(), 3);
        assert!(eventually(LIMIT, || server.current_connections() == 0));
    });
}

#[test]
fn peer_closed_wait_sees_the_client_leave_and_keep_alive_resumes_after_a_timeout() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let server = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), move |r, c| {
            if r.path == "/hold" {
                let start = Instant::now();
                let closed = c.peer_closed_wait(Duration::from_millis(1500));
                tx.lock().unwrap().send((closed, start.elapsed())).unwrap();
            } else if r.path == "/brief" {
                let closed = c.peer_closed_wait(Duration::from_millis(100));
                c.respond(200, &[], format!("{closed}").as_bytes());
            } else {
                c.respond(200, &[], b"still here");
            }
        });
        let config = pki.client_config();

        let mut c = connect(&config, server.addr()).unwrap();
        send(&mut c, b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
        server.wait_for_requests(1, LIMIT);
        drop(c);
        let (closed, took) = rx.recv_timeout(LIMIT).unwrap();
        assert!(closed);
        assert!(took < Duration::from_millis(1000), "{took:?}");

        // Not closed within the time given; the connection is still good
        // and keeps its idle timeout (a following request is served).
        let mut c = connect(&config, server.addr()).unwrap();
        send(&mut c, b"GET /brief HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(read_response(&mut c, false).body, b"false");
        std::thread::sleep(Duration::from_millis(300));
        send(&mut c, b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(read_response(&mut c, false).body, b"still here");
    });
}

#[test]
fn client_leaving_mid_request_or_mid_handshake_harms_nothing() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let server = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), echo_path);
        let config = pki.client_config();
        // Half a head, half a body, and a TCP connection that never
        // speaks TLS.
        let mut c = connect(&config, server.addr()).unwrap();
        send(&mut c, b"GET /x HTTP/1.1\r\nHo");
        drop(c);
        let mut c = connect(&config, server.addr()).unwrap();
        send(&mut c, b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
        drop(c);
        drop(TcpStream::connect(server.addr()).unwrap());

        assert!(eventually(LIMIT, || {
            server.connections_accepted() == 3 && server.current_connections() == 0
        }));
        assert_eq!(server.requests(), 0);
        assert_eq!(server.tls_handshakes(), 2);
        assert_eq!(server.tls_failures(), 1);
        let mut c = connect(&config, server.addr()).unwrap();
        send(&mut c, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(read_response(&mut c, false).body, b"/ok");
    });
}

#[test]
fn dropping_the_server_stops_accepting() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let server = HttpServer::start(pki.server_config(&pki.identity(&[HOST])), echo_path);
        let addr = server.addr();
        assert_eq!(server.port(), addr.port());
        drop(server);
        assert!(eventually(LIMIT, || TcpStream::connect(addr).is_err()));
    });
}

#[test]
fn raw_server_hands_over_the_plain_socket() {
    watchdog(LIMIT, || {
        let raw = RawServer::start(|mut s| {
            let _ = s.write_all(b"not tls");
        });
        let mut s = TcpStream::connect(raw.addr()).unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        assert_eq!(got, "not tls");
        assert_eq!(raw.connections_accepted(), 1);
    });
}

#[test]
fn pki_hands_out_pem_and_der_of_the_same_ca() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let pem = String::from_utf8(pki.ca_pem()).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        let id = pki.identity(&[HOST, "other.example.com"]);
        assert_eq!(id.chain.len(), 1);
        assert_ne!(id.chain[0].as_ref(), pki.ca_der().as_slice());
    });
}

#[test]
#[should_panic(expected = "still running after")]
fn watchdog_fails_a_test_that_overruns() {
    watchdog(Duration::from_millis(50), || {
        std::thread::sleep(Duration::from_millis(500))
    });
}

#[test]
#[should_panic(expected = "the inner panic")]
fn watchdog_passes_on_the_inner_panic() {
    watchdog(LIMIT, || panic!("the inner panic"));
}

/// `openssl s_server` with a leaf of `pki` for `HOST`, answering every
/// request with its status page (`-www`), on ports taken from `ports`.
fn s_server(pki: &TestPki, ports: impl FnMut() -> u16) -> Program {
    let id = pki.identity(&[HOST]);
    Program::start_on("openssl", "openssl", ports, |port, dir| {
        let (cert, key) = pki.write_pem(&id, dir, "leaf");
        let accept = format!("127.0.0.1:{port}");
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        [
            "s_server", "-accept", &accept, "-cert", &cert, "-key", &key, "-www",
        ]
        .map(String::from)
        .to_vec()
    })
}

/// What a GET on `addr` returns, up to the end of the connection.
fn status_page(pki: &TestPki, addr: SocketAddr) -> String {
    let mut c = connect(&pki.client_config(), addr).unwrap();
    send(&mut c, b"GET / HTTP/1.0\r\n\r\n");
    let mut page = Vec::new();
    // Whether it ends with close_notify or a bare FIN is s_server's
    // business: the bytes read before either stay in `page`.
    let _ = c.read_to_end(&mut page);
    String::from_utf8_lossy(&page).into_owned()
}

#[test]
fn program_serves_its_port_and_is_killed_and_reaped_on_drop() {
    watchdog(Duration::from_secs(8), || {
        let pki = TestPki::new();
        let server = s_server(&pki, common::process::free_port);
        assert_eq!(server.attempts(), 1);
        assert!(server.dir().join("leaf.crt").is_file());
        let page = status_page(&pki, server.addr());
        assert!(page.starts_with("HTTP/1.0 200 ok\r\n"), "{page}");
        assert!(page.contains("s_server"), "{page}");

        let (pid, addr) = (server.pid(), server.addr());
        let dir = server.dir().to_path_buf();
        drop(server);
        // Reaped: not even a zombie is left.
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
        assert!(TcpStream::connect(addr).is_err());
        assert!(!dir.exists());
    });
}

#[test]
fn program_moves_to_another_port_when_its_port_is_taken() {
    watchdog(Duration::from_secs(8), || {
        let pki = TestPki::new();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let mut ports = vec![common::process::free_port(), taken_port];
        let server = s_server(&pki, || ports.pop().unwrap());
        assert_eq!(server.attempts(), 2);
        assert_ne!(server.port(), taken_port);
        assert!(status_page(&pki, server.addr()).starts_with("HTTP/1.0 200 ok\r\n"));
    });
}

#[test]
#[should_panic(expected = "needs the Debian package `wxnet-made-up-package`")]
fn a_missing_program_fails_the_test_naming_its_package() {
    require("wxnet-no-such-program", "wxnet-made-up-package");
}

#[test]
#[should_panic(expected = "Unknown option")]
fn a_program_that_exits_before_listening_fails_with_its_output() {
    watchdog(Duration::from_secs(8), || {
        Program::start("openssl", "openssl", |_, _| {
            vec!["s_server".into(), "-no-such-option".into()]
        })
    });
}
