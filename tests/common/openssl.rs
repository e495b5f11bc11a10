//! `openssl s_server` fixtures: TLS servers set up the way old or odd
//! deployments are, which rustls cannot serve: TLS 1.0/1.1, CBC-only,
//! RSA key exchange, RSA-1024 and SHA-1 certificates (see
//! [`TestPki::openssl_leaf`](super::TestPki::openssl_leaf)), RSA + ECDSA
//! certificates, a certificate only for SNI, a stapled OCSP response.
//!
//! Build an [`SServer`] from a leaf, add what the case needs, `start` it:
//! the [`Program`] guard listens on `127.0.0.1` and is killed on drop.
//! The security level is 0 (`@SECLEVEL=0`), so OpenSSL 3 loads weak keys
//! and signatures and may speak TLS 1.0/1.1; `-www` answers `GET /` with
//! a status page, so the HTTP checks have something to read.
//!
//! ```ignore
//! let pki = TestPki::new();
//! let id = pki.openssl_leaf(&["api.example.com"], LeafKey::Rsa(2048), "sha256");
//! let server = SServer::new(&id)
//!     .cipher("ECDHE-RSA-AES128-SHA")
//!     .arg("-no_tls1_3")
//!     .start();
//! let checker = Checker::new().resolve("api.example.com", server.addr());
//! ```

use std::path::Path;

use super::{Identity, Program};

/// An `openssl s_server` command line, before it starts.
pub struct SServer {
    args: Vec<String>,
    /// Files written into the server's directory: name and contents.
    files: Vec<(String, Vec<u8>)>,
    cipher: String,
}

impl SServer {
    /// A server for `id` (its leaf and key), with OpenSSL's default
    /// suites and versions.
    pub fn new(id: &Identity) -> SServer {
        SServer {
            args: Vec::new(),
            files: Vec::new(),
            cipher: "DEFAULT".into(),
        }
        .identity("-cert", "-key", "leaf", id)
    }

    /// The TLS 1.2-and-older suites, in OpenSSL's syntax (`AES128-SHA`,
    /// `ECDHE-RSA-AES128-SHA:…`).
    pub fn cipher(mut self, list: &str) -> SServer {
        self.cipher = list.to_owned();
        self
    }

    /// The TLS 1.3 suites (`TLS_AES_128_GCM_SHA256:…`).
    pub fn ciphersuites(self, list: &str) -> SServer {
        self.arg("-ciphersuites").arg(list)
    }

    /// Any other `s_server` argument: `-tls1` (TLS 1.0 only),
    /// `-no_tls1_3`, `-no_tls1_2`, …
    pub fn arg(mut self, arg: &str) -> SServer {
        self.args.push(arg.to_owned());
        self
    }

    /// A second certificate of another key type (`-dcert`/`-dkey`): the
    /// server picks the one the client's suites and signature algorithms
    /// allow.
    pub fn dual(self, id: &Identity) -> SServer {
        self.identity("-dcert", "-dkey", "dual", id)
    }

    /// Serve `id` to clients that ask for `name` by SNI and the first
    /// certificate to everyone else.
    pub fn sni(self, name: &str, id: &Identity) -> SServer {
        self.arg("-servername")
            .arg(name)
            .identity("-cert2", "-key2", "sni", id)
    }

    /// Staple this DER OCSP response to every handshake.
    pub fn staple(mut self, ocsp_der: &[u8]) -> SServer {
        self.files.push(("ocsp.der".into(), ocsp_der.to_vec()));
        self.arg("-status_file").arg("ocsp.der")
    }

    fn identity(mut self, cert: &str, key: &str, stem: &str, id: &Identity) -> SServer {
        let (c, k) = (format!("{stem}.crt"), format!("{stem}.key"));
        self.files
            .push((c.clone(), id.cert_pem.clone().into_bytes()));
        self.files
            .push((k.clone(), id.key_pem.clone().into_bytes()));
        self.arg(cert).arg(&c).arg(key).arg(&k)
    }

    /// Starts the server on a free loopback port.
    pub fn start(self) -> Program {
        Program::start("openssl", "openssl", |port, dir: &Path| {
            for (name, bytes) in &self.files {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
            let mut argv: Vec<String> = [
                "s_server",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-www",
                "-quiet",
                "-cipher",
                &format!("{}:@SECLEVEL=0", self.cipher),
            ]
            .map(str::to_owned)
            .to_vec();
            argv.extend(self.args.iter().cloned());
            argv
        })
    }
}
