//! Check a backend the way the mini program will see it: the TLS and
//! certificate rules of the WeChat network docs and of Apple's App
//! Transport Security, one verdict per rule, each with a one-line fix.
//!
//! The probes are real handshakes made with rustls (one per TLS version,
//! cipher suite, key-exchange group and certificate type), with a verifier
//! that only records what the server sent; every certificate verdict is
//! computed afterwards, offline, with webpki and x509-parser. What rustls
//! cannot offer (SSLv3, TLS 1.0/1.1, CBC, RSA key exchange and weak
//! suites) is asked with hand-written ClientHellos that stop at the
//! server's first flight, which also yields the chain of servers rustls
//! cannot talk to. What needs data this crate does not bundle (Apple's
//! and Android's root stores, the CA denylist) is reported as
//! [`Status::Unknown`] with the reason, never as a pass.
//!
//! ```no_run
//! let report = wxnet::check::Checker::new().check("https://api.example.com")?;
//! for r in &report.results {
//!     println!("{} {} {}", r.id, r.status.label(), r.message);
//! }
//! let failures = report.results.iter().filter(|r| r.status == wxnet::check::Status::Fail);
//! assert_eq!(report.failed(), failures.count() > 0);
//! # Ok::<(), wxnet::Error>(())
//! ```
//!
//! # How the parts meet
//!
//! [`Checker::check`] reads the target, then a `Run` walks the rules in
//! report order: the domain rules (here), the handshakes of `probe` and
//! the ClientHellos of `raw` feeding `protocol` (reachability, versions,
//! suites, groups, SNI; `raw` judges what only it sees) and `cert` (one
//! function per certificate rule over a shared chain context), then
//! `http` (HSTS, the sample response). Every verdict names its rule by
//! id only; `rules` holds the one table of ids with their bullet and
//! title and turns verdicts into the [`Report`] of `report` (text and
//! JSON). `doctor` judges the domain lists of a client's settings with
//! the client's own policy, entry by entry.

mod cert;
mod der;
mod doctor;
mod html;
mod http;
mod platform;
mod probe;
mod protocol;
mod raw;
mod report;
mod rules;
mod stores;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;

pub use doctor::{EntryVerdict, configured_proxy, domain_entries, domain_verdicts};
pub use platform::{Platform, PlatformVerdict, Verdict};
pub use report::{AddressReport, Bullet, CheckResult, Report, Status};
pub use stores::RootStore;

use crate::error::{Api, Error};
use rules::Verdicts;

const API: Api = Api::Check;

