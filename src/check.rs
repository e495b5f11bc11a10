//! Check a backend the way the mini program will see it: the TLS and
//! certificate rules of the WeChat network docs and of Apple's App
//! Transport Security, one verdict per rule, each with a one-line fix.
//!
//! The probes are real handshakes made with rustls (one per TLS version,
//! cipher suite, key-exchange group and certificate type), with a verifier
//! that only records what the server sent; every certificate verdict is
//! computed afterwards, offline, with webpki and x509-parser. What rustls
//! cannot ask (TLS 1.0/1.1, CBC suites, SSLv3) and what needs data this
//! crate does not bundle (Apple's and Android's root stores, the CA
//! denylist) is reported as [`Status::Unknown`] with the reason, never as a
//! pass.
//!
//! ```no_run
//! let report = wxnet::check::Checker::new().check("https://api.example.com")?;
//! for r in &report.results {
//!     println!("{} {:?} {}", r.id, r.status, r.message);
//! }
//! assert!(!report.failed() || report.results.iter().any(|r| r.status == wxnet::check::Status::Fail));
//! # Ok::<(), wxnet::Error>(())
//! ```

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, ring};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, RootCertStore, SignatureScheme,
    SupportedCipherSuite,
};
use x509_parser::prelude::*;

use crate::error::{Api, Error};
use crate::tls::AcceptAny;

const API: Api = Api::Check;

/// The verdict of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// The rule is met.
    Pass,
    /// Reported for information; no rule is broken.
    Info,
    /// Works today, but fragile, failing on some clients, or soon to fail.
    Warn,
    /// Requests fail on at least one mini-program platform.
    Fail,
    /// This tool cannot tell (the reason is in the message); never a pass.
    Unknown,
}

impl Status {
    /// The upper-case label used in reports (`PASS`, `WARN`, …).
    ///
    /// ```
    /// assert_eq!(wxnet::check::Status::Fail.label(), "FAIL");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Info => "INFO",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// The WeChat requirement a check serves, used to group a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bullet {
    /// https/wss, a domain name (not an IP or localhost), reachable.
    Domain,
    /// TLS 1.2 or later.
    TlsVersion,
    /// A trusted certificate for this name, within its validity, with a
    /// complete chain.
    Certificate,
    /// iOS: App Transport Security and Apple's certificate policy.
    Ios,
    /// Good practice that no mini-program rule requires.
    Other,
}

impl Bullet {
    /// The heading of the group in a report.
    ///
    /// ```
    /// assert!(wxnet::check::Bullet::TlsVersion.title().contains("TLS"));
    /// ```
    pub fn title(self) -> &'static str {
        match self {
            Bullet::Domain => "Domain: https/wss, a domain name, reachable",
            Bullet::TlsVersion => "TLS version 1.2 or later",
            Bullet::Certificate => "Certificate: trusted, matching, valid, complete chain",
            Bullet::Ios => "iOS: App Transport Security and Apple's certificate rules",
            Bullet::Other => "Other",
        }
    }
}

/// One verdict in a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check id (`T-01`, `X-07`, …).
    pub id: &'static str,
    /// The requirement the check serves.
    pub bullet: Bullet,
    /// The rule, in one line.
    pub rule: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found.
    pub message: String,
    /// How to fix it; empty when nothing needs fixing.
    pub fix: String,
}

/// Everything `check` found about one server.
#[derive(Debug, Clone)]
pub struct Report {
    /// The URL or host that was checked.
    pub target: String,
    /// The address connected to.
    pub address: Option<SocketAddr>,
    /// One verdict per check, in table order.
    pub results: Vec<CheckResult>,
}

impl Report {
    /// Whether any check failed (the command line exits with 1).
    ///
    /// ```
    /// let r = wxnet::check::Report { target: "x".into(), address: None, results: vec![] };
    /// assert!(!r.failed());
    /// ```
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| r.status == Status::Fail)
    }

    /// The verdict of check `id`, if it ran.
    ///
    /// ```
    /// let r = wxnet::check::Report { target: "x".into(), address: None, results: vec![] };
    /// assert!(r.get("T-01").is_none());
    /// ```
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// The report as JSON (`target`, `address`, `failed`, `results` with
    /// `id`, `bullet`, `rule`, `status`, `message`, `fix`).
    ///
    /// ```
    /// let r = wxnet::check::Report { target: "x".into(), address: None, results: vec![] };
    /// assert_eq!(r.to_json()["failed"], false);
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "target": self.target,
            "address": self.address.map(|a| a.to_string()),
            "failed": self.failed(),
            "results": self.results.iter().map(|r| serde_json::json!({
                "id": r.id,
                "bullet": format!("{:?}", r.bullet),
                "rule": r.rule,
                "status": r.status.label(),
                "message": r.message,
                "fix": r.fix,
            })).collect::<Vec<_>>(),
        })
    }

    /// The report as text, grouped by WeChat requirement.
    ///
    /// ```
    /// let r = wxnet::check::Report { target: "x".into(), address: None, results: vec![] };
    /// assert!(r.to_text().contains("x"));
    /// ```
    pub fn to_text(&self) -> String {
        let mut out = format!("wxnet check {}", self.target);
        if let Some(a) = self.address {
            out.push_str(&format!(" ({a})"));
        }
        out.push('\n');
        for bullet in [
            Bullet::Domain,
            Bullet::TlsVersion,
            Bullet::Certificate,
            Bullet::Ios,
            Bullet::Other,
        ] {
            let rows: Vec<_> = self.results.iter().filter(|r| r.bullet == bullet).collect();
            if rows.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{}\n", bullet.title()));
            for r in rows {
                out.push_str(&format!(
                    "  {:<5} {:<7} {} — {}\n",
                    r.id,
                    r.status.label(),
                    r.rule,
                    r.message
                ));
                if !r.fix.is_empty() {
                    out.push_str(&format!("                fix: {}\n", r.fix));
                }
            }
        }
        out.push_str(if self.failed() {
            "\nresult: FAIL\n"
        } else {
            "\nresult: no failures\n"
        });
        out
    }
}

/// Runs checks; configure it like a client (`resolve`, added roots).
#[derive(Debug, Clone)]
pub struct Checker {
    resolve: Vec<(String, SocketAddr)>,
    roots: Vec<CertificateDer<'static>>,
    at: Option<SystemTime>,
    timeout: Duration,
    allow_local: bool,
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

impl Checker {
    /// A checker with webpki-roots (Mozilla) as its trust store, a 10 s
    /// timeout per probe and the current time.
    ///
    /// ```
    /// let c = wxnet::check::Checker::new();
    /// assert!(format!("{c:?}").contains("10s"));
    /// ```
    pub fn new() -> Checker {
        Checker {
            resolve: Vec::new(),
            roots: Vec::new(),
            at: None,
            timeout: Duration::from_secs(10),
            allow_local: false,
        }
    }

