//! Download and upload of 64 MiB over loopback TLS: wxnet against raw ureq
//! (same rustls + ring stack, same server) in the same run.
//!
//! Run with `cargo bench --bench transfer`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SIZE: usize = 64 * 1024 * 1024;

fn transfer(c: &mut Criterion) {
    let pki = common::TestPki::new();
    let data = Arc::new(common::pattern(SIZE));
    let served = data.clone();
    let server = common::HttpServer::start(
        pki.server_config(&pki.identity(&["dl.example.com", "up.example.com"])),
        move |r, conn| {
            if r.method == "GET" {
                conn.respond(200, &[], &served);
            } else {
                conn.respond(200, &[], r.body.len().to_string().as_bytes());
            }
        },
    );
    let dir = common::TempDir::new("bench");
    let file = dir.path().join("upload.bin");
    std::fs::write(&file, &*data).unwrap();

    let client = common::client_builder(&pki, &server)
        .download_domains(["https://dl.example.com"])
        .upload_domains(["https://up.example.com"])
        .build()
        .unwrap();
    let raw = common::raw_ureq_agent(&pki.ca_der(), server.addr());

    let mut g = c.benchmark_group("download_64MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let out = dir.path().join("out.bin");
    g.bench_function("wxnet", |b| {
        b.iter(|| {
            let r = client
                .download_file(
                    wxnet::DownloadFileOptions::new("https://dl.example.com/f").file_path(&out),
                )
                .wait()
                .unwrap();
            assert_eq!(r.data_length, SIZE as u64);
        })
    });
    g.bench_function("raw_ureq", |b| {
        b.iter(|| {
            let mut res = raw.get("https://dl.example.com/f").call().unwrap();
            let mut f = std::fs::File::create(&out).unwrap();
            let mut reader = res.body_mut().with_config().limit(u64::MAX).reader();
            let n = std::io::copy(&mut reader, &mut f).unwrap();
            assert_eq!(n, SIZE as u64);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("upload_64MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("wxnet", |b| {
        b.iter(|| {
            let r = client
                .upload_file(wxnet::UploadFileOptions::new(
                    "https://up.example.com/u",
                    &file,
                    "file",
                ))
                .wait()
                .unwrap();
            assert_eq!(r.status_code, 200);
        })
    });
    g.bench_function("raw_ureq", |b| {
        b.iter(|| {
            let f = std::fs::File::open(&file).unwrap();
            let mut res = raw
                .post("https://up.example.com/u")
                .header("content-type", "application/octet-stream")
                .send(f)
                .unwrap();
            let mut s = String::new();
            res.body_mut().as_reader().read_to_string(&mut s).unwrap();
            assert_eq!(s, SIZE.to_string());
        })
    });
    g.finish();
}

criterion_group!(benches, transfer);
criterion_main!(benches);
