//! `wxnet::check` against fixture servers on loopback: a root →
//! intermediate → leaf PKI from the shared test CA, served by rustls with
//! the chain, TLS versions and certificate fields each fixture needs. The
//! command line has its own tests (tests/cli.rs).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{HttpServer, Identity, LeafSpec, TestPki, watchdog};
use rustls::ServerConfig;
use rustls::pki_types::CertificateDer;
use wxnet::check::{Checker, Report, Status};

const HOST: &str = "api.example.com";

/// The shared test CA as a root, with an intermediate that signs the
/// fixtures' leaves (so a server can leave it out).
struct Pki {
    root: TestPki,
    intermediate: TestPki,
}

impl Pki {
    fn new() -> Pki {
        let root = TestPki::new();
        let intermediate = root.intermediate("check test intermediate");
        Pki { root, intermediate }
    }

    fn root_pem(&self) -> Vec<u8> {
        self.root.ca_pem()
    }

    fn intermediate_der(&self) -> CertificateDer<'static> {
        CertificateDer::from(self.intermediate.ca_der())
    }
}

/// How a fixture server is set up.
struct Fixture {
    names: &'static [&'static str],
    from: i64,
    to: i64,
    eku: bool,
    with_intermediate: bool,
    self_signed: bool,
    tls13_only: bool,
}

const GOOD: Fixture = Fixture {
    names: &[HOST],
    from: -1,
    to: 60,
    eku: true,
    with_intermediate: true,
    self_signed: false,
    tls13_only: false,
};

fn serve(pki: &Pki, f: &Fixture) -> HttpServer {
    HttpServer::start(config_for(pki, f), |r, c| {
        if r.path == "/bom" {
            c.respond(
                200,
                &[("content-type", "application/json")],
                b"\xEF\xBB\xBF{}",
            );
        } else if r.method == "POST" {
            c.respond(200, &[], format!("got {} bytes", r.body.len()).as_bytes());
        } else {
            c.respond(
                200,
                &[
                    ("strict-transport-security", "max-age=31536000"),
                    ("content-type", "application/json; charset=utf-8"),
                ],
                br#"{"ok":true}"#,
            );
        }
    })
}

fn config_for(pki: &Pki, f: &Fixture) -> Arc<ServerConfig> {
    let id = if f.self_signed {
        pki.root.self_signed_identity(&[HOST])
    } else {
        let mut id = pki.intermediate.leaf(&LeafSpec {
            names: f.names,
            from: f.from,
            to: f.to,
            server_auth: f.eku,
            issuer_url: None,
        });
        if f.with_intermediate {
            id.chain.push(pki.intermediate_der());
        }
        id
    };
    if f.tls13_only {
        tls13_only(&id)
    } else {
        pki.root.server_config(&id)
    }
}

/// A server that speaks TLS 1.3 and nothing older.
fn tls13_only(id: &Identity) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(id.chain.clone(), id.key.clone_key())
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn check(f: &Fixture, path: &str) -> Report {
    let pki = Pki::new();
    let server = serve(&pki, f);
    Checker::new()
        .resolve(HOST, server.addr())
        .add_root_certificate(&pki.root_pem())
        .unwrap()
        .check(&format!("https://{HOST}{path}"))
        .unwrap()
}

fn status(r: &Report, id: &str) -> Status {
    r.get(id)
        .unwrap_or_else(|| panic!("{id} missing:\n{}", r.to_text()))
        .status
}

#[test]
fn a_good_server_has_no_failure_or_warning() {
    watchdog(Duration::from_secs(10), || {
        let r = check(&GOOD, "/api");
        for row in &r.results {
            assert!(
                matches!(row.status, Status::Pass | Status::Info | Status::Unknown),
                "{}\n{}",
                row.id,
                r.to_text()
            );
        }
        for id in [
            "T-01", "T-02", "P-01", "P-04", "C-01", "C-02", "X-01", "X-02", "X-03", "X-04", "X-07",
            "X-09", "X-10", "X-11", "X-12", "H-01", "U-01",
        ] {
            assert_eq!(status(&r, id), Status::Pass, "{id}\n{}", r.to_text());
        }
        // rustls speaks neither TLS 1.0 nor 1.1.
        assert_eq!(status(&r, "P-03"), Status::Info);
        // Never a pass for what cannot be seen from here.
        assert_eq!(status(&r, "X-15"), Status::Unknown);
        // The phones' stores lack the test root: said, not failed.
        for id in ["X-05", "X-06"] {
            assert_eq!(status(&r, id), Status::Info, "{id}");
            assert!(r.get(id).unwrap().message.contains("added root"));
        }
        assert!(!r.failed());
        assert_eq!(r.to_json()["failed"], false);
    });
}

