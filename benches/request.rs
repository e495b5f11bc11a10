//! Keep-alive GETs of `/small` (JSON) from nginx in its own process: wxnet
//! against the raw stack (a ureq Agent, read the body, `serde_json` parse),
//! 10 callers × 2,000 requests, alternating rounds after a warm-up; the
//! median of the per-round ratios. Then a callback-style call's latency
//! against a waited call's, one at a time, in the same run.
//!
//! ```sh
//! cargo bench --bench request                   # quiet
//! cargo bench --bench request -- --load spin    # two spinning threads
//! cargo bench --bench request -- --load stress  # stress-ng --cpu 2 --vm 1 --vm-bytes 256M
//! ```

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/mod.rs"]
mod support;

use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use support::Side;

const CALLERS: usize = 10;
const PER_CALLER: usize = 2_000;
const ROUNDS: usize = 5;

/// One round: requests per second, p50 and p99 in µs.
fn round(call: Arc<dyn Fn() + Send + Sync>, per_caller: usize) -> (f64, f64, f64) {
    let start = Arc::new(Barrier::new(CALLERS + 1));
    let threads: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (call, start) = (call.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                (0..per_caller)
                    .map(|_| {
                        let t0 = Instant::now();
                        call();
                        t0.elapsed().as_secs_f64() * 1e6
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    let mut all: Vec<f64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let rate = all.len() as f64 / t0.elapsed().as_secs_f64();
    (
        rate,
        support::quantile(&mut all, 0.50),
        support::quantile(&mut all, 0.99),
    )
}

fn main() {
    let load = support::Load::from_args();
    let server = support::Nginx::start();
    let client = Arc::new(support::wxnet_client(&server.ca_der, server.addr()));
    let agent = support::raw_agent(&server.ca_der, server.addr());
    let wx: Arc<dyn Fn() + Send + Sync> = {
        let client = client.clone();
        Arc::new(move || support::wxnet_get(&client))
    };
    let raw: Arc<dyn Fn() + Send + Sync> = Arc::new(move || support::raw_get(&agent));
    println!(
        "load: {load:?}; load average before: {}",
        support::loadavg()
    );
    let _load = load.start();
    round(wx.clone(), 200);
    round(raw.clone(), 200);
    let (mut rates, mut p50s, mut p99s) = (Vec::new(), Vec::new(), Vec::new());
    let mut sides: [Vec<(f64, f64, f64)>; 2] = [Vec::new(), Vec::new()];
    for i in 0..ROUNDS {
        // Alternate which side goes first.
        let order = if i % 2 == 0 {
            [Side::Wxnet, Side::Raw]
        } else {
            [Side::Raw, Side::Wxnet]
        };
        let mut got = [(0.0, 0.0, 0.0); 2];
        for side in order {
            let k = (side == Side::Raw) as usize;
            let call = if side == Side::Wxnet { &wx } else { &raw };
            got[k] = round(call.clone(), PER_CALLER);
            sides[k].push(got[k]);
        }
        let [w, r] = got;
        println!(
            "round {i}: wxnet {:.1} k/s p50 {:.0} µs p99 {:.0} µs | raw {:.1} k/s p50 {:.0} µs \
             p99 {:.0} µs",
            w.0 / 1e3,
            w.1,
            w.2,
            r.0 / 1e3,
            r.1,
            r.2
        );
        rates.push(w.0 / r.0);
        p50s.push(w.1 / r.1);
        p99s.push(w.2 / r.2);
    }
    let span = |k: usize, f: fn(&(f64, f64, f64)) -> f64| {
        support::range(&sides[k].iter().map(f).collect::<Vec<_>>())
    };
    let (wl, wh) = span(0, |r| r.0 / 1e3);
    let (rl, rh) = span(1, |r| r.0 / 1e3);
    println!(
        "| request, {CALLERS} callers × {PER_CALLER}, keep-alive /small, load {load:?} | \
         {wl:.1}–{wh:.1} k req/s | ureq Agent {rl:.1}–{rh:.1} k/s | {:.3}× (rounds {:.3}–{:.3}), \
         p50 {:.2}×, p99 {:.2}× |",
        support::median(&mut rates.clone()),
        support::range(&rates).0,
        support::range(&rates).1,
        support::median(&mut p50s),
        support::median(&mut p99s),
    );
    callback_start(&client);
    println!("load average after: {}", support::loadavg());
}

/// A call with a `success` callback goes to a worker at once: its latency
/// (call to callback) against a waited call's (call to result), one call
/// at a time, alternating; and how long the callback call took to return.
fn callback_start(client: &wxnet::Client) {
    let url = format!("{}/small", support::API);
    let (mut waited, mut callback, mut returned) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..2_200 {
        let t0 = Instant::now();
        support::wxnet_get(client);
        let w = t0.elapsed();
        let (tx, rx) = mpsc::channel();
        let t0 = Instant::now();
        let task = client.request(
            wxnet::RequestOptions::new(url.as_str())
                .success(move |r| tx.send((Instant::now(), r.status_code)).unwrap()),
        );
        let r = t0.elapsed();
        let (at, status) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(status, 200);
        drop(task);
        if i >= 200 {
            waited.push(w.as_secs_f64() * 1e6);
            callback.push((at - t0).as_secs_f64() * 1e6);
            returned.push(r.as_secs_f64() * 1e6);
        }
    }
    let q = support::quantile;
    println!(
        "| callback call start, one at a time (2,000) | call → success p50 {:.0} µs, p99 {:.0} µs; \
         `request` returns in p50 {:.1} µs | waited call p50 {:.0} µs, p99 {:.0} µs | p50 {:.2}× |",
        q(&mut callback, 0.5),
        q(&mut callback, 0.99),
        q(&mut returned, 0.5),
        q(&mut waited, 0.5),
        q(&mut waited, 0.99),
        q(&mut callback, 0.5) / q(&mut waited, 0.5),
    );
    callback_throughput(client);
}

/// 10 callers each making callback calls one after another (waiting on a
/// channel for each): throughput against waited calls.
fn callback_throughput(client: &wxnet::Client) {
    let client = Arc::new(client.clone());
    let cb: Arc<dyn Fn() + Send + Sync> = {
        let client = client.clone();
        Arc::new(move || {
            let (tx, rx) = mpsc::channel();
            let _task = client.request(
                wxnet::RequestOptions::new(format!("{}/small", support::API))
                    .success(move |r| tx.send(r.data.as_json().unwrap()["n"] == 42).unwrap()),
            );
            assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap());
        })
    };
    let waited: Arc<dyn Fn() + Send + Sync> = Arc::new(move || support::wxnet_get(&client));
    let (mut c, mut w) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        c.push(round(cb.clone(), 1_000).0);
        w.push(round(waited.clone(), 1_000).0);
    }
    let (c, w) = (support::median(&mut c), support::median(&mut w));
    println!(
        "| 10 callers × 1,000, callback calls vs waited calls (median of 3) | {:.1} k/s | \
         waited {:.1} k/s | {:.3}× |",
        c / 1e3,
        w / 1e3,
        c / w
    );
}
