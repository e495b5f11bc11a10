//! What the benchmarks and the `instructions` example share: nginx as the
//! server in its own process, the two clients (wxnet, and the raw stack a
//! script would use: a ureq Agent, serde_json, a hand-made multipart
//! body), background load, and the statistics.
//!
//! Include it after `tests/common`:
//!
//! ```ignore
//! #[path = "../tests/common/mod.rs"]
//! mod common;
//! #[path = "../benches/support/mod.rs"]
//! mod support;
//! ```

#![allow(dead_code)]

use std::io::{Cursor, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common;

pub const MIB: usize = 1024 * 1024;

/// The body of `/small`: what `serde_json` and wxnet both parse.
pub const SMALL: &str = r#"{"ok":true,"n":42,"name":"wxnet","items":[1,2,3]}"#;

/// The host names the clients use; all map to the nginx port.
pub const API: &str = "https://api.example.com";
pub const DL: &str = "https://dl.example.com";
pub const UP: &str = "https://up.example.com";

/// nginx on loopback, one worker, TLS 1.3 only with a leaf of a throw-away
/// CA, in its own process with its own temporary files.
///
/// - `GET /small`: [`SMALL`] as `application/json` (not compressed: gzip
///   is off, and the body is a `return`, not a file)
/// - `GET /<n>m.bin`: an `n` MiB file written by [`Nginx::file`]
/// - `POST /upload`: any body size, read and dropped, answers `ok`
pub struct Nginx {
    program: common::Program,
    /// The test CA, DER, for the clients.
    pub ca_der: Vec<u8>,
}

impl Nginx {
    pub fn start() -> Nginx {
        let pki = common::TestPki::new();
        let id = pki.identity(&["api.example.com", "dl.example.com", "up.example.com"]);
        let program = common::Program::start("nginx", "nginx", |port, dir| {
            let (cert, key) = pki.write_pem(&id, dir, "leaf");
            let www = dir.join("www");
            std::fs::create_dir_all(&www).unwrap();
            let d = dir.display();
            let conf = format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\n\
                 pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 512; }}\n\
                 http {{\n  access_log off;\n  gzip off;\n\
                 client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
                 scgi_temp_path {d}/scgi;\n\
                 keepalive_requests 1000000;\n  keepalive_timeout 300s;\n\
                 server {{\n    listen 127.0.0.1:{port} ssl;\n\
                 ssl_certificate {cert};\n    ssl_certificate_key {key};\n\
                 ssl_protocols TLSv1.3;\n    root {www};\n\
                 location = /small {{ default_type application/json; return 200 '{SMALL}'; }}\n\
                 location = /upload {{ client_max_body_size 0; return 200 'ok'; }}\n\
                 location / {{ default_type application/octet-stream; }}\n  }}\n}}\n",
                cert = cert.display(),
                key = key.display(),
                www = www.display(),
            );
            std::fs::write(dir.join("nginx.conf"), conf).unwrap();
            vec![
                "-p".into(),
                format!("{d}"),
                "-c".into(),
                format!("{d}/nginx.conf"),
            ]
        });
        Nginx {
            program,
            ca_der: pki.ca_der(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.program.addr()
    }

    pub fn pid(&self) -> u32 {
        self.program.pid()
    }

    /// A scratch directory that lives as long as the server.
    pub fn dir(&self) -> &Path {
        self.program.dir()
    }

    /// Writes an `mib` MiB file served as `/<mib>m.bin`, and the same bytes
    /// as `up<mib>m.bin` (for uploads); returns the upload file's path.
    pub fn file(&self, mib: usize) -> PathBuf {
        let bytes = common::pattern(mib * MIB);
        std::fs::write(self.dir().join(format!("www/{mib}m.bin")), &bytes).unwrap();
        let up = self.dir().join(format!("up{mib}m.bin"));
        std::fs::write(&up, &bytes).unwrap();
        up
    }
}

/// Which client a round runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Wxnet,
    Raw,
}

impl Side {
    pub fn parse(s: &str) -> Side {
        match s {
            "wxnet" => Side::Wxnet,
            "raw" => Side::Raw,
            _ => panic!("side must be `wxnet` or `raw`, not {s:?}"),
        }
    }
}

/// A wxnet client for the three names, trusting the CA `ca_der`.
pub fn wxnet_client(ca_der: &[u8], addr: SocketAddr) -> wxnet::Client {
    let mut b = wxnet::Client::builder()
        .app_id("wxbench")
        .request_domains([API])
        .download_domains([DL])
        .upload_domains([UP])
        .add_root_certificate(ca_der)
        .unwrap();
    for host in ["api.example.com", "dl.example.com", "up.example.com"] {
        b = b.resolve(host, addr);
    }
    b.build().unwrap()
}

/// A raw ureq Agent keeping up to 10 connections per host.
pub fn raw_agent(ca_der: &[u8], addr: SocketAddr) -> ureq::Agent {
    common::raw_ureq_agent_pooled(ca_der, addr, 10)
}

/// One keep-alive GET of `/small` and its JSON, as wxnet does it.
pub fn wxnet_get(client: &wxnet::Client) {
    let r = client
        .request(wxnet::RequestOptions::new(format!("{API}/small")))
        .wait()
        .unwrap();
    assert_eq!(r.data.as_json().unwrap()["n"], 42);
}

