//! The error table, the kinds of connection failures, OS text in reasons,
//! and the thread-safety of public types.

mod common;
mod misbehave;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{HttpServer, TempDir, TestPki, watchdog};
use misbehave::{API, HOSTS, Rig, closed, invalid_response, refused, reset};
use wxnet::{Api, Error, ErrorKind, RequestOptions, ResponseData};

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn every_kind_has_its_reason_and_errno() {
    let table = [
        (ErrorKind::InvalidUrl, "invalid url", 600009),
        (
            ErrorKind::DomainNotAllowed,
            "url not in domain list",
            600002,
        ),
        (ErrorKind::Tls, "ssl hand shake error", 600001),
        (ErrorKind::Dns, "dns lookup failed", 600001),
        (ErrorKind::ConnectionRefused, "connection refused", 600001),
        (ErrorKind::ConnectionReset, "connection reset", 600001),
        (ErrorKind::InvalidResponse, "invalid response", 600001),
        (ErrorKind::Network, "network error", 600001),
        (ErrorKind::Timeout, "timeout", 5),
        (ErrorKind::Abort, "abort", 1),
        (ErrorKind::Interrupted, "interrupted", 600003),
        (ErrorKind::QueueFull, "exceed max task count", 600007),
        (
            ErrorKind::TooManyRedirects,
            "reach the max redirect count",
            600008,
        ),
        (
            ErrorKind::ConvertFailed,
            "response data convert to UTF8 fail",
            602302,
        ),
        (ErrorKind::ResponseTooLarge, "exceed max size", 600001),
        (ErrorKind::FileTooLarge, "exceed max file size", 603301),
        (ErrorKind::FileNotFound, "file not found", 1300002),
        (ErrorKind::FileAccess, "file error", 1300013),
        (ErrorKind::InvalidArgument, "invalid argument", 1),
        (ErrorKind::Config, "invalid config", 1),
        (ErrorKind::CallbackPanicked, "callback panicked", 1),
        (ErrorKind::NotConnected, "WebSocket is not connected", 1),
        (ErrorKind::TooManySockets, "exceed max concurrent count", 1),
    ];
    for (kind, reason, errno) in table {
        assert_eq!(kind.reason(), reason, "{kind:?}");
        assert_eq!(kind.errno(), errno, "{kind:?}");
        assert_eq!(kind.to_string(), reason);
    }
}

#[test]
fn err_msg_is_api_fail_reason_and_display() {
    let client = wxnet::Client::builder()
        .request_domains(["https://api.example.com"])
        .build()
        .unwrap();
    let options = wxnet::RequestOptions::new("https://api.example.com/").header("bad header", "v");
    let e: Error = client.request(options).wait().unwrap_err();
    let reason = "invalid argument: header name \"bad header\" is not valid";
    assert_eq!(e.err_msg(), format!("request:fail {reason}"));
    assert_eq!(e.api(), "request");
    assert_eq!(e.api(), Api::Request);
    assert_eq!(e.reason(), reason);
    assert_eq!(format!("{e}"), e.err_msg());
    assert!(format!("{e:?}").contains("InvalidArgument"));
}

#[test]
fn api_compares_with_its_wx_name() {
    let table = [
        (Api::Request, "request"),
        (Api::UploadFile, "uploadFile"),
        (Api::DownloadFile, "downloadFile"),
        (Api::ConnectSocket, "connectSocket"),
        (Api::SocketTaskSend, "SocketTask.send"),
        (Api::SocketTaskClose, "SocketTask.close"),
        (Api::SocketTaskWaitOpen, "SocketTask.waitOpen"),
        (Api::SocketTaskRecv, "SocketTask.recv"),
        (Api::SendSocketMessage, "sendSocketMessage"),
        (Api::CloseSocket, "closeSocket"),
        (Api::ClientBuilderBuild, "ClientBuilder.build"),
        (Api::ClientBuilderFromJson, "ClientBuilder.fromJson"),
        (Api::Check, "check"),
    ];
    for (api, name) in table {
        assert_eq!(api.wx_name(), name);
        assert_eq!(api.to_string(), name);
        assert!(api == name, "Api == &str");
        assert!(api == *name, "Api == str");
        assert!(name == api, "&str == Api");
        assert!(*name == api, "str == Api");
        assert!(api != "x");
    }
    for kind in [
        wxnet::ApiKind::Request,
        wxnet::ApiKind::UploadFile,
        wxnet::ApiKind::DownloadFile,
        wxnet::ApiKind::ConnectSocket,
    ] {
        assert_eq!(Api::from(kind), kind.wx_name());
    }
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}
    send_sync::<wxnet::Client>();
    send_sync::<wxnet::ClientBuilder>();
    send_sync::<wxnet::Error>();
    send_sync::<wxnet::ErrorKind>();
    send_sync::<wxnet::Api>();
    send_sync::<wxnet::RequestTask>();
    send_sync::<wxnet::RequestSuccess>();
    send_sync::<wxnet::ResponseData>();
    send_sync::<wxnet::Header>();
    send_sync::<wxnet::Profile>();
    send_sync::<wxnet::HeadersReceived>();
    send_sync::<wxnet::NetworkTimeout>();
    send_sync::<wxnet::EnvVersion>();
    send_sync::<wxnet::Method>();
    send::<wxnet::RequestOptions>();
}

