//! Compressed responses: `gzip` / `x-gzip` / `deflate` (zlib and raw)
//! undone for request, upload responses and downloads; codings that cannot
//! be undone; corrupt, truncated and bomb bodies.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{Conn, HttpServer, Request, TempDir, TestPki, pattern, sha256_hex, watchdog};
use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use serde_json::json;
use wxnet::{
    Client, DownloadFileOptions, ErrorKind, Method, RequestOptions, ResponseData, ResponseType,
    UploadFileOptions,
};

const API: &str = "https://api.example.com";
const UP: &str = "https://up.example.com";
const DL: &str = "https://dl.example.com";
const MIB: usize = 1024 * 1024;
/// A body that says it is zstd.
const ZSTD: &[u8] = b"\x28\xb5\x2f\xfd zstd frame";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// 100 MiB of zeros, gzipped to about 100 KiB, made without holding the
/// 100 MiB.
fn bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; MIB];
        for _ in 0..100 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap()
    })
}

/// The file the download tests fetch: 3 MiB, gzipped.
fn big() -> &'static (Vec<u8>, Vec<u8>) {
    static BIG: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    BIG.get_or_init(|| {
        let plain = pattern(3 * MIB);
        let coded = gzip(&plain);
        (plain, coded)
    })
}

fn json_body(r: &Request) -> Vec<u8> {
    json!({"ae": r.header("accept-encoding"), "items": [1, 2, 3]})
        .to_string()
        .into_bytes()
}

/// Routes by path: `/<coding>` answers JSON in that coding.
fn handler(r: &Request, c: &mut Conn) {
    let path = r.path.split('?').next().unwrap_or("");
    let coded = |c: &mut Conn, enc: &str, body: &[u8]| {
        c.respond(
            200,
            &[
                ("content-type", "application/json"),
                ("content-encoding", enc),
            ],
            body,
        )
    };
    match path {
        "/gzip" | "/up" => coded(c, "gzip", &gzip(&json_body(r))),
        "/x-gzip" => coded(c, "x-gzip", &gzip(&json_body(r))),
        "/zlib" => coded(c, "deflate", &zlib(&json_body(r))),
        "/raw" => coded(c, "deflate", &raw_deflate(&json_body(r))),
        "/empty" => coded(c, "gzip", b""),
        "/204" => c.respond(204, &[("content-encoding", "gzip")], b""),
        "/zstd" => coded(c, "zstd", ZSTD),
        "/corrupt" => coded(c, "gzip", b"\x1f\x8b\x08\0\0\0\0\0\0\x03garbage bytes here"),
        "/truncated" => {
            let g = gzip(&pattern(100_000));
            coded(c, "gzip", &g[..g.len() / 2])
        }
        "/bomb" => coded(c, "gzip", bomb()),
        "/cut" => {
            // The connection ends in the middle of a well-framed body.
            let g = gzip(&pattern(100_000));
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
                g.len()
            );
            c.write_raw(head.as_bytes()).unwrap();
            c.write_raw(&g[..g.len() / 2]).unwrap();
            c.flush().unwrap();
            c.reset();
        }
        "/big" => c.respond(200, &[("content-encoding", "gzip")], &big().1),
        "/chunked" => {
            let g = gzip(&pattern(200_000));
            let head = "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\n\
                        transfer-encoding: chunked\r\n\r\n";
            c.write_raw(head.as_bytes()).unwrap();
            for part in g.chunks(7_000) {
                c.write_raw(format!("{:x}\r\n", part.len()).as_bytes())
                    .unwrap();
                c.write_raw(part).unwrap();
                c.write_raw(b"\r\n").unwrap();
                c.flush().unwrap();
            }
            c.write_raw(b"0\r\n\r\n").unwrap();
            c.flush().unwrap();
        }
        _ => c.respond(404, &[], b""),
    }
}

fn setup_with(
    configure: impl FnOnce(wxnet::ClientBuilder) -> wxnet::ClientBuilder,
) -> (HttpServer, Client) {
    let pki = TestPki::new();
    let names = ["api.example.com", "up.example.com", "dl.example.com"];
    let server = HttpServer::start(pki.server_config(&pki.identity(&names)), handler);
    let client = configure(
        common::client_builder(&pki, &server)
            .request_domains([API])
            .upload_domains([UP])
            .download_domains([DL]),
    )
    .build()
    .unwrap();
    (server, client)
}

