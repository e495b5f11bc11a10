//! `wxnet ws`: one `wx.connectSocket`, its events printed as JSON lines.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use wxnet::SocketMessage;

use crate::common::{self, CallOptions};

/// Open a WebSocket as wx.connectSocket would; print its events as JSON
///
/// Sends each --send text and waits for one reply to each, printing one
/// JSON line per event.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The wss:// URL (its origin must be listed, see --config)
    url: String,
    /// A text message to send, then wait for one reply (repeatable)
    #[arg(long, value_name = "TEXT")]
    send: Vec<String>,
    /// Seconds to wait for the socket to open and for each reply
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    wait: u64,
    #[command(flatten)]
    options: CallOptions,
}

pub fn run(a: Args) -> crate::Outcome {
    let client = common::client(&a.options, &a.url, wxnet::ApiKind::ConnectSocket)?;
    let wait = Duration::from_secs(a.wait);
    let task = client.connect_socket(wxnet::ConnectSocketOptions::new(a.url));
    if let Err(e) = task.wait_open(wait) {
        println!("{}", common::fail_json(&e));
        return Ok(ExitCode::from(1));
    }
    println!("{}", json!({ "event": "open" }));
    for s in a.send {
        let sent = task.send(SocketMessage::Text(s));
        let line = match sent.and_then(|()| task.recv(wait)) {
            Ok(Some(SocketMessage::Text(t))) => json!({ "message": t }),
            Ok(Some(SocketMessage::Binary(b))) => json!({ "binary": b.len() }),
            Ok(None) => json!({ "event": "no message" }),
            Err(e) => {
                println!("{}", json!({ "errMsg": e.err_msg() }));
                return Ok(ExitCode::from(1));
            }
        };
        println!("{line}");
    }
    let _ = task.close(1000, "");
    println!("{}", json!({ "event": "close" }));
    Ok(ExitCode::SUCCESS)
}
