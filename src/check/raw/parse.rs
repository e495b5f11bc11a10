//! Reading the server's first flight: TLS records (RFC 5246 §6.2.1) that
//! may arrive split across reads, carrying handshake messages (§7.4) that
//! may share a record or span several. Everything up to ServerHelloDone
//! is in the clear before TLS 1.3: ServerHello, Certificate,
//! CertificateStatus. Any input gives a [`Parsed`] or asks for more bytes;
//! nothing panics.

use super::hello::TLS13;

/// A record body may not exceed 2^14 bytes plus expansion (RFC 5246
/// §6.2.3).
const MAX_RECORD: usize = 18_432;
/// More than this before ServerHelloDone is not a first flight.
const MAX_FLIGHT: usize = 1 << 20;
/// The random of a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// What the server sent in answer to a hello it accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Flight {
    /// The version chosen (supported_versions when present).
    pub version: u16,
    pub suite: u16,
    /// The extension types of the ServerHello, in the order sent.
    pub extensions: Vec<u16>,
    /// A TLS 1.3 HelloRetryRequest rather than a ServerHello.
    pub hello_retry: bool,
    /// The certificates, DER, leaf first (TLS 1.2 and older).
    pub chain: Vec<Vec<u8>>,
    /// The stapled OCSP response (CertificateStatus), if any.
    pub ocsp: Vec<u8>,
    /// ServerHelloDone arrived: the flight is whole.
    pub complete: bool,
}

/// How a reply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    Hello(Flight),
    /// An alert before any ServerHello: level and description.
    Alert(u8, u8),
    /// Not a TLS reply, or a broken one.
    Malformed(String),
}

/// Reads a reply as its bytes arrive.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    /// Received bytes not yet cut into records.
    raw: Vec<u8>,
    /// Handshake bytes not yet cut into messages.
    handshake: Vec<u8>,
    total: usize,
    hello: Option<Flight>,
}

/// A big-endian cursor that answers `None` past the end.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize)
    }

    /// A vector behind a length of `len_bytes` bytes.
    fn vec(&mut self, len_bytes: usize) -> Option<&'a [u8]> {
        let n = match len_bytes {
            1 => usize::from(self.u8()?),
            2 => usize::from(self.u16()?),
            _ => self.u24()?,
        };
        self.take(n)
    }
}

fn malformed(why: impl Into<String>) -> Option<Parsed> {
    Some(Parsed::Malformed(why.into()))
}

impl Reader {
    /// Takes the next bytes received; the verdict once the reply says
    /// enough, `None` while more is needed.
    pub fn push(&mut self, data: &[u8]) -> Option<Parsed> {
        self.total += data.len();
        if self.total > MAX_FLIGHT {
            return malformed("more than 1 MiB without ServerHelloDone");
        }
        self.raw.extend_from_slice(data);
        let mut at = 0;
        let verdict = loop {
            let Some(head) = self.raw.get(at..at + 5) else {
                break None;
            };
            let (kind, len) = (head[0], usize::from(u16::from_be_bytes([head[3], head[4]])));
            if !(20..=23).contains(&kind) || head[1] > 3 {
                break self.not_tls(head);
            }
            if len > MAX_RECORD {
                break malformed(format!("a record of {len} bytes"));
            }
            let Some(body) = self.raw.get(at + 5..at + 5 + len) else {
                break None;
            };
            let body = body.to_vec();
            at += 5 + len;
            if let Some(v) = self.record(kind, &body) {
                break Some(v);
            }
        };
        self.raw.drain(..at.min(self.raw.len()));
        verdict
    }

    /// The verdict when the connection ends: what was read of a flight, or
    /// `None` when no ServerHello came.
    pub fn finish(self) -> Option<Flight> {
        self.hello
    }

    fn not_tls(&self, head: &[u8]) -> Option<Parsed> {
        if head.starts_with(b"HTTP/") || head.starts_with(b"<") {
            return malformed("the server answered in plain HTTP, not TLS");
        }
        malformed(format!("not a TLS record (starts {:02x?})", head))
    }