/// Runs checks; configure it like a client (`resolve`, added roots).
///
/// A `Checker` is cheap to clone and may be shared between threads; each
/// [`check`](Checker::check) makes its own connections.
///
/// ```
/// fn shareable<T: Send + Sync + Clone>(_: &T) {}
/// shareable(&wxnet::check::Checker::new());
/// ```
#[derive(Debug, Clone)]
pub struct Checker {
    resolve: Vec<(String, SocketAddr)>,
    roots: Vec<CertificateDer<'static>>,
    at: Option<SystemTime>,
    timeout: Duration,
    allow_local: bool,
    online: bool,
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Checker>();
    send_sync::<Report>();
    send_sync::<CheckResult>();
    send_sync::<AddressReport>();
    send_sync::<EntryVerdict>();
};

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
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    /// let leaf = std::fs::read(format!("{dir}/leaf-rsa1024-sha1.pem"))?;
    /// // A private root is not in the Mozilla store.
    /// let r = wxnet::check::Checker::new().check_chain("api.example.com", &leaf)?;
    /// assert_eq!(r.get("X-04").unwrap().status, wxnet::check::Status::Fail);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Checker {
        Checker {
            resolve: Vec::new(),
            roots: Vec::new(),
            at: None,
            timeout: Duration::from_secs(10),
            allow_local: false,
            online: false,
        }
    }

    /// Connect to `addr` for `host` (like curl `--resolve`); names and
    /// certificates are still checked against `host`. Given several times
    /// for one host, every address is checked, as every address DNS gives
    /// is without it (round-robin DNS).
    ///
    /// ```
    /// // Nothing listens there: the report says so for this address.
    /// let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    /// let c = wxnet::check::Checker::new().resolve("a.example.com", dead);
    /// let r = c.timeout(std::time::Duration::from_secs(2)).check("a.example.com")?;
    /// assert_eq!(r.address, Some(dead));
    /// assert_eq!(r.get("T-02").unwrap().status, wxnet::check::Status::Fail);
    /// assert_eq!(r.addresses.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
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
    /// use wxnet::check::{Checker, Status};
    /// assert!(Checker::new().add_root_certificate(b"junk").is_err());
    ///
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    /// let root = std::fs::read(format!("{dir}/static-root.pem"))?;
    /// let leaf = std::fs::read(format!("{dir}/leaf-rsa1024-sha1.pem"))?;
    /// let c = Checker::new().add_root_certificate(&root)?;
    /// let r = c.check_chain("api.example.com", &leaf)?;
    /// assert_ne!(r.get("X-04").unwrap().status, Status::Pass, "SHA-1 is refused");
    /// assert_ne!(r.get("X-13").unwrap().status, Status::Fail, "no CT rule for it");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_root_certificate(mut self, pem_or_der: &[u8]) -> Result<Checker, Error> {
        self.roots
            .extend(crate::tls::parse_certificates(pem_or_der).map_err(|e| e.for_api(API))?);
        Ok(self)
    }

    /// Judge validity at `at` instead of now.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use wxnet::check::{Checker, Status};
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    /// let leaf = std::fs::read(format!("{dir}/leaf-rsa1024-sha1.pem"))?;
    /// let host = "api.example.com";
    /// let x02 = |c: Checker| c.check_chain(host, &leaf).unwrap().get("X-02").cloned();
    /// let in_1970 = x02(Checker::new().at(UNIX_EPOCH)).unwrap();
    /// assert_eq!(in_1970.status, Status::Fail);
    /// assert!(in_1970.message.starts_with("not valid before"));
    /// let dec_2026 = UNIX_EPOCH + Duration::from_secs(1_796_083_200);
    /// assert_eq!(x02(Checker::new().at(dec_2026)).unwrap().status, Status::Pass);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(mut self, at: SystemTime) -> Checker {
        self.at = Some(at);
        self
    }

    /// Timeout of each connection and handshake. Defaults to 10 s.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// // Accepted by the kernel, never answered: the handshake waits.
    /// let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let c = wxnet::check::Checker::new()
    ///     .resolve("api.example.com", silent.local_addr()?)
    ///     .timeout(Duration::from_millis(200));
    /// let start = Instant::now();
    /// let r = c.check("api.example.com")?;
    /// assert_eq!(r.get("T-02").unwrap().status, wxnet::check::Status::Fail);
    /// assert!(start.elapsed() < Duration::from_secs(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Checker {
        self.timeout = timeout;
        self
    }

    /// Report an IP or localhost target as a failure of T-01 but go on
    /// with the other checks (they fail at once otherwise).
    ///
    /// ```
    /// let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    /// let url = format!("https://{dead}/");
    /// let strict = wxnet::check::Checker::new().check(&url)?;
    /// assert!(strict.get("T-02").is_none(), "stops after T-01");
    /// let lenient = wxnet::check::Checker::new().allow_local(true).check(&url)?;
    /// assert_eq!(lenient.get("T-02").unwrap().status, wxnet::check::Status::Fail);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow_local(mut self, yes: bool) -> Checker {
        self.allow_local = yes;
        self
    }

    /// When nothing is stapled, ask the certificate's OCSP responder over
    /// HTTP (X-14). Off by default: a check then makes no connection
    /// beyond the server itself and the issuer URL of a missing
    /// intermediate.
    ///
    /// ```
    /// // Off unless asked for.
    /// assert!(format!("{:?}", wxnet::check::Checker::new()).contains("online: false"));
    /// let c = wxnet::check::Checker::new().online(true);
    /// assert!(format!("{c:?}").contains("online: true"));
    /// ```
    pub fn online(mut self, yes: bool) -> Checker {
        self.online = yes;
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
            out: Verdicts::default(),
        };
        let mut report = Report::new(target);
        if run.scheme_and_name() {
            match self.addresses(&t) {
                Ok(addrs) => {
                    for address in addrs {
                        let mut at = Run {
                            checker: self,
                            target: &t,
                            out: Verdicts::default(),
                        };
                        at.all(address);
                        at.out.facts.address = Some(address);
                        report.facts.push(at.out.facts);
                        report.addresses.push(AddressReport {
                            address,
                            results: at.out.results,
                        });
                    }
                }
                Err(why) => run
                    .out
                    .fail("T-02", why, "publish a DNS record for the name"),
            }
        }
        report.address = report.addresses.first().map(|a| a.address);
        report.results = run.out.results;
        report.results.extend(report::merge(&report.addresses));
        Ok(report)
    }

    /// Judge a certificate chain file before it is deployed: the
    /// certificate checks (X-01 … X-13) on `chain` (PEM with the leaf
    /// first, or one DER certificate) for `host`, without any network.
    ///
    /// ```
    /// let e = wxnet::check::Checker::new().check_chain("api.example.com", b"junk").unwrap_err();
    /// assert_eq!(e.kind(), wxnet::ErrorKind::Config);
    /// ```
    pub fn check_chain(&self, host: &str, chain: &[u8]) -> Result<Report, Error> {
        let certs = crate::tls::parse_certificates(chain).map_err(|e| e.for_api(API))?;
        let t = Target::parse(host)?;
        let seen = probe::Seen {
            chain: certs,
            ocsp: Vec::new(),
        };
        let mut out = Verdicts::default();
        cert::judge(self, &t.host, &seen, &mut out);
        // Stapling is a property of the server, not of the file.
        out.results.retain(|r| r.id != "X-14");
        let mut report = Report::new(host);
        report.results = out.results;
        report.facts.push(out.facts);
        Ok(report)
    }

    fn now(&self) -> SystemTime {
        self.at.unwrap_or_else(SystemTime::now)
    }

    /// The addresses `resolve` gave for `host`, in the order given, once
    /// each.
    fn resolved(&self, host: &str) -> Vec<SocketAddr> {
        let mut all: Vec<SocketAddr> = Vec::new();
        for (_, a) in self.resolve.iter().filter(|(h, _)| h == host) {
            if !all.contains(a) {
                all.push(*a);
            }
        }
        all
    }

    /// Every address to check for `t`: the `resolve` map, an IP target
    /// itself, or every address DNS gives (IPv4 and IPv6), once each.
    fn addresses(&self, t: &Target) -> Result<Vec<SocketAddr>, String> {
        let given = self.resolved(&t.host);
        if !given.is_empty() {
            return Ok(given);
        }
        if let Ok(ip) = t.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, t.port)]);
        }
        let mut all: Vec<SocketAddr> = Vec::new();
        let found = (t.host.as_str(), t.port)
            .to_socket_addrs()
            .map_err(|e| format!("DNS lookup of {} failed: {e}", t.host))?;
        for a in found {
            if !all.contains(&a) {
                all.push(a);
            }
        }
        if all.is_empty() {
            return Err(format!("{} has no address", t.host));
        }
        Ok(all)
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