#[test]
fn each_broken_fixture_fails_its_own_check() {
    watchdog(Duration::from_secs(10), || {
        let cases: [(&str, Fixture, &str); 6] = [
            (
                "leaf only",
                Fixture {
                    with_intermediate: false,
                    ..GOOD
                },
                "X-07",
            ),
            (
                "expired",
                Fixture {
                    from: -60,
                    to: -1,
                    ..GOOD
                },
                "X-02",
            ),
            (
                "wrong name",
                Fixture {
                    names: &["other.example.com"],
                    ..GOOD
                },
                "X-01",
            ),
            (
                "900-day lifetime",
                Fixture {
                    from: -1,
                    to: 899,
                    ..GOOD
                },
                "X-12",
            ),
            ("no serverAuth", Fixture { eku: false, ..GOOD }, "X-11"),
            (
                "TLS 1.3 only",
                Fixture {
                    tls13_only: true,
                    ..GOOD
                },
                "P-01",
            ),
        ];
        for (what, f, id) in cases {
            let r = check(&f, "");
            assert_eq!(status(&r, id), Status::Fail, "{what}\n{}", r.to_text());
            assert!(r.failed(), "{what}");
            assert!(!r.get(id).unwrap().fix.is_empty(), "{what}: a fix is given");
        }
        // Apple's 398-day rule binds only chains to preinstalled roots.
        let r = check(
            &Fixture {
                from: -1,
                to: 499,
                ..GOOD
            },
            "",
        );
        let x12 = r.get("X-12").unwrap();
        assert_eq!(x12.status, Status::Warn, "{}", r.to_text());
        assert!(x12.message.contains("> 398"), "{}", x12.message);
        assert!(x12.message.contains("would FAIL from a public CA"));
        assert!(!x12.fix.is_empty());
        let r = check(
            &Fixture {
                tls13_only: true,
                ..GOOD
            },
            "",
        );
        assert_eq!(status(&r, "C-01"), Status::Pass, "TLS 1.3 meets ATS");
        let r = check(
            &Fixture {
                with_intermediate: false,
                ..GOOD
            },
            "",
        );
        assert!(
            r.get("X-07")
                .unwrap()
                .fix
                .contains("check test intermediate")
        );
    });
}

#[test]
fn self_signed_not_yet_valid_and_bom_are_reported() {
    watchdog(Duration::from_secs(10), || {
        let r = check(
            &Fixture {
                self_signed: true,
                ..GOOD
            },
            "",
        );
        assert_eq!(status(&r, "X-03"), Status::Fail);
        assert_eq!(status(&r, "X-04"), Status::Fail);
        let r = check(
            &Fixture {
                from: 2,
                to: 30,
                ..GOOD
            },
            "",
        );
        assert_eq!(status(&r, "X-02"), Status::Fail);
        let r = check(&GOOD, "/bom");
        assert_eq!(status(&r, "U-01"), Status::Warn);
    });
}

#[test]
fn ip_targets_and_dead_ports_fail_the_domain_checks() {
    watchdog(Duration::from_secs(10), || {
        let r = Checker::new().check("https://127.0.0.1/").unwrap();
        assert_eq!(status(&r, "T-01"), Status::Fail);
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let r = Checker::new()
            .resolve(HOST, dead)
            .timeout(Duration::from_secs(2))
            .check(HOST)
            .unwrap();
        assert_eq!(status(&r, "T-02"), Status::Fail);
    });
}

