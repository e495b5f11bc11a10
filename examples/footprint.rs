//! Resident memory, threads and file descriptors of a client: idle with
//! its 10 workers, with 10 pooled TLS connections, with a WebSocket. The
//! client runs in a child process so the server's memory is not counted.
//!
//! Run with `cargo run --release --example footprint`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::procfs;

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn report(stage: &str) {
    println!(
        "{stage:<38} {:>8} {:>9} {:>8} {:>8}",
        procfs::rss_kib(),
        procfs::status_kib("RssAnon"),
        procfs::threads(),
        procfs::fds()
    );
}

fn child(ca: &[u8], http: &str, ws: &str) {
    report("baseline (no client)");
    let client = wxnet::Client::builder()
        .request_domains(["https://api.example.com"])
        .socket_domains(["wss://ws.example.com"])
        .add_root_certificate(ca)
        .unwrap()
        .resolve("api.example.com", http.parse().unwrap())
        .resolve("ws.example.com", ws.parse().unwrap())
        .build()
        .unwrap();
    report("idle client (10 workers + timer)");
    // 10 requests at once: the server holds each until all 10 arrived, so
    // 10 connections open and then sit idle in the pool.
    let tasks: Vec<_> = (0..10)
        .map(|_| client.request(wxnet::RequestOptions::new("https://api.example.com/")))
        .collect();
    for t in tasks {
        t.wait().unwrap();
    }
    report("+ 10 idle pooled TLS connections");
    let socket = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
    socket.wait_open(Duration::from_secs(5)).unwrap();
    report("+ 1 open WebSocket");
    drop(socket);
    drop(client);
    report("after dropping the client");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "--child" {
        return child(&std::fs::read(&args[2]).unwrap(), &args[3], &args[4]);
    }
    let pki = common::TestPki::new();
    let dir = common::TempDir::new("footprint");
    let ca = dir.path().join("ca.der");
    std::fs::write(&ca, pki.ca_der()).unwrap();
    let barrier = Arc::new(Barrier::new(10));
    let http = common::HttpServer::start(
        pki.server_config(&pki.identity(&["api.example.com"])),
        move |_, c| {
            barrier.wait();
            c.respond(200, &[], b"{}")
        },
    );
    let ws = common::WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
    println!(
        "{:<38} {:>8} {:>9} {:>8} {:>8}",
        "stage", "RSS KiB", "anon KiB", "threads", "fds"
    );
    let out = Command::new(&args[0])
        .args([
            "--child",
            ca.to_str().unwrap(),
            &http.addr().to_string(),
            &ws.addr().to_string(),
        ])
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
