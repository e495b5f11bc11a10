//! `wxnet::check` and the `wxnet` command line against fixture servers on
//! loopback: a root → intermediate → leaf PKI made with rcgen, served by
//! rustls with the chain, TLS versions and certificate fields each fixture
//! needs.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{HttpServer, watchdog};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use wxnet::check::{Checker, Report, Status};

const HOST: &str = "api.example.com";

struct Pki {
    root_pem: String,
    intermediate: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

fn ca_params(name: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - days(10);
    p.not_after = now + days(3650);
    p
}

impl Pki {
    fn new() -> Pki {
        let root_key = KeyPair::generate().unwrap();
        let root_params = ca_params("check test root");
        let root = root_params.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(root_params, root_key);
        let key = KeyPair::generate().unwrap();
        let params = ca_params("check test intermediate");
        let intermediate = params.signed_by(&key, &root_issuer).unwrap();
        Pki {
            root_pem: root.pem(),
            intermediate: intermediate.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` valid `from..to` days around now; `eku` adds
    /// serverAuth.
    fn leaf(
        &self,
        names: &[&str],
        from: i64,
        to: i64,
        eku: bool,
    ) -> (CertificateDer<'static>, KeyPair) {
        self.leaf_with_aia(names, from, to, eku, None)
    }

    /// A leaf whose Authority Information Access names `aia` as the URL of
    /// its issuer.
    fn leaf_with_aia(
        &self,
        names: &[&str],
        from: i64,
        to: i64,
        eku: bool,
        aia: Option<&str>,
    ) -> (CertificateDer<'static>, KeyPair) {
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(DnType::CommonName, names[0]);
        if eku {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now + days(from);
        p.not_after = now + days(to);
        if let Some(url) = aia {
            p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 1],
                aia_der(url),
            )];
        }
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.der().clone(), key)
    }
}

/// DER of an AuthorityInfoAccess with one caIssuers URI (short lengths).
fn aia_der(url: &str) -> Vec<u8> {
    let mut desc = vec![0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    desc.push(0x86);
    desc.push(url.len() as u8);
    desc.extend_from_slice(url.as_bytes());
    let mut ad = vec![0x30, desc.len() as u8];
    ad.extend(desc);
    let mut out = vec![0x30, ad.len() as u8];
    out.extend(ad);
    out
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
    let (chain, key) = if f.self_signed {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![HOST.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, HOST);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        (vec![p.self_signed(&key).unwrap().der().clone()], key)
    } else {
        let (leaf, key) = pki.leaf(f.names, f.from, f.to, f.eku);
        let mut chain = vec![leaf];
        if f.with_intermediate {
            chain.push(pki.intermediate.clone());
        }
        (chain, key)
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if f.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn check(f: &Fixture, path: &str) -> Report {
    let pki = Pki::new();
    let server = serve(&pki, f);
    Checker::new()
        .resolve(HOST, server.addr())
        .add_root_certificate(pki.root_pem.as_bytes())
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
            "T-01", "T-02", "P-01", "C-01", "X-01", "X-02", "X-03", "X-04", "X-07", "X-09", "X-10",
            "X-11", "X-12", "H-01", "U-01",
        ] {
            assert_eq!(status(&r, id), Status::Pass, "{id}\n{}", r.to_text());
        }
        // Never a pass for what cannot be seen from here.
        for id in ["P-03", "P-04", "C-02", "X-05", "X-06", "X-15"] {
            assert_eq!(status(&r, id), Status::Unknown, "{id}");
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
                "500-day lifetime",
                Fixture {
                    from: -1,
                    to: 499,
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

fn wxnet(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wxnet"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_command_line_prints_json_and_exits_by_verdict() {
    watchdog(Duration::from_secs(10), || {
        let pki = Pki::new();
        let dir = common::TempDir::new("check-cli");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &pki.root_pem).unwrap();
        let ca = ca.to_str().unwrap();
        let good = serve(&pki, &GOOD);
        let bad = serve(
            &pki,
            &Fixture {
                with_intermediate: false,
                ..GOOD
            },
        );
        let resolve = |s: &HttpServer| format!("{HOST}:{}:{}", s.port(), s.addr().ip());
        let target = |s: &HttpServer| format!("{HOST}:{}", s.port());

        let (code, out) = wxnet(&[
            "check",
            &target(&good),
            "--resolve",
            &resolve(&good),
            "--cacert",
            ca,
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(code, 0, "{out}");
        assert_eq!(v["failed"], false);
        let (code, out) = wxnet(&[
            "check",
            &target(&bad),
            "--resolve",
            &resolve(&bad),
            "--cacert",
            ca,
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(code, 1, "{out}");
        let x07 = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "X-07")
            .unwrap();
        assert_eq!(x07["status"], "FAIL");

        let (code, _) = wxnet(&["check"]);
        assert_eq!(code, 2);
        let (code, _) = wxnet(&["frobnicate"]);
        assert_eq!(code, 2);

        // doctor: every entry judged, the bad ones named.
        let json = dir.path().join("wxnet.json");
        std::fs::write(
            &json,
            format!(
                r#"{{"domains": {{"request": ["https://{HOST}:{}", "https://10.0.0.1", "https://*.example.com"]}},
                    "resolve": {{"{HOST}": "{}"}}, "rootCertificates": ["ca.pem"]}}"#,
                good.port(),
                good.addr()
            ),
        )
        .unwrap();
        let (code, out) = wxnet(&["doctor", json.to_str().unwrap(), "--json"]);
        assert_eq!(code, 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let entries = v["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 3);
        assert!(entries[0]["problem"].is_null(), "{out}");
        assert!(
            entries[0]["verdict"].as_str().unwrap().starts_with("ok"),
            "{out}"
        );
        assert!(entries[1]["problem"].as_str().unwrap().contains("IP"));
        assert!(entries[2]["problem"].as_str().unwrap().contains("wildcard"));

        // request: a thin front printing JSON.
        let url = format!("https://{HOST}:{}/x", good.port());
        let (code, out) = wxnet(&[
            "request",
            &url,
            "--resolve",
            &resolve(&good),
            "--cacert",
            ca,
        ]);
        assert_eq!(code, 0, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["statusCode"], 200);
        assert_eq!(v["data"]["ok"], true);
        // download, upload and ws: thin fronts too.
        let file = dir.path().join("got.json");
        let (code, out) = wxnet(&[
            "download",
            &url,
            "-o",
            file.to_str().unwrap(),
            "--resolve",
            &resolve(&good),
            "--cacert",
            ca,
        ]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(std::fs::read(&file).unwrap(), br#"{"ok":true}"#);
        let (code, out) = wxnet(&[
            "upload",
            &url,
            file.to_str().unwrap(),
            "-F",
            "k=v",
            "--resolve",
            &resolve(&good),
            "--cacert",
            ca,
        ]);
        assert_eq!(code, 0, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["data"].as_str().unwrap().starts_with("got "), "{out}");
        let ws = common::WsServer::echo(config_for(&pki, &GOOD));
        let ws_url = format!("wss://{HOST}:{}/chat", ws.addr().port());
        let ws_resolve = format!("{HOST}:{}:127.0.0.1", ws.addr().port());
        let (code, out) = wxnet(&[
            "ws",
            &ws_url,
            "--send",
            "hello",
            "--resolve",
            &ws_resolve,
            "--cacert",
            ca,
        ]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(r#"{"message":"hello"}"#), "{out}");

        let (code, out) = wxnet(&["request", "https://127.0.0.1/x", "--cacert", ca]);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("600002"),
            "an IP is never in a domain list: {out}"
        );
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
    assert!(
        r.get("X-14").is_none(),
        "stapling is not a property of a file"
    );

    let dir = common::TempDir::new("check-cert");
    let file = dir.path().join("leaf.pem");
    std::fs::write(&file, leaf).unwrap();
    let (code, out) = wxnet(&[
        "cert",
        file.to_str().unwrap(),
        "--host",
        HOST,
        "--at",
        "1796083200",
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["failed"], true);
    let (code, _) = wxnet(&["cert", file.to_str().unwrap()]);
    assert_eq!(code, 2, "--host is required");
}

#[test]
fn an_incomplete_chain_is_confirmed_through_the_issuer_url() {
    watchdog(Duration::from_secs(10), || {
        let pki = Pki::new();
        // A plain-HTTP server publishing the intermediate, as CAs do.
        let der = pki.intermediate.to_vec();
        let aia = common::RawServer::start(move |mut s| {
            use std::io::{Read, Write};
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", der.len());
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&der);
        });
        let (leaf, key) = pki.leaf_with_aia(
            &[HOST],
            -1,
            60,
            true,
            Some("http://aia.example.com/int.der"),
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server = HttpServer::start(Arc::new(config), |_, c| c.respond(200, &[], b"ok"));
        let checker = Checker::new()
            .resolve(HOST, server.addr())
            .add_root_certificate(pki.root_pem.as_bytes())
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
