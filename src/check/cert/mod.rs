//! The certificate rules (X-01 … X-14), judged offline on a chain a probe
//! recorded (or a file read by `check_chain`).
//!
//! [`Chain`] is what every rule reads: the parsed chain, the host, the
//! time judged at, the trust store, and the facts several rules share
//! (self-signed, the verifier's verdict, whether the chain is complete),
//! computed once. Each rule is then one function that only reports:
//! identity and validity rules in `rules.rs`, trust and completeness in
//! `trust.rs`, revocation in `revocation.rs` (over the OCSP reader of
//! `ocsp.rs` and the small DER reader of `der.rs`).

mod ocsp;
mod revocation;
mod rules;
mod trust;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::probe::{ECDSA_SCHEMES, Offer, Probe, RSA_SCHEMES, Seen};
use super::rules::Verdicts;
use super::{Checker, Run};

impl Run<'_> {
    /// C-04, then the certificate rules once per certificate type served
    /// (TLS 1.3 through rustls, then `raw`: what the raw probe got on
    /// older versions).
    pub(super) fn certificates(
        &mut self,
        addr: SocketAddr,
        first: &Seen,
        raw: Vec<(&'static str, Seen)>,
    ) {
        let mut chains: Vec<(&str, Seen)> = Vec::new();
        for (kind, schemes) in [("RSA", &RSA_SCHEMES[..]), ("ECDSA", &ECDSA_SCHEMES[..])] {
            let offer = Offer {
                schemes: Some(schemes.to_vec()),
                ..Offer::versions(false, true)
            };
            if let Probe::Done(seen, _) = self.probe(addr, &offer) {
                if !seen.chain.is_empty()
                    && !chains.iter().any(|(_, s)| s.chain[0] == seen.chain[0])
                {
                    chains.push((kind, seen));
                }
            }
        }
        for (kind, seen) in raw {
            if !chains
                .iter()
                .any(|(k, s)| *k == kind || s.chain[0] == seen.chain[0])
            {
                chains.push((kind, seen));
            }
        }
        if chains.is_empty() && !first.chain.is_empty() {
            chains.push(("served", first.clone()));
        }
        let kinds: Vec<&str> = chains.iter().map(|(k, _)| *k).collect();
        let msg = if kinds.is_empty() {
            "no certificate seen".to_string()
        } else {
            format!("{} certificate(s): {}", kinds.len(), kinds.join(", "))
        };
        self.out.info("C-04", msg, "");
        for (kind, seen) in &chains {
            if chains.len() > 1 {
                self.out.label = format!("[{kind}] ");
            }
            judge(self.checker, &self.target.host, seen, &mut self.out);
            self.out.label.clear();
        }
    }
}

/// Every certificate rule on `seen`, as served for `host`.
pub(super) fn judge(checker: &Checker, host: &str, seen: &Seen, out: &mut Verdicts) {
    match Chain::new(checker, host, seen) {
        Some(chain) => chain.judge(out),
        None => out.fail(
            "X-01",
            "the certificate cannot be parsed",
            "install a valid X.509 certificate",
        ),
    }
}

/// What the certificate rules read: one chain and what is known about it.
struct Chain<'a> {
    checker: &'a Checker,
    seen: &'a Seen,
    host: &'a str,
    /// The certificates that parse, leaf first; never empty.
    parsed: Vec<X509Certificate<'a>>,
    /// The time judged at, in seconds since the epoch.
    secs: i64,
    /// The Mozilla store plus the checker's added roots.
    roots: Arc<RootCertStore>,
    /// The subjects of the added roots, as trust anchors keep them.
    added: Vec<Vec<u8>>,
    verifier: Option<(Arc<WebPkiServerVerifier>, ServerName<'static>)>,
    /// The leaf is its own issuer, sent alone, and not an added root.
    self_signed: bool,
    /// The verifier's verdict on the chain as served.
    verdict: Result<(), rustls::Error>,
    /// A path to a trusted root was built (name and dates aside).
    trusted: bool,
    /// The chain ends at an added root rather than a public one.
    private_root: bool,
    /// The last certificate sent is neither a root nor issued by one.
    incomplete: bool,
    /// The root the chain ends at, when no store has it: the last
    /// certificate sent if it is a root, or the issuer of a CA certificate
    /// sent last (intermediates are issued by roots far more often than a
    /// server leaves out two certificates).
    unknown_root: Option<String>,
}

