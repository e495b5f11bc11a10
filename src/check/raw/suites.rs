//! The cipher suites the raw probe offers, by IANA name, with what the
//! rules need to know of each: key exchange, authentication and bulk
//! cipher (RFC 5246 appendix A.5, RFC 8446 B.4, the IANA TLS registry).

/// How the premaster secret is agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kx {
    /// The client encrypts it to the certificate's RSA key: no forward
    /// secrecy.
    Rsa,
    /// Ephemeral finite-field Diffie-Hellman.
    Dhe,
    /// Ephemeral elliptic-curve Diffie-Hellman.
    Ecdhe,
    /// TLS 1.3: always (EC)DHE, negotiated apart from the suite.
    Tls13,
}

/// Who proves the server's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Au {
    Rsa,
    Ecdsa,
    Dss,
    /// Nobody: anonymous Diffie-Hellman.
    Anon,
    /// TLS 1.3: the certificate's own type.
    Any,
}

/// The bulk cipher, grouped as the rules judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enc {
    /// AES-GCM, AES-CCM, ChaCha20-Poly1305, ARIA-GCM.
    Aead,
    /// A block cipher in CBC mode (AES, Camellia, SEED, IDEA, DES).
    Cbc,
    TripleDes,
    Rc4,
    Null,
}

/// One cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Suite {
    pub id: u16,
    pub name: &'static str,
    pub kx: Kx,
    pub au: Au,
    pub enc: Enc,
    /// An export-grade suite (40/56-bit keys).
    pub export: bool,
    /// Single DES (56 bits), broken like export.
    pub des: bool,
}

impl Suite {
    /// The suite called `name`: IANA names spell out the key exchange,
    /// the authentication and the cipher (`TLS_<kx>_<au>_WITH_<cipher>`;
    /// TLS 1.3 names only the cipher).
    fn named(id: u16, name: &'static str) -> Suite {
        let (kx_au, cipher) = name.split_once("_WITH_").unwrap_or(("", name));
        let kx = if kx_au.is_empty() {
            Kx::Tls13
        } else if kx_au.starts_with("TLS_ECDH") {
            Kx::Ecdhe
        } else if kx_au.starts_with("TLS_DH") {
            Kx::Dhe
        } else {
            Kx::Rsa
        };
        let au = if kx_au.is_empty() {
            Au::Any
        } else if kx_au.ends_with("_anon") {
            Au::Anon
        } else if kx_au.ends_with("_ECDSA") {
            Au::Ecdsa
        } else if kx_au.ends_with("_DSS") {
            Au::Dss
        } else {
            Au::Rsa
        };
        let enc = if ["GCM", "CCM", "CHACHA20"]
            .iter()
            .any(|a| cipher.contains(a))
        {
            Enc::Aead
        } else if cipher.starts_with("3DES") {
            Enc::TripleDes
        } else if cipher.starts_with("RC4") {
            Enc::Rc4
        } else if cipher.starts_with("NULL") {
            Enc::Null
        } else {
            Enc::Cbc
        };
        Suite {
            id,
            name,
            kx,
            au,
            enc,
            export: kx_au.contains("EXPORT"),
            des: cipher.starts_with("DES_"),
        }
    }

    /// One of the eleven TLS 1.2 suites App Transport Security accepts.
    pub fn ats(&self) -> bool {
        ATS.contains(&self.id)
    }

    /// One of the TLS 1.2 suites rustls has: ECDHE with AES-GCM or
    /// ChaCha20-Poly1305, RSA or ECDSA signed.
    pub fn rustls_has(&self) -> bool {
        self.kx == Kx::Ecdhe
            && matches!(self.au, Au::Rsa | Au::Ecdsa)
            && ["AES_128_GCM", "AES_256_GCM", "CHACHA20_POLY1305"]
                .iter()
                .any(|c| self.name.contains(c))
    }

    /// Why the suite is weak, if it is; CBC alone is not (see C-02).
    pub fn weakness(&self) -> Option<&'static str> {
        if self.au == Au::Anon {
            Some("anonymous")
        } else if self.export {
            Some("EXPORT")
        } else if self.enc == Enc::Null {
            Some("NULL cipher")
        } else if self.enc == Enc::Rc4 {
            Some("RC4")
        } else if self.des {
            Some("single DES")
        } else if self.enc == Enc::TripleDes {
            Some("3DES")
        } else if self.kx == Kx::Rsa {
            Some("RSA key exchange")
        } else {
            None
        }
    }
}

