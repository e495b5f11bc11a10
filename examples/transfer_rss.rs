//! Peak memory and speed of a 64 MiB upload and download, wxnet against
//! raw ureq, each run in its own child process so the figures are the
//! client's alone.
//!
//! Run with `cargo run --release --example transfer_rss`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const MIB: usize = 1024 * 1024;

/// The client side, in a child process: one transfer, then its figures.
fn child(lib: &str, dir: &str, addr: SocketAddr, dir_path: &Path, mib: usize) {
    let ca = std::fs::read(dir_path.join("ca.der")).unwrap();
    let file = dir_path.join(format!("up{mib}.bin"));
    let out = dir_path.join(format!("down-{lib}.bin"));
    let t0 = Instant::now();
    match lib {
        "wxnet" => {
            let client = wxnet::Client::builder()
                .upload_domains(["https://up.example.com"])
                .download_domains(["https://dl.example.com"])
                .add_root_certificate(&ca)
                .unwrap()
                .resolve("up.example.com", addr)
                .resolve("dl.example.com", addr)
                .build()
                .unwrap();
            if dir == "upload" {
                let r = client
                    .upload_file(wxnet::UploadFileOptions::new(
                        "https://up.example.com/u",
                        &file,
                        "f",
                    ))
                    .wait()
                    .unwrap();
                assert_eq!(r.status_code, 200);
            } else {
                let r = client
                    .download_file(
                        wxnet::DownloadFileOptions::new(format!("https://dl.example.com/{mib}"))
                            .file_path(&out),
                    )
                    .wait()
                    .unwrap();
                assert_eq!(r.data_length, (mib * MIB) as u64);
            }
        }
        _ => {
            let raw = common::raw_ureq_agent(&ca, addr);
            if dir == "upload" {
                let f = std::fs::File::open(&file).unwrap();
                let mut res = raw.post("https://up.example.com/u").send(f).unwrap();
                let mut s = String::new();
                res.body_mut().as_reader().read_to_string(&mut s).unwrap();
            } else {
                let mut res = raw
                    .get(format!("https://dl.example.com/{mib}"))
                    .call()
                    .unwrap();
                let mut f = std::fs::File::create(&out).unwrap();
                let mut r = res.body_mut().with_config().limit(u64::MAX).reader();
                std::io::copy(&mut r, &mut f).unwrap();
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{:.0} {}",
        mib as f64 / secs,
        common::procfs::peak_rss_kib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 7 && args[1] == "--child" {
        let mib = args[6].parse().unwrap();
        return child(
            &args[2],
            &args[3],
            args[4].parse().unwrap(),
            Path::new(&args[5]),
            mib,
        );
    }
    let pki = common::TestPki::new();
    let dir = common::TempDir::new("rss");
    std::fs::write(dir.path().join("ca.der"), pki.ca_der()).unwrap();
    let big = std::sync::Arc::new(common::pattern(64 * MIB));
    let served = big.clone();
    let server = common::HttpServer::start(
        pki.server_config(&pki.identity(&["up.example.com", "dl.example.com"])),
        move |r, c| {
            if r.method == "GET" {
                let mib: usize = r.path[1..].parse().unwrap_or(0);
                c.respond(200, &[], &served[..mib * MIB]);
            } else {
                c.respond(200, &[], r.body.len().to_string().as_bytes());
            }
        },
    );
    for mib in [4, 64] {
        std::fs::write(dir.path().join(format!("up{mib}.bin")), &big[..mib * MIB]).unwrap();
    }
    println!(
        "{:<10} {:<9} {:>5} {:>8} {:>14}",
        "direction", "client", "MiB", "MiB/s", "peak RSS KiB"
    );
    for direction in ["upload", "download"] {
        for mib in [4, 64] {
            for lib in ["wxnet", "raw_ureq"] {
                let out = Command::new(&args[0])
                    .args(["--child", lib, direction, &server.addr().to_string()])
                    .arg(dir.path())
                    .arg(mib.to_string())
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let text = String::from_utf8_lossy(&out.stdout);
                let mut it = text.split_whitespace();
                let (speed, rss) = (it.next().unwrap_or("?"), it.next().unwrap_or("?"));
                println!("{direction:<10} {lib:<9} {mib:>5} {speed:>8} {rss:>14}");
            }
        }
    }
}
