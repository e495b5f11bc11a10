//! WebSocket echo of 32-byte text against an echo server in another
//! process (Python `websockets` over TLS 1.3 on loopback, Debian
//! `python3-websockets`): wxnet (its reader thread, `on_message` into a
//! channel, the caller sends and waits for the echo) against tungstenite
//! read on the caller's own thread, same rustls stack, same server.
//!
//! ```text
//! cargo bench --bench socket                 # every load mode
//! cargo bench --bench socket -- quiet spin   # some of them
//! cargo bench --bench socket -- count wxnet 2000   # for callgrind
//! ```
//!
//! Load modes, applied to both sides' rounds alike: `quiet`; `spin`, two
//! threads of this process spinning; `stress`, `stress-ng --cpu 2 --vm 1
//! --vm-bytes 256M`; `compile`, `stress-ng --cpu 2 --vm 2 --vm-bytes 1G
//! --cache 1` (CPU and memory hogs on every core, like two compiles).
//! After a warm-up the sides alternate rounds (which goes first
//! alternates too); each row is the median over rounds of the per-round
//! ratio, with messages/s, p50 and p99 of the echo round trip, and the
//! context switches of all this process's threads per message.
//!
//! `count <wxnet|raw> <n>` does `n` echoes of one side and exits, for an
//! instruction count of the client process alone: run it under
//! `valgrind --tool=callgrind` with two values of `n` and difference the
//! totals (see README "Performance").

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/mod.rs"]
mod support;

use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use tungstenite::{Message, WebSocket};

const PAYLOAD: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "ws.example.com";
const ROUNDS: usize = 8;
const PER_ROUND: usize = 2000;
const WARM_UP: usize = 2000;

const SERVER: &str = r#"
import asyncio, ssl, sys, websockets
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), ssl=ctx,
                                compression=None, max_size=None):
        await asyncio.Future()
asyncio.run(main())
"#;

/// The echo server in its own process. `/usr/bin/python3` by path: the
/// Debian interpreter is the one with `python3-websockets`.
fn echo_server(pki: &common::TestPki) -> common::Program {
    let id = pki.identity(&[HOST]);
    common::Program::start("/usr/bin/python3", "python3-websockets", |port, dir| {
        std::fs::write(dir.join("echo.py"), SERVER).unwrap();
        let (cert, key) = pki.write_pem(&id, dir, "leaf");
        let (cert, key) = (cert.display(), key.display());
        vec![
            "echo.py".into(),
            port.to_string(),
            cert.to_string(),
            key.to_string(),
        ]
    })
}

type Raw = WebSocket<StreamOwned<ClientConnection, TcpStream>>;

fn raw_client(pki: &common::TestPki, addr: SocketAddr) -> Raw {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    let name = ServerName::try_from(HOST).unwrap();
    let conn = ClientConnection::new(pki.client_config(), name).unwrap();
    let url = format!("wss://{HOST}/");
    let (ws, _) = tungstenite::client::client(url, StreamOwned::new(conn, tcp)).unwrap();
    ws
}

struct Wx {
    task: wxnet::SocketTask,
    rx: mpsc::Receiver<wxnet::SocketMessage>,
    _client: wxnet::Client,
}

fn wx_client(pki: &common::TestPki, addr: SocketAddr) -> Wx {
    let client = wxnet::Client::builder()
        .socket_domains([format!("wss://{HOST}")])
        .add_root_certificate(pki.ca_pem())
        .unwrap()
        .resolve(HOST, addr)
        .build()
        .unwrap();
    let task = client.connect_socket(wxnet::ConnectSocketOptions::new(format!("wss://{HOST}/")));
    let (tx, rx) = mpsc::channel();
    task.on_message(move |m| {
        let _ = tx.send(m.clone());
    });
    task.wait_open(Duration::from_secs(10)).unwrap();
    Wx {
        task,
        rx,
        _client: client,
    }
}

impl Wx {
    fn echo(&mut self) {
        self.task.send(PAYLOAD.into()).unwrap();
        let m = self.rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(m.len(), PAYLOAD.len());
    }
}

