//! `request` behaviour against a loopback HTTPS server with a
//! test CA, names mapped with `resolve`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Conn, HttpServer, Request, TestPki, watchdog};
use serde_json::json;
use wxnet::{
    Client, DataType, ErrorKind, Method, Redirect, RequestOptions, ResponseData, ResponseType,
};

const API: &str = "https://api.example.com";

/// A server for `api.example.com` and `other.example.com`, and a client
/// allowed to call `api.example.com` only.
fn setup(handler: impl Fn(&Request, &mut Conn) + Send + Sync + 'static) -> (HttpServer, Client) {
    let pki = TestPki::new();
    let server = HttpServer::start(
        pki.server_config(&pki.identity(&["api.example.com", "other.example.com"])),
        handler,
    );
    let client = common::client_builder(&pki, &server)
        .request_domains([API])
        .build()
        .unwrap();
    (server, client)
}

fn get(client: &Client, path: &str) -> wxnet::Result<wxnet::RequestSuccess> {
    client
        .request(RequestOptions::new(format!("{API}{path}")))
        .wait()
}

#[test]
fn json_response_is_parsed_with_headers_cookies_and_profile() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup(|_, c| {
            c.respond(
                200,
                &[
                    ("Content-Type", "application/json"),
                    ("Set-Cookie", "a=1; Path=/"),
                    ("X-Multi", "one"),
                    ("Set-Cookie", "b=2"),
                    ("X-Multi", "two"),
                ],
                br#"{"ok":true,"n":[1,2]}"#,
            )
        });
        let res = get(&client, "/data").unwrap();
        assert_eq!(res.status_code, 200);
        assert_eq!(
            res.data,
            ResponseData::Json(json!({"ok": true, "n": [1, 2]}))
        );
        assert_eq!(res.header.get("x-multi"), Some("one, two"));
        assert_eq!(res.header.get("CONTENT-TYPE"), Some("application/json"));
        assert_eq!(res.cookies, ["a=1; Path=/", "b=2"]);
        let p = &res.profile;
        assert!(!p.socket_reused);
        assert!(p.connect_start.is_some() && p.connect_end >= p.connect_start);
        assert!(p.ssl_connection_end >= p.ssl_connection_start && p.ssl_connection_start.is_some());
        assert!(p.response_end >= p.response_start && p.response_start >= p.request_start);
        assert_eq!(p.peer_ip, Some(server.addr().ip()));
        assert_eq!(p.port, Some(server.port()));
        assert_eq!(p.protocol, "http1.1");
        assert!(p.send_bytes_count > 0 && p.received_bytes_count > 0);
        let again = get(&client, "/data").unwrap();
        assert!(again.profile.socket_reused);
        assert!(again.profile.ssl_connection_start.is_none());
        assert_eq!(again.profile.peer_ip, Some(server.addr().ip()));
        assert_eq!(server.connections_accepted(), 1);
    });
}

#[test]
fn fixed_referer_replaces_the_callers_and_content_type_defaults_to_json() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup(|_, c| c.respond(200, &[], b""));
        client
            .request(
                RequestOptions::new(format!("{API}/r"))
                    .header("Referer", "https://evil.example.net/")
                    .header("X-Token", "t"),
            )
            .wait()
            .unwrap();
        client
            .request(RequestOptions::new(format!("{API}/r")).header("CONTENT-TYPE", "text/plain"))
            .wait()
            .unwrap();
        let log = server.requests_log();
        let referer = "https://servicewechat.com/wxtest/0/page-frame.html";
        assert_eq!(log[0].headers_all("referer"), [referer]);
        assert_eq!(log[0].header("content-type"), Some("application/json"));
        assert_eq!(log[0].header("x-token"), Some("t"));
        assert!(log[0].header("user-agent").unwrap().starts_with("wxnet/"));
        assert_eq!(log[1].headers_all("content-type"), ["text/plain"]);
        assert_eq!(log[1].headers_all("referer"), [referer]);
    });
}

