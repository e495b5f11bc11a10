//! The ClientHello the raw probe sends (RFC 5246 §7.4.1.2, RFC 8446
//! §4.1.2), written byte by byte so it can offer what no modern TLS
//! library will: SSLv3, TLS 1.0/1.1, CBC, RC4, export suites.

/// SSLv3 … TLS 1.3 on the wire.
pub(crate) const SSL3: u16 = 0x0300;
pub(crate) const TLS10: u16 = 0x0301;
pub(crate) const TLS11: u16 = 0x0302;
pub(crate) const TLS12: u16 = 0x0303;
pub(crate) const TLS13: u16 = 0x0304;

/// The name of a protocol version (`TLS 1.2`), or its number.
pub(crate) fn version_name(v: u16) -> String {
    match v {
        SSL3 => "SSLv3".into(),
        TLS10 => "TLS 1.0".into(),
        TLS11 => "TLS 1.1".into(),
        TLS12 => "TLS 1.2".into(),
        TLS13 => "TLS 1.3".into(),
        _ => format!("0x{v:04X}"),
    }
}

/// Which certificate types the hello says it can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sigs {
    All,
    RsaOnly,
    EcdsaOnly,
}

impl Sigs {
    /// The signature_algorithms list (RFC 8446 §4.2.3 code points).
    fn schemes(self) -> &'static [u16] {
        const RSA: [u16; 9] = [
            0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201, 0x0809, 0x080A,
        ];
        const ECDSA: [u16; 4] = [0x0403, 0x0503, 0x0603, 0x0203];
        const ALL: [u16; 16] = [
            0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
            0x0203, 0x0201, 0x0809, 0x080A, 0x0402,
        ];
        match self {
            Sigs::All => &ALL,
            Sigs::RsaOnly => &RSA,
            Sigs::EcdsaOnly => &ECDSA,
        }
    }
}

/// What one ClientHello offers.
#[derive(Debug, Clone)]
pub(crate) struct Hello {
    /// The highest (and, before TLS 1.3, the only) version offered.
    pub version: u16,
    /// Cipher suite ids, in the order offered.
    pub suites: Vec<u16>,
    /// The server name for SNI; none omits the extension.
    pub sni: Option<String>,
    pub sigs: Sigs,
}

/// x25519, secp256r1, secp384r1, secp521r1, x448, ffdhe2048, ffdhe3072.
const GROUPS: [u16; 7] = [0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x0100, 0x0101];

fn put16(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&(v as u16).to_be_bytes());
}

/// `body` behind its 16-bit length.
fn vec16(out: &mut Vec<u8>, body: &[u8]) {
    put16(out, body.len());
    out.extend_from_slice(body);
}

/// An extension: type, then its body behind a 16-bit length.
fn ext(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    put16(out, usize::from(kind));
    vec16(out, body);
}

fn u16s(list: &[u16]) -> Vec<u8> {
    list.iter().flat_map(|v| v.to_be_bytes()).collect()
}

impl Hello {
    /// The hello as one TLS record, with `random` as the 32-byte client
    /// random, session id and (TLS 1.3) the x25519 key share: no key
    /// exchange is ever finished, so any bytes will do.
    pub fn record(&self, random: &[u8; 32]) -> Vec<u8> {
        let legacy = self.version.min(TLS12);
        let mut body = Vec::with_capacity(512);
        body.extend_from_slice(&legacy.to_be_bytes());
        body.extend_from_slice(random);
        // A session id makes middleboxes treat a TLS 1.3 hello as 1.2
        // resumption (RFC 8446 §D.4); older versions get none.
        if self.version >= TLS13 {
            body.push(32);
            body.extend_from_slice(random);
        } else {
            body.push(0);
        }
        vec16(&mut body, &u16s(&self.suites));
        body.extend_from_slice(&[1, 0]);
        // SSLv3 servers may choke on extensions, and need none.
        if self.version > SSL3 {
            let mut exts = self.extensions(random);
            // Some servers drop hellos of 256 to 511 bytes (RFC 7685 §1):
            // pad those to 512.
            let len = 4 + body.len() + 2 + exts.len();
            if (0x100..0x200).contains(&len) {
                let pad = (0x200 - len).saturating_sub(4);
                ext(&mut exts, 21, &vec![0; pad]);
            }
            vec16(&mut body, &exts);
        }
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        // TLS 1.0 in the record layer, as most clients send; SSLv3
        // servers expect their own version.
        let record_version = if self.version == SSL3 { SSL3 } else { TLS10 };
        let mut rec = vec![22];
        rec.extend_from_slice(&record_version.to_be_bytes());
        vec16(&mut rec, &hs);
        rec
    }

    fn extensions(&self, random: &[u8; 32]) -> Vec<u8> {
        let mut e = Vec::with_capacity(256);
        if let Some(name) = &self.sni {
            let mut list = vec![0];
            vec16(&mut list, name.as_bytes());
            let mut sni = Vec::new();
            vec16(&mut sni, &list);
            ext(&mut e, 0, &sni);
        }
        let mut groups = Vec::new();
        vec16(&mut groups, &u16s(&GROUPS));
        ext(&mut e, 10, &groups);
        ext(&mut e, 11, &[1, 0]);
        if self.version >= TLS12 {
            let mut sigs = Vec::new();
            vec16(&mut sigs, &u16s(self.sigs.schemes()));
            ext(&mut e, 13, &sigs);
        }
        ext(&mut e, 0xFF01, &[0]);
        // status_request: OCSP, no responder ids, no extensions.
        ext(&mut e, 5, &[1, 0, 0, 0, 0]);
        ext(&mut e, 18, &[]);
        ext(&mut e, 23, &[]);
        if self.version >= TLS13 {
            ext(&mut e, 43, &[2, 0x03, 0x04]);
            let mut share = vec![0x00, 0x1D];
            vec16(&mut share, random);
            let mut shares = Vec::new();
            vec16(&mut shares, &share);
            ext(&mut e, 51, &shares);
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(version: u16, suites: &[u16]) -> Hello {
        Hello {
            version,
            suites: suites.to_vec(),
            sni: Some("api.example.com".into()),
            sigs: Sigs::All,
        }
    }

    #[test]
    fn records_carry_their_lengths_and_version() {
        for version in [SSL3, TLS10, TLS12, TLS13] {
            let rec = hello(version, &[0x002F, 0xC02F]).record(&[7; 32]);
            assert_eq!(rec[0], 22);
            assert_eq!(
                usize::from(u16::from_be_bytes([rec[3], rec[4]])),
                rec.len() - 5
            );
            assert_eq!(rec[5], 1, "client_hello");
            let hs_len = u32::from_be_bytes([0, rec[6], rec[7], rec[8]]) as usize;
            assert_eq!(hs_len, rec.len() - 9);
            assert_eq!(u16::from_be_bytes([rec[9], rec[10]]), version.min(TLS12));
            let sni = rec.windows(15).any(|w| w == b"api.example.com");
            assert_eq!(sni, version > SSL3, "{version:x}");
            assert!(!(256..512).contains(&(rec.len() - 5)), "{}", rec.len());
        }
    }

    #[test]
    fn every_length_escapes_the_bad_window() {
        for n in 0..120 {
            let suites: Vec<u16> = (0..n).collect();
            let rec = hello(TLS12, &suites).record(&[1; 32]);
            let hs = rec.len() - 5;
            assert!(!(256..512).contains(&hs), "{n} suites: {hs}");
        }
    }
}
