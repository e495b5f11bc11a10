//! The thread-safety the public types promise, checked at compile time:
//! a caller may move any task, event, result or client to another thread
//! and share it there; options (which hold `Send` callbacks) may be moved.

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

#[test]
fn tasks_events_results_and_the_client_are_send_and_sync() {
    assert_send_sync::<wxnet::RequestTask>();
    assert_send_sync::<wxnet::UploadTask>();
    assert_send_sync::<wxnet::DownloadTask>();

    assert_send_sync::<wxnet::HeadersReceived>();
    assert_send_sync::<wxnet::UploadProgress>();
    assert_send_sync::<wxnet::DownloadProgress>();

    assert_send_sync::<wxnet::RequestSuccess>();
    assert_send_sync::<wxnet::UploadFileSuccess>();
    assert_send_sync::<wxnet::DownloadFileSuccess>();
    assert_send_sync::<wxnet::ResponseData>();
    assert_send_sync::<wxnet::Profile>();
    assert_send_sync::<wxnet::Header>();

    assert_send_sync::<wxnet::Client>();
    assert_send_sync::<wxnet::ClientBuilder>();
    assert_send_sync::<wxnet::Error>();
    assert_send_sync::<wxnet::Api>();
    assert_send_sync::<wxnet::Result<()>>();
}

#[test]
fn options_are_send() {
    assert_send::<wxnet::RequestOptions>();
    assert_send::<wxnet::UploadFileOptions>();
    assert_send::<wxnet::DownloadFileOptions>();
}

#[cfg(feature = "websocket")]
#[test]
fn socket_types_are_send_and_sync() {
    assert_send_sync::<wxnet::SocketTask>();
    assert_send_sync::<wxnet::SocketOpen>();
    assert_send_sync::<wxnet::SocketClose>();
    assert_send_sync::<wxnet::SocketMessage>();
    assert_send::<wxnet::ConnectSocketOptions>();
}
