//! The public names that callers' code depends on, used exactly as outside
//! code uses them. Calls go to domains outside the lists, so everything
//! runs without a network and each result is asserted.

use std::sync::mpsc;
use std::time::Duration;

#[test]
fn the_spec_surface_compiles_and_behaves() -> Result<(), Box<dyn std::error::Error>> {
    let client = wxnet::Client::builder()
        .app_id("wx0123456789abcdef")
        .env_version(wxnet::EnvVersion::Release("1.2.0".into()))
        .request_domains(["https://api.example.com"])
        .upload_domains(["https://up.example.com"])
        .download_domains(["https://dl.example.com"])
        .socket_domains(["wss://ws.example.com"])
        .network_timeout(wxnet::NetworkTimeout::default())
        .resolve("api.example.com", "127.0.0.1:8443".parse()?)
        .skip_domain_check(false)
        .max_response_size(1 << 20)
        .max_download_size(1 << 24)
        .download_dir(std::env::temp_dir())
        .queue_capacity(16)
        .max_message_size(64 * 1024)
        .build()?;

    let e = client
        .request(
            wxnet::RequestOptions::new("https://elsewhere.example.com/x")
                .method(wxnet::Method::Post)
                .header("x-token", "t")
                .data(serde_json::json!({"a": 1}))
                .timeout(Duration::from_secs(5))
                .data_type(wxnet::DataType::Json)
                .response_type(wxnet::ResponseType::Text)
                .enable_chunked(false)
                .redirect(wxnet::Redirect::Follow)
                .on_headers_received(|h: &wxnet::HeadersReceived| {
                    let _ = (&h.header, &h.cookies, h.status_code);
                })
                .on_chunk_received(|_: &[u8]| {}),
        )
        .wait()
        .unwrap_err();
    assert_eq!(e.kind(), wxnet::ErrorKind::DomainNotAllowed);
    assert_eq!(e.err_msg(), "request:fail url not in domain list");
    assert_eq!(e.errno(), 600002);

    let (tx, rx) = mpsc::channel();
    let t2 = tx.clone();
    let task: wxnet::RequestTask = client.request(
        wxnet::RequestOptions::new("http://api.example.com/")
            .success(|r: &wxnet::RequestSuccess| {
                let _ = (
                    r.status_code,
                    r.header.get("content-type"),
                    &r.cookies,
                    &r.profile,
                );
                match &r.data {
                    wxnet::ResponseData::Json(_)
                    | wxnet::ResponseData::Text(_)
                    | wxnet::ResponseData::Bytes(_) => {}
                }
            })
            .fail(move |e: &wxnet::Error| tx.send(e.kind()).unwrap())
            .complete(move || t2.send(wxnet::ErrorKind::Abort).unwrap()),
    );
    task.abort();
    assert_eq!(rx.recv()?, wxnet::ErrorKind::InvalidUrl);
    assert_eq!(rx.recv()?, wxnet::ErrorKind::Abort); // the complete marker

    let up: wxnet::UploadTask = client.upload_file(
        wxnet::UploadFileOptions::new("https://dl.example.com/u", "Cargo.toml", "file")
            .form_data("k", "v")
            .on_progress_update(|p: &wxnet::UploadProgress| {
                let _ = (
                    p.progress,
                    p.total_bytes_sent,
                    p.total_bytes_expected_to_send,
                );
            }),
    );
    let r: wxnet::Result<wxnet::UploadFileSuccess> = up.wait();
    assert_eq!(
        r.unwrap_err().err_msg(),
        "uploadFile:fail url not in domain list"
    );

    let down: wxnet::DownloadTask = client.download_file(
        wxnet::DownloadFileOptions::new("https://up.example.com/f")
            .file_path(std::env::temp_dir().join("never"))
            .on_progress_update(|p: &wxnet::DownloadProgress| {
                let _ = (
                    p.progress,
                    p.total_bytes_written,
                    p.total_bytes_expected_to_write,
                );
            }),
    );
    let r: wxnet::Result<wxnet::DownloadFileSuccess> = down.wait();
    assert_eq!(r.unwrap_err().errno(), 600002);

    let task: wxnet::SocketTask = client.connect_socket(
        wxnet::ConnectSocketOptions::new("wss://elsewhere.example.com/chat")
            .protocols(["chat"])
            .tcp_no_delay(true),
    );
    task.on_open(|o: &wxnet::SocketOpen| {
        let _ = (&o.header, &o.profile);
    });
    task.on_message(|m: &wxnet::SocketMessage| {
        let _ = m;
    });
    task.on_error(|e: &wxnet::Error| {
        let _ = e.err_msg();
    });
    let (tx, rx) = mpsc::channel();
    task.on_close(move |c: &wxnet::SocketClose| tx.send((c.code, c.reason.clone())).unwrap());
    assert_eq!(rx.recv()?.0, 1006);
    assert_eq!(task.ready_state(), wxnet::ReadyState::Closed);
    assert!(task.send(wxnet::SocketMessage::Text("hi".into())).is_err());
    assert!(task.close(1000, "bye").is_ok());
    assert!(matches!(
        wxnet::SocketMessage::Binary(vec![1]),
        wxnet::SocketMessage::Binary(_)
    ));

    client.on_socket_open(|_| {});
    let e = client
        .send_socket_message(wxnet::SocketMessage::Text("x".into()))
        .unwrap_err();
    assert_eq!(
        e.err_msg(),
        "sendSocketMessage:fail WebSocket is not connected"
    );
    assert!(client.close_socket(1000, "").is_err());
    client.enter_background();
    client.enter_foreground();
    for kind in [
        wxnet::ErrorKind::Timeout,
        wxnet::ErrorKind::Abort,
        wxnet::ErrorKind::Interrupted,
        wxnet::ErrorKind::DomainNotAllowed,
        wxnet::ErrorKind::InvalidUrl,
        wxnet::ErrorKind::Tls,
    ] {
        assert!(!kind.reason().is_empty());
    }
    for m in [
        wxnet::Method::Options,
        wxnet::Method::Get,
        wxnet::Method::Head,
        wxnet::Method::Post,
        wxnet::Method::Put,
        wxnet::Method::Delete,
        wxnet::Method::Trace,
        wxnet::Method::Connect,
    ] {
        assert!(!m.as_str().is_empty());
    }
    let _ = [
        wxnet::EnvVersion::Develop,
        wxnet::EnvVersion::Trial,
        wxnet::EnvVersion::DevTools,
    ];
    let _ = (
        wxnet::DataType::Other,
        wxnet::ResponseType::ArrayBuffer,
        wxnet::Redirect::Manual,
    );
    client.shutdown();
    assert!(client.is_shut_down());
    fn send_sync<T: Send + Sync + 'static>(_: &T) {}
    send_sync(&client);
    Ok(())
}

