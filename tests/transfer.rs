//! `upload_file` and `download_file`: streamed, capped, atomic.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Conn, HttpServer, Request, TempDir, TestPki, pattern, sha256_hex, watchdog};
use serde_json::json;
use wxnet::{
    Client, DownloadFileOptions, DownloadProgress, ErrorKind, UploadFileOptions, UploadProgress,
};

const UP: &str = "https://up.example.com";
const DL: &str = "https://dl.example.com";
const MIB: usize = 1024 * 1024;

fn setup_with(
    configure: impl FnOnce(wxnet::ClientBuilder) -> wxnet::ClientBuilder,
    handler: impl Fn(&Request, &mut Conn) + Send + Sync + 'static,
) -> (HttpServer, Client) {
    let pki = TestPki::new();
    let server = HttpServer::start(
        pki.server_config(&pki.identity(&["up.example.com", "dl.example.com"])),
        handler,
    );
    let client = configure(
        common::client_builder(&pki, &server)
            .upload_domains([UP])
            .download_domains([DL]),
    )
    .build()
    .unwrap();
    (server, client)
}

/// Answers an upload with what it received: the file part's hash, name,
/// type and the other fields.
fn multipart_echo(r: &Request, c: &mut Conn) {
    let ct = r.header("content-type").unwrap_or("").to_string();
    let parts = common::parse_multipart(&ct, &r.body);
    let mut fields = serde_json::Map::new();
    let mut file = json!(null);
    for (name, filename, ctype, data) in parts {
        match filename {
            Some(f) => {
                file = json!({"field": name, "filename": f, "type": ctype, "sha": sha256_hex(&data), "len": data.len()})
            }
            None => {
                fields.insert(name, json!(String::from_utf8_lossy(&data)));
            }
        }
    }
    let reply = json!({
        "file": file,
        "fields": fields,
        "content_length": r.header("content-length"),
        "chunked": r.header("transfer-encoding"),
        "referer": r.header("referer"),
    });
    c.respond(
        200,
        &[("content-type", "application/json")],
        reply.to_string().as_bytes(),
    );
}

fn assert_progress_monotonic_and_final(events: &[(u8, u64)]) {
    assert!(!events.is_empty());
    assert!(events.len() <= 102, "{} events", events.len());
    for w in events.windows(2) {
        assert!(
            w[0].0 <= w[1].0 && w[0].1 < w[1].1,
            "{:?} then {:?}",
            w[0],
            w[1]
        );
    }
    assert_eq!(events.iter().filter(|e| e.0 == 100).count(), 1);
    assert_eq!(events.last().unwrap().0, 100);
}

#[test]
fn upload_streams_a_50_mib_file_with_fields_and_progress() {
    watchdog(Duration::from_secs(30), || {
        let dir = TempDir::new("up50");
        let data = pattern(50 * MIB);
        let path = dir.path().join("big file.bin");
        std::fs::write(&path, &data).unwrap();
        let (_server, client) = setup_with(|b| b, multipart_echo);
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        let res = client
            .upload_file(
                UploadFileOptions::new(format!("{UP}/upload"), &path, "file")
                    .form_data("user", "42")
                    .form_data("note", "你好")
                    .on_progress_update(move |p: &UploadProgress| {
                        ev.lock().unwrap().push((
                            p.progress,
                            p.total_bytes_sent,
                            p.total_bytes_expected_to_send,
                        ))
                    }),
            )
            .wait()
            .unwrap();
        assert_eq!(res.status_code, 200);
        let v: serde_json::Value = serde_json::from_str(&res.data).unwrap();
        assert_eq!(v["file"]["sha"], sha256_hex(&data));
        assert_eq!(v["file"]["field"], "file");
        assert_eq!(v["file"]["filename"], "big file.bin");
        assert_eq!(v["file"]["type"], "application/octet-stream");
        assert_eq!(v["fields"], json!({"user": "42", "note": "你好"}));
        assert_eq!(v["chunked"], json!(null));
        assert_eq!(
            v["referer"],
            "https://servicewechat.com/wxtest/0/page-frame.html"
        );
        let events = events.lock().unwrap();
        let total: u64 = v["content_length"].as_str().unwrap().parse().unwrap();
        assert!(events.iter().all(|e| e.2 == total));
        assert_eq!(events.last().unwrap().1, total);
        let simple: Vec<(u8, u64)> = events.iter().map(|e| (e.0, e.1)).collect();
        assert_progress_monotonic_and_final(&simple);
    });
}

