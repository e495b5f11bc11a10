//! One function per certificate rule about the certificates themselves:
//! the name, validity, self-signed, Apple's rules on
//! signatures, keys, key usage, lifetime and transparency (X-09 … X-13).

use x509_parser::prelude::{GeneralName, ParsedExtension, oid_registry, oid2sn};
use x509_parser::public_key::PublicKey;

use super::Chain;
use crate::check::rules::Verdicts;

/// Since 2019-07-01 iOS requires serverAuth and a lifetime of 825 days.
const EKU_SINCE: i64 = 1_561_939_200;
/// Since 2020-09-01 Apple refuses lifetimes over 398 days.
const D398_SINCE: i64 = 1_598_918_400;
/// The CA/Browser Forum ballot SC-081 caps: 200 days from 2026-03-15, 100
/// from 2027-03-15, 47 from 2029-03-15.
const SC081: [(i64, f64); 3] = [
    (1_868_140_800, 47.0),
    (1_805_068_800, 100.0),
    (1_773_532_800, 200.0),
];

impl Chain<'_> {
    /// the host is in the SAN (the CN is ignored, as on iOS).
    pub(super) fn names_host(&self, out: &mut Verdicts) {
        let sans: Vec<String> = self
            .leaf()
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
        let host = self.host;
        if sans.iter().any(|s| name_matches(s, host)) {
            out.pass("X-01", format!("{host} is in the SAN"));
        } else {
            out.fail(
                "X-01",
                format!(
                    "{host} is not in the SAN [{}] (the CN is ignored)",
                    sans.join(", ")
                ),
                format!("issue a certificate whose subjectAltName includes {host}"),
            );
        }
    }

    /// within the validity window, and not about to leave it.
    pub(super) fn validity(&self, out: &mut Verdicts) {
        let (nb, na, life) = self.window();
        let v = self.leaf().validity();
        if self.secs < nb {
            return out.fail(
                "X-02",
                format!("not valid before {}", v.not_before),
                "check the server clock and the certificate's notBefore; \
                 install a current certificate",
            );
        }
        if self.secs > na {
            return out.fail(
                "X-02",
                format!("expired {}", v.not_after),
                "renew the certificate and reload the server",
            );
        }
        let left = na - self.secs;
        let days = left / 86_400;
        if left < (7 * 86_400).max(life / 3) {
            out.warn(
                "X-02",
                format!("expires in {days} days ({})", v.not_after),
                "renew now (automate renewal, e.g. with ACME)",
            );
        } else {
            out.pass("X-02", format!("valid for {days} more days"));
        }
    }

    /// a self-signed leaf (unless it is an added root).
    pub(super) fn not_self_signed(&self, out: &mut Verdicts) {
        if self.self_signed {
            out.fail(
                "X-03",
                "the leaf is self-signed",
                "use a certificate from a public CA",
            );
        } else {
            out.pass("X-03", format!("issued by {}", self.leaf().issuer()));
        }
    }

    /// SHA-2 signatures on the leaf and intermediates (roots are
    /// exempt).
    pub(super) fn signatures(&self, out: &mut Verdicts) {
        let weak: Vec<String> = self
            .non_roots()
            .filter_map(|(_, c)| {
                let sig = signature_name(&c.signature_algorithm.algorithm);
                let strong = matches!(
                    sig.as_str(),
                    "sha256WithRSAEncryption"
                        | "sha384WithRSAEncryption"
                        | "sha512WithRSAEncryption"
                        | "ecdsa-with-SHA256"
                        | "ecdsa-with-SHA384"
                        | "ecdsa-with-SHA512"
                        | "RSASSA-PSS"
                );
                (!strong).then(|| format!("'{}' signed with {sig}", c.subject()))
            })
            .collect();
        if weak.is_empty() {
            out.pass("X-09", "leaf and intermediates use SHA-2");
        } else {
            out.fail("X-09", weak.join("; "), "reissue with a SHA-256 signature");
        }
    }

    /// RSA of 2048 bits or more, ECDSA of 256 bits or more on the
    /// leaf (roots are exempt).
    pub(super) fn key_sizes(&self, out: &mut Verdicts) {
        let weak: Vec<String> = self
            .non_roots()
            .filter_map(|(i, c)| match c.public_key().parsed() {
                Ok(PublicKey::RSA(k)) if k.key_size() < 2048 => {
                    Some(format!("'{}' RSA-{}", c.subject(), k.key_size()))
                }
                Ok(PublicKey::EC(k)) if i == 0 && k.key_size() < 256 => {
                    Some(format!("'{}' EC-{}", c.subject(), k.key_size()))
                }
                Ok(PublicKey::RSA(_) | PublicKey::EC(_)) => None,
                _ => Some(format!(
                    "'{}' uses a key type iOS does not accept",
                    c.subject()
                )),
            })
            .collect();
        if weak.is_empty() {
            out.pass("X-10", "key sizes meet ATS");
        } else {
            out.fail(
                "X-10",
                weak.join("; "),
                "reissue with an RSA-2048 or ECDSA P-256 key",
            );
        }
    }

    /// The certificates Apple's algorithm rules apply to, with their
    /// position: all but a root sent after the leaf.
    pub(super) fn non_roots(
        &self,
    ) -> impl Iterator<Item = (usize, &x509_parser::certificate::X509Certificate<'_>)> {
        self.parsed
            .iter()
            .enumerate()
            .filter(|(i, c)| *i == 0 || c.subject().as_raw() != c.issuer().as_raw())
    }

    /// serverAuth in the extended key usage.
    pub(super) fn server_auth(&self, out: &mut Verdicts) {
        let eku = self
            .leaf()
            .extended_key_usage()
            .ok()
            .flatten()
            .map(|e| e.value.server_auth || e.value.any);
        match eku {
            Some(true) => out.pass("X-11", "serverAuth present"),
            _ if self.window().0 < EKU_SINCE => {
                out.info("X-11", "no serverAuth EKU (issued before 2019-07-01)", "")
            }
            _ => out.fail(
                "X-11",
                "no serverAuth extended key usage; iOS 13+ refuses it",
                "reissue with extendedKeyUsage = serverAuth",
            ),
        }
    }

    /// Apple's lifetime limits, then the CA/B cap of the issue date.
    pub(super) fn lifetime(&self, out: &mut Verdicts) {
        let nb = self.window().0;
        let days = self.days();
        let fix = "reissue with a lifetime of at most 397 days";
        // The 825-day rule (HT210176) binds every certificate; the 398-day
        // rule (HT211025) only those from preinstalled roots.
        if nb >= EKU_SINCE && days > 825.0 {
            return out.fail("X-12", format!("lifetime {days:.0} days > 825"), fix);
        }
        if nb >= D398_SINCE && days > 398.0 {
            let msg = format!("lifetime {days:.0} days > 398 (issued after 2020-09-01)");
            if self.private_root {
                let msg =
                    format!("{msg}: allowed under an added root, but would FAIL from a public CA");
                return out.warn("X-12", msg, fix);
            }
            return out.fail("X-12", msg, fix);
        }
        let cap = SC081
            .iter()
            .find(|(since, _)| nb >= *since)
            .map_or(398.0, |(_, cap)| *cap);
        if days > cap {
            out.warn(
                "X-12",
                format!(
                    "lifetime {days:.0} days is over the CA/B cap of {cap:.0} days \
                     for its issue date"
                ),
                "reissue within the current CA/Browser Forum limit",
            );
        } else {
            out.pass("X-12", format!("lifetime {days:.0} days"));
        }
    }

    /// enough embedded SCTs from distinct logs for Apple's CT
    /// policy, for a publicly trusted certificate.
    pub(super) fn transparency(&self, out: &mut Verdicts) {
        let mut logs: Vec<&[u8]> = Vec::new();
        for ext in self.leaf().extensions() {
            if let ParsedExtension::SCT(scts) = ext.parsed_extension() {
                for s in scts {
                    if !logs.contains(&s.id.key_id.as_slice()) {
                        logs.push(s.id.key_id.as_slice());
                    }
                }
            }
        }
        let n = logs.len();
        let needed = if self.days() <= 180.0 { 2 } else { 3 };
        if !self.trusted {
            out.unknown(
                "X-13",
                format!(
                    "{n} embedded SCT(s); no trusted path was built (see X-04), \
                     so whether Apple's CT policy applies is unknown"
                ),
            );
        } else if self.private_root {
            let msg = format!(
                "{n} embedded SCT(s); not required for a certificate from an added \
                 (private) root"
            );
            out.info("X-13", msg, "");
        } else if n == 0 {
            out.fail(
                "X-13",
                "no embedded SCT (SCTs in the TLS extension or the OCSP staple \
                 cannot be seen here)",
                "use a certificate from a CA that logs to CT (all public CAs do)",
            );
        } else if n < needed {
            out.warn(
                "X-13",
                format!(
                    "{n} embedded SCT(s) from distinct logs; Apple asks {needed} for this \
                     lifetime (log operators not checked)"
                ),
                "reissue from a CA that embeds enough SCTs",
            );
        } else {
            out.pass(
                "X-13",
                format!(
                    "{n} embedded SCTs from distinct logs (log operators and Apple \
                     approval not checked)"
                ),
            );
        }
    }
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

/// The name of a signature algorithm (RFC 3279, RFC 4055, RFC 5758),
/// its dotted OID only when it is none of the known ones.
pub(super) fn signature_name(alg: &x509_parser::der_parser::oid::Oid) -> String {
    let id = alg.to_id_string();
    let known = match id.as_str() {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-sha1",
        "2.16.840.1.101.3.4.3.2" => "dsa-with-sha256",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        _ => "",
    };
    if known.is_empty() {
        oid2sn(alg, oid_registry()).map_or(id, str::to_string)
    } else {
        known.to_string()
    }
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
    fn signature_algorithms_are_named() {
        use x509_parser::der_parser::oid::Oid;
        let name = |s: &str| signature_name(&s.parse::<Oid>().unwrap());
        assert_eq!(name("1.2.840.10045.4.1"), "ecdsa-with-SHA1");
        assert_eq!(name("1.2.840.113549.1.1.5"), "sha1WithRSAEncryption");
        assert_eq!(name("1.2.840.113549.1.1.4"), "md5WithRSAEncryption");
        assert_eq!(name("1.2.3.4"), "1.2.3.4", "unknown: the OID itself");
    }
}
