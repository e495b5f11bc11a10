//! Soak run (not part of CI): mixed traffic against local TLS and WSS
//! servers for a long time, printing resident memory, threads and open
//! file descriptors every minute. They must stay flat.
//!
//! `cargo run --release --example soak -- --minutes 60`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procfs;
use wxnet::{
    ConnectSocketOptions, DownloadFileOptions, RequestOptions, SocketMessage, UploadFileOptions,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut minutes: u64 = 60;
    while let Some(a) = args.next() {
        if a == "--minutes" {
            minutes = args.next().and_then(|m| m.parse().ok()).unwrap_or(60);
        }
    }
    let pki = common::TestPki::new();
    let names = ["api.example.com", "up.example.com", "dl.example.com"];
    let server =
        common::HttpServer::start(pki.server_config(&pki.identity(&names)), |r, c| {
            match r.path.split('?').next().unwrap_or_default() {
                "/fail" => c.reset(),
                "/file" => c.respond(200, &[], &[7u8; 256 * 1024]),
                _ => c.respond(200, &[("content-type", "application/json")], br#"{"ok":1}"#),
            }
        });
    let ws = common::WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
    let dir = common::TempDir::new("soak");
    let upload = dir.path().join("up.bin");
    std::fs::write(&upload, vec![1u8; 4 * 1024]).unwrap();
    let client = common::client_builder(&pki, &server)
        .request_domains(["https://api.example.com"])
        .upload_domains(["https://up.example.com"])
        .download_domains(["https://dl.example.com"])
        .socket_domains(["wss://ws.example.com"])
        .resolve("ws.example.com", ws.addr())
        .download_dir(dir.path().join("dl"))
        .build()
        .unwrap();

    let calls = Arc::new(AtomicU64::new(0));
    let failures: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let record = {
        let (calls, failures) = (calls.clone(), failures.clone());
        move |r: Result<(), wxnet::Error>| {
            calls.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = r {
                *failures
                    .lock()
                    .unwrap()
                    .entry(format!("{:?}", e.kind()))
                    .or_default() += 1;
            }
        }
    };
    let only: Option<u64> = std::env::var("SOAK_ONLY").ok().and_then(|v| v.parse().ok());
    let threads: u64 = std::env::var("SOAK_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (client, stop, record, upload) =
                (client.clone(), stop.clone(), record.clone(), upload.clone());
            std::thread::spawn(move || {
                let mut i: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    // SOAK_ONLY=<0-9> repeats one kind of call (to find what grows).
                    let pick = only.unwrap_or((i + t) % 10);
                    let r = match pick {
                        0 => client
                            .upload_file(UploadFileOptions::new(
                                "https://up.example.com/u",
                                &upload,
                                "file",
                            ))
                            .wait()
                            .map(drop),
                        1 => client
                            .download_file(DownloadFileOptions::new("https://dl.example.com/file"))
                            .wait()
                            .map(|d| {
                                if let Some(p) = d.temp_file_path {
                                    let _ = std::fs::remove_file(p);
                                }
                            }),
                        2 => client
                            .request(RequestOptions::new("https://api.example.com/fail"))
                            .wait()
                            .map(drop),
                        3 => {
                            let task = client
                                .request(RequestOptions::new("https://api.example.com/aborted"));
                            task.abort();
                            task.wait().map(drop)
                        }
                        4 if t == 0 || only.is_some() => {
                            let s = client
                                .connect_socket(ConnectSocketOptions::new("wss://ws.example.com/"));
                            let r = s.wait_open(Duration::from_secs(5)).and_then(|_| {
                                s.send(SocketMessage::Text("ping".into()))?;
                                s.recv(Duration::from_secs(5)).map(drop)
                            });
                            let _ = s.close(1000, "");
                            r
                        }
                        _ => client
                            .request(RequestOptions::new("https://api.example.com/ok"))
                            .wait()
                            .map(drop),
                    };
                    record(r);
                }
            })
        })
        .collect();

    let start = Instant::now();
    println!("minute  calls  failures  rss_kib  threads  fds");
    for minute in 0..=minutes {
        if minute > 0 {
            std::thread::sleep(Duration::from_secs(60));
        }
        println!(
            "{:>6} {:>6}  {:?}  {:>7}  {:>7}  {:>3}",
            start.elapsed().as_secs() / 60,
            calls.load(Ordering::Relaxed),
            failures.lock().unwrap(),
            procfs::rss_kib(),
            procfs::threads(),
            procfs::fds(),
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
}
