//! OCSP (RFC 6960), read offline: a stapled or fetched response is
//! unpacked down to the single response about the leaf (matched by the
//! issuer's name and key hashes and the serial number), and its signature
//! is checked against the issuer or a responder the issuer delegated to
//! (a certificate in the response, issued by the issuer, with the
//! OCSPSigning extended key usage). Also the request `--online` sends.

use ring::digest;
use rustls::pki_types::SignatureVerificationAlgorithm;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::check::der::{self, Reader, Signed};

/// id-pkix-ocsp-basic.
const OID_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];

/// What the responder says about the leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CertStatus {
    Good,
    Revoked {
        at: i64,
        reason: Option<&'static str>,
    },
    Unknown,
}

/// Whether the response's signature holds, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Signature {
    /// By the issuer itself.
    Issuer,
    /// By a responder the issuer delegated to (its subject).
    Delegated(String),
    /// It does not verify, or its signer has no right to sign.
    Invalid(String),
    /// It cannot be checked here (no issuer, an unsupported algorithm).
    Unverifiable(String),
}

/// A response about the leaf.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub status: CertStatus,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub signature: Signature,
}

/// The single response about `leaf` in `response`, with its signature
/// checked against `issuer` (the certificate that issued the leaf, when
/// known) at `now`; `Err` says why nothing could be read.
pub(super) fn read(
    response: &[u8],
    leaf: &X509Certificate,
    issuer: Option<&X509Certificate>,
    now: i64,
) -> Result<Answer, String> {
    let basic = basic_response(response)?;
    let signed = Signed::parse(basic).ok_or("the BasicOCSPResponse is malformed")?;
    let (status, this_update, next_update) = single_for(&signed, leaf, issuer)?;
    let signature = match issuer {
        None => Signature::Unverifiable(
            "the leaf's issuer was not sent and is not a known root, so the signature \
             cannot be checked"
                .into(),
        ),
        Some(issuer) => signer(&signed, issuer, now),
    };
    Ok(Answer {
        status,
        this_update,
        next_update,
        signature,
    })
}

/// The BasicOCSPResponse inside an OCSPResponse.
fn basic_response(response: &[u8]) -> Result<&[u8], String> {
    let malformed = || "the response is not a DER OCSPResponse".to_string();
    let mut r = Reader::new(response).sequence().ok_or_else(malformed)?;
    let status = r.expect(der::ENUMERATED).ok_or_else(malformed)?;
    match status.value {
        [0] => {}
        [code] => {
            let name = match code {
                1 => "malformedRequest",
                2 => "internalError",
                3 => "tryLater",
                5 => "sigRequired",
                6 => "unauthorized",
                _ => "an unknown status",
            };
            return Err(format!(
                "the responder answered {name} ({code}), not a status"
            ));
        }
        _ => return Err(malformed()),
    }
    let bytes = r.expect(der::ctx(0)).ok_or_else(malformed)?;
    let mut bytes = Reader::new(bytes.value).sequence().ok_or_else(malformed)?;
    let kind = bytes.expect(der::OID).ok_or_else(malformed)?;
    if kind.value != OID_BASIC {
        return Err("the response is not a basic OCSP response".into());
    }
    Ok(bytes.expect(der::OCTET_STRING).ok_or_else(malformed)?.value)
}