#[test]
fn get_object_data_becomes_query_pairs_after_the_existing_query() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup(|_, c| c.respond(200, &[], b""));
        client
            .request(
                RequestOptions::new(format!("{API}/q?x=1#frag"))
                    .data(json!({"a": "b c", "zh": "中", "n": 2, "o": {"k": true}, "z": null})),
            )
            .wait()
            .unwrap();
        client
            .request(RequestOptions::new(format!("{API}/s")).data("raw=1&y=2"))
            .wait()
            .unwrap();
        let log = server.requests_log();
        assert_eq!(
            log[0].path,
            "/q?x=1&a=b%20c&zh=%E4%B8%AD&n=2&o=%7B%22k%22%3Atrue%7D&z=null"
        );
        assert!(log[0].body.is_empty());
        assert_eq!(log[1].path, "/s?raw=1&y=2");
    });
}

#[test]
fn bodies_are_json_form_text_or_bytes() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup(|_, c| c.respond(200, &[], b""));
        let post = |o: RequestOptions| client.request(o.method(Method::Post)).wait().unwrap();
        post(RequestOptions::new(format!("{API}/j")).data(json!({"b": 1, "a": [1, "x"]})));
        post(
            RequestOptions::new(format!("{API}/f"))
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=UTF-8",
                )
                .data(json!({"k": "v w", "n": 1})),
        );
        post(RequestOptions::new(format!("{API}/t")).data("plain text"));
        post(RequestOptions::new(format!("{API}/b")).data(vec![0u8, 159, 255]));
        client
            .request(
                RequestOptions::new(format!("{API}/p"))
                    .method(Method::Put)
                    .data(json!({"put": true})),
            )
            .wait()
            .unwrap();
        let log = server.requests_log();
        assert_eq!(log[0].body, br#"{"b":1,"a":[1,"x"]}"#);
        assert_eq!(log[1].body, b"k=v%20w&n=1");
        assert_eq!(log[2].body, b"plain text");
        assert_eq!(log[3].body, [0u8, 159, 255]);
        assert_eq!(log[4].method, "PUT");
        assert_eq!(log[4].body, br#"{"put":true}"#);
        assert_eq!(log[4].header("content-length"), Some("12"));
    });
}

#[test]
fn every_method_is_sent_as_named() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup(|_, c| c.respond(200, &[], b"ok"));
        for m in [
            Method::Options,
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Trace,
        ] {
            let res = client
                .request(RequestOptions::new(format!("{API}/m")).method(m))
                .wait()
                .unwrap();
            assert_eq!(res.status_code, 200, "{m}");
            let want = if m == Method::Head { "" } else { "ok" };
            assert_eq!(res.data, ResponseData::Text(want.into()), "{m}");
        }
        let methods: Vec<String> = server
            .requests_log()
            .into_iter()
            .map(|r| r.method)
            .collect();
        assert_eq!(
            methods,
            ["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE"]
        );
    });
}

#[test]
fn any_http_status_is_a_success() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup(|r, c| {
            let status = r.path[1..].parse().unwrap();
            c.respond(status, &[], b"{\"error\":\"x\"}")
        });
        for status in [201u16, 204, 400, 404, 500, 503] {
            let res = get(&client, &format!("/{status}")).unwrap();
            assert_eq!(res.status_code, status);
        }
    });
}

