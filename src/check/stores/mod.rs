//! The bundled root stores of the phones: Apple's (iOS, from Apple's open
//! source `security_certificates`), Android's (AOSP 13, `ca-certificates`)
//! and the roots every Android 4.4–6 device has (the AOSP stores of both
//! releases, intersected). Each is a dated table, one root per line:
//! SPKI SHA-256, notAfter, subject and, for the stores a path is built
//! against, the trust anchor (subject, public key, name constraints) in
//! base64. `scripts/roots` writes the tables from the certificates.
//!
//! [`ends_at`] answers the question X-05 and X-06 ask: at which root of a
//! store does a served chain end, if any.

use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, Der, ServerName, TrustAnchor, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::der::Reader;

/// A bundled root store snapshot.
///
/// ```
/// let apple = wxnet::check::RootStore::apple();
/// assert_eq!(apple.name(), "Apple");
/// assert!(apple.date().starts_with("20") && apple.len() > 100);
/// assert!(apple.source().contains("security_certificates"));
/// ```
#[derive(Debug)]
pub struct RootStore {
    name: &'static str,
    source: &'static str,
    date: &'static str,
    roots: Vec<Root>,
}

/// One root of a snapshot.
#[derive(Debug)]
pub(crate) struct Root {
    pub spki_sha256: [u8; 32],
    pub subject: &'static str,
    pub anchor: Option<TrustAnchor<'static>>,
}

static APPLE: OnceLock<RootStore> = OnceLock::new();
static ANDROID: OnceLock<RootStore> = OnceLock::new();
static OLD_ANDROID: OnceLock<RootStore> = OnceLock::new();

impl RootStore {
    /// Apple's trust store (iOS, iPadOS, macOS), as published in Apple's
    /// open source `security_certificates` project.
    ///
    /// ```
    /// // ISRG Root X2 (Let's Encrypt's ECDSA root) is trusted by Apple.
    /// let x2 = "762195c225586ee6c0237456e2107dc54f1efc21f61a792ebd515913cce68332";
    /// assert!(wxnet::check::RootStore::apple().subject_of(x2).unwrap().contains("ISRG Root X2"));
    /// ```
    pub fn apple() -> &'static RootStore {
        APPLE.get_or_init(|| RootStore::parse(include_str!("apple.txt")))
    }

    /// The Android 13 system store (AOSP `ca-certificates`).
    ///
    /// ```
    /// // ISRG Root X2 came with Android 14: not in this snapshot.
    /// let x2 = "762195c225586ee6c0237456e2107dc54f1efc21f61a792ebd515913cce68332";
    /// assert!(wxnet::check::RootStore::android().subject_of(x2).is_none());
    /// ```
    pub fn android() -> &'static RootStore {
        ANDROID.get_or_init(|| RootStore::parse(include_str!("android.txt")))
    }

    /// The roots in both the Android 4.4 and the Android 6 AOSP stores:
    /// what every Android 4.4–6 device trusts (no trust anchors: only the
    /// SPKI hashes, matched against the root a path was built to).
    ///
    /// ```
    /// // ISRG Root X1 reached Android in 7.1.1.
    /// let x1 = "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3";
    /// assert!(wxnet::check::RootStore::old_android().subject_of(x1).is_none());
    /// assert!(wxnet::check::RootStore::android().subject_of(x1).is_some());
    /// ```
    pub fn old_android() -> &'static RootStore {
        OLD_ANDROID.get_or_init(|| RootStore::parse(include_str!("android-old.txt")))
    }

    /// The store's name (`Apple`, `Android`, `Android 4.4-6`).
    ///
    /// ```
    /// assert_eq!(wxnet::check::RootStore::android().name(), "Android");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Where the snapshot was taken from (repository, commit, folder).
    ///
    /// ```
    /// assert!(wxnet::check::RootStore::android().source().contains("ca-certificates"));
    /// ```
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The date of the snapshot (`YYYY-MM-DD`).
    ///
    /// ```
    /// assert_eq!(wxnet::check::RootStore::apple().date().len(), 10);
    /// ```
    pub fn date(&self) -> &'static str {
        self.date
    }

    /// How many roots the snapshot holds.
    ///
    /// ```
    /// assert!(wxnet::check::RootStore::old_android().len() > 90);
    /// ```
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether the snapshot holds no root (never, for a bundled one).
    ///
    /// ```
    /// assert!(!wxnet::check::RootStore::apple().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// The subject of the root whose SubjectPublicKeyInfo has this SHA-256
    /// (hex, either case), if the snapshot holds it.
    ///
    /// ```
    /// let store = wxnet::check::RootStore::apple();
    /// assert!(store.subject_of("00").is_none());
    /// ```
    pub fn subject_of(&self, spki_sha256_hex: &str) -> Option<&'static str> {
        let want = unhex(spki_sha256_hex)?;
        self.find(&want).map(|r| r.subject)
    }

    pub(crate) fn find(&self, spki_sha256: &[u8; 32]) -> Option<&Root> {
        self.roots.iter().find(|r| &r.spki_sha256 == spki_sha256)
    }

    /// "Apple's store (snapshot 2025-10-16)".
    pub(crate) fn label(&self) -> String {
        format!("{}'s store (snapshot {})", self.name, self.date)
    }

    /// Read a table; a line that cannot be read is skipped (the tests
    /// check every bundled line is read).
    fn parse(text: &'static str) -> RootStore {
        let header = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix("# ")?.strip_prefix(key))
                .unwrap_or("")
                .trim()
        };
        let name = header("").split(" root store").next().unwrap_or("").trim();
        let roots = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(Root::parse)
            .collect();
        RootStore {
            name,
            source: header("source:"),
            date: header("date:"),
            roots,
        }
    }
}