    /// Connect to `addr` for `host` (like curl `--resolve`); names and
    /// certificates are still checked against `host`.
    ///
    /// ```
    /// let c = wxnet::check::Checker::new().resolve("a.example.com", "127.0.0.1:8443".parse().unwrap());
    /// assert!(format!("{c:?}").contains("8443"));
    /// ```
    pub fn resolve(mut self, host: &str, addr: SocketAddr) -> Checker {
        self.resolve
            .push((host.trim_end_matches('.').to_ascii_lowercase(), addr));
        self
    }

    /// Trust this root too (PEM or DER), e.g. a staging CA. A chain that
    /// ends at an added root is exempt from the rules Apple applies only to
    /// publicly trusted certificates (certificate transparency).
    ///
    /// ```
    /// assert!(wxnet::check::Checker::new().add_root_certificate(b"junk").is_err());
    /// ```
    pub fn add_root_certificate(mut self, pem_or_der: &[u8]) -> Result<Checker, Error> {
        self.roots
            .extend(crate::tls::parse_certificates(pem_or_der).map_err(|e| e.for_api(API))?);
        Ok(self)
    }

    /// Judge validity at `at` instead of now.
    ///
    /// ```
    /// let c = wxnet::check::Checker::new().at(std::time::UNIX_EPOCH);
    /// assert!(format!("{c:?}").contains("at: Some"));
    /// ```
    pub fn at(mut self, at: SystemTime) -> Checker {
        self.at = Some(at);
        self
    }

    /// Timeout of each connection and handshake. Defaults to 10 s.
    ///
    /// ```
    /// let c = wxnet::check::Checker::new().timeout(std::time::Duration::from_secs(3));
    /// assert!(format!("{c:?}").contains("3s"));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Checker {
        self.timeout = timeout;
        self
    }

    /// Report an IP or localhost target as a failure of T-01 but go on
    /// with the other checks (they fail at once otherwise).
    ///
    /// ```
    /// let c = wxnet::check::Checker::new().allow_local(true);
    /// assert!(format!("{c:?}").contains("allow_local: true"));
    /// ```
    pub fn allow_local(mut self, yes: bool) -> Checker {
        self.allow_local = yes;
        self
    }

    /// Check `target`: an `https://` or `wss://` URL (a path adds the
    /// sample-response checks) or `host[:port]`. `Err` only for a target
    /// that cannot be read at all; everything else is in the report.
    ///
    /// ```
    /// let e = wxnet::check::Checker::new().check("ftp://a b").unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::InvalidUrl);
    /// ```
    pub fn check(&self, target: &str) -> Result<Report, Error> {
        let t = Target::parse(target)?;
        let mut run = Run {
            checker: self,
            target: &t,
            results: Vec::new(),
        };
        let address = run.all();
        Ok(Report {
            target: target.to_owned(),
            address,
            results: run.results,
        })
    }

    /// Judge a certificate chain file before it is deployed: the
    /// certificate checks (X-01 … X-14) on `chain` (PEM with the leaf
    /// first, or one DER certificate) for `host`, without any network.
    ///
    /// ```
    /// let e = wxnet::check::Checker::new().check_chain("api.example.com", b"junk").unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Config);
    /// ```
    pub fn check_chain(&self, host: &str, chain: &[u8]) -> Result<Report, Error> {
        let certs = crate::tls::parse_certificates(chain).map_err(|e| e.for_api(API))?;
        let t = Target::parse(host)?;
        let mut run = Run {
            checker: self,
            target: &t,
            results: Vec::new(),
        };
        run.chain_checks(
            &Seen {
                chain: certs,
                ocsp: Vec::new(),
            },
            "",
        );
        // Stapling is a property of the server, not of the file.
        run.results.retain(|r| r.id != "X-14");
        Ok(Report {
            target: host.to_owned(),
            address: None,
            results: run.results,
        })
    }

    fn now(&self) -> SystemTime {
        self.at.unwrap_or_else(SystemTime::now)
    }
}

/// What to check, read from the command line.
struct Target {
    scheme: String,
    host: String,
    port: u16,
    /// Path and query, when one was given.
    path: Option<String>,
    ip: bool,
}

impl Target {
    fn parse(raw: &str) -> Result<Target, Error> {
        let invalid = || Error::invalid_url(API, raw);
        let with_scheme = if raw.contains("://") {
            raw.to_owned()
        } else {
            format!("https://{raw}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| invalid().source_from(e))?;
        let scheme = url.scheme().to_owned();
        if !matches!(scheme.as_str(), "https" | "wss" | "http" | "ws") {
            return Err(invalid());
        }
        let (host, ip) = match url.host() {
            Some(url::Host::Domain(d)) => (d.trim_end_matches('.').to_ascii_lowercase(), false),
            Some(url::Host::Ipv4(a)) => (a.to_string(), true),
            Some(url::Host::Ipv6(a)) => (a.to_string(), true),
            None => return Err(invalid()),
        };
        let path = match (url.path(), url.query()) {
            ("/", None) if !raw.trim_end().ends_with('/') || !raw.contains("://") => None,
            (p, None) => Some(p.to_owned()),
            (p, Some(q)) => Some(format!("{p}?{q}")),
        };
        Ok(Target {
            scheme,
            port: url.port_or_known_default().unwrap_or(443),
            host,
            path,
            ip,
        })
    }

    fn local(&self) -> bool {
        self.ip || self.host == "localhost" || self.host.ends_with(".localhost")
    }
}

/// What one handshake saw.
#[derive(Debug, Clone, Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    ocsp: Vec<u8>,
}

/// The outcome of one probe handshake.
enum Probe {
    Done {
        seen: Seen,
        version: String,
        suite: String,
        group: String,
    },
    /// The server refused what was offered (an alert, an incompatibility).
    Refused(String),
    /// No answer either way (reset, EOF, timeout, connect failure).
    Failed(String),
}

/// What a probe offers.
#[derive(Default)]
struct Offer {
    tls12: bool,
    tls13: bool,
    suites: Option<Vec<SupportedCipherSuite>>,
    groups: Option<Vec<&'static dyn SupportedKxGroup>>,
    schemes: Option<Vec<SignatureScheme>>,
    sni: bool,
}

impl Offer {
    fn versions(tls12: bool, tls13: bool) -> Offer {
        Offer {
            tls12,
            tls13,
            sni: true,
            ..Offer::default()
        }
    }
}

const RSA_SCHEMES: [SignatureScheme; 6] = [
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];
const ECDSA_SCHEMES: [SignatureScheme; 3] = [
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
];

/// One `check` in progress.
struct Run<'a> {
    checker: &'a Checker,
    target: &'a Target,
    results: Vec<CheckResult>,
}