#[test]
fn doctor_judges_a_wxnet_json_with_the_client_policy_and_settings() {
    watchdog(Duration::from_secs(10), || {
        let pki = Pki::new();
        let server = serve(&pki, &GOOD);
        let dir = common::TempDir::new("check-doctor");
        std::fs::write(dir.path().join("ca.pem"), pki.root_pem()).unwrap();
        let json = dir.path().join("wxnet.json");
        std::fs::write(
            &json,
            format!(
                r#"{{"domains": {{"request": ["https://{HOST}:{}", "https://10.0.0.1"],
                                  "socket": ["https://{HOST}"]}},
                    "resolve": {{"{HOST}": "{}"}}, "rootCertificates": ["ca.pem"]}}"#,
                server.port(),
                server.addr()
            ),
        )
        .unwrap();
        let b = wxnet::ClientBuilder::from_file(&json).unwrap();
        let v = wxnet::check::domain_verdicts(&b);
        let lists: Vec<_> = v.iter().map(|e| e.list.as_str()).collect();
        assert_eq!(lists, ["request", "request", "socket"]);
        assert_eq!(v[0].problem, None);
        assert!(v[1].problem.as_deref().unwrap().contains("IP"));
        assert!(v[2].problem.as_deref().unwrap().contains("wss://"));
        // The policy answers for a URL without a client being built.
        let url = format!("https://{HOST}:{}/api", server.port());
        assert_eq!(
            b.check_url(wxnet::ApiKind::Request, &url)
                .unwrap_err()
                .kind(),
            wxnet::ErrorKind::Config,
            "a bad entry makes the settings unusable, as build() says"
        );
        let fixed = b.clone().request_domains([v[0].entry.as_str()]);
        let fixed = fixed.socket_domains([format!("wss://{HOST}")]);
        fixed
            .check_url(wxnet::ApiKind::Request, &url)
            .expect("listed");
        // The checker connects and trusts as the client would.
        let r = Checker::for_client(&b).check(&url).unwrap();
        assert!(!r.failed(), "{}", r.to_text());
        assert_eq!(status(&r, "X-04"), Status::Pass);
    });
}

#[test]
fn a_sha1_rsa1024_certificate_file_fails_the_ats_checks() {
    // Static fixture: modern generators refuse SHA-1 and RSA-1024.
    let leaf = include_bytes!("fixtures/leaf-rsa1024-sha1.pem");
    let root = include_bytes!("fixtures/static-root.pem");
    let at = std::time::UNIX_EPOCH + Duration::from_secs(1_796_083_200); // 2026-12-01
    let r = Checker::new()
        .add_root_certificate(root)
        .unwrap()
        .at(at)
        .check_chain(HOST, leaf)
        .unwrap();
    assert_eq!(status(&r, "X-01"), Status::Pass, "{}", r.to_text());
    assert_eq!(status(&r, "X-02"), Status::Pass);
    assert_eq!(status(&r, "X-09"), Status::Fail);
    assert!(r.get("X-09").unwrap().message.contains("sha1"));
    assert_eq!(status(&r, "X-10"), Status::Fail);
    assert!(r.get("X-10").unwrap().message.contains("RSA-1024"));
    // webpki refuses SHA-1 before building a path: said in words.
    let x04 = r.get("X-04").unwrap();
    assert_eq!(x04.status, Status::Fail);
    assert!(x04.message.contains("signed with SHA-1"), "{}", x04.message);
    assert!(x04.fix.contains("SHA-256"), "{}", x04.fix);
    assert!(
        r.get("X-14").is_none(),
        "stapling is not a property of a file"
    );
}

#[test]
fn an_incomplete_chain_is_confirmed_through_the_issuer_url() {
    watchdog(Duration::from_secs(10), || {
        let pki = Pki::new();
        // A plain-HTTP server publishing the intermediate, as CAs do.
        let der = pki.intermediate.ca_der();
        let aia = common::RawServer::start(move |mut s| {
            use std::io::{Read, Write};
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", der.len());
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&der);
        });
        let id = pki.intermediate.leaf(&LeafSpec {
            to: 60,
            issuer_url: Some("http://aia.example.com/int.der"),
            ..LeafSpec::new(&[HOST])
        });
        let config = pki.root.server_config(&id);
        let server = HttpServer::start(config, |_, c| c.respond(200, &[], b"ok"));
        let checker = Checker::new()
            .resolve(HOST, server.addr())
            .add_root_certificate(&pki.root_pem())
            .unwrap();
        let r = checker
            .clone()
            .resolve("aia.example.com", aia.addr())
            .check(HOST)
            .unwrap();
        let x07 = r.get("X-07").unwrap();
        assert_eq!(x07.status, Status::Fail);
        assert!(
            x07.message.contains("the chain verifies"),
            "{}",
            x07.message
        );
        // Issuer URL unreachable: still incomplete, and it says so.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let r = checker
            .resolve("aia.example.com", dead)
            .check(HOST)
            .unwrap();
        let x07 = r.get("X-07").unwrap();
        assert_eq!(x07.status, Status::Fail);
        assert!(x07.message.contains("failed"), "{}", x07.message);
    });
}