/// The same as a script writes it: GET, read the body, parse the JSON.
pub fn raw_get(agent: &ureq::Agent) {
    let mut r = agent.get(format!("{API}/small")).call().unwrap();
    let s = r.body_mut().read_to_string().unwrap();
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["n"], 42);
}

/// Downloads `/<mib>m.bin` to `out` with wxnet.
pub fn wxnet_download(client: &wxnet::Client, mib: usize, out: &Path) {
    let r = client
        .download_file(wxnet::DownloadFileOptions::new(format!("{DL}/{mib}m.bin")).file_path(out))
        .wait()
        .unwrap();
    assert_eq!(r.data_length, (mib * MIB) as u64);
}

/// The same with ureq: GET, copy the body to a file.
pub fn raw_download(agent: &ureq::Agent, mib: usize, out: &Path) {
    let mut res = agent.get(format!("{DL}/{mib}m.bin")).call().unwrap();
    let mut f = std::fs::File::create(out).unwrap();
    let mut reader = res.body_mut().with_config().limit(u64::MAX).reader();
    let n = std::io::copy(&mut reader, &mut f).unwrap();
    assert_eq!(n, (mib * MIB) as u64);
}

/// Uploads `file` as the multipart field `file` with wxnet.
pub fn wxnet_upload(client: &wxnet::Client, file: &Path) {
    let r = client
        .upload_file(wxnet::UploadFileOptions::new(
            format!("{UP}/upload"),
            file,
            "file",
        ))
        .wait()
        .unwrap();
    assert_eq!(r.status_code, 200);
}

/// The same with ureq: a multipart body made by hand around the file,
/// streamed.
pub fn raw_upload(agent: &ureq::Agent, file: &Path) {
    let boundary = "----rawbenchboundary7MA4YWxkTrZu0gW";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"up.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let f = std::fs::File::open(file).unwrap();
    let len = head.len() as u64 + f.metadata().unwrap().len() + tail.len() as u64;
    let body = Cursor::new(head.into_bytes())
        .chain(f)
        .chain(Cursor::new(tail.into_bytes()));
    let mut res = agent
        .post(format!("{UP}/upload"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("content-length", len.to_string())
        .send(ureq::SendBody::from_owned_reader(body))
        .unwrap();
    assert_eq!(res.body_mut().read_to_string().unwrap(), "ok");
}

/// Background load run during both sides' rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    None,
    /// Two threads in this process spinning.
    Spin,
    /// `stress-ng --cpu 2 --vm 1 --vm-bytes 256M` beside it.
    Stress,
    /// `stress-ng --cpu 2 --vm 2 --vm-bytes 1G --cache 1`: CPU and memory
    /// hogs on every core, like two compiles.
    Compile,
}

impl Load {
    /// `--load none|spin|stress` among the program's arguments.
    pub fn from_args() -> Load {
        arg_value("--load").map_or(Load::None, |name| Load::parse(&name))
    }

    /// A load by name: `none` (or `quiet`), `spin`, `stress`, `compile`.
    pub fn parse(name: &str) -> Load {
        match name {
            "none" | "quiet" => Load::None,
            "spin" => Load::Spin,
            "stress" => Load::Stress,
            "compile" => Load::Compile,
            other => panic!("the load must be none, spin, stress or compile, not {other}"),
        }
    }

    /// Starts the load; it stops when the guard drops.
    pub fn start(self) -> LoadGuard {
        let stop = Arc::new(AtomicBool::new(false));
        let mut guard = LoadGuard {
            stop: stop.clone(),
            spinners: Vec::new(),
            stress: None,
        };
        match self {
            Load::None => {}
            Load::Spin => {
                for _ in 0..2 {
                    let stop = stop.clone();
                    guard.spinners.push(std::thread::spawn(move || {
                        let mut x = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                        }
                    }));
                }
            }
            Load::Stress | Load::Compile => {
                let args: &[&str] = if self == Load::Stress {
                    &["--cpu", "2", "--vm", "1", "--vm-bytes", "256M"]
                } else {
                    &[
                        "--cpu",
                        "2",
                        "--vm",
                        "2",
                        "--vm-bytes",
                        "1G",
                        "--cache",
                        "1",
                    ]
                };
                let path = common::require("stress-ng", "stress-ng");
                let child = Command::new(path)
                    .args(args)
                    .arg("--quiet")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start stress-ng");
                guard.stress = Some(child);
                // Let its workers start and take their memory.
                std::thread::sleep(std::time::Duration::from_secs(2));
            }
        }
        guard
    }
}

/// Running background load.
pub struct LoadGuard {
    stop: Arc<AtomicBool>,
    spinners: Vec<std::thread::JoinHandle<()>>,
    stress: Option<Child>,
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.spinners.drain(..) {
            let _ = t.join();
        }
        if let Some(mut child) = self.stress.take() {
            // SIGTERM lets stress-ng end its own workers.
            let _ = Command::new("kill")
                .arg(child.id().to_string())
                .stderr(Stdio::null())
                .status();
            let _ = child.wait();
        }
    }
}

/// The value after `name` among the program's arguments.
pub fn arg_value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `name` is among the program's arguments.
pub fn has_arg(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// The median of `v` (sorted in place).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The value at quantile `q` (0 to 1) of `v` (sorted in place), the
/// nearest rank below.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q) as usize]
}

/// Smallest and largest of `v`.
pub fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// The load average from `/proc/loadavg`, for the printed rows.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