    fn record(&mut self, kind: u8, body: &[u8]) -> Option<Parsed> {
        match kind {
            21 => {
                if body.len() < 2 {
                    return malformed("a truncated alert");
                }
                match self.hello.take() {
                    // An alert after the ServerHello ends the flight early.
                    Some(flight) => Some(Parsed::Hello(flight)),
                    None => Some(Parsed::Alert(body[0], body[1])),
                }
            }
            22 => {
                self.handshake.extend_from_slice(body);
                self.messages()
            }
            // ChangeCipherSpec or encrypted data: the clear part is over.
            _ => match self.hello.take() {
                Some(flight) => Some(Parsed::Hello(flight)),
                None => malformed("encrypted data before any ServerHello"),
            },
        }
    }

    /// Cuts whole handshake messages off the handshake stream.
    fn messages(&mut self) -> Option<Parsed> {
        let mut at = 0;
        let verdict = loop {
            let Some(head) = self.handshake.get(at..at + 4) else {
                break None;
            };
            let kind = head[0];
            let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
            if len > MAX_FLIGHT {
                break malformed(format!("a handshake message of {len} bytes"));
            }
            let Some(body) = self.handshake.get(at + 4..at + 4 + len) else {
                break None;
            };
            let body = body.to_vec();
            at += 4 + len;
            if let Some(v) = self.message(kind, &body) {
                break Some(v);
            }
        };
        self.handshake.drain(..at.min(self.handshake.len()));
        verdict
    }

    fn message(&mut self, kind: u8, body: &[u8]) -> Option<Parsed> {
        let Some(flight) = self.hello.as_mut() else {
            if kind != 2 {
                return malformed(format!("handshake message {kind} before ServerHello"));
            }
            let flight = match server_hello(body) {
                Some(f) => f,
                None => return malformed("a ServerHello that cannot be read"),
            };
            // Past a TLS 1.3 ServerHello everything is encrypted.
            if flight.version >= TLS13 || flight.hello_retry {
                return Some(Parsed::Hello(flight));
            }
            self.hello = Some(flight);
            return None;
        };
        match kind {
            11 => match certificates(body) {
                Some(chain) => flight.chain = chain,
                None => return malformed("a Certificate message that cannot be read"),
            },
            22 => {
                let mut c = Cursor(body);
                if c.u8() == Some(1) {
                    flight.ocsp = c.vec(3).unwrap_or_default().to_vec();
                }
            }
            14 => {
                flight.complete = true;
                return self.hello.take().map(Parsed::Hello);
            }
            _ => {}
        }
        None
    }
}

fn server_hello(body: &[u8]) -> Option<Flight> {
    let mut c = Cursor(body);
    let legacy = c.u16()?;
    let random = c.take(32)?;
    c.vec(1)?;
    let suite = c.u16()?;
    c.u8()?;
    let mut flight = Flight {
        version: legacy,
        suite,
        hello_retry: random == HRR_RANDOM,
        ..Flight::default()
    };
    if c.0.is_empty() {
        return Some(flight);
    }
    let mut exts = Cursor(c.vec(2)?);
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec(2)?;
        if kind == 43 {
            flight.version = Cursor(data).u16()?;
        }
        flight.extensions.push(kind);
    }
    Some(flight)
}

/// The DER certificates of a TLS 1.2 Certificate message.
fn certificates(body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut list = Cursor(Cursor(body).vec(3)?);
    let mut chain = Vec::new();
    while !list.0.is_empty() {
        chain.push(list.vec(3)?.to_vec());
    }
    Some(chain)
}

/// Reads a whole reply at once, split as it arrived.
#[cfg(test)]
pub(crate) fn read_all<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Option<Parsed> {
    let mut r = Reader::default();
    for c in chunks {
        if let Some(v) = r.push(c) {
            return Some(v);
        }
    }
    r.finish().map(Parsed::Hello)
}
