//! Request throughput with 10 concurrent callers, small JSON, keep-alive:
//! wxnet (10 workers, caller-to-worker hand-off) against a raw ureq Agent
//! called directly from 10 threads (same rustls/ring stack, same server,
//! pool sized to 10 per host), in the same run.
//!
//! Run with `cargo bench --bench request`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CALLERS: usize = 10;
const PER_CALLER: usize = 100;

/// Run `call` PER_CALLER times on each of CALLERS threads; the time from
/// a common start to the last finish.
fn run(call: Arc<dyn Fn() + Send + Sync>) -> Duration {
    let start = Arc::new(Barrier::new(CALLERS + 1));
    let threads: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (call, start) = (call.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..PER_CALLER {
                    call();
                }
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    for t in threads {
        t.join().unwrap();
    }
    t0.elapsed()
}

/// p50 / p99 of single calls made by 10 callers at once, in µs.
fn latencies(call: &Arc<dyn Fn() + Send + Sync>) -> String {
    let start = Arc::new(Barrier::new(CALLERS));
    let threads: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (call, start) = (call.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                (0..500)
                    .map(|_| {
                        let t0 = Instant::now();
                        call();
                        t0.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    let at = |q: f64| all[((all.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    format!("p50 {:.0} µs, p99 {:.0} µs", at(0.50), at(0.99))
}

fn request(c: &mut Criterion) {
    let pki = common::TestPki::new();
    let server = common::HttpServer::start(
        pki.server_config(&pki.identity(&["api.example.com"])),
        |_, conn| {
            conn.respond(
                200,
                &[("content-type", "application/json")],
                br#"{"ok":true,"n":42}"#,
            )
        },
    );
    let client = common::client_builder(&pki, &server)
        .request_domains(["https://api.example.com"])
        .build()
        .unwrap();
    let raw = common::raw_ureq_agent_pooled(&pki.ca_der(), server.addr(), CALLERS);

    let wx: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
        let r = client
            .request(wxnet::RequestOptions::new("https://api.example.com/item"))
            .wait()
            .unwrap();
        assert_eq!(r.status_code, 200);
    });
    let raw: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
        let mut r = raw
            .get("https://api.example.com/item")
            .header("content-type", "application/json")
            .call()
            .unwrap();
        let mut s = String::new();
        r.body_mut().as_reader().read_to_string(&mut s).unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["n"], 42);
    });

    for _ in 0..3 {
        println!(
            "latency, 10 callers x 500 calls: wxnet {} | raw ureq {}",
            latencies(&wx),
            latencies(&raw)
        );
    }

    let mut g = c.benchmark_group("request_10_callers");
    g.throughput(Throughput::Elements((CALLERS * PER_CALLER) as u64));
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("wxnet", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(wx.clone())).sum())
    });
    g.bench_function("raw_ureq", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(raw.clone())).sum())
    });
    g.finish();
    println!(
        "connections opened by both clients together: {}",
        server.connections_accepted()
    );
}

criterion_group!(benches, request);
criterion_main!(benches);
