//! `ClientBuilder::proxy`: the four APIs through a real HTTP proxy
//! (Debian's tinyproxy, started with its own configuration), and through
//! small in-process CONNECT and SOCKS5 proxies for the faults a real one
//! will not produce on demand.

mod common;

use std::collections::HashMap;
use std::error::Error as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Conn, HttpServer, Program, RawServer, Request, TestPki, WsServer, watchdog};
use wxnet::{
    Client, ClientBuilder, ConnectSocketOptions, DownloadFileOptions, ErrorKind, RequestOptions,
    SocketMessage, UploadFileOptions,
};

const API: &str = "https://api.example.com";
const WS: &str = "wss://ws.example.com";
const SECS: Duration = Duration::from_secs(5);
const PASSWORD: &str = "s3cret-pw";

/// tinyproxy, with Basic authentication `user`:[`PASSWORD`] when `auth`.
fn tinyproxy(auth: bool) -> Program {
    common::tinyproxy(auth.then_some(("user", PASSWORD)))
}

/// The test servers: HTTPS for api/up/dl, a WebSocket echo for ws.
struct Servers {
    pki: TestPki,
    http: HttpServer,
    ws: WsServer,
}

fn servers() -> Servers {
    let pki = TestPki::new();
    let names = ["api.example.com", "up.example.com", "dl.example.com"];
    let http = HttpServer::start(pki.server_config(&pki.identity(&names)), handler);
    let ws = WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
    Servers { pki, http, ws }
}

fn handler(req: &Request, c: &mut Conn) {
    match req.path.as_str() {
        "/file" => c.respond(200, &[], &common::pattern(300_000)),
        "/upload" => {
            let sha = common::sha256_hex(&req.body);
            c.respond(200, &[], sha.as_bytes())
        }
        _ => c.respond(200, &[("Content-Type", "text/plain")], b"hello via proxy"),
    }
}

impl Servers {
    /// A client allowed on every test origin, the names mapped to the
    /// loopback servers when `mapped`.
    fn builder(&self, mapped: bool) -> ClientBuilder {
        let mut b = Client::builder()
            .app_id("wxtest")
            .add_root_certificate(self.pki.ca_pem())
            .unwrap()
            .request_domains([API])
            .upload_domains(["https://up.example.com"])
            .download_domains(["https://dl.example.com"])
            .socket_domains([WS]);
        if mapped {
            for host in ["api.example.com", "up.example.com", "dl.example.com"] {
                b = b.resolve(host, self.http.addr());
            }
            b = b.resolve("ws.example.com", self.ws.addr());
        }
        b
    }

    /// Where a name-asking proxy should connect each test name.
    fn names(&self) -> HashMap<String, SocketAddr> {
        let mut m = HashMap::new();
        for host in ["api.example.com", "up.example.com", "dl.example.com"] {
            m.insert(host.to_owned(), self.http.addr());
        }
        m.insert("ws.example.com".to_owned(), self.ws.addr());
        m
    }
}

fn get(client: &Client) -> wxnet::Result<wxnet::RequestSuccess> {
    client
        .request(RequestOptions::new(format!("{API}/hello")))
        .wait()
}

/// Request, download, upload and a WebSocket echo, each checked by its
/// bytes; the profile names the proxy as the peer.
fn all_four_apis(client: &Client, proxy: SocketAddr) {
    let res = get(client).unwrap();
    assert_eq!(res.data.as_text(), Some("hello via proxy"));
    assert_eq!(res.profile.peer_ip, Some(proxy.ip()));
    assert_eq!(res.profile.port, Some(proxy.port()));
    assert!(get(client).unwrap().profile.socket_reused);

    let dir = common::TempDir::new("proxy-files");
    let target = dir.path().join("file.bin");
    let url = "https://dl.example.com/file";
    let res = client
        .download_file(DownloadFileOptions::new(url).file_path(&target))
        .wait()
        .unwrap();
    assert_eq!(res.status_code, 200);
    let want = common::sha256_hex(&common::pattern(300_000));
    assert_eq!(common::sha256_hex(&std::fs::read(&target).unwrap()), want);

    let url = "https://up.example.com/upload";
    let res = client
        .upload_file(UploadFileOptions::new(url, &target, "file"))
        .wait()
        .unwrap();
    assert_eq!(res.status_code, 200);
    assert_eq!(res.data.len(), 64, "a sha256 of the multipart body");

    let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/echo")));
    let open = task.wait_open(SECS).unwrap();
    assert_eq!(open.profile.peer_ip, Some(proxy.ip()));
    assert_eq!(open.profile.port, Some(proxy.port()));
    task.send(SocketMessage::Text("through the tunnel".into()))
        .unwrap();
    assert_eq!(
        task.recv(SECS).unwrap(),
        Some(SocketMessage::Text("through the tunnel".into()))
    );
    task.close(1000, "bye").unwrap();
}

