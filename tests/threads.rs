//! Dropping the last client handle ends every thread it started (workers,
//! timer, socket readers). Its own test binary, so the count of threads in
//! /proc/self/task is this test's alone.

mod common;

use std::time::Duration;

use common::{HttpServer, TestPki, WsServer, watchdog};

fn wxnet_threads() -> usize {
    common::procfs::threads_named("wxnet-")
}

#[test]
fn dropping_the_client_ends_every_thread() {
    watchdog(Duration::from_secs(10), || {
        assert_eq!(wxnet_threads(), 0);
        let pki = TestPki::new();
        let http = HttpServer::start(
            pki.server_config(&pki.identity(&["api.example.com"])),
            |_, c| c.respond(200, &[], b"ok"),
        );
        let ws = WsServer::echo(pki.server_config(&pki.identity(&["ws.example.com"])));
        let client = common::client_builder(&pki, &http)
            .request_domains(["https://api.example.com"])
            .socket_domains(["wss://ws.example.com"])
            .resolve("ws.example.com", ws.addr())
            .build()
            .unwrap();
        let res = client
            .request(wxnet::RequestOptions::new("https://api.example.com/"))
            .wait()
            .unwrap();
        assert_eq!(res.status_code, 200);
        let sockets: Vec<_> = (0..3)
            .map(|_| {
                client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"))
            })
            .collect();
        for s in &sockets {
            s.wait_open(Duration::from_secs(5)).unwrap();
        }
        // 10 workers, the timer, 3 socket readers (a thread shows its name
        // once it has started; a joined one may linger in /proc briefly).
        assert!(
            common::eventually(Duration::from_secs(5), || wxnet_threads() >= 14),
            "{}",
            wxnet_threads()
        );
        drop(client);
        assert!(
            common::eventually(Duration::from_secs(5), || wxnet_threads() == 0),
            "{}",
            wxnet_threads()
        );
        assert!(
            sockets
                .iter()
                .all(|s| s.ready_state() == wxnet::ReadyState::Closed)
        );
    });
}