#[test]
fn a_name_the_resolver_cannot_find_fails_with_dns_and_the_next_lookup_serves() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let server = HttpServer::start(
            pki.server_config(&pki.identity(&HOSTS)),
            misbehave::misbehave,
        );
        let addr = server.addr();
        let lookups = Arc::new(AtomicUsize::new(0));
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (n, log) = (lookups.clone(), asked.clone());
        let resolver = move |host: &str, port: u16| -> io::Result<Vec<SocketAddr>> {
            log.lock().unwrap().push(format!("{host}:{port}"));
            match (host, n.fetch_add(1, Ordering::SeqCst)) {
                ("api.example.com", 0) => Err(io::Error::other("no such host")),
                ("api.example.com", _) => Ok(vec![addr]),
                _ => Ok(Vec::new()),
            }
        };
        let client = wxnet::Client::builder()
            .add_root_certificate(pki.ca_pem())
            .unwrap()
            .request_domains([API, "https://empty.example.com"])
            .resolver(resolver)
            .build()
            .unwrap();
        let call = |url: String| client.request(RequestOptions::new(url)).wait();

        let e = call(format!("{API}/ok")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Dns, "{e:?}");
        assert_eq!(e.errno(), 600001);
        assert_eq!(e.err_msg(), "request:fail dns lookup failed");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(server.connections_accepted(), 0);

        // A failed lookup is not remembered: the next call looks up again.
        let res = call(format!("{API}/ok")).unwrap();
        assert_eq!(res.status_code, 200);
        assert!(matches!(res.data, ResponseData::Text(ref t) if t == "fine"));

        // A lookup that answers with no address is a failed lookup too.
        let e = call("https://empty.example.com/".into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Dns, "{e:?}");
        assert_eq!(
            *asked.lock().unwrap(),
            [
                "api.example.com:443",
                "api.example.com:443",
                "empty.example.com:443"
            ]
        );
    });
}

#[test]
fn each_connection_failure_has_its_own_kind_and_errno_600001() {
    watchdog(LIMIT, || {
        let pki = TestPki::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let nothing = port.local_addr().unwrap();
        drop(port);
        let rig = Rig::new(&pki, nothing);
        rig.fails(misbehave::Api::Request, "/x", None, &refused());

        let server = HttpServer::start(
            pki.server_config(&pki.identity(&HOSTS)),
            misbehave::misbehave,
        );
        let rig = Rig::new(&pki, server.addr());
        for (path, want, kind) in [
            ("/rst-before-headers", reset(), ErrorKind::ConnectionReset),
            ("/fin-mid-length-body", closed(), ErrorKind::ConnectionReset),
            ("/garbage", invalid_response(), ErrorKind::InvalidResponse),
        ] {
            let (e, _) = rig.fails(misbehave::Api::Request, path, None, &want);
            assert_eq!(e.kind(), kind, "{path}");
            assert_eq!(e.errno(), ErrorKind::Network.errno(), "{path}");
        }
    });
}

#[test]
fn file_errors_add_the_os_text_after_the_reason() {
    let dir = TempDir::new("oserr");
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    // A path below a regular file: the OS says it is not a directory.
    let below = file.join("inner");
    let os = std::fs::metadata(&below).unwrap_err();
    assert!(os.raw_os_error().is_some());

    let client = wxnet::Client::builder()
        .upload_domains(["https://up.example.com"])
        .build()
        .unwrap();
    let options = wxnet::UploadFileOptions::new("https://up.example.com/u", &below, "f");
    let e: Error = client.upload_file(options).wait().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FileAccess);
    assert_eq!(e.errno(), 1300013);
    assert_eq!(e.err_msg(), format!("uploadFile:fail file error: {os}"));
    let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<io::Error>());
    assert_eq!(source.and_then(io::Error::raw_os_error), os.raw_os_error());
}