/// The second-wave names: task listeners with `ListenerId` and `off_*`,
/// `decompress`, `proxy`, the narrower error kinds and `Api`.
#[test]
fn the_second_wave_surface_compiles_and_behaves() -> Result<(), Box<dyn std::error::Error>> {
    let client = wxnet::Client::builder()
        .request_domains(["https://api.example.com"])
        .upload_domains(["https://up.example.com"])
        .download_domains(["https://dl.example.com"])
        .socket_domains(["wss://ws.example.com"])
        .decompress(true)
        .proxy("http://user:secret@127.0.0.1:3128")
        .build()?;
    assert_eq!(client.proxy().as_deref(), Some("http://127.0.0.1:3128"));

    let task = client.upload_file(wxnet::UploadFileOptions::new(
        "https://elsewhere.example.com/u",
        "missing.bin",
        "file",
    ));
    let id: wxnet::ListenerId = task.on_progress_update(|p: &wxnet::UploadProgress| {
        let _ = (
            p.progress,
            p.total_bytes_sent,
            p.total_bytes_expected_to_send,
        );
    });
    let head = task.on_headers_received(|_: &wxnet::HeadersReceived| {});
    assert!(task.off_progress_update(Some(id)));
    assert!(task.off_headers_received(None));
    assert!(!task.off_headers_received(Some(head)));
    let e = task.wait().unwrap_err();
    assert_eq!(e.kind(), wxnet::ErrorKind::DomainNotAllowed);
    assert!(e.api() == "uploadFile");
    assert_eq!(e.api(), wxnet::Api::UploadFile);

    let task = client.download_file(wxnet::DownloadFileOptions::new("https://x.example.com/f"));
    let id = task.on_progress_update(|_: &wxnet::DownloadProgress| {});
    assert!(task.off_progress_update(Some(id)));
    assert_eq!(task.wait().unwrap_err().errno(), 600002);

    let task = client.request(wxnet::RequestOptions::new("https://x.example.com/r"));
    let a = task.on_headers_received(|_| {});
    let b = task.on_chunk_received(|_: &[u8]| {});
    assert_ne!(a, b);
    assert!(task.off_headers_received(Some(a)));
    assert!(task.off_chunk_received(Some(b)));
    assert_eq!(task.wait().unwrap_err().api().wx_name(), "request");

    let socket = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://x.example.com/"));
    let open = socket.on_open(|_: &wxnet::SocketOpen| {});
    let msg = socket.on_message(|_: &wxnet::SocketMessage| {});
    let err = socket.on_error(|_: &wxnet::Error| {});
    let close = socket.on_close(|_: &wxnet::SocketClose| {});
    assert!(socket.off_open(Some(open)));
    assert!(socket.off_message(Some(msg)));
    assert!(socket.off_error(Some(err)));
    assert!(socket.off_close(Some(close)));
    assert!(!socket.off_close(None));

    // The narrower kinds exist and keep the runtime's errno.
    for kind in [
        wxnet::ErrorKind::Dns,
        wxnet::ErrorKind::ConnectionRefused,
        wxnet::ErrorKind::ConnectionReset,
        wxnet::ErrorKind::InvalidResponse,
        wxnet::ErrorKind::Network,
    ] {
        assert_eq!(kind.errno(), 600001);
    }
    Ok(())
}
