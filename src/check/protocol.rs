//! What the server speaks: TLS versions (P-01, P-02), the ATS cipher
//! suites (C-01), key-exchange groups (C-03) and its answer without SNI
//! (S-01), each judged from the probes that offered just that.

use std::net::SocketAddr;

use rustls::crypto::{SupportedKxGroup, ring};

use super::Run;
use super::probe::{Offer, Probe, Seen, suite_name};

impl Run<'_> {
    /// P-01, P-02 and C-01.
    pub(super) fn versions(&mut self, addr: SocketAddr) {
        let tls12 = self.probe(addr, &Offer::versions(true, false));
        let tls13 = self.probe(addr, &Offer::versions(false, true));
        match tls12 {
            Probe::Done(_, agreed) => self
                .out
                .pass("P-01", format!("TLS 1.2 with {}", agreed.suite)),
            Probe::Refused(why) => self.out.fail(
                "P-01",
                format!(
                    "TLS 1.2 with an ECDHE + AES-GCM/ChaCha20 suite was refused ({why}); \
                     older phones speak only TLS 1.2"
                ),
                "enable TLSv1.2 next to TLSv1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3;) \
                 with ECDHE-…-GCM suites",
            ),
            Probe::Failed(why) => self.out.unknown("P-01", format!("no answer: {why}")),
        }
        match &tls13 {
            Probe::Done(_, agreed) => {
                self.out
                    .info("P-02", format!("TLS 1.3 with {}", agreed.suite), "")
            }
            _ => self.out.info(
                "P-02",
                "TLS 1.3 is not offered",
                "enabling TLSv1.3 is recommended",
            ),
        }
        self.ats_suites(addr, tls13.done());
    }

    /// C-01: an AES-GCM ATS suite on TLS 1.2 (the ones rustls can offer),
    /// or TLS 1.3, whose suites all meet ATS.
    fn ats_suites(&mut self, addr: SocketAddr, ok13: bool) {
        let gcm12 = [
            ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ];
        let accepted: Vec<String> = gcm12
            .iter()
            .filter(|s| {
                let offer = Offer {
                    suites: Some(vec![**s]),
                    ..Offer::versions(true, false)
                };
                self.probe(addr, &offer).done()
            })
            .map(suite_name)
            .collect();
        if accepted.is_empty() && !ok13 {
            self.out.fail(
                "C-01",
                "no ECDHE + AES-GCM suite on TLS 1.2 and no TLS 1.3 \
                 (the 7 CBC ATS suites cannot be probed here)",
                "offer ECDHE-ECDSA/RSA-AES128-GCM-SHA256 and -AES256-GCM-SHA384, \
                 or enable TLS 1.3",
            );
            return;
        }
        let mut msg = if accepted.is_empty() {
            "TLS 1.3 (all its suites meet ATS)".to_string()
        } else {
            format!("TLS 1.2 ATS suites accepted: {}", accepted.join(", "))
        };
        if ok13 && !accepted.is_empty() {
            msg.push_str("; TLS 1.3 too");
        }
        self.out.pass("C-01", msg);
    }

    /// C-03: which 256-bit-or-larger ECDHE groups are accepted.
    pub(super) fn groups(&mut self, addr: SocketAddr) {
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
