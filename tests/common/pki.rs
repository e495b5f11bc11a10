//! A throw-away certificate authority (rcgen) and the leaves it signs:
//! valid, expired, not yet valid, self-signed, or signed by a CA nobody
//! trusts; plus the rustls server configuration that serves a leaf.
//! Leaves rcgen cannot make (RSA keys, RSA-1024, SHA-1 signatures) come
//! from the `openssl` command line, signed by the same CA
//! ([`TestPki::openssl_leaf`]).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The key of a leaf made by [`TestPki::openssl_leaf`].
#[derive(Clone, Copy, Debug)]
pub enum LeafKey {
    /// RSA with this many bits (1024 to test the key-size rules).
    Rsa(u32),
    EcP256,
}

/// A server identity: certificate chain and key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The leaf as PEM, for outside programs that read files.
    pub cert_pem: String,
    /// The key as PKCS#8 PEM.
    pub key_pem: String,
}

/// A throw-away certificate authority.
pub struct TestPki {
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - days(2);
    params.not_after = now + days(365);
    params
}

fn new_ca(name: &str) -> (CertificateDer<'static>, String, Issuer<'static, KeyPair>) {
    let params = ca_params(name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.der().clone(), cert.pem(), Issuer::new(params, key))
}

/// How to make a leaf: its names (the first is also the CN), validity in
/// days around now, whether it has the serverAuth extended key usage,
/// and the URL of its issuer (Authority Information Access), if any.
#[derive(Clone, Copy)]
pub struct LeafSpec<'a> {
    pub names: &'a [&'a str],
    pub from: i64,
    pub to: i64,
    pub server_auth: bool,
    pub issuer_url: Option<&'a str>,
}

impl<'a> LeafSpec<'a> {
    /// Valid from yesterday for 30 days, with serverAuth.
    pub fn new(names: &'a [&'a str]) -> LeafSpec<'a> {
        LeafSpec {
            names,
            from: -1,
            to: 30,
            server_auth: true,
            issuer_url: None,
        }
    }
}

/// DER of an AuthorityInfoAccess with one caIssuers URI (short lengths).
fn aia_der(url: &str) -> Vec<u8> {
    let mut desc = vec![0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    desc.push(0x86);
    desc.push(url.len() as u8);
    desc.extend_from_slice(url.as_bytes());
    let mut ad = vec![0x30, desc.len() as u8];
    ad.extend(desc);
    let mut out = vec![0x30, ad.len() as u8];
    out.extend(ad);
    out
}

fn leaf_params(names: &[&str], from: i64, to: i64) -> CertificateParams {
    leaf_spec_params(&LeafSpec {
        from,
        to,
        ..LeafSpec::new(names)
    })
}

fn leaf_spec_params(spec: &LeafSpec) -> CertificateParams {
    let names = spec.names;
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    if spec.server_auth {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + days(spec.from);
    params.not_after = now + days(spec.to);
    if let Some(url) = spec.issuer_url {
        params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 1],
            aia_der(url),
        )];
    }
    params
}