impl Run<'_> {
    fn add(
        &mut self,
        id: &'static str,
        bullet: Bullet,
        rule: &'static str,
        status: Status,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.results.push(CheckResult {
            id,
            bullet,
            rule,
            status,
            message: message.into(),
            fix: fix.into(),
        });
    }

    fn address(&self) -> Result<SocketAddr, String> {
        let t = self.target;
        if let Some((_, a)) = self.checker.resolve.iter().find(|(h, _)| *h == t.host) {
            return Ok(*a);
        }
        if let Ok(ip) = t.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, t.port));
        }
        (t.host.as_str(), t.port)
            .to_socket_addrs()
            .map_err(|e| format!("DNS lookup of {} failed: {e}", t.host))?
            .next()
            .ok_or_else(|| format!("{} has no address", t.host))
    }

    fn probe(&self, addr: SocketAddr, offer: &Offer) -> Probe {
        let base = ring::default_provider();
        let provider = CryptoProvider {
            cipher_suites: offer.suites.clone().unwrap_or(base.cipher_suites.clone()),
            kx_groups: offer.groups.clone().unwrap_or(base.kx_groups.clone()),
            ..base
        };
        let recorder = Arc::new(AcceptAny::new(
            provider.signature_verification_algorithms,
            offer.schemes.clone(),
            true,
        ));
        let mut versions = Vec::new();
        if offer.tls13 {
            versions.push(&rustls::version::TLS13);
        }
        if offer.tls12 {
            versions.push(&rustls::version::TLS12);
        }
        let config = match ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&versions)
        {
            Ok(b) => b,
            Err(e) => return Probe::Refused(format!("nothing to offer: {e}")),
        };
        let mut config = config
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        config.enable_sni = offer.sni;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let Ok(name) = ServerName::try_from(self.target.host.clone()) else {
            return Probe::Failed(format!("{} is not a valid server name", self.target.host));
        };
        let mut conn = match ClientConnection::new(Arc::new(config), name) {
            Ok(c) => c,
            Err(e) => return Probe::Failed(e.to_string()),
        };
        let timeout = self.checker.timeout;
        let mut tcp = match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => s,
            Err(e) => return Probe::Failed(format!("connect to {addr}: {e}")),
        };
        let _ = tcp.set_read_timeout(Some(timeout));
        let _ = tcp.set_write_timeout(Some(timeout));
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                let refused = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(|r| {
                        matches!(
                            r,
                            rustls::Error::AlertReceived(_) | rustls::Error::PeerIncompatible(_)
                        )
                    });
                return if refused {
                    Probe::Refused(e.to_string())
                } else {
                    Probe::Failed(e.to_string())
                };
            }
        }
        let (chain, ocsp) = recorder.seen();
        let seen = Seen { chain, ocsp };
        Probe::Done {
            seen,
            version: conn
                .protocol_version()
                .map_or("?".into(), |v| format!("{v:?}")),
            suite: conn
                .negotiated_cipher_suite()
                .map_or("?".into(), |s| format!("{:?}", s.suite())),
            group: conn
                .negotiated_key_exchange_group()
                .map_or("?".into(), |g| format!("{:?}", g.name())),
        }
    }

    /// Run every check; the address connected to, if any.
    fn all(&mut self) -> Option<SocketAddr> {
        let t = self.target;
        // T-01
        let secure = matches!(t.scheme.as_str(), "https" | "wss");
        if !secure {
            self.add(
                "T-01",
                Bullet::Domain,
                "https or wss, a domain name",
                Status::Fail,
                format!("scheme {} is not allowed", t.scheme),
                "serve the API over https:// (wss:// for sockets)",
            );
        } else if t.local() {
            self.add(
                "T-01",
                Bullet::Domain,
                "https or wss, a domain name",
                Status::Fail,
                format!("{} is an IP address or localhost", t.host),
                "give the server a domain name and a certificate for it",
            );
            if !self.checker.allow_local {
                return None;
            }
        } else {
            self.add(
                "T-01",
                Bullet::Domain,
                "https or wss, a domain name",
                Status::Pass,
                format!("{}://{}", t.scheme, t.host),
                "",
            );
        }
        // T-02
        let addr = match self.address() {
            Ok(a) => a,
            Err(why) => {
                self.add(
                    "T-02",
                    Bullet::Domain,
                    "reachable: DNS, TCP, TLS",
                    Status::Fail,
                    why,
                    "publish a DNS record for the name",
                );
                return None;
            }
        };
        let any = self.probe(addr, &Offer::versions(true, true));
        let (seen, version, suite, group) = match any {
            Probe::Done {
                seen,
                version,
                suite,
                group,
            } => (seen, version, suite, group),
            Probe::Refused(why) | Probe::Failed(why) => {
                self.add(
                    "T-02",
                    Bullet::Domain,
                    "reachable: DNS, TCP, TLS",
                    Status::Fail,
                    format!("{addr}: {why}"),
                    "make the server accept TLS 1.2 or 1.3 connections on this port",
                );
                self.unknown_by_design();
                return Some(addr);
            }
        };
        self.add(
            "T-02",
            Bullet::Domain,
            "reachable: DNS, TCP, TLS",
            Status::Pass,
            format!("{addr}: {version}, {suite}, {group}"),
            "",
        );
        self.versions(addr);
        self.groups(addr);
        self.certificates(addr, &seen);
        self.no_sni(addr, &seen);
        self.unknown_by_design();
        Some(addr)
    }

    fn versions(&mut self, addr: SocketAddr) {
        let tls12 = self.probe(addr, &Offer::versions(true, false));
        let tls13 = self.probe(addr, &Offer::versions(false, true));
        let ok13 = matches!(tls13, Probe::Done { .. });
        match tls12 {
            Probe::Done { suite, .. } => self.add("P-01", Bullet::TlsVersion, "TLS 1.2 is accepted", Status::Pass, format!("TLS 1.2 with {suite}"), ""),
            Probe::Refused(why) => self.add("P-01", Bullet::TlsVersion, "TLS 1.2 is accepted", Status::Fail,
                format!("TLS 1.2 with an ECDHE + AES-GCM/ChaCha20 suite was refused ({why}); older phones speak only TLS 1.2"),
                "enable TLSv1.2 next to TLSv1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3;) with ECDHE-…-GCM suites"),
            Probe::Failed(why) => self.add("P-01", Bullet::TlsVersion, "TLS 1.2 is accepted", Status::Unknown, format!("no answer: {why}"), ""),
        }
        match &tls13 {
            Probe::Done { suite, .. } => self.add(
                "P-02",
                Bullet::TlsVersion,
                "TLS 1.3 is accepted",
                Status::Info,
                format!("TLS 1.3 with {suite}"),
                "",
            ),
            _ => self.add(
                "P-02",
                Bullet::TlsVersion,
                "TLS 1.3 is accepted",
                Status::Info,
                "TLS 1.3 is not offered",
                "enabling TLSv1.3 is recommended",
            ),
        }
        // C-01: the AES-GCM ATS suites rustls can offer on TLS 1.2.
        let gcm12 = [
            ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ];
        let accepted: Vec<String> = gcm12
            .iter()
            .filter_map(|s| {
                let offer = Offer {
                    suites: Some(vec![*s]),
                    ..Offer::versions(true, false)
                };
                matches!(self.probe(addr, &offer), Probe::Done { .. })
                    .then(|| format!("{:?}", s.suite()))
            })
            .collect();
        if !accepted.is_empty() || ok13 {
            let mut msg = if accepted.is_empty() {
                "TLS 1.3 (all its suites meet ATS)".to_string()
            } else {
                format!("TLS 1.2 ATS suites accepted: {}", accepted.join(", "))
            };
            if ok13 && !accepted.is_empty() {
                msg.push_str("; TLS 1.3 too");
            }
            self.add(
                "C-01",
                Bullet::Ios,
                "an ATS cipher suite (ECDHE + AES) or TLS 1.3",
                Status::Pass,
                msg,
                "",
            );
        } else {
            self.add("C-01", Bullet::Ios, "an ATS cipher suite (ECDHE + AES) or TLS 1.3", Status::Fail,
                "no ECDHE + AES-GCM suite on TLS 1.2 and no TLS 1.3 (the 7 CBC ATS suites cannot be probed here)",
                "offer ECDHE-ECDSA/RSA-AES128-GCM-SHA256 and -AES256-GCM-SHA384, or enable TLS 1.3");
        }
    }

    fn groups(&mut self, addr: SocketAddr) {
        let groups: [(&str, &'static dyn SupportedKxGroup); 3] = [
            ("X25519", ring::kx_group::X25519),
            ("P-256", ring::kx_group::SECP256R1),
            ("P-384", ring::kx_group::SECP384R1),
        ];
        let accepted: Vec<&str> = groups
            .iter()
            .filter(|(_, g)| {
                let offer = Offer {
                    groups: Some(vec![*g]),
                    ..Offer::versions(true, true)
                };
                matches!(self.probe(addr, &offer), Probe::Done { .. })
            })
            .map(|(n, _)| *n)
            .collect();
        if accepted.is_empty() {
            self.add(
                "C-03",
                Bullet::Ios,
                "ECDHE groups of 256 bits or more",
                Status::Warn,
                "none of X25519, P-256, P-384 was accepted",
                "enable X25519 and P-256 (nginx: ssl_ecdh_curve X25519:prime256v1;)",
            );
        } else {
            self.add(
                "C-03",
                Bullet::Ios,
                "ECDHE groups of 256 bits or more",
                Status::Info,
                format!("accepted: {}", accepted.join(", ")),
                "",
            );
        }
    }

    fn certificates(&mut self, addr: SocketAddr, first: &Seen) {
        // C-04: which certificate types the server has.
        let mut chains: Vec<(String, Seen)> = Vec::new();
        for (kind, schemes) in [("RSA", &RSA_SCHEMES[..]), ("ECDSA", &ECDSA_SCHEMES[..])] {
            let offer = Offer {
                schemes: Some(schemes.to_vec()),
                ..Offer::versions(false, true)
            };
            if let Probe::Done { seen, .. } = self.probe(addr, &offer) {
                if !seen.chain.is_empty()
                    && !chains.iter().any(|(_, s)| s.chain[0] == seen.chain[0])
                {
                    chains.push((kind.to_string(), seen));
                }
            }
        }
        if chains.is_empty() && !first.chain.is_empty() {
            chains.push(("served".to_string(), first.clone()));
        }
        let kinds: Vec<&str> = chains.iter().map(|(k, _)| k.as_str()).collect();
        self.add(
            "C-04",
            Bullet::Other,
            "certificate types served",
            Status::Info,
            if kinds.is_empty() {
                "no certificate seen".to_string()
            } else {
                format!("{} certificate(s): {}", kinds.len(), kinds.join(", "))
            },
            "",
        );
        for (kind, seen) in &chains {
            let label = if chains.len() > 1 {
                format!("[{kind}] ")
            } else {
                String::new()
            };
            self.chain_checks(seen, &label);
        }
    }

    fn store(&self) -> RootCertStore {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for c in &self.checker.roots {
            let _ = roots.add(c.clone());
        }
        roots
    }

    fn chain_checks(&mut self, seen: &Seen, label: &str) {
        let now = self.checker.now();
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
        let parsed: Vec<_> = seen
            .chain
            .iter()
            .filter_map(|c| X509Certificate::from_der(c).ok().map(|(_, x)| x))
            .collect();
        let Some(leaf) = parsed.first() else {
            self.add(
                "X-01",
                Bullet::Certificate,
                "the certificate names this host",
                Status::Fail,
                format!("{label}the certificate cannot be parsed"),
                "install a valid X.509 certificate",
            );
            return;
        };
        let roots = Arc::new(self.store());
        let added: Vec<Vec<u8>> = {
            let mut own = RootCertStore::empty();
            for c in &self.checker.roots {
                let _ = own.add(c.clone());
            }
            own.roots
                .iter()
                .map(|a| a.subject.as_ref().to_vec())
                .collect()
        };
        // X-01: SAN match (the CN is ignored, as on iOS).
        let sans: Vec<String> = leaf
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|e| {
                e.value
                    .general_names
                    .iter()
                    .filter_map(|g| match g {
                        GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let host = &self.target.host;
        if sans.iter().any(|s| name_matches(s, host)) {
            self.add(
                "X-01",
                Bullet::Certificate,
                "the certificate names this host",
                Status::Pass,
                format!("{label}{host} is in the SAN"),
                "",
            );
        } else {
            self.add(
                "X-01",
                Bullet::Certificate,
                "the certificate names this host",
                Status::Fail,
                format!(
                    "{label}{host} is not in the SAN [{}] (the CN is ignored)",
                    sans.join(", ")
                ),
                format!("issue a certificate whose subjectAltName includes {host}"),
            );
        }
        // X-02: validity window.
        let nb = leaf.validity().not_before.timestamp();
        let na = leaf.validity().not_after.timestamp();
        let life = na - nb + 1;
        if secs < nb {
            self.add("X-02", Bullet::Certificate, "within its validity period", Status::Fail, format!("{label}not valid before {}", leaf.validity().not_before), "check the server clock and the certificate's notBefore; install a current certificate");
        } else if secs > na {
            self.add(
                "X-02",
                Bullet::Certificate,
                "within its validity period",
                Status::Fail,
                format!("{label}expired {}", leaf.validity().not_after),
                "renew the certificate and reload the server",
            );
        } else {
            let left = na - secs;
            let warn_at = (7 * 86_400).max(life / 3);
            let days = left / 86_400;
            if left < warn_at {
                self.add(
                    "X-02",
                    Bullet::Certificate,
                    "within its validity period",
                    Status::Warn,
                    format!(
                        "{label}expires in {days} days ({})",
                        leaf.validity().not_after
                    ),
                    "renew now (automate renewal, e.g. with ACME)",
                );
            } else {
                self.add(
                    "X-02",
                    Bullet::Certificate,
                    "within its validity period",
                    Status::Pass,
                    format!("{label}valid for {days} more days"),
                    "",
                );
            }
        }
        // X-03: self-signed.
        let self_signed = leaf.subject().as_raw() == leaf.issuer().as_raw()
            && parsed.len() == 1
            && !added
                .iter()
                .any(|s| s.as_slice() == name_value(leaf.subject().as_raw()));
        if self_signed {
            self.add(
                "X-03",
                Bullet::Certificate,
                "not self-signed",
                Status::Fail,
                format!("{label}the leaf is self-signed"),
                "use a certificate from a public CA",
            );
        } else {
            self.add(
                "X-03",
                Bullet::Certificate,
                "not self-signed",
                Status::Pass,
                format!("{label}issued by {}", leaf.issuer()),
                "",
            );
        }
        // X-04 / X-07: trust, with the chain as served.
        let verifier = WebPkiServerVerifier::builder_with_provider(
            roots.clone(),
            Arc::new(ring::default_provider()),
        )
        .build();
        let at = UnixTime::since_unix_epoch(Duration::from_secs(secs.max(0) as u64));
        let name = ServerName::try_from(host.clone()).ok();
        let verify = |intermediates: &[CertificateDer<'static>]| match (&verifier, &name) {
            (Ok(v), Some(n)) => v
                .verify_server_cert(&seen.chain[0], intermediates, n, &seen.ocsp, at)
                .map(|_| ()),
            _ => Err(rustls::Error::General("verifier setup".into())),
        };
        let verdict = verify(&seen.chain[1..]);
        let last = parsed.last().unwrap_or(leaf);
        // Trust anchors keep a name's contents without its SEQUENCE header.
        let anchor_subjects: Vec<&[u8]> = roots.roots.iter().map(|a| a.subject.as_ref()).collect();
        let ends_at_root = anchor_subjects.contains(&name_value(last.issuer().as_raw()))
            || anchor_subjects.contains(&name_value(last.subject().as_raw()));
        let issuer_sent = |c: &X509Certificate| {
            parsed
                .iter()
                .any(|p| p.subject().as_raw() == c.issuer().as_raw())
        };
        let private_root = added.iter().any(|s| {
            s.as_slice() == name_value(last.issuer().as_raw())
                || s.as_slice() == name_value(last.subject().as_raw())
        });
        let trusted = builds_path(&verdict);
        let incomplete = !self_signed && !ends_at_root && !issuer_sent(last);
        if trusted {
            let store = if private_root {
                "an added root"
            } else {
                "the Mozilla store (webpki-roots)"
            };
            self.add(
                "X-04",
                Bullet::Certificate,
                "chains to a trusted root",
                Status::Pass,
                format!("{label}chains to {store}"),
                "",
            );
        } else if let Err(e) = &verdict {
            let (why, fix) = if self_signed {
                (String::new(), "use a certificate from a public CA")
            } else if incomplete {
                (
                    " (no path with the certificates sent: see X-07)".to_string(),
                    "send the full chain (see X-07); if it still fails, use a CA in the system stores",
                )
            } else {
                (
                    String::new(),
                    "use a certificate from a CA in the system stores (Mozilla, Apple, Android)",
                )
            };
            self.add(
                "X-04",
                Bullet::Certificate,
                "chains to a trusted root",
                Status::Fail,
                format!("{label}{e}{why}"),
                fix,
            );
        }
        if incomplete {
            self.add("X-07", Bullet::Certificate, "the chain is complete as served", Status::Fail,
                format!("{label}the issuer of '{}' ('{}') is not sent and is not a root; devices without it cached fail (600001, -202){}", last.subject(), last.issuer(), self.aia_note(last, seen, &verify)),
                format!("append the intermediate '{}' to the certificate file (nginx ssl_certificate: use fullchain.pem)", last.issuer()));
        } else {
            self.add(
                "X-07",
                Bullet::Certificate,
                "the chain is complete as served",
                Status::Pass,
                format!("{label}{} certificate(s) sent", parsed.len()),
                "",
            );
        }
        // X-08: order, extras, root included.
        let mut order_ok = true;
        for w in parsed.windows(2) {
            if w[0].issuer().as_raw() != w[1].subject().as_raw() {
                order_ok = false;
            }
        }
        let root_sent = parsed.len() > 1 && last.subject().as_raw() == last.issuer().as_raw();
        if !order_ok {
            self.add(
                "X-08",
                Bullet::Certificate,
                "chain order and contents",
                Status::Warn,
                format!("{label}the certificates are out of order or include unrelated ones"),
                "send leaf first, then each issuer in turn",
            );
        } else if root_sent {
            self.add(
                "X-08",
                Bullet::Certificate,
                "chain order and contents",
                Status::Info,
                format!("{label}the root is sent too (harmless, wastes bytes)"),
                "",
            );
        } else {
            self.add(
                "X-08",
                Bullet::Certificate,
                "chain order and contents",
                Status::Pass,
                format!("{label}leaf first, each issuer next"),
                "",
            );
        }
        // X-09 / X-10: signature hashes and keys (roots exempt).
        let mut weak_sig = Vec::new();
        let mut weak_key = Vec::new();
        for (i, c) in parsed.iter().enumerate() {
            let is_root = c.subject().as_raw() == c.issuer().as_raw() && i > 0;
            if is_root {
                continue;
            }
            let sig = oid2sn(&c.signature_algorithm.algorithm, oid_registry())
                .map(str::to_string)
                .unwrap_or_else(|_| c.signature_algorithm.algorithm.to_id_string());
            let strong = matches!(
                sig.as_str(),
                "sha256WithRSAEncryption"
                    | "sha384WithRSAEncryption"
                    | "sha512WithRSAEncryption"
                    | "ecdsa-with-SHA256"
                    | "ecdsa-with-SHA384"
                    | "ecdsa-with-SHA512"
                    | "rsassa-pss"
                    | "RSASSA-PSS"
            );
            if !strong {
                weak_sig.push(format!("'{}' signed with {sig}", c.subject()));
            }
            match c.public_key().parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(k)) if k.key_size() < 2048 => {
                    weak_key.push(format!("'{}' RSA-{}", c.subject(), k.key_size()))
                }
                Ok(x509_parser::public_key::PublicKey::RSA(_)) => {}
                Ok(x509_parser::public_key::PublicKey::EC(k)) if i == 0 && k.key_size() < 256 => {
                    weak_key.push(format!("'{}' EC-{}", c.subject(), k.key_size()))
                }
                Ok(x509_parser::public_key::PublicKey::EC(_)) => {}
                _ => weak_key.push(format!(
                    "'{}' uses a key type iOS does not accept",
                    c.subject()
                )),
            }
        }
        if weak_sig.is_empty() {
            self.add(
                "X-09",
                Bullet::Ios,
                "SHA-256 or better signatures",
                Status::Pass,
                format!("{label}leaf and intermediates use SHA-2"),
                "",
            );
        } else {
            self.add(
                "X-09",
                Bullet::Ios,
                "SHA-256 or better signatures",
                Status::Fail,
                format!("{label}{}", weak_sig.join("; ")),
                "reissue with a SHA-256 signature",
            );
        }
        if weak_key.is_empty() {
            self.add(
                "X-10",
                Bullet::Ios,
                "RSA ≥ 2048 or ECDSA P-256/P-384",
                Status::Pass,
                format!("{label}key sizes meet ATS"),
                "",
            );
        } else {
            self.add(
                "X-10",
                Bullet::Ios,
                "RSA ≥ 2048 or ECDSA P-256/P-384",
                Status::Fail,
                format!("{label}{}", weak_key.join("; ")),
                "reissue with an RSA-2048 or ECDSA P-256 key",
            );
        }
        // X-11: EKU serverAuth.
        const EKU_SINCE: i64 = 1_561_939_200; // 2019-07-01
        let eku = leaf
            .extended_key_usage()
            .ok()
            .flatten()
            .map(|e| e.value.server_auth || e.value.any);
        match eku {
            Some(true) => self.add(
                "X-11",
                Bullet::Ios,
                "extendedKeyUsage includes serverAuth",
                Status::Pass,
                format!("{label}serverAuth present"),
                "",
            ),
            _ if nb < EKU_SINCE => self.add(
                "X-11",
                Bullet::Ios,
                "extendedKeyUsage includes serverAuth",
                Status::Info,
                format!("{label}no serverAuth EKU (issued before 2019-07-01)"),
                "",
            ),
            _ => self.add(
                "X-11",
                Bullet::Ios,
                "extendedKeyUsage includes serverAuth",
                Status::Fail,
                format!("{label}no serverAuth extended key usage; iOS 13+ refuses it"),
                "reissue with extendedKeyUsage = serverAuth",
            ),
        }
        // X-12: lifetime limits.
        let days = life as f64 / 86_400.0;
        const D398_SINCE: i64 = 1_598_918_400; // 2020-09-01
        const SC081_200: i64 = 1_773_532_800; // 2026-03-15
        const SC081_100: i64 = 1_805_068_800; // 2027-03-15
        const SC081_47: i64 = 1_868_140_800; // 2029-03-15
        if nb >= D398_SINCE && days > 398.0 {
            self.add(
                "X-12",
                Bullet::Ios,
                "lifetime within Apple's limits",
                Status::Fail,
                format!("{label}lifetime {days:.0} days > 398 (issued after 2020-09-01)"),
                "reissue with a lifetime of at most 397 days",
            );
        } else if nb >= EKU_SINCE && days > 825.0 {
            self.add(
                "X-12",
                Bullet::Ios,
                "lifetime within Apple's limits",
                Status::Fail,
                format!("{label}lifetime {days:.0} days > 825"),
                "reissue with a lifetime of at most 397 days",
            );
        } else {
            let cap = if nb >= SC081_47 {
                47.0
            } else if nb >= SC081_100 {
                100.0
            } else if nb >= SC081_200 {
                200.0
            } else {
                398.0
            };
            if days > cap {
                self.add("X-12", Bullet::Ios, "lifetime within Apple's limits", Status::Warn, format!("{label}lifetime {days:.0} days is over the CA/B cap of {cap:.0} days for its issue date"), "reissue within the current CA/Browser Forum limit");
            } else {
                self.add(
                    "X-12",
                    Bullet::Ios,
                    "lifetime within Apple's limits",
                    Status::Pass,
                    format!("{label}lifetime {days:.0} days"),
                    "",
                );
            }
        }
        // X-13: embedded SCTs.
        let mut logs: Vec<Vec<u8>> = Vec::new();
        for ext in leaf.extensions() {
            if let ParsedExtension::SCT(scts) = ext.parsed_extension() {
                for s in scts {
                    if !logs.iter().any(|l| l.as_slice() == s.id.key_id.as_slice()) {
                        logs.push(s.id.key_id.to_vec());
                    }
                }
            }
        }
        let needed = if days <= 180.0 { 2 } else { 3 };
        if !trusted {
            self.add("X-13", Bullet::Ios, "certificate transparency (Apple CT policy)", Status::Unknown, format!("{label}{} embedded SCT(s); no trusted path was built (see X-04), so whether Apple's CT policy applies is unknown", logs.len()), "");
        } else if private_root {
            self.add("X-13", Bullet::Ios, "certificate transparency (Apple CT policy)", Status::Info, format!("{label}{} embedded SCT(s); not required for a certificate from an added (private) root", logs.len()), "");
        } else if logs.is_empty() {
            self.add("X-13", Bullet::Ios, "certificate transparency (Apple CT policy)", Status::Fail, format!("{label}no embedded SCT (SCTs in the TLS extension or the OCSP staple cannot be seen here)"), "use a certificate from a CA that logs to CT (all public CAs do)");
        } else if logs.len() < needed {
            self.add("X-13", Bullet::Ios, "certificate transparency (Apple CT policy)", Status::Warn, format!("{label}{} embedded SCT(s) from distinct logs; Apple asks {needed} for this lifetime (log operators not checked)", logs.len()), "reissue from a CA that embeds enough SCTs");
        } else {
            self.add("X-13", Bullet::Ios, "certificate transparency (Apple CT policy)", Status::Pass, format!("{label}{} embedded SCTs from distinct logs (log operators and Apple approval not checked)", logs.len()), "");
        }
        // X-14: stapling.
        let ocsp_url = leaf
            .extensions()
            .iter()
            .any(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityInfoAccess(aia) => aia
                    .accessdescs
                    .iter()
                    .any(|d| d.access_method.to_id_string() == "1.3.6.1.5.5.7.48.1"),
                _ => false,
            });
        let must_staple = leaf
            .extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.24");
        let stapled = !seen.ocsp.is_empty();
        match (stapled, must_staple, ocsp_url) {
            (false, true, _) => self.add(
                "X-14",
                Bullet::Other,
                "OCSP stapling",
                Status::Fail,
                format!("{label}Must-Staple certificate without a staple"),
                "enable OCSP stapling (nginx: ssl_stapling on;)",
            ),
            (true, _, _) => self.add(
                "X-14",
                Bullet::Other,
                "OCSP stapling",
                Status::Pass,
                format!(
                    "{label}an OCSP response is stapled ({} bytes; its status is not parsed)",
                    seen.ocsp.len()
                ),
                "",
            ),
            (false, false, true) => self.add(
                "X-14",
                Bullet::Other,
                "OCSP stapling",
                Status::Info,
                format!("{label}the leaf has an OCSP URL but no staple is sent"),
                "enable OCSP stapling (nginx: ssl_stapling on;)",
            ),
            (false, false, false) => self.add(
                "X-14",
                Bullet::Other,
                "OCSP stapling",
                Status::Info,
                format!("{label}n/a: the leaf has no OCSP URL"),
                "",
            ),
        }
    }

    fn no_sni(&mut self, addr: SocketAddr, first: &Seen) {
        let offer = Offer {
            sni: false,
            ..Offer::versions(true, true)
        };
        match self.probe(addr, &offer) {
            Probe::Done { seen, .. } if seen.chain.first() == first.chain.first() => {
                self.add(
                    "S-01",
                    Bullet::Other,
                    "the same certificate without SNI",
                    Status::Pass,
                    "the same leaf is served without SNI",
                    "",
                );
            }
            Probe::Done { .. } => self.add(
                "S-01",
                Bullet::Other,
                "the same certificate without SNI",
                Status::Info,
                "another certificate is served without SNI (clients without SNI see it)",
                "make this site the default server for its IP and port",
            ),
            Probe::Refused(why) | Probe::Failed(why) => self.add(
                "S-01",
                Bullet::Other,
                "the same certificate without SNI",
                Status::Info,
                format!("handshakes without SNI are refused ({why})"),
                "",
            ),
        }
        self.http_checks(addr);
    }

    /// H-01 and, with a path, the sample response's text checks, over one
    /// plain HTTP/1.1 exchange on a TLS connection.
    fn http_checks(&mut self, addr: SocketAddr) {
        let t = self.target;
        if !matches!(t.scheme.as_str(), "https") {
            return;
        }
        let path = t.path.clone().unwrap_or_else(|| "/".into());
        match self.fetch(addr, &path) {
            Ok((head, body)) => {
                let hsts = header_value(&head, "strict-transport-security");
                match hsts {
                    Some(v) => self.add(
                        "H-01",
                        Bullet::Other,
                        "HSTS header",
                        Status::Pass,
                        format!("Strict-Transport-Security: {v}"),
                        "",
                    ),
                    None => self.add(
                        "H-01",
                        Bullet::Other,
                        "HSTS header",
                        Status::Info,
                        format!("no Strict-Transport-Security on GET {path}"),
                        "add Strict-Transport-Security: max-age=31536000",
                    ),
                }
                if t.path.is_some() {
                    let ctype = header_value(&head, "content-type").unwrap_or_default();
                    let declared = ctype.to_ascii_lowercase().split(';').skip(1).find_map(|p| {
                        p.trim()
                            .strip_prefix("charset=")
                            .map(|c| c.trim_matches('"').to_string())
                    });
                    let bom = body.starts_with(b"\xEF\xBB\xBF");
                    let utf8 = std::str::from_utf8(&body).is_ok();
                    let (status, msg, fix) = match (utf8, bom, declared.as_deref()) {
                        (true, false, Some("utf-8") | None) => (Status::Pass, format!("{} bytes of UTF-8 ({ctype})", body.len()), ""),
                        (true, true, _) => (Status::Warn, "UTF-8 with a BOM: the mini program strips it, other clients may not".to_string(), "send UTF-8 without a byte-order mark"),
                        (true, false, Some(other)) => (Status::Warn, format!("valid UTF-8 but declared charset={other}"), "declare charset=utf-8"),
                        (false, _, Some(cs)) => (Status::Info, format!("not UTF-8; declared charset={cs} is converted by the mini program"), "prefer UTF-8"),
                        (false, _, None) => (Status::Warn, "not UTF-8 and no charset declared: the mini program guesses (or fails with 602302)".to_string(), "send UTF-8, or declare the charset in Content-Type"),
                    };
                    self.add(
                        "U-01",
                        Bullet::Other,
                        "sample response is UTF-8 without a BOM",
                        status,
                        format!("GET {path}: {msg}"),
                        fix,
                    );
                }
            }
            Err(why) => self.add(
                "H-01",
                Bullet::Other,
                "HSTS header",
                Status::Unknown,
                format!("GET {path} failed: {why}"),
                "",
            ),
        }
    }

    fn fetch(&self, addr: SocketAddr, path: &str) -> Result<(String, Vec<u8>), String> {
        let recorder = Arc::new(AcceptAny::new(
            ring::default_provider().signature_verification_algorithms,
            None,
            false,
        ));
        let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(recorder)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = ServerName::try_from(self.target.host.clone()).map_err(|e| e.to_string())?;
        let conn = ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        let tcp =
            TcpStream::connect_timeout(&addr, self.checker.timeout).map_err(|e| e.to_string())?;
        let _ = tcp.set_read_timeout(Some(self.checker.timeout));
        let _ = tcp.set_write_timeout(Some(self.checker.timeout));
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let host = match self.target.port {
            443 => self.target.host.clone(),
            p => format!("{}:{p}", self.target.host),
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: wxnet-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        tls.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    if raw.len() > 1024 * 1024 {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) if !raw.is_empty() && raw.windows(4).any(|w| w == b"\r\n\r\n") => {
                    let _ = e;
                    break;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no HTTP response head")?;
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut body = raw[end + 4..].to_vec();
        if header_value(&head, "transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            body = dechunk(&body);
        } else if let Some(n) =
            header_value(&head, "content-length").and_then(|v| v.parse::<usize>().ok())
        {
            body.truncate(n);
        }
        Ok((head, body))
    }

    /// What the issuer URL (AIA) of `last` says about a missing
    /// intermediate: fetched (http, one DER certificate) and tried.
    fn aia_note(
        &self,
        last: &X509Certificate,
        seen: &Seen,
        verify: &dyn Fn(&[CertificateDer<'static>]) -> Result<(), rustls::Error>,
    ) -> String {
        let Some(url) = aia_url(last) else {
            return "; the certificate names no issuer URL (AIA)".into();
        };
        match self.fetch_der(&url) {
            Err(why) => format!(
                "; fetching the issuer from {url} failed ({why}), so the repaired chain was not tried"
            ),
            Ok(der) => {
                let mut with = seen.chain[1..].to_vec();
                with.push(der);
                if builds_path(&verify(&with)) {
                    format!(
                        "; with the issuer from {url} the chain verifies, so only the server's file lacks it"
                    )
                } else {
                    format!("; the issuer from {url} does not complete a trusted path either")
                }
            }
        }
    }

    /// One certificate from an `http://` issuer URL (DER, as CAs serve
    /// them; PKCS#7 bundles are not read).
    fn fetch_der(&self, url: &str) -> Result<CertificateDer<'static>, String> {
        let u = url::Url::parse(url).map_err(|e| e.to_string())?;
        if u.scheme() != "http" {
            return Err("only http:// issuer URLs are fetched".into());
        }
        let host = u.host_str().ok_or("no host")?.to_ascii_lowercase();
        let port = u.port_or_known_default().unwrap_or(80);
        let addr = match self.checker.resolve.iter().find(|(h, _)| *h == host) {
            Some((_, a)) => *a,
            None => (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| format!("DNS lookup of {host} failed: {e}"))?
                .next()
                .ok_or("no address")?,
        };
        let timeout = self.checker.timeout.min(Duration::from_secs(5));
        let mut tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
        let _ = tcp.set_read_timeout(Some(timeout));
        let _ = tcp.set_write_timeout(Some(timeout));
        let path = &url[u.origin().ascii_serialization().len()..];
        let path = if path.is_empty() { "/" } else { path };
        // One write: a server may answer after the first bytes and close.
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: wxnet-check\r\n\r\n");
        tcp.write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        tcp.take(256 * 1024)
            .read_to_end(&mut raw)
            .map_err(|e| e.to_string())?;
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no HTTP response")?;
        let status = String::from_utf8_lossy(&raw[..end]);
        if status.split_whitespace().nth(1) != Some("200") {
            return Err(status.lines().next().unwrap_or_default().to_string());
        }
        let body = raw[end + 4..].to_vec();
        if X509Certificate::from_der(&body).is_err() {
            return Err("the response is not one DER certificate".into());
        }
        Ok(CertificateDer::from(body))
    }

    /// The rules this tool cannot decide, listed so they are never taken
    /// for passes.
    fn unknown_by_design(&mut self) {
        let rows: [(&'static str, Bullet, &'static str, &str); 6] = [
            (
                "P-03",
                Bullet::TlsVersion,
                "TLS 1.0/1.1 for old Android",
                "rustls cannot offer TLS 1.0/1.1; a raw ClientHello probe would be needed",
            ),
            (
                "P-04",
                Bullet::TlsVersion,
                "no SSLv3/SSLv2",
                "rustls cannot offer SSLv3; a raw ClientHello probe would be needed",
            ),
            (
                "C-02",
                Bullet::Ios,
                "no weak or non-forward-secret suites",
                "CBC, RSA key exchange, 3DES and RC4 suites cannot be offered by rustls",
            ),
            (
                "X-05",
                Bullet::Certificate,
                "chains to Apple's root store",
                "no Apple root snapshot is bundled; X-04 covers the Mozilla store only",
            ),
            (
                "X-06",
                Bullet::Certificate,
                "chains to Android's root store",
                "no AOSP root snapshot is bundled; X-04 covers the Mozilla store only",
            ),
            (
                "X-15",
                Bullet::Certificate,
                "not issued under a distrusted CA",
                "no CA denylist is bundled",
            ),
        ];
        for (id, bullet, rule, why) in rows {
            self.add(id, bullet, rule, Status::Unknown, why, "");
        }
        self.add(
            "ICP",
            Bullet::Domain,
            "ICP filing and the domain list in the mp backend",
            Status::Unknown,
            "not visible over the network: check the mp backend (开发管理 → 服务器域名)",
            "",
        );
    }
}

/// Whether a verification result shows a path to a trusted root (a name
/// or date problem is judged by X-01 / X-02, not by the path).
fn builds_path(r: &Result<(), rustls::Error>) -> bool {
    matches!(
        r,
        Ok(())
            | Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. }
                    | CertificateError::Expired
                    | CertificateError::ExpiredContext { .. }
                    | CertificateError::NotValidYet
                    | CertificateError::NotValidYetContext { .. },
            ))
    )
}

