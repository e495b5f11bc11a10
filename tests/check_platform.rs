//! The phones' root stores (X-05, X-06), the verdict per platform, and
//! the HTML report as headless Chromium renders it.
#![cfg(feature = "check")]

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use common::{HttpServer, LeafKey, SServer, TempDir, TestPki, require, sha256_hex, watchdog};
use rustls::ServerConfig;
use wxnet::check::{Checker, Platform, PlatformVerdict, Report, RootStore, Status, Verdict};

const HOST: &str = "api.example.com";

fn verdict(r: &Report, p: Platform) -> PlatformVerdict {
    r.platforms().into_iter().find(|v| v.platform == p).unwrap()
}

/// The SPKI SHA-256 (hex) of the webpki-roots (Mozilla) root whose
/// subject contains `name`.
fn mozilla_spki(name: &str) -> Option<String> {
    let anchor = webpki_roots::TLS_SERVER_ROOTS.iter().find(|a| {
        let s = a.subject.as_ref();
        s.windows(name.len()).any(|w| w == name.as_bytes())
    })?;
    let spki = anchor.subject_public_key_info.as_ref();
    let mut der = vec![0x30, 0x82, (spki.len() >> 8) as u8, spki.len() as u8];
    if spki.len() < 0x100 {
        der = vec![0x30, 0x81, spki.len() as u8];
    }
    der.extend_from_slice(spki);
    Some(sha256_hex(&der))
}

#[test]
fn isrg_root_x1_is_in_both_phone_stores_and_bjca_only_in_mozillas() {
    let x1 = mozilla_spki("ISRG Root X1").unwrap();
    assert!(
        RootStore::apple()
            .subject_of(&x1)
            .unwrap()
            .contains("ISRG Root X1")
    );
    assert!(RootStore::android().subject_of(&x1).is_some());
    assert!(
        RootStore::old_android().subject_of(&x1).is_none(),
        "from 7.1.1"
    );
    let mut absent = 0;
    for name in [
        "BJCA Global Root CA1",
        "BJCA Global Root CA2",
        "vTrus Root CA",
    ] {
        if let Some(h) = mozilla_spki(name) {
            assert!(RootStore::apple().subject_of(&h).is_none(), "{name}");
            absent += 1;
        }
    }
    assert!(
        absent > 0,
        "webpki-roots has none of the Mozilla-only roots"
    );
    assert_eq!(RootStore::apple().date(), "2025-10-16");
    assert_eq!(RootStore::android().date(), "2023-08-07");
}

#[test]
fn a_real_chain_to_a_root_android_has_and_apple_dropped() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let pem = std::fs::read(format!("{dir}/le-2019-chain.pem")).unwrap();
    // Let's Encrypt Authority X3 cross-signed by DST Root CA X3, in 2019.
    let at = UNIX_EPOCH + Duration::from_secs(1_565_000_000);
    let r = Checker::new()
        .at(at)
        .check_chain("lists.for-our.info", &pem)
        .unwrap();
    let x05 = r.get("X-05").unwrap();
    assert_eq!(x05.status, Status::Fail, "{}", r.to_text());
    assert!(x05.message.contains("DST Root CA X3"), "{}", x05.message);
    assert!(
        x05.message
            .contains("not in Apple's store (snapshot 2025-10-16)")
    );
    assert!(x05.fix.contains("Apple"));
    let x06 = r.get("X-06").unwrap();
    assert_eq!(x06.status, Status::Pass);
    assert!(
        x06.message
            .contains("chains to 'O=Digital Signature Trust Co., CN=DST Root CA X3'")
    );
    assert!(x06.message.contains("snapshot 2023-08-07"));
    let ios = verdict(&r, Platform::Ios);
    assert_eq!(ios.verdict, Verdict::No);
    assert!(ios.reasons.iter().any(|w| w.starts_with("X-05")));
    assert!(
        !ios.reasons.iter().any(|w| w.starts_with("X-07")),
        "{:?}",
        ios.reasons
    );
    // A chain file says nothing of TLS versions.
    assert_eq!(verdict(&r, Platform::Android).verdict, Verdict::Unknown);
}

#[test]
fn a_chain_to_an_added_root_says_devices_must_install_it() {
    let pki = TestPki::new();
    let id = pki.identity(&[HOST]);
    let mut pem = Vec::new();
    for c in &id.chain {
        pem.extend(pem_of(c));
    }
    let r = Checker::new()
        .add_root_certificate(&pki.ca_pem())
        .unwrap()
        .check_chain(HOST, &pem)
        .unwrap();
    for id in ["X-05", "X-06"] {
        let x = r.get(id).unwrap();
        assert_eq!(x.status, Status::Info, "{id}: {}", x.message);
        assert!(
            x.message.contains("ends at the added root"),
            "{}",
            x.message
        );
        assert!(x.message.contains("once it is installed"));
    }
    let ios = verdict(&r, Platform::Ios);
    // A chain file says nothing of versions: unknown, but not for the root.
    assert_eq!(ios.verdict, Verdict::Unknown);
    assert!(!ios.reasons.iter().any(|w| w.starts_with("X-05")));
}

