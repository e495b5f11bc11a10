//! What the server speaks: reachability (T-02), TLS versions (P-01 …
//! P-04), the ATS cipher suites (C-01), weak suites (C-02), key-exchange
//! groups (C-03) and its answer without SNI (S-01), each judged from the
//! rustls probes that offered just that and from the raw probe, which
//! offers what rustls cannot.

use std::net::SocketAddr;

use rustls::crypto::{SupportedKxGroup, ring};

use super::Run;
use super::probe::{Offer, Probe, Seen};
use super::raw::hello::{SSL3, TLS10, TLS11, TLS12, TLS13};
use super::raw::suites::{self, Enc, Kx};
use super::raw::{self, Survey, VersionScan, version_name};

impl Run<'_> {
    /// T-02: some client completes a handshake. rustls first; when it
    /// cannot, a ServerHello to the raw probe still shows the server is
    /// reachable, and the rules after this one say why rustls failed.
    /// Gives the chain to judge and whether rustls finished a handshake,
    /// or `None` when nothing answered.
    pub(super) fn reachable(&mut self, addr: SocketAddr, survey: &Survey) -> Option<(Seen, bool)> {
        let why = match self.probe(addr, &Offer::versions(true, true)) {
            Probe::Done(seen, agreed) => {
                let msg = format!(
                    "{addr}: {}, {}, {}",
                    agreed.version, agreed.suite, agreed.group
                );
                self.out.pass("T-02", msg);
                return Some((seen, true));
            }
            Probe::Refused(why) | Probe::Failed(why) => why,
        };
        let Some(best) = survey.best() else {
            let raw = survey.scan(TLS12).map_or_else(String::new, |s| {
                format!("; raw TLS 1.2 hello: {}", s.answer.describe())
            });
            self.out.fail(
                "T-02",
                format!("{addr}: no TLS handshake: {why}{raw}"),
                "make the server accept TLS 1.2 or 1.3 connections on this port",
            );
            return None;
        };
        // What a modern client lacks here, so the reader knows which
        // verdict below carries the fix.
        let see = match suites::find(best.suite) {
            _ if best.version < TLS12 => "P-01 (no TLS 1.2)",
            Some(s) if s.kx != Kx::Tls13 && (s.kx != Kx::Ecdhe || s.enc != Enc::Aead) => {
                "C-01 and C-02 (no ECDHE + AEAD suite)"
            }
            _ => "X-09 and X-10 (the certificate's signature and key)",
        };
        self.out.pass(
            "T-02",
            format!(
                "{addr}: {} with {} (raw probe); a modern client (rustls) could not \
                 finish a handshake ({why}): see {see}",
                version_name(best.version),
                suites::name(best.suite)
            ),
        );
        let mut seen = survey
            .chain()
            .map_or_else(Seen::default, |f| raw::seen(&f.chain, &f.ocsp));
        if seen.chain.is_empty() {
            // TLS 1.3 only: the chain is encrypted, so rustls must finish
            // a handshake to see it, whatever the key.
            let offer = Offer {
                lenient: true,
                ..Offer::versions(true, true)
            };
            if let Probe::Done(lenient, _) = self.probe(addr, &offer) {
                seen = lenient;
            }
        }
        Some((seen, false))
    }

    /// P-01 … P-04, C-01 and C-02.
    pub(super) fn versions(&mut self, addr: SocketAddr, survey: &Survey) {
        let tls12 = self.probe(addr, &Offer::versions(true, false));
        let tls13 = self.probe(addr, &Offer::versions(false, true));
        let raw12 = survey.scan(TLS12);
        match (&tls12, raw12.and_then(|s| s.answer.accepted(TLS12))) {
            (Probe::Done(_, agreed), _) => self
                .out
                .pass("P-01", format!("TLS 1.2 with {}", agreed.suite)),
            (Probe::Refused(why) | Probe::Failed(why), Some(f)) => self.out.pass(
                "P-01",
                format!(
                    "TLS 1.2 with {} (raw probe; rustls failed: {why})",
                    suites::name(f.suite)
                ),
            ),
            (Probe::Refused(why), None) => self.no_tls12(why, survey),
            (Probe::Failed(why), None) => match raw12 {
                Some(s) if s.answer.refused(TLS12) => self.no_tls12(why, survey),
                _ => self.out.unknown("P-01", format!("no answer: {why}")),
            },
        }
        let raw13 = survey.scan(TLS13).and_then(|s| s.answer.accepted(TLS13));
        match (&tls13, raw13) {
            (Probe::Done(_, agreed), _) => {
                self.out
                    .info("P-02", format!("TLS 1.3 with {}", agreed.suite), "")
            }
            (_, Some(f)) => self.out.info(
                "P-02",
                format!("TLS 1.3 with {} (raw probe)", suites::name(f.suite)),
                "",
            ),
            _ => self.out.info(
                "P-02",
                "TLS 1.3 is not offered",
                "enabling TLSv1.3 is recommended",
            ),
        }
        self.old_versions(survey);
        self.ats_suites(addr, tls13.done() || raw13.is_some(), survey);
        self.weak_suites(survey);
        self.record_versions(&tls12, &tls13, survey);
    }

    /// What the platform verdicts read: the versions accepted, by rustls
    /// or by the raw probe, and whether a TLS 1.2 suite rustls has was.
    fn record_versions(&mut self, tls12: &Probe, tls13: &Probe, survey: &Survey) {
        let raw = |v: u16| {
            survey.scan(v).and_then(|s| match s.answer.accepted(v) {
                Some(_) => Some(true),
                None => s.answer.refused(v).then_some(false),
            })
        };
        let either = |rustls: &Probe, v: u16| match (rustls, raw(v)) {
            (Probe::Done(..), _) | (_, Some(true)) => Some(true),
            (Probe::Refused(_), Some(false)) => Some(false),
            _ => None,
        };
        let f = &mut self.out.facts;
        f.tls10 = raw(TLS10);
        f.tls11 = raw(TLS11);
        f.tls12 = either(tls12, TLS12);
        f.tls13 = either(tls13, TLS13);
        let scan12 = survey.scan(TLS12);
        let rustls_suite = scan12.is_some_and(|s| s.suites().any(|x| x.rustls_has()));
        f.ecdhe_aead12 = if tls12.done() || rustls_suite {
            Some(true)
        } else if f.tls12 == Some(false) || scan12.is_some_and(|s| s.accepted() && s.cut.is_none())
        {
            Some(false)
        } else {
            None
        };
    }

    /// P-01 failed: TLS 1.2 is refused, by rustls and the raw probe.
    fn no_tls12(&mut self, why: &str, survey: &Survey) {
        let older: Vec<String> = [SSL3, TLS10, TLS11]
            .into_iter()
            .filter(|v| survey.scan(*v).is_some_and(|s| s.accepted()))
            .map(version_name)
            .collect();
        let only = if older.is_empty() {
            String::new()
        } else {
            format!("; the server speaks only {}", older.join(" and "))
        };
        self.out.fail(
            "P-01",
            format!("TLS 1.2 was refused ({why}){only}; iPhones and current Android need TLS 1.2"),
            "enable TLSv1.2 next to TLSv1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3;) \
             with ECDHE-…-GCM suites",
        );
    }

    /// C-01: an ATS suite on TLS 1.2 (AES-GCM through rustls, all eleven
    /// through the raw probe), or TLS 1.3, whose suites all meet ATS.
    fn ats_suites(&mut self, addr: SocketAddr, ok13: bool, survey: &Survey) {
        let gcm12 = [
            ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ];
        let mut accepted: Vec<u16> = gcm12
            .iter()
            .filter(|s| {
                let offer = Offer {
                    suites: Some(vec![**s]),
                    ..Offer::versions(true, false)
                };
                self.probe(addr, &offer).done()
            })
            .map(|s| u16::from(s.suite()))
            .collect();
        let raw12 = survey.scan(TLS12);
        for s in raw12.into_iter().flat_map(|s| s.suites()) {
            if s.ats() && !accepted.contains(&s.id) {
                accepted.push(s.id);
            }
        }
        self.out.facts.ats12 = if !accepted.is_empty() {
            Some(true)
        } else {
            raw12
                .filter(|s| s.cut.is_none() && (s.accepted() || s.answer.refused(TLS12)))
                .map(|_| false)
        };
        if accepted.is_empty() && !ok13 {
            return self.no_ats_suite(raw12);
        }
        let names: Vec<String> = accepted.iter().map(|id| suites::name(*id)).collect();
        let mut msg = if accepted.is_empty() {
            "TLS 1.3 (all its suites meet ATS)".to_string()
        } else {
            format!("TLS 1.2 ATS suites accepted: {}", names.join(", "))
        };
        let aead = accepted
            .iter()
            .any(|id| suites::find(*id).is_some_and(|s| s.enc == Enc::Aead));
        if !accepted.is_empty() && !aead {
            msg.push_str(" (only CBC suites: see C-02)");
        }
        if ok13 && !accepted.is_empty() {
            msg.push_str("; TLS 1.3 too");
        }
        self.out.pass("C-01", msg);
    }

    /// C-01 failed, or could not be told.
    fn no_ats_suite(&mut self, raw12: Option<&VersionScan>) {
        let fix = "offer ECDHE-ECDSA/RSA-AES128-GCM-SHA256 and -AES256-GCM-SHA384 \
                   (nginx: ssl_ciphers ECDHE+AESGCM:ECDHE+AES;), or enable TLS 1.3";
        let Some(scan) = raw12 else {
            return self
                .out
                .unknown("C-01", "the raw TLS 1.2 probe did not run");
        };
        if let Some(cut) = &scan.cut {
            return self
                .out
                .unknown("C-01", format!("the TLS 1.2 suites are unknown: {cut}"));
        }
        let found = if scan.accepted() {
            let names: Vec<&str> = scan.suites().map(|s| s.name).collect();
            format!("TLS 1.2 accepts only {}", names.join(", "))
        } else if scan.answer.refused(TLS12) {
            "TLS 1.2 is refused".to_string()
        } else {
            return self.out.unknown(
                "C-01",
                format!(
                    "the TLS 1.2 probe got no answer: {}",
                    scan.answer.describe()
                ),
            );
        };
        self.out.fail(
            "C-01",
            format!("no ECDHE + AES suite on TLS 1.2 and no TLS 1.3: {found}; ATS refuses it"),
            fix,
        );
    }

    /// C-03: which 256-bit-or-larger ECDHE groups are accepted (rustls
    /// handshakes, so only when rustls can talk to the server at all).
    pub(super) fn groups(&mut self, addr: SocketAddr, rustls: bool) {
        if !rustls {
            return self.out.unknown(
                "C-03",
                "groups are probed with full handshakes, which rustls could not finish",
            );
        }
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
                self.probe(addr, &offer).done()
            })
            .map(|(n, _)| *n)
            .collect();
        if accepted.is_empty() {
            self.out.warn(
                "C-03",
                "none of X25519, P-256, P-384 was accepted",
                "enable X25519 and P-256 (nginx: ssl_ecdh_curve X25519:prime256v1;)",
            );
        } else {
            let msg = format!("accepted: {}", accepted.join(", "));
            self.out.info("C-03", msg, "");
        }
    }

    /// S-01: what a client without SNI gets, compared with `first`.
    pub(super) fn no_sni(&mut self, addr: SocketAddr, first: &Seen) {
        let offer = Offer {
            sni: false,
            ..Offer::versions(true, true)
        };
        match self.probe(addr, &offer) {
            Probe::Done(seen, _) if seen.chain.first() == first.chain.first() => {
                self.out.pass("S-01", "the same leaf is served without SNI")
            }
            Probe::Done(..) => self.out.info(
                "S-01",
                "another certificate is served without SNI (clients without SNI see it)",
                "make this site the default server for its IP and port",
            ),
            Probe::Refused(why) | Probe::Failed(why) => self.out.info(
                "S-01",
                format!("handshakes without SNI are refused ({why})"),
                "",
            ),
        }
    }
}