#[test]
fn text_conversion_strips_bom_honours_charset_and_detects() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup(|r, c| {
            let zh = "中文网页的内容通常使用国标编码，这是一个比较长的句子，用来帮助检测。";
            match r.path.as_str() {
                "/bom" => c.respond(
                    200,
                    &[("content-type", "application/json")],
                    "\u{feff}{\"a\":1}".as_bytes(),
                ),
                "/gbk" => c.respond(
                    200,
                    &[("content-type", "text/plain; charset=GBK")],
                    &encoding_rs::GBK.encode("你好").0,
                ),
                "/big5" => c.respond(
                    200,
                    &[("content-type", "text/html;charset=\"big5\"")],
                    &encoding_rs::BIG5.encode("繁體").0,
                ),
                "/sjis" => c.respond(
                    200,
                    &[("content-type", "text/plain; charset=shift_jis")],
                    &encoding_rs::SHIFT_JIS.encode("日本語").0,
                ),
                "/undeclared" => c.respond(
                    200,
                    &[("content-type", "text/plain")],
                    &encoding_rs::GBK.encode(zh).0,
                ),
                "/lossy" => c.respond(
                    200,
                    &[("content-type", "text/plain; charset=utf-8")],
                    b"ok\xff\xfe",
                ),
                _ => c.respond(200, &[], b"not json {"),
            }
        });
        let text = |path: &str| match get(&client, path).unwrap().data {
            ResponseData::Text(s) => s,
            other => panic!("{path}: {other:?}"),
        };
        assert_eq!(
            get(&client, "/bom").unwrap().data,
            ResponseData::Json(json!({"a": 1}))
        );
        assert_eq!(text("/gbk"), "你好");
        assert_eq!(text("/big5"), "繁體");
        assert_eq!(text("/sjis"), "日本語");
        assert_eq!(
            text("/undeclared"),
            "中文网页的内容通常使用国标编码，这是一个比较长的句子，用来帮助检测。"
        );
        assert_eq!(text("/not-json"), "not json {");
        let e = get(&client, "/lossy").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConvertFailed);
        assert_eq!(
            e.err_msg(),
            "request:fail response data convert to UTF8 fail"
        );
        assert_eq!(e.errno(), 602302);
    });
}

#[test]
fn arraybuffer_returns_raw_bytes_and_data_type_other_keeps_text() {
    watchdog(Duration::from_secs(10), || {
        let body = b"\xEF\xBB\xBF{\"a\":1}\xff".to_vec();
        let served = body.clone();
        let (_server, client) = setup(move |_, c| c.respond(200, &[], &served));
        let res = client
            .request(
                RequestOptions::new(format!("{API}/raw")).response_type(ResponseType::ArrayBuffer),
            )
            .wait()
            .unwrap();
        assert_eq!(res.data, ResponseData::Bytes(body));
        let (_server, client) = setup(|_, c| c.respond(200, &[], b"{\"a\":1}"));
        let res = client
            .request(RequestOptions::new(format!("{API}/t")).data_type(DataType::Other))
            .wait()
            .unwrap();
        assert_eq!(res.data, ResponseData::Text("{\"a\":1}".into()));
    });
}

#[test]
fn redirects_are_followed_with_each_hop_checked() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup(|r, c| {
            let p = r.path.as_str();
            if let Some(n) = p.strip_prefix("/chain/") {
                let n: u32 = n.parse().unwrap();
                if n == 0 {
                    c.respond(200, &[], b"end");
                } else {
                    c.respond(302, &[("location", &format!("/chain/{}", n - 1))], b"");
                }
                return;
            }
            match p {
                "/to-other" => c.respond(302, &[("location", "https://other.example.com/x")], b""),
                "/to-http" => c.respond(301, &[("location", "http://api.example.com/x")], b""),
                "/to-ip" => c.respond(307, &[("location", "https://127.0.0.1/x")], b""),
                "/303" => c.respond(303, &[("location", "/seen")], b""),
                "/307" => c.respond(307, &[("location", "/seen")], b""),
                _ => c.respond(
                    200,
                    &[],
                    format!("{} {}", r.method, r.body.len()).as_bytes(),
                ),
            }
        });
        let res = get(&client, "/chain/15").unwrap();
        assert_eq!(res.data, ResponseData::Text("end".into()));
        assert_eq!(res.profile.redirect_count, 15);
        let e = get(&client, "/chain/16").unwrap_err();
        assert_eq!(e.err_msg(), "request:fail reach the max redirect count");
        assert_eq!(e.errno(), 600008);

        let e = get(&client, "/to-other").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DomainNotAllowed);
        let e = get(&client, "/to-ip").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DomainNotAllowed);
        let e = get(&client, "/to-http").unwrap_err();
        assert_eq!(
            e.err_msg(),
            "request:fail invalid url \"http://api.example.com/x\""
        );
        assert!(server.requests_log().iter().all(|r| r.path != "/x"));

        let post = |path: &str| {
            client
                .request(
                    RequestOptions::new(format!("{API}{path}"))
                        .method(Method::Post)
                        .data("body"),
                )
                .wait()
                .unwrap()
                .data
        };
        assert_eq!(post("/303"), ResponseData::Text("GET 0".into()));
        assert_eq!(post("/307"), ResponseData::Text("POST 4".into()));

        let res = client
            .request(RequestOptions::new(format!("{API}/chain/3")).redirect(Redirect::Manual))
            .wait()
            .unwrap();
        assert_eq!(res.status_code, 302);
        assert_eq!(res.header.get("location"), Some("/chain/2"));
    });
}