impl<'a> Chain<'a> {
    fn new(checker: &'a Checker, host: &'a str, seen: &'a Seen) -> Option<Chain<'a>> {
        let parsed: Vec<_> = seen
            .chain
            .iter()
            .filter_map(|c| X509Certificate::from_der(c).ok().map(|(_, x)| x))
            .collect();
        parsed.first()?;
        let secs = checker
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as i64;
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut own = RootCertStore::empty();
        for c in &checker.roots {
            let _ = roots.add(c.clone());
            let _ = own.add(c.clone());
        }
        let roots = Arc::new(roots);
        let verifier = WebPkiServerVerifier::builder_with_provider(
            roots.clone(),
            Arc::new(ring::default_provider()),
        )
        .build()
        .ok()
        .zip(ServerName::try_from(host.to_owned()).ok());
        let mut chain = Chain {
            checker,
            seen,
            host,
            parsed,
            secs,
            roots,
            added: own
                .roots
                .iter()
                .map(|a| a.subject.as_ref().to_vec())
                .collect(),
            verifier,
            self_signed: false,
            verdict: Ok(()),
            trusted: false,
            private_root: false,
            incomplete: false,
            unknown_root: None,
        };
        chain.learn();
        Some(chain)
    }

    /// The facts several rules share.
    fn learn(&mut self) {
        let (leaf, last) = (self.leaf(), self.last());
        let self_signed = leaf.subject().as_raw() == leaf.issuer().as_raw()
            && self.parsed.len() == 1
            && !self.is_added(leaf.subject().as_raw());
        let verdict = self.verify(&self.seen.chain[1..]);
        // Trust anchors keep a name's contents without its SEQUENCE header.
        let ends_at_root = self.roots.roots.iter().any(|a| {
            let s = a.subject.as_ref();
            s == name_value(last.issuer().as_raw()) || s == name_value(last.subject().as_raw())
        });
        let issuer_sent = self
            .parsed
            .iter()
            .any(|p| p.subject().as_raw() == last.issuer().as_raw());
        let private_root =
            self.is_added(last.issuer().as_raw()) || self.is_added(last.subject().as_raw());
        let incomplete = !self_signed && !ends_at_root && !issuer_sent;
        let last_is_root = last.subject().as_raw() == last.issuer().as_raw();
        let last_is_ca = last.is_ca() && self.parsed.len() > 1;
        let unknown_root = match (self_signed || builds_path(&verdict), last_is_root) {
            (true, _) => None,
            (false, true) if !ends_at_root => Some(last.subject().to_string()),
            (false, false) if incomplete && last_is_ca => Some(last.issuer().to_string()),
            _ => None,
        };
        self.incomplete = incomplete;
        self.unknown_root = unknown_root;
        self.self_signed = self_signed;
        self.private_root = private_root;
        self.trusted = builds_path(&verdict);
        self.verdict = verdict;
    }

    /// Every rule, in report order.
    fn judge(&self, out: &mut Verdicts) {
        self.names_host(out);
        self.validity(out);
        self.not_self_signed(out);
        self.chains_to_root(out);
        self.platform_stores(out);
        self.complete(out);
        self.order(out);
        self.signatures(out);
        self.key_sizes(out);
        self.server_auth(out);
        self.lifetime(out);
        self.transparency(out);
        self.revocation(out);
    }

    fn leaf(&self) -> &X509Certificate<'a> {
        &self.parsed[0]
    }

    fn last(&self) -> &X509Certificate<'a> {
        &self.parsed[self.parsed.len() - 1]
    }

    /// Whether the DER name `subject` is an added root's.
    fn is_added(&self, subject: &[u8]) -> bool {
        self.added
            .iter()
            .any(|s| s.as_slice() == name_value(subject))
    }

    /// The leaf in seconds: notBefore, notAfter, lifetime.
    fn window(&self) -> (i64, i64, i64) {
        let v = self.leaf().validity();
        let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
        (nb, na, na - nb + 1)
    }

    /// The leaf's lifetime in days.
    fn days(&self) -> f64 {
        self.window().2 as f64 / 86_400.0
    }

    /// Verify the leaf with `intermediates` at the judged time.
    fn verify(&self, intermediates: &[CertificateDer<'static>]) -> Result<(), rustls::Error> {
        let Some((verifier, name)) = &self.verifier else {
            return Err(rustls::Error::General("verifier setup".into()));
        };
        let at = UnixTime::since_unix_epoch(Duration::from_secs(self.secs.max(0) as u64));
        verifier
            .verify_server_cert(
                &self.seen.chain[0],
                intermediates,
                name,
                &self.seen.ocsp,
                at,
            )
            .map(|_| ())
    }
}

/// Whether a verification result shows a path to a trusted root (a name
/// or date problem is judged by, not by the path).
pub(in crate::check) fn builds_path(r: &Result<(), rustls::Error>) -> bool {
    use rustls::CertificateError as E;
    matches!(
        r,
        Ok(())
            | Err(rustls::Error::InvalidCertificate(
                E::NotValidForName
                    | E::NotValidForNameContext { .. }
                    | E::Expired
                    | E::ExpiredContext { .. }
                    | E::NotValidYet
                    | E::NotValidYetContext { .. },
            ))
    )
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
