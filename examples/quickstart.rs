//! A tour of wxnet against a local HTTPS server this program starts itself.
//!
//! It generates a throw-away CA, serves `api.example.com` on 127.0.0.1 and
//! maps the name there with `resolve`, so host names, SNI, certificate
//! checks and the domain lists all work exactly as they would against a
//! real backend. Nothing leaves the machine.
//!
//! Run with `cargo run --example quickstart`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use wxnet::{
    Client, ConnectSocketOptions, DownloadFileOptions, Method, Redirect, RequestOptions,
    ResponseData, ResponseType, SocketMessage, UploadFileOptions,
};

const API: &str = "https://api.example.com";
const UP: &str = "https://up.example.com";
const DL: &str = "https://dl.example.com";
const WSS: &str = "wss://ws.example.com";

fn main() -> Result<(), wxnet::Error> {
    let pki = common::TestPki::new();
    let identity = pki.identity(&[
        "api.example.com",
        "up.example.com",
        "dl.example.com",
        "ws.example.com",
        "evil.example.net",
    ]);
    let server = common::HttpServer::start(pki.server_config(&identity), route);
    let ws_server = common::WsServer::echo(pki.server_config(&identity));
    println!(
        "local HTTPS server on {} (api.example.com)\n",
        server.addr()
    );

    let client = Client::builder()
        .app_id("wx0123456789abcdef")
        .env_version(wxnet::EnvVersion::Release("1.0.0".into()))
        .request_domains([API])
        .upload_domains([UP])
        .download_domains([DL])
        .socket_domains([WSS])
        .resolve("ws.example.com", ws_server.addr())
        .download_dir(std::env::temp_dir().join("wxnet-quickstart"))
        .resolve("api.example.com", server.addr())
        .resolve("up.example.com", server.addr())
        .resolve("dl.example.com", server.addr())
        .resolve("evil.example.net", server.addr())
        .add_root_certificate(pki.ca_pem())?
        .build()?;

    section("request: GET with query data, JSON response");
    let res = client
        .request(
            RequestOptions::new(format!("{API}/hello")).data(json!({"name": "小程序", "page": 1})),
        )
        .wait()?;
    show(&res);

    section("request: POST JSON, then a form, both echoed back");
    let res = client
        .request(
            RequestOptions::new(format!("{API}/echo"))
                .method(Method::Post)
                .header("x-token", "secret")
                .data(json!({"a": 1, "b": [true, null]})),
        )
        .wait()?;
    show(&res);
    let res = client
        .request(
            RequestOptions::new(format!("{API}/echo"))
                .method(Method::Post)
                .header("content-type", "application/x-www-form-urlencoded")
                .data(json!({"k": "v w"})),
        )
        .wait()?;
    show(&res);

    section("request: GBK text and a BOM-prefixed JSON body, converted to UTF-8");
    show(
        &client
            .request(RequestOptions::new(format!("{API}/gbk")))
            .wait()?,
    );
    show(
        &client
            .request(RequestOptions::new(format!("{API}/bom")))
            .wait()?,
    );

    section("request: a gzip-compressed JSON response, decoded (feature `gzip`)");
    match client
        .request(RequestOptions::new(format!("{API}/gzip")))
        .wait()
    {
        Ok(res) => {
            show(&res);
            let coding = res.header.get("content-encoding").unwrap_or("none");
            println!(
                "     content-encoding {coding}, {} B on the wire",
                res.profile.received_bytes_count
            );
        }
        Err(e) => fail::<()>(Err(e)),
    }

    section("request: raw bytes (arraybuffer) and a 404 (still a success)");
    show(
        &client
            .request(
                RequestOptions::new(format!("{API}/bytes"))
                    .response_type(ResponseType::ArrayBuffer),
            )
            .wait()?,
    );
    show(
        &client
            .request(RequestOptions::new(format!("{API}/missing")))
            .wait()?,
    );

    section("request: redirects, followed or not");
    show(
        &client
            .request(RequestOptions::new(format!("{API}/redirect")))
            .wait()?,
    );
    show(
        &client
            .request(RequestOptions::new(format!("{API}/redirect")).redirect(Redirect::Manual))
            .wait()?,
    );
    fail(
        client
            .request(RequestOptions::new(format!("{API}/redirect-away")))
            .wait(),
    );

    section("request: streamed body with on_chunk_received");
    let (tx, rx) = mpsc::channel();
    client
        .request(
            RequestOptions::new(format!("{API}/stream"))
                .enable_chunked(true)
                .on_headers_received(|h| println!("  headers: status {}", h.status_code))
                .on_chunk_received(move |chunk| tx.send(chunk.len()).unwrap()),
        )
        .wait()?;
    println!("  chunks of {:?} bytes", rx.try_iter().collect::<Vec<_>>());

    section("request: callbacks on a worker thread");
    let (tx, rx) = mpsc::channel();
    client.request(
        RequestOptions::new(format!("{API}/hello"))
            .success(|r| println!("  success: {}", r.status_code))
            .fail(|e| println!("  fail: {e}"))
            .complete(move || tx.send(()).unwrap()),
    );
    rx.recv_timeout(Duration::from_secs(10))
        .expect("complete runs");
    println!("  complete");

    section("the policy refuses before any byte leaves");
    for url in [
        "http://api.example.com/",
        "https://api.example.com:443/",
        "https://127.0.0.1/",
        "https://0x7f000001/",
        "https://localhost/",
        "https://evil.example.net/",
    ] {
        print!("  {url:<32} ");
        fail(client.request(RequestOptions::new(url)).wait());
    }

    section("deadlines and abort");
    fail(
        client
            .request(RequestOptions::new(format!("{API}/slow")).timeout(Duration::from_millis(300)))
            .wait(),
    );
    let task = client.request(RequestOptions::new(format!("{API}/slow")));
    task.abort();
    fail(task.wait());

    section("uploadFile: a 3 MiB file streamed as multipart/form-data");
    let file = std::env::temp_dir().join("wxnet-quickstart-upload.bin");
    std::fs::write(&file, common::pattern(3 << 20)).expect("temp file");
    let mut last = 0;
    let res = client
        .upload_file(
            UploadFileOptions::new(format!("{UP}/upload"), &file, "file")
                .form_data("user", "42")
                .on_progress_update(move |p| {
                    if p.progress >= last + 25 || p.progress == 100 {
                        println!(
                            "  progress {:>3}% ({} of {} bytes)",
                            p.progress, p.total_bytes_sent, p.total_bytes_expected_to_send
                        );
                        last = p.progress;
                    }
                }),
        )
        .wait()?;
    println!("  {} {}", res.status_code, res.data);
    let _ = std::fs::remove_file(&file);
    fail(
        client
            .upload_file(UploadFileOptions::new(
                format!("{UP}/upload"),
                "/no/such/file",
                "file",
            ))
            .wait(),
    );

    section("downloadFile: 8 MiB to a temp file, then a capped one");
    let res = client
        .download_file(DownloadFileOptions::new(format!("{DL}/file/{}", 8 << 20)))
        .wait()?;
    println!(
        "  {} {} bytes at {} (sha256 {})",
        res.status_code,
        res.data_length,
        res.path().display(),
        &common::sha256_hex(&std::fs::read(res.path()).expect("downloaded file"))[..16]
    );
    let _ = std::fs::remove_file(res.path());
    let capped = Client::builder()
        .download_domains([DL])
        .max_download_size(1 << 20)
        .resolve("dl.example.com", server.addr())
        .add_root_certificate(pki.ca_pem())?
        .build()?;
    fail(
        capped
            .download_file(DownloadFileOptions::new(format!("{DL}/file/{}", 8 << 20)))
            .wait(),
    );

    section("connectSocket: an echo WebSocket, listeners and the blocking helpers");
    let task = client
        .connect_socket(ConnectSocketOptions::new(format!("{WSS}/echo")).protocols(["echo.v1"]));
    task.on_open(|o| {
        println!(
            "  open, protocol {:?}",
            o.header.get("sec-websocket-protocol")
        )
    });
    task.on_close(|c| println!("  close {} {:?}", c.code, c.reason));
    task.wait_open(Duration::from_secs(5))?;
    task.send(SocketMessage::Text("hello over wss".into()))?;
    task.send(SocketMessage::Binary(vec![1, 2, 3]))?;
    for _ in 0..2 {
        println!("  echo {:?}", task.recv(Duration::from_secs(5))?);
    }
    fail(task.close(1001, "1001 is reserved for the runtime"));
    task.close(1000, "bye")?;
    let _ = task.recv(Duration::from_secs(5));
    fail(client.send_socket_message(SocketMessage::Text("nobody there".into())));

    println!(
        "\nserver saw {} requests on {} connections",
        server.requests(),
        server.connections_accepted()
    );
    Ok(())
}