#[test]
fn all_four_apis_go_through_tinyproxy_asking_for_the_mapped_address() {
    watchdog(Duration::from_secs(10), || {
        let s = servers();
        let tp = tinyproxy(false);
        let client = s
            .builder(true)
            .proxy(&format!("http://{}", tp.addr()))
            .build()
            .unwrap();
        all_four_apis(&client, tp.addr());
        // The proxy was asked for the mapped addresses, never the names.
        let log = tp.output();
        let http = format!("CONNECT {} HTTP/1.1", s.http.addr());
        let ws = format!("CONNECT {} HTTP/1.1", s.ws.addr());
        assert!(log.contains(&http) && log.contains(&ws), "{log}");
        assert!(!log.contains("example.com"), "{log}");
    });
}

#[test]
fn tinyproxy_with_basic_auth_takes_the_credentials_and_refuses_wrong_ones() {
    watchdog(Duration::from_secs(10), || {
        let s = servers();
        let tp = tinyproxy(true);
        let at = tp.addr();
        let with = |creds: &str| {
            let url = format!("http://{creds}{at}");
            s.builder(true).proxy(&url).build().unwrap()
        };
        all_four_apis(&with(&format!("user:{PASSWORD}@")), at);

        let wrong = with("user:wrong-pw@");
        let e = get(&wrong).unwrap_err();
        assert_eq!(
            (e.kind(), e.errno()),
            (ErrorKind::ConnectionRefused, 600001)
        );
        // tinyproxy answers a CONNECT it will not authorise with 401.
        let reason = format!("proxy {at} refused the credentials: status 401");
        assert_eq!(e.err_msg(), format!("request:fail {reason}"));
        assert_no_secret(&format!("{e:?} {wrong:?}"), "wrong-pw");

        let none = with("");
        let e = get(&none).unwrap_err();
        // ... and one without credentials with 407.
        let reason = format!("proxy {at} refused the tunnel: status 407");
        assert_eq!(e.err_msg(), format!("request:fail {reason}"));
        let task = none.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
        let e = task.wait_open(SECS).unwrap_err();
        assert_eq!(e.reason(), reason);
    });
}

fn assert_no_secret(text: &str, secret: &str) {
    assert!(!text.contains(secret), "credentials leaked: {text}");
}

/// What an in-process proxy does with each connection.
#[derive(Clone)]
enum Behaviour {
    /// Open the tunnel (with these credentials required, if any).
    Tunnel(Option<(&'static str, &'static str)>),
    /// Answer `CONNECT` with this status.
    Refuse(u16),
    /// Read the request, then close without answering.
    CloseEarly,
    /// Read the request, then say nothing.
    Silent,
}

/// An in-process proxy (CONNECT or SOCKS5), logging what it was asked
/// for: `name:port`, or `ip:port` for an address.
struct FakeProxy {
    server: RawServer,
    asked: Arc<Mutex<Vec<String>>>,
}

