//! A server that misbehaves on command, for each of `request`,
//! `uploadFile` and `downloadFile`: every fault ends the call with the
//! right kind, errno and errMsg, in exactly one fail and then one
//! complete, leaves no file in the download directory, and every worker
//! is still there afterwards.

mod common;
mod misbehave;

use std::sync::Arc;
use std::time::Duration;

use common::{HttpServer, TestPki, watchdog};
use misbehave::{
    APIS, Api, Gate, Rig, closed, expect, invalid_response, misbehave, network, refused, reset,
    timeout, too_large,
};
use wxnet::ErrorKind;

const LIMIT: Duration = Duration::from_secs(10);

/// The misbehaving server and a rig pointed at it.
fn setup() -> (HttpServer, Rig) {
    let pki = TestPki::new();
    let server = HttpServer::start(
        pki.server_config(&pki.identity(&misbehave::HOSTS)),
        misbehave,
    );
    let rig = Rig::new(&pki, server.addr());
    (server, rig)
}

#[test]
fn connection_refused_fails_each_api_at_once() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let rig = Rig::new(&pki, addr);
        for api in APIS {
            let (_, took) = rig.fails(api, "/x", None, &refused());
            assert!(took < Duration::from_secs(2), "{api:?}: {took:?}");
        }
    });
}

#[test]
fn resets_before_and_inside_the_headers_fail_each_api_once() {
    watchdog(LIMIT, || {
        let (_server, rig) = setup();
        rig.all_fail("/fin-before-headers", |_| closed());
        rig.all_fail("/rst-before-headers", |_| reset());
        rig.all_fail("/fin-mid-headers", |_| closed());
        rig.all_fail("/rst-mid-headers", |_| reset());
        // A POST is never retried; it fails the same way.
        let call = rig.call_with(
            Api::Request,
            "/fin-before-headers",
            None,
            misbehave::post_of(vec![b'x'; 100]),
            |url, file| wxnet::UploadFileOptions::new(url, file, "file"),
        );
        rig.check_failure(Api::Request, "/fin-before-headers", call, &closed());
        rig.serves_everyone(12);
    });
}

#[test]
fn resets_inside_the_body_fail_each_api_once() {
    watchdog(LIMIT, || {
        let (_server, rig) = setup();
        rig.all_fail("/fin-mid-length-body", |_| closed());
        rig.all_fail("/rst-mid-length-body", |_| reset());
        rig.all_fail("/fin-mid-chunked-body", |_| closed());
        rig.all_fail("/rst-mid-chunked-body", |_| reset());
        // A body that runs to the close of the connection has no framing to
        // fall short of: a reset is what tells it was cut.
        rig.all_fail("/rst-mid-close-delimited-body", |_| reset());
        rig.all_fail("/truncated-chunk", |_| closed());
        rig.serves_everyone(12);
    });
}

#[test]
fn malformed_responses_fail_each_api_once() {
    watchdog(LIMIT, || {
        let (_server, rig) = setup();
        rig.all_fail("/garbage", |_| invalid_response());
        rig.all_fail("/bad-status", |_| invalid_response());
        rig.all_fail("/bad-chunk-size", |_| invalid_response());
        rig.serves_everyone(12);
    });
}

#[test]
fn oversized_and_endless_headers_fail_each_api_once() {
    watchdog(LIMIT, || {
        let (_server, rig) = setup();
        rig.all_fail("/huge-headers", |_| invalid_response());
        rig.all_fail("/endless-headers", |_| invalid_response());
        rig.serves_everyone(12);
    });
}

#[test]
fn an_endless_body_stops_at_the_size_cap_of_each_api() {
    watchdog(LIMIT, || {
        let (_server, rig) = setup();
        rig.all_fail("/endless-body", too_large);
        rig.all_fail("/endless-chunked-body", too_large);
        rig.serves_everyone(12);
    });
}

/// Each API's call to `path` ends with a timeout at its 1 s deadline.
fn cut_at_the_deadline(rig: &Rig, path: &str) {
    let deadline = Duration::from_secs(1);
    for api in APIS {
        let (_, took) = rig.fails(api, path, Some(deadline), &timeout());
        assert!(
            took >= deadline - Duration::from_millis(50),
            "{api:?}: {took:?}"
        );
        assert!(
            took < deadline + Duration::from_millis(1500),
            "{api:?}: {took:?}"
        );
    }
}