/// The demo backend.
fn route(r: &common::Request, c: &mut common::Conn) {
    let path = r.path.split('?').next().unwrap_or("");
    match path {
        "/hello" => c.respond(
            200,
            &[
                ("content-type", "application/json"),
                ("set-cookie", "sid=1; HttpOnly"),
            ],
            json!({"hello": "world", "path": r.path})
                .to_string()
                .as_bytes(),
        ),
        "/echo" => c.respond(
            200,
            &[("content-type", "application/json")],
            json!({
                "content_type": r.header("content-type"),
                "referer": r.header("referer"),
                "body": String::from_utf8_lossy(&r.body),
            })
            .to_string()
            .as_bytes(),
        ),
        "/gbk" => c.respond(
            200,
            &[("content-type", "text/plain; charset=gbk")],
            &encoding_rs::GBK.encode("你好，世界").0,
        ),
        "/gzip" => {
            use std::io::Write;
            let items: Vec<_> = (0..20).map(|i| json!({"id": i, "name": "item"})).collect();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(
                json!({"asked": r.header("accept-encoding"), "items": items})
                    .to_string()
                    .as_bytes(),
            )
            .expect("in memory");
            c.respond(
                200,
                &[
                    ("content-type", "application/json"),
                    ("content-encoding", "gzip"),
                ],
                &gz.finish().expect("in memory"),
            )
        }
        "/bom" => c.respond(
            200,
            &[("content-type", "application/json")],
            "\u{feff}{\"bom\":\"stripped\"}".as_bytes(),
        ),
        "/bytes" => c.respond(
            200,
            &[("content-type", "application/octet-stream")],
            &[0, 1, 2, 254, 255],
        ),
        "/upload" => {
            let ct = r.header("content-type").unwrap_or_default().to_string();
            let parts = common::parse_multipart(&ct, &r.body);
            let summary: Vec<_> = parts
                .iter()
                .map(|(name, filename, _, data)| match filename {
                    Some(f) => json!({"file": f, "field": name, "bytes": data.len(), "sha256": &common::sha256_hex(data)[..16]}),
                    None => json!({"field": name, "value": String::from_utf8_lossy(data)}),
                })
                .collect();
            c.respond(
                200,
                &[("content-type", "application/json")],
                json!(summary).to_string().as_bytes(),
            )
        }
        p if p.starts_with("/file/") => {
            let data = common::pattern(p[6..].parse().unwrap_or(0));
            c.respond(200, &[("content-type", "application/octet-stream")], &data)
        }
        "/redirect" => c.respond(302, &[("location", "/hello")], b""),
        "/redirect-away" => c.respond(302, &[("location", "https://evil.example.net/")], b""),
        "/stream" => {
            let _ = c.write_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for part in ["first ", "second ", "third"] {
                let _ = c.write_raw(format!("{:x}\r\n{part}\r\n", part.len()).as_bytes());
                let _ = c.flush();
            }
            let _ = c.write_raw(b"0\r\n\r\n");
        }
        "/slow" => {
            c.peer_closed_wait(Duration::from_secs(10));
            c.close();
        }
        _ => c.respond(404, &[("content-type", "text/plain")], b"not found"),
    }
}

fn section(title: &str) {
    println!("\n== {title}");
}

fn show(r: &wxnet::RequestSuccess) {
    let data = match &r.data {
        ResponseData::Json(v) => format!("json {v}"),
        ResponseData::Text(s) => format!("text {s:?}"),
        ResponseData::Bytes(b) => format!("bytes {b:?}"),
    };
    println!(
        "  {} {data}\n     cookies {:?}, reused connection: {}, {:.1} ms",
        r.status_code,
        r.cookies,
        r.profile.socket_reused,
        r.profile.response_end.unwrap_or_default()
    );
}

fn fail<T>(r: wxnet::Result<T>) {
    match r {
        Ok(_) => println!("  unexpected success"),
        Err(e) => println!("  {} (errno {})", e.err_msg(), e.errno()),
    }
}