fn setup() -> (HttpServer, Client) {
    setup_with(|b| b)
}

fn get(client: &Client, path: &str) -> wxnet::Result<wxnet::RequestSuccess> {
    client
        .request(RequestOptions::new(format!("{API}{path}")))
        .wait()
}

#[test]
fn each_coding_is_decoded_to_json_and_accept_encoding_is_sent() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup();
        for (path, enc) in [
            ("/gzip", "gzip"),
            ("/x-gzip", "x-gzip"),
            ("/zlib", "deflate"),
            ("/raw", "deflate"),
        ] {
            let res = get(&client, path).unwrap();
            let expected = json!({"ae": "gzip, deflate", "items": [1, 2, 3]});
            assert_eq!(res.data, ResponseData::Json(expected), "{path}");
            assert_eq!(res.header.get("content-encoding"), Some(enc), "{path}");
        }
    });
}

#[test]
fn a_calls_own_accept_encoding_is_kept_and_the_body_still_decoded() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup();
        let options = RequestOptions::new(format!("{API}/gzip")).header("Accept-Encoding", "gzip");
        let res = client.request(options).wait().unwrap();
        assert_eq!(res.data.as_json().unwrap()["ae"], "gzip");
    });
}

#[test]
fn decompress_off_sends_no_accept_encoding_and_keeps_coded_bytes() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup_with(|b| b.decompress(false));
        let e = get(&client, "/gzip").unwrap_err();
        assert_eq!(e.errno(), 600001);
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert_eq!(
            e.err_msg(),
            "request:fail unsupported content encoding: gzip"
        );
        let options =
            RequestOptions::new(format!("{API}/gzip")).response_type(ResponseType::ArrayBuffer);
        let res = client.request(options).wait().unwrap();
        let bytes = res.data.as_bytes().unwrap();
        assert_eq!(&bytes[..2], b"\x1f\x8b");
        let log = server.requests_log();
        assert!(log.iter().all(|r| r.header("accept-encoding").is_none()));
    });
}

#[test]
fn head_204_and_empty_bodies_with_an_encoding_succeed_empty() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup();
        let head = RequestOptions::new(format!("{API}/gzip")).method(Method::Head);
        let res = client.request(head).wait().unwrap();
        assert_eq!(res.data, ResponseData::Text(String::new()));
        assert_eq!(res.header.get("content-encoding"), Some("gzip"));
        let res = get(&client, "/204").unwrap();
        assert_eq!((res.status_code, res.data.as_text()), (204, Some("")));
        let res = get(&client, "/empty").unwrap();
        assert_eq!(res.data, ResponseData::Text(String::new()));
    });
}

#[test]
fn zstd_fails_as_text_and_passes_as_bytes_and_downloads() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup();
        let e = get(&client, "/zstd").unwrap_err();
        assert_eq!(e.errno(), 600001);
        assert_eq!(
            e.err_msg(),
            "request:fail unsupported content encoding: zstd"
        );
        let options =
            RequestOptions::new(format!("{API}/zstd")).response_type(ResponseType::ArrayBuffer);
        let res = client.request(options).wait().unwrap();
        assert_eq!(res.data.as_bytes(), Some(ZSTD));
        let dir = TempDir::new("wxnet-zstd");
        let path = dir.path().join("f.zst");
        let options = DownloadFileOptions::new(format!("{DL}/zstd")).file_path(&path);
        let res = client.download_file(options).wait().unwrap();
        assert_eq!(res.data_length, ZSTD.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), ZSTD);
    });
}

#[test]
fn corrupt_and_truncated_gzip_fail_and_leave_no_file() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup();
        for (path, reason) in [
            ("/corrupt", "corrupt gzip body"),
            ("/truncated", "truncated gzip body"),
        ] {
            let e = get(&client, path).unwrap_err();
            assert_eq!(e.errno(), 600001, "{path}");
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{path}");
            assert_eq!(
                e.err_msg(),
                format!("request:fail invalid response: {reason}")
            );
            let options = RequestOptions::new(format!("{API}{path}"))
                .response_type(ResponseType::ArrayBuffer);
            let e = client.request(options).wait().unwrap_err();
            assert_eq!(e.errno(), 600001, "{path}");
            let dir = TempDir::new("wxnet-corrupt");
            let options =
                DownloadFileOptions::new(format!("{DL}{path}")).file_path(dir.path().join("f"));
            let e = client.download_file(options).wait().unwrap_err();
            assert_eq!(
                e.err_msg(),
                format!("downloadFile:fail invalid response: {reason}")
            );
            assert!(dir.files().is_empty(), "{path}: {:?}", dir.files());
        }
    });
}