#[test]
fn upload_result_is_text_never_json_and_uses_the_upload_list() {
    watchdog(Duration::from_secs(10), || {
        let dir = TempDir::new("uptext");
        let path = dir.path().join("a.json");
        std::fs::write(&path, b"{}").unwrap();
        let (server, client) = setup_with(
            |b| b,
            |_, c| {
                c.respond(
                    201,
                    &[("content-type", "application/json")],
                    b"\xEF\xBB\xBF{\"a\":1}",
                )
            },
        );
        let res = client
            .upload_file(UploadFileOptions::new(format!("{UP}/u"), &path, "f"))
            .wait()
            .unwrap();
        assert_eq!(res.status_code, 201);
        assert_eq!(res.data, "{\"a\":1}");
        let e = client
            .upload_file(UploadFileOptions::new(format!("{DL}/u"), &path, "f"))
            .wait()
            .unwrap_err();
        assert_eq!(e.err_msg(), "uploadFile:fail url not in domain list");
        let log = server.requests_log();
        let ct = log[0].header("content-type").unwrap();
        assert!(ct.starts_with("multipart/form-data; boundary="));
        let parts = common::parse_multipart(ct, &log[0].body);
        assert_eq!(parts[0].2.as_deref(), Some("application/json"));
    });
}

#[test]
fn upload_of_a_missing_or_unreadable_file_fails_before_any_traffic() {
    let dir = TempDir::new("upmissing");
    let (server, client) = setup_with(|b| b, multipart_echo);
    let e = client
        .upload_file(UploadFileOptions::new(
            format!("{UP}/u"),
            dir.path().join("nope"),
            "f",
        ))
        .wait()
        .unwrap_err();
    assert_eq!(e.err_msg(), "uploadFile:fail file not found");
    assert_eq!(e.kind(), ErrorKind::FileNotFound);
    let e = client
        .upload_file(UploadFileOptions::new(format!("{UP}/u"), dir.path(), "f"))
        .wait()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FileAccess);
    assert_eq!(server.connections_accepted(), 0);
}

#[test]
fn upload_memory_does_not_grow_with_file_size() {
    const CHILD: &str = "WXNET_UPLOAD_CHILD";
    if let Ok(file) = std::env::var(CHILD) {
        // Child: upload `file` to the parent's server, report peak RSS.
        let ca = std::fs::read(std::env::var("WXNET_CA").unwrap()).unwrap();
        let addr = std::env::var("WXNET_ADDR").unwrap().parse().unwrap();
        let client = Client::builder()
            .upload_domains([UP])
            .add_root_certificate(ca)
            .unwrap()
            .resolve("up.example.com", addr)
            .build()
            .unwrap();
        let res = client
            .upload_file(UploadFileOptions::new(format!("{UP}/u"), file, "f"))
            .wait()
            .unwrap();
        assert_eq!(res.status_code, 200);
        println!("peak_kib={}", common::procfs::peak_rss_kib());
        return;
    }
    watchdog(Duration::from_secs(30), || {
        let dir = TempDir::new("uprss");
        let pki = TestPki::new();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, pki.ca_pem()).unwrap();
        let server = HttpServer::start(
            pki.server_config(&pki.identity(&["up.example.com"])),
            |r, c| c.respond(200, &[], r.body.len().to_string().as_bytes()),
        );
        let peak = |mib: usize| {
            let path = dir.path().join(format!("f{mib}"));
            std::fs::write(&path, pattern(mib * MIB)).unwrap();
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "upload_memory_does_not_grow_with_file_size",
                    "--nocapture",
                ])
                .env(CHILD, &path)
                .env("WXNET_CA", &ca_path)
                .env("WXNET_ADDR", server.addr().to_string())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            text.lines()
                .find_map(|l| l.strip_prefix("peak_kib="))
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap()
        };
        let small = peak(4);
        let large = peak(64);
        assert!(
            (large - small).abs() < 2048,
            "peak RSS 4 MiB upload: {small} KiB, 64 MiB upload: {large} KiB"
        );
    });
}

