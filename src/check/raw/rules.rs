//! The rules only the raw probe can decide: TLS 1.0/1.1 (P-03), SSLv3
//! (P-04) and weak suites (C-02), with the accepted suites of every
//! version in the server's order.

use std::net::SocketAddr;

use rustls::pki_types::CertificateDer;

use super::hello::{SSL3, TLS10, TLS11, TLS12, TLS13};
use super::suites::{Enc, Suite};
use super::survey::Target;
use super::{Answer, Hello, Sigs, Survey, VersionScan, exchange, version_name};
use crate::check::Run;
use crate::check::probe::Seen;

impl Run<'_> {
    /// Every raw probe of `addr`.
    pub(in crate::check) fn survey(&self, addr: SocketAddr) -> Survey {
        Survey::run(&Target {
            addr,
            // An IP address is never sent as SNI (RFC 6066 §3).
            sni: (!self.target.ip).then(|| self.target.host.clone()),
            timeout: self.checker.timeout,
        })
    }

    /// P-03 and P-04.
    pub(in crate::check) fn old_versions(&mut self, survey: &Survey) {
        let old: Vec<&VersionScan> = [TLS10, TLS11]
            .into_iter()
            .filter_map(|v| survey.scan(v))
            .collect();
        let on: Vec<String> = old
            .iter()
            .filter(|s| s.accepted())
            .map(|s| version_name(s.version))
            .collect();
        if !on.is_empty() {
            self.out.info(
                "P-03",
                format!(
                    "{} accepted: phones that speak nothing newer (Android 4.4 and older) \
                     can connect, but PCI DSS forbids it and SSL Labs caps the grade at B",
                    on.join(" and ")
                ),
                "a trade-off: keep it while such phones matter, otherwise \
                 ssl_protocols TLSv1.2 TLSv1.3;",
            );
        } else if old.len() == 2 && old.iter().all(|s| s.answer.refused(s.version)) {
            self.out.info(
                "P-03",
                "TLS 1.0 and 1.1 are refused: phones that speak nothing newer \
                 (Android 4.4 and older) cannot connect",
                "",
            );
        } else {
            let why: Vec<String> = old.iter().map(|s| s.answer.describe()).collect();
            self.out
                .unknown("P-03", format!("no clear answer: {}", why.join("; ")));
        }
        match survey.scan(SSL3) {
            Some(s) if s.accepted() => self.out.warn(
                "P-04",
                "SSLv3 is accepted (POODLE; RFC 7568 forbids it)",
                "disable SSLv3 (nginx: ssl_protocols TLSv1.2 TLSv1.3;)",
            ),
            Some(s) if s.answer.refused(SSL3) => self.out.pass(
                "P-04",
                format!(
                    "SSLv3 is refused ({}); SSLv2 is not probed",
                    s.answer.describe()
                ),
            ),
            Some(s) => self
                .out
                .unknown("P-04", format!("no clear answer: {}", s.answer.describe())),
            None => self.out.unknown("P-04", "the SSLv3 probe did not run"),
        }
    }

    /// C-02: weak suites, or CBC only, with every accepted suite listed.
    pub(in crate::check) fn weak_suites(&mut self, survey: &Survey) {
        let scans: Vec<&VersionScan> = survey.scans.iter().filter(|s| s.accepted()).collect();
        if scans.is_empty() {
            let why = survey
                .scan(TLS12)
                .map_or_else(String::new, |s| s.answer.describe());
            return self.out.unknown(
                "C-02",
                format!("no version was accepted by the raw probe: {why}"),
            );
        }
        let mut weak: Vec<(&str, Vec<&str>)> = Vec::new();
        for s in scans.iter().flat_map(|s| s.suites()) {
            let Some(why) = s.weakness() else { continue };
            match weak.iter_mut().find(|(w, _)| *w == why) {
                Some((_, names)) if !names.contains(&s.name) => names.push(s.name),
                Some(_) => {}
                None => weak.push((why, vec![s.name])),
            }
        }
        let mut found: Vec<String> = weak
            .iter()
            .map(|(why, names)| format!("{why}: {}", names.join(", ")))
            .collect();
        let aead = scans
            .iter()
            .any(|s| s.version == TLS13 || s.suites().any(|x: Suite| x.enc == Enc::Aead));
        if !aead {
            found.push("only CBC suites: no AEAD suite (AES-GCM, ChaCha20) and no TLS 1.3".into());
        }
        let listing = accepted_lists(&scans);
        if found.is_empty() {
            return self
                .out
                .pass("C-02", format!("no weak suite accepted; {listing}"));
        }
        let fix = if aead {
            "remove them (nginx: ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES;)"
        } else {
            "add ECDHE-…-AES-GCM suites and TLS 1.3, then drop the weak ones \
             (nginx: ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES;)"
        };
        self.out
            .warn("C-02", format!("{}; {listing}", found.join("; ")), fix);
    }

    /// S-01 when rustls cannot talk to the server: the raw probe's leaf
    /// without SNI against `first`.
    pub(in crate::check) fn raw_no_sni(&mut self, addr: SocketAddr, first: &Seen, survey: &Survey) {
        let Some(best) = survey.chain() else {
            return self.out.unknown("S-01", "no certificate was seen");
        };
        let hello = Hello {
            version: best.version,
            suites: vec![best.suite],
            sni: None,
            sigs: Sigs::All,
        };
        match exchange(addr, &hello, self.checker.timeout) {
            Answer::Hello(f)
                if f.chain.first().map(Vec::as_slice)
                    == first.chain.first().map(|c| c.as_ref()) =>
            {
                self.out.pass("S-01", "the same leaf is served without SNI")
            }
            Answer::Hello(_) => self.out.info(
                "S-01",
                "another certificate is served without SNI (clients without SNI see it)",
                "make this site the default server for its IP and port",
            ),
            other => self.out.info(
                "S-01",
                format!("handshakes without SNI are refused ({})", other.describe()),
                "",
            ),
        }
    }

    /// The chain the raw probe got for each certificate type, for C-04.
    pub(in crate::check) fn raw_chains(survey: &Survey) -> Vec<(&'static str, Seen)> {
        survey
            .certs
            .iter()
            .map(|(kind, f)| (*kind, seen(&f.chain, &f.ocsp)))
            .collect()
    }
}

/// A recorded chain, as the certificate rules read it.
pub(in crate::check) fn seen(chain: &[Vec<u8>], ocsp: &[u8]) -> Seen {
    Seen {
        chain: chain
            .iter()
            .map(|c| CertificateDer::from(c.clone()))
            .collect(),
        ocsp: ocsp.to_vec(),
    }
}

/// "accepted (server's order): TLS 1.2: A, B; TLS 1.0: C", newest first.
fn accepted_lists(scans: &[&VersionScan]) -> String {
    let lists: Vec<String> = scans
        .iter()
        .rev()
        .map(|s| {
            let names: Vec<String> = s
                .accepted
                .iter()
                .map(|id| super::suites::name(*id))
                .collect();
            let order = match s.server_order {
                Some(true) => " (server's order)",
                Some(false) => " (the client's order: the server has no preference)",
                None => "",
            };
            let cut = s
                .cut
                .as_ref()
                .map_or_else(String::new, |c| format!(" (list incomplete: {c})"));
            format!(
                "{}{order}: {}{cut}",
                version_name(s.version),
                names.join(", ")
            )
        })
        .collect();
    format!("accepted: {}", lists.join("; "))
}
