//! `wxnet::check` against servers rustls cannot fully talk to: OpenSSL
//! `s_server` fixtures (TLS 1.0/1.1, CBC-only, RSA key exchange, weak
//! certificates, dual certificates, SNI-only) and an in-process server
//! that answers ClientHellos with scripted ServerHellos for what this
//! OpenSSL no longer serves (SSLv3, RC4, 3DES, export suites). Each case
//! asserts the rule, its status and the key words of message and fix.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use common::{Identity, LeafKey, SServer, TestPki, watchdog};
use wxnet::check::{Checker, Report, Status};

const HOST: &str = "api.example.com";

/// One CA and the leaves most cases share: RSA keys take OpenSSL a while
/// to make.
struct Shared {
    pki: TestPki,
    rsa: Identity,
    ecdsa: Identity,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let pki = TestPki::new();
        let rsa = pki.openssl_leaf(&[HOST], LeafKey::Rsa(2048), "sha256");
        let ecdsa = pki.identity(&[HOST]);
        Shared { pki, rsa, ecdsa }
    })
}

fn check(addr: SocketAddr) -> Report {
    Checker::new()
        .resolve(HOST, addr)
        .add_root_certificate(&shared().pki.ca_pem())
        .unwrap()
        .timeout(Duration::from_secs(3))
        .check(HOST)
        .unwrap()
}

/// Asserts that rule `id` has `status` and every word of `words` in its
/// message or fix; prints the whole report when not.
fn expect(r: &Report, id: &str, status: Status, words: &[&str]) {
    // No verdict prints a Rust value.
    for x in &r.results {
        let rust = ["Error(", "Context {", "Some(", "\")"];
        assert!(!rust.iter().any(|w| x.message.contains(w)), "{}", x.message);
    }
    let rows: Vec<_> = r.results.iter().filter(|x| x.id == id).collect();
    assert!(!rows.is_empty(), "no {id}\n{}", r.to_text());
    for row in rows {
        assert_eq!(row.status, status, "{id}\n{}", r.to_text());
        let text = format!("{} / fix: {}", row.message, row.fix);
        for w in words {
            assert!(
                text.contains(w),
                "{id}: {w:?} not in {text:?}\n{}",
                r.to_text()
            );
        }
    }
}

fn run(server: SServer) -> Report {
    watchdog(Duration::from_secs(10), move || {
        let server = server.start();
        let r = check(server.addr());
        drop(server);
        r
    })
}

#[test]
fn tls10_and_tls11_next_to_tls12_are_a_trade_off() {
    let r = run(SServer::new(&shared().rsa));
    expect(&r, "T-02", Status::Pass, &["TLS"]);
    expect(&r, "P-01", Status::Pass, &["TLS 1.2"]);
    expect(
        &r,
        "P-03",
        Status::Info,
        &["TLS 1.0 and TLS 1.1 accepted", "Android", "trade-off"],
    );
    expect(&r, "P-04", Status::Pass, &["SSLv3 is refused"]);
    expect(
        &r,
        "C-02",
        Status::Warn,
        &["RSA key exchange", "TLS 1.2", "TLS 1.0", "ssl_ciphers"],
    );
    assert!(
        !r.results
            .iter()
            .any(|x| x.status == Status::Unknown && x.id.starts_with('P'))
    );
}

#[test]
fn a_tls10_only_server_is_reachable_and_fails_p01_and_c01() {
    let r = run(SServer::new(&shared().rsa).arg("-tls1"));
    expect(
        &r,
        "T-02",
        Status::Pass,
        &["TLS 1.0", "raw probe", "rustls"],
    );
    expect(
        &r,
        "P-01",
        Status::Fail,
        &["only TLS 1.0", "ssl_protocols TLSv1.2"],
    );
    expect(&r, "C-01", Status::Fail, &["TLS 1.2 is refused", "ECDHE"]);
    expect(&r, "P-03", Status::Info, &["TLS 1.0 accepted"]);
    // The certificate rules ran on the chain the raw probe saw.
    expect(&r, "X-01", Status::Pass, &[HOST]);
    expect(&r, "X-04", Status::Pass, &[]);
    expect(&r, "C-04", Status::Info, &["RSA"]);
    assert!(r.failed());
}

