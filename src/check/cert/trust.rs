//! One function per rule about the chain as a path: a trusted root
//! the phones' own root stores (X-05 Apple, X-06 Android),
//! completeness as served (X-07, confirmed through the issuer URL when
//! one is named) and order.

use std::time::Duration;

use rustls::CertificateError;
use rustls::pki_types::UnixTime;
use x509_parser::prelude::{GeneralName, ParsedExtension, X509Certificate};

use super::rules::signature_name;
use super::{Chain, builds_path};
use crate::check::platform::Root;
use crate::check::report::Status;
use crate::check::rules::Verdicts;
use crate::check::stores::{self, End, RootStore};

/// Said of a chain that ends at a root the checker was given.
const ADDED_ROOT: &str = "ends at the added root";
/// Said by X-06 of a root that Android 4.4–6 do not all have.
const OLD_ANDROID_LACKS: &str = "Android 4.4–6 lack it";

const OID_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";

impl Chain<'_> {
    /// a path from the leaf to a root of the store.
    pub(super) fn chains_to_root(&self, out: &mut Verdicts) {
        if self.trusted {
            let store = if self.private_root {
                "an added root"
            } else {
                "the Mozilla store (webpki-roots)"
            };
            return out.pass("X-04", format!("chains to {store}"));
        }
        let Err(e) = &self.verdict else {
            return;
        };
        let public = "use a certificate from a CA in the system stores (Mozilla, Apple, Android)";
        let (msg, fix) = if self.self_signed {
            (
                describe(e),
                "use a certificate from a public CA".to_string(),
            )
        } else if let Some(root) = &self.unknown_root {
            (
                format!("the chain ends at a root no store trusts: '{root}'"),
                format!("{public}; for a private test CA, add its root (--cacert)"),
            )
        } else if self.incomplete {
            (
                format!(
                    "incomplete chain; append '{}' (no path with the certificates sent: \
                     see X-07)",
                    self.last().issuer()
                ),
                "send the full chain (see X-07); if it still fails, use a CA in the system \
                 stores"
                    .to_string(),
            )
        } else if self.sha1_signed() {
            (
                "a certificate in the chain is signed with SHA-1, which no current client \
                 accepts (see X-09)"
                    .to_string(),
                "reissue the certificate (and intermediate) with SHA-256 signatures".to_string(),
            )
        } else {
            (describe(e), public.to_string())
        };
        out.fail("X-04", msg, fix);
    }

    /// Whether a certificate Apple's algorithm rules cover is signed with
    /// SHA-1 (webpki refuses such a chain before building a path).
    fn sha1_signed(&self) -> bool {
        self.non_roots().any(|(_, c)| {
            matches!(
                signature_name(&c.signature_algorithm.algorithm).as_str(),
                "sha1WithRSAEncryption" | "ecdsa-with-SHA1" | "dsa-with-sha1"
            )
        })
    }

    /// the root the chain ends at in Apple's and in
    /// Android's snapshot. Missing from Apple's fails (iPhones refuse
    /// it); missing from Android's warns, since the store of a device
    /// depends on its release.
    pub(super) fn platform_stores(&self, out: &mut Verdicts) {
        let apple = RootStore::apple();
        let android = RootStore::android();
        self.in_store("X-05", apple, Status::Fail, "iPhones refuse it", out);
        self.in_store(
            "X-06",
            android,
            Status::Warn,
            "Android phones refuse it",
            out,
        );
    }

    fn in_store(
        &self,
        id: &'static str,
        store: &RootStore,
        missing: Status,
        who: &str,
        out: &mut Verdicts,
    ) {
        let at = UnixTime::since_unix_epoch(Duration::from_secs(self.secs.max(0) as u64));
        let label = store.label();
        let old = |spki: &[u8; 32]| match (id, RootStore::old_android().find(spki)) {
            ("X-06", None) => {
                format!("; {OLD_ANDROID_LACKS} (not in both the Android 4.4 and 6 stores)")
            }
            ("X-06", Some(_)) => "; Android 4.4–6 have it too".into(),
            _ => String::new(),
        };
        let last = self.last();
        let root_name = if last.subject().as_raw() == last.issuer().as_raw() {
            last.subject()
        } else {
            last.issuer()
        };
        let fix = format!("use a certificate from a CA in {}'s store", store.name());
        let end = stores::ends_at(store, &self.seen.chain, at);
        let fact = match &end {
            End::Root { spki_sha256, .. } | End::Named { spki_sha256, .. } => Root::InStore {
                old_android_lacks: RootStore::old_android().find(spki_sha256).is_none(),
            },
            End::Absent if self.private_root && !self.self_signed => Root::Added,
            End::Absent => Root::Other,
        };
        out.facts.roots.push((id, fact));
        match end {
            End::Root {
                subject,
                spki_sha256,
            } => {
                let msg = format!("chains to '{subject}' in {label}{}", old(&spki_sha256));
                out.pass(id, msg);
            }
            End::Named {
                subject,
                spki_sha256,
            } => out.pass(
                id,
                format!(
                    "the last issuer is '{subject}', in {label}, though the path does not \
                     verify (see X-04){}",
                    old(&spki_sha256)
                ),
            ),
            End::Absent if self.self_signed => {
                let msg = format!("the leaf is self-signed (see X-03): not in {label}");
                out.fail(id, msg, "use a certificate from a public CA");
            }
            End::Absent if self.private_root => out.info(
                id,
                format!(
                    "{ADDED_ROOT} '{root_name}', which is not in {label}: devices trust it \
                     only once it is installed{}",
                    if id == "X-06" {
                        " (and apps on Android 7+ trust user-installed roots only if they \
                         opt in)"
                    } else {
                        ""
                    }
                ),
                "install the root on test devices, or use a public CA for production",
            ),
            End::Absent if self.elsewhere(store).is_some() => out.add(
                id,
                missing,
                format!(
                    "ends at '{root_name}', which is in {} but not in {label}: {who}",
                    self.elsewhere(store).unwrap_or_default()
                ),
                fix,
            ),
            End::Absent if self.incomplete => out.unknown(
                id,
                match &self.unknown_root {
                    Some(root) => format!(
                        "the chain ends at '{root}', most likely a root no store trusts \
                         (see X-04); it is not in {label}"
                    ),
                    None => format!(
                        "the chain is incomplete as served (see X-07), so the root it ends \
                         at is not known; '{}' is not in {label}",
                        last.issuer()
                    ),
                },
            ),
            End::Absent if self.trusted => out.add(
                id,
                missing,
                format!(
                    "ends at '{root_name}', which is in the Mozilla store but not in \
                     {label}: {who}"
                ),
                fix,
            ),
            End::Absent => out.add(
                id,
                missing,
                format!("no root of {label} issued this chain (its last issuer: '{root_name}')"),
                fix,
            ),
        }
    }

    /// The other phone store the chain ends in, when it is not in
    /// `store`: the chain is complete, just not trusted there.
    fn elsewhere(&self, store: &RootStore) -> Option<String> {
        let at = UnixTime::since_unix_epoch(Duration::from_secs(self.secs.max(0) as u64));
        [RootStore::apple(), RootStore::android()]
            .into_iter()
            .filter(|s| s.name() != store.name())
            .find(|s| stores::ends_at(s, &self.seen.chain, at) != End::Absent)
            .map(RootStore::label)
    }

    /// the issuer of the last certificate sent is sent too or is a
    /// root.
    pub(super) fn complete(&self, out: &mut Verdicts) {
        if !self.incomplete {
            let msg = format!("{} certificate(s) sent", self.parsed.len());
            return out.pass("X-07", msg);
        }
        let last = self.last();
        if let Some(root) = &self.unknown_root {
            let msg = format!(
                "the chain ends at '{}', whose issuer '{root}' is in no store: most likely \
                 a root no store trusts (see X-04){}",
                last.subject(),
                self.aia_note(last)
            );
            return out.unknown("X-07", msg);
        }
        out.fail(
            "X-07",
            format!(
                "incomplete chain: the issuer of '{}' ('{}') is not sent and is not a root; \
                 devices without it cached fail (600001, -202){}",
                last.subject(),
                last.issuer(),
                self.aia_note(last)
            ),
            format!(
                "append the intermediate '{}' to the certificate file \
                 (nginx ssl_certificate: use fullchain.pem)",
                last.issuer()
            ),
        );
    }

    /// What the issuer URL (AIA) of `last` says about a missing
    /// intermediate: fetched (http, one DER certificate) and tried.
    fn aia_note(&self, last: &X509Certificate) -> String {
        let Some(url) = aia_url(last) else {
            return "; the certificate names no issuer URL (AIA)".into();
        };
        match self.checker.fetch_der(&url) {
            Err(why) => format!(
                "; fetching the issuer from {url} failed ({why}), \
                 so the repaired chain was not tried"
            ),
            Ok(der) => {
                let mut with = self.seen.chain[1..].to_vec();
                with.push(der);
                if builds_path(&self.verify(&with)) {
                    format!(
                        "; with the issuer from {url} the chain verifies, \
                         so only the server's file lacks it"
                    )
                } else {
                    format!("; the issuer from {url} does not complete a trusted path either")
                }
            }
        }
    }

    /// leaf first, each certificate followed by its issuer.
    pub(super) fn order(&self, out: &mut Verdicts) {
        let order_ok = self
            .parsed
            .windows(2)
            .all(|w| w[0].issuer().as_raw() == w[1].subject().as_raw());
        let last = self.last();
        let root_sent = self.parsed.len() > 1 && last.subject().as_raw() == last.issuer().as_raw();
        if !order_ok {
            out.warn(
                "X-08",
                "the certificates are out of order or include unrelated ones",
                "send leaf first, then each issuer in turn",
            );
        } else if root_sent {
            out.info("X-08", "the root is sent too (harmless, wastes bytes)", "");
        } else {
            out.pass("X-08", "leaf first, each issuer next");
        }
    }
}

