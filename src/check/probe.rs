//! The TLS probes: real rustls handshakes, each offering one thing (a TLS
//! version, a cipher suite, a key-exchange group, a certificate type, no
//! SNI), with a verifier that only records what the server sent. Every
//! verdict on the certificates is computed afterwards, offline.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, SupportedKxGroup, ring};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, SupportedCipherSuite,
};

use super::Run;
use crate::tls::AcceptAny;

/// What one handshake saw.
#[derive(Debug, Clone, Default)]
pub(super) struct Seen {
    pub chain: Vec<CertificateDer<'static>>,
    pub ocsp: Vec<u8>,
}

/// What a completed handshake agreed on, by name (`TLS 1.3`, …).
pub(super) struct Agreed {
    pub version: String,
    pub suite: String,
    pub group: String,
}

/// The outcome of one probe handshake.
pub(super) enum Probe {
    Done(Seen, Agreed),
    /// The server refused what was offered (an alert, an incompatibility).
    Refused(String),
    /// No answer either way (reset, EOF, timeout, connect failure).
    Failed(String),
}

impl Probe {
    pub fn done(&self) -> bool {
        matches!(self, Probe::Done(..))
    }
}

/// What a probe offers; `None` offers everything rustls has.
#[derive(Default)]
pub(super) struct Offer {
    pub tls12: bool,
    pub tls13: bool,
    pub suites: Option<Vec<SupportedCipherSuite>>,
    pub groups: Option<Vec<&'static dyn SupportedKxGroup>>,
    pub schemes: Option<Vec<SignatureScheme>>,
    pub sni: bool,
    /// Accept any handshake signature: only to record the chain of a
    /// server whose key rustls refuses (RSA-1024), never as proof that a
    /// handshake works.
    pub lenient: bool,
}

impl Offer {
    pub fn versions(tls12: bool, tls13: bool) -> Offer {
        Offer {
            tls12,
            tls13,
            sni: true,
            ..Offer::default()
        }
    }
}

pub(super) const RSA_SCHEMES: [SignatureScheme; 6] = [
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];
pub(super) const ECDSA_SCHEMES: [SignatureScheme; 3] = [
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
];

/// The registered name of a TLS code point, or its number when rustls
/// does not know it.
pub(super) fn code_name(name: Option<&'static str>, number: u16) -> String {
    name.map_or_else(|| format!("0x{number:04x}"), str::to_owned)
}

/// The IANA name of a cipher suite (`TLS_AES_128_GCM_SHA256`, …), as
/// the raw probe names it.
pub(super) fn suite_name(s: &SupportedCipherSuite) -> String {
    super::raw::suites::name(u16::from(s.suite()))
}

impl Run<'_> {
    /// One handshake with `addr` offering `offer`, then hang up.
    pub(super) fn probe(&self, addr: SocketAddr, offer: &Offer) -> Probe {
        let base = ring::default_provider();
        let provider = CryptoProvider {
            cipher_suites: offer.suites.clone().unwrap_or(base.cipher_suites.clone()),
            kx_groups: offer.groups.clone().unwrap_or(base.kx_groups.clone()),
            ..base
        };
        let recorder = Arc::new(AcceptAny::new(
            provider.signature_verification_algorithms,
            offer.schemes.clone(),
            true,
        ));
        let mut versions = Vec::new();
        if offer.tls13 {
            versions.push(&rustls::version::TLS13);
        }
        if offer.tls12 {
            versions.push(&rustls::version::TLS12);
        }
        let verifier: Arc<dyn ServerCertVerifier> = if offer.lenient {
            Arc::new(Lenient(recorder.clone()))
        } else {
            recorder.clone()
        };
        let config = match ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&versions)
        {
            Ok(b) => b,
            Err(e) => return Probe::Refused(format!("nothing to offer: {e}")),
        };
        let mut config = config
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.enable_sni = offer.sni;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let Ok(name) = ServerName::try_from(self.target.host.clone()) else {
            return Probe::Failed(format!("{} is not a valid server name", self.target.host));
        };
        let mut conn = match ClientConnection::new(Arc::new(config), name) {
            Ok(c) => c,
            Err(e) => return Probe::Failed(plain(&e)),
        };
        if let Err(outcome) = self.handshake(addr, &mut conn) {
            return outcome;
        }
        let (chain, ocsp) = recorder.seen();
        Probe::Done(Seen { chain, ocsp }, agreed(&conn))
    }

    /// Drive the handshake of `conn` over a new connection to `addr`.
    fn handshake(&self, addr: SocketAddr, conn: &mut ClientConnection) -> Result<(), Probe> {
        let timeout = self.checker.timeout;
        let mut tcp = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| Probe::Failed(format!("connect to {addr}: {e}")))?;
        let _ = tcp.set_read_timeout(Some(timeout));
        let _ = tcp.set_write_timeout(Some(timeout));
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                let tls = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>());
                let why = io_plain(&e);
                let refused = tls.is_some_and(|r| {
                    matches!(
                        r,
                        rustls::Error::AlertReceived(_) | rustls::Error::PeerIncompatible(_)
                    )
                });
                return Err(if refused {
                    Probe::Refused(why)
                } else {
                    Probe::Failed(why)
                });
            }
        }
        Ok(())
    }
}