fn raw_echo(raw: &mut Raw) {
    raw.send(Message::Text(PAYLOAD.into())).unwrap();
    loop {
        if let Message::Text(t) = raw.read().unwrap() {
            assert_eq!(t.len(), PAYLOAD.len());
            return;
        }
    }
}

/// One round of one side.
#[derive(Clone, Copy)]
struct Round {
    per_s: f64,
    p50: f64,
    p99: f64,
    voluntary: f64,
    involuntary: f64,
}

fn round(n: usize, mut echo: impl FnMut()) -> Round {
    let mut lat = Vec::with_capacity(n);
    let before = common::procfs::context_switches();
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        echo();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = start.elapsed().as_secs_f64();
    let after = common::procfs::context_switches();
    Round {
        per_s: n as f64 / total,
        p50: support::quantile(&mut lat, 0.5),
        p99: support::quantile(&mut lat, 0.99),
        voluntary: (after.0 - before.0) as f64 / n as f64,
        involuntary: (after.1 - before.1) as f64 / n as f64,
    }
}

fn run_mode(mode: &str, wx: &mut Wx, raw: &mut Raw) {
    let load = support::Load::parse(mode).start();
    for _ in 0..WARM_UP {
        wx.echo();
        raw_echo(raw);
    }
    let (mut w, mut r) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        if i % 2 == 0 {
            w.push(round(PER_ROUND, || wx.echo()));
            r.push(round(PER_ROUND, || raw_echo(raw)));
        } else {
            r.push(round(PER_ROUND, || raw_echo(raw)));
            w.push(round(PER_ROUND, || wx.echo()));
        }
    }
    drop(load);
    report(mode, &w, &r);
}

fn report(mode: &str, w: &[Round], r: &[Round]) {
    let med = |v: &[Round], f: fn(&Round) -> f64| {
        support::median(&mut v.iter().map(f).collect::<Vec<_>>())
    };
    let ratio = |f: fn(&Round) -> f64| {
        support::median(
            &mut w
                .iter()
                .zip(r)
                .map(|(a, b)| f(a) / f(b))
                .collect::<Vec<_>>(),
        )
    };
    for (lead, name, v) in [
        (format!("{mode:>7}:"), "wxnet", w),
        (" ".repeat(8), "raw  ", r),
    ] {
        let (lo, hi) = support::range(&v.iter().map(|x| x.per_s).collect::<Vec<_>>());
        println!(
            "{lead} {name} {:.1} k msg/s ({:.1}-{:.1}), p50 {:.0} us, p99 {:.0} us, \
             ctx/msg {:.2} vol + {:.2} invol",
            med(v, |x| x.per_s) / 1e3,
            lo / 1e3,
            hi / 1e3,
            med(v, |x| x.p50),
            med(v, |x| x.p99),
            med(v, |x| x.voluntary),
            med(v, |x| x.involuntary),
        );
    }
    println!(
        "{:>7}  ratio throughput {:.3}x, p50 {:.2}x, p99 {:.2}x (medians of {} per-round ratios)",
        "",
        ratio(|x| x.per_s),
        ratio(|x| x.p50),
        ratio(|x| x.p99),
        w.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let pki = common::TestPki::new();
    let server = echo_server(&pki);
    if args.first().map(String::as_str) == Some("count") {
        let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000);
        match args.get(1).map(String::as_str) {
            Some("wxnet") => {
                let mut wx = wx_client(&pki, server.addr());
                (0..n).for_each(|_| wx.echo());
            }
            Some("raw") => {
                let mut raw = raw_client(&pki, server.addr());
                (0..n).for_each(|_| raw_echo(&mut raw));
            }
            _ => panic!("count <wxnet|raw> <n>"),
        }
        return;
    }
    let modes: Vec<&str> = if args.is_empty() {
        vec!["quiet", "spin", "stress", "compile"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    let mut wx = wx_client(&pki, server.addr());
    let mut raw = raw_client(&pki, server.addr());
    println!(
        "WebSocket echo, 32 B text, {ROUNDS} rounds x {PER_ROUND} per side after \
         {WARM_UP} warm-up; server: python3 websockets, another process"
    );
    for mode in modes {
        run_mode(mode, &mut wx, &mut raw);
    }
}
