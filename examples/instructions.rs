//! CPU instructions per call, wxnet against the raw stack (a ureq Agent
//! and serde_json, what a script writes), counted by valgrind's callgrind
//! in the client process only (all its threads), against nginx in its own
//! process.
//!
//! Start-up (TLS set-up, the first connection, the client's threads) is
//! cancelled by differencing: 1,200 against 200 sequential keep-alive GETs
//! of `/small` give instructions per request; a 10 MiB against a 2 MiB
//! download or upload (one each) give instructions per MiB.
//!
//! ```sh
//! cargo run --release --example instructions                # every row
//! cargo run --release --example instructions -- --only get  # get | download | upload
//! cargo run --release --example instructions -- --keep DIR  # keep callgrind.out files
//! cargo run --release --example instructions -- --runs 9     # GET runs (default 5)
//! ```
//!
//! With `--keep`, `callgrind_annotate --inclusive=yes DIR/get-wxnet-1200.out`
//! shows where the instructions go. Needs `valgrind` and `nginx` (Debian
//! packages `valgrind` and `nginx`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../benches/support/mod.rs"]
mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::Side;

const GETS: (usize, usize) = (200, 1200);
const MIBS: (usize, usize) = (2, 10);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("client") {
        return client(&args[2..]);
    }
    let valgrind = common::require("valgrind", "valgrind");
    let server = support::Nginx::start();
    let ca = server.dir().join("ca.der");
    std::fs::write(&ca, &server.ca_der).unwrap();
    for mib in [MIBS.0, MIBS.1] {
        server.file(mib);
    }
    let keep = support::arg_value("--keep").map(PathBuf::from);
    let only = support::arg_value("--only");
    let runs: usize = support::arg_value("--runs").map_or(5, |n| n.parse().unwrap());
    let out_dir = keep.clone().unwrap_or_else(|| server.dir().to_path_buf());
    std::fs::create_dir_all(&out_dir).unwrap();
    let count = |side: Side, op: &str, n: usize| -> u64 {
        let side_name = if side == Side::Wxnet { "wxnet" } else { "raw" };
        let out = out_dir.join(format!("{op}-{side_name}-{n}.out"));
        let output = Command::new(&valgrind)
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(std::env::current_exe().unwrap())
            .args(["client", side_name, op, &n.to_string()])
            .arg(server.addr().port().to_string())
            .arg(server.dir())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{op} {side_name} {n}:\n{stderr}");
        collected(&stderr)
    };
    println!("| what | wxnet | raw | ratio |\n| --- | --- | --- | --- |");
    let rows = [
        ("get", GETS, "instructions per keep-alive GET of /small"),
        (
            "download",
            MIBS,
            "instructions per MiB downloaded to a file",
        ),
        ("upload", MIBS, "instructions per MiB uploaded (multipart)"),
    ];
    for (op, (a, b), what) in rows {
        if only.as_deref().is_some_and(|o| o != op) {
            continue;
        }
        // glibc's heap state (which thread freed what) moves wxnet's
        // count by a few per cent between runs: several runs of a GET,
        // alternating sides; one of a transfer, where it is lost in the
        // bulk.
        let runs = if op == "get" { runs } else { 1 };
        let (mut wx, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            for (side, into) in [(Side::Wxnet, &mut wx), (Side::Raw, &mut raw)] {
                let (lo, hi) = (count(side, op, a), count(side, op, b));
                into.push((hi as f64 - lo as f64) / (b - a) as f64);
            }
        }
        let show = |v: &[f64]| {
            let (lo, hi) = support::range(v);
            if v.len() == 1 {
                format!("{lo:.0}")
            } else {
                format!("{lo:.0}–{hi:.0}")
            }
        };
        let (w, r) = (
            support::median(&mut wx.clone()),
            support::median(&mut raw.clone()),
        );
        println!(
            "| {what} ({runs} run{}) | {} | {} | {:.3}× (medians) |",
            if runs == 1 { "" } else { "s" },
            show(&wx),
            show(&raw),
            w / r
        );
    }
    if let Some(dir) = keep {
        println!("callgrind files kept in {}", dir.display());
    }
}

/// The total from callgrind's "Collected : N" line.
fn collected(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .map(|(_, n)| n.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no callgrind total in:\n{stderr}"))
}

/// The measured process: `client <side> <op> <n> <port> <dir>`.
fn client(args: &[String]) {
    let side = Side::parse(&args[0]);
    let op = args[1].as_str();
    let n: usize = args[2].parse().unwrap();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args[3].parse::<u16>().unwrap()));
    let dir = Path::new(&args[4]);
    let ca = std::fs::read(dir.join("ca.der")).unwrap();
    let out = dir.join(format!("down-{}-{}.bin", args[0], std::process::id()));
    let up = dir.join(format!("up{n}m.bin"));
    match side {
        Side::Wxnet => {
            let client = support::wxnet_client(&ca, addr);
            match op {
                "get" => (0..n).for_each(|_| support::wxnet_get(&client)),
                "download" => support::wxnet_download(&client, n, &out),
                _ => support::wxnet_upload(&client, &up),
            }
        }
        Side::Raw => {
            let agent = support::raw_agent(&ca, addr);
            match op {
                "get" => (0..n).for_each(|_| support::raw_get(&agent)),
                "download" => support::raw_download(&agent, n, &out),
                _ => support::raw_upload(&agent, &up),
            }
        }
    }
    let _ = std::fs::remove_file(out);
}