#[test]
fn an_unknown_root_is_told_apart_from_an_incomplete_chain() {
    watchdog(Duration::from_secs(10), || {
        let pki = Pki::new();
        // Leaf and intermediate sent; the root is in no store.
        let server = serve(&pki, &GOOD);
        let r = Checker::new()
            .resolve(HOST, server.addr())
            .check(HOST)
            .unwrap();
        let x04 = r.get("X-04").unwrap();
        assert_eq!(x04.status, Status::Fail, "{}", r.to_text());
        assert!(
            x04.message
                .starts_with("the chain ends at a root no store trusts: 'CN=wxnet test CA'"),
            "{}",
            x04.message
        );
        assert!(x04.fix.contains("--cacert"), "{}", x04.fix);
        assert!(!x04.message.contains("append"), "{}", x04.message);
        assert_ne!(status(&r, "X-07"), Status::Fail, "{}", r.to_text());
        assert!(!r.get("X-07").unwrap().message.contains("incomplete"));
        for id in ["X-05", "X-06"] {
            let x = r.get(id).unwrap();
            assert_eq!(x.status, Status::Unknown, "{}", r.to_text());
            assert!(
                x.message.contains("a root no store trusts"),
                "{}",
                x.message
            );
            assert!(!x.message.contains("incomplete"), "{}", x.message);
        }
        // Leaf only: the intermediate is missing.
        let leaf_only = Fixture {
            with_intermediate: false,
            ..GOOD
        };
        let server = serve(&pki, &leaf_only);
        let r = Checker::new()
            .resolve(HOST, server.addr())
            .check(HOST)
            .unwrap();
        let x04 = r.get("X-04").unwrap();
        assert!(
            x04.message
                .starts_with("incomplete chain; append 'CN=check test intermediate'"),
            "{}",
            x04.message
        );
        let x07 = r.get("X-07").unwrap();
        assert_eq!(x07.status, Status::Fail);
        assert!(
            x07.message.starts_with("incomplete chain"),
            "{}",
            x07.message
        );
        // No verdict prints a Rust value.
        for row in &r.results {
            assert!(!row.message.contains("Context {"), "{}", row.message);
        }
    });
}

#[test]
fn every_address_is_checked_and_the_failing_one_is_named() {
    watchdog(Duration::from_secs(10), || {
        let pki = Pki::new();
        let good = serve(&pki, &GOOD);
        // The same port on another loopback address, with an expired leaf.
        let expired = Fixture {
            from: -60,
            to: -1,
            ..GOOD
        };
        let bad_addr: std::net::SocketAddr = format!("127.0.0.2:{}", good.port()).parse().unwrap();
        let bad = HttpServer::start_on(bad_addr, config_for(&pki, &expired), |_, c| {
            c.respond(200, &[], b"ok")
        });
        assert_eq!(bad.addr(), bad_addr);
        let r = Checker::new()
            .resolve(HOST, good.addr())
            .resolve(HOST, bad.addr())
            .add_root_certificate(&pki.root_pem())
            .unwrap()
            .check(HOST)
            .unwrap();
        assert_eq!(r.addresses.len(), 2, "{}", r.to_text());
        assert_eq!(r.addresses[0].address, good.addr());
        assert!(!r.addresses[0].failed(), "{:?}", r.addresses[0]);
        assert!(r.addresses[1].failed());
        let x02 = r.get("X-02").unwrap();
        assert_eq!(x02.status, Status::Fail, "the worst verdict");
        assert!(
            x02.message.starts_with(&format!("at {bad_addr}: expired")),
            "{}",
            x02.message
        );
        assert!(x02.message.contains(&format!("at {}: PASS", good.addr())));
        assert_eq!(status(&r, "X-01"), Status::Pass, "both agree");
        assert!(!r.get("X-01").unwrap().message.contains("at 127."));
        assert!(r.failed());
        let text = r.to_text();
        assert!(text.contains(&format!("  {bad_addr}  FAIL X-02")), "{text}");
        assert!(
            text.contains(&format!("  {}  no failures", good.addr())),
            "{text}"
        );
        let v = r.to_json();
        assert_eq!(v["addresses"][1]["address"], bad_addr.to_string());
        assert_eq!(v["addresses"][1]["failed"], true);
        assert_eq!(v["addresses"][0]["failed"], false);
        let per: Vec<_> = v["addresses"][1]["results"].as_array().unwrap().clone();
        assert!(
            per.iter()
                .any(|x| x["id"] == "X-02" && x["status"] == "FAIL")
        );
        assert!(
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"] == "T-01")
        );
    });
}