#[test]
fn ats_cbc_suites_only_pass_c01_and_warn_c02() {
    let list = "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384";
    let r = run(SServer::new(&shared().rsa).cipher(list).arg("-no_tls1_3"));
    expect(&r, "T-02", Status::Pass, &["raw probe", "see C-01"]);
    expect(&r, "P-01", Status::Pass, &["raw probe", "CBC"]);
    expect(
        &r,
        "C-01",
        Status::Pass,
        &[
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
            "only CBC",
        ],
    );
    expect(&r, "C-02", Status::Warn, &["only CBC", "AES-GCM"]);
    expect(&r, "X-04", Status::Pass, &[]);
    assert!(!r.failed(), "{}", r.to_text());
}

#[test]
fn cbc_suites_without_forward_secrecy_fail_c01() {
    let r = run(SServer::new(&shared().rsa)
        .cipher("AES128-SHA:AES256-SHA")
        .arg("-no_tls1_3"));
    expect(
        &r,
        "C-01",
        Status::Fail,
        &["accepts only", "TLS_RSA_WITH_AES_128_CBC_SHA", "ECDHE"],
    );
    expect(
        &r,
        "C-02",
        Status::Warn,
        &[
            "RSA key exchange",
            "only CBC",
            "TLS_RSA_WITH_AES_256_CBC_SHA",
        ],
    );
    expect(&r, "T-02", Status::Pass, &["raw probe"]);
}

#[test]
fn rsa_key_exchange_only_fails_c01_and_warns_c02() {
    let list = "AES128-GCM-SHA256:AES256-GCM-SHA384";
    let r = run(SServer::new(&shared().rsa).cipher(list).arg("-no_tls1_3"));
    expect(
        &r,
        "C-01",
        Status::Fail,
        &["TLS_RSA_WITH_AES_128_GCM_SHA256", "ATS"],
    );
    expect(
        &r,
        "C-02",
        Status::Warn,
        &["RSA key exchange: TLS_RSA_WITH_AES_"],
    );
    let c02 = r.get("C-02").unwrap();
    assert!(!c02.message.contains("only CBC"), "{}", c02.message);
    expect(&r, "T-02", Status::Pass, &["raw probe"]);
}

#[test]
fn an_rsa1024_leaf_reaches_x10() {
    let id = shared()
        .pki
        .openssl_leaf(&[HOST], LeafKey::Rsa(1024), "sha256");
    let r = run(SServer::new(&id));
    expect(
        &r,
        "T-02",
        Status::Pass,
        &["raw probe", "see X-09 and X-10"],
    );
    expect(&r, "X-10", Status::Fail, &["RSA-1024"]);
    expect(&r, "X-01", Status::Pass, &[]);
}

#[test]
fn an_rsa1024_leaf_on_tls13_only_reaches_x10() {
    let id = shared()
        .pki
        .openssl_leaf(&[HOST], LeafKey::Rsa(1024), "sha256");
    let r = run(SServer::new(&id).arg("-tls1_3"));
    expect(&r, "T-02", Status::Pass, &["TLS 1.3", "raw probe"]);
    expect(&r, "X-10", Status::Fail, &["RSA-1024"]);
    expect(&r, "C-04", Status::Info, &["1 certificate(s)"]);
}

#[test]
fn a_sha1_leaf_fails_x09() {
    let id = shared()
        .pki
        .openssl_leaf(&[HOST], LeafKey::Rsa(2048), "sha1");
    let r = run(SServer::new(&id));
    expect(
        &r,
        "X-09",
        Status::Fail,
        &["signed with ecdsa-with-SHA1", "SHA-256"],
    );
    let x09 = r.get("X-09").unwrap();
    assert!(!x09.message.contains("1.2.840."), "{}", x09.message);
    expect(&r, "T-02", Status::Pass, &[]);
}

#[test]
fn both_certificates_of_a_dual_server_are_judged() {
    let s = shared();
    let r = run(SServer::new(&s.rsa).dual(&s.ecdsa).arg("-no_tls1_3"));
    expect(
        &r,
        "C-04",
        Status::Info,
        &["2 certificate(s)", "RSA", "ECDSA"],
    );
    let x01: Vec<&str> = r
        .results
        .iter()
        .filter(|x| x.id == "X-01")
        .map(|x| x.message.as_str())
        .collect();
    assert!(x01.iter().any(|m| m.starts_with("[RSA]")), "{x01:?}");
    assert!(x01.iter().any(|m| m.starts_with("[ECDSA]")), "{x01:?}");
    expect(&r, "X-01", Status::Pass, &[HOST]);
}