impl FakeProxy {
    fn start(socks: bool, how: Behaviour, names: HashMap<String, SocketAddr>) -> FakeProxy {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let server = RawServer::start(move |tcp| {
            let _ = tcp.set_read_timeout(Some(SECS));
            let serve = if socks { socks5 } else { http_connect };
            let _ = serve(tcp, &how, &names, &log);
        });
        FakeProxy { server, asked }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// Connect where `target` (`host:port`) points: a name through `names`
/// (its port replaced), an address as it is.
fn dial(target: &str, names: &HashMap<String, SocketAddr>) -> io::Result<TcpStream> {
    let (host, _) = target.rsplit_once(':').unwrap();
    match names.get(host) {
        Some(addr) => TcpStream::connect(addr),
        None => TcpStream::connect(target),
    }
}

/// Copy both ways until either side ends.
fn splice(a: TcpStream, b: TcpStream) {
    let _ = a.set_read_timeout(None);
    // Small TLS records must not wait for delayed ACKs.
    let _ = (a.set_nodelay(true), b.set_nodelay(true));
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let up = thread::spawn(move || {
        let _ = io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(Shutdown::Write);
    });
    let (mut a, mut b) = (a, b);
    let _ = io::copy(&mut b, &mut a);
    let _ = a.shutdown(Shutdown::Write);
    let _ = up.join();
}

fn http_connect(
    tcp: TcpStream,
    how: &Behaviour,
    names: &HashMap<String, SocketAddr>,
    log: &Mutex<Vec<String>>,
) -> io::Result<()> {
    let mut reader = BufReader::new(tcp.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.strip_prefix("Proxy-Authorization: Basic ") {
            auth = Some(v.trim().to_owned());
        }
    }
    log.lock().unwrap().push(target.clone());
    let mut tcp = tcp;
    match how {
        Behaviour::Refuse(code) => {
            write!(tcp, "HTTP/1.1 {code} No\r\nContent-Length: 0\r\n\r\n")
        }
        Behaviour::CloseEarly => Ok(()),
        Behaviour::Silent => {
            let _ = reader.read(&mut [0u8; 1]);
            Ok(())
        }
        Behaviour::Tunnel(creds) => {
            if creds.is_some() && auth.is_none() {
                return write!(tcp, "HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n");
            }
            let upstream = dial(&target, names)?;
            tcp.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
            splice(tcp, upstream);
            Ok(())
        }
    }
}

fn socks5(
    mut tcp: TcpStream,
    how: &Behaviour,
    names: &HashMap<String, SocketAddr>,
    log: &Mutex<Vec<String>>,
) -> io::Result<()> {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    tcp.read_exact(&mut methods)?;
    if matches!(how, Behaviour::CloseEarly) {
        return Ok(());
    }
    if matches!(how, Behaviour::Silent) {
        let _ = tcp.read(&mut [0u8; 1]);
        return Ok(());
    }
    let creds = match how {
        Behaviour::Tunnel(c) => *c,
        _ => None,
    };
    match creds {
        None => tcp.write_all(&[5, 0])?,
        Some(_) if !methods.contains(&2) => return tcp.write_all(&[5, 0xff]),
        Some((user, pass)) => {
            tcp.write_all(&[5, 2])?;
            let mut ver_len = [0u8; 2];
            tcp.read_exact(&mut ver_len)?;
            let mut u = vec![0u8; usize::from(ver_len[1])];
            tcp.read_exact(&mut u)?;
            let mut plen = [0u8; 1];
            tcp.read_exact(&mut plen)?;
            let mut p = vec![0u8; usize::from(plen[0])];
            tcp.read_exact(&mut p)?;
            let ok = u == user.as_bytes() && p == pass.as_bytes();
            tcp.write_all(&[1, if ok { 0 } else { 1 }])?;
            if !ok {
                return Ok(());
            }
        }
    }
    let mut req = [0u8; 4];
    tcp.read_exact(&mut req)?;
    let host = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            tcp.read_exact(&mut ip)?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            tcp.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            tcp.read_exact(&mut name)?;
            format!("name {}", String::from_utf8(name).unwrap())
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    tcp.read_exact(&mut port)?;
    let port = u16::from_be_bytes(port);
    log.lock().unwrap().push(format!("{host}:{port}"));
    if let Behaviour::Refuse(code) = how {
        return tcp.write_all(&[5, *code as u8, 0, 1, 0, 0, 0, 0, 0, 0]);
    }
    let target = format!("{}:{port}", host.trim_start_matches("name "));
    let upstream = dial(&target, names)?;
    // A domain-type bound address, to exercise that reply form.
    tcp.write_all(&[5, 0, 0, 3, 4, b'b', b'n', b'd', b'x', 0, 80])?;
    splice(tcp, upstream);
    Ok(())
}

#[test]
fn socks5_asks_for_the_name_without_a_resolve_entry_and_the_address_with_one() {
    watchdog(Duration::from_secs(10), || {
        let s = servers();
        let proxy = FakeProxy::start(true, Behaviour::Tunnel(None), s.names());
        let url = format!("socks5://{}", proxy.addr());
        let by_name = s.builder(false).proxy(&url).build().unwrap();
        all_four_apis(&by_name, proxy.addr());
        let asked = proxy.asked();
        assert_eq!(asked[0], "name api.example.com:443");
        assert!(
            asked.contains(&"name ws.example.com:443".to_owned()),
            "{asked:?}"
        );

        let mapped = s.builder(true).proxy(&url).build().unwrap();
        assert_eq!(
            get(&mapped).unwrap().data.as_text(),
            Some("hello via proxy")
        );
        assert_eq!(proxy.asked().last().unwrap(), &s.http.addr().to_string());
    });
}

#[test]
fn socks5_with_user_and_password() {
    watchdog(Duration::from_secs(10), || {
        let s = servers();
        let creds = Some(("user", PASSWORD));
        let proxy = FakeProxy::start(true, Behaviour::Tunnel(creds), s.names());
        let at = proxy.addr();
        let url = format!("socks5://user:{PASSWORD}@{at}");
        let client = s.builder(true).proxy(&url).build().unwrap();
        all_four_apis(&client, at);

        let wrong = s
            .builder(true)
            .proxy(&format!("socks5://user:wrong-pw@{at}"));
        let wrong = wrong.build().unwrap();
        let e = get(&wrong).unwrap_err();
        assert_eq!(
            (e.kind(), e.errno()),
            (ErrorKind::ConnectionRefused, 600001)
        );
        assert_eq!(
            e.err_msg(),
            format!("request:fail proxy {at} refused the credentials")
        );
        assert_no_secret(&format!("{e:?} {wrong:?} {:?}", e.source()), "wrong-pw");

        let none = s
            .builder(true)
            .proxy(&format!("socks5://{at}"))
            .build()
            .unwrap();
        let e = get(&none).unwrap_err();
        let reason = "refused the tunnel: no acceptable authentication method";
        assert_eq!(e.err_msg(), format!("request:fail proxy {at} {reason}"));
    });
}

/// The error of one request through an in-process proxy behaving `how`.
fn fault(socks: bool, how: Behaviour) -> (wxnet::Error, SocketAddr) {
    let s = servers();
    let proxy = FakeProxy::start(socks, how, s.names());
    let scheme = if socks { "socks5" } else { "http" };
    let url = format!("{scheme}://user:{PASSWORD}@{}", proxy.addr());
    let client = s.builder(true).proxy(&url).build().unwrap();
    let e = get(&client).unwrap_err();
    assert_no_secret(&format!("{e:?} {client:?} {:?}", e.source()), PASSWORD);
    assert_eq!(
        proxy.asked().len(),
        usize::from(!socks || e.kind() != ErrorKind::ConnectionReset)
    );
    (e, proxy.addr())
}

#[test]
fn a_refused_connect_fails_with_the_status_and_the_proxy_address() {
    watchdog(Duration::from_secs(10), || {
        for code in [403, 407] {
            let (e, at) = fault(false, Behaviour::Refuse(code));
            assert_eq!(
                (e.kind(), e.errno()),
                (ErrorKind::ConnectionRefused, 600001)
            );
            let what = if code == 407 { "credentials" } else { "tunnel" };
            assert_eq!(
                e.err_msg(),
                format!("request:fail proxy {at} refused the {what}: status {code}")
            );
        }
        let (e, at) = fault(true, Behaviour::Refuse(5));
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        let reason = "refused the tunnel: socks5 reply 5 (connection refused)";
        assert_eq!(e.err_msg(), format!("request:fail proxy {at} {reason}"));
    });
}

#[test]
fn a_tunnel_closed_early_fails_naming_the_proxy() {
    watchdog(Duration::from_secs(10), || {
        for socks in [false, true] {
            let (e, at) = fault(socks, Behaviour::CloseEarly);
            assert_eq!((e.kind(), e.errno()), (ErrorKind::ConnectionReset, 600001));
            assert_eq!(
                e.err_msg(),
                format!("request:fail proxy {at} closed the tunnel")
            );
        }
    });
}

#[test]
fn the_deadline_bounds_a_silent_proxy() {
    watchdog(Duration::from_secs(10), || {
        for socks in [false, true] {
            let s = servers();
            let proxy = FakeProxy::start(socks, Behaviour::Silent, HashMap::new());
            let scheme = if socks { "socks5" } else { "http" };
            let url = format!("{scheme}://{}", proxy.addr());
            let client = s.builder(true).proxy(&url).build().unwrap();
            let started = Instant::now();
            let e = client
                .request(RequestOptions::new(format!("{API}/")).timeout(Duration::from_millis(300)))
                .wait()
                .unwrap_err();
            assert_eq!(
                (e.kind(), e.err_msg()),
                (ErrorKind::Timeout, "request:fail timeout")
            );
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{:?}",
                started.elapsed()
            );
        }
    });
}

#[test]
fn a_dead_proxy_fails_every_api_naming_it() {
    watchdog(Duration::from_secs(10), || {
        let s = servers();
        let at = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        for scheme in ["http", "socks5"] {
            let url = format!("{scheme}://user:{PASSWORD}@{at}");
            let client = s.builder(true).proxy(&url).build().unwrap();
            let e = get(&client).unwrap_err();
            assert_eq!(
                (e.kind(), e.errno()),
                (ErrorKind::ConnectionRefused, 600001)
            );
            let reason = format!("proxy {at}: connection refused");
            assert_eq!(e.err_msg(), format!("request:fail {reason}"));
            assert_no_secret(&format!("{e:?} {client:?}"), PASSWORD);
            let task = client.connect_socket(ConnectSocketOptions::new(format!("{WS}/")));
            let e = task.wait_open(SECS).unwrap_err();
            assert_eq!((e.errno(), e.reason()), (600001, reason.as_str()));
        }
        assert_eq!(s.http.connections_accepted(), 0);
    });
}

#[test]
fn the_domain_policy_applies_to_the_target_and_never_to_the_proxy() {
    watchdog(Duration::from_secs(10), || {
        let s = servers();
        let proxy = FakeProxy::start(false, Behaviour::Tunnel(None), s.names());
        let client = s
            .builder(true)
            .proxy(&format!("http://{}", proxy.addr()))
            .build()
            .unwrap();
        let e = client
            .request(RequestOptions::new("https://other.example.com/"))
            .wait()
            .unwrap_err();
        assert_eq!(e.err_msg(), "request:fail url not in domain list");
        assert_eq!(proxy.server.connections_accepted(), 0);
        assert!(
            get(&client).is_ok(),
            "the proxy at 127.0.0.1 needs no entry"
        );
    });
}

#[test]
fn a_bad_proxy_url_is_a_build_error_that_hides_the_password() {
    for (url, reason) in [
        (
            "socks4://u:pw-x@127.0.0.1:1080",
            "proxy URL must start with http:// or socks5://",
        ),
        ("http://u:pw-x@127.0.0.1", "proxy URL must name a port"),
        (
            "http://u:pw-x@127.0.0.1:8080/x",
            "proxy URL must have no path, query or fragment",
        ),
    ] {
        let b = Client::builder().proxy(url);
        assert_no_secret(&format!("{b:?}"), "pw-x");
        let e = b.build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.err_msg(), format!("ClientBuilder.build:fail {reason}"));
    }
}

/// Not a check: the cost of the tunnel per request on a kept-alive
/// connection, and of a new connection, printed for the record
/// (`cargo test --test proxy overhead -- --nocapture`).
#[test]
fn overhead_per_request_direct_and_through_proxies() {
    watchdog(Duration::from_secs(30), || {
        const N: u32 = 200;
        let s = servers();
        let tp = tinyproxy(false);
        let socks = FakeProxy::start(true, Behaviour::Tunnel(None), s.names());
        let mut clients = vec![("direct", s.builder(true).build().unwrap())];
        for (name, url) in [
            ("tinyproxy", format!("http://{}", tp.addr())),
            ("socks5", format!("socks5://{}", socks.addr())),
        ] {
            clients.push((name, s.builder(true).proxy(&url).build().unwrap()));
        }
        for (name, client) in &clients {
            let first = Instant::now();
            get(client).unwrap();
            let first = first.elapsed();
            let started = Instant::now();
            for _ in 0..N {
                assert!(get(client).unwrap().profile.socket_reused);
            }
            let each = started.elapsed() / N;
            println!(
                "proxy overhead: {name:9} first request {first:>10.2?}, then {each:>9.2?} each"
            );
        }
    });
}