impl Root {
    fn parse(line: &'static str) -> Option<Root> {
        let mut cols = line.split('\t');
        let spki_sha256 = unhex(cols.next()?)?;
        let _not_after = cols.next()?;
        let subject = cols.next()?;
        let anchor = match cols.next() {
            Some(b64) => Some(anchor(&unbase64(b64)?)?),
            None => None,
        };
        Some(Root {
            spki_sha256,
            subject,
            anchor,
        })
    }
}

/// A trust anchor from the DER subject, SPKI and optional name
/// constraints, each kept without its SEQUENCE header as webpki wants.
fn anchor(der: &[u8]) -> Option<TrustAnchor<'static>> {
    let mut r = Reader::new(der);
    let subject = r.any()?.value;
    let spki = r.any()?.value;
    let constraints = if r.is_empty() {
        None
    } else {
        Some(Der::from(r.any()?.value.to_vec()))
    };
    Some(TrustAnchor {
        subject: Der::from(subject.to_vec()),
        subject_public_key_info: Der::from(spki.to_vec()),
        name_constraints: constraints,
    })
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim_end_matches('=').bytes() {
        acc = (acc << 6) | u32::from(value(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Where a served chain ends, for one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// A path to this root of the store verifies (names and dates aside).
    Root {
        subject: String,
        spki_sha256: [u8; 32],
    },
    /// The last certificate names this root of the store as its issuer,
    /// but no path verifies (a signature or key the verifier refuses).
    Named {
        subject: String,
        spki_sha256: [u8; 32],
    },
    /// No root of the store issued the chain.
    Absent,
}

/// The root of `store` the chain (leaf first) ends at, judged at `at`
/// for `host`; a name or date problem does not hide the root.
pub(crate) fn ends_at(store: &RootStore, chain: &[CertificateDer<'static>], at: UnixTime) -> End {
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .filter_map(|c| X509Certificate::from_der(c).ok().map(|(_, x)| x))
        .collect();
    let (Some(leaf), Some(last)) = (chain.first(), parsed.last()) else {
        return End::Absent;
    };
    // Candidates: the roots named as subject or issuer of a served
    // certificate (a cross-signed chain may end before its last issuer).
    let names: Vec<&[u8]> = parsed
        .iter()
        .flat_map(|c| [c.subject().as_raw(), c.issuer().as_raw()])
        .map(name_value)
        .collect();
    let candidates = store.roots.iter().filter(|r| {
        r.anchor
            .as_ref()
            .is_some_and(|a| names.contains(&a.subject.as_ref()))
    });
    let at = within(parsed.first(), at);
    let mut named = None;
    for root in candidates {
        let Some(anchor) = &root.anchor else { continue };
        if verifies(anchor, leaf, &chain[1..], at) {
            return End::Root {
                subject: root.subject.to_owned(),
                spki_sha256: root.spki_sha256,
            };
        }
        if anchor.subject.as_ref() == name_value(last.issuer().as_raw()) {
            named.get_or_insert(End::Named {
                subject: root.subject.to_owned(),
                spki_sha256: root.spki_sha256,
            });
        }
    }
    named.unwrap_or(End::Absent)
}

/// A time inside the leaf's validity, so an expired leaf still shows the
/// root its chain ends at (X-02 judges the dates).
fn within(leaf: Option<&X509Certificate<'_>>, at: UnixTime) -> UnixTime {
    let Some(leaf) = leaf else { return at };
    let v = leaf.validity();
    let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
    let now = at.as_secs() as i64;
    let secs = if now < nb || now > na { nb + 1 } else { now };
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs.max(0) as u64))
}

fn verifies(
    anchor: &TrustAnchor<'static>,
    leaf: &CertificateDer<'static>,
    intermediates: &[CertificateDer<'static>],
    at: UnixTime,
) -> bool {
    let roots = Arc::new(RootCertStore {
        roots: vec![anchor.clone()],
    });
    let provider = Arc::new(ring::default_provider());
    let Ok(verifier) = WebPkiServerVerifier::builder_with_provider(roots, provider).build() else {
        return false;
    };
    let Ok(name) = ServerName::try_from("root.check.invalid") else {
        return false;
    };
    let r = verifier.verify_server_cert(leaf, intermediates, &name, &[], at);
    super::cert::builds_path(&r.map(|_| ()))
}

/// The contents of a DER `Name` without its SEQUENCE header, as webpki
/// keeps trust-anchor subjects.
pub(crate) fn name_value(der: &[u8]) -> &[u8] {
    Reader::new(der).any().map_or(der, |t| t.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256, from the TLS provider's hash.
    fn sha256(data: &[u8]) -> Option<[u8; 32]> {
        let suite = ring::cipher_suite::TLS13_AES_128_GCM_SHA256.tls13()?;
        suite
            .common
            .hash_provider
            .hash(data)
            .as_ref()
            .try_into()
            .ok()
    }

    /// The SHA-256 of a trust anchor's SubjectPublicKeyInfo (re-wrapped in
    /// its SEQUENCE header, as the tables hash it).
    fn anchor_spki_sha256(a: &TrustAnchor<'_>) -> Option<[u8; 32]> {
        let spki = a.subject_public_key_info.as_ref();
        let mut der = vec![0x30];
        match spki.len() {
            n if n < 0x80 => der.push(n as u8),
            n if n < 0x100 => der.extend([0x81, n as u8]),
            n => der.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        der.extend_from_slice(spki);
        sha256(&der)
    }

    #[test]
    fn every_bundled_line_is_read() {
        for (store, text) in [
            (RootStore::apple(), include_str!("apple.txt")),
            (RootStore::android(), include_str!("android.txt")),
            (RootStore::old_android(), include_str!("android-old.txt")),
        ] {
            let lines = text.lines().filter(|l| !l.starts_with('#')).count();
            assert_eq!(store.len(), lines, "{}", store.name);
            let with_anchor = store.roots.iter().filter(|r| r.anchor.is_some()).count();
            assert!(with_anchor == 0 || with_anchor == lines, "{}", store.name);
            for r in &store.roots {
                if let Some(a) = &r.anchor {
                    assert_eq!(anchor_spki_sha256(a), Some(r.spki_sha256), "{}", r.subject);
                }
            }
        }
        assert_eq!(RootStore::apple().len(), 156);
        assert_eq!(RootStore::android().len(), 125);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        assert!(Root::parse("zz\t2030-01-01\tCN=x").is_none());
        assert!(Root::parse("").is_none());
        let h = "00".repeat(32);
        assert!(Root::parse(Box::leak(format!("{h}\t2030\tCN=x\t!!").into_boxed_str())).is_none());
        assert!(anchor(&[0x30, 0x05, 1]).is_none());
        assert_eq!(unbase64("TWFu"), Some(b"Man".to_vec()));
    }
}