/// One `check` in progress.
struct Run<'a> {
    checker: &'a Checker,
    target: &'a Target,
    out: Verdicts,
}

impl Run<'_> {
    /// Every check that needs a connection, on `addr`.
    fn all(&mut self, addr: SocketAddr) {
        let survey = self.survey(addr);
        let Some((seen, rustls)) = self.reachable(addr, &survey) else {
            self.out.undecidable();
            return;
        };
        self.versions(addr, &survey);
        self.groups(addr, rustls);
        self.certificates(addr, &seen, Run::raw_chains(&survey));
        if rustls {
            self.no_sni(addr, &seen);
        } else {
            self.raw_no_sni(addr, &seen, &survey);
        }
        self.http_checks(addr);
        self.out.undecidable();
    }

    /// T-01; whether to go on.
    fn scheme_and_name(&mut self) -> bool {
        let t = self.target;
        if !matches!(t.scheme.as_str(), "https" | "wss") {
            self.out.fail(
                "T-01",
                format!("scheme {} is not allowed", t.scheme),
                "serve the API over https:// (wss:// for sockets)",
            );
        } else if t.local() {
            self.out.fail(
                "T-01",
                format!("{} is an IP address or localhost", t.host),
                "give the server a domain name and a certificate for it",
            );
            return self.checker.allow_local;
        } else {
            self.out.pass("T-01", format!("{}://{}", t.scheme, t.host));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn every_resolved_address_is_checked_once() {
        let (a, b): (SocketAddr, SocketAddr) = (
            "127.0.0.1:443".parse().unwrap(),
            "[::1]:443".parse().unwrap(),
        );
        let c = Checker::new()
            .resolve("API.example.com.", a)
            .resolve("api.example.com", b)
            .resolve("api.example.com", a)
            .resolve("other.example.com", b);
        let t = Target::parse("api.example.com").unwrap();
        assert_eq!(c.addresses(&t).unwrap(), [a, b]);
        let ip = Target::parse("https://10.0.0.1:8443").unwrap();
        assert_eq!(
            c.addresses(&ip).unwrap(),
            ["10.0.0.1:8443".parse().unwrap()]
        );
    }
}