#[test]
fn chunked_mode_streams_the_body_to_the_listener() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup(|_, c| {
            c.write_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap();
            for part in ["hello ", "chunked ", "world"] {
                c.write_raw(format!("{:x}\r\n{part}\r\n", part.len()).as_bytes())
                    .unwrap();
                c.flush().unwrap();
            }
            c.write_raw(b"0\r\n\r\n").unwrap();
        });
        let got = Arc::new(Mutex::new(Vec::new()));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (g, h) = (got.clone(), heads.clone());
        let res = client
            .request(
                RequestOptions::new(format!("{API}/c"))
                    .enable_chunked(true)
                    .on_headers_received(move |hr| h.lock().unwrap().push(hr.status_code))
                    .on_chunk_received(move |chunk| g.lock().unwrap().extend_from_slice(chunk)),
            )
            .wait()
            .unwrap();
        assert_eq!(&*got.lock().unwrap(), b"hello chunked world");
        assert_eq!(*heads.lock().unwrap(), [200]);
        assert_eq!(res.data, ResponseData::Text(String::new()));
    });
}

#[test]
fn in_memory_body_is_capped() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let big = vec![b'x'; 4096];
        let server = HttpServer::start(
            pki.server_config(&pki.identity(&["api.example.com"])),
            move |r, c| {
                if r.path == "/chunked" {
                    c.write_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                        .unwrap();
                    c.write_raw(format!("{:x}\r\n", big.len()).as_bytes())
                        .unwrap();
                    c.write_raw(&big).unwrap();
                    c.write_raw(b"\r\n0\r\n\r\n").unwrap();
                } else {
                    c.respond(200, &[], &big);
                }
            },
        );
        let client = common::client_builder(&pki, &server)
            .request_domains([API])
            .max_response_size(1000)
            .build()
            .unwrap();
        for path in ["/length", "/chunked"] {
            let e = get(&client, path).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{path}");
            assert_eq!(e.err_msg(), "request:fail exceed max size: 1000 bytes");
        }
        // Streaming is not capped.
        let n = Arc::new(Mutex::new(0usize));
        let m = n.clone();
        client
            .request(
                RequestOptions::new(format!("{API}/chunked"))
                    .enable_chunked(true)
                    .on_chunk_received(move |c| *m.lock().unwrap() += c.len()),
            )
            .wait()
            .unwrap();
        assert_eq!(*n.lock().unwrap(), 4096);
    });
}