/// Why the verifier found no trusted path, in words.
fn describe(e: &rustls::Error) -> String {
    let rustls::Error::InvalidCertificate(e) = e else {
        return e.to_string();
    };
    match e {
        CertificateError::UnknownIssuer => {
            "no path to a trusted root: the issuer is unknown".into()
        }
        CertificateError::BadSignature => "a signature in the chain does not verify".into(),
        CertificateError::BadEncoding => "a certificate in the chain cannot be decoded".into(),
        CertificateError::UnhandledCriticalExtension => {
            "a certificate in the chain has a critical extension that is not understood".into()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "a certificate in the chain is not valid for server authentication".into()
        }
        CertificateError::Revoked => "a certificate in the chain is revoked".into(),
        CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
            "a signature algorithm in the chain is not supported".into()
        }
        CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "a signature algorithm or key in the chain is not supported".into()
        }
        // Other variants print as Rust values; say what is known in words.
        other => format!(
            "the chain does not verify: {}",
            crate::check::probe::words(&format!("{other:?}"))
        ),
    }
}

/// The caIssuers URL of `c`'s Authority Information Access, if any.
fn aia_url(c: &X509Certificate) -> Option<String> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                aia.accessdescs.iter().find_map(|d| {
                    match (&d.access_method.to_id_string()[..], &d.access_location) {
                        (OID_CA_ISSUERS, GeneralName::URI(u)) => Some(u.to_string()),
                        _ => None,
                    }
                })
            }
            _ => None,
        })
}