/// The TLS 1.2 suites of App Transport Security: ECDHE with AES, 4 GCM
/// and 7 CBC (Apple, "Preventing Insecure Network Connections").
pub(crate) const ATS: [u16; 11] = [
    0xC02C, 0xC02B, 0xC024, 0xC00A, 0xC023, 0xC009, 0xC030, 0xC02F, 0xC028, 0xC027, 0xC013,
];

/// The TLS 1.3 suites.
pub(crate) const TLS13: &[(u16, &str)] = &[
    (0x1301, "TLS_AES_128_GCM_SHA256"),
    (0x1302, "TLS_AES_256_GCM_SHA384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    (0x1304, "TLS_AES_128_CCM_SHA256"),
    (0x1305, "TLS_AES_128_CCM_8_SHA256"),
];

/// The suites of SSLv3 … TLS 1.2, strongest first (the order a hello
/// offers them in, so a server that follows the client picks well).
pub(crate) const LEGACY: &[(u16, &str)] = &[
    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
    (0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"),
    (0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"),
    (0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"),
    (0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"),
    (0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"),
    (0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"),
    (0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"),
    (0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"),
    (0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"),
    (0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"),
    (0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"),
    (0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    (0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    (0xC09D, "TLS_RSA_WITH_AES_256_CCM"),
    (0xC09C, "TLS_RSA_WITH_AES_128_CCM"),
    (0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384"),
    (0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"),
    (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"),
    (0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    (0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA"),
    (0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA"),
    (0x0062, "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA"),
    (0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
    (0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"),
    (0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"),
    (0x003B, "TLS_RSA_WITH_NULL_SHA256"),
    (0x0002, "TLS_RSA_WITH_NULL_SHA"),
    (0x0001, "TLS_RSA_WITH_NULL_MD5"),
    (0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"),
    (0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"),
    (0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA"),
    (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"),
    (0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"),
    (0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"),
    (0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"),
    (0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"),
    (0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"),
    (0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"),
    (0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"),
];

/// The suite `id`, if the table has it.
pub(crate) fn find(id: u16) -> Option<Suite> {
    LEGACY
        .iter()
        .chain(TLS13)
        .find(|(i, _)| *i == id)
        .map(|(i, n)| Suite::named(*i, n))
}

/// Every suite of `table`.
pub(crate) fn all(table: &'static [(u16, &'static str)]) -> impl Iterator<Item = Suite> {
    table.iter().map(|(i, n)| Suite::named(*i, n))
}

/// The IANA name of suite `id`, or its number.
pub(crate) fn name(id: u16) -> String {
    find(id).map_or_else(|| format!("0x{id:04X}"), |s| s.name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_read_from_the_names() {
        let all: Vec<Suite> = all(LEGACY).chain(all(TLS13)).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|b| b.id != a.id), "{}", a.name);
        }
        let s = |id| find(id).unwrap();
        let ecdhe_cbc = s(0xC013);
        assert_eq!(
            (ecdhe_cbc.kx, ecdhe_cbc.au, ecdhe_cbc.enc),
            (Kx::Ecdhe, Au::Rsa, Enc::Cbc)
        );
        assert_eq!((s(0xCCA9).au, s(0xCCA9).enc), (Au::Ecdsa, Enc::Aead));
        assert_eq!((s(0x0013).kx, s(0x0013).au), (Kx::Dhe, Au::Dss));
        assert_eq!((s(0xC018).kx, s(0xC018).au), (Kx::Ecdhe, Au::Anon));
        assert_eq!((s(0x1303).kx, s(0x1303).enc), (Kx::Tls13, Enc::Aead));
        assert_eq!(s(0x0005).enc, Enc::Rc4);
        assert_eq!(s(0x0003).weakness(), Some("EXPORT"));
        assert_eq!(s(0x0014).weakness(), Some("EXPORT"));
        assert_eq!(s(0x0009).weakness(), Some("single DES"));
        assert_eq!(s(0x000A).weakness(), Some("3DES"));
        assert_eq!(s(0x0002).weakness(), Some("NULL cipher"));
        assert_eq!(s(0x0034).weakness(), Some("anonymous"));
        assert_eq!(s(0x002F).weakness(), Some("RSA key exchange"));
        assert_eq!(s(0x009C).weakness(), Some("RSA key exchange"));
        for id in ATS {
            let s = s(id);
            assert!(s.ats() && s.kx == Kx::Ecdhe && s.name.contains("_AES_"));
            assert_eq!(s.weakness(), None);
        }
        let cbc = all.iter().filter(|s| s.ats() && s.enc == Enc::Cbc).count();
        assert_eq!(cbc, 7);
        assert_eq!(name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(name(0xABCD), "0xABCD");
    }
}
