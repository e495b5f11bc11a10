//! Faults leak nothing: once the clients that met them are dropped, the
//! process has as many threads and open file descriptors as before they
//! were built. Its own test binary with a single test, so that no other
//! test moves the counts.

mod common;
mod misbehave;

use std::io::Write;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::procfs;
use common::{HttpServer, TestPki, WsServer, watchdog};
use misbehave::{
    APIS, Api, Gate, Rig, expect, invalid_response, misbehave, network, reset, timeout, too_large,
};
use wxnet::{ConnectSocketOptions, ErrorKind, SocketClose, SocketTask};

const WS: &str = "wss://ws.example.com";
const SECS: Duration = Duration::from_secs(5);

/// A WebSocket peer by path: `/echo`, a frame with a reserved bit set,
/// a reset, or (`/mute`) silence until `quiet` opens.
fn ws_server(pki: &TestPki, quiet: Arc<Gate>) -> WsServer {
    WsServer::start(
        pki.server_config(&pki.identity(&["ws.example.com"])),
        move |mut ws, up| match up.path.as_str() {
            "/rsv1" => {
                let _ = ws.get_mut().write_all(&[0xC1, 2, b'h', b'i']);
                let _ = ws.get_mut().flush();
                while ws.read().is_ok() {}
            }
            "/rst" => {
                let tcp = &ws.get_ref().sock;
                let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
            }
            "/mute" => {
                quiet.wait(Duration::from_secs(20));
                while ws.read().is_ok() {}
            }
            _ => {
                while let Ok(m) = ws.read() {
                    if (m.is_text() || m.is_binary()) && ws.send(m).is_err() {
                        return;
                    }
                }
            }
        },
    )
}

/// The close event of `task`, through a channel.
fn on_close(task: &SocketTask) -> mpsc::Receiver<SocketClose> {
    let (tx, rx) = mpsc::channel();
    task.on_close(move |c| {
        let _ = tx.send(c.clone());
    });
    rx
}

#[test]
fn faults_leave_no_thread_or_file_descriptor_behind() {
    watchdog(Duration::from_secs(10), || {
        let pki = TestPki::new();
        let http = HttpServer::start(
            pki.server_config(&pki.identity(&misbehave::HOSTS)),
            misbehave,
        );
        let foreign = HttpServer::start(
            pki.server_config(&pki.foreign_ca_identity(&misbehave::HOSTS)),
            misbehave,
        );
        let release = Arc::new(Gate::default());
        let never_reads = misbehave::never_reading_server(
            pki.server_config(&pki.identity(&misbehave::HOSTS)),
            release.clone(),
        );
        let quiet = Arc::new(Gate::default());
        let ws = ws_server(&pki, quiet.clone());
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused_addr = closed.local_addr().unwrap();
        drop(closed);

        let (threads, fds) = (procfs::threads(), procfs::fds());
        let (names, targets) = (procfs::thread_names(), procfs::fd_targets());
        let muted_closed;
        {
            let ws_addr = ws.addr();
            let rig = Rig::with(&pki, http.addr(), |b| {
                b.socket_domains([WS]).resolve("ws.example.com", ws_addr)
            });
            let foreign = Rig::new(&pki, foreign.addr());
            let silent = Rig::new(&pki, never_reads.addr());
            let refused = Rig::new(&pki, refused_addr);

            // Our close is never answered: the socket is still closing when
            // the client goes.
            let muted = rig
                .client
                .connect_socket(ConnectSocketOptions::new(format!("{WS}/mute")));
            muted_closed = on_close(&muted);
            muted.wait_open(SECS).unwrap();
            muted.close(1000, "bye").unwrap();

            let short = Some(Duration::from_millis(500));
            for api in APIS {
                refused.fails(api, "/x", None, &misbehave::refused());
                let tls = expect(ErrorKind::Tls, 600001, "ssl hand shake error");
                foreign.fails(api, "/ok", None, &tls);
                rig.fails(api, "/rst-before-headers", None, &reset());
                rig.fails(api, "/fin-mid-headers", None, &misbehave::closed());
                rig.fails(api, "/rst-mid-length-body", None, &reset());
                rig.fails(api, "/truncated-chunk", None, &misbehave::closed());
                rig.fails(api, "/garbage", None, &invalid_response());
                rig.fails(api, "/endless-headers", None, &invalid_response());
                rig.fails(api, "/endless-body", None, &too_large(api));
                rig.fails(
                    api,
                    "/fatal-alert-mid-body",
                    None,
                    &network("network error"),
                );
                rig.fails(api, "/trickle-body", short, &timeout());
            }
            let big = silent.file("big.bin", 8 * 1024 * 1024);
            let upload = silent.call_with(
                Api::Upload,
                "/never-read",
                short,
                |o| o,
                |url, _| wxnet::UploadFileOptions::new(url, big, "file"),
            );
            silent.check_failure(Api::Upload, "/never-read", upload, &timeout());

            for (path, code) in [("/rsv1", 1002), ("/rst", 1006)] {
                let task = rig
                    .client
                    .connect_socket(ConnectSocketOptions::new(format!("{WS}{path}")));
                let closed = on_close(&task);
                assert_eq!(closed.recv_timeout(SECS).unwrap().code, code, "{path}");
            }
            rig.serves_everyone(12);
            let echo = rig
                .client
                .connect_socket(ConnectSocketOptions::new(format!("{WS}/echo")));
            echo.wait_open(SECS).unwrap();

            // `echo` is still open too: dropping the client closes both.
        }
        muted_closed.recv_timeout(SECS).unwrap();
        release.open();
        quiet.open();
        let settled = common::eventually(Duration::from_secs(3), || {
            procfs::threads() == threads && procfs::fds() == fds
        });
        assert!(
            settled,
            "threads {threads} -> {}: {names:?} -> {:?}\nfds {fds} -> {}: {targets:?} -> {:?}",
            procfs::threads(),
            procfs::thread_names(),
            procfs::fds(),
            procfs::fd_targets()
        );
    });
}