#[test]
fn a_trickled_body_is_cut_at_the_deadline_for_each_api() {
    watchdog(LIMIT, || {
        let (_server, rig) = setup();
        cut_at_the_deadline(&rig, "/trickle-body");
        rig.serves_everyone(12);
    });
}

#[test]
fn trickled_headers_are_cut_at_the_deadline_for_each_api() {
    watchdog(LIMIT, || {
        let (_server, rig) = setup();
        cut_at_the_deadline(&rig, "/trickle-headers");
        rig.serves_everyone(12);
    });
}

#[test]
fn tls_alerts_inside_the_body_fail_each_api_once() {
    watchdog(LIMIT, || {
        let (_server, rig) = setup();
        // A clean TLS end of stream before the framing is complete.
        rig.all_fail("/close-notify-mid-length-body", |_| closed());
        rig.all_fail("/close-notify-mid-chunked-body", |_| closed());
        // A fatal alert, encrypted as servers send them, and one in clear
        // text where only encrypted records may come.
        for (path, cause) in [
            (
                "/fatal-alert-mid-body",
                "received fatal alert: BadRecordMac",
            ),
            ("/plaintext-alert-mid-body", "cannot decrypt peer's message"),
        ] {
            for api in APIS {
                let (e, _) = rig.fails(api, path, None, &network("network error"));
                let source = std::error::Error::source(&e).map(|s| s.to_string());
                assert!(
                    source.as_deref().is_some_and(|s| s.contains(cause)),
                    "{api:?} {path}: {e:?}"
                );
            }
        }
        rig.serves_everyone(12);
    });
}

#[test]
fn a_certificate_changed_between_connections_fails_the_next_handshake() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let good = pki.identity(&misbehave::HOSTS);
        let foreign = pki.foreign_ca_identity(&misbehave::HOSTS);
        let other_name = pki.identity(&["elsewhere.example.net"]);
        let tls_error = expect(ErrorKind::Tls, 600001, "ssl hand shake error");
        for api in APIS {
            // Each response closes its connection, so each call makes a
            // new one: good, foreign CA, good, wrong name, then good.
            let server = HttpServer::start(
                misbehave::certificates_in_turn(&[&good, &foreign, &good, &other_name, &good]),
                |_, c| {
                    c.respond(200, &[("Connection", "close")], b"fine");
                    c.close();
                },
            );
            let rig = Rig::new(&pki, server.addr());
            rig.succeeds(api, "/ok");
            let (e, _) = rig.fails(api, "/ok", None, &tls_error);
            let source = std::error::Error::source(&e).unwrap().to_string();
            assert!(source.contains("UnknownIssuer"), "{api:?}: {source}");
            rig.succeeds(api, "/ok");
            let (e, _) = rig.fails(api, "/ok", None, &tls_error);
            let source = std::error::Error::source(&e).unwrap().to_string();
            assert!(source.contains("not valid for name"), "{api:?}: {source}");
            assert_eq!(server.connections_accepted(), 4, "{api:?}");
            rig.serves_everyone(4);
        }
    });
}

#[test]
fn a_server_that_never_reads_the_upload_times_out_at_the_deadline() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let release = Arc::new(Gate::default());
        let server = misbehave::never_reading_server(
            pki.server_config(&pki.identity(&misbehave::HOSTS)),
            release.clone(),
        );
        let rig = Rig::new(&pki, server.addr());
        // More than the loopback socket buffers hold.
        let big = 8 * 1024 * 1024;
        let file = rig.file("big.bin", big);
        let deadline = Duration::from_secs(1);
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let s = sent.clone();
        let upload = rig.call_with(
            Api::Upload,
            "/never-read",
            Some(deadline),
            |o| o,
            move |url, _| {
                wxnet::UploadFileOptions::new(url, &file, "file").on_progress_update(move |p| {
                    s.store(p.total_bytes_sent, std::sync::atomic::Ordering::SeqCst)
                })
            },
        );
        let (_, took) = rig.check_failure(Api::Upload, "/never-read", upload, &timeout());
        assert!(took < deadline + Duration::from_millis(1500), "{took:?}");
        let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
        assert!(sent > 0 && sent < big as u64, "{sent}");

        let request = rig.call_with(
            Api::Request,
            "/never-read",
            Some(deadline),
            misbehave::post_of(vec![b'x'; big]),
            |url, file| wxnet::UploadFileOptions::new(url, file, "file"),
        );
        let (_, took) = rig.check_failure(Api::Request, "/never-read", request, &timeout());
        assert!(took < deadline + Duration::from_millis(1500), "{took:?}");
        release.open();
    });
}
