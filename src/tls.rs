//! rustls client configuration: TLS 1.2 and 1.3 only, ring provider,
//! webpki-roots plus the roots the user adds, one shared config per client
//! (its session cache enables resumption).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Api, Error, ErrorKind};

const BUILD: Api = Api::ClientBuilderBuild;

/// Parse one or more certificates from PEM (`-----BEGIN CERTIFICATE-----`)
/// or a single DER certificate.
pub(crate) fn parse_certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |why: &str| Error::with_detail(BUILD, ErrorKind::Config, why);
    let text_start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let is_pem = text_start.is_some_and(|i| bytes[i..].starts_with(b"-----BEGIN"));
    let certs = if is_pem {
        CertificateDer::pem_slice_iter(bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("root certificate PEM cannot be read").source_from(e))?
    } else {
        vec![CertificateDer::from(bytes.to_vec())]
    };
    if certs.is_empty() {
        return Err(bad("no certificate found in the root certificate PEM"));
    }
    // Adding to a store parses each certificate: reject garbage at build
    // time instead of at the first handshake.
    let mut probe = RootCertStore::empty();
    for c in &certs {
        probe
            .add(c.clone())
            .map_err(|e| bad("root certificate is not a valid X.509 certificate").source_from(e))?;
    }
    Ok(certs)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client config: verified against webpki-roots plus `extra_roots`, or
/// not verified at all when `skip_verify` (`skip_domain_check`).
pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
    skip_verify: bool,
) -> Result<Arc<ClientConfig>, Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::with_detail(BUILD, ErrorKind::Config, "TLS setup").source_from(e))?;
    let mut config = if skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny::new(
                provider.signature_verification_algorithms,
                None,
                false,
            )))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for c in extra_roots {
            roots.add(c.clone()).map_err(|e| {
                Error::with_detail(BUILD, ErrorKind::Config, "root certificate").source_from(e)
            })?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any certificate but still checks handshake signatures: for
/// `skip_domain_check` (the devtools option that disables HTTPS
/// certificate checks), and for the server checker, which records what was
/// sent and judges it afterwards.
#[derive(Debug)]
pub(crate) struct AcceptAny {
    algorithms: WebPkiSupportedAlgorithms,
    /// Offer only these signature schemes (to ask for one key type).
    schemes: Option<Vec<SignatureScheme>>,
    /// Keep the chain and OCSP response the server sent.
    record: bool,
    seen: std::sync::Mutex<(Vec<CertificateDer<'static>>, Vec<u8>)>,
}

impl AcceptAny {
    pub(crate) fn new(
        algorithms: WebPkiSupportedAlgorithms,
        schemes: Option<Vec<SignatureScheme>>,
        record: bool,
    ) -> AcceptAny {
        AcceptAny {
            algorithms,
            schemes,
            record,
            seen: Default::default(),
        }
    }

    /// The chain (leaf first) and OCSP response of the last handshake,
    /// when recording.
    #[cfg_attr(not(feature = "check"), allow(dead_code))]
    pub(crate) fn seen(&self) -> (Vec<CertificateDer<'static>>, Vec<u8>) {
        crate::sync::lock(&self.seen).clone()
    }
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.record {
            let chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
            *crate::sync::lock(&self.seen) = (chain, ocsp_response.to_vec());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes
            .clone()
            .unwrap_or_else(|| self.algorithms.supported_schemes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_root_is_a_config_error() {
        let e = parse_certificates(b"not a certificate").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let e = parse_certificates(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }
}
