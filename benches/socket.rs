//! WebSocket echo of 32-byte text over loopback TLS: wxnet (a reader
//! thread and a hand-off to the caller) against raw tungstenite read on
//! the caller's own thread, same rustls stack, same server, same run.
//!
//! Run with `cargo bench --bench socket`. Besides criterion's figures it
//! prints round-trip p50/p99 over 5,000 echoes and burst messages/s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, RootCertStore, StreamOwned};
use tungstenite::{Message, WebSocket};

const PAYLOAD: &str = "0123456789abcdef0123456789abcdef";
const BURST: usize = 1000;

type Raw = WebSocket<StreamOwned<ClientConnection, TcpStream>>;

fn raw_client(pki: &common::TestPki, addr: std::net::SocketAddr) -> Raw {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der().into()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    let conn = ClientConnection::new(
        Arc::new(config),
        ServerName::try_from("ws.example.com").unwrap(),
    )
    .unwrap();
    let (ws, _) =
        tungstenite::client::client("wss://ws.example.com/", StreamOwned::new(conn, tcp)).unwrap();
    ws
}

struct Pair {
    wx: wxnet::SocketTask,
    _client: wxnet::Client,
    raw: Raw,
}

impl Pair {
    fn wx_echo(&self) {
        self.wx
            .send(wxnet::SocketMessage::Text(PAYLOAD.into()))
            .unwrap();
        let m = self.wx.recv(Duration::from_secs(5)).unwrap();
        assert!(m.is_some());
    }

    fn raw_echo(&mut self) {
        self.raw.send(Message::Text(PAYLOAD.into())).unwrap();
        loop {
            if let Message::Text(_) = self.raw.read().unwrap() {
                return;
            }
        }
    }

    fn wx_burst(&self) {
        for _ in 0..BURST {
            self.wx
                .send(wxnet::SocketMessage::Text(PAYLOAD.into()))
                .unwrap();
        }
        for _ in 0..BURST {
            assert!(self.wx.recv(Duration::from_secs(5)).unwrap().is_some());
        }
    }

    fn raw_burst(&mut self) {
        for _ in 0..BURST {
            self.raw.send(Message::Text(PAYLOAD.into())).unwrap();
        }
        let mut got = 0;
        while got < BURST {
            if let Message::Text(_) = self.raw.read().unwrap() {
                got += 1;
            }
        }
    }
}

fn percentiles(mut f: impl FnMut(), n: usize) -> (f64, f64) {
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[n / 2], v[n * 99 / 100])
}

fn main() {
    let pki = common::TestPki::new();
    let server = common::WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
    let client = wxnet::Client::builder()
        .socket_domains(["wss://ws.example.com"])
        .add_root_certificate(pki.ca_pem())
        .unwrap()
        .resolve("ws.example.com", server.addr())
        .build()
        .unwrap();
    let wx = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    wx.wait_open(Duration::from_secs(5)).unwrap();
    let mut pair = Pair {
        wx,
        _client: client,
        raw: raw_client(&pki, server.addr()),
    };

    // Percentiles, interleaved in rounds so both see the same machine.
    let (mut wx, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        wx.push(percentiles(|| pair.wx_echo(), 1000));
        raw.push(percentiles(|| pair.raw_echo(), 1000));
    }
    let med = |v: &Vec<(f64, f64)>, i: usize| {
        let mut x: Vec<f64> = v.iter().map(|p| if i == 0 { p.0 } else { p.1 }).collect();
        x.sort_by(|a, b| a.partial_cmp(b).unwrap());
        x[x.len() / 2]
    };
    println!(
        "echo round trip (median of 5 runs x 1000): wxnet p50 {:.1} us p99 {:.1} us | raw tungstenite p50 {:.1} us p99 {:.1} us",
        med(&wx, 0),
        med(&wx, 1),
        med(&raw, 0),
        med(&raw, 1)
    );

    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5));
    let mut g = c.benchmark_group("ws_echo_32B");
    g.throughput(Throughput::Elements(1));
    g.bench_function("wxnet", |b| b.iter(|| pair.wx_echo()));
    g.bench_function("raw_tungstenite", |b| b.iter(|| pair.raw_echo()));
    g.finish();
    let mut g = c.benchmark_group("ws_burst_1000x32B");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("wxnet", |b| b.iter(|| pair.wx_burst()));
    g.bench_function("raw_tungstenite", |b| b.iter(|| pair.raw_burst()));
    g.finish();
    c.final_summary();
}