fn pem_of(der: &[u8]) -> Vec<u8> {
    let b64 = base64(der);
    let mut out = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    for line in b64.as_bytes().chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END CERTIFICATE-----\n");
    out
}

fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A server that speaks TLS 1.3 and nothing older, with the test CA's
/// chain.
fn tls13_only(pki: &TestPki) -> HttpServer {
    let id = pki.identity(&[HOST]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(id.chain.clone(), id.key.clone_key())
        .unwrap();
    HttpServer::start(Arc::new(config), |_, c| c.respond(200, &[], b"{}"))
}

fn check_tls13_only() -> Report {
    let pki = TestPki::new();
    let server = tls13_only(&pki);
    Checker::new()
        .resolve(HOST, server.addr())
        .add_root_certificate(&pki.ca_pem())
        .unwrap()
        .check(&format!("https://{HOST}"))
        .unwrap()
}

#[test]
fn a_tls13_only_server_is_out_of_reach_of_android_7_to_9() {
    let r = watchdog(Duration::from_secs(10), check_tls13_only);
    let android = verdict(&r, Platform::Android);
    assert_eq!(android.verdict, Verdict::No, "{}", r.to_text());
    assert!(android.reasons[0].starts_with("P-01") && android.reasons[0].contains("API 29"));
    assert_eq!(verdict(&r, Platform::Devtools).verdict, Verdict::Yes);
    assert_eq!(verdict(&r, Platform::Wxnet).verdict, Verdict::Yes);
    assert_ne!(verdict(&r, Platform::OldAndroid).verdict, Verdict::Yes);
    let json = r.to_json();
    assert_eq!(json["platforms"][1]["platform"], "android");
    assert_eq!(json["platforms"][1]["verdict"], "no");
    assert!(r.to_text().contains("Will it connect?"));
}

/// A check of an `openssl s_server` with an RSA-2048 leaf of a private
/// CA, given as an added root.
fn check_openssl(configure: impl FnOnce(SServer) -> SServer + Send + 'static) -> Report {
    watchdog(Duration::from_secs(10), move || {
        let pki = TestPki::new();
        let id = pki.openssl_leaf(&[HOST], LeafKey::Rsa(2048), "sha256");
        let server = configure(SServer::new(&id)).start();
        Checker::new()
            .resolve(HOST, server.addr())
            .add_root_certificate(&pki.ca_pem())
            .unwrap()
            .timeout(Duration::from_secs(3))
            .check(HOST)
            .unwrap()
    })
}

#[test]
fn a_tls10_only_server_reaches_old_android_but_not_iphones() {
    let r = check_openssl(|s| s.arg("-tls1"));
    let old = verdict(&r, Platform::OldAndroid);
    assert_eq!(old.verdict, Verdict::Yes, "{}", r.to_text());
    assert!(
        old.reasons[0].contains("added root is installed"),
        "{:?}",
        old.reasons
    );
    assert_eq!(verdict(&r, Platform::Android).verdict, Verdict::Yes);
    let ios = verdict(&r, Platform::Ios);
    assert_eq!(ios.verdict, Verdict::No);
    assert!(ios.reasons[0].starts_with("C-01"), "{:?}", ios.reasons);
    for p in [Platform::Devtools, Platform::Wxnet] {
        let v = verdict(&r, p);
        assert_eq!(v.verdict, Verdict::No, "{p:?}");
        assert!(
            v.reasons[0].contains("neither TLS 1.2 nor 1.3"),
            "{:?}",
            v.reasons
        );
    }
}

#[test]
fn a_cbc_only_ats_server_reaches_iphones_but_not_wxnet() {
    let list = "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384";
    let r = check_openssl(move |s| s.cipher(list).arg("-tls1_2"));
    assert_eq!(
        verdict(&r, Platform::Ios).verdict,
        Verdict::Yes,
        "{}",
        r.to_text()
    );
    assert_eq!(verdict(&r, Platform::Android).verdict, Verdict::Yes);
    assert_eq!(verdict(&r, Platform::Devtools).verdict, Verdict::Yes);
    let wxnet = verdict(&r, Platform::Wxnet);
    assert_eq!(wxnet.verdict, Verdict::No);
    assert!(wxnet.reasons[0].starts_with("C-02"), "{:?}", wxnet.reasons);
    assert!(wxnet.reasons[0].contains("AES-GCM or ChaCha20"));
    let old = verdict(&r, Platform::OldAndroid);
    assert_eq!(old.verdict, Verdict::No, "Android 4.4 has only TLS 1.0");
    assert!(old.reasons[0].starts_with("P-03"), "{:?}", old.reasons);
}

#[test]
fn rsa_key_exchange_gcm_suites_do_not_satisfy_ats_or_rustls() {
    let list = "AES128-GCM-SHA256:AES256-GCM-SHA384";
    let r = check_openssl(move |s| s.cipher(list).arg("-tls1_2"));
    // C-01 lists the GCM suites it refuses: no verdict may read them as ATS.
    assert!(
        r.get("C-01").unwrap().message.contains("GCM"),
        "{}",
        r.to_text()
    );
    let ios = verdict(&r, Platform::Ios);
    assert_eq!(ios.verdict, Verdict::No);
    assert!(ios.reasons[0].starts_with("C-01"), "{:?}", ios.reasons);
    assert_eq!(verdict(&r, Platform::Wxnet).verdict, Verdict::No);
    assert_eq!(verdict(&r, Platform::Android).verdict, Verdict::Yes);
}

/// The DOM headless Chromium builds from `page`.
fn dump_dom(page: String) -> String {
    let chromium = require("chromium", "chromium");
    let dir = TempDir::new("check-html");
    let file = dir.0.join("report.html");
    std::fs::write(&file, page).unwrap();
    watchdog(Duration::from_secs(10), move || {
        let mut child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-background-networking",
            ])
            .args(["--disable-gpu", "--no-first-run", "--disable-extensions"])
            .arg(format!(
                "--user-data-dir={}",
                dir.0.join("profile").display()
            ))
            .arg("--dump-dom")
            .arg(format!("file://{}", file.display()))
            .env("HOME", &dir.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(8);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > end {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 8 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        out
    })
}

#[test]
fn the_html_report_renders_in_headless_chromium_with_the_verdicts() {
    let r = watchdog(Duration::from_secs(10), check_tls13_only);
    let dom = dump_dom(r.to_html());
    assert!(dom.contains("Will it connect?"), "{dom}");
    assert!(
        dom.contains(r#"<tr id="platform-android"><td>Android 7+</td><td class="s no">no</td>"#)
    );
    assert!(
        dom.contains(
            r#"<tr id="platform-wxnet"><td>wxnet (rustls)</td><td class="s yes">yes</td>"#
        )
    );
    assert!(dom.contains(r#"data-id="X-05""#));
    assert!(!dom.contains("Per address"), "one address");
}

#[test]
fn the_html_report_shows_where_two_addresses_differ() {
    let r = watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let good = tls13_only(&pki);
        // The same name and port on 127.0.0.2: TLS 1.2 only.
        let id = pki.identity(&[HOST]);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls12 = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(id.chain.clone(), id.key.clone_key())
            .unwrap();
        let other: std::net::SocketAddr = format!("127.0.0.2:{}", good.port()).parse().unwrap();
        let other = HttpServer::start_on(other, Arc::new(tls12), |_, c| c.respond(200, &[], b"{}"));
        Checker::new()
            .resolve(HOST, good.addr())
            .resolve(HOST, other.addr())
            .add_root_certificate(&pki.ca_pem())
            .unwrap()
            .check(HOST)
            .unwrap()
    });
    let (one, two) = (r.addresses[0].address, r.addresses[1].address);
    assert_eq!(two.ip().to_string(), "127.0.0.2", "{}", r.to_text());
    let android = verdict(&r, Platform::Android);
    assert_eq!(android.verdict, Verdict::No);
    assert!(
        android.reasons[0].starts_with(&format!("at {one}: P-01")),
        "{:?}",
        android.reasons
    );
    let dom = dump_dom(r.to_html());
    assert!(dom.contains("Per address"), "{dom}");
    assert!(
        dom.contains(&format!("<p>Addresses: {one}, {two}</p>")),
        "{dom}"
    );
    assert!(
        dom.contains(&format!("<th>{one}</th><th>{two}</th>")),
        "{dom}"
    );
    assert!(
        dom.contains(r#"<td class="s FAIL">FAIL P-01</td><td class="s PASS">no failures</td>"#),
        "{dom}"
    );
    let p01 = dom
        .split(r#"<tr class="difference" data-id="P-01">"#)
        .nth(1)
        .unwrap();
    let p01 = &p01[..p01.find("</tr>").unwrap()];
    assert!(
        p01.contains(r#"<span class="s FAIL">FAIL</span> TLS 1.2 was refused"#),
        "{p01}"
    );
    assert!(
        p01.contains(r#"<span class="s PASS">PASS</span> TLS 1.2 with"#),
        "{p01}"
    );
    assert!(
        !dom.contains(r#"class="difference" data-id="X-01""#),
        "they agree"
    );
}