#[test]
fn a_certificate_only_for_sni_is_reported() {
    let s = shared();
    let other = s.pki.identity(&["other.example.com"]);
    let r = run(SServer::new(&other).sni(HOST, &s.ecdsa));
    expect(&r, "X-01", Status::Pass, &[HOST]);
    expect(
        &r,
        "S-01",
        Status::Info,
        &["another certificate", "default server"],
    );
}

/// A server of the 1990s: SSLv3 and TLS 1.0, RC4, 3DES and export
/// suites in its own order; an alert for anything else.
fn legacy_server(cert: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            answer(tcp, &cert);
        }
    });
    addr
}

/// The server's suites, preferred first: RC4-SHA, 3DES, EXPORT RC4-40.
const LEGACY_ORDER: [u16; 3] = [0x0005, 0x000A, 0x0003];

fn answer(mut tcp: TcpStream, cert: &[u8]) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(3)));
    let mut head = [0; 5];
    if tcp.read_exact(&mut head).is_err() {
        return;
    }
    let mut body = vec![0; usize::from(u16::from_be_bytes([head[3], head[4]]))];
    if tcp.read_exact(&mut body).is_err() || body.len() < 44 {
        return;
    }
    let version = u16::from_be_bytes([body[4], body[5]]);
    let at = 39 + usize::from(body[38]);
    let offered: Vec<u16> = body
        .get(at..)
        .and_then(|b| {
            let n = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
            Some(
                b.get(2..2 + n)?
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            )
        })
        .unwrap_or_default();
    let alert = |d: u8| vec![21, 3, 1, 0, 2, 2, d];
    let reply = if !matches!(version, 0x0300 | 0x0301) {
        alert(70)
    } else if let Some(suite) = LEGACY_ORDER.iter().find(|s| offered.contains(s)) {
        flight(version, *suite, cert)
    } else {
        alert(40)
    };
    let _ = tcp.write_all(&reply);
}

/// ServerHello, Certificate and ServerHelloDone in one record.
fn flight(version: u16, suite: u16, cert: &[u8]) -> Vec<u8> {
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(body);
        m
    }
    let mut hello = version.to_be_bytes().to_vec();
    hello.extend_from_slice(&[7; 32]);
    hello.push(0);
    hello.extend_from_slice(&suite.to_be_bytes());
    hello.push(0);
    let entry = message(0, cert)[1..].to_vec();
    let list = message(0, &entry)[1..].to_vec();
    let mut hs = message(2, &hello);
    hs.extend(message(11, &list));
    hs.extend(message(14, &[]));
    let mut rec = vec![22];
    rec.extend_from_slice(&version.to_be_bytes());
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

#[test]
fn sslv3_rc4_3des_and_export_are_flagged() {
    let cert = shared().ecdsa.chain[0].to_vec();
    let r = watchdog(Duration::from_secs(10), move || check(legacy_server(cert)));
    expect(&r, "T-02", Status::Pass, &["TLS 1.0", "raw probe"]);
    expect(
        &r,
        "P-04",
        Status::Warn,
        &["SSLv3 is accepted", "disable SSLv3"],
    );
    expect(&r, "P-03", Status::Info, &["TLS 1.0 accepted"]);
    expect(&r, "P-01", Status::Fail, &["SSLv3 and TLS 1.0"]);
    expect(
        &r,
        "C-02",
        Status::Warn,
        &[
            "RC4: TLS_RSA_WITH_RC4_128_SHA",
            "3DES: TLS_RSA_WITH_3DES_EDE_CBC_SHA",
            "EXPORT: TLS_RSA_EXPORT_WITH_RC4_40_MD5",
            "only CBC",
            "(server's order): TLS_RSA_WITH_RC4_128_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        ],
    );
    expect(&r, "X-01", Status::Pass, &[HOST]);
}

#[test]
fn the_staple_of_a_server_rustls_cannot_reach_is_read() {
    // An OCSPResponse with status malformedRequest: any staple will do.
    let staple = [0x30, 0x03, 0x0A, 0x01, 0x01];
    let r = run(SServer::new(&shared().rsa).arg("-tls1").staple(&staple));
    expect(&r, "T-02", Status::Pass, &["raw probe"]);
    let x14 = r.get("X-14").unwrap();
    assert!(
        !x14.message.contains("n/a") && !x14.message.contains("no staple"),
        "{}",
        r.to_text()
    );
}
