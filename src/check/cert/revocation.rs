//! X-14, revocation: the stapled OCSP response read and its signature
//! checked (or, when the checker is `online` and nothing is stapled, the
//! responder's own answer), judged by status and freshness.

use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};
use x509_parser::time::ASN1Time;

use super::Chain;
use super::ocsp::{self, Answer, CertStatus, Signature};
use crate::check::report::Status;
use crate::check::rules::Verdicts;

const OID_OCSP: &str = "1.3.6.1.5.5.7.48.1";
const OID_MUST_STAPLE: &str = "1.3.6.1.5.5.7.1.24";
/// Clock skew allowed on thisUpdate, as OpenSSL's default.
const SKEW: i64 = 300;
const STAPLE_FIX: &str = "enable OCSP stapling (nginx: ssl_stapling on; ssl_stapling_verify on;)";

impl Chain<'_> {
    /// what the stapled OCSP response says, or why none is needed.
    pub(super) fn revocation(&self, out: &mut Verdicts) {
        let leaf = self.leaf();
        let exts = leaf.extensions();
        let url =
            exts.iter().find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityInfoAccess(aia) => aia.accessdescs.iter().find_map(|d| {
                    match (&d.access_method.to_id_string()[..], &d.access_location) {
                        (OID_OCSP, x509_parser::prelude::GeneralName::URI(u)) => {
                            Some(u.to_string())
                        }
                        _ => None,
                    }
                }),
                _ => None,
            });
        let must_staple = exts.iter().any(|e| e.oid.to_id_string() == OID_MUST_STAPLE);
        if !self.seen.ocsp.is_empty() {
            let from = format!("the stapled OCSP response ({} bytes)", self.seen.ocsp.len());
            return self.judge_response(&self.seen.ocsp, &from, must_staple, out);
        }
        if must_staple {
            return out.fail(
                "X-14",
                "the certificate demands a stapled OCSP response (Must-Staple) and none \
                 is sent; clients that honour it refuse the connection",
                STAPLE_FIX,
            );
        }
        let Some(url) = url else {
            return out.info("X-14", "n/a: the leaf has no OCSP URL", "");
        };
        if !self.checker.online {
            let msg = format!(
                "no OCSP response is stapled; the leaf names the responder {url} \
                 (not asked: offline)"
            );
            return out.info("X-14", msg, STAPLE_FIX);
        }
        match self.ask(&url) {
            Ok(answer) => {
                let from = format!("the responder at {url} (nothing stapled)");
                self.judge_response(&answer, &from, false, out);
            }
            Err(why) => out.unknown(
                "X-14",
                format!("nothing stapled, and asking the responder at {url} failed: {why}"),
            ),
        }
    }

    /// The issuer of the leaf: sent after it, or an added root.
    fn issuer(&self) -> Option<X509Certificate<'_>> {
        let wanted = self.leaf().issuer().as_raw();
        let sent = self.parsed[1..]
            .iter()
            .find(|c| c.subject().as_raw() == wanted)
            .cloned();
        sent.or_else(|| {
            self.checker.roots.iter().find_map(|der| {
                let (_, c) = X509Certificate::from_der(der).ok()?;
                (c.subject().as_raw() == wanted).then_some(c)
            })
        })
    }

    /// POST an OCSP request for the leaf to `url`.
    fn ask(&self, url: &str) -> Result<Vec<u8>, String> {
        let issuer = self
            .issuer()
            .ok_or("the leaf's issuer is not known, so no request can be made")?;
        let request =
            ocsp::request(self.leaf(), &issuer).ok_or("the issuer's key is unreadable")?;
        self.checker
            .plain_http(url, Some(("application/ocsp-request", &request)))
    }

    /// X-14 on an OCSP response that came `from` somewhere.
    fn judge_response(&self, bytes: &[u8], from: &str, must_staple: bool, out: &mut Verdicts) {
        // A staple a client cannot use: harmless unless the certificate
        // demands one.
        let unusable = if must_staple {
            Status::Fail
        } else {
            Status::Warn
        };
        let issuer = self.issuer();
        let answer = match ocsp::read(bytes, self.leaf(), issuer.as_ref(), self.secs) {
            Ok(a) => a,
            Err(why) => {
                let msg = format!("{from} cannot be used: {why}");
                return out.add("X-14", unusable, msg, STAPLE_FIX);
            }
        };
        let Answer {
            status,
            this_update,
            next_update,
            signature,
        } = &answer;
        let signed_by = match signature {
            Signature::Issuer => "signed by the issuer".to_string(),
            Signature::Delegated(name) => format!("signed by the delegated responder '{name}'"),
            Signature::Invalid(why) => format!("its signature is not valid: {why}"),
            Signature::Unverifiable(why) => format!("its signature is not checked: {why}"),
        };
        let dates = format!(
            "thisUpdate {}, nextUpdate {}",
            when(*this_update),
            next_update.map_or("none".into(), when)
        );
        if let (CertStatus::Revoked { at, reason }, false) =
            (status, matches!(signature, Signature::Invalid(_)))
        {
            let reason = reason.map_or(String::new(), |r| format!(" ({r})"));
            let msg = format!(
                "{from} says the certificate is REVOKED since {}{reason}; clients that check \
                 refuse it ({signed_by}; {dates})",
                when(*at)
            );
            let fix = "install a newly issued certificate (and key, if it was compromised)";
            return out.fail("X-14", msg, fix);
        }
        let refresh = "make the server fetch a fresh, correctly signed response from the \
                       CA's responder (check that it can reach the OCSP URL)";
        if let Signature::Invalid(_) = signature {
            let msg = format!("{from} cannot be trusted: {signed_by}; clients discard it");
            return out.add("X-14", unusable, msg, refresh);
        }
        if next_update.is_some_and(|n| self.secs > n) {
            let msg = format!("{from} is stale: past its nextUpdate ({dates})");
            return out.add("X-14", unusable, msg, refresh);
        }
        if *this_update > self.secs + SKEW {
            let msg = format!(
                "{from} is not yet valid: thisUpdate is in the future ({dates}); \
                 check the server's and the responder's clocks"
            );
            return out.add("X-14", unusable, msg, refresh);
        }
        match (status, signature) {
            (CertStatus::Unknown, _) => out.warn(
                "X-14",
                format!("{from}: the responder does not know this certificate ({signed_by})"),
                refresh,
            ),
            (_, Signature::Unverifiable(_)) => out.unknown(
                "X-14",
                format!("{from} says good, but {signed_by} ({dates})"),
            ),
            _ => out.pass("X-14", format!("{from}: good, {signed_by} ({dates})")),
        }
    }
}

/// A time for a message.
fn when(secs: i64) -> String {
    ASN1Time::from_timestamp(secs).map_or_else(|_| format!("@{secs}"), |t| t.to_string())
}
