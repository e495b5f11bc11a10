//! TLS: verified certificates or `ssl hand shake error`
//! (600001) with the rustls reason as the source; `skip_domain_check`
//! turns verification off.

mod common;

use std::error::Error as _;
use std::time::Duration;

use common::{HttpServer, Identity, TestPki, watchdog};
use wxnet::{Client, ErrorKind, RequestOptions};

const API: &str = "https://api.example.com";

fn serve(pki: &TestPki, id: &Identity) -> HttpServer {
    HttpServer::start(pki.server_config(id), |_, c| c.respond(200, &[], b"ok"))
}

fn client_trusting(pki: &TestPki, server: &HttpServer) -> Client {
    common::client_builder(pki, server)
        .request_domains([API])
        .build()
        .unwrap()
}

fn assert_tls_failure(client: &Client, needle: &str) {
    let e = client
        .request(RequestOptions::new(format!("{API}/")))
        .wait()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e:?}");
    assert_eq!(e.err_msg(), "request:fail ssl hand shake error");
    assert_eq!(e.errno(), 600001);
    let source = e.source().expect("the rustls reason is kept").to_string();
    assert!(source.contains(needle), "{source:?} lacks {needle:?}");
}

#[test]
fn a_certificate_from_the_added_root_is_accepted() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let server = serve(&pki, &pki.identity(&["api.example.com"]));
        let res = client_trusting(&pki, &server)
            .request(RequestOptions::new(format!("{API}/")))
            .wait()
            .unwrap();
        assert_eq!(res.status_code, 200);
        // DER form of the root works too.
        let client = Client::builder()
            .request_domains([API])
            .add_root_certificate(pki.ca_der())
            .unwrap()
            .resolve("api.example.com", server.addr())
            .build()
            .unwrap();
        assert!(
            client
                .request(RequestOptions::new(format!("{API}/")))
                .wait()
                .is_ok()
        );
    });
}

#[test]
fn unknown_ca_fails_the_handshake() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let server = serve(&pki, &pki.identity(&["api.example.com"]));
        let client = Client::builder()
            .request_domains([API])
            .resolve("api.example.com", server.addr())
            .build()
            .unwrap();
        assert_tls_failure(&client, "UnknownIssuer");
        let server = serve(&pki, &pki.foreign_ca_identity(&["api.example.com"]));
        assert_tls_failure(&client_trusting(&pki, &server), "UnknownIssuer");
    });
}

#[test]
fn self_signed_fails_the_handshake() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let server = serve(&pki, &pki.self_signed_identity(&["api.example.com"]));
        assert_tls_failure(&client_trusting(&pki, &server), "invalid peer certificate");
    });
}

#[test]
fn expired_and_not_yet_valid_fail_the_handshake() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let server = serve(&pki, &pki.expired_identity(&["api.example.com"]));
        assert_tls_failure(&client_trusting(&pki, &server), "certificate expired");
        let server = serve(&pki, &pki.not_yet_valid_identity(&["api.example.com"]));
        assert_tls_failure(&client_trusting(&pki, &server), "not valid yet");
    });
}

#[test]
fn wrong_host_fails_the_handshake() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let server = serve(&pki, &pki.identity(&["other.example.com"]));
        assert_tls_failure(&client_trusting(&pki, &server), "not valid for name");
    });
}

#[test]
fn skip_domain_check_accepts_any_certificate_and_plain_http() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let server = serve(&pki, &pki.self_signed_identity(&["whatever.example.com"]));
        let client = Client::builder().skip_domain_check(true).build().unwrap();
        let url = format!("https://localhost:{}/", server.port());
        let res = client.request(RequestOptions::new(url)).wait().unwrap();
        assert_eq!(res.status_code, 200);
        let url = format!("https://127.0.0.1:{}/", server.port());
        assert!(client.request(RequestOptions::new(url)).wait().is_ok());

        let plain = common::RawServer::start(|mut s| {
            use std::io::{Read, Write};
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain",
            );
        });
        let url = format!("http://127.0.0.1:{}/", plain.addr().port());
        let res = client.request(RequestOptions::new(url)).wait().unwrap();
        assert_eq!(res.data.as_text(), Some("plain"));
    });
}

#[test]
fn wxnet_json_loads_roots_relative_to_the_file() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let server = serve(&pki, &pki.identity(&["api.example.com"]));
        let dir = common::TempDir::new("wxnetjson");
        std::fs::create_dir(dir.path().join("certs")).unwrap();
        std::fs::write(dir.path().join("certs/ca.pem"), pki.ca_pem()).unwrap();
        let json = format!(
            r#"{{"appid": "wxfile", "domains": {{"request": ["{API}"]}},
                 "resolve": {{"api.example.com": "{}"}},
                 "rootCertificates": ["certs/ca.pem"]}}"#,
            server.addr()
        );
        std::fs::write(dir.path().join("wxnet.json"), json).unwrap();
        let client = wxnet::ClientBuilder::from_file(dir.path().join("wxnet.json"))
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            client.referer(),
            "https://servicewechat.com/wxfile/0/page-frame.html"
        );
        let res = client
            .request(RequestOptions::new(format!("{API}/")))
            .wait()
            .unwrap();
        assert_eq!(res.status_code, 200);
    });
}