#[test]
fn callbacks_run_once_in_order_and_a_panicking_one_does_not_kill_a_worker() {
    watchdog(Duration::from_secs(10), || {
        let (_server, client) = setup(|_, c| c.respond(200, &[], b"1"));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (events.clone(), events.clone());
        client
            .request(
                RequestOptions::new(format!("{API}/x"))
                    .success(move |r| a.lock().unwrap().push(format!("success {}", r.status_code)))
                    .complete(move || b.lock().unwrap().push("complete".into())),
            )
            .wait()
            .unwrap();
        assert_eq!(*events.lock().unwrap(), ["success 200", "complete"]);

        let events = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (events.clone(), events.clone());
        let (tx, completed) = std::sync::mpsc::channel();
        let e = client
            .request(
                RequestOptions::new("https://unlisted.example.com/")
                    .fail(move |e| a.lock().unwrap().push(e.err_msg().to_owned()))
                    .complete(move || {
                        b.lock().unwrap().push("complete".into());
                        tx.send(()).unwrap();
                    }),
            )
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DomainNotAllowed);
        // A refused call's callbacks run on a library thread, maybe after
        // `wait` returned.
        completed.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            *events.lock().unwrap(),
            ["request:fail url not in domain list", "complete"]
        );

        // Panics in success, complete and a listener: every worker survives.
        for _ in 0..wxnet::WORKERS * 2 {
            let done = Arc::new(Mutex::new(false));
            let d = done.clone();
            let r = client
                .request(
                    RequestOptions::new(format!("{API}/x"))
                        .success(|_| panic!("user bug in success"))
                        .complete(move || {
                            *d.lock().unwrap() = true;
                            panic!("user bug in complete")
                        }),
                )
                .wait();
            assert!(r.is_ok());
            assert!(*done.lock().unwrap());
        }
        let e = client
            .request(
                RequestOptions::new(format!("{API}/x"))
                    .on_headers_received(|_| panic!("user bug in listener")),
            )
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CallbackPanicked);
        let ok: Vec<_> = (0..wxnet::WORKERS * 2)
            .map(|_| client.request(RequestOptions::new(format!("{API}/x"))))
            .collect();
        assert!(ok.into_iter().all(|t| t.wait().is_ok()));
    });
}

#[test]
fn bad_header_fails_at_once() {
    let (server, client) = setup(|_, c| c.respond(200, &[], b""));
    for (name, value) in [("bad name", "v"), ("x-ok", "line\r\nbreak"), ("", "v")] {
        let e = client
            .request(RequestOptions::new(format!("{API}/h")).header(name, value))
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name:?}");
        assert_eq!(e.errno(), 1);
    }
    assert_eq!(server.connections_accepted(), 0);
}

#[test]
fn refused_urls_never_reach_the_network() {
    let (server, client) = setup(|_, c| c.respond(200, &[], b""));
    for url in [
        "http://api.example.com/",
        "https://api.example.com:443/",
        "https://other.example.com/",
        "https://127.0.0.1/",
        "https://localhost/",
    ] {
        let e = client.request(RequestOptions::new(url)).wait().unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::DomainNotAllowed | ErrorKind::InvalidUrl
            ),
            "{url}: {e}"
        );
    }
    assert_eq!(server.connections_accepted(), 0);
}

#[test]
fn stale_keep_alive_connection_is_retried_once_for_idempotent_methods() {
    watchdog(Duration::from_secs(10), || {
        // The server answers the first request on each connection, then
        // reads the next one and drops the connection without a word, as
        // a server whose idle timeout just fired does.
        let (server, client) = setup(|r, c| {
            let first = !r.path.contains("second") || c.connection_id() > 0;
            if first {
                c.respond(200, &[], format!("conn {}", c.connection_id()).as_bytes());
            } else {
                c.reset();
            }
        });
        let first = get(&client, "/first").unwrap();
        assert_eq!(first.data, ResponseData::Text("conn 0".into()));
        let second = get(&client, "/second").unwrap();
        assert_eq!(second.data, ResponseData::Text("conn 1".into()));
        assert!(!second.profile.socket_reused);
        assert_eq!(server.connections_accepted(), 2);
    });
}