/// Records like [`AcceptAny`] and takes every handshake signature as
/// valid (see [`Offer::lenient`]).
#[derive(Debug)]
struct Lenient(Arc<AcceptAny>);

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn agreed(conn: &ClientConnection) -> Agreed {
    Agreed {
        version: conn
            .protocol_version()
            .map_or("?".into(), |v| super::raw::version_name(u16::from(v))),
        suite: conn
            .negotiated_cipher_suite()
            .map_or("?".into(), |s| suite_name(&s)),
        group: conn
            .negotiated_key_exchange_group()
            .map_or("?".into(), |g| {
                code_name(g.name().as_str(), u16::from(g.name()))
            }),
    }
}

/// A rustls error in words: its `Display` prints alerts and reasons as
/// Rust values (`received fatal alert: HandshakeFailure`).
pub(super) fn plain(e: &rustls::Error) -> String {
    match e {
        rustls::Error::AlertReceived(a) => {
            // As the raw probe names alerts (RFC 8446 §6).
            format!("alert {}", words(&format!("{a:?}")).replace(' ', "_"))
        }
        rustls::Error::PeerIncompatible(w) => {
            format!("the server is incompatible: {}", words(&format!("{w:?}")))
        }
        rustls::Error::PeerMisbehaved(w) => {
            format!("the server misbehaved: {}", words(&format!("{w:?}")))
        }
        rustls::Error::InvalidCertificate(c) => {
            format!("the certificate is refused: {}", words(&format!("{c:?}")))
        }
        other => other.to_string(),
    }
}

/// An I/O error in words, the TLS error inside it too.
pub(super) fn io_plain(e: &std::io::Error) -> String {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map_or_else(|| e.to_string(), plain)
}

/// The innermost name of a Rust value's `Debug` text, in words:
/// `Other(OtherError(CaUsedAsEndEntity))` is "a CA certificate is used
/// as the server's certificate", `NoCipherSuitesInCommon` "no cipher
/// suites in common".
pub(super) fn words(debug: &str) -> String {
    let name = debug
        .split(['(', ')'])
        .map(|t| t.split([' ', '{']).next().unwrap_or_default())
        .rfind(|t| !t.is_empty())
        .unwrap_or(debug);
    let known = match name {
        "CaUsedAsEndEntity" => "a CA certificate is used as the server's certificate",
        "EndEntityUsedAsCa" => "a server certificate is used as a CA",
        "UnknownIssuer" => "the issuer is unknown",
        "PathLenConstraintViolated" => "a CA's path length limit is exceeded",
        "NameConstraintViolation" => "a CA's name constraints exclude this name",
        "RequiredEkuNotFound" | "InvalidPurpose" => "not valid for server authentication",
        "NotValidForName" | "NotValidForNameContext" => "not valid for this name",
        "Expired" | "ExpiredContext" => "expired",
        "NotValidYet" | "NotValidYetContext" => "not valid yet",
        _ => "",
    };
    if !known.is_empty() {
        return known.into();
    }
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_values_become_words() {
        assert_eq!(
            words("Other(OtherError(CaUsedAsEndEntity))"),
            "a CA certificate is used as the server's certificate"
        );
        assert_eq!(
            words("NoCipherSuitesInCommon"),
            "no cipher suites in common"
        );
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert_eq!(plain(&alert), "alert handshake_failure");
    }
}
