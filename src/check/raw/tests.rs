//! The reader against first flights captured from `openssl s_server`
//! (OpenSSL 3.0, RSA and ECDSA certificates, a stapled OCSP response),
//! against a few hundred thousand mutations of them, and the probe
//! against scripted servers that misbehave.

use std::net::TcpListener;

use super::hello::{SSL3, TLS10, TLS12, TLS13};
use super::parse::read_all;
use super::*;

/// A dual-certificate server answering TLS 1.0 with an ECDSA suite.
const ECDSA_TLS10: &[u8] = include_bytes!("../../../tests/fixtures/raw/openssl-0301.bin");
const ECDSA_TLS12: &[u8] = include_bytes!("../../../tests/fixtures/raw/openssl-0303.bin");
/// A ServerHello, ChangeCipherSpec and encrypted records.
const TLS13_HELLO: &[u8] = include_bytes!("../../../tests/fixtures/raw/openssl-0304.bin");
/// RSA, with a stapled OCSP response.
const RSA_TLS12: &[u8] = include_bytes!("../../../tests/fixtures/raw/openssl-rsa-0303.bin");
/// The handshake_failure alert OpenSSL 3 sends for SSLv3.
const SSL3_ALERT: &[u8] = include_bytes!("../../../tests/fixtures/raw/openssl-rsa-0300.bin");

const CAPTURED: [&[u8]; 5] = [ECDSA_TLS10, ECDSA_TLS12, TLS13_HELLO, RSA_TLS12, SSL3_ALERT];

fn flight(bytes: &[u8]) -> Flight {
    match read_all([bytes]) {
        Some(parse::Parsed::Hello(f)) => f,
        other => panic!("{other:?}"),
    }
}

#[test]
fn captured_flights_are_read_whole_and_byte_by_byte() {
    let f = flight(ECDSA_TLS10);
    assert_eq!((f.version, f.suite), (TLS10, 0xC00A));
    assert!(f.complete && f.chain.len() == 1 && f.chain[0][0] == 0x30);
    let f = flight(RSA_TLS12);
    assert_eq!((f.version, f.suite), (TLS12, 0xC030));
    assert!(f.complete && !f.ocsp.is_empty() && f.extensions.contains(&5));
    let f = flight(TLS13_HELLO);
    assert_eq!((f.version, f.suite, f.complete), (TLS13, 0x1301, false));
    assert!(f.chain.is_empty(), "encrypted in TLS 1.3");
    assert_eq!(read_all([SSL3_ALERT]), Some(parse::Parsed::Alert(2, 40)));
    for bytes in CAPTURED {
        let whole = read_all([bytes]);
        assert_eq!(read_all(bytes.chunks(1)), whole);
        assert_eq!(read_all(bytes.chunks(7)), whole);
    }
}

/// The handshake records of `bytes` cut again into records of `size`
/// bytes, so messages span records and records hold several messages.
fn reframe(bytes: &[u8], size: usize) -> Vec<u8> {
    let (mut stream, mut at) = (Vec::new(), 0);
    while let Some(head) = bytes.get(at..at + 5).filter(|h| h[0] == 22) {
        let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
        stream.extend_from_slice(&bytes[at + 5..at + 5 + len]);
        at += 5 + len;
    }
    let mut out = Vec::new();
    for part in stream.chunks(size) {
        out.extend_from_slice(&[22, 3, 3]);
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&bytes[at..]);
    out
}

#[test]
fn messages_may_span_records_and_share_them() {
    for bytes in [ECDSA_TLS10, RSA_TLS12] {
        let whole = read_all([bytes]);
        for size in [1, 5, 100, 4000] {
            assert_eq!(read_all([reframe(bytes, size).as_slice()]), whole, "{size}");
        }
    }
}

/// Xorshift64: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `seed`: flipped, overwritten, cut, repeated, or
/// random bytes, with lengths that lie.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    match rng.below(6) {
        0 => v.truncate(rng.below(seed.len() + 1)),
        1 => (0..v.len() / 2).for_each(|i| v[i] = rng.next() as u8),
        2 => {
            let at = rng.below(v.len());
            v.splice(at..at, seed[..rng.below(seed.len())].iter().copied());
        }
        _ => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(v.len());
                if let Some(b) = v.get_mut(at) {
                    *b = match rng.below(3) {
                        0 => *b ^ (1 << rng.below(8)),
                        1 => 0xFF,
                        _ => 0,
                    };
                }
            }
        }
    }
    if rng.below(20) == 0 {
        v = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
    }
    v
}

#[test]
fn no_input_makes_the_reader_panic() {
    let mut seeds: Vec<Vec<u8>> = CAPTURED.iter().map(|c| c.to_vec()).collect();
    seeds.push(reframe(RSA_TLS12, 100));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut hellos = 0;
    for i in 0..100_000 {
        let input = mutate(&mut rng, &seeds[i % seeds.len()]);
        let step = 1 + rng.below(600);
        if let Some(parse::Parsed::Hello(_)) = read_all(input.chunks(step)) {
            hellos += 1;
        }
    }
    // Most mutations leave the ServerHello readable; all end somehow.
    assert!(hellos > 10_000, "{hellos}");
}

/// A server that answers the first connection with `script`, each item
/// one write, then hangs up; `None` holds the connection open instead.
fn scripted(script: Vec<Vec<u8>>, hold: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let _ = tcp.read(&mut [0; 4096]);
        for part in script {
            let _ = tcp.write_all(&part);
            let _ = tcp.flush();
        }
        if hold {
            let _ = tcp.read(&mut [0; 1]);
        }
    });
    addr
}

fn ask(addr: SocketAddr, version: u16) -> Answer {
    let hello = Hello {
        version,
        suites: vec![0xC02F],
        sni: None,
        sigs: Sigs::All,
    };
    exchange(addr, &hello, Duration::from_millis(500))
}

#[test]
fn every_way_a_probe_ends_is_an_answer() {
    let split: Vec<Vec<u8>> = RSA_TLS12.chunks(3).map(<[u8]>::to_vec).collect();
    let a = ask(scripted(split, false), TLS12);
    assert_eq!(a, Answer::Hello(flight(RSA_TLS12)));
    assert!(a.accepted(TLS12).is_some() && a.refused(TLS10));
    // Cut after the ServerHello: what was read counts.
    let cut = ask(scripted(vec![RSA_TLS12[..120].to_vec()], false), TLS12);
    assert!(matches!(&cut, Answer::Hello(f) if !f.complete && f.suite == 0xC030));
    assert_eq!(ask(scripted(vec![], false), TLS12), Answer::Closed);
    assert_eq!(ask(scripted(vec![], true), TLS12), Answer::Timeout);
    let alert = ask(scripted(vec![SSL3_ALERT.to_vec()], false), SSL3);
    assert_eq!(alert.describe(), "alert handshake_failure");
    assert!(alert.refused(SSL3));
    let http = ask(
        scripted(vec![b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()], false),
        TLS12,
    );
    assert!(
        matches!(&http, Answer::Malformed(w) if w.contains("plain HTTP")),
        "{http:?}"
    );
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(matches!(ask(dead, TLS12), Answer::Unreachable(_)));
}