/// The caIssuers URL of `c`'s Authority Information Access, if any.
fn aia_url(c: &X509Certificate) -> Option<String> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                aia.accessdescs.iter().find_map(|d| {
                    match (&d.access_method.to_id_string()[..], &d.access_location) {
                        ("1.3.6.1.5.5.7.48.2", GeneralName::URI(u)) => Some(u.to_string()),
                        _ => None,
                    }
                })
            }
            _ => None,
        })
}

/// The contents of a DER `Name` without its SEQUENCE tag and length, as
/// webpki keeps trust-anchor subjects.
fn name_value(der: &[u8]) -> &[u8] {
    let Some(&len) = der.get(1) else {
        return der;
    };
    let header = if len < 0x80 {
        2
    } else {
        2 + usize::from(len & 0x7f)
    };
    der.get(header..).unwrap_or(der)
}

/// Whether SAN entry `pattern` covers `host`; a wildcard covers exactly
/// one leftmost label.
fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == host,
    }
}

fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|n| *n > 0) else {
            break;
        };
        let start = end + 2;
        let stop = (start + size).min(raw.len());
        out.extend_from_slice(&raw[start..stop]);
        raw = raw.get(stop + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.example.com", "api.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("api.example.com", "api.example.com"));
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }

    #[test]
    fn targets_are_read_as_urls_or_hosts() {
        let t = Target::parse("api.example.com:8443").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.is_none()),
            ("api.example.com", 8443, true)
        );
        let t = Target::parse("https://api.example.com/x?y=1").unwrap();
        assert_eq!(t.path.as_deref(), Some("/x?y=1"));
        assert!(Target::parse("https://127.0.0.1").unwrap().local());
    }
}