/// The status, thisUpdate and nextUpdate of the single response whose
/// CertID names `leaf`.
fn single_for(
    signed: &Signed,
    leaf: &X509Certificate,
    issuer: Option<&X509Certificate>,
) -> Result<(CertStatus, i64, Option<i64>), String> {
    let malformed = || "the ResponseData is malformed".to_string();
    let mut data = Reader::new(signed.tbs.value);
    let _version = data.optional(der::ctx(0));
    let _responder = data.any().ok_or_else(malformed)?;
    let _produced = data.expect(der::GENERALIZED_TIME).ok_or_else(malformed)?;
    let mut singles = data.sequence().ok_or_else(malformed)?;
    while !singles.is_empty() {
        let mut single = singles.sequence().ok_or_else(malformed)?;
        let id = single.expect(der::SEQUENCE).ok_or_else(malformed)?;
        if !names_leaf(id.value, leaf, issuer) {
            continue;
        }
        let status = cert_status(single.any().ok_or_else(malformed)?).ok_or_else(malformed)?;
        let this_update = single
            .any()
            .and_then(der::generalized_time)
            .ok_or_else(malformed)?;
        let next_update = match single.optional(der::ctx(0)) {
            Some(t) => Some(
                Reader::new(t.value)
                    .any()
                    .and_then(der::generalized_time)
                    .ok_or_else(malformed)?,
            ),
            None => None,
        };
        return Ok((status, this_update, next_update));
    }
    Err(format!(
        "no response in it is about this certificate (serial {})",
        leaf.tbs_certificate.raw_serial_as_string()
    ))
}

/// Whether a CertID names `leaf`: its serial, and, when the issuer is
/// known, the hashes of the issuer's name and key (else the leaf's issuer
/// name, whose hash the leaf itself gives).
fn names_leaf(cert_id: &[u8], leaf: &X509Certificate, issuer: Option<&X509Certificate>) -> bool {
    let mut id = Reader::new(cert_id);
    let Some(mut alg) = id.sequence() else {
        return false;
    };
    let Some(hash) = alg.expect(der::OID).and_then(|o| hash_of(o.value)) else {
        return false;
    };
    let (Some(name_hash), Some(key_hash), Some(serial)) = (
        id.expect(der::OCTET_STRING),
        id.expect(der::OCTET_STRING),
        id.expect(der::INTEGER),
    ) else {
        return false;
    };
    if serial.value != leaf.tbs_certificate.raw_serial() {
        return false;
    }
    if digest::digest(hash, leaf.issuer().as_raw()).as_ref() != name_hash.value {
        return false;
    }
    issuer.is_none_or(|i| {
        let key = der::spki(i.public_key().raw).map(|(_, k)| k);
        key.is_some_and(|k| digest::digest(hash, k).as_ref() == key_hash.value)
    })
}

fn hash_of(oid: &[u8]) -> Option<&'static digest::Algorithm> {
    match oid {
        OID_SHA1 => Some(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        OID_SHA256 => Some(&digest::SHA256),
        OID_SHA384 => Some(&digest::SHA384),
        OID_SHA512 => Some(&digest::SHA512),
        _ => None,
    }
}

/// good `[0]`, revoked `[1]` (time and perhaps a reason), unknown `[2]`.
fn cert_status(t: der::Tlv) -> Option<CertStatus> {
    const GOOD: u8 = der::ctx_prim(0);
    const REVOKED: u8 = der::ctx(1);
    const UNKNOWN: u8 = der::ctx_prim(2);
    match t.tag {
        GOOD => Some(CertStatus::Good),
        UNKNOWN => Some(CertStatus::Unknown),
        REVOKED => {
            let mut info = Reader::new(t.value);
            let at = info.any().and_then(der::generalized_time)?;
            let reason = info
                .optional(der::ctx(0))
                .and_then(|r| Reader::new(r.value).expect(der::ENUMERATED))
                .and_then(|e| e.value.first().copied())
                .map(reason_name);
            Some(CertStatus::Revoked { at, reason })
        }
        _ => None,
    }
}

/// The name of a CRLReason code (RFC 5280, 5.3.1).
fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "an unknown reason",
    }
}