fn identity_of(cert: rcgen::Certificate, key: KeyPair) -> Identity {
    Identity {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

impl TestPki {
    pub fn new() -> TestPki {
        let (ca_der, ca_pem, issuer) = new_ca("wxnet test CA");
        TestPki {
            ca_der,
            ca_pem,
            issuer,
        }
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        self.ca_pem.clone().into_bytes()
    }

    pub fn ca_der(&self) -> Vec<u8> {
        self.ca_der.to_vec()
    }

    fn signed(&self, names: &[&str], from: i64, to: i64) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(names, from, to)
            .signed_by(&key, &self.issuer)
            .unwrap();
        identity_of(cert, key)
    }

    /// An intermediate CA named `name`, issued by this one; its
    /// `ca_der`/`ca_pem` are the intermediate's, and the leaves it signs
    /// need it sent after them to chain to this CA.
    pub fn intermediate(&self, name: &str) -> TestPki {
        let params = ca_params(name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        TestPki {
            ca_der: cert.der().clone(),
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf made as `spec` says, signed by this CA (the chain holds
    /// the leaf only).
    pub fn leaf(&self, spec: &LeafSpec) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = leaf_spec_params(spec)
            .signed_by(&key, &self.issuer)
            .unwrap();
        identity_of(cert, key)
    }

    /// A leaf for `names`, valid from yesterday for 30 days.
    pub fn identity(&self, names: &[&str]) -> Identity {
        self.signed(names, -1, 30)
    }

    pub fn expired_identity(&self, names: &[&str]) -> Identity {
        self.signed(names, -30, -1)
    }

    pub fn not_yet_valid_identity(&self, names: &[&str]) -> Identity {
        self.signed(names, 1, 30)
    }

    pub fn self_signed_identity(&self, names: &[&str]) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(names, -1, 30).self_signed(&key).unwrap();
        identity_of(cert, key)
    }

    /// Signed by a CA nobody trusts.
    pub fn foreign_ca_identity(&self, names: &[&str]) -> Identity {
        let (_, _, issuer) = new_ca("foreign CA");
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(names, -1, 30).signed_by(&key, &issuer).unwrap();
        identity_of(cert, key)
    }

    /// Writes `id` as `<stem>.crt` and `<stem>.key` (PEM) into `dir`, for
    /// outside programs; returns both paths.
    pub fn write_pem(
        &self,
        id: &Identity,
        dir: &std::path::Path,
        stem: &str,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let (cert, key) = (
            dir.join(format!("{stem}.crt")),
            dir.join(format!("{stem}.key")),
        );
        std::fs::write(&cert, &id.cert_pem).unwrap();
        std::fs::write(&key, &id.key_pem).unwrap();
        (cert, key)
    }

    /// A leaf for `names` with a `key` made by the `openssl` command line
    /// and signed by this CA with `digest` (`sha256`, `sha1`): the RSA
    /// keys, short keys and SHA-1 signatures rcgen will not make. Valid
    /// from now for 30 days, with serverAuth.
    pub fn openssl_leaf(&self, names: &[&str], key: LeafKey, digest: &str) -> Identity {
        let openssl = super::require("openssl", "openssl");
        let dir = super::TempDir::new("openssl-leaf");
        let d = dir.path();
        std::fs::write(d.join("ca.crt"), &self.ca_pem).unwrap();
        std::fs::write(d.join("ca.key"), self.issuer.key().serialize_pem()).unwrap();
        let sans: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        let ext = format!(
            "subjectAltName={}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
            sans.join(",")
        );
        std::fs::write(d.join("ext.cnf"), ext).unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new(&openssl)
                .args(args)
                .current_dir(d)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "openssl {args:?}: {err}");
        };
        match key {
            LeafKey::Rsa(bits) => run(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                &format!("rsa_keygen_bits:{bits}"),
                "-out",
                "leaf.key",
            ]),
            LeafKey::EcP256 => run(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "leaf.key",
            ]),
        }
        let subject = format!("/CN={}", names[0]);
        run(&[
            "req", "-new", "-key", "leaf.key", "-subj", &subject, "-out", "leaf.csr",
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "7",
            "-days",
            "30",
            &format!("-{digest}"),
            "-extfile",
            "ext.cnf",
            "-out",
            "leaf.crt",
        ]);
        let cert_pem = std::fs::read_to_string(d.join("leaf.crt")).unwrap();
        let key_pem = std::fs::read_to_string(d.join("leaf.key")).unwrap();
        Identity {
            chain: vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap()],
            key: PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap(),
            cert_pem,
            key_pem,
        }
    }

    pub fn server_config(&self, id: &Identity) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(id.chain.clone(), id.key.clone_key())
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// A rustls client that trusts this CA alone: the raw clients of the
    /// tests and benchmarks.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(self.ca_der())).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}
