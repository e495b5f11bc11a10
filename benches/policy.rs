//! Micro-benchmarks of the per-call work done before and after the
//! network: the URL policy check and response text conversion.
//!
//! Run with `cargo bench --bench policy`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn policy(c: &mut Criterion) {
    let client = wxnet::Client::builder()
        .request_domains([
            "https://a.example.com",
            "https://b.example.com:8443",
            "https://api.example.com",
        ])
        .build()
        .unwrap();
    let mut g = c.benchmark_group("policy");
    g.bench_function("allowed url", |b| {
        b.iter(|| {
            client
                .check_url(
                    wxnet::ApiKind::Request,
                    black_box("https://api.example.com/v1/items?page=2"),
                )
                .unwrap()
        })
    });
    g.bench_function("refused ip url", |b| {
        b.iter(|| {
            client
                .check_url(
                    wxnet::ApiKind::Request,
                    black_box("https://0x7f000001/v1/items"),
                )
                .unwrap_err()
        })
    });
    g.finish();
}

criterion_group!(benches, policy);
criterion_main!(benches);