/// Who signed the response: the issuer, or a delegated responder sent in
/// the response.
fn signer(signed: &Signed, issuer: &X509Certificate, now: i64) -> Signature {
    // A key of another type, or an algorithm not verified here, proves
    // nothing either way; it only matters when no key verifies.
    let mut unsupported = None;
    match verify(issuer.public_key().raw, signed) {
        Ok(()) => return Signature::Issuer,
        Err(Check::Unsupported(why)) => unsupported = Some(why),
        Err(Check::Invalid) => {}
    }
    let mut rest = signed.rest;
    let mut certs = rest
        .optional(der::ctx(0))
        .and_then(|t| Reader::new(t.value).sequence())
        .unwrap_or(Reader::new(&[]));
    let mut problem = None;
    while let Some(cert) = certs.expect(der::SEQUENCE) {
        let Ok((_, responder)) = X509Certificate::from_der(cert.raw) else {
            continue;
        };
        match verify(responder.public_key().raw, signed) {
            Ok(()) => {}
            Err(Check::Unsupported(why)) => {
                unsupported.get_or_insert(why);
                continue;
            }
            Err(Check::Invalid) => continue,
        }
        let name = responder.subject().to_string();
        problem = Some(match delegation(cert.raw, &responder, issuer, now) {
            Ok(()) => return Signature::Delegated(name),
            Err(why) => format!("it is signed by '{name}', {why}"),
        });
    }
    match (problem, unsupported) {
        (Some(why), _) => Signature::Invalid(why),
        (None, Some(why)) => Signature::Unverifiable(why),
        (None, None) => Signature::Invalid(
            "the signature verifies neither with the issuer's key nor with a responder \
             certificate in the response"
                .into(),
        ),
    }
}

/// Why `responder` may not sign for `issuer`'s certificates, if so.
fn delegation(
    der_cert: &[u8],
    responder: &X509Certificate,
    issuer: &X509Certificate,
    now: i64,
) -> Result<(), String> {
    let issued = responder.issuer().as_raw() == issuer.subject().as_raw()
        && Signed::parse(der_cert).is_some_and(|s| verify(issuer.public_key().raw, &s).is_ok());
    if !issued {
        return Err("which the leaf's issuer did not issue".into());
    }
    let eku = responder.extended_key_usage().ok().flatten();
    if !eku.is_some_and(|e| e.value.ocsp_signing) {
        return Err("which lacks the OCSPSigning extended key usage".into());
    }
    let v = responder.validity();
    if now < v.not_before.timestamp() || now > v.not_after.timestamp() {
        return Err("which is outside its validity period".into());
    }
    Ok(())
}

enum Check {
    Invalid,
    Unsupported(String),
}

/// Verify `signed` with the key of `spki` (a DER subjectPublicKeyInfo),
/// with the algorithms rustls verifies certificates with.
fn verify(spki: &[u8], signed: &Signed) -> Result<(), Check> {
    let Some((key_alg, key)) = der::spki(spki) else {
        return Err(Check::Unsupported("the signer's key cannot be read".into()));
    };
    let algs: &[&dyn SignatureVerificationAlgorithm] = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    let mut known = false;
    for a in algs {
        if a.public_key_alg_id().as_ref() == key_alg
            && a.signature_alg_id().as_ref() == signed.algorithm
        {
            known = true;
            if a.verify_signature(key, signed.tbs.raw, signed.signature)
                .is_ok()
            {
                return Ok(());
            }
        }
    }
    if known {
        Err(Check::Invalid)
    } else {
        Err(Check::Unsupported(
            "its signature algorithm is not one this tool verifies (SHA-1?)".into(),
        ))
    }
}