/// Serves `/file/<n>` as n bytes of the pattern (Content-Length), `/chunked/<n>`
/// without a length, `/404` as a small body with status 404.
fn file_server(r: &Request, c: &mut Conn) {
    let path = r.path.as_str();
    if path == "/404" {
        c.respond(404, &[("content-type", "text/html")], b"<h1>missing</h1>");
    } else if let Some(n) = path.strip_prefix("/file/") {
        let data = pattern(n.parse().unwrap());
        let _ = c.write_raw(
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len()).as_bytes(),
        );
        for chunk in data.chunks(256 * 1024) {
            if c.write_raw(chunk).is_err() {
                return;
            }
        }
        let _ = c.flush();
    } else if let Some(n) = path.strip_prefix("/chunked/") {
        let data = pattern(n.parse().unwrap());
        let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for chunk in data.chunks(64 * 1024) {
            if c.write_raw(format!("{:x}\r\n", chunk.len()).as_bytes())
                .is_err()
                || c.write_raw(chunk).is_err()
                || c.write_raw(b"\r\n").is_err()
            {
                return;
            }
        }
        let _ = c.write_raw(b"0\r\n\r\n");
        let _ = c.flush();
    } else if path == "/half" {
        // Promise 1 MiB, send half, then drop the connection.
        let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n");
        let _ = c.write_raw(&pattern(MIB / 2));
        let _ = c.flush();
        c.reset();
    } else if path == "/trickle" {
        let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n");
        for _ in 0..1000 {
            if c.write_raw(&[7u8; 1024]).is_err() || c.flush().is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn download_50_mib_to_file_path_and_to_a_temp_path() {
    watchdog(Duration::from_secs(30), || {
        let dir = TempDir::new("dl50");
        let temp = TempDir::new("dl50tmp");
        let temp_path = temp.path().to_path_buf();
        let (_server, client) = setup_with(|b| b.download_dir(temp_path), file_server);
        let want = sha256_hex(&pattern(50 * MIB));
        let target = dir.path().join("out.bin");
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        let res = client
            .download_file(
                DownloadFileOptions::new(format!("{DL}/file/{}", 50 * MIB))
                    .file_path(&target)
                    .on_progress_update(move |p: &DownloadProgress| {
                        assert_eq!(p.total_bytes_expected_to_write, Some(50 * MIB as u64));
                        ev.lock().unwrap().push((p.progress, p.total_bytes_written))
                    }),
            )
            .wait()
            .unwrap();
        assert_eq!(res.status_code, 200);
        assert_eq!(res.file_path.as_deref(), Some(target.as_path()));
        assert_eq!(res.temp_file_path, None);
        assert_eq!(res.data_length, 50 * MIB as u64);
        assert_eq!(sha256_hex(&std::fs::read(&target).unwrap()), want);
        assert_eq!(dir.files(), ["out.bin"]);
        assert_progress_monotonic_and_final(&events.lock().unwrap());

        let res = client
            .download_file(DownloadFileOptions::new(format!(
                "{DL}/chunked/{}",
                3 * MIB
            )))
            .wait()
            .unwrap();
        let tmp = res.temp_file_path.clone().unwrap();
        assert!(tmp.starts_with(temp.path()));
        assert_eq!(
            sha256_hex(&std::fs::read(&tmp).unwrap()),
            sha256_hex(&pattern(3 * MIB))
        );
        assert_eq!(temp.files().len(), 1);
    });
}

#[test]
fn a_404_body_is_saved_and_reported_as_success() {
    watchdog(Duration::from_secs(10), || {
        let dir = TempDir::new("dl404");
        let (_server, client) = setup_with(|b| b, file_server);
        let target = dir.path().join("page.html");
        let res = client
            .download_file(DownloadFileOptions::new(format!("{DL}/404")).file_path(&target))
            .wait()
            .unwrap();
        assert_eq!(res.status_code, 404);
        assert_eq!(std::fs::read(&target).unwrap(), b"<h1>missing</h1>");
    });
}

#[test]
fn over_the_cap_fails_with_603301_and_leaves_no_file() {
    watchdog(Duration::from_secs(10), || {
        let dir = TempDir::new("dlcap");
        let (_server, client) = setup_with(|b| b.max_download_size(MIB as u64), file_server);
        for path in [
            format!("/file/{}", 2 * MIB),
            format!("/chunked/{}", 2 * MIB),
        ] {
            let target = dir.path().join("big");
            let t0 = Instant::now();
            let e = client
                .download_file(DownloadFileOptions::new(format!("{DL}{path}")).file_path(&target))
                .wait()
                .unwrap_err();
            assert_eq!(
                e.err_msg(),
                "downloadFile:fail exceed max file size",
                "{path}"
            );
            assert_eq!(e.errno(), 603301);
            assert!(t0.elapsed() < Duration::from_secs(5));
            assert!(dir.files().is_empty(), "{path}: {:?}", dir.files());
        }
        // Exactly at the cap is fine.
        let target = dir.path().join("exact");
        let res = client
            .download_file(DownloadFileOptions::new(format!("{DL}/file/{MIB}")).file_path(&target))
            .wait()
            .unwrap();
        assert_eq!(res.data_length, MIB as u64);
    });
}

#[test]
fn abort_reset_and_deadline_mid_transfer_leave_no_file() {
    watchdog(Duration::from_secs(10), || {
        let dir = TempDir::new("dlfail");
        let (_server, client) = setup_with(|b| b, file_server);
        let target = dir.path().join("f");

        // Abort once bytes are flowing.
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(Some(tx));
        let task = client.download_file(
            DownloadFileOptions::new(format!("{DL}/trickle"))
                .file_path(&target)
                .on_progress_update(move |_| {
                    if let Some(tx) = tx.lock().unwrap().take() {
                        tx.send(()).unwrap();
                    }
                }),
        );
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        task.abort();
        assert_eq!(
            task.wait().unwrap_err().err_msg(),
            "downloadFile:fail abort"
        );
        assert!(dir.files().is_empty(), "{:?}", dir.files());

        // The server drops the connection halfway.
        let e = client
            .download_file(DownloadFileOptions::new(format!("{DL}/half")).file_path(&target))
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e:?}");
        assert!(dir.files().is_empty(), "{:?}", dir.files());

        // The deadline passes while the body trickles.
        let e = client
            .download_file(
                DownloadFileOptions::new(format!("{DL}/trickle"))
                    .file_path(&target)
                    .timeout(Duration::from_millis(500)),
            )
            .wait()
            .unwrap_err();
        assert_eq!(e.err_msg(), "downloadFile:fail timeout");
        assert!(dir.files().is_empty(), "{:?}", dir.files());
    });
}

#[test]
fn download_to_a_missing_directory_fails_at_once() {
    let dir = TempDir::new("dlnodir");
    let (server, client) = setup_with(|b| b, file_server);
    let e = client
        .download_file(
            DownloadFileOptions::new(format!("{DL}/404")).file_path(dir.path().join("no/such/x")),
        )
        .wait()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FileNotFound);
    assert_eq!(server.connections_accepted(), 0);
}