#[test]
fn post_on_a_stale_connection_is_not_retried() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup(|r, c| {
            if r.path.contains("second") && c.connection_id() == 0 {
                c.reset();
            } else {
                c.respond(200, &[], b"ok");
            }
        });
        get(&client, "/first").unwrap();
        let e = client
            .request(
                RequestOptions::new(format!("{API}/second"))
                    .method(Method::Post)
                    .data("x"),
            )
            .wait()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(e.errno(), 600001);
        assert_eq!(server.connections_accepted(), 1);
    });
}

#[test]
fn connect_method_is_sent() {
    watchdog(Duration::from_secs(10), || {
        let (server, client) = setup(|_, c| c.respond(200, &[], b"tunnel"));
        let res = client
            .request(RequestOptions::new(format!("{API}/c")).method(Method::Connect))
            .wait();
        let log = server.requests_log();
        assert_eq!(res.map(|r| r.status_code).ok(), Some(200), "{log:?}");
        assert_eq!(log[0].method, "CONNECT");
    });
}

#[test]
fn the_pool_keeps_a_connection_per_worker_for_reuse() {
    watchdog(Duration::from_secs(10), || {
        // Each round holds 10 requests on the server at once, so 10
        // connections are open together; the second round reuses them all.
        let barrier = Arc::new(std::sync::Barrier::new(wxnet::WORKERS));
        let (server, client) = setup(move |_, c| {
            barrier.wait();
            c.respond(200, &[], b"ok")
        });
        for round in 0..2 {
            let tasks: Vec<_> = (0..wxnet::WORKERS)
                .map(|i| client.request(RequestOptions::new(format!("{API}/{round}/{i}"))))
                .collect();
            let reused = tasks
                .into_iter()
                .map(|t| t.wait().unwrap().profile.socket_reused)
                .filter(|r| *r)
                .count();
            assert_eq!(reused, if round == 0 { 0 } else { wxnet::WORKERS });
        }
        assert_eq!(server.connections_accepted(), wxnet::WORKERS);
    });
}

#[test]
fn no_proxy_is_taken_from_the_environment() {
    // The environment is per process: check it in a child run of this test.
    if std::env::var_os("WXNET_PROXY_CHILD").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "no_proxy_is_taken_from_the_environment",
                "--nocapture",
            ])
            .env("WXNET_PROXY_CHILD", "1")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("https_proxy", "http://127.0.0.1:9")
            .env("ALL_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "{text}");
        return;
    }
    let (server, client) = setup(|_, c| c.respond(200, &[], b"direct"));
    assert_eq!(get(&client, "/").unwrap().data.as_text(), Some("direct"));
    assert_eq!(server.requests(), 1);
}

#[test]
fn an_entry_with_the_default_port_written_works_end_to_end() {
    watchdog(Duration::from_secs(10), || {
        // `https://port.example.com:443` only allows URLs that write :443;
        // the URL handed to the connection layer has the default port
        // dropped, which must not turn the allowed call into a refusal.
        let pki = TestPki::new();
        let server = HttpServer::start(
            pki.server_config(&pki.identity(&["port.example.com"])),
            |r, c| match r.path.as_str() {
                "/hop" => c.respond(
                    302,
                    &[("location", "https://port.example.com:443/end")],
                    b"",
                ),
                "/hop-bare" => c.respond(302, &[("location", "https://port.example.com/end")], b""),
                _ => c.respond(200, &[], b"end"),
            },
        );
        let client = common::client_builder(&pki, &server)
            .request_domains(["https://port.example.com:443"])
            .resolve("port.example.com", server.addr())
            .build()
            .unwrap();
        let get = |url: &str| client.request(RequestOptions::new(url)).wait();
        let res = get("https://port.example.com:443/x").unwrap();
        assert_eq!(res.data, ResponseData::Text("end".into()));
        let res = get("https://port.example.com:443/hop").unwrap();
        assert_eq!(res.profile.redirect_count, 1);
        // Same origin, so the verdict of the first hop stands.
        assert!(get("https://port.example.com:443/hop-bare").is_ok());
        let e = get("https://port.example.com/x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DomainNotAllowed);
    });
}