#[test]
fn a_connection_lost_inside_a_coded_body_is_a_network_error() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup();
        let e = get(&client, "/cut").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(e.err_msg(), "request:fail connection closed");
        let dir = TempDir::new("wxnet-cut");
        let options = DownloadFileOptions::new(format!("{DL}/cut")).file_path(dir.path().join("f"));
        let e = client.download_file(options).wait().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert!(dir.files().is_empty());
    });
}

#[test]
fn a_gzip_bomb_hits_the_caps_with_bounded_memory() {
    watchdog(Duration::from_secs(10), || {
        assert!(bomb().len() < 200 * 1024, "{}", bomb().len());
        let (_server, client) = setup_with(|b| {
            b.max_response_size(MIB as u64)
                .max_download_size(MIB as u64)
        });
        let before = common::procfs::peak_rss_kib();
        let e = get(&client, "/bomb").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ResponseTooLarge);
        assert_eq!(e.err_msg(), "request:fail exceed max size: 1048576 bytes");
        let dir = TempDir::new("wxnet-bomb");
        let options =
            DownloadFileOptions::new(format!("{DL}/bomb")).file_path(dir.path().join("f"));
        let e = client.download_file(options).wait().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FileTooLarge);
        assert_eq!(e.errno(), 603301);
        assert!(dir.files().is_empty());
        let grown = common::procfs::peak_rss_kib().saturating_sub(before);
        println!(
            "gzip bomb: {} B on the wire, peak RSS grew {grown} KiB",
            bomb().len()
        );
        assert!(grown < 64 * 1024, "peak RSS grew {grown} KiB");
    });
}

#[test]
fn a_download_saves_decoded_bytes_with_decoded_progress() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup();
        let (plain, coded) = big();
        let dir = TempDir::new("wxnet-gzdl");
        let path = dir.path().join("big.bin");
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        let options = DownloadFileOptions::new(format!("{DL}/big"))
            .file_path(&path)
            .on_progress_update(move |p| ev.lock().unwrap().push(*p));
        let res = client.download_file(options).wait().unwrap();
        println!("download: {} B gzip -> {} B", coded.len(), plain.len());
        assert_eq!(res.data_length, plain.len() as u64);
        assert_eq!(res.header.get("content-encoding"), Some("gzip"));
        assert_eq!(
            sha256_hex(&std::fs::read(&path).unwrap()),
            sha256_hex(plain)
        );
        let events = events.lock().unwrap();
        let last = events.last().unwrap();
        assert_eq!(
            (last.progress, last.total_bytes_written),
            (100, plain.len() as u64)
        );
        assert!(
            events[..events.len() - 1]
                .iter()
                .all(|p| p.total_bytes_expected_to_write.is_none())
        );
        assert!(res.profile.received_bytes_count < plain.len() as u64);
    });
}

#[test]
fn an_upload_response_is_decoded() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup();
        let dir = TempDir::new("wxnet-gzup");
        let file = dir.path().join("a.txt");
        std::fs::write(&file, b"hello").unwrap();
        let options = UploadFileOptions::new(format!("{UP}/up"), &file, "file");
        let res = client.upload_file(options).wait().unwrap();
        let v: serde_json::Value = serde_json::from_str(&res.data).unwrap();
        assert_eq!(v["ae"], "gzip, deflate");
        assert_eq!(res.header.get("content-encoding"), Some("gzip"));
    });
}

#[test]
fn chunked_mode_gets_decoded_chunks() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let options = RequestOptions::new(format!("{API}/chunked"))
            .enable_chunked(true)
            .on_chunk_received(move |c| g.lock().unwrap().extend_from_slice(c));
        client.request(options).wait().unwrap();
        assert_eq!(*got.lock().unwrap(), pattern(200_000));
    });
}