/// An OCSPRequest for `leaf` (CertID with SHA-1, as responders expect).
pub(super) fn request(leaf: &X509Certificate, issuer: &X509Certificate) -> Option<Vec<u8>> {
    let hash = &digest::SHA1_FOR_LEGACY_USE_ONLY;
    let (_, key) = der::spki(issuer.public_key().raw)?;
    let alg = [der::write(der::OID, OID_SHA1), der::write(der::NULL, &[])].concat();
    let cert_id = [
        der::write(der::SEQUENCE, &alg),
        der::write(
            der::OCTET_STRING,
            digest::digest(hash, issuer.subject().as_raw()).as_ref(),
        ),
        der::write(der::OCTET_STRING, digest::digest(hash, key).as_ref()),
        der::write(der::INTEGER, leaf.tbs_certificate.raw_serial()),
    ]
    .concat();
    let request = der::write(der::SEQUENCE, &der::write(der::SEQUENCE, &cert_id));
    let list = der::write(der::SEQUENCE, &request);
    let tbs = der::write(der::SEQUENCE, &list);
    Some(der::write(der::SEQUENCE, &tbs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAF: &[u8] = include_bytes!("../../../tests/fixtures/ocsp/leaf.der");
    const ISSUER: &[u8] = include_bytes!("../../../tests/fixtures/ocsp/issuer.der");
    const REVOKED: &[u8] = include_bytes!("../../../tests/fixtures/ocsp/revoked-delegated.der");
    /// 2026-12-04, when the fixture responder's certificate is valid.
    const AT: i64 = 1_796_400_000;

    #[test]
    fn a_revoked_response_by_a_delegated_responder_is_read() {
        let (_, leaf) = X509Certificate::from_der(LEAF).unwrap();
        let (_, issuer) = X509Certificate::from_der(ISSUER).unwrap();
        let a = read(REVOKED, &leaf, Some(&issuer), AT).unwrap();
        assert_eq!(
            a.status,
            CertStatus::Revoked {
                at: 1_767_225_600,
                reason: Some("keyCompromise")
            }
        );
        assert_eq!(
            a.signature,
            Signature::Delegated("CN=OCSP-responder".into())
        );
        assert_eq!(a.next_update, Some(a.this_update + 86_400));
        let unchecked = read(REVOKED, &leaf, None, AT).unwrap();
        assert!(matches!(unchecked.signature, Signature::Unverifiable(_)));
        // The responder's certificate has expired by then.
        let late = read(REVOKED, &leaf, Some(&issuer), AT + 400 * 86_400).unwrap();
        assert!(matches!(late.signature, Signature::Invalid(ref w) if w.contains("validity")));
    }

    #[test]
    fn corrupted_responses_never_panic_nor_verify_another_answer() {
        let (_, leaf) = X509Certificate::from_der(LEAF).unwrap();
        let (_, issuer) = X509Certificate::from_der(ISSUER).unwrap();
        let truth = read(REVOKED, &leaf, Some(&issuer), AT).unwrap();
        for i in 0..REVOKED.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = REVOKED.to_vec();
                bad[i] ^= flip;
                let Ok(a) = read(&bad, &leaf, Some(&issuer), AT) else {
                    continue;
                };
                if matches!(a.signature, Signature::Issuer | Signature::Delegated(_)) {
                    assert_eq!(a.status, truth.status, "byte {i} ^ {flip:#x}");
                    assert_eq!(a.this_update, truth.this_update, "byte {i} ^ {flip:#x}");
                }
            }
            let _ = read(&REVOKED[..i], &leaf, Some(&issuer), AT);
        }
    }

    #[test]
    fn junk_and_truncations_are_errors_not_panics() {
        let leaf_pem = include_bytes!("../../../tests/fixtures/leaf-rsa1024-sha1.pem");
        let der = crate::tls::parse_certificates(leaf_pem).unwrap();
        let (_, leaf) = X509Certificate::from_der(&der[0]).unwrap();
        let req = request(&leaf, &leaf).unwrap();
        assert!(Reader::new(&req).sequence().is_some());
        let samples: [&[u8]; 4] = [b"", b"\x30\x03\x0a\x01\x03", b"\x30\x80", &req];
        for s in samples {
            for cut in 0..=s.len() {
                assert!(read(&s[..cut], &leaf, Some(&leaf), 0).is_err());
            }
        }
        let try_later = read(b"\x30\x03\x0a\x01\x03", &leaf, None, 0).unwrap_err();
        assert!(try_later.contains("tryLater"), "{try_later}");
    }
}