/// One domain-list entry of a `wxnet.json`, as `doctor` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryVerdict {
    /// The list: `request`, `uploadFile`, `downloadFile` or `socket`.
    pub list: String,
    /// The entry as written.
    pub entry: String,
    /// `None` when the policy accepts the entry, else the rule it breaks.
    pub problem: Option<String>,
}

/// Validate every domain entry of a `wxnet.json` text against the policy
/// (scheme, IP, localhost, wildcards, paths, the port rule,
/// `api.weixin.qq.com`, at most 20 per list), reporting each entry instead
/// of stopping at the first.
///
/// ```
/// let v = wxnet::check::domain_entries(r#"{"domains":{"request":["https://a.com","https://1.2.3.4"]}}"#).unwrap();
/// assert_eq!(v[0].problem, None);
/// assert!(v[1].problem.as_deref().unwrap().contains("IP"));
/// ```
pub fn domain_entries(wxnet_json: &str) -> Result<Vec<EntryVerdict>, Error> {
    let bad = |why: String| Error::with_reason(API, crate::ErrorKind::Config, &why);
    let root: serde_json::Value =
        serde_json::from_str(wxnet_json).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let mut out = Vec::new();
    let Some(domains) = root.get("domains") else {
        return Ok(out);
    };
    let lists = [
        ("request", crate::ApiKind::Request),
        ("uploadFile", crate::ApiKind::UploadFile),
        ("downloadFile", crate::ApiKind::DownloadFile),
        ("socket", crate::ApiKind::ConnectSocket),
    ];
    for (key, api) in lists {
        let Some(list) = domains.get(key) else {
            continue;
        };
        let entries = list
            .as_array()
            .ok_or_else(|| bad(format!("domains.{key} must be an array of strings")))?;
        for (i, e) in entries.iter().enumerate() {
            let entry = e.as_str().unwrap_or_default().to_string();
            let mut problem = match e.as_str() {
                Some(s) => crate::policy::parse_entry(api, s).err(),
                None => Some("must be a string".into()),
            };
            if i >= crate::policy::MAX_DOMAINS && problem.is_none() {
                problem = Some(format!(
                    "over the limit of {} entries per list",
                    crate::policy::MAX_DOMAINS
                ));
            }
            out.push(EntryVerdict {
                list: key.to_string(),
                entry,
                problem,
            });
        }
    }
    Ok(out)
}
