//! The error table (errno and errMsg of every kind) and the thread-safety
//! of public types.

use wxnet::{Api, Error, ErrorKind};

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
