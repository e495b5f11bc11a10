//! X-14 (revocation) against loopback servers stapling OCSP responses
//! that `openssl ocsp` made: a root → issuing CA → leaf PKI built with the
//! `openssl` command, an index of good and revoked serials, responses
//! signed by the issuing CA or by a delegated responder, and rustls
//! servers that staple them (`with_single_cert_with_ocsp`).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{HttpServer, RawServer, TempDir, require, watchdog};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use wxnet::check::{Checker, Report, Status};

const HOST: &str = "api.example.com";
const OCSP_HOST: &str = "ocsp.example.com";

const EXTENSIONS: &str = "\
[req]
distinguished_name = dn
[dn]
[x_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[x_leaf]
subjectAltName = DNS:api.example.com
extendedKeyUsage = serverAuth
authorityInfoAccess = OCSP;URI:http://ocsp.example.com/
[x_staple]
subjectAltName = DNS:api.example.com
extendedKeyUsage = serverAuth
authorityInfoAccess = OCSP;URI:http://ocsp.example.com/
tlsfeature = status_request
[x_plain]
subjectAltName = DNS:api.example.com
extendedKeyUsage = serverAuth
[x_resp]
extendedKeyUsage = OCSPSigning
[x_noeku]
keyUsage = digitalSignature
";

/// A CA made with the openssl command, its leaves and OCSP responses.
struct Ca {
    dir: TempDir,
}

impl Ca {
    fn new() -> Ca {
        let dir = TempDir::new("check-ocsp");
        std::fs::write(dir.path().join("ext.cnf"), EXTENSIONS).unwrap();
        let ca = Ca { dir };
        ca.openssl(&[
            "req",
            "-config",
            "ext.cnf",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-subj",
            "/CN=OCSP test root",
            "-days",
            "30",
            "-extensions",
            "x_ca",
        ]);
        ca.issue("int", "OCSP test CA", "root", "0x02", "x_ca");
        ca.issue("leaf", HOST, "int", "0x1001", "x_leaf");
        ca.issue("staple", HOST, "int", "0x1002", "x_staple");
        ca.issue("plain", HOST, "int", "0x1003", "x_plain");
        ca.issue("resp", "OCSP test responder", "int", "0x2001", "x_resp");
        ca.issue("noeku", "OCSP test impostor", "int", "0x2002", "x_noeku");
        // The subjects only need to differ (an index keeps them unique).
        let index = "V\t301231000000Z\t\t1001\tunknown\t/CN=leaf\n\
                     V\t301231000000Z\t\t1002\tunknown\t/CN=staple\n";
        std::fs::write(ca.dir.path().join("good.txt"), index).unwrap();
        let revoked = "R\t301231000000Z\t260101000000Z,keyCompromise\t1001\tunknown\t\
                       /CN=leaf\n";
        std::fs::write(ca.dir.path().join("revoked.txt"), revoked).unwrap();
        ca
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new(require("openssl", "openssl"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `name`.pem and `name`.key, issued by `by` with extension section
    /// `section`.
    fn issue(&self, name: &str, cn: &str, by: &str, serial: &str, section: &str) {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        self.openssl(&[
            "req",
            "-config",
            "ext.cnf",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={cn}"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{by}.pem"),
            "-CAkey",
            &format!("{by}.key"),
            "-set_serial",
            serial,
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            section,
            "-out",
            &pem,
        ]);
    }

    /// An OCSP response about leaf `cert` from index `index`, signed by
    /// `signer` (`int` itself or a delegated responder).
    fn response(&self, cert: &str, index: &str, signer: &str, extra: &[&str]) -> Vec<u8> {
        let out = format!("{cert}-{index}-{signer}.der");
        // Options (a digest among them) go before -cert.
        let (rsigner, rkey, leaf) = (
            format!("{signer}.pem"),
            format!("{signer}.key"),
            format!("{cert}.pem"),
        );
        let mut args = vec!["ocsp"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "-index",
            index,
            "-rsigner",
            &rsigner,
            "-rkey",
            &rkey,
            "-CA",
            "int.pem",
            "-issuer",
            "int.pem",
            "-cert",
            &leaf,
            "-respout",
            &out,
            "-ndays",
            "1",
            "-no_nonce",
        ]);
        self.openssl(&args);
        std::fs::read(self.dir.path().join(out)).unwrap()
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.dir.path().join(file)
    }

    /// A server for `cert` (with the issuing CA) stapling `ocsp`.
    fn serve(&self, cert: &str, ocsp: &[u8]) -> HttpServer {
        let mut chain: Vec<CertificateDer<'static>> = pem_certs(&self.path(&format!("{cert}.pem")));
        chain.extend(pem_certs(&self.path("int.pem")));
        let key = PrivateKeyDer::from_pem_file(self.path(&format!("{cert}.key"))).unwrap();
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert_with_ocsp(chain, key, ocsp.to_vec())
                .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        HttpServer::start(Arc::new(config), |_, c| c.respond(200, &[], b"ok"))
    }

    /// X-14 of a server of the leaf stapling [`response`](Self::response).
    fn stapled(
        &self,
        cert: &str,
        index: &str,
        signer: &str,
        extra: &[&str],
    ) -> (Status, String, Report) {
        let ocsp = self.response(cert, index, signer, extra);
        let server = self.serve("leaf", &ocsp);
        x14(self.checker(&server))
    }

    fn checker(&self, server: &HttpServer) -> Checker {
        let root = std::fs::read(self.path("root.pem")).unwrap();
        Checker::new()
            .resolve(HOST, server.addr())
            .add_root_certificate(&root)
            .unwrap()
    }
}

fn pem_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// X-14 of a check of `server`, and the whole report.
fn x14(checker: Checker) -> (Status, String, Report) {
    let r = checker.check(HOST).unwrap();
    let row = r
        .get("X-14")
        .unwrap_or_else(|| panic!("no X-14:\n{}", r.to_text()));
    (row.status, row.message.clone(), r.clone())
}

#[test]
fn a_revoked_stapled_certificate_fails_and_the_check_fails() {
    watchdog(Duration::from_secs(10), || {
        let ca = Ca::new();
        // Delegated responder, SHA-256 certificate id.
        let (status, msg, r) = ca.stapled("leaf", "revoked.txt", "resp", &["-sha256"]);
        assert_eq!(status, Status::Fail, "{}", r.to_text());
        assert!(msg.contains("REVOKED since"), "{msg}");
        assert!(msg.contains("keyCompromise"), "{msg}");
        assert!(msg.contains("2026"), "{msg}");
        assert!(
            msg.contains("delegated responder 'CN=OCSP test responder'"),
            "{msg}"
        );
        assert!(
            r.get("X-14")
                .unwrap()
                .fix
                .contains("newly issued certificate")
        );
        assert!(r.failed(), "a revoked certificate fails the check");
        assert_eq!(r.to_json()["failed"], true);
    });
}

#[test]
fn a_good_staple_passes_signed_by_the_issuer_or_a_delegated_responder() {
    watchdog(Duration::from_secs(10), || {
        let ca = Ca::new();
        let (status, msg, r) = ca.stapled("leaf", "good.txt", "int", &["-resp_no_certs"]);
        assert_eq!(status, Status::Pass, "{}", r.to_text());
        assert!(msg.contains("good, signed by the issuer"), "{msg}");
        assert!(msg.contains("nextUpdate"), "{msg}");
        assert!(!r.failed(), "{}", r.to_text());

        let (status, msg, _) = ca.stapled("leaf", "good.txt", "resp", &[]);
        assert_eq!(status, Status::Pass, "{msg}");
        assert!(msg.contains("delegated responder"), "{msg}");
    });
}

#[test]
fn stale_badly_signed_and_undelegated_staples_are_warnings() {
    watchdog(Duration::from_secs(10), || {
        let ca = Ca::new();
        let good = ca.response("leaf", "good.txt", "int", &["-resp_no_certs"]);
        let server = ca.serve("leaf", &good);
        // nextUpdate is a day after thisUpdate.
        let later = SystemTime::now() + Duration::from_secs(2 * 86_400);
        let (status, msg, _) = x14(ca.checker(&server).at(later));
        assert_eq!(status, Status::Warn, "{msg}");
        assert!(msg.contains("stale: past its nextUpdate"), "{msg}");
        let earlier = SystemTime::now() - Duration::from_secs(3600);
        let (status, msg, _) = x14(ca.checker(&server).at(earlier));
        assert_eq!(status, Status::Warn, "{msg}");
        assert!(msg.contains("thisUpdate is in the future"), "{msg}");

        // The signature is the last item of the response.
        let mut bad = good.clone();
        *bad.last_mut().unwrap() ^= 0x5a;
        let server = ca.serve("leaf", &bad);
        let (status, msg, r) = x14(ca.checker(&server));
        assert_eq!(status, Status::Warn, "{msg}");
        assert!(msg.contains("cannot be trusted"), "{msg}");
        assert!(
            msg.contains("does not verify") || msg.contains("verifies neither"),
            "{msg}"
        );
        assert!(!r.get("X-14").unwrap().fix.is_empty());

        // Signed with SHA-1, which is not verified here: not known, never
        // a pass.
        let (status, msg, _) = ca.stapled("leaf", "good.txt", "int", &["-rmd", "sha1"]);
        assert_eq!(status, Status::Unknown, "{msg}");
        assert!(
            msg.contains("says good, but its signature is not checked"),
            "{msg}"
        );
        assert!(msg.contains("SHA-1"), "{msg}");

        // Issued by the CA, but not for OCSP signing.
        let (status, msg, _) = ca.stapled("leaf", "good.txt", "noeku", &[]);
        assert_eq!(status, Status::Warn, "{msg}");
        assert!(msg.contains("lacks the OCSPSigning"), "{msg}");

        // A response about another certificate.
        let (status, msg, _) = ca.stapled("staple", "good.txt", "int", &[]);
        assert_eq!(status, Status::Warn, "{msg}");
        assert!(
            msg.contains("no response in it is about this certificate"),
            "{msg}"
        );
    });
}

#[test]
fn missing_staples_are_judged_by_the_certificate() {
    watchdog(Duration::from_secs(10), || {
        let ca = Ca::new();
        let server = ca.serve("leaf", &[]);
        let (status, msg, _) = x14(ca.checker(&server));
        assert_eq!(status, Status::Info, "{msg}");
        assert!(msg.contains("http://ocsp.example.com/"), "{msg}");

        let server = ca.serve("staple", &[]);
        let (status, msg, r) = x14(ca.checker(&server));
        assert_eq!(status, Status::Fail, "{msg}");
        assert!(msg.contains("Must-Staple"), "{msg}");
        assert!(r.failed());

        let server = ca.serve("plain", &[]);
        let (status, msg, _) = x14(ca.checker(&server));
        assert_eq!(status, Status::Info, "{msg}");
        assert!(msg.starts_with("n/a"), "{msg}");
    });
}

#[test]
fn online_asks_the_responder_when_nothing_is_stapled() {
    watchdog(Duration::from_secs(10), || {
        let ca = Ca::new();
        let revoked = ca.response("leaf", "revoked.txt", "int", &[]);
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let responder = RawServer::start(move |mut s| {
            use std::io::{Read, Write};
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = tx.lock().unwrap().send(buf[..n].to_vec());
            let head = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n\
                 Content-Length: {}\r\n\r\n",
                revoked.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&revoked);
        });
        let server = ca.serve("leaf", &[]);
        let checker = ca.checker(&server).resolve(OCSP_HOST, responder.addr());
        let (status, _, _) = x14(checker.clone());
        assert_eq!(status, Status::Info, "offline by default");
        assert!(rx.try_recv().is_err(), "the responder was not asked");

        let (status, msg, r) = x14(checker.online(true));
        assert_eq!(status, Status::Fail, "{}", r.to_text());
        assert!(
            msg.contains("the responder at http://ocsp.example.com/"),
            "{msg}"
        );
        assert!(msg.contains("REVOKED"), "{msg}");
        let request = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let text = String::from_utf8_lossy(&request);
        assert!(text.starts_with("POST / HTTP/1.0"), "{text}");
        assert!(text.contains("application/ocsp-request"), "{text}");

        // A responder that cannot be reached: not known, never a pass.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let checker = ca.checker(&server).resolve(OCSP_HOST, dead).online(true);
        let (status, msg, _) = x14(checker);
        assert_eq!(status, Status::Unknown, "{msg}");
        assert!(msg.contains("failed"), "{msg}");
    });
}

#[cfg(feature = "cli")]
#[test]
fn the_command_line_exits_1_for_a_revoked_staple_and_reads_online() {
    watchdog(Duration::from_secs(10), || {
        let ca = Ca::new();
        let ocsp = ca.response("leaf", "revoked.txt", "int", &[]);
        let server = ca.serve("leaf", &ocsp);
        let out = Command::new(env!("CARGO_BIN_EXE_wxnet"))
            .args(["check", HOST, "--json", "--online", "--resolve"])
            .arg(format!("{HOST}:{}:127.0.0.1", server.port()))
            .arg("--cacert")
            .arg(ca.path("root.pem"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let x14 = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "X-14")
            .unwrap()
            .clone();
        assert_eq!(x14["status"], "FAIL");
        assert!(x14["message"].as_str().unwrap().contains("REVOKED"));
    });
}
